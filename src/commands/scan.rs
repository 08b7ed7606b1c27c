//! `kdb scan DIR`: register every kernel under a directory.
//!
//! Incremental: a file whose (device, inode, size, mtime) equals the catalogue's is not
//! re-hashed. Hashing runs on all cores. A symlink records its *own* name as an alias
//! of its target's content (the alias trail keeps the name as referenced, before any
//! path resolution collapses it) and never touches the target's row. `--archive`
//! moves each content into the store and leaves a link at the original place; the
//! original path exists at every instant (hard link or verified copy first, then an
//! atomic link-over-rename).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::{Ctx, Error, Result, absolute};
use crate::db::{self, LocationKind, LocationRow, NewKernel};
use crate::kernel::{self, Detection};
use crate::store::{FileStamp, Sha256Hex, fsio, hash};

#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    pub dir: PathBuf,
    pub mission: Option<String>,
    pub archive: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct ScanReport {
    pub root: String,
    /// Contents not known before this scan.
    pub new_contents: u64,
    /// Paths registered for the first time.
    pub new_locations: u64,
    /// Paths whose stat was unchanged: not re-hashed.
    pub unchanged: u64,
    /// Paths whose bytes were hashed in this run.
    pub hashed: u64,
    pub hashed_bytes: u64,
    /// Paths whose content changed since the last scan.
    pub changed: u64,
    /// Names newly recorded as aliases (symlink names, new names of known contents).
    pub aliases_added: u64,
    pub symlinks: u64,
    /// Catalogue rows under DIR whose file is gone.
    pub removed: u64,
    pub archived: u64,
    /// Files named or shaped like kernels that are not kernels, and unreadable entries.
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Serialize)]
pub struct Skipped {
    pub path: String,
    pub reason: SkipReason,
}

/// Why a path was not registered (reported, never fatal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The directory walk could not read the entry.
    Unreadable(String),
    NameNotUtf8,
    DanglingSymlink,
    CannotStat(String),
    /// Named or shaped like a kernel, but not one (HTML, Git LFS pointer, empty...).
    NotKernel(&'static str),
    CannotOpen(String),
    CannotRead(String),
    /// `--archive` could not move the content into the store.
    Archive(String),
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Unreadable(e) => write!(f, "unreadable: {e}"),
            SkipReason::NameNotUtf8 => f.write_str("file name is not UTF-8"),
            SkipReason::DanglingSymlink => f.write_str("dangling symlink"),
            SkipReason::CannotStat(e) => write!(f, "cannot stat: {e}"),
            SkipReason::NotKernel(why) => write!(f, "not a kernel: {why}"),
            SkipReason::CannotOpen(e) => write!(f, "cannot open: {e}"),
            SkipReason::CannotRead(e) => write!(f, "cannot read: {e}"),
            SkipReason::Archive(e) => f.write_str(e),
        }
    }
}

impl Serialize for SkipReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One file to hash (or a symlink whose target must be hashed).
struct Job {
    path: PathBuf,
    key: String,
    name: String,
    link: Option<PathBuf>,
    stamp: FileStamp,
}

enum Hashed {
    Kernel {
        sha: Sha256Hex,
        size: u64,
        detection: Detection,
        /// The coverage index entry of a binary kernel (read in the parallel part).
        index: Option<db::CoverageRow>,
    },
    NotKernel(&'static str),
    Unrelated,
    Failed(SkipReason),
}

/// What a walk of the tree found before any byte is read: the scan's plan.
#[derive(Default)]
struct ScanPlan {
    /// Rows whose stat is unchanged since they were hashed: kept, not re-read.
    unchanged: Vec<LocationRow>,
    /// Regular files that are new or changed: to hash.
    to_hash: Vec<Job>,
    /// Symlinks that are new or changed: their target's content to learn.
    links: Vec<Job>,
    /// Every path still present (a catalogue row not in here is gone).
    seen: HashSet<String>,
    /// Directories the walk could not read: rows under them are not "gone".
    failed_dirs: Vec<String>,
    skipped: Vec<Skipped>,
    symlinks: u64,
}

/// The rows a scan will write, built from the plan and the hashes.
#[derive(Default)]
struct Registrations {
    files: Vec<(LocationRow, Option<Detection>)>,
    /// A link's row, its target's detection (when hashed now) and the target's name.
    links: Vec<(LocationRow, Option<Detection>, Option<String>)>,
    /// `--archive`: each content's object row and the link row that replaced the file.
    archived: Vec<(LocationRow, LocationRow)>,
    gone: Vec<String>,
    /// Coverage index entries of the contents hashed now.
    index: Vec<db::CoverageRow>,
}

/// The directory to scan, absolute; a missing one is "not found" (exit 1), as for
/// every other path a command is given.
fn scan_root(dir: &Path) -> Result<PathBuf> {
    let root = absolute(dir);
    let meta = fs::metadata(&root).map_err(|e| {
        let msg = format!("cannot scan `{}`: {e}", root.display());
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NotFound(msg)
        } else {
            Error::Usage(msg)
        }
    })?;
    if !meta.is_dir() {
        return Err(Error::Usage(format!(
            "`{}` is not a directory",
            root.display()
        )));
    }
    Ok(root)
}

