//! `kdb get` and `kdb update`: acquire a metakernel and exactly the kernels missing.
//!
//! Plan → confirm → execute → commit, all under the home lock:
//! 1. fetch the metakernel (a bare name is looked up in the mission's mk/ directory,
//!    then in `former_versions/`);
//! 2. parse it and plan every entry's URL and mission-tree path, refusing the whole
//!    operation on any traversal, an entry naming a directory or the metakernel, or
//!    a local path that is a registered metakernel's `.tm`, before the first write
//!    ([`super::plan`], [`refuse_collisions`]);
//! 3. an entry is present only if the catalogue has content recorded for that name
//!    *and URL* whose local bytes are intact (stat unchanged since hashed);
//! 4. download the rest in parallel through the store's write path (stream → hash →
//!    verify → fsync → rename), each distinct URL once; a body whose length the
//!    listing contradicts is a failure, and an object already in the store is linked
//!    only when trusted ([`super::place_object`]);
//! 5. only when every kernel is in place: lay out the mission tree (atomic link
//!    replacement, or independent copies when the mission's dedup flag is off), write
//!    the local metakernel atomically with absolute `PATH_VALUES`, and commit contents,
//!    locations, aliases and the metakernel row in one transaction.
//!
//! A failed, declined or interrupted `get` registers no metakernel and writes no
//! local `.tm`; kernels that did arrive are kept as verified objects (so the next
//! attempt does not fetch them again).

mod acquisition;
mod download;
mod execute;
mod layout;
mod locate;
mod present;
mod report;
mod team;
mod update;
pub mod window;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;
use url::Url;

use super::{Ctx, Error, Result, intact, mk};
use crate::db::{self, Catalogue, LocationRow, MetakernelRow};
use crate::remote::fetch::{self, DownloadRequest, FetchConfig, Fetched};
use crate::remote::listings::{Listed, Listings};
use crate::remote::plan::{self, RemotePlan};
use crate::store::{Sha256Hex, fsio, hash};
pub(crate) use crate::supply::{Arrived, arrived};
use acquisition::plan_acquisition;
use download::{Downloads, download};
pub(crate) use execute::{Placement, lay_out, local_metakernel};
use layout::file_pool;
use layout::lay_out_tree;
pub(crate) use locate::mission_for_url;
pub(crate) use present::plan_like_get;
pub use report::*;
pub use update::{UpdateItem, UpdateOptions, update};

#[derive(Debug, Clone, Default)]
pub struct GetOptions {
    pub source: String,
    pub mission: Option<String>,
    pub force: bool,
    pub dry_run: bool,
    /// `--from/--to`: acquire only what this time window needs ([`window`]).
    pub window: Option<window::WindowSpec>,
    /// The team store tiers, `--no-upstream` (DESIGN.md §6).
    pub team: crate::team::TeamOptions,
    /// `--allow-missing`: kernels the server no longer has (404, 410) are left out
    /// of the local metakernel instead of failing the acquisition.
    pub allow_missing: bool,
}

/// Asked once the plan is known; returns whether to proceed.
pub type Confirm<'a> = dyn FnMut(&GetPlan) -> Result<bool> + 'a;

/// Bridges download progress to the command reporter.
pub(crate) use crate::reporter::Progress;

fn remote(e: fetch::FetchError) -> Error {
    Error::Remote(Box::new(e))
}

pub fn get(
    ctx: &Ctx<'_>,
    net: &FetchConfig,
    opts: &GetOptions,
    confirm: &mut Confirm<'_>,
) -> Result<GetReport> {
    let before = net.requests.snapshot();
    let mut report = get_counted(ctx, net, opts, confirm)?;
    report.requests = net.requests.snapshot().since(before);
    Ok(report)
}

