//! The plan of a scan: walking the tree (what is unchanged, new or changed, without
//! reading a byte) and hashing the candidates in parallel, classifying each as a
//! kernel (with its coverage index entry), an impostor, or unrelated.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{ScanReport, SkipReason, Skipped, path_str};
use crate::commands::{Ctx, Result};
use crate::db::{self, LocationKind, LocationRow};
use crate::kernel::{self, Detection};
use crate::store::{FileStamp, Sha256Hex, fsio, hash};

/// One file to hash (or a symlink whose target must be hashed).
pub(super) struct Job {
    pub(super) path: PathBuf,
    pub(super) key: String,
    pub(super) name: String,
    pub(super) link: Option<PathBuf>,
    pub(super) stamp: FileStamp,
}

pub(super) enum Hashed {
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
pub(super) struct ScanPlan {
    /// Rows whose stat is unchanged since they were hashed: kept, not re-read.
    pub(super) unchanged: Vec<LocationRow>,
    /// Regular files that are new or changed: to hash.
    pub(super) to_hash: Vec<Job>,
    /// Symlinks that are new or changed: their target's content to learn.
    pub(super) links: Vec<Job>,
    /// Every path still present (a catalogue row not in here is gone).
    pub(super) seen: HashSet<String>,
    /// Directories the walk could not read: rows under them are not "gone".
    pub(super) failed_dirs: Vec<String>,
    pub(super) skipped: Vec<Skipped>,
    pub(super) symlinks: u64,
}

/// Walks `root` (never following links, skipping the home and temp entries) and
/// sorts every entry into unchanged / to hash / link, reading no file's bytes.
/// The home is skipped by device and inode, so a second spelling of it (a symlinked
/// parent, `..`, a bind mount) is skipped too; inside the home, only its store
/// directories are skipped when the walk starts inside the home.
pub(super) fn walk(
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
pub(super) fn hash_files(ctx: &Ctx<'_>, jobs: &[Job]) -> Vec<Hashed> {
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
pub(super) fn settle(
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
pub(super) fn location_row(
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

/// Reads the head to classify, then hashes the whole stream (head included).
pub(super) fn hash_candidate(path: &Path, name: &str) -> Hashed {
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
            index: indexable(&detection).then(|| crate::supply::index_file(path, &sha)),
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
pub(super) fn indexable(detection: &Detection) -> bool {
    std::env::var_os("KDB_NO_INDEX").is_none()
        && matches!(detection, Detection::Kernel { kernel_type, byte_order: Some(_), .. }
        if db::INDEXED_TYPES.contains(&kernel_type.as_str()))
}

pub(super) fn is_temp(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n.starts_with(fsio::TEMP_PREFIX))
}
