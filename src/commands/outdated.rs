//! `kdb outdated`: what changed upstream since kdb fetched it, without downloading
//! anything. One conditional `HEAD` per acquired metakernel; the kernels whose
//! validators (ETag / Last-Modified) the `downloads` table recorded are decided from
//! their directories' listings, all fetched at once (one request per directory), by
//! the rule `get` and `update` use ([`crate::remote::listings::Listings::verdict`]);
//! only a kernel its listing cannot settle gets a conditional `HEAD`. No bodies.
//!
//! Verdicts of a `HEAD`: 304 → unchanged; 200 → changed (unless the validators it carries equal
//! the recorded ones: a server that ignores conditionals); 404/410 → gone; a
//! timeout, a refused connection or a 5xx → unreachable (never "gone"); anything else
//! (403, other statuses) → failed.

use std::collections::HashSet;

use serde::Serialize;
use url::Url;

use super::verify::{metakernel_entries, select_metakernels};
use super::{Ctx, Result};
use crate::remote::fetch::{FetchConfig, FetchError, Probe, Session, Validators};
use crate::remote::listings::{Listed, Listings};

report_status! {
    pub enum Upstream {
        Unchanged => "unchanged",
        Changed => "changed",
        /// 404 or 410.
        Gone => "gone",
        /// Timeout, connection refused or reset, 5xx: the server could not say.
        Unreachable => "unreachable",
        /// Another answer (403, 4xx).
        Failed => "failed",
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OutdatedItem {
    /// `metakernel` or `kernel`.
    pub kind: &'static str,
    /// The metakernel's name or the kernel's file name.
    pub name: String,
    pub url: String,
    pub status: Upstream,
    /// What the server said, for changed / gone / unreachable / failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutdatedReport {
    pub checked: usize,
    pub changed: usize,
    pub gone: usize,
    pub unreachable: usize,
    pub items: Vec<OutdatedItem>,
    /// Requests sent to archive servers, by kind.
    pub requests: crate::remote::fetch::Requests,
}

#[derive(Debug, Clone, Default)]
pub struct OutdatedOptions {
    /// Registered metakernels (name or source URL); empty: all.
    pub metakernels: Vec<String>,
}

struct Query {
    kind: &'static str,
    name: String,
    url: Url,
    before: Validators,
    /// A kernel's recorded size and fetch time, for its listing's verdict.
    held: Option<(u64, crate::content::Timestamp)>,
}

pub fn run(ctx: &Ctx<'_>, net: &FetchConfig, opts: &OutdatedOptions) -> Result<OutdatedReport> {
    let queries = {
        let cat = ctx.read()?;
        plan(&cat, &select_metakernels(&cat, &opts.metakernels)?)?
    };
    let before = net.requests.snapshot();
    let session = Session::new(net);
    let answers = ask(&session, &queries);
    let mut report = OutdatedReport {
        checked: queries.len(),
        changed: 0,
        gone: 0,
        unreachable: 0,
        items: Vec::new(),
        requests: Default::default(),
    };
    for (q, (status, detail)) in queries.into_iter().zip(answers) {
        match status {
            Upstream::Changed => report.changed += 1,
            Upstream::Gone => report.gone += 1,
            Upstream::Unreachable => report.unreachable += 1,
            _ => {}
        }
        report.items.push(OutdatedItem {
            kind: q.kind,
            name: q.name,
            url: q.url.to_string(),
            status,
            detail,
        });
    }
    report.requests = net.requests.snapshot().since(before);
    Ok(report)
}

/// Each query's answer: the listing's verdict on a kernel where it settles it,
/// else a conditional `HEAD` (all sent at once).
fn ask(session: &Session, queries: &[Query]) -> Vec<(Upstream, Option<String>)> {
    let mut listings = Listings::new(session, false);
    listings.prefetch(queries.iter().filter(|q| q.held.is_some()).map(|q| &q.url));
    let mut out: Vec<Option<(Upstream, Option<String>)>> = queries
        .iter()
        .map(|q| {
            let (size, fetched_at) = q.held?;
            match listings.verdict(&q.url, &q.name, size, fetched_at) {
                Listed::Agrees => Some((Upstream::Unchanged, None)),
                Listed::Changed => Some((
                    Upstream::Changed,
                    Some("its directory listing shows another size or a later date".into()),
                )),
                Listed::SameMinute => None,
            }
        })
        .collect();
    let pending: Vec<usize> = (0..queries.len()).filter(|&i| out[i].is_none()).collect();
    let items: Vec<(Url, Validators)> = pending
        .iter()
        .map(|&i| (queries[i].url.clone(), queries[i].before.clone()))
        .collect();
    for (i, answer) in pending.into_iter().zip(session.probe_all(&items)) {
        out[i] = Some(verdict(&queries[i].before, answer));
    }
    out.into_iter()
        .map(|o| o.unwrap_or_else(|| unreachable!("every query answered")))
        .collect()
}

/// One query per metakernel and per distinct kernel URL with recorded validators.
fn plan(cat: &crate::db::Catalogue, mks: &[crate::db::MetakernelRow]) -> Result<Vec<Query>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for m in mks {
        let url_text = m.final_url.as_deref().unwrap_or(&m.source_url);
        if let Ok(url) = Url::parse(url_text)
            && seen.insert(url.to_string())
        {
            out.push(Query {
                kind: "metakernel",
                name: m.name.clone(),
                url,
                before: Validators {
                    etag: m.etag.clone(),
                    last_modified: m.last_modified.clone(),
                },
                held: None,
            });
        }
        let Ok(entries) = metakernel_entries(m) else {
            continue;
        };
        for path in entries {
            let Some(row) = cat.location(&path.display().to_string())? else {
                continue;
            };
            let Some(src) = row.source_url else { continue };
            let Some(d) = cat.download(&src)? else {
                continue;
            };
            if d.etag.is_none() && d.last_modified.is_none() {
                continue;
            }
            let Ok(url) = Url::parse(&src) else { continue };
            if !seen.insert(url.to_string()) {
                continue;
            }
            out.push(Query {
                kind: "kernel",
                name: row.filename,
                url,
                before: Validators {
                    etag: d.etag,
                    last_modified: d.last_modified,
                },
                held: Some((d.size, d.fetched_at)),
            });
        }
    }
    Ok(out)
}

fn verdict(before: &Validators, answer: Result<Probe, FetchError>) -> (Upstream, Option<String>) {
    match answer {
        Ok(Probe::NotModified) => (Upstream::Unchanged, None),
        Ok(Probe::Modified { validators, .. }) => {
            let same_etag = before.etag.is_some() && validators.etag == before.etag;
            let same_date = before.etag.is_none()
                && before.last_modified.is_some()
                && validators.last_modified == before.last_modified;
            if same_etag || same_date {
                (Upstream::Unchanged, None)
            } else {
                let now = validators
                    .etag
                    .or(validators.last_modified)
                    .unwrap_or_else(|| "no validators".into());
                (Upstream::Changed, Some(format!("server now has {now}")))
            }
        }
        Err(e) if e.is_not_found() => (Upstream::Gone, Some(e.to_string())),
        Err(e) if e.is_retryable() => (Upstream::Unreachable, Some(crate::error_chain(&e))),
        Err(e @ FetchError::Setup { .. }) => (Upstream::Unreachable, Some(crate::error_chain(&e))),
        Err(e) => (Upstream::Failed, Some(crate::error_chain(&e))),
    }
}