pub fn run(ctx: &Ctx<'_>, opts: &ScanOptions) -> Result<ScanReport> {
    let root = scan_root(&opts.dir)?;
    let (_lock, mut cat) = ctx.write()?;
    // Invariant 8: the store is recognised by device and inode, however it is spelled;
    // its own directories are never scanned (archiving an object would replace it
    // with a link to itself) and their rows are never "gone" from a scan.
    let mut store = ctx.home.store_matcher();
    if store.holds(&root) {
        return Err(Error::Usage(format!(
            "`{}` is inside the kdb home's store ({}); kdb keeps it up to date itself",
            root.display(),
            ctx.home.root().display()
        )));
    }
    let root_str = path_str(&root)?;
    let known: HashMap<String, LocationRow> = cat
        .locations_under(&root_str)?
        .into_iter()
        .filter(|l| l.kind != LocationKind::Object && !store.holds(Path::new(&l.path)))
        .map(|l| (l.path.clone(), l))
        .collect();

    let mut plan = walk(&root, &ctx.home, &known)?;
    let mut report = ScanReport {
        root: root_str,
        unchanged: plan.unchanged.len() as u64,
        symlinks: plan.symlinks,
        skipped: std::mem::take(&mut plan.skipped),
        ..ScanReport::default()
    };
    let hashed = hash_files(ctx, &plan.to_hash);
    let mut regs = Registrations::default();
    // Content already hashed, by stat, so a link to a known file needs no re-hash.
    let mut by_stamp: HashMap<FileStamp, Sha256Hex> = known
        .values()
        .map(|l| (l.stamp, l.sha256.clone()))
        .collect();
    let now = db::now();
    let mission_of = |key: &str| {
        opts.mission
            .clone()
            .or_else(|| known.get(key).and_then(|r| r.mission.clone()))
    };
    for (job, result) in plan.to_hash.iter().zip(hashed) {
        let Some((sha, detection)) =
            settle(job, result, &mut plan.seen, &mut report, &mut regs.index)
        else {
            continue;
        };
        by_stamp.insert(job.stamp, sha.clone());
        let row = location_row(job, sha.clone(), mission_of(&job.key), now);
        regs.files.push((row, Some(detection)));
    }
    for job in &plan.links {
        let (sha, detection) = match by_stamp.get(&job.stamp) {
            Some(sha) => (sha.clone(), None),
            None => {
                let result = hash_candidate(&job.path, &job.name);
                let Some((sha, detection)) =
                    settle(job, result, &mut plan.seen, &mut report, &mut regs.index)
                else {
                    continue;
                };
                by_stamp.insert(job.stamp, sha.clone());
                (sha, Some(detection))
            }
        };
        let target_name = job
            .link
            .as_ref()
            .and_then(|l| l.file_name())
            .and_then(|n| n.to_str())
            .map(str::to_owned);
        let row = location_row(job, sha, mission_of(&job.key), now);
        regs.links.push((row, detection, target_name));
    }
    if opts.archive {
        archive(ctx, &cat, &plan, &mut regs, &mut report)?;
    }
    regs.gone = known
        .keys()
        .filter(|p| !plan.seen.contains(*p))
        .filter(|p| !plan.failed_dirs.iter().any(|d| p.starts_with(d.as_str())))
        .cloned()
        .collect();
    report.removed = regs.gone.len() as u64;
    commit(
        &mut cat,
        &known,
        &plan,
        &regs,
        opts.mission.as_deref(),
        &mut report,
    )?;
    Ok(report)
}

