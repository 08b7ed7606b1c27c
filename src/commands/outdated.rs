//! `kdb outdated`: what changed upstream since kdb fetched it, without downloading
//! anything. One conditional `HEAD` per acquired metakernel and per kernel URL whose
//! validators (ETag / Last-Modified) the `downloads` table recorded; no bodies.
//!
//! Verdicts: 304 → unchanged; 200 → changed (unless the validators it carries equal
//! the recorded ones: a server that ignores conditionals); 404/410 → gone; a
//! timeout, a refused connection or a 5xx → unreachable (never "gone"); anything else
//! (403, other statuses) → failed.

use std::collections::HashSet;

use serde::Serialize;
use url::Url;

use super::verify::{metakernel_entries, select_metakernels};
use super::{Ctx, Result};
use crate::remote::fetch::{FetchConfig, FetchError, Probe, Session, Validators};

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
}

pub fn run(ctx: &Ctx<'_>, net: &FetchConfig, opts: &OutdatedOptions) -> Result<OutdatedReport> {
    let queries = {
        let cat = ctx.read()?;
        plan(&cat, &select_metakernels(&cat, &opts.metakernels)?)?
    };
    let session = Session::new(net);
    let items: Vec<(Url, Validators)> = queries
        .iter()
        .map(|q| (q.url.clone(), q.before.clone()))
        .collect();
    let answers = session.probe_all(&items);
    let mut report = OutdatedReport {
        checked: queries.len(),
        changed: 0,
        gone: 0,
        unreachable: 0,
        items: Vec::new(),
    };
    for (q, a) in queries.into_iter().zip(answers) {
        let (status, detail) = verdict(&q.before, a);
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
    Ok(report)
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
