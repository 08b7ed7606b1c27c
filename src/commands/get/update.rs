//! `kdb update`: a conditional re-fetch of acquired metakernels; a changed one is
//! acquired again like `get`.

use std::path::Path;

use serde::Serialize;
use url::Url;

use super::{Confirm, GetOptions, GetPlan, GetReport, Target, acquire, remote};
use crate::commands::{Ctx, Error, Result};
use crate::db::MetakernelRow;
use crate::remote::fetch::{self, Conditional, FetchConfig, Fetched, Validators};
use crate::store::hash;

#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    pub metakernel: Option<String>,
    pub all: bool,
    pub force: bool,
    pub dry_run: bool,
    /// The team store tiers, `--no-upstream`.
    pub team: crate::team::TeamOptions,
}

#[derive(Debug, Serialize)]
pub struct UpdateItem {
    pub name: String,
    pub source_url: String,
    pub report: GetReport,
}

pub fn update(
    ctx: &Ctx<'_>,
    net: &FetchConfig,
    opts: &UpdateOptions,
    confirm: &mut Confirm<'_>,
) -> Result<Vec<UpdateItem>> {
    let (_lock, mut cat) = ctx.write()?;
    let session = fetch::Session::new(net);
    let all = cat.metakernels()?;
    let chosen = choose(all, opts)?;
    let mut out = Vec::new();
    for row in chosen {
        let before = net.requests.snapshot();
        let url = Url::parse(&row.source_url)
            .map_err(|e| Error::Usage(format!("stored URL `{}`: {e}", row.source_url)))?;
        let validators = Validators {
            etag: row.etag.clone(),
            last_modified: row.last_modified.clone(),
        };
        // A missing local metakernel must be rebuilt: ask for the body, not a 304.
        let local_ok = Path::new(&row.local_path).exists();
        let conditional = if opts.force || !local_ok {
            None
        } else {
            Some(&validators)
        };
        let fetched = if opts.team.no_upstream {
            // The team store's newest record of this URL; the same bytes are "unchanged".
            let (_, f) =
                super::team::fetch_first(ctx, net, &opts.team, std::slice::from_ref(&url))?;
            Some(f).filter(|f| {
                conditional.is_none() || !super::team::same_bytes(&f.bytes, row.sha256.as_ref())
            })
        } else {
            fetch_or_gone(&session, &url, conditional, &row.name)?
        };
        let mission = row.mission.clone().unwrap_or_else(|| "default".into());
        let same_bytes = |f: &Fetched| {
            hash::hash_reader(&mut f.bytes.as_slice()).is_ok_and(|(h, _)| Some(h) == row.sha256)
        };
        let mk_changed = fetched
            .as_ref()
            .is_some_and(|f| opts.force || !local_ok || !same_bytes(f));
        // The metakernel did not change, but its kernels may have: they are planned
        // exactly as `get` plans them (listing, then a conditional request where the
        // listing cannot tell), so `update` and `outdated` agree (issue 20).
        let fetched = match fetched {
            Some(f) => Some(f),
            None if opts.team.no_upstream => None,
            None => match session.fetch_text(&url, None) {
                Ok(Conditional::Fetched(f)) => Some(f),
                Ok(Conditional::NotModified) => None,
                Err(e) => return Err(remote(e)),
            },
        };
        let report = match fetched {
            Some(f) => {
                let get_opts = GetOptions {
                    source: row.source_url.clone(),
                    mission: Some(mission.clone()),
                    force: opts.force,
                    dry_run: opts.dry_run,
                    // A windowed metakernel stays windowed.
                    window: super::window::stored(&cat, &row.source_url)?,
                    team: opts.team.clone(),
                    allow_missing: false,
                };
                let target = Target {
                    source: &url,
                    mission: &mission,
                };
                let mut r = acquire(
                    ctx,
                    &mut cat,
                    &session,
                    &target,
                    (f, Vec::new()),
                    &get_opts,
                    confirm,
                )?;
                r.unchanged = !mk_changed && r.plan.to_download == 0;
                r
            }
            _ => unchanged(&row, mission, opts.dry_run),
        };
        let report = GetReport {
            requests: net.requests.snapshot().since(before),
            ..report
        };
        let interrupted = report.interrupted;
        out.push(UpdateItem {
            name: row.name.clone(),
            source_url: row.source_url.clone(),
            report,
        });
        if interrupted {
            // Ctrl-C: what arrived is committed; the other metakernels wait for a rerun.
            break;
        }
    }
    Ok(out)
}

/// The metakernel at `url` (`None`: not modified since `conditional`); a server that
/// no longer serves it (403/404/410) is [`Error::Gone`], pointing at its archive.
fn fetch_or_gone(
    session: &fetch::Session,
    url: &Url,
    conditional: Option<&Validators>,
    name: &str,
) -> Result<Option<Fetched>> {
    match session.fetch_text(url, conditional) {
        Ok(Conditional::NotModified) => Ok(None),
        Ok(Conditional::Fetched(f)) => Ok(Some(f)),
        Err(e) if e.is_not_found() || matches!(e, fetch::FetchError::Forbidden { .. }) => {
            let former = url
                .join(&format!("former_versions/{name}"))
                .map(|u| u.to_string())
                .unwrap_or_default();
            Err(Error::Gone(format!(
                "`{url}` is no longer served ({}); archived versions live under `{former}`",
                crate::error_chain(&e)
            )))
        }
        Err(e) => Err(remote(e)),
    }
}

/// The report of a metakernel the server (or the team store) says is unchanged.
fn unchanged(row: &MetakernelRow, mission: String, dry_run: bool) -> GetReport {
    let plan = GetPlan {
        metakernel_url: row.final_url.clone().unwrap_or(row.source_url.clone()),
        mission,
        entries: Vec::new(),
        to_download: 0,
        window: None,
    };
    GetReport {
        metakernel: Some(row.local_path.clone()),
        unchanged: true,
        ..GetReport::planned(plan, dry_run)
    }
}

/// The metakernels `update` is asked about.
fn choose(all: Vec<MetakernelRow>, opts: &UpdateOptions) -> Result<Vec<MetakernelRow>> {
    Ok(match (&opts.metakernel, opts.all) {
        (Some(arg), _) => {
            let hit: Vec<MetakernelRow> = all
                .into_iter()
                .filter(|m| m.name == *arg || m.source_url == *arg || m.local_path == *arg)
                .collect();
            if hit.is_empty() {
                return Err(Error::NotFound(format!(
                    "no acquired metakernel `{arg}`; see `kdb metakernels`"
                )));
            }
            hit
        }
        (None, true) => all,
        (None, false) => match all.len() {
            1 => all,
            0 => {
                return Err(Error::NotFound(
                    "no metakernel acquired yet; use `kdb get`".into(),
                ));
            }
            _ => {
                return Err(Error::Usage(
                    "several metakernels acquired; name one or pass `--all`".into(),
                ));
            }
        },
    })
}
