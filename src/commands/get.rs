//! `kdb get` and `kdb update`: acquire a metakernel and exactly the kernels missing.
//!
//! Plan → confirm → execute → commit, all under the home lock:
//! 1. fetch the metakernel (a bare name is looked up in the mission's mk/ directory,
//!    then in `former_versions/`);
//! 2. parse it and plan every entry's URL and mission-tree path, refusing the whole
//!    operation on any traversal before the first write ([`super::plan`]);
//! 3. an entry is present only if the catalogue has content recorded for that name
//!    *and URL* whose local bytes are intact (stat unchanged since hashed);
//! 4. download the rest in parallel through the store's write path (stream → hash →
//!    verify → fsync → rename), each distinct URL once;
//! 5. only when every kernel is in place: lay out the mission tree (atomic link
//!    replacement, or independent copies when the mission's dedup flag is off), write
//!    the local metakernel atomically with absolute `PATH_VALUES`, and commit contents,
//!    locations, aliases and the metakernel row in one transaction.
//!
//! A failed, declined or interrupted `get` registers no metakernel and writes no
//! local `.tm`; kernels that did arrive are kept as verified objects (so the next
//! attempt does not fetch them again).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use url::Url;

use super::plan::{self, RemotePlan};
use super::{Ctx, Error, Result, intact, mk};
use crate::db::{self, Catalogue, LocationKind, LocationRow, MetakernelRow, NewKernel};
use crate::kernel::{self, Detection};
use crate::remote::fetch::{self, Conditional, DownloadRequest, FetchConfig, Fetched, Validators};
use crate::store::{FileStamp, Sha256Hex, fsio, hash};

#[derive(Debug, Clone, Default)]
pub struct GetOptions {
    pub source: String,
    pub mission: Option<String>,
    pub force: bool,
    pub dry_run: bool,
}

#[derive(Debug, Serialize, Clone)]
pub struct PlanEntry {
    pub name: String,
    pub url: String,
    pub local_path: String,
    /// `present` or `download`.
    pub status: &'static str,
    pub size: Option<u64>,
    /// Other names the catalogue knows this content under (present entries).
    pub other_names: u64,
}

#[derive(Debug, Serialize, Clone)]
pub struct GetPlan {
    pub metakernel_url: String,
    pub mission: String,
    pub entries: Vec<PlanEntry>,
    /// Distinct URLs to download.
    pub to_download: usize,
}

#[derive(Debug, Serialize)]
pub struct Failure {
    pub name: String,
    pub url: String,
    pub error: String,
}

#[derive(Debug, Serialize)]
pub struct GetReport {
    pub plan: GetPlan,
    pub dry_run: bool,
    pub declined: bool,
    pub downloaded: usize,
    pub downloaded_bytes: u64,
    pub failed: Vec<Failure>,
    /// The local metakernel, written only when every kernel is in place.
    pub metakernel: Option<String>,
    /// For `update`: the server said the metakernel did not change.
    pub unchanged: bool,
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
}

fn remote(e: fetch::FetchError) -> Error {
    Error::Remote(Box::new(e))
}

/// Where `source` (a URL, or `NAME.tm` of a mission) points, and the mission.
fn locate(cat: &Catalogue, source: &str, mission: Option<&str>) -> Result<(Vec<Url>, String)> {
    if source.contains("://") {
        let url =
            Url::parse(source).map_err(|e| Error::Usage(format!("invalid URL `{source}`: {e}")))?;
        if !matches!(url.scheme(), "http" | "https" | "file") {
            return Err(Error::Usage(format!(
                "unsupported URL scheme `{}`",
                url.scheme()
            )));
        }
        let name = match mission {
            Some(m) => m.to_owned(),
            None => mission_for_url(cat, &url)?,
        };
        super::mission::check_name(&name)?;
        return Ok((vec![url], name));
    }
    if source.contains('/') || !source.to_ascii_lowercase().ends_with(".tm") {
        return Err(Error::Usage(format!(
            "`{source}` is neither a URL nor a metakernel file name (NAME.tm)"
        )));
    }
    let missions = cat.missions()?;
    let m = match mission {
        Some(name) => missions
            .into_iter()
            .find(|m| m.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "no mission named `{name}`; add it with `kdb mission add {name}`"
                ))
            })?,
        None => match missions.len() {
            1 => missions
                .into_iter()
                .next()
                .unwrap_or_else(|| unreachable!()),
            0 => {
                return Err(Error::Usage(
                    "no mission configured: pass a URL, or `kdb mission add NAME` first".into(),
                ));
            }
            _ => {
                return Err(Error::Usage(format!(
                    "several missions configured; pass `--mission` for `{source}`"
                )));
            }
        },
    };
    let dir = Url::parse(m.mk_dir_url.as_deref().unwrap_or_default())
        .map_err(|e| Error::Usage(format!("mission `{}` has an invalid mk/ URL: {e}", m.name)))?;
    let first = dir.join(source).map_err(|e| Error::Usage(e.to_string()))?;
    let former = dir
        .join(&format!("former_versions/{source}"))
        .map_err(|e| Error::Usage(e.to_string()))?;
    Ok((vec![first, former], m.name))
}

