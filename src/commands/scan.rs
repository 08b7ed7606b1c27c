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

use super::{Ctx, Error, Result, absolute, recorded_stamp};
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
    pub reason: String,
}

/// One file to hash (or a symlink whose target must be hashed).
struct Job {
    path: PathBuf,
    name: String,
    link: Option<PathBuf>,
    stamp: FileStamp,
}

enum Hashed {
    Kernel {
        sha: Sha256Hex,
        size: u64,
        detection: Detection,
    },
    NotKernel(&'static str),
    Unrelated,
    Failed(String),
}

pub fn run(ctx: &Ctx<'_>, opts: &ScanOptions) -> Result<ScanReport> {
    let root = absolute(&opts.dir);
    let meta = fs::metadata(&root)
        .map_err(|e| Error::Usage(format!("cannot scan `{}`: {e}", root.display())))?;
    if !meta.is_dir() {
        return Err(Error::Usage(format!(
            "`{}` is not a directory",
            root.display()
        )));
    }
    let (_lock, mut cat) = ctx.write()?;
    let root_str = path_str(&root)?;
    let home_root = absolute(ctx.home.root());

    let known: HashMap<String, LocationRow> = cat
        .locations_under(&root_str)?
        .into_iter()
        .map(|l| (l.path.clone(), l))
        .collect();
    // Content already hashed, by stat, so a link to a known file needs no re-hash.
    let mut by_stamp: HashMap<FileStamp, String> = known
        .values()
        .map(|l| (recorded_stamp(l), l.sha256.clone()))
        .collect();

    let mut report = ScanReport {
        root: root_str.clone(),
        ..ScanReport::default()
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut failed_dirs: Vec<String> = Vec::new();
    let mut file_jobs = Vec::new();
    let mut link_jobs = Vec::new();
    let mut unchanged_rows: Vec<LocationRow> = Vec::new();

    let walker = walkdir::WalkDir::new(&root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.path() != home_root && !is_temp(e.file_name()));
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                failed_dirs.push(path.clone());
                report.skipped.push(Skipped {
                    path,
                    reason: format!(
                        "unreadable: {}",
                        e.io_error().map(|e| e.to_string()).unwrap_or_default()
                    ),
                });
                continue;
            }
        };
        let ft = entry.file_type();
        if ft.is_dir() {
            continue;
        }
        let path = entry.path().to_path_buf();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            report.skipped.push(Skipped {
                path: path.display().to_string(),
                reason: "file name is not UTF-8".into(),
            });
            continue;
        };
        let key = path_str(&path)?;
        if ft.is_symlink() {
            let target = match fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                Ok(_) => continue, // a link to a directory: never followed
                Err(_) => {
                    if kernel::KernelType::from_extension(&name).is_some() {
                        report.skipped.push(Skipped {
                            path: key,
                            reason: "dangling symlink".into(),
                        });
                    }
                    continue;
                }
            };
            let stamp = FileStamp::of(&target);
            let link = fs::read_link(&path).unwrap_or_default();
            seen.insert(key.clone());
            report.symlinks += 1;
            match known.get(&key) {
                Some(row)
                    if row.kind == LocationKind::Symlink
                        && recorded_stamp(row) == stamp
                        && row.link_target.as_deref() == link.to_str() =>
                {
                    report.unchanged += 1;
                    unchanged_rows.push(row.clone());
                }
                _ => link_jobs.push(Job {
                    path,
                    name,
                    link: Some(link),
                    stamp,
                }),
            }
        } else if ft.is_file() {
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) => {
                    report.skipped.push(Skipped {
                        path: key,
                        reason: format!("cannot stat: {e}"),
                    });
                    continue;
                }
            };
            let stamp = FileStamp::of(&meta);
            match known.get(&key) {
                Some(row) if row.kind == LocationKind::File && recorded_stamp(row) == stamp => {
                    seen.insert(key);
                    report.unchanged += 1;
                    unchanged_rows.push(row.clone());
                }
                _ => file_jobs.push(Job {
                    path,
                    name,
                    link: None,
                    stamp,
                }),
            }
        }
    }

    // Hash regular files in parallel on all cores.
    let total: u64 = file_jobs.iter().map(|j| j.stamp.size).sum();
    ctx.reporter.start("hashing", file_jobs.len() as u64, total);
    let hashed: Vec<Hashed> = file_jobs
        .par_iter()
        .map(|job| {
            let out = hash_candidate(&job.path, &job.name);
            ctx.reporter.advance(1, job.stamp.size);
            out
        })
        .collect();
    ctx.reporter.finish();

    let now = db::now();
    let mission = opts.mission.clone();
    let mut new_rows: Vec<(LocationRow, Option<Detection>)> = Vec::new();
    for (job, result) in file_jobs.iter().zip(hashed) {
        let key = path_str(&job.path)?;
        match result {
            Hashed::Kernel {
                sha,
                size,
                detection,
            } => {
                seen.insert(key.clone());
                report.hashed += 1;
                report.hashed_bytes += size;
                by_stamp.insert(job.stamp, sha.to_string());
                let row = LocationRow {
                    path: key.clone(),
                    filename: job.name.clone(),
                    sha256: sha.to_string(),
                    mission: mission
                        .clone()
                        .or_else(|| known.get(&key).and_then(|r| r.mission.clone())),
                    source_url: None,
                    kind: LocationKind::File,
                    link_target: None,
                    dev: job.stamp.dev,
                    ino: job.stamp.ino,
                    size: job.stamp.size,
                    mtime_ns: job.stamp.mtime_ns,
                    hashed_at: now.clone(),
                };
                new_rows.push((row, Some(detection)));
            }
            Hashed::NotKernel(reason) => report.skipped.push(Skipped {
                path: key,
                reason: format!("not a kernel: {reason}"),
            }),
            Hashed::Unrelated => {}
            Hashed::Failed(reason) => report.skipped.push(Skipped { path: key, reason }),
        }
    }

    // Links: their target's content, reusing a hash when the target's stat is known.
    let mut link_rows = Vec::new();
    for job in &link_jobs {
        let key = path_str(&job.path)?;
        let (sha, detection) = match by_stamp.get(&job.stamp) {
            Some(sha) => (sha.clone(), None),
            None => match hash_candidate(&job.path, &job.name) {
                Hashed::Kernel {
                    sha,
                    size,
                    detection,
                } => {
                    report.hashed += 1;
                    report.hashed_bytes += size;
                    by_stamp.insert(job.stamp, sha.to_string());
                    (sha.to_string(), Some(detection))
                }
                Hashed::NotKernel(reason) => {
                    seen.remove(&key);
                    report.skipped.push(Skipped {
                        path: key,
                        reason: format!("not a kernel: {reason}"),
                    });
                    continue;
                }
                Hashed::Unrelated => {
                    seen.remove(&key);
                    continue;
                }
                Hashed::Failed(reason) => {
                    seen.remove(&key);
                    report.skipped.push(Skipped { path: key, reason });
                    continue;
                }
            },
        };
        let target_name = job
            .link
            .as_ref()
            .and_then(|l| l.file_name())
            .and_then(|n| n.to_str())
            .map(str::to_owned);
        let row = LocationRow {
            path: key.clone(),
            filename: job.name.clone(),
            sha256: sha,
            mission: mission
                .clone()
                .or_else(|| known.get(&key).and_then(|r| r.mission.clone())),
            source_url: None,
            kind: LocationKind::Symlink,
            link_target: job
                .link
                .as_ref()
                .and_then(|l| l.to_str())
                .map(str::to_owned),
            dev: job.stamp.dev,
            ino: job.stamp.ino,
            size: job.stamp.size,
            mtime_ns: job.stamp.mtime_ns,
            hashed_at: now.clone(),
        };
        link_rows.push((row, detection, target_name));
    }

    // --archive: each regular kernel file becomes a link to its object.
    let mut archived_rows = Vec::new();
    if opts.archive {
        let candidates: Vec<LocationRow> = unchanged_rows
            .iter()
            .filter(|r| r.kind == LocationKind::File)
            .cloned()
            .chain(new_rows.iter().map(|(r, _)| r.clone()))
            .collect();
        let dirs: HashSet<PathBuf> = candidates
            .iter()
            .filter_map(|r| Path::new(&r.path).parent().map(Path::to_path_buf))
            .collect();
        ctx.home.journal_dirs(dirs.iter().map(PathBuf::as_path))?;
        ctx.reporter.start("archiving", candidates.len() as u64, 0);
        for row in candidates {
            match archive_one(ctx, &row) {
                Ok(Some(rows)) => {
                    report.archived += 1;
                    archived_rows.push(rows);
                }
                Ok(None) => {}
                Err(reason) => report.skipped.push(Skipped {
                    path: row.path.clone(),
                    reason,
                }),
            }
            ctx.reporter.advance(1, 0);
        }
        ctx.reporter.finish();
    }

    let gone: Vec<String> = known
        .keys()
        .filter(|p| !seen.contains(*p))
        .filter(|p| !failed_dirs.iter().any(|d| p.starts_with(d.as_str())))
        .cloned()
        .collect();
    report.removed = gone.len() as u64;

    cat.write(|tx| -> Result<()> {
        // Regular files first, so a real file's name becomes canonical before a link's.
        for (row, detection) in &new_rows {
            register_content(tx, row, detection.as_ref(), &mut report)?;
            match known.get(&row.path) {
                None => report.new_locations += 1,
                Some(old) if old.sha256 != row.sha256 => report.changed += 1,
                Some(_) => {}
            }
            tx.upsert_location(row)?;
        }
        for (row, detection, target_name) in &link_rows {
            register_content(tx, row, detection.as_ref(), &mut report)?;
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
        if let Some(m) = &mission {
            for row in &unchanged_rows {
                if row.mission.as_deref() != Some(m.as_str()) {
                    let mut row = row.clone();
                    row.mission = Some(m.clone());
                    tx.upsert_location(&row)?;
                }
            }
        }
        for (object, link) in &archived_rows {
            tx.upsert_location(object)?;
            tx.upsert_location(link)?;
        }
        for path in &gone {
            tx.delete_location(path)?;
        }
        Ok(())
    })?;
    Ok(report)
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
            size: row.size,
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
        Err(e) => return Hashed::Failed(format!("cannot open: {e}")),
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut head = Vec::with_capacity(kernel::HEAD_LEN);
    if let Err(e) = (&mut file)
        .take(kernel::HEAD_LEN as u64)
        .read_to_end(&mut head)
    {
        return Hashed::Failed(format!("cannot read: {e}"));
    }
    let detection = kernel::detect(&head, name, size);
    match detection {
        Detection::Kernel { .. } => {}
        Detection::NotKernel(r) => return Hashed::NotKernel(r),
        Detection::Unrelated => return Hashed::Unrelated,
    }
    let mut chained = head.as_slice().chain(file);
    match hash::hash_reader(&mut chained) {
        Ok((sha, size)) => Hashed::Kernel {
            sha,
            size,
            detection,
        },
        Err(e) => Hashed::Failed(format!("cannot read: {e}")),
    }
}