/// Walks `root` (never following links, skipping the home and temp entries) and
/// sorts every entry into unchanged / to hash / link, reading no file's bytes.
/// The home is skipped by device and inode, so a second spelling of it (a symlinked
/// parent, `..`, a bind mount) is skipped too; inside the home, only its store
/// directories are skipped when the walk starts inside the home.
fn walk(
    root: &Path,
    home: &crate::store::Home,
    known: &HashMap<String, LocationRow>,
) -> Result<ScanPlan> {
    let mut plan = ScanPlan::default();
    let mut skip: HashSet<crate::store::Identity> = home
        .store_dirs()
        .iter()
        .filter_map(|d| crate::store::Identity::of(d))
        .collect();
    let home_id = crate::store::Identity::of(home.root());
    let root_id = crate::store::Identity::of(root);
    if let Some(id) = home_id
        && !ctx_root_inside(root, home_id, root_id)
    {
        skip.insert(id);
    }
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if is_temp(e.file_name()) {
                return false;
            }
            if !e.file_type().is_dir() {
                return true;
            }
            use std::os::unix::fs::MetadataExt;
            !e.metadata().is_ok_and(|m| {
                skip.contains(&crate::store::Identity {
                    dev: m.dev(),
                    ino: m.ino(),
                })
            })
        });
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                plan.failed_dirs.push(path.clone());
                let why = e.io_error().map(|e| e.to_string()).unwrap_or_default();
                plan.skip(path, SkipReason::Unreadable(why));
                continue;
            }
        };
        let ft = entry.file_type();
        if ft.is_dir() {
            continue;
        }
        let path = entry.path().to_path_buf();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            plan.skip(path.display().to_string(), SkipReason::NameNotUtf8);
            continue;
        };
        let key = path_str(&path)?;
        if ft.is_symlink() {
            plan.add_link(path, key, name, known);
        } else if ft.is_file() {
            match entry.metadata() {
                Ok(meta) => plan.add_file(path, key, name, FileStamp::of(&meta), known),
                Err(e) => plan.skip(key, SkipReason::CannotStat(e.to_string())),
            }
        }
    }
    Ok(plan)
}

/// Whether the walk starts at the home or inside it (a user's directory kept in the
/// home): then only the store directories are skipped, not the home itself.
fn ctx_root_inside(
    root: &Path,
    home_id: Option<crate::store::Identity>,
    root_id: Option<crate::store::Identity>,
) -> bool {
    if home_id.is_none() {
        return false;
    }
    root_id == home_id
        || fs::canonicalize(root).is_ok_and(|c| {
            c.ancestors()
                .any(|a| crate::store::Identity::of(a) == home_id)
        })
}

impl ScanPlan {
    fn skip(&mut self, path: String, reason: SkipReason) {
        self.skipped.push(Skipped { path, reason });
    }

    fn add_link(
        &mut self,
        path: PathBuf,
        key: String,
        name: String,
        known: &HashMap<String, LocationRow>,
    ) {
        let target = match fs::metadata(&path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return, // a link to a directory: never followed
            Err(_) => {
                if kernel::KernelType::from_extension(&name).is_some() {
                    self.skip(key, SkipReason::DanglingSymlink);
                }
                return;
            }
        };
        let stamp = FileStamp::of(&target);
        let link = fs::read_link(&path).unwrap_or_default();
        self.seen.insert(key.clone());
        self.symlinks += 1;
        match known.get(&key) {
            Some(row)
                if row.kind == LocationKind::Symlink
                    && row.stamp == stamp
                    && row.link_target.as_deref() == link.to_str() =>
            {
                self.unchanged.push(row.clone());
            }
            _ => self.links.push(Job {
                path,
                key,
                name,
                link: Some(link),
                stamp,
            }),
        }
    }

    fn add_file(
        &mut self,
        path: PathBuf,
        key: String,
        name: String,
        stamp: FileStamp,
        known: &HashMap<String, LocationRow>,
    ) {
        match known.get(&key) {
            Some(row) if row.kind == LocationKind::File && row.stamp == stamp => {
                self.seen.insert(key);
                self.unchanged.push(row.clone());
            }
            _ => self.to_hash.push(Job {
                path,
                key,
                name,
                link: None,
                stamp,
            }),
        }
    }
}

/// Hashes regular files in parallel on all cores.
fn hash_files(ctx: &Ctx<'_>, jobs: &[Job]) -> Vec<Hashed> {
    let total: u64 = jobs.iter().map(|j| j.stamp.size).sum();
    ctx.reporter.start("hashing", jobs.len() as u64, total);
    let hashed = jobs
        .par_iter()
        .map(|job| {
            let out = hash_candidate(&job.path, &job.name);
            ctx.reporter.advance(1, job.stamp.size);
            out
        })
        .collect();
    ctx.reporter.finish();
    hashed
}

