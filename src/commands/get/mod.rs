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

mod execute;
mod locate;
mod present;
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
use crate::remote::plan::{self, RemotePlan};
use crate::store::{Sha256Hex, fsio, hash};
pub(crate) use execute::{Arrived, Placement, arrived, lay_out, local_metakernel};
pub(crate) use locate::mission_for_url;
pub(crate) use present::plan_like_get;
use present::{Listed, Listings};
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

#[derive(Debug, Serialize, Clone)]
pub struct PlanEntry {
    pub name: String,
    pub url: String,
    pub local_path: String,
    pub status: EntryStatus,
    pub size: Option<u64>,
    /// Other names the catalogue knows this content under (present entries).
    pub other_names: u64,
}

report_status! {
    /// What the plan does with one entry.
    pub enum EntryStatus {
        /// Held locally with the bytes the server has: only linked into the tree.
        Present => "present",
        /// To download.
        Download => "download",
    }
}

#[derive(Debug, Serialize, Clone)]
pub struct GetPlan {
    pub metakernel_url: String,
    pub mission: String,
    pub entries: Vec<PlanEntry>,
    /// Distinct URLs to download.
    pub to_download: usize,
    /// A windowed get: every entry's decision (taken/skipped, why) and the bytes saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<window::WindowView>,
}

#[derive(Debug, Serialize)]
pub struct Failure {
    pub name: String,
    pub url: String,
    pub error: FailureCause,
}

impl Failure {
    /// The server says it no longer has the kernel (404, 410; a missing `file://`).
    pub fn is_gone(&self) -> bool {
        matches!(&self.error, FailureCause::Download(e) if e.is_not_found())
    }
}

/// Why one kernel did not arrive (shown and serialised as its error chain).
#[derive(Debug)]
pub enum FailureCause {
    /// The transfer failed or its body was refused (not found, truncated, not a kernel...).
    Download(fetch::FetchError),
    /// The verified body could not be persisted as an object.
    Store(crate::store::Error),
    /// No team tier has it and `--no-upstream` forbids the archive.
    Team(crate::team::Error),
}

impl std::fmt::Display for FailureCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&match self {
            FailureCause::Download(e) => crate::error_chain(e),
            FailureCause::Store(e) => crate::error_chain(e),
            FailureCause::Team(e) => crate::error_chain(e),
        })
    }
}

impl Serialize for FailureCause {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Serialize)]
pub struct GetReport {
    pub plan: GetPlan,
    pub dry_run: bool,
    pub declined: bool,
    pub downloaded: usize,
    pub downloaded_bytes: u64,
    /// Of `downloaded`, the kernels that came from a team store tier.
    pub from_team: usize,
    /// Kernels newly uploaded to a team store tier.
    pub published: usize,
    pub failed: Vec<Failure>,
    /// The local metakernel, written only when every kernel is in place.
    pub metakernel: Option<String>,
    /// For `update`: the server said the metakernel did not change.
    pub unchanged: bool,
    /// With `--allow-missing`: the kernels the server no longer has, left out of
    /// the local metakernel.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<Failure>,
    /// Ctrl-C stopped the downloads: what arrived is committed, no metakernel is
    /// written, and a rerun fetches only the rest.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

impl GetReport {
    /// The report of `plan` before anything is done: nothing downloaded, declined,
    /// failed or registered yet.
    pub(crate) fn planned(plan: GetPlan, dry_run: bool) -> GetReport {
        GetReport {
            plan,
            dry_run,
            declined: false,
            downloaded: 0,
            downloaded_bytes: 0,
            from_team: 0,
            published: 0,
            failed: Vec::new(),
            metakernel: None,
            unchanged: false,
            left_out: Vec::new(),
            interrupted: false,
        }
    }
}

/// Asked once the plan is known; returns whether to proceed.
pub type Confirm<'a> = dyn FnMut(&GetPlan) -> Result<bool> + 'a;

/// Bridges download progress to the command reporter.
pub(crate) struct Progress<'a>(pub(crate) &'a dyn super::Reporter);

impl fetch::Progress for Progress<'_> {
    fn total(&self, files: u64, bytes: u64) {
        self.0.start("downloading", files, bytes);
    }
    fn bytes(&self, n: u64) {
        self.0.advance(0, n);
    }
    fn file_done(&self) {
        self.0.advance(1, 0);
    }
    fn grow(&self, n: u64) {
        self.0.grow(n);
    }
}

