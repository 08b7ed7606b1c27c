//! `kdb prune` (mark and sweep), `kdb pin` / `unpin` / `pins`, and
//! `kdb metakernels --remove`. `prune` is the only command that deletes kernels.
//!
//! Protocol: `prune` holds the exclusive home lock from the first catalogue read
//! (mark) to the last unlink (sweep). `get`, `update`, `scan` and `dedup` hold the
//! same lock from their planning to their commit, so none of them can decide that
//! a content is present while `prune` is removing it: a `get` that runs after a
//! prune re-plans from the catalogue and the disk as the prune left them.
//!
//! Roots (marked contents): the kernels of every registered metakernel (its local
//! `.tm`'s entries, resolved through the mission tree), every pinned content, and
//! every content registered by `scan` at a location outside the home. A metakernel
//! whose `.tm` cannot be read aborts the prune (its roots are unknown).
//!
//! Sweep (under the home only; kdb never deletes a file outside its home):
//! - catalogue rows whose file is gone (confirmed by a second `lstat`);
//! - mission-tree entries whose content is not marked, and links that point at
//!   nothing;
//! - objects whose content is not marked, and files in the object store the
//!   catalogue does not know;
//! - the local `.tm` of metakernels removed with `metakernels --remove`.
//!
//! Order: the catalogue rows are deleted in one transaction *before* any file is
//! unlinked, so the catalogue never points at missing bytes; a kill in between
//! leaves unreferenced files, which the next prune removes.
//!
//! Bytes freed are counted per inode, once, and only for inodes whose every link
//! was removed (`st_nlink` names, all of them in the sweep).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::verify::metakernel_entries;
use super::{Ctx, Error, Result};
use crate::db::{Catalogue, LocationKind, LocationRow};
use crate::store::{Home, Sha256Hex, fsio};

