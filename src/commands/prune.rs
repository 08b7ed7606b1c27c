//! `kdb prune` (mark and sweep), `kdb pin` / `unpin` / `pins`, and
//! `kdb metakernels --remove`. `prune` is the only command that deletes kernels.
//!
//! Protocol: `prune` holds the exclusive home lock from the first catalogue read
//! (mark) to the last unlink (sweep). `get`, `update`, `scan` and `dedup` hold the
//! same lock from their planning to their commit, so none of them can decide that
//! a content is present while `prune` is removing it: a `get` that runs after a
//! prune re-plans from the catalogue and the disk as the prune left them.
//!
//! What is live and what may go is the store's garbage collector ([`crate::store::gc`]:
//! roots, sweep, strays, the re-check before each unlink); this command reads each
//! registered metakernel's entries (a metakernel whose `.tm` cannot be read aborts
//! the prune: its roots are unknown), and carries out the removals.
//!
//! Order: the catalogue rows are deleted in one transaction *before* any file is
//! unlinked, so the catalogue never points at missing bytes; a kill in between
//! leaves unreferenced files, which the next prune removes.
//!
//! Bytes freed are counted per inode, once, and only for inodes whose every link
//! was removed (`st_nlink` names, all of them in the sweep).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::verify::metakernel_entries;
use super::{Ctx, Error, Result};
use crate::db::Catalogue;
use crate::store::gc::{self, Owned, Reason};
pub use crate::store::gc::{Removal, Roots};
use crate::store::{Sha256Hex, fsio};

#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    pub roots: Roots,
    pub removed: Vec<Removal>,
    /// Catalogue rows removed (or that would be).
    pub rows: usize,
    /// Bytes whose every link is removed, counted once per inode.
    pub bytes_freed: u64,
    /// Files in the object store the catalogue does not know, kept (see `--remove-strays`).
    pub strays: Vec<Removal>,
    /// A user's locations that are missing together with their directory: kept.
    pub vanished: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    pub execute: bool,
    pub keep_versions: usize,
    /// Also delete the strays (store files the catalogue does not know).
    pub remove_strays: bool,
}

pub fn run(ctx: &Ctx<'_>, opts: &PruneOptions) -> Result<PruneReport> {
    let (_lock, mut cat) = ctx.write()?;
    let rows = cat.all_locations()?;
    let owned = Owned::of(&ctx.home, &rows);
    let entries = registered_entries(&cat)?;
    let (live, mut roots) = gc::mark(&ctx.home, &cat, &rows, &owned, &entries)?;
    let live = gc::keep_versions(&cat, &rows, live, opts.keep_versions, &mut roots)?;
    roots.contents = live.len();
    let mut plan = gc::plan_sweep(&ctx.home, &cat, &rows, &owned, &live)?;
    if opts.remove_strays {
        plan.removals.append(&mut plan.strays);
        plan.expect.append(&mut plan.stray_expect);
    }
    let bytes_freed = gc::freed(&plan.removals);
    let mut report = PruneReport {
        dry_run: !opts.execute,
        roots,
        rows: plan.row_paths.len(),
        removed: plan.removals,
        bytes_freed,
        strays: plan.strays,
        vanished: plan.vanished,
    };
    if !opts.execute {
        return Ok(report);
    }
    // Rows first (one transaction), files second.
    cat.write(|tx| -> Result<()> {
        for p in &plan.row_paths {
            tx.delete_location(p)?;
        }
        for p in &plan.removed_mks {
            tx.forget_removed_metakernel(p)?;
        }
        Ok(())
    })?;
    let mut dirs = fsio::DirSyncs::default();
    let mut removed = Vec::with_capacity(report.removed.len());
    for (r, expect) in report.removed.drain(..).zip(&plan.expect) {
        if r.reason != Reason::Gone {
            let path = Path::new(&r.path);
            // Still what kdb made, where kdb keeps it? Otherwise leave it alone.
            if let Err(why) = gc::still_ours(&ctx.home, path, expect) {
                ctx.reporter.warn(&format!("kept `{}`: {why}", r.path));
                continue;
            }
            fsio::remove_entry(path)?;
            dirs.add(path);
        }
        removed.push(r);
    }
    report.removed = removed;
    dirs.sync()?;
    report.bytes_freed = bytes_freed;
    Ok(report)
}

/// Each registered metakernel's entries as local paths: the roots `get` laid out. A
/// metakernel whose `.tm` cannot be read aborts the prune (its roots are unknown).
fn registered_entries(cat: &Catalogue) -> Result<Vec<Vec<PathBuf>>> {
    cat.metakernels()?
        .iter()
        .map(|m| {
            metakernel_entries(m).map_err(|e| {
                Error::Usage(format!(
                    "cannot read the kernels of metakernel {} (`{}`): {}; nothing pruned \
                     (run `kdb get --force {}` or `kdb metakernels --remove {}`)",
                    m.name,
                    m.local_path,
                    crate::error_chain(&e),
                    m.source_url,
                    m.name
                ))
            })
        })
        .collect()
}

// ---------------------------------------------------------------- pins

#[derive(Debug, Clone, Serialize)]
pub struct PinReport {
    pub label: String,
    pub kind: String,
    pub contents: usize,
    pub newly_pinned: usize,
}

/// Pins a registered metakernel's kernels, or a kernel (exact file name or a SHA-256
/// prefix of at least 6 hex digits).
/// A lockfile argument (`*.lock`, an existing file) and its pin label: the lock's
/// absolute path, so `pin` and `unpin` agree however the path was spelled.
fn lock_label(target: &str) -> Option<String> {
    let path = Path::new(target);
    (target.ends_with(".lock") && path.is_file())
        .then(|| super::absolute(path).display().to_string())
}