fn remote(e: fetch::FetchError) -> Error {
    Error::Remote(Box::new(e))
}

pub fn get(
    ctx: &Ctx<'_>,
    net: &FetchConfig,
    opts: &GetOptions,
    confirm: &mut Confirm<'_>,
) -> Result<GetReport> {
    let (_lock, mut cat) = ctx.write()?;
    let (urls, mission) = locate::locate(&cat, &opts.source, opts.mission.as_deref())?;
    let session = fetch::Session::new(net);
    let (source, fetched) = if opts.team.no_upstream {
        team::fetch_first(ctx, net, &opts.team, &urls)?
    } else {
        locate::fetch_first(&session, &urls)?
    };
    let target = Target {
        source: &source,
        mission: &mission,
    };
    acquire(ctx, &mut cat, &session, &target, fetched, opts, confirm)
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
    fetched: Fetched,
    opts: &GetOptions,
    confirm: &mut Confirm<'_>,
) -> Result<GetReport> {
    let loaded = mk::parse(fetched.final_url.to_string(), &fetched.bytes)?;
    let mut listings = Listings::new(session, opts.team.no_upstream);
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

/// Plans every entry: destination (validated before any write), present or to
/// download. Reads the catalogue and listings; writes nothing.
fn plan_acquisition(
    ctx: &Ctx<'_>,
    cat: &Catalogue,
    listings: &mut Listings<'_>,
    target: &Target<'_>,
    fetched: &Fetched,
    loaded: &mk::Loaded,
    opts: &GetOptions,
) -> Result<Acquisition> {
    let remote = present::choose_plan(cat, listings, &fetched.final_url, loaded)?;
    let (remote, window) = match &opts.window {
        Some(spec) => {
            let (taken, selection) = window::select(listings.session(), cat, remote, spec)?;
            (taken, Some(selection))
        }
        None => (remote, None),
    };
    let root = ctx.home.missions().join(target.mission);
    // Validate every local path (no symlinked directory on the way) before any write.
    let mut checked = HashSet::new();
    let dests = remote
        .entries
        .iter()
        .map(|e| {
            e.local
                .under_checked(&root, &mut checked)
                .map_err(crate::store::Error::Path)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mk_dest = remote
        .metakernel
        .under(&root)
        .map_err(crate::store::Error::Path)?;
    refuse_collisions(cat, &remote, &dests)?;
    let copies = cat
        .missions()?
        .iter()
        .find(|m| m.name.eq_ignore_ascii_case(target.mission))
        .is_some_and(|m| !m.dedup);
    let present = if opts.force {
        HashMap::new()
    } else {
        held(cat, listings, &remote)?
    };
    let held_hashes: Vec<&Sha256Hex> = present.values().map(|r| &r.sha256).collect();
    let names = cat.alias_counts(&held_hashes)?;
    let mut entries = Vec::with_capacity(remote.entries.len());
    for (e, dest) in remote.entries.iter().zip(&dests) {
        let row = present.get(e.url.as_str());
        entries.push(PlanEntry {
            name: e.name.clone(),
            url: e.url.to_string(),
            local_path: dest.display().to_string(),
            status: if row.is_some() {
                EntryStatus::Present
            } else {
                EntryStatus::Download
            },
            size: row.map(|r| r.stamp.size),
            other_names: row
                .and_then(|r| names.get(&r.sha256))
                .map_or(0, |n| n.saturating_sub(1)),
        });
    }
    let mut once = HashSet::new();
    let missing: Vec<usize> = (0..remote.entries.len())
        .filter(|&i| {
            let url = remote.entries[i].url.as_str();
            !present.contains_key(url) && once.insert(url.to_owned())
        })
        .collect();
    let view = GetPlan {
        metakernel_url: fetched.final_url.to_string(),
        mission: target.mission.to_owned(),
        entries,
        to_download: missing.len(),
        window: window.as_ref().map(|w| w.view.clone()),
    };
    Ok(Acquisition {
        remote,
        root,
        dests,
        mk_dest,
        copies,
        present,
        missing,
        view,
        window,
    })
}

/// Refuses, before anything is written, an entry whose local path is a registered
/// metakernel's ready `.tm` (laying it out would replace that file with a link) or an
/// existing directory (it cannot be replaced by a kernel).
fn refuse_collisions(cat: &Catalogue, remote: &RemotePlan, dests: &[PathBuf]) -> Result<()> {
    let registered: HashSet<PathBuf> = cat
        .metakernels()?
        .into_iter()
        .map(|m| PathBuf::from(m.local_path))
        .collect();
    for (e, dest) in remote.entries.iter().zip(dests) {
        let reason = if registered.contains(dest) {
            "is a registered metakernel"
        } else if fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) {
            "is a directory"
        } else {
            continue;
        };
        return Err(plan::PlanError::Collision {
            what: e.raw.clone(),
            path: dest.display().to_string(),
            reason: reason.into(),
        }
        .into());
    }
    Ok(())
}

/// The held contents, by URL: content recorded for name + URL, intact on disk, and
/// the listing (or a conditional request, when it cannot tell) agrees.
fn held(
    cat: &Catalogue,
    listings: &mut Listings<'_>,
    remote: &RemotePlan,
) -> Result<HashMap<String, LocationRow>> {
    let names: Vec<&str> = remote.entries.iter().map(|e| e.name.as_str()).collect();
    // Every location downloaded under one of the names, in one query, by (name, URL).
    let mut recorded: HashMap<(String, String), Vec<LocationRow>> = HashMap::new();
    for row in cat.locations_named_any(&names)? {
        if let Some(url) = row.source_url.clone() {
            recorded
                .entry((row.filename.clone(), url))
                .or_default()
                .push(row);
        }
    }
    // One set query for the download records of the entries no row names (a run that
    // did not finish), instead of one query per kernel on a cold `get`.
    let unrecorded: Vec<&str> = remote
        .entries
        .iter()
        .filter(|e| !recorded.contains_key(&(e.name.clone(), e.url.to_string())))
        .map(|e| e.url.as_str())
        .collect();
    let mut earlier = cat.downloads_of(&unrecorded)?;
    let mut present = HashMap::new();
    let mut ambiguous = Vec::new();
    for e in &remote.entries {
        if present.contains_key(e.url.as_str()) {
            continue;
        }
        let key = (e.name.clone(), e.url.to_string());
        let row = match recorded.remove(&key) {
            Some(rows) => rows.into_iter().find(intact),
            // Downloaded by a run that did not finish (a failure elsewhere, Ctrl-C):
            // its object and download record were committed, its tree link was not.
            None => match earlier.remove(e.url.as_str()) {
                Some(d) => arrived_earlier(cat, &d.sha256)?,
                None => None,
            },
        };
        if let Some(row) = row {
            match listings.verdict(&e.url, &e.name, &row) {
                Listed::Agrees => {
                    present.insert(e.url.to_string(), row);
                }
                Listed::Changed => {}
                Listed::SameMinute => ambiguous.push((e.url.clone(), row)),
            }
        }
    }
    present.extend(present::revalidate(cat, listings.session(), ambiguous)?);
    Ok(present)
}

/// The intact object row of content `sha256` that a run which did not finish downloaded
/// (its `downloads` record names it), so a rerun lays it out instead of downloading it.
fn arrived_earlier(cat: &Catalogue, sha256: &Sha256Hex) -> Result<Option<LocationRow>> {
    Ok(cat
        .locations_of(sha256)?
        .into_iter()
        .filter(|r| r.kind == db::LocationKind::Object)
        .find(intact))
}

/// What the download step produced.
struct Downloads {
    /// Persisted objects, by URL.
    objects: HashMap<String, (Sha256Hex, PathBuf)>,
    arrivals: Vec<Arrived>,
    now: crate::content::Timestamp,
}

/// Downloads the missing URLs in parallel; each verified body becomes an object
/// (fsynced, directories synced once). Failures are recorded in `report`.
fn download(
    ctx: &Ctx<'_>,
    cat: &Catalogue,
    net: &FetchConfig,
    team: &crate::team::Team,
    plan: &Acquisition,
    listings: &mut Listings<'_>,
    report: &mut GetReport,
) -> Result<Downloads> {
    let requests: Vec<DownloadRequest> = plan
        .missing
        .iter()
        .map(|&i| {
            let e = &plan.remote.entries[i];
            // The listing's exact size is a check: a body of another length (a
            // `Content-Length` that lies, a connection closed early) is a failed
            // transfer, never a kernel.
            let listed = listings.exact_size(&e.url, &e.name);
            DownloadRequest {
                url: e.url.clone(),
                name: e.name.clone(),
                expected_size: listed,
                expected_sha256: None,
                size_hint: listed,
            }
        })
        .collect();
    let listed: Vec<_> = requests
        .iter()
        .map(|r| listings.size(&r.url, &r.name))
        .collect();
    let partial = ctx.home.partial_dir();
    fsio::create_dir_all(&partial)?;
    let results = crate::team::download_all(
        team,
        net,
        &ctx.home.tmp(),
        &partial,
        &requests,
        &Progress(ctx.reporter),
    );
    ctx.reporter.finish();
    team::warn(ctx, team);
    let mut results = refuse_unlisted_lengths(&requests, &listed, results);
    // Every arrived body on disk before the first rename (one flush for a batch).
    let mut staged: Vec<&mut fsio::Staged> = results
        .iter_mut()
        .filter_map(|r| r.as_mut().ok().map(|(d, _)| &mut d.staged))
        .collect();
    fsio::make_durable(&mut staged, &ctx.home.tmp())?;
    super::crash_point("flushed");
    let mut out = Downloads {
        objects: HashMap::new(),
        arrivals: Vec::new(),
        now: db::now(),
    };
    let verified = super::verified_stamps(
        ctx,
        cat,
        results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|(d, _)| d.staged.sha256()),
    )?;
    let persisted = persist_all(ctx, &requests, &verified, out.now, results)?;
    for (req, persisted) in requests.iter().zip(persisted) {
        match persisted {
            Ok(Persisted {
                sha,
                object,
                len,
                arrived,
                origin,
            }) => {
                report.downloaded += 1;
                report.downloaded_bytes += len;
                if origin == crate::team::Origin::Team {
                    report.from_team += 1;
                }
                out.arrivals.push(arrived);
                out.objects.insert(req.url.to_string(), (sha, object));
            }
            Err(error) => report.failed.push(Failure {
                name: req.name.clone(),
                url: req.url.to_string(),
                error,
            }),
        }
    }
    super::crash_point("renamed");
    Ok(out)
}

/// A body whose length the server's own listing contradicts is a failed transfer —
/// a `Content-Length` that lied, a connection closed early with no length — never a
/// kernel. An exact size must match; a rounded one (`1.7K`, nginx's `2M`) only
/// bounds the length loosely (half to twice), so no server's rounding is mistaken
/// for a short body.
fn contradicts(size: crate::remote::listing::Size, len: u64) -> bool {
    match size.exact() {
        Some(n) => n != len,
        None => len.saturating_mul(2) < size.bytes() || len > size.bytes().saturating_mul(2),
    }
}

/// Applies [`contradicts`] to every arrived body, and the kernel checks of a
/// download ([`crate::integrity::refusal`]) to bodies from a team tier.
fn refuse_unlisted_lengths(
    requests: &[DownloadRequest],
    listed: &[Option<crate::remote::listing::Size>],
    results: Vec<
        std::result::Result<(fetch::Downloaded, crate::team::Origin), crate::team::Failed>,
    >,
) -> Vec<std::result::Result<(fetch::Downloaded, crate::team::Origin), crate::team::Failed>> {
    results
        .into_iter()
        .zip(requests.iter().zip(listed))
        .map(|(result, (req, size))| match (result, size) {
            (Ok((d, _)), Some(size)) if contradicts(*size, d.staged.len()) => Err(
                crate::team::Failed::Upstream(fetch::FetchError::ListingDisagrees {
                    url: req.url.clone().into(),
                    listed: if size.is_exact() {
                        format!("{} bytes", size.bytes())
                    } else {
                        format!("about {} bytes", size.bytes())
                    },
                    got: d.staged.len(),
                }),
            ),
            // Bytes from a team tier did not pass the download's checks here: they
            // pass the same gate (a kind its name promises, a whole structure).
            (Ok((d, crate::team::Origin::Team)), _) => {
                match crate::integrity::check_kernel(d.staged.path(), &req.name) {
                    Ok(()) => Ok((d, crate::team::Origin::Team)),
                    Err(why) => Err(crate::team::Failed::Upstream(fetch::refusal_error(
                        req.url.clone(),
                        d.staged.path(),
                        why,
                    ))),
                }
            }
            (result, _) => result,
        })
        .collect()
}

/// A download persisted as its object, classified and indexed.
struct Persisted {
    sha: Sha256Hex,
    object: PathBuf,
    len: u64,
    arrived: execute::Arrived,
    origin: crate::team::Origin,
}

/// Threads for per-file work (renames, links, classification): file system calls
/// wait on directory locks and the journal more than on the CPU.
const FILE_THREADS: usize = 8;

/// Renames every durable download into the store as its object, then classifies and
/// indexes it, on [`FILE_THREADS`] threads; the object directories are synced once,
/// before this returns. Contents that arrived under several URLs are persisted once.
fn persist_all(
    ctx: &Ctx<'_>,
    requests: &[DownloadRequest],
    verified: &HashMap<Sha256Hex, crate::store::FileStamp>,
    now: crate::content::Timestamp,
    results: Vec<
        std::result::Result<(fetch::Downloaded, crate::team::Origin), crate::team::Failed>,
    >,
) -> Result<Vec<std::result::Result<Persisted, FailureCause>>> {
    use rayon::prelude::*;
    // One `mkdir` per object shard per run, not one per kernel.
    let shards: BTreeSet<PathBuf> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter_map(|(d, _)| {
            ctx.home
                .object_path(d.staged.sha256())
                .parent()
                .map(Path::to_path_buf)
        })
        .collect();
    for shard in &shards {
        ctx.home.create_dir(shard)?;
    }
    let mut first_of: HashMap<Sha256Hex, usize> = HashMap::new();
    type Arrival =
        std::result::Result<(fetch::Downloaded, crate::team::Origin), crate::team::Failed>;
    let jobs: Vec<(bool, Arrival)> = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let first = r
                .as_ref()
                .is_ok_and(|(d, _)| *first_of.entry(d.staged.sha256().clone()).or_insert(i) == i);
            (first, r)
        })
        .collect();
    let dir_syncs = std::sync::Mutex::new(fsio::DirSyncs::default());
    let pool = file_pool(ctx)?;
    let persisted: Vec<_> = pool.install(|| {
        jobs.into_par_iter()
            .map(|(first, result)| {
                let (d, origin) = result.map_err(team::cause)?;
                let mut syncs = fsio::DirSyncs::default();
                let (sha, object, len, validators) = if first {
                    let stamp = verified.get(d.staged.sha256()).copied();
                    execute::persist_object(ctx, d, stamp, &mut syncs)
                        .map_err(FailureCause::Store)?
                } else {
                    // The same bytes under another URL: its first arrival persists them.
                    let sha = d.staged.sha256().clone();
                    let path = ctx.home.object_path(&sha);
                    let object = crate::commands::PlacedObject { path, found: false };
                    (sha, object, d.staged.len(), d.validators)
                };
                if let Ok(mut all) = dir_syncs.lock() {
                    all.merge(syncs);
                }
                Ok((sha, object, len, validators, origin))
            })
            .collect()
    });
    dir_syncs
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .sync()?;
    // Classification reads each object once; the rows are written in one transaction
    // later, so the objects are durable (and their directories synced) before that.
    let arrived: Vec<_> = pool.install(|| {
        persisted
            .into_par_iter()
            .zip(requests.par_iter())
            .map(|(persisted, req)| {
                let (sha, object, len, validators, origin) = persisted?;
                let crate::commands::PlacedObject {
                    path: object,
                    found,
                } = object;
                let arrived = execute::arrived(
                    &req.name,
                    req.url.as_str(),
                    validators,
                    &sha,
                    &object,
                    len,
                    now,
                )
                .map(|a| a.found_in_store(found))
                .map_err(|e| {
                    FailureCause::Store(crate::store::Error::io(
                        "classify",
                        &object,
                        std::io::Error::other(e.to_string()),
                    ))
                })?;
                Ok(Persisted {
                    sha,
                    object,
                    len,
                    arrived,
                    origin,
                })
            })
            .collect()
    });
    Ok(arrived)
}