/// The mission of a URL: a configured mission whose mk/ or server URL contains it,
/// else the path segment before `kernels`.
pub(crate) fn mission_for_url(cat: &Catalogue, url: &Url) -> Result<String> {
    for m in cat.missions()? {
        if let Some(mk) = &m.mk_dir_url
            && let Some(base) = mk.strip_suffix("kernels/mk/").or(Some(mk.as_str()))
            && url.as_str().starts_with(base)
        {
            return Ok(m.name);
        }
    }
    let segs: Vec<&str> = url
        .path_segments()
        .map(Iterator::collect)
        .unwrap_or_default();
    if let Some(i) = segs.iter().position(|s| s.eq_ignore_ascii_case("kernels"))
        && i > 0
    {
        return Ok(segs[i - 1].to_owned());
    }
    Err(Error::Usage(format!(
        "cannot tell the mission of `{url}`; pass `--mission NAME`"
    )))
}

/// Fetches the first of `urls` that exists; not-found on all names every URL tried.
fn fetch_first(session: &fetch::Session, urls: &[Url]) -> Result<(Url, Fetched)> {
    let mut tried = Vec::new();
    for url in urls {
        match session.fetch_text(url, None) {
            Ok(Conditional::Fetched(f)) => return Ok((url.clone(), f)),
            Ok(Conditional::NotModified) => {}
            Err(e) if e.is_not_found() => tried.push(format!("`{url}`")),
            Err(e) => return Err(remote(e)),
        }
    }
    Err(Error::NotFound(format!(
        "metakernel not found at {}",
        tried.join(" nor ")
    )))
}

pub fn get(
    ctx: &Ctx<'_>,
    net: &FetchConfig,
    opts: &GetOptions,
    confirm: &mut Confirm<'_>,
) -> Result<GetReport> {
    let (_lock, mut cat) = ctx.write()?;
    let (urls, mission) = locate(&cat, &opts.source, opts.mission.as_deref())?;
    let session = fetch::Session::new(net);
    let (source, fetched) = fetch_first(&session, &urls)?;
    acquire(
        ctx, &mut cat, &session, &source, &mission, fetched, opts, confirm,
    )
}