/// A hash result's verdict: a kernel's hash, or a skip recorded in the report (a
/// link that turned out not to be a kernel is no longer "seen").
fn settle(
    job: &Job,
    result: Hashed,
    seen: &mut HashSet<String>,
    report: &mut ScanReport,
    index: &mut Vec<db::CoverageRow>,
) -> Option<(Sha256Hex, Detection)> {
    let reason = match result {
        Hashed::Kernel {
            sha,
            size,
            detection,
            index: entry,
        } => {
            index.extend(entry);
            seen.insert(job.key.clone());
            report.hashed += 1;
            report.hashed_bytes += size;
            return Some((sha, detection));
        }
        Hashed::NotKernel(why) => Some(SkipReason::NotKernel(why)),
        Hashed::Unrelated => None,
        Hashed::Failed(reason) => Some(reason),
    };
    seen.remove(&job.key);
    if let Some(reason) = reason {
        report.skipped.push(Skipped {
            path: job.key.clone(),
            reason,
        });
    }
    None
}

/// The catalogue row of a walked file or link whose content is `sha`.
fn location_row(
    job: &Job,
    sha: Sha256Hex,
    mission: Option<String>,
    now: crate::content::Timestamp,
) -> LocationRow {
    let (kind, link_target) = match &job.link {
        Some(l) => (LocationKind::Symlink, l.to_str().map(str::to_owned)),
        None => (LocationKind::File, None),
    };
    LocationRow {
        path: job.key.clone(),
        filename: job.name.clone(),
        sha256: sha,
        mission,
        source_url: None,
        kind,
        link_target,
        stamp: job.stamp,
        hashed_at: now,
    }
}

/// `--archive`: each regular binary kernel file becomes a link to its object.
///
/// Text kernels (metakernels, frames, instrument and clock kernels...) are files
/// users edit: a link to a read-only object would turn the user's next edit into a
/// write into the store (issue 19), so they stay regular files. Archived contents are
/// pinned under `archived <root>`: the user's links point at their objects, so
/// `prune` keeps them even when the links' rows go (a directory briefly absent, a
/// `reset`) until the user `kdb unpin`s the label.
fn archive(
    ctx: &Ctx<'_>,
    cat: &db::Catalogue,
    plan: &ScanPlan,
    regs: &mut Registrations,
    report: &mut ScanReport,
) -> Result<()> {
    let binary_now: HashSet<&str> = regs
        .files
        .iter()
        .filter(|(_, d)| {
            matches!(
                d,
                Some(Detection::Kernel {
                    byte_order: Some(_),
                    ..
                })
            )
        })
        .map(|(r, _)| r.path.as_str())
        .collect();
    let mut candidates: Vec<LocationRow> = regs
        .files
        .iter()
        .filter(|(r, _)| binary_now.contains(r.path.as_str()))
        .map(|(r, _)| r.clone())
        .collect();
    for r in plan
        .unchanged
        .iter()
        .filter(|r| r.kind == LocationKind::File)
    {
        if cat
            .kernel(&r.sha256)?
            .is_some_and(|k| k.byte_order.is_some())
        {
            candidates.push(r.clone());
        }
    }
    let dirs: HashSet<PathBuf> = candidates
        .iter()
        .filter_map(|r| Path::new(&r.path).parent().map(Path::to_path_buf))
        .collect();
    ctx.home.journal_dirs(dirs.iter().map(PathBuf::as_path))?;
    ctx.reporter.start("archiving", candidates.len() as u64, 0);
    let mut store = ctx.home.store_matcher();
    for row in candidates {
        if store.holds(Path::new(&row.path)) {
            continue; // never replace a file of the store with a link (invariant 8)
        }
        match crate::store::archive::archive_one(&ctx.home, &row) {
            Ok(Some(rows)) => {
                report.archived += 1;
                regs.archived.push(rows);
            }
            Ok(None) => {}
            Err(reason) => report.skipped.push(Skipped {
                path: row.path.clone(),
                reason: SkipReason::Archive(reason),
            }),
        }
        ctx.reporter.advance(1, 0);
    }
    ctx.reporter.finish();
    Ok(())
}

/// The pin label under which `scan ROOT --archive` keeps its contents.
pub fn archive_label(root: &str) -> String {
    format!("archived {root}")
}