report_status! {
    /// Why an entry is removed.
    pub enum Reason {
        /// The catalogue row's file is gone; only the row is removed.
        Gone => "gone",
        /// A mission-tree entry whose content no root needs.
        Unreferenced => "unreferenced",
        /// A link whose target does not exist.
        DanglingLink => "dangling_link",
        /// An object no root references.
        UnreferencedObject => "unreferenced_object",
        /// A file in the object store the catalogue does not know.
        Stray => "stray",
        /// The local `.tm` of a removed metakernel.
        RemovedMetakernel => "removed_metakernel",
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Removal {
    pub path: String,
    pub sha256: Option<Sha256Hex>,
    pub reason: Reason,
    /// Bytes of the file (0 for links and rows only).
    pub size: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Roots {
    pub metakernels: usize,
    pub pinned: usize,
    pub outside_home: usize,
    /// Distinct contents marked live.
    pub contents: usize,
    /// Superseded contents kept by `--keep-versions`.
    pub kept_versions: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    pub roots: Roots,
    pub removed: Vec<Removal>,
    /// Catalogue rows removed (or that would be).
    pub rows: usize,
    /// Bytes whose every link is removed, counted once per inode.
    pub bytes_freed: u64,
}

#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    pub execute: bool,
    pub keep_versions: usize,
}

pub fn run(ctx: &Ctx<'_>, opts: &PruneOptions) -> Result<PruneReport> {
    let (_lock, mut cat) = ctx.write()?;
    let rows = cat.all_locations()?;
    let (live, mut roots) = mark(ctx, &cat, &rows)?;
    let live = keep_versions(&cat, &rows, live, opts.keep_versions, &mut roots)?;
    roots.contents = live.len();
    let mut plan = plan_sweep(&ctx.home, &cat, &rows, &live)?;
    spare_registered_metakernels(&cat, &mut plan)?;
    let bytes_freed = freed(&plan.removals);
    let mut report = PruneReport {
        dry_run: !opts.execute,
        roots,
        rows: plan.row_paths.len(),
        removed: plan.removals,
        bytes_freed,
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
    for r in &report.removed {
        if r.reason == Reason::Gone {
            continue;
        }
        let path = Path::new(&r.path);
        // Never outside the home, whatever a row says.
        if !path.starts_with(ctx.home.root()) {
            continue;
        }
        fsio::remove_entry(path)?;
        dirs.add(path);
    }
    dirs.sync()?;
    report.bytes_freed = bytes_freed;
    Ok(report)
}

/// The marked contents: registered metakernels' kernels, pins, scans outside the home.
fn mark(
    ctx: &Ctx<'_>,
    cat: &Catalogue,
    rows: &[LocationRow],
) -> Result<(HashSet<Sha256Hex>, Roots)> {
    let mut live = HashSet::new();
    let mut roots = Roots::default();
    let by_path: HashMap<&str, &LocationRow> = rows.iter().map(|r| (r.path.as_str(), r)).collect();
    for m in cat.metakernels()? {
        roots.metakernels += 1;
        let entries = metakernel_entries(&m).map_err(|e| {
            Error::Usage(format!(
                "cannot read the kernels of metakernel {} (`{}`): {}; nothing pruned \
                 (run `kdb get --force {}` or `kdb metakernels --remove {}`)",
                m.name,
                m.local_path,
                crate::error_chain(&e),
                m.source_url,
                m.name
            ))
        })?;
        for path in entries {
            let key = path.display().to_string();
            if let Some(row) = by_path.get(key.as_str()) {
                live.insert(row.sha256.clone());
            } else if let Some(sha) = object_behind(&ctx.home, &path) {
                // An entry the catalogue does not record: keep what it links to.
                live.insert(sha);
            }
        }
    }
    for pin in cat.pins()? {
        roots.pinned += 1;
        live.insert(pin.sha256);
    }
    for r in rows {
        if !Path::new(&r.path).starts_with(ctx.home.root()) {
            roots.outside_home += 1;
            live.insert(r.sha256.clone());
        }
    }
    Ok((live, roots))
}

/// The content a path links to, when its target is a store object.
fn object_behind(home: &Home, path: &Path) -> Option<Sha256Hex> {
    let target = fs::canonicalize(path).ok()?;
    let objects = fs::canonicalize(home.objects()).ok()?;
    if !target.starts_with(&objects) {
        return None;
    }
    Sha256Hex::parse(target.file_name()?.to_str()?)
}

/// `--keep-versions N`: of unmarked contents known under a file name that a live
/// content also carries (an older version of a kernel a metakernel now loads in a
/// newer version), keep the newest `n` per name (by first seen).
fn keep_versions(
    cat: &Catalogue,
    rows: &[LocationRow],
    mut live: HashSet<Sha256Hex>,
    n: usize,
    roots: &mut Roots,
) -> Result<HashSet<Sha256Hex>> {
    if n == 0 {
        return Ok(live);
    }
    let held: HashSet<&Sha256Hex> = rows.iter().map(|r| &r.sha256).collect();
    let kernels: HashMap<Sha256Hex, crate::content::Timestamp> = cat
        .all_kernels()?
        .into_iter()
        .map(|k| (k.sha256, k.first_seen))
        .collect();
    let mut by_name: BTreeMap<String, Vec<Sha256Hex>> = BTreeMap::new();
    let mut live_names = HashSet::new();
    for sha in held {
        for alias in cat.aliases_of(sha)? {
            if live.contains(sha) {
                live_names.insert(alias.filename);
            } else {
                by_name.entry(alias.filename).or_default().push(sha.clone());
            }
        }
    }
    let mut keep = HashSet::new();
    for (name, mut shas) in by_name {
        if !live_names.contains(&name) {
            continue;
        }
        shas.sort_by(|a, b| kernels.get(b).cmp(&kernels.get(a)).then(b.cmp(a)));
        keep.extend(shas.into_iter().take(n));
    }
    roots.kept_versions = keep.len();
    live.extend(keep);
    Ok(live)
}

struct SweepPlan {
    removals: Vec<Removal>,
    /// Catalogue rows to delete.
    row_paths: Vec<String>,
    /// `removed_metakernels` rows to forget.
    removed_mks: Vec<String>,
}

fn plan_sweep(
    home: &Home,
    cat: &Catalogue,
    rows: &[LocationRow],
    live: &HashSet<Sha256Hex>,
) -> Result<SweepPlan> {
    let mut plan = SweepPlan {
        removals: Vec::new(),
        row_paths: Vec::new(),
        removed_mks: Vec::new(),
    };
    let in_home = |p: &Path| p.starts_with(home.root());
    for r in rows {
        let path = Path::new(&r.path);
        let reason = match fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Confirm: a second look, so a transient error is never taken for "gone".
                if fs::symlink_metadata(path).is_ok() {
                    continue;
                }
                Some(Reason::Gone)
            }
            Err(_) => None,
            Ok(_) if !in_home(path) => None,
            Ok(m) if m.file_type().is_symlink() && fs::metadata(path).is_err() => {
                Some(Reason::DanglingLink)
            }
            Ok(_) if live.contains(&r.sha256) => None,
            Ok(_) if r.kind == LocationKind::Object => Some(Reason::UnreferencedObject),
            Ok(_) => Some(Reason::Unreferenced),
        };
        if let Some(reason) = reason {
            plan.row_paths.push(r.path.clone());
            plan.removals
                .push(removal(path, Some(r.sha256.clone()), reason));
        }
    }
    sweep_untracked(home, rows, live, &mut plan);
    let registered: HashSet<String> = cat
        .metakernels()?
        .into_iter()
        .map(|m| m.local_path)
        .collect();
    for m in cat.removed_metakernels()? {
        plan.removed_mks.push(m.local_path.clone());
        let path = Path::new(&m.local_path);
        if !registered.contains(&m.local_path)
            && in_home(path)
            && fs::symlink_metadata(path).is_ok()
        {
            plan.removals
                .push(removal(path, None, Reason::RemovedMetakernel));
        }
    }
    Ok(plan)
}

/// A registered metakernel's own `.tm` is never removed, whatever a location row
/// says of that path (a row recorded there as a kernel is still forgotten).
fn spare_registered_metakernels(cat: &Catalogue, plan: &mut SweepPlan) -> Result<()> {
    let registered: HashSet<String> = cat
        .metakernels()?
        .into_iter()
        .map(|m| m.local_path)
        .collect();
    plan.removals.retain(|r| !registered.contains(&r.path));
    Ok(())
}

/// Files in the object store no row names, and dangling links in the mission trees
/// no row names (a killed `get` may leave both).
fn sweep_untracked(
    home: &Home,
    rows: &[LocationRow],
    live: &HashSet<Sha256Hex>,
    plan: &mut SweepPlan,
) {
    let known: HashSet<&str> = rows.iter().map(|r| r.path.as_str()).collect();
    let walk = |dir: PathBuf| {
        walkdir::WalkDir::new(dir)
            .min_depth(1)
            .follow_links(false)
            .into_iter()
            .flatten()
            .filter(|e| !e.file_type().is_dir())
    };
    for e in walk(home.objects()) {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if known.contains(p.to_str().unwrap_or("")) || name.starts_with(fsio::TEMP_PREFIX) {
            continue;
        }
        let sha = Sha256Hex::parse(name);
        if sha.as_ref().is_some_and(|s| live.contains(s)) {
            continue; // a live content's object the catalogue lost track of: keep it
        }
        plan.removals.push(removal(p, sha, Reason::Stray));
    }
    for e in walk(home.missions()) {
        let p = e.path();
        if !e.file_type().is_symlink() || known.contains(p.to_str().unwrap_or("")) {
            continue;
        }
        // A link no row records (its row went with a prune or a get killed midway):
        // removed when it dangles, or when the object it names is not live.
        if fs::metadata(p).is_err() {
            plan.removals.push(removal(p, None, Reason::DanglingLink));
        } else if let Some(sha) = object_behind(home, p)
            && !live.contains(&sha)
        {
            plan.removals
                .push(removal(p, Some(sha), Reason::Unreferenced));
        }
    }
}

fn removal(path: &Path, sha256: Option<Sha256Hex>, reason: Reason) -> Removal {
    let size = match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() && reason != Reason::Gone => m.len(),
        _ => 0,
    };
    Removal {
        path: path.display().to_string(),
        sha256,
        reason,
        size,
    }
}