/// The part of `get` after the metakernel bytes are in hand (shared with `update`).
#[allow(clippy::too_many_arguments)]
fn acquire(
    ctx: &Ctx<'_>,
    cat: &mut Catalogue,
    session: &fetch::Session,
    source: &Url,
    mission: &str,
    fetched: Fetched,
    opts: &GetOptions,
    confirm: &mut Confirm<'_>,
) -> Result<GetReport> {
    let loaded = mk::parse(fetched.final_url.to_string(), &fetched.bytes)?;
    let net = session.config();
    let mut listings = Listings::new(session);
    let remote_plan = choose_plan(cat, &mut listings, &fetched.final_url, &loaded)?;
    let root = ctx.home.missions().join(mission);
    // Validate every local path (no symlinked directory on the way) before any write.
    let mut dests = Vec::new();
    for e in &remote_plan.entries {
        dests.push(e.local.under(&root).map_err(crate::store::Error::Path)?);
    }
    let mk_dest = remote_plan
        .metakernel
        .under(&root)
        .map_err(crate::store::Error::Path)?;
    let dedup = cat
        .missions()?
        .iter()
        .find(|m| m.name.eq_ignore_ascii_case(mission))
        .is_none_or(|m| m.dedup);

    // Plan: which distinct URLs are present (content recorded for name+URL, intact).
    let mut present: HashMap<String, LocationRow> = HashMap::new();
    let mut ambiguous = Vec::new();
    if !opts.force {
        for e in &remote_plan.entries {
            if present.contains_key(e.url.as_str()) {
                continue;
            }
            if let Some(row) = cat
                .locations_from(&e.name, e.url.as_str())?
                .into_iter()
                .find(intact)
            {
                match listings.verdict(&e.url, &e.name, &row) {
                    Listed::Agrees => {
                        present.insert(e.url.to_string(), row);
                    }
                    Listed::Changed => {}
                    Listed::SameMinute => ambiguous.push((e.url.clone(), row)),
                }
            }
        }
        present.extend(revalidate(cat, session, ambiguous)?);
    }
    let mut seen = HashSet::new();
    let mut entries = Vec::new();
    for (e, dest) in remote_plan.entries.iter().zip(&dests) {
        let row = present.get(e.url.as_str());
        entries.push(PlanEntry {
            name: e.name.clone(),
            url: e.url.to_string(),
            local_path: dest.display().to_string(),
            status: if row.is_some() { "present" } else { "download" },
            size: row.map(|r| r.size),
            other_names: match row {
                Some(r) => cat.alias_count(&r.sha256)?.saturating_sub(1),
                None => 0,
            },
        });
        seen.insert(e.url.to_string());
    }
    let missing: Vec<&plan::RemoteEntry> = {
        let mut once = HashSet::new();
        remote_plan
            .entries
            .iter()
            .filter(|e| !present.contains_key(e.url.as_str()) && once.insert(e.url.to_string()))
            .collect()
    };
    let view = GetPlan {
        metakernel_url: fetched.final_url.to_string(),
        mission: mission.to_owned(),
        entries,
        to_download: missing.len(),
    };
    let mut report = GetReport {
        plan: view.clone(),
        dry_run: opts.dry_run,
        declined: false,
        downloaded: 0,
        downloaded_bytes: 0,
        failed: Vec::new(),
        metakernel: None,
        unchanged: false,
    };
    if opts.dry_run {
        return Ok(report);
    }
    if !missing.is_empty() && !confirm(&view)? {
        report.declined = true;
        return Ok(report);
    }

    // Execute: download, verify, persist each content as an object.
    let requests: Vec<DownloadRequest> = missing
        .iter()
        .map(|e| DownloadRequest {
            url: e.url.clone(),
            name: e.name.clone(),
            expected_size: None,
            expected_sha256: None,
        })
        .collect();
    let partial = ctx.home.tmp().join("partial");
    fsio::create_dir_all(&partial)?;
    let results = fetch::download_all(
        net,
        &ctx.home.tmp(),
        &partial,
        &requests,
        &Progress(ctx.reporter),
    );
    ctx.reporter.finish();
    let now = db::now();
    let mut dir_syncs = fsio::DirSyncs::default();
    let mut objects: HashMap<String, (Sha256Hex, PathBuf)> = HashMap::new(); // url -> object
    let mut arrivals = Vec::new();
    for (req, result) in requests.iter().zip(results) {
        match result.map_err(|e| crate::error_chain(&e)).and_then(|d| {
            let sha = d.staged.sha256().clone();
            let len = d.staged.len();
            let object = ctx.home.object_path(&sha);
            fsio::create_dir_all(object.parent().unwrap_or(Path::new("/")))
                .map_err(|e| crate::error_chain(&e))?;
            d.staged
                .persist_batched(&object, true, true, &mut dir_syncs)
                .map_err(|e| crate::error_chain(&e))?;
            Ok((sha, object, len, d.validators))
        }) {
            Ok((sha, object, len, validators)) => {
                report.downloaded += 1;
                report.downloaded_bytes += len;
                arrivals.push(arrived(
                    &req.name,
                    req.url.as_str(),
                    validators,
                    &sha,
                    &object,
                    len,
                    &now,
                )?);
                objects.insert(req.url.to_string(), (sha, object));
            }
            Err(error) => report.failed.push(Failure {
                name: req.name.clone(),
                url: req.url.to_string(),
                error,
            }),
        }
    }
    dir_syncs.sync()?;
    if !report.failed.is_empty() {
        // Keep what arrived (verified objects), register no metakernel, write no .tm.
        cat.write(|tx| -> Result<()> {
            for a in &arrivals {
                a.record(tx)?;
            }
            Ok(())
        })?;
        return Ok(report);
    }

    // Lay out the mission tree: every entry's path links to (or copies) its content.
    let dirs: HashSet<PathBuf> = dests
        .iter()
        .chain(std::iter::once(&mk_dest))
        .filter_map(|d| d.parent().map(Path::to_path_buf))
        .collect();
    for d in &dirs {
        fsio::create_dir_all(d)?;
    }
    ctx.home.journal_dirs(dirs.iter().map(PathBuf::as_path))?;
    let mut tree_rows = Vec::new();
    let mut laid = HashSet::new();
    let mut dir_syncs = fsio::DirSyncs::default();
    for (e, dest) in remote_plan.entries.iter().zip(&dests) {
        if !laid.insert(dest.clone()) {
            continue;
        }
        let (sha, object) = match (objects.get(e.url.as_str()), present.get(e.url.as_str())) {
            (Some((sha, object)), _) => (sha.to_string(), object.clone()),
            (None, Some(row)) => (row.sha256.clone(), content_path(ctx, row)),
            (None, None) => unreachable!("every missing entry was downloaded"),
        };
        tree_rows.push(lay_out(
            dest,
            &object,
            &sha,
            e,
            mission,
            dedup,
            &now,
            &mut dir_syncs,
        )?);
    }
    dir_syncs.sync()?;
    // Rows that already say exactly this need no write (the warm path).
    let tree_rows: Vec<LocationRow> = tree_rows
        .into_iter()
        .filter(|row| {
            !cat.location(&row.path).ok().flatten().is_some_and(|old| {
                old.sha256 == row.sha256
                    && old.kind == row.kind
                    && old.link_target == row.link_target
                    && (old.dev, old.ino, old.size, old.mtime_ns)
                        == (row.dev, row.ino, row.size, row.mtime_ns)
                    && old.source_url == row.source_url
                    && old.mission == row.mission
            })
        })
        .collect();
    let local_mk = local_metakernel(&loaded, &remote_plan, &root)?;
    let local_mk_changed = fs::read(&mk_dest).map(|b| b != local_mk).unwrap_or(true);
    if local_mk_changed {
        fsio::write_atomic(&mk_dest, &local_mk)?;
    }
    let (remote_sha, _) = hash::hash_reader(&mut fetched.bytes.as_slice())
        .map_err(|e| crate::store::Error::io("hash", &mk_dest, e))?;
    let mk_row = MetakernelRow {
        id: 0,
        name: super::mk::file_name(fetched.final_url.path()).to_owned(),
        source_url: source.to_string(),
        final_url: Some(fetched.final_url.to_string()),
        local_path: mk_dest.display().to_string(),
        mission: Some(mission.to_owned()),
        sha256: Some(remote_sha.to_string()),
        etag: fetched.validators.etag.clone(),
        last_modified: fetched.validators.last_modified.clone(),
        size: Some(fetched.size),
        acquired_at: now.clone(),
    };
    cat.write(|tx| -> Result<()> {
        for a in &arrivals {
            a.record(tx)?;
        }
        for row in &tree_rows {
            tx.insert_alias(&row.sha256, &row.filename, row.source_url.as_deref())?;
            tx.upsert_location(row)?;
        }
        tx.upsert_metakernel(&mk_row)?;
        Ok(())
    })?;
    report.metakernel = Some(mk_dest.display().to_string());
    Ok(report)
}

