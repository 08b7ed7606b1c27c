//! `kdb reindex --store`: re-register every object of the store by its hash, and the
//! mission-tree links that point at them — the way back after `kdb reset` or a lost
//! catalogue (issues 19 and 20: `reset` must not turn the store into strays).
//!
//! An object is adopted only after its bytes are hashed and found equal to its name
//! (invariant 10); one that is not is set aside in `quarantine/`. Every adopted
//! object is pinned under [`PIN_LABEL`]: a user's archived link may point at it and
//! its row is gone with the old catalogue, so `prune` must not reclaim it until the
//! user says so (`kdb unpin 'reindex --store'`). A link in
//! `missions/<M>/` that names an object gives the content its file name, an alias and a
//! location in mission `M`. What a catalogue also held and the store cannot tell —
//! source URLs, registered metakernels, pins — is not invented: `kdb get` of a
//! metakernel re-registers it without downloading what is already held.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::{Ctx, Result};
use crate::db::{self, LocationKind, LocationRow, NewKernel};
use crate::kernel::{self, Detection};
use crate::store::{FileStamp, Sha256Hex, fsio, hash};

/// The pin label of what `reindex --store` adopts.
pub const PIN_LABEL: &str = "reindex --store";

#[derive(Debug, Default, Serialize)]
pub struct AdoptReport {
    /// Files found in the object store.
    pub objects: u64,
    /// Objects registered by this run.
    pub adopted: u64,
    /// Objects the catalogue already knew (same path and stat).
    pub known: u64,
    /// Objects whose bytes did not hash to their name, moved to `quarantine/`.
    pub quarantined: Vec<String>,
    /// Files in the store that are not kernels (kept, not registered).
    pub not_kernels: Vec<String>,
    /// Mission-tree links registered.
    pub links: u64,
}

/// A verified object: its content, its stat and what it is.
struct Verified {
    path: PathBuf,
    sha: Sha256Hex,
    stamp: FileStamp,
    detection: Detection,
}

enum Checked {
    Ok(Verified),
    Mismatch(PathBuf),
    NotKernel(PathBuf),
    Unreadable,
}

/// Hashes and classifies every object of `todo` in parallel, with progress.
fn check_all(ctx: &Ctx<'_>, todo: &[(PathBuf, Sha256Hex)], links: &Links) -> Vec<Checked> {
    ctx.reporter
        .start("hashing the store", todo.len() as u64, 0);
    let checked = todo
        .par_iter()
        .map(|(path, sha)| {
            let name = links
                .get(sha)
                .and_then(|l| l.first())
                .map(|(_, n, _)| n.as_str());
            let out = check(path, sha, name.unwrap_or(sha.as_str()));
            ctx.reporter.advance(1, 0);
            out
        })
        .collect();
    ctx.reporter.finish();
    checked
}

pub fn run(ctx: &Ctx<'_>) -> Result<AdoptReport> {
    let (_lock, mut cat) = ctx.write()?;
    let known: HashMap<String, LocationRow> = cat
        .all_locations()?
        .into_iter()
        .filter(|r| r.kind == LocationKind::Object)
        .map(|r| (r.path.clone(), r))
        .collect();
    let links = mission_links(ctx);
    let mut report = AdoptReport::default();
    let files = object_files(&ctx.home.objects());
    report.objects = files.len() as u64;
    let todo: Vec<(PathBuf, Sha256Hex)> = files
        .into_iter()
        .filter(|(p, _)| {
            let fresh = known.get(p.to_str().unwrap_or("")).is_none_or(|row| {
                fs::metadata(p).map(|m| FileStamp::of(&m)).ok() != Some(row.stamp)
            });
            report.known += u64::from(!fresh);
            fresh
        })
        .collect();
    let checked = check_all(ctx, &todo, &links);
    let mut verified = Vec::new();
    for c in checked {
        match c {
            Checked::Ok(v) => verified.push(v),
            Checked::Mismatch(p) => {
                let aside = ctx.home.quarantine_file(&p)?;
                report.quarantined.push(aside.display().to_string());
            }
            Checked::NotKernel(p) => report.not_kernels.push(p.display().to_string()),
            Checked::Unreadable => {}
        }
    }
    let index: Vec<db::CoverageRow> = verified
        .par_iter()
        .filter(|v| {
            matches!(
                v.detection,
                Detection::Kernel {
                    byte_order: Some(_),
                    ..
                }
            )
        })
        .map(|v| crate::supply::index_file(&v.path, &v.sha))
        .collect();
    let now = db::now();
    cat.write(|tx| -> Result<()> {
        for v in &verified {
            let names = links.get(&v.sha);
            let name = names
                .and_then(|l| l.first())
                .map_or(v.sha.as_str(), |(_, n, _)| n.as_str());
            if let Detection::Kernel {
                kernel_type,
                byte_order,
                ..
            } = &v.detection
            {
                tx.insert_kernel(&NewKernel {
                    sha256: &v.sha,
                    filename: name,
                    kernel_type: kernel_type.as_str(),
                    byte_order: byte_order.map(|b| b.as_str()),
                    size: v.stamp.size,
                })?;
            }
            tx.upsert_location(&LocationRow::object(&v.path, &v.sha, v.stamp, None, now))?;
            tx.insert_pin(PIN_LABEL, &v.sha, "kernel")?;
            report.adopted += 1;
            for (link, filename, mission) in names.map(Vec::as_slice).unwrap_or_default() {
                tx.insert_alias(&v.sha, filename, None)?;
                tx.upsert_location(&LocationRow {
                    path: link.display().to_string(),
                    filename: filename.clone(),
                    sha256: v.sha.clone(),
                    mission: Some(mission.clone()),
                    source_url: None,
                    kind: LocationKind::Symlink,
                    link_target: Some(v.path.display().to_string()),
                    stamp: v.stamp,
                    hashed_at: now,
                })?;
                report.links += 1;
            }
        }
        for r in &index {
            tx.upsert_coverage(r)?;
        }
        Ok(())
    })?;
    Ok(report)
}

