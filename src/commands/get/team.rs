//! The team store's hooks in `get` and `update` (the tiers themselves are
//! `crate::team`): kernels are looked up in the tiers before upstream (and archive
//! downloads published as they arrive, by `team::download_all`), the metakernel is
//! published after the commit, and with `--no-upstream` it comes from the team store.

use url::Url;

use super::{FailureCause, GetReport, Target};
use crate::commands::{Ctx, Error, Result};
use crate::remote::fetch::{FetchConfig, Fetched, Validators};
use crate::store::{Sha256Hex, fsio, hash};
use crate::team::{self, Publish, Team, TeamOptions};

/// Opens the configured tiers (no request yet).
pub(super) fn open(opts: &TeamOptions, net: &FetchConfig) -> Result<Team> {
    Ok(Team::open(opts, net)?)
}

/// Passes the tiers' warnings (each failing tier once) to the reporter.
pub(super) fn warn(ctx: &Ctx<'_>, team: &Team) {
    for w in team.take_warnings() {
        ctx.reporter.warn(&w);
    }
}

/// A failed request of `team::download_all` as a report's failure cause.
pub(super) fn cause(f: team::Failed) -> FailureCause {
    match f {
        team::Failed::Upstream(e) => FailureCause::Download(e),
        team::Failed::Team(e) => FailureCause::Team(e),
    }
}

/// After the commit: publishes the metakernel as served (so `--no-upstream` homes
/// can get it too; kernels from the archive were published as they arrived, see
/// `team::download_all`), and counts what this command uploaded. Failures are
/// warnings.
pub(super) fn publish(
    ctx: &Ctx<'_>,
    team: &Team,
    target: &Target<'_>,
    fetched: &Fetched,
    report: &mut GetReport,
) {
    // With --no-upstream the metakernel came from the team store: nothing to add.
    if team.is_empty() || team.no_upstream() {
        report.published = team.uploaded();
        return;
    }
    let mut items: Vec<Publish> = Vec::new();
    // The metakernel as served, staged so it is published like any object.
    let mk = fsio::stage(&ctx.home.tmp(), &mut fetched.bytes.as_slice(), &mut |_| {});
    match mk {
        Ok(staged) => {
            let sha = staged.sha256().clone();
            for url in [target.source, &fetched.final_url] {
                if items.iter().any(|i| i.url.as_deref() == Some(url.as_str())) {
                    continue;
                }
                items.push(Publish {
                    url: Some(url.to_string()),
                    sha256: sha.clone(),
                    path: staged.path().to_path_buf(),
                    size: staged.len(),
                    validators: fetched.validators.clone(),
                });
            }
            team.publish(&items);
            drop(staged);
        }
        Err(e) => ctx.reporter.warn(&format!(
            "cannot stage the metakernel for the team store: {}",
            crate::error_chain(&e)
        )),
    }
    report.published = team.uploaded();
    warn(ctx, team);
}

/// `--no-upstream`: the first of `urls` a team tier has a `seen/` record of,
/// verified, as if fetched from it.
pub(super) fn fetch_first(
    ctx: &Ctx<'_>,
    net: &FetchConfig,
    opts: &TeamOptions,
    urls: &[Url],
) -> Result<(Url, Fetched)> {
    let team = open(opts, net)?;
    let tmp = ctx.home.tmp();
    fsio::create_dir_all(&tmp)?;
    for url in urls {
        let found = team.find_document(url, &tmp);
        warn(ctx, &team);
        if let Some(bytes) = found? {
            let size = bytes.len() as u64;
            return Ok((
                url.clone(),
                Fetched {
                    bytes,
                    final_url: url.clone(),
                    validators: Validators::default(),
                    size,
                },
            ));
        }
    }
    let tried: Vec<String> = urls.iter().map(|u| format!("`{u}`")).collect();
    Err(Error::NotFound(format!(
        "metakernel {} is in no team store and --no-upstream forbids the archive",
        tried.join(" nor ")
    )))
}

/// Whether `bytes` hash to `sha`.
pub(super) fn same_bytes(bytes: &[u8], sha: Option<&Sha256Hex>) -> bool {
    hash::hash_reader(&mut &bytes[..]).is_ok_and(|(h, _)| Some(&h) == sha)
}