/// Directory listings fetched during one `get`, by directory URL (`None` when the
/// server gives none: then nothing is known about sizes there).
struct Listings<'a> {
    session: &'a fetch::Session,
    pages: HashMap<String, Option<crate::remote::listing::Listing>>,
}

impl<'a> Listings<'a> {
    fn new(session: &'a fetch::Session) -> Self {
        Listings {
            session,
            pages: HashMap::new(),
        }
    }

    fn entry(&mut self, url: &Url, name: &str) -> Option<crate::remote::listing::ListingEntry> {
        let dir = url.join("./").ok()?;
        let session = self.session;
        let page = self
            .pages
            .entry(dir.to_string())
            .or_insert_with(|| session.fetch_listing(&dir).ok());
        page.as_ref()?
            .entries
            .iter()
            .find(|e| e.name == name && !e.is_dir)
            .cloned()
    }

    /// What the server's listing (when there is one) says of what we hold: a
    /// different size (exactly, or beyond the rounding of `12K` forms) or a later
    /// minute means changed; the very minute we fetched it cannot tell.
    fn verdict(&mut self, url: &Url, name: &str, row: &LocationRow) -> Listed {
        let Some(entry) = self.entry(url, name) else {
            return Listed::Agrees;
        };
        if entry.size.is_some_and(|size| !size.agrees_with(row.size)) {
            return Listed::Changed;
        }
        if let (Some(modified), Ok(fetched)) = (
            entry.modified,
            chrono::DateTime::parse_from_rfc3339(&row.hashed_at),
        ) {
            let fetched_minute = fetched.naive_utc().and_utc().timestamp() / 60;
            let modified_minute = modified.and_utc().timestamp() / 60;
            if modified_minute > fetched_minute {
                return Listed::Changed;
            }
            if modified_minute == fetched_minute {
                return Listed::SameMinute;
            }
        }
        Listed::Agrees
    }
}