/// Lays out each `(entry, destination)` (distinct destinations) on [`FILE_THREADS`]
/// threads, then syncs the directories that changed, once each.
fn lay_out_all(
    ctx: &Ctx<'_>,
    todo: &[(&plan::RemoteEntry, &PathBuf)],
    plan: &Acquisition,
    mission: &str,
    downloads: &Downloads,
) -> Result<Vec<LocationRow>> {
    use rayon::prelude::*;
    let dir_syncs = std::sync::Mutex::new(fsio::DirSyncs::default());
    let rows: Result<Vec<LocationRow>> = file_pool(ctx)?.install(|| {
        todo.par_iter()
            .map(|&(e, dest)| {
                let url = e.url.as_str();
                let (sha, object) = match (downloads.objects.get(url), plan.present.get(url)) {
                    (Some((sha, object)), _) => (sha.clone(), object.clone()),
                    (None, Some(row)) => (row.sha256.clone(), execute::content_path(ctx, row)),
                    (None, None) => unreachable!("every missing entry was downloaded"),
                };
                let placed = execute::Placement {
                    dest,
                    object: &object,
                    sha: &sha,
                    entry: e,
                    mission,
                    copy: plan.copies,
                };
                let mut syncs = fsio::DirSyncs::default();
                let row = execute::lay_out(&placed, downloads.now, &mut syncs)?;
                if let Ok(mut all) = dir_syncs.lock() {
                    all.merge(syncs);
                }
                Ok(row)
            })
            .collect()
    });
    let rows = rows?;
    dir_syncs
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .sync()?;
    Ok(rows)
}

