//! Where restore finds each locked content, in order: the local store (the object,
//! else an intact catalogued copy, re-hashed), the team store, then in rounds every
//! `--mirror`, the source URL and the archive's `former_versions/` siblings; every
//! byte is checked against the locked size and SHA-256 before it is kept.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use url::Url;

use super::{Arrival, RestoreReport, Tried, Want};
use crate::commands::{Ctx, Result, get, intact};
use crate::content::Timestamp;
use crate::db::{Catalogue, LocationRow};
use crate::remote::fetch::{self, DownloadRequest, FetchConfig, Validators};
use crate::store::{Sha256Hex, fsio, hash};

/// Takes from `wants` what the local store holds intact (objects re-hashed in
/// parallel: a restore from the store is mostly this) into `found`; returns the
/// rest, each with why the store could not serve it.
pub(super) fn from_store(
    ctx: &Ctx<'_>,
    cat: &Catalogue,
    wants: &mut Vec<Want>,
    now: crate::content::Timestamp,
    found: &mut Found,
    report: &mut RestoreReport,
) -> Result<Vec<Want>> {
    let hashes: Vec<Option<Sha256Hex>> = {
        use rayon::prelude::*;
        wants
            .par_iter()
            .map(|w| {
                hash::hash_file(&ctx.home.object_path(&w.sha))
                    .ok()
                    .map(|(h, _)| h)
            })
            .collect()
    };
    let mut remaining = Vec::new();
    for (mut w, object_hash) in wants.drain(..).zip(hashes) {
        w.repair = object_hash.as_ref().is_some_and(|h| *h != w.sha);
        match held(ctx, cat, &w, object_hash, now)? {
            Ok((object, arrived)) => {
                report.from_store += 1;
                found.objects.insert(w.sha.clone(), object);
                found.arrivals.extend(arrived);
            }
            Err(why) => {
                w.tried.push(Tried {
                    place: "local store".into(),
                    error: why,
                });
                remaining.push(w);
            }
        }
    }
    Ok(remaining)
}
/// Looks the remaining contents up in the team tiers by their locked hash and size;
/// hits (verified twice: by the tier against the object's name, then here against
/// the lock) become objects.
pub(super) fn from_team(
    ctx: &Ctx<'_>,
    team: &crate::team::Team,
    remaining: &mut Vec<Want>,
    now: Timestamp,
    found: &mut Found,
    report: &mut RestoreReport,
) -> Result<()> {
    if team.is_empty() || remaining.is_empty() {
        return Ok(());
    }
    let tmp = ctx.home.tmp();
    fsio::create_dir_all(&tmp)?;
    let asks: Vec<crate::team::Want> = remaining
        .iter()
        .map(|w| crate::team::Want {
            url: Some(w.source.clone()),
            name: w.name.clone(),
            sha256: Some(w.sha.clone()),
            size: Some(w.size),
        })
        .collect();
    let hits = team.find_all(&asks, &tmp);
    for warning in team.take_warnings() {
        ctx.reporter.warn(&warning);
    }
    let mut dirs = fsio::DirSyncs::default();
    let mut later = Vec::new();
    for (mut w, hit) in remaining.drain(..).zip(hits) {
        let Some(hit) = hit.filter(|h| h.staged.sha256() == &w.sha && h.staged.len() == w.size)
        else {
            w.tried.push(Tried {
                place: "team store".into(),
                error: "not held".into(),
            });
            later.push(w);
            continue;
        };
        let source = w.source.to_string();
        let arrived = Verified {
            staged: hit.staged,
            url: &source,
            from: hit.tier,
            validators: Validators::default(),
        };
        found.take(ctx, &w, arrived, now, &mut dirs, report)?;
    }
    dirs.sync()?;
    *remaining = later;
    Ok(())
}

/// Publishes what was fetched from mirrors or upstream to the writable tiers.
pub(super) fn publish(ctx: &Ctx<'_>, team: &crate::team::Team, found: &Found, fetched: &[Arrival]) {
    if team.is_empty() || fetched.is_empty() {
        return;
    }
    let items: Vec<crate::team::Publish> = fetched
        .iter()
        .filter_map(|a| {
            let sha = Sha256Hex::parse(&a.sha256)?;
            Some(crate::team::Publish {
                url: Some(a.url.clone()),
                path: found.objects.get(&sha)?.clone(),
                sha256: sha,
                size: a.size,
                validators: Validators::default(),
            })
        })
        .collect();
    team.publish(&items);
    for warning in team.take_warnings() {
        ctx.reporter.warn(&warning);
    }
}

/// Records contents that arrived (verified objects) without registering a
/// metakernel, as a failed `get` does: the next attempt need not fetch them again.
pub(super) fn keep(cat: &mut Catalogue, arrivals: &[get::Arrived]) -> Result<()> {
    cat.write(|tx| -> Result<()> {
        for a in arrivals {
            a.record(tx)?;
        }
        Ok(())
    })
}

/// Contents restored so far: the object holding each hash, and the catalogue rows
/// still to record.
#[derive(Default)]
pub(crate) struct Found {
    pub objects: HashMap<Sha256Hex, PathBuf>,
    pub arrivals: Vec<get::Arrived>,
}

/// Bytes of a wanted content that hash right, with where they came from.
pub(super) struct Verified<'a> {
    staged: fsio::Staged,
    /// The URL recorded for the content (its source, or the URL that served it).
    url: &'a str,
    /// Where the report says it came from (a tier, a mirror, the source).
    from: String,
    validators: Validators,
}