/// Moves one regular file's content into the store and leaves a symlink in its place.
/// Returns the object's and the link's new rows, `None` when there is nothing to do.
fn archive_one(
    ctx: &Ctx<'_>,
    row: &LocationRow,
) -> std::result::Result<Option<(LocationRow, LocationRow)>, String> {
    let sha = Sha256Hex::parse(&row.sha256).ok_or("bad hash in catalogue")?;
    let object = ctx.home.object_path(&sha);
    let path = Path::new(&row.path);
    let err = |e: crate::store::Error| format!("cannot archive: {}", crate::error_chain(&e));
    fsio::create_dir_all(object.parent().unwrap_or(Path::new("."))).map_err(err)?;
    if fs::symlink_metadata(&object).is_err() {
        // Hard link the file into tmp/ (same filesystem as objects/), verify the bytes
        // still hash to what was scanned, then rename to the content-derived name.
        let staged = stage_copy_or_link(ctx, path, &row.filename).map_err(err)?;
        staged
            .verify(&row.filename, Some(row.size), Some(&sha))
            .map_err(err)?;
        staged.persist_if_absent(&object, true).map_err(err)?;
    } else {
        let (actual, _) =
            hash::hash_file(&object).map_err(|e| format!("cannot read object: {e}"))?;
        if actual != sha {
            return Err(format!(
                "object `{}` does not hash to its name; run `kdb verify`",
                object.display()
            ));
        }
    }
    // The original bytes must still be what we scanned before we drop them.
    let (actual, _) = hash::hash_file(path).map_err(|e| format!("cannot read: {e}"))?;
    if actual != sha {
        return Err("changed since it was hashed; rescan".into());
    }
    fsio::replace_with_symlink(path, &object).map_err(err)?;
    let object_meta = fs::metadata(&object).map_err(|e| format!("cannot stat object: {e}"))?;
    let stamp = FileStamp::of(&object_meta);
    let object_str = object
        .to_str()
        .ok_or("object path is not UTF-8")?
        .to_owned();
    let object_row = super::object_row(&object, sha.as_str(), stamp, None, db::now());
    let link_row = LocationRow {
        kind: LocationKind::Symlink,
        link_target: Some(object_str),
        dev: stamp.dev,
        ino: stamp.ino,
        size: stamp.size,
        mtime_ns: stamp.mtime_ns,
        ..row.clone()
    };
    Ok(Some((object_row, link_row)))
}

/// A staged copy of `path` in `$KDB_HOME/tmp`: a hard link when on the same filesystem
/// (no bytes copied), otherwise a streamed, hashed copy.
fn stage_copy_or_link(
    ctx: &Ctx<'_>,
    path: &Path,
    name: &str,
) -> Result<fsio::Staged, crate::store::Error> {
    if let Some(staged) = fsio::stage_hardlink(path, &ctx.home.tmp())? {
        return Ok(staged);
    }
    let mut file = fs::File::open(path).map_err(|e| crate::store::Error::io("open", path, e))?;
    tracing::debug!(name, "different filesystem: copying into the store");
    fsio::stage(&ctx.home.tmp(), &mut file, &mut |_| {})
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