/// The thread pool for per-file work.
fn file_pool(ctx: &Ctx<'_>) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(FILE_THREADS)
        .build()
        .map_err(|e| {
            crate::store::Error::io("start threads", &ctx.home.tmp(), std::io::Error::other(e))
                .into()
        })
}

/// Lays out the mission tree: every entry's path links to (or copies) its content.
/// Returns the location rows that changed (rows already saying exactly this are
/// left alone: the warm path writes nothing).
fn lay_out_tree(
    ctx: &Ctx<'_>,
    cat: &Catalogue,
    plan: &Acquisition,
    mission: &str,
    downloads: &Downloads,
    gone: &HashSet<&str>,
) -> Result<Vec<LocationRow>> {
    // The warm path: a held row that *is* this tree entry, a link whose target's stat
    // still matches (checked by `held`), needs nothing done and nothing recorded.
    let mut laid = HashSet::new();
    let todo: Vec<(&plan::RemoteEntry, &PathBuf)> = plan
        .remote
        .entries
        .iter()
        .zip(&plan.dests)
        .filter(|(e, _)| !gone.contains(e.url.as_str()))
        .filter(|(_, dest)| laid.insert(dest.as_path()))
        .filter(|(e, dest)| {
            !plan.present.get(e.url.as_str()).is_some_and(|row| {
                !plan.copies
                    && row.kind == db::LocationKind::Symlink
                    && Path::new(&row.path) == dest.as_path()
            })
        })
        .collect();
    let dirs: HashSet<PathBuf> = todo
        .iter()
        .map(|(_, d)| *d)
        .chain(std::iter::once(&plan.mk_dest))
        .filter_map(|d| d.parent().map(Path::to_path_buf))
        .collect();
    for d in &dirs {
        ctx.home.create_dir(d)?;
    }
    if !todo.is_empty() {
        ctx.home.journal_dirs(dirs.iter().map(PathBuf::as_path))?;
    }
    let rows = lay_out_all(ctx, &todo, plan, mission, downloads)?;
    let paths: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
    let old_rows = cat.locations_at(&paths)?;
    Ok(rows
        .into_iter()
        .filter(|row| {
            !old_rows.get(&row.path).is_some_and(|old| {
                old.sha256 == row.sha256
                    && old.kind == row.kind
                    && old.link_target == row.link_target
                    && old.stamp == row.stamp
                    && old.source_url == row.source_url
                    && old.mission == row.mission
            })
        })
        .collect())
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

#[cfg(test)]
mod tests {
    use super::contradicts;
    use crate::remote::listing::Size;

    #[test]
    fn a_listing_contradicts_short_bodies_but_not_its_own_rounding() {
        // Apache's `1.7K` for a 1,699-byte kernel: 100 or 700 bytes are a cut transfer.
        assert!(contradicts(Size::Approx(1741), 100));
        assert!(contradicts(Size::Approx(1741), 700));
        assert!(!contradicts(Size::Approx(1741), 1699));
        // nginx rounds to whole units: `1M` for 1.49 MiB is not a contradiction.
        assert!(!contradicts(Size::Approx(1 << 20), 1_562_000));
        assert!(contradicts(Size::Approx(1 << 20), 5 << 20));
        // An exact size is exact.
        assert!(contradicts(Size::Exact(1699), 1698));
        assert!(!contradicts(Size::Exact(1699), 1699));
    }
}