/// Settles kernels whose listing cannot tell (modified in the minute we fetched
/// them) with conditional requests carrying the validators of our download: 304 →
/// still present. A 200 (or a body too large to be a small document) → changed. No
/// stored validators, or no answer → kept as present (the listing agreed on size).
fn revalidate(
    cat: &Catalogue,
    session: &fetch::Session,
    ambiguous: Vec<(Url, LocationRow)>,
) -> Result<Vec<(String, LocationRow)>> {
    let mut kept = Vec::new();
    let mut asks = Vec::new();
    let mut rows = Vec::new();
    for (url, row) in ambiguous {
        match cat.download(url.as_str())? {
            Some(d)
                if d.sha256 == row.sha256 && (d.etag.is_some() || d.last_modified.is_some()) =>
            {
                asks.push((
                    url.clone(),
                    Validators {
                        etag: d.etag,
                        last_modified: d.last_modified,
                    },
                ));
                rows.push((url.to_string(), row));
            }
            _ => kept.push((url.to_string(), row)),
        }
    }
    for (answer, row) in session.revalidate_all(&asks).into_iter().zip(rows) {
        match answer {
            Ok(Conditional::NotModified) => kept.push(row),
            Ok(Conditional::Fetched(_)) | Err(fetch::FetchError::TooLong { .. }) => {}
            Err(e) => {
                tracing::debug!("cannot revalidate `{}`: {}", row.0, crate::error_chain(&e));
                kept.push(row);
            }
        }
    }
    Ok(kept)
}

/// A listing's verdict on a kernel we hold.
enum Listed {
    Agrees,
    Changed,
    /// Modified in the minute we fetched it: ask the server (conditional request).
    SameMinute,
}

/// Picks the server directory that plays SPICE's working directory: the
/// metakernel's own (NAIF's convention), else the first ancestor under which the
/// first entry is listed. Traversal found with the metakernel's own directory
/// refuses the whole operation.
fn choose_plan(
    cat: &Catalogue,
    listings: &mut Listings<'_>,
    mk_url: &Url,
    loaded: &mk::Loaded,
) -> Result<RemotePlan> {
    let first = plan::plan(mk_url, loaded)?;
    for (i, cwd) in plan::working_dirs(mk_url).iter().enumerate() {
        let candidate = if i == 0 {
            first.clone()
        } else {
            match plan::plan_from(mk_url, cwd, loaded) {
                Ok(p) => p,
                Err(_) => continue,
            }
        };
        let Some(e) = candidate.entries.first() else {
            return Ok(candidate);
        };
        if !cat.locations_from(&e.name, e.url.as_str())?.is_empty()
            || listings.entry(&e.url, &e.name).is_some()
        {
            return Ok(candidate);
        }
    }
    Ok(first)
}