/// Bytes of the inodes whose every name is removed, once per inode.
fn freed(removals: &[Removal]) -> u64 {
    let mut inodes: HashMap<(u64, u64), (u64, u64, u64)> = HashMap::new();
    let mut seen = HashSet::new();
    for r in removals {
        if r.reason == Reason::Gone || !seen.insert(r.path.as_str()) {
            continue;
        }
        if let Ok(m) = fs::symlink_metadata(&r.path)
            && m.is_file()
        {
            let e = inodes
                .entry((m.dev(), m.ino()))
                .or_insert((m.nlink(), m.len(), 0));
            e.2 += 1;
        }
    }
    inodes
        .values()
        .filter(|(nlink, _, removed)| removed >= nlink)
        .map(|(_, size, _)| size)
        .sum()
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
    let mks = cat.metakernels_exactly(target)?;
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
                    .or_else(|| object_behind(&ctx.home, &p))
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
        several => {
            let urls: Vec<&str> = several.iter().map(|m| m.source_url.as_str()).collect();
            return Err(Error::Usage(format!(
                "several metakernels are named `{key}`; remove one by its source URL: {}",
                urls.join(", ")
            )));
        }
    };
    cat.write(|tx| -> Result<()> { Ok(tx.remove_metakernel(&m)?) })?;
    Ok(m)
}