/// [`get`], whose requests the caller counts.
fn get_counted(
    ctx: &Ctx<'_>,
    net: &FetchConfig,
    opts: &GetOptions,
    confirm: &mut Confirm<'_>,
) -> Result<GetReport> {
    let (_lock, mut cat) = ctx.write()?;
    let (urls, mission) = locate::locate(&cat, &opts.source, opts.mission.as_deref())?;
    let session = fetch::Session::new(net);
    let (source, fetched, pages) = if opts.team.no_upstream {
        let (source, fetched) = team::fetch_first(ctx, net, &opts.team, &urls)?;
        (source, fetched, Vec::new())
    } else {
        let dirs = match (&opts.window, urls.first()) {
            (None, Some(first)) => locate::previous_dirs(&cat, first),
            _ => Vec::new(),
        };
        locate::fetch_first(&session, &urls, &dirs)?
    };
    let target = Target {
        source: &source,
        mission: &mission,
    };
    acquire(
        ctx,
        &mut cat,
        &session,
        &target,
        (fetched, pages),
        opts,
        confirm,
    )
}

/// Which metakernel a `get` acquires, and for which mission.
struct Target<'a> {
    /// The URL asked for (before redirects).
    source: &'a Url,
    mission: &'a str,
}

/// The plan of one acquisition: every entry's destination, which contents are held
/// and which distinct URLs must be downloaded. Built before anything is written.
struct Acquisition {
    remote: RemotePlan,
    /// The mission tree (`missions/<MISSION>`).
    root: PathBuf,
    /// Each entry's validated local path, in entry order.
    dests: Vec<PathBuf>,
    mk_dest: PathBuf,
    /// Copies instead of links (the mission's dedup flag is off).
    copies: bool,
    /// Held contents, by URL.
    present: HashMap<String, LocationRow>,
    /// Indexes into `remote.entries` of the distinct URLs to download.
    missing: Vec<usize>,
    view: GetPlan,
    /// A windowed get's selection (`remote` then holds the taken entries only).
    window: Option<window::Selection>,
}

/// The part of `get` after the metakernel bytes are in hand (shared with `update`):
/// plan → confirm → download → lay out → write the metakernel → commit.
fn acquire(
    ctx: &Ctx<'_>,
    cat: &mut Catalogue,
    session: &fetch::Session,
    target: &Target<'_>,
    (fetched, pages): (Fetched, locate::Pages),
    opts: &GetOptions,
    confirm: &mut Confirm<'_>,
) -> Result<GetReport> {
    let loaded = mk::parse(fetched.final_url.to_string(), &fetched.bytes)?;
    let mut listings = Listings::new(session, opts.team.no_upstream);
    listings.seed(pages);
    let plan = plan_acquisition(ctx, cat, &mut listings, target, &fetched, &loaded, opts)?;
    let mut report = GetReport::planned(plan.view.clone(), opts.dry_run);
    if opts.dry_run {
        return Ok(report);
    }
    if let Some(w) = &plan.window {
        // Probes are worth keeping whatever happens next (they describe the server).
        cat.write(|tx| -> Result<()> {
            for row in &w.cache_rows {
                tx.upsert_probe(row)?;
            }
            Ok(())
        })?;
    }
    if !plan.missing.is_empty() && !confirm(&plan.view)? {
        report.declined = true;
        return Ok(report);
    }
    let team = team::open(&opts.team, session.config())?;
    let downloads = download(
        ctx,
        cat,
        session.config(),
        &team,
        &plan,
        &mut listings,
        &mut report,
    )?;
    report.interrupted = crate::interrupt::requested();
    if opts.allow_missing && !report.interrupted {
        report.left_out = take_gone(&mut report.failed);
    }
    if report.interrupted || !report.failed.is_empty() {
        // Keep what arrived (verified objects), register no metakernel, write no .tm.
        cat.write(|tx| -> Result<()> {
            for a in &downloads.arrivals {
                a.record(tx)?;
            }
            Ok(())
        })?;
        return Ok(report);
    }
    let gone: HashSet<&str> = report.left_out.iter().map(|f| f.url.as_str()).collect();
    let tree_rows = lay_out_tree(ctx, cat, &plan, target.mission, &downloads, &gone)?;
    super::crash_point("laid_out");
    let local_mk = acquired_metakernel(&loaded, &plan, &gone)?;
    if fs::read(&plan.mk_dest).map_or(true, |b| b != local_mk) {
        ctx.home.journal_dirs(plan.mk_dest.parent())?;
        fsio::write_user_file(&plan.mk_dest, &local_mk)?;
    }
    let mk_row = metakernel_row(target, &fetched, &plan.mk_dest, downloads.now)?;
    cat.write(|tx| -> Result<()> {
        for a in &downloads.arrivals {
            a.record(tx)?;
        }
        for row in &tree_rows {
            tx.insert_alias(&row.sha256, &row.filename, row.source_url.as_deref())?;
            tx.upsert_location(row)?;
        }
        tx.upsert_metakernel(&mk_row)?;
        let spec = plan.window.as_ref().map(|w| w.view.spec.to_json());
        tx.set_window(&mk_row.source_url, spec.as_deref())?;
        Ok(())
    })?;
    report.metakernel = Some(plan.mk_dest.display().to_string());
    team::publish(ctx, &team, target, &fetched, &mut report);
    Ok(report)
}