/// Records the scan in one transaction.
fn commit(
    cat: &mut db::Catalogue,
    known: &HashMap<String, LocationRow>,
    plan: &ScanPlan,
    regs: &Registrations,
    mission: Option<&str>,
    report: &mut ScanReport,
) -> Result<()> {
    cat.write(|tx| -> Result<()> {
        // Regular files first, so a real file's name becomes canonical before a link's.
        for (row, detection) in &regs.files {
            register_content(tx, row, detection.as_ref(), report)?;
            match known.get(&row.path) {
                None => report.new_locations += 1,
                Some(old) if old.sha256 != row.sha256 => report.changed += 1,
                Some(_) => {}
            }
            tx.upsert_location(row)?;
        }
        for (row, detection, target_name) in &regs.links {
            register_content(tx, row, detection.as_ref(), report)?;
            if let Some(t) = target_name
                && tx.insert_alias(&row.sha256, t, None)?
            {
                report.aliases_added += 1;
            }
            if !known.contains_key(&row.path) {
                report.new_locations += 1;
            }
            tx.upsert_location(row)?;
        }
        if let Some(m) = mission {
            for row in &plan.unchanged {
                if row.mission.as_deref() != Some(m) {
                    let mut row = row.clone();
                    row.mission = Some(m.to_owned());
                    tx.upsert_location(&row)?;
                }
            }
        }
        let label = archive_label(&report.root);
        for (object, link) in &regs.archived {
            tx.upsert_location(object)?;
            tx.upsert_location(link)?;
            tx.insert_pin(&label, &object.sha256, "archive")?;
        }
        for path in &regs.gone {
            tx.delete_location(path)?;
        }
        for entry in &regs.index {
            tx.upsert_coverage(entry)?;
        }
        Ok(())
    })
}

fn register_content(
    tx: &db::Tx<'_>,
    row: &LocationRow,
    detection: Option<&Detection>,
    report: &mut ScanReport,
) -> Result<()> {
    if let Some(Detection::Kernel {
        kernel_type,
        byte_order,
        ..
    }) = detection
        && tx.insert_kernel(&NewKernel {
            sha256: &row.sha256,
            filename: &row.filename,
            kernel_type: kernel_type.as_str(),
            byte_order: byte_order.map(|b| b.as_str()),
            size: row.stamp.size,
        })?
    {
        report.new_contents += 1;
    }
    if tx.insert_alias(&row.sha256, &row.filename, row.source_url.as_deref())? {
        report.aliases_added += 1;
    }
    Ok(())
}

/// Reads the head to classify, then hashes the whole stream (head included).
fn hash_candidate(path: &Path, name: &str) -> Hashed {
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return Hashed::Failed(SkipReason::CannotOpen(e.to_string())),
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut head = Vec::with_capacity(kernel::HEAD_LEN);
    if let Err(e) = (&mut file)
        .take(kernel::HEAD_LEN as u64)
        .read_to_end(&mut head)
    {
        return Hashed::Failed(SkipReason::CannotRead(e.to_string()));
    }
    let detection = kernel::detect(&head, name, size);
    match detection {
        Detection::Kernel { .. } => {}
        // An HTML page or LFS pointer under a name no kernel has (`index.html`) is
        // not kdb's business; under a kernel's name it is an impostor worth naming.
        Detection::NotKernel(_) if kernel::KernelType::from_extension(name).is_none() => {
            return Hashed::Unrelated;
        }
        Detection::NotKernel(r) => return Hashed::NotKernel(r),
        Detection::Unrelated => return Hashed::Unrelated,
    }
    let mut chained = head.as_slice().chain(file);
    match hash::hash_reader(&mut chained) {
        Ok((sha, size)) => Hashed::Kernel {
            index: indexable(&detection).then(|| crate::commands::index::index_file(path, &sha)),
            sha,
            size,
            detection,
        },
        Err(e) => Hashed::Failed(SkipReason::CannotRead(e.to_string())),
    }
}

/// Whether a detected kernel gets a coverage index entry (binary DAF/DAS kernels).
/// `KDB_NO_INDEX` turns indexing off (bench/coverage.sh measures what it costs; the
/// contents are then indexed on first use).
fn indexable(detection: &Detection) -> bool {
    std::env::var_os("KDB_NO_INDEX").is_none()
        && matches!(detection, Detection::Kernel { kernel_type, byte_order: Some(_), .. }
        if db::INDEXED_TYPES.contains(&kernel_type.as_str()))
}

fn is_temp(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n.starts_with(fsio::TEMP_PREFIX))
}

fn path_str(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::Usage(format!("path `{}` is not UTF-8", p.display())))
}