impl Found {
    /// Persists verified bytes of `w` as its object (replacing a wrong one when
    /// `w.repair`), records the arrival, and reports it.
    fn take(
        &mut self,
        ctx: &Ctx<'_>,
        w: &Want,
        v: Verified<'_>,
        now: crate::content::Timestamp,
        dirs: &mut fsio::DirSyncs,
        report: &mut RestoreReport,
    ) -> Result<()> {
        let object = ctx.home.object_path(&w.sha);
        fsio::create_dir_all(object.parent().unwrap_or(Path::new("/")))?;
        v.staged.persist_batched(&object, true, !w.repair, dirs)?;
        self.arrivals.push(get::arrived(
            &w.name,
            v.url,
            v.validators,
            &w.sha,
            &object,
            w.size,
            now,
        )?);
        self.objects.insert(w.sha.clone(), object);
        report.fetched_bytes += w.size;
        report.fetched.push(Arrival {
            name: w.name.clone(),
            sha256: w.sha.to_string(),
            url: v.from,
            size: w.size,
        });
        Ok(())
    }
}

/// The store object holding `w`'s bytes (`object_hash`: what the object hashes to,
/// if it exists), adopting an intact catalogued copy into the store when there is no
/// object yet; `Err` says why not.
pub(super) fn held(
    ctx: &Ctx<'_>,
    cat: &Catalogue,
    w: &Want,
    object_hash: Option<Sha256Hex>,
    now: Timestamp,
) -> Result<std::result::Result<(PathBuf, Option<get::Arrived>), String>> {
    let object = ctx.home.object_path(&w.sha);
    let known = cat.kernel(&w.sha)?.is_some();
    match object_hash {
        Some(h) if h == w.sha => {
            let arrived = if known {
                None
            } else {
                Some(w.arrived(&object, now)?)
            };
            return Ok(Ok((object, arrived)));
        }
        _ => {}
    }
    for row in cat.locations_of(&w.sha)? {
        if !intact(&row) {
            continue;
        }
        if let Some(object) = adopt(ctx, &row, &w.sha, w.repair)? {
            let arrived = w.arrived(&object, now)?;
            return Ok(Ok((object, Some(arrived))));
        }
    }
    Ok(Err(if w.repair {
        format!(
            "object `{}` holds other bytes (corrupt store) and no intact copy is catalogued",
            object.display()
        )
    } else {
        "not held".into()
    }))
}

/// Copies (or hard-links) a catalogued file into the store when its bytes still
/// hash to `sha`.
pub(super) fn adopt(
    ctx: &Ctx<'_>,
    row: &LocationRow,
    sha: &Sha256Hex,
    repair: bool,
) -> Result<Option<PathBuf>> {
    let src = Path::new(&row.path);
    let tmp = ctx.home.tmp();
    let staged = match fsio::stage_hardlink(src, &tmp) {
        Ok(Some(s)) => s,
        Ok(None) | Err(_) => match fs::File::open(src) {
            Ok(mut f) => fsio::stage(&tmp, &mut f, &mut |_| {})?,
            Err(_) => return Ok(None),
        },
    };
    if staged.sha256() != sha {
        return Ok(None);
    }
    let object = ctx.home.object_path(sha);
    fsio::create_dir_all(object.parent().unwrap_or(Path::new("/")))?;
    if repair {
        staged.persist(&object, true)?;
    } else {
        staged.persist_if_absent(&object, true)?;
    }
    Ok(Some(object))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn fetch_rounds(
    ctx: &Ctx<'_>,
    net: &FetchConfig,
    remaining: &mut Vec<Want>,
    mirrors: &[Url],
    offline: bool,
    now: Timestamp,
    found: &mut Found,
    report: &mut RestoreReport,
) -> Result<()> {
    let lists: Vec<Vec<Url>> = remaining
        .iter()
        .map(|w| crate::remote::mirror::candidates(&w.source, mirrors))
        .collect();
    let mut pending: Vec<(Want, Vec<Url>)> = remaining.drain(..).zip(lists).collect();
    let partial = ctx.home.tmp().join("partial");
    fsio::create_dir_all(&partial)?;
    let rounds = pending.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
    for round in 0..rounds {
        let mut batch = Vec::new();
        let mut later = Vec::new();
        for (mut w, cands) in pending.drain(..) {
            match cands.get(round) {
                Some(u) if offline && u.scheme() != "file" => {
                    w.tried.push(Tried {
                        place: u.to_string(),
                        error: "not tried (--offline)".into(),
                    });
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
                &ctx.home.tmp(),
                &partial,
                &requests,
                &get::Progress(ctx.reporter),
            );
            ctx.reporter.finish();
            let mut dirs = fsio::DirSyncs::default();
            for ((mut w, cands), (req, result)) in
                batch.into_iter().zip(requests.iter().zip(results))
            {
                match result {
                    Ok(d) if d.staged.sha256() == &w.sha => {
                        let arrived = Verified {
                            staged: d.staged,
                            url: req.url.as_str(),
                            from: req.url.to_string(),
                            validators: d.validators,
                        };
                        found.take(ctx, &w, arrived, now, &mut dirs, report)?;
                    }
                    Ok(d) => {
                        w.tried.push(Tried {
                            place: req.url.to_string(),
                            error: format!("served {}, not the locked bytes", d.staged.sha256()),
                        });
                        later.push((w, cands));
                    }
                    Err(e) => {
                        w.tried.push(Tried {
                            place: req.url.to_string(),
                            error: crate::error_chain(&e),
                        });
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