/// With `--allow-missing`: takes the failures that say the server no longer has a
/// kernel (404, 410) out of `failed` — all of them, or none when another failure
/// stops the acquisition anyway.
fn take_gone(failed: &mut Vec<Failure>) -> Vec<Failure> {
    if failed.is_empty() || !failed.iter().all(Failure::is_gone) {
        return Vec::new();
    }
    std::mem::take(failed)
}

/// The local metakernel: the fetched one made absolute into the tree, without the
/// entries a window skipped or the server no longer has (each said in a comment).
fn acquired_metakernel(
    loaded: &mk::Loaded,
    plan: &Acquisition,
    gone: &HashSet<&str>,
) -> Result<Vec<u8>> {
    let local = execute::local_metakernel(loaded, &plan.remote, &plan.root)?;
    if plan.window.is_none() && gone.is_empty() {
        return Ok(local);
    }
    // Indexes into the metakernel's entries of the planned ones (a window's plan
    // holds the taken entries only).
    let skipped: &[usize] = plan.window.as_ref().map_or(&[], |w| &w.skipped);
    let skip: HashSet<usize> = skipped.iter().copied().collect();
    let total = plan.remote.entries.len() + skipped.len();
    let planned = (0..total).filter(|i| !skip.contains(i));
    let mut drop = skipped.to_vec();
    let mut names = Vec::new();
    for (i, e) in planned.zip(&plan.remote.entries) {
        if gone.contains(e.url.as_str()) {
            drop.push(i);
            names.push(e.name.as_str());
        }
    }
    drop.sort_unstable();
    let mut out = window::drop_entries(&local, &drop)?;
    if let Some(w) = &plan.window {
        window::append_comment(&mut out, skipped.len(), total, &w.view.spec);
    }
    if !names.is_empty() {
        window::append_lines(
            &mut out,
            &[
                format!(
                    "   kdb: {} left out: the server no longer has {} (get --allow-missing):",
                    if names.len() == 1 {
                        "1 entry was"
                    } else {
                        "these entries were"
                    },
                    if names.len() == 1 { "it" } else { "them" },
                ),
                format!("   {}", names.join(", ")),
            ],
        );
    }
    Ok(out)
}

/// The catalogue row of the acquired metakernel.
fn metakernel_row(
    target: &Target<'_>,
    fetched: &Fetched,
    mk_dest: &Path,
    now: crate::content::Timestamp,
) -> Result<MetakernelRow> {
    let (remote_sha, _) = hash::hash_reader(&mut fetched.bytes.as_slice())
        .map_err(|e| crate::store::Error::io("hash", mk_dest, e))?;
    Ok(MetakernelRow {
        id: 0,
        name: mk::file_name(fetched.final_url.path()).to_owned(),
        source_url: target.source.to_string(),
        final_url: Some(fetched.final_url.to_string()),
        local_path: mk_dest.display().to_string(),
        mission: Some(target.mission.to_owned()),
        sha256: Some(remote_sha),
        etag: fetched.validators.etag.clone(),
        last_modified: fetched.validators.last_modified.clone(),
        size: Some(fetched.size),
        acquired_at: now,
    })
}
