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
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Ctx, Error, Result, absolute};
use crate::db::{self, LocationKind, LocationRow, NewKernel};
use crate::kernel::Detection;
use crate::store::{FileStamp, Sha256Hex};

mod walk;

use walk::{ScanPlan, hash_candidate, hash_files, location_row, settle};

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

    let mut plan = walk::walk(&root, &ctx.home, &known)?;
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

fn path_str(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::Usage(format!("path `{}` is not UTF-8", p.display())))
}