/// One downloaded content, persisted as an object, ready to be recorded.
pub(crate) struct Arrived {
    name: String,
    url: String,
    validators: Validators,
    kernel_type: &'static str,
    byte_order: Option<&'static str>,
    object: LocationRow,
}

impl Arrived {
    pub(crate) fn record(&self, tx: &db::Tx<'_>) -> Result<()> {
        tx.insert_kernel(&NewKernel {
            sha256: &self.object.sha256,
            filename: &self.name,
            kernel_type: self.kernel_type,
            byte_order: self.byte_order,
            size: self.object.size,
        })?;
        tx.upsert_location(&self.object)?;
        tx.insert_alias(&self.object.sha256, &self.name, Some(&self.url))?;
        tx.upsert_download(&db::DownloadRow {
            url: self.url.clone(),
            sha256: self.object.sha256.clone(),
            etag: self.validators.etag.clone(),
            last_modified: self.validators.last_modified.clone(),
            size: self.object.size,
            fetched_at: self.object.hashed_at.clone(),
        })?;
        Ok(())
    }
}

/// Classifies a persisted object and builds its rows.
pub(crate) fn arrived(
    name: &str,
    url: &str,
    validators: Validators,
    sha: &Sha256Hex,
    object: &Path,
    len: u64,
    now: &str,
) -> Result<Arrived> {
    let mut head = Vec::with_capacity(kernel::HEAD_LEN);
    fs::File::open(object)
        .and_then(|f| f.take(kernel::HEAD_LEN as u64).read_to_end(&mut head))
        .map_err(|e| crate::store::Error::io("read", object, e))?;
    let (kernel_type, byte_order) = match kernel::detect(&head, name, len) {
        Detection::Kernel {
            kernel_type,
            byte_order,
            ..
        } => (kernel_type.as_str(), byte_order.map(|b| b.as_str())),
        _ => ("unknown", None),
    };
    let meta = fs::metadata(object).map_err(|e| crate::store::Error::io("stat", object, e))?;
    let stamp = FileStamp::of(&meta);
    Ok(Arrived {
        name: name.to_owned(),
        url: url.to_owned(),
        validators,
        kernel_type,
        byte_order,
        object: super::object_row(
            object,
            sha.as_str(),
            stamp,
            Some(url.to_owned()),
            now.to_owned(),
        ),
    })
}

/// Where the bytes of a present location live (an object, or the file itself).
fn content_path(ctx: &Ctx<'_>, row: &LocationRow) -> PathBuf {
    match Sha256Hex::parse(&row.sha256) {
        Some(sha) if ctx.home.object_path(&sha).exists() => ctx.home.object_path(&sha),
        _ => PathBuf::from(&row.path),
    }
}

#[allow(clippy::too_many_arguments)]
/// Puts `object`'s content at `dest`: a symlink (dedup on) or an independent copy.
/// An existing entry is replaced by rename, never written into.
pub(crate) fn lay_out(
    dest: &Path,
    object: &Path,
    sha: &str,
    e: &plan::RemoteEntry,
    mission: &str,
    dedup: bool,
    now: &str,
    dirs: &mut fsio::DirSyncs,
) -> Result<LocationRow> {
    let current_link = fs::read_link(dest).ok();
    let kind = if dedup {
        if current_link.as_deref() != Some(object) {
            fsio::replace_with_symlink_batched(dest, object, dirs)?;
        }
        LocationKind::Symlink
    } else {
        let same = fs::symlink_metadata(dest).is_ok_and(|m| m.is_file())
            && hash::hash_file(dest).is_ok_and(|(h, _)| h.as_str() == sha);
        if !same {
            let mut src = fs::File::open(object)
                .map_err(|err| crate::store::Error::io("open", object, err))?;
            let staged = fsio::stage(
                dest.parent().unwrap_or(Path::new("/")),
                &mut src,
                &mut |_| {},
            )?;
            staged.verify(&e.name, None, Sha256Hex::parse(sha).as_ref())?;
            staged.persist_batched(dest, true, false, dirs)?;
        }
        LocationKind::File
    };
    let meta = fs::metadata(dest).map_err(|err| crate::store::Error::io("stat", dest, err))?;
    let stamp = FileStamp::of(&meta);
    Ok(LocationRow {
        path: dest.display().to_string(),
        filename: e.name.clone(),
        sha256: sha.to_owned(),
        mission: Some(mission.to_owned()),
        source_url: Some(e.url.to_string()),
        kind,
        link_target: (kind == LocationKind::Symlink).then(|| object.display().to_string()),
        dev: stamp.dev,
        ino: stamp.ino,
        size: stamp.size,
        mtime_ns: stamp.mtime_ns,
        hashed_at: now.to_owned(),
    })
}