/// The contents a lockfile pins: its kernels (and the served metakernel) that the
/// store holds; a locked content the store lacks is an error naming it.
fn lock_contents(cat: &Catalogue, path: &str) -> Result<Vec<Sha256Hex>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read lockfile `{path}`: {e}")))?;
    let lock = crate::lockfile::parse(path, &text)?;
    let mut shas = Vec::new();
    for k in &lock.kernels {
        if cat.kernel(&k.sha256)?.is_none() {
            return Err(Error::NotFound(format!(
                "`{}` (sha256 {}) of lock `{path}` is not held; run `kdb restore {path}` first",
                k.name, k.sha256
            )));
        }
        shas.push(k.sha256.clone());
    }
    if cat.kernel(&lock.metakernel.sha256)?.is_some() {
        shas.push(lock.metakernel.sha256.clone());
    }
    Ok(shas)
}

pub fn pin(ctx: &Ctx<'_>, target: &str) -> Result<PinReport> {
    let (_lock, mut cat) = ctx.write()?;
    if let Some(label) = lock_label(target) {
        // A registered lock is a prune root: its bytes stay while it is pinned.
        let mut unique = lock_contents(&cat, &label)?;
        unique.sort();
        unique.dedup();
        let newly = cat.write(|tx| -> Result<usize> {
            let mut n = 0;
            for s in &unique {
                n += usize::from(tx.insert_pin(&label, s, "metakernel")?);
            }
            Ok(n)
        })?;
        return Ok(PinReport {
            label,
            kind: "lock".to_owned(),
            contents: unique.len(),
            newly_pinned: newly,
        });
    }
    let mks = match super::mk::find_registered(&cat, target) {
        Ok(m) => vec![m],
        Err(Error::NotFound(_)) => Vec::new(),
        Err(e) => return Err(e),
    };
    let (kind, shas) = if !mks.is_empty() {
        let by_path: HashMap<String, Sha256Hex> = cat
            .all_locations()?
            .into_iter()
            .map(|r| (r.path, r.sha256))
            .collect();
        let mut shas = Vec::new();
        for m in &mks {
            for p in metakernel_entries(m)? {
                let key = p.display().to_string();
                match by_path
                    .get(&key)
                    .cloned()
                    .or_else(|| gc::object_behind(&ctx.home, &p))
                {
                    Some(s) => shas.push(s),
                    None => {
                        return Err(Error::NotFound(format!(
                            "entry `{key}` of metakernel {} is not held; run `kdb get {}` first",
                            m.name, m.source_url
                        )));
                    }
                }
            }
        }
        ("metakernel", shas)
    } else {
        ("kernel", kernel_contents(&cat, target)?)
    };
    let mut unique: Vec<Sha256Hex> = shas;
    unique.sort();
    unique.dedup();
    let newly = cat.write(|tx| -> Result<usize> {
        let mut n = 0;
        for s in &unique {
            n += usize::from(tx.insert_pin(target, s, kind)?);
        }
        Ok(n)
    })?;
    Ok(PinReport {
        label: target.to_owned(),
        kind: kind.to_owned(),
        contents: unique.len(),
        newly_pinned: newly,
    })
}

fn kernel_contents(cat: &Catalogue, target: &str) -> Result<Vec<Sha256Hex>> {
    let named = cat.kernels_named(target)?;
    if !named.is_empty() {
        return Ok(named);
    }
    if target.len() >= 6 && target.bytes().all(|b| b.is_ascii_hexdigit()) {
        let found = cat.kernels_by_prefix(&target.to_ascii_lowercase(), 2)?;
        match found.len() {
            1 => return Ok(found),
            0 => {}
            _ => {
                return Err(Error::Usage(format!(
                    "`{target}` is the prefix of several contents; give more digits"
                )));
            }
        }
    }
    Err(Error::NotFound(format!(
        "`{target}` is neither a registered metakernel nor a known kernel name or hash"
    )))
}

/// Removes every pin under `label`; returns how many contents it covered.
pub fn unpin(ctx: &Ctx<'_>, label: &str) -> Result<usize> {
    let label = lock_label(label).unwrap_or_else(|| label.to_owned());
    let label = label.as_str();
    let (_lock, mut cat) = ctx.write()?;
    let n = cat.write(|tx| -> Result<usize> { Ok(tx.delete_pins(label)?) })?;
    if n == 0 {
        return Err(Error::NotFound(format!(
            "nothing is pinned as `{label}` (see `kdb pins`)"
        )));
    }
    Ok(n)
}

pub fn pins(ctx: &Ctx<'_>) -> Result<Vec<crate::db::integrity::PinRow>> {
    Ok(ctx.read()?.pins()?)
}

/// `metakernels --remove NAME`: the metakernel whose name (or source URL) is exactly
/// `key` is unregistered; its kernels stay until `prune`.
pub fn remove_metakernel(ctx: &Ctx<'_>, key: &str) -> Result<crate::db::MetakernelRow> {
    let (_lock, mut cat) = ctx.write()?;
    let found = cat.metakernels_exactly(key)?;
    let m = match found.as_slice() {
        [m] => m.clone(),
        [] => {
            return Err(Error::NotFound(format!(
                "no registered metakernel named exactly `{key}` (see `kdb metakernels`)"
            )));
        }
        several => return Err(super::mk::ambiguous_metakernel(key, several)),
    };
    cat.write(|tx| -> Result<()> { Ok(tx.remove_metakernel(&m)?) })?;
    Ok(m)
}
