//! Mirrors, the source URL and the archive's `former_versions/` siblings as sources:
//! one round per candidate rank, each content from its next candidate, through the
//! fetch engine with the wanted size and hash as expectations.

use std::path::Path;

use url::Url;

use super::{Arrival, Found, Result, Site, Want};
use crate::content::Timestamp;
use crate::remote::fetch::{self, DownloadRequest, FetchConfig, Validators};
use crate::store::fsio;

/// Bytes of a wanted content that hash right, with where they came from.
pub(super) struct Verified<'a> {
    pub staged: fsio::Staged,
    /// The URL recorded for the content (its source, or the URL that served it).
    pub url: &'a str,
    /// Where the report says it came from (a tier, a mirror, the source).
    pub from: String,
    /// The mission mirror that served `url`, when its server did not.
    pub served_by: Option<String>,
    pub validators: Validators,
}

impl Found {
    /// Makes verified bytes of `w` its object ([`super::place`]: a wrong object
    /// there is quarantined and replaced), records the arrival, and reports it.
    pub(super) fn take(
        &mut self,
        site: &Site<'_>,
        w: &Want,
        v: Verified<'_>,
        now: Timestamp,
        dirs: &mut fsio::DirSyncs,
    ) -> Result<()> {
        let object = site.home.object_path(&w.sha);
        fsio::create_dir_all(object.parent().unwrap_or(Path::new("/")))?;
        let placed = super::place(site, v.staged, None, dirs)?;
        self.arrivals.push(
            super::arrived(&w.name, v.url, v.validators, &w.sha, &object, w.size, now)?
                .found_in_store(placed.found)
                .served_by(v.served_by),
        );
        self.objects.insert(w.sha.clone(), object);
        self.fetched_bytes += w.size;
        self.fetched.push(Arrival {
            name: w.name.clone(),
            sha256: w.sha.to_string(),
            url: v.from,
            size: w.size,
        });
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
pub fn fetch_rounds(
    site: &Site<'_>,
    net: &FetchConfig,
    remaining: &mut Vec<Want>,
    mirrors: &[Url],
    offline: bool,
    now: Timestamp,
    found: &mut Found,
) -> Result<()> {
    let lists: Vec<Vec<Url>> = remaining
        .iter()
        .map(|w| crate::remote::mirror::candidates(&w.source, mirrors))
        .collect();
    let mut pending: Vec<(Want, Vec<Url>)> = remaining.drain(..).zip(lists).collect();
    let partial = site.home.tmp().join("partial");
    fsio::create_dir_all(&partial)?;
    let rounds = pending.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
    for round in 0..rounds {
        let mut batch = Vec::new();
        let mut later = Vec::new();
        for (mut w, cands) in pending.drain(..) {
            match cands.get(round) {
                Some(u) if offline && u.scheme() != "file" => {
                    w.tried(u.to_string(), "not tried (--offline)");
                    later.push((w, cands));
                }
                Some(_) => batch.push((w, cands)),
                None => later.push((w, cands)),
            }
        }
        let requests: Vec<DownloadRequest> = batch
            .iter()
            .map(|(w, cands)| DownloadRequest {
                url: cands[round].clone(),
                name: w.name.clone(),
                expected_size: Some(w.size),
                expected_sha256: Some(w.sha.clone()),
                size_hint: None,
            })
            .collect();
        if !requests.is_empty() {
            let results = fetch::download_all(
                net,
                &site.home.tmp(),
                &partial,
                &requests,
                &crate::reporter::Progress(site.reporter),
            );
            site.reporter.finish();
            let mut dirs = fsio::DirSyncs::default();
            for ((mut w, cands), (req, result)) in
                batch.into_iter().zip(requests.iter().zip(results))
            {
                match result {
                    Ok(d) if d.staged.sha256() == &w.sha => {
                        let served_by = d.served_by.as_ref().map(Url::to_string);
                        let arrived = Verified {
                            staged: d.staged,
                            url: req.url.as_str(),
                            from: served_by.clone().unwrap_or_else(|| req.url.to_string()),
                            served_by,
                            validators: d.validators,
                        };
                        found.take(site, &w, arrived, now, &mut dirs)?;
                    }
                    Ok(d) => {
                        w.tried(
                            req.url.to_string(),
                            format!("served {}, not the locked bytes", d.staged.sha256()),
                        );
                        later.push((w, cands));
                    }
                    Err(e) => {
                        w.tried(req.url.to_string(), crate::error_chain(&e));
                        later.push((w, cands));
                    }
                }
            }
            dirs.sync()?;
        }
        pending = later;
        if pending.is_empty() {
            break;
        }
    }
    remaining.extend(pending.into_iter().map(|(w, _)| w));
    Ok(())
}