/// The local metakernel: PATH_VALUES (or literal entries) made absolute into the tree.
pub(crate) fn local_metakernel(
    loaded: &mk::Loaded,
    p: &RemotePlan,
    root: &Path,
) -> Result<Vec<u8>> {
    let bytes = if p.literal {
        let by_raw: BTreeMap<String, String> = p
            .entries
            .iter()
            .map(|e| {
                (
                    e.raw.clone(),
                    root.join(e.local.as_str()).display().to_string(),
                )
            })
            .collect();
        loaded.mk.rewrite_entries(|e| by_raw.get(&e.raw).cloned())
    } else {
        let values: Vec<(String, String)> = p
            .symbols
            .iter()
            .map(|(name, dir)| (name.clone(), root.join(dir.as_str()).display().to_string()))
            .collect();
        loaded.mk.rewrite_path_values(&values)
    };
    bytes.map_err(|source| Error::Rewrite {
        path: loaded.origin.clone(),
        source,
    })
}

// ---------------------------------------------------------------- update

#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    pub metakernel: Option<String>,
    pub all: bool,
    pub force: bool,
    pub dry_run: bool,
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
    let chosen: Vec<MetakernelRow> = match (&opts.metakernel, opts.all) {
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
    };
    let mut out = Vec::new();
    for row in chosen {
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
        let fetched = match session.fetch_text(&url, conditional) {
            Ok(Conditional::NotModified) => None,
            Ok(Conditional::Fetched(f)) => Some(f),
            Err(e) if e.is_not_found() || matches!(e, fetch::FetchError::Forbidden { .. }) => {
                let former = url
                    .join(&format!("former_versions/{}", row.name))
                    .map(|u| u.to_string())
                    .unwrap_or_default();
                return Err(Error::Gone(format!(
                    "`{url}` is no longer served ({}); archived versions live under `{former}`",
                    crate::error_chain(&e)
                )));
            }
            Err(e) => return Err(remote(e)),
        };
        let mission = row.mission.clone().unwrap_or_else(|| "default".into());
        let same_bytes = |f: &Fetched| {
            hash::hash_reader(&mut f.bytes.as_slice())
                .is_ok_and(|(h, _)| Some(h.to_string()) == row.sha256)
        };
        let report = match fetched {
            Some(f) if opts.force || !local_ok || !same_bytes(&f) => {
                let get_opts = GetOptions {
                    source: row.source_url.clone(),
                    mission: Some(mission.clone()),
                    force: opts.force,
                    dry_run: opts.dry_run,
                };
                acquire(
                    ctx, &mut cat, &session, &url, &mission, f, &get_opts, confirm,
                )?
            }
            _ => GetReport {
                plan: GetPlan {
                    metakernel_url: row.final_url.clone().unwrap_or(row.source_url.clone()),
                    mission,
                    entries: Vec::new(),
                    to_download: 0,
                },
                dry_run: opts.dry_run,
                declined: false,
                downloaded: 0,
                downloaded_bytes: 0,
                failed: Vec::new(),
                metakernel: Some(row.local_path.clone()),
                unchanged: true,
            },
        };
        out.push(UpdateItem {
            name: row.name.clone(),
            source_url: row.source_url.clone(),
            report,
        });
    }
    Ok(out)
}