/// `objects/sha256/<xx>/<sha>` files (links and temp entries left out), by name.
fn object_files(objects: &Path) -> Vec<(PathBuf, Sha256Hex)> {
    walkdir::WalkDir::new(objects)
        .min_depth(2)
        .max_depth(2)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            !e.file_name()
                .to_string_lossy()
                .starts_with(fsio::TEMP_PREFIX)
        })
        .filter_map(|e| {
            let sha = Sha256Hex::parse(e.file_name().to_str()?)?;
            Some((e.path().to_path_buf(), sha))
        })
        .collect()
}

/// Links in `missions/<M>/...` whose target is an object: (link, its name, M) by content.
type Links = HashMap<Sha256Hex, Vec<(PathBuf, String, String)>>;

/// The [`Links`] of the home.
fn mission_links(ctx: &Ctx<'_>) -> Links {
    let missions = ctx.home.missions();
    let objects = ctx.home.objects();
    let mut out: BTreeMap<Sha256Hex, Vec<(PathBuf, String, String)>> = BTreeMap::new();
    for e in walkdir::WalkDir::new(&missions)
        .min_depth(2)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_type().is_symlink())
    {
        let Ok(target) = fs::read_link(e.path()) else {
            continue;
        };
        let (Some(sha), Some(name), Some(mission)) = (
            target
                .strip_prefix(&objects)
                .ok()
                .and_then(|t| t.file_name())
                .and_then(|n| n.to_str())
                .and_then(Sha256Hex::parse),
            e.file_name().to_str(),
            e.path()
                .strip_prefix(&missions)
                .ok()
                .and_then(|r| r.components().next())
                .and_then(|c| c.as_os_str().to_str()),
        ) else {
            continue;
        };
        out.entry(sha).or_default().push((
            e.path().to_path_buf(),
            name.to_owned(),
            mission.to_owned(),
        ));
    }
    out.into_iter().collect()
}

/// Hashes an object and classifies it by content (and the name it was published under).
fn check(path: &Path, sha: &Sha256Hex, name: &str) -> Checked {
    let Ok(mut file) = fs::File::open(path) else {
        return Checked::Unreadable;
    };
    let Ok(meta) = file.metadata() else {
        return Checked::Unreadable;
    };
    let mut head = Vec::with_capacity(kernel::HEAD_LEN);
    if (&mut file)
        .take(kernel::HEAD_LEN as u64)
        .read_to_end(&mut head)
        .is_err()
    {
        return Checked::Unreadable;
    }
    let Ok((actual, _)) = hash::hash_reader(&mut head.as_slice().chain(file)) else {
        return Checked::Unreadable;
    };
    if &actual != sha {
        return Checked::Mismatch(path.to_path_buf());
    }
    let detection = kernel::detect(&head, name, meta.len());
    if !matches!(detection, Detection::Kernel { .. }) {
        return Checked::NotKernel(path.to_path_buf());
    }
    Checked::Ok(Verified {
        path: path.to_path_buf(),
        sha: sha.clone(),
        stamp: FileStamp::of(&meta),
        detection,
    })
}
