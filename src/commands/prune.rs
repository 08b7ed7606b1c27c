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
//! `.tm`'s entries, resolved through the mission tree), every pinned content (`scan
//! --archive` pins what it archives: the user's links point at those objects), and
//! every content at a user's location (registered by `scan`, outside the home or
//! inside it but outside kdb's own `objects/` and `missions/`). A metakernel whose
//! `.tm` cannot be read aborts the prune (its roots are unknown).
//!
//! Sweep (invariant 9: kdb deletes only what kdb made, and only while it is still
//! what kdb made):
//! - catalogue rows whose file is gone (confirmed by a second `lstat`); a user's
//!   location whose directory is gone too (an unplugged disk, a renamed directory)
//!   has *vanished*, not been deleted: its row stays;
//! - mission-tree entries kdb laid out whose content is not marked, and links that
//!   point at nothing;
//! - objects whose content is not marked;
//! - the local `.tm` of metakernels removed with `metakernels --remove` (never the
//!   file of a metakernel still registered).
//!
//! Files in the object store the catalogue does not know (a `reset`, a killed run)
//! are *strays*: listed and kept — a user's archived link may point at one — and
//! removed only with `--remove-strays`. A user's file, wherever it is, is never
//! deleted. Before each unlink the entry is checked again against its row: it lies
//! inside kdb's directories with no link on the way, and it is still of the recorded
//! kind, inode and link target.
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
    /// A user's files inside the home but outside kdb's `objects/` and `missions/`.
    pub user_files_in_home: usize,
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
    let (live, mut roots) = mark(ctx, &cat, &rows, &owned)?;
    let live = keep_versions(&cat, &rows, live, opts.keep_versions, &mut roots)?;
    roots.contents = live.len();
    let mut plan = plan_sweep(&ctx.home, &cat, &rows, &owned, &live)?;
    if opts.remove_strays {
        plan.removals.append(&mut plan.strays);
        plan.expect.append(&mut plan.stray_expect);
    }
    let bytes_freed = freed(&plan.removals);
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
            if let Err(why) = still_ours(&ctx.home, path, expect) {
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

/// Which catalogue rows name entries kdb made (objects in `objects/`, links and
/// copies `get` laid out in `missions/`), as opposed to a user's locations.
struct Owned {
    paths: HashSet<String>,
}

impl Owned {
    fn of(home: &Home, rows: &[LocationRow]) -> Owned {
        let objects = home.root().join("objects");
        let missions = home.missions();
        let paths = rows
            .iter()
            .filter(|r| {
                let p = Path::new(&r.path);
                match r.kind {
                    LocationKind::Object => p.starts_with(&objects),
                    // `get` records where it fetched the bytes; `scan` records none. A
                    // link in missions/ to an object is kdb's too (`reindex --store`).
                    LocationKind::Symlink => {
                        p.starts_with(&missions)
                            && (r.source_url.is_some()
                                || r.link_target
                                    .as_deref()
                                    .is_some_and(|t| Path::new(t).starts_with(&objects)))
                    }
                    LocationKind::File => p.starts_with(&missions) && r.source_url.is_some(),
                }
            })
            .map(|r| r.path.clone())
            .collect();
        Owned { paths }
    }

    fn contains(&self, row: &LocationRow) -> bool {
        self.paths.contains(&row.path)
    }
}

/// What an entry must still be for prune to unlink it.
#[derive(Clone, Debug)]
enum Expect {
    /// A regular file with this (device, inode).
    File { dev: u64, ino: u64 },
    /// A symlink with this target (or any target when the row recorded none).
    Link(Option<PathBuf>),
    /// A store file no row knows (a stray) or an untracked mission link: its kind as
    /// seen when planning.
    Kind { link: bool },
}

/// Checks, just before unlinking, that `path` lies inside kdb's own directories
/// (lexically, with no symlink between the home root and it) and is still what the
/// row said. Returns why not.
fn still_ours(home: &Home, path: &Path, expect: &Expect) -> std::result::Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let inside = home.store_dirs().iter().any(|d| path.starts_with(d));
    if !inside {
        return Err("not inside kdb's objects/ or missions/".into());
    }
    let rel = path
        .strip_prefix(home.root())
        .map_err(|_| "outside the home")?;
    let mut cur = home.root().to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for c in &parts[..parts.len().saturating_sub(1)] {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(format!("`{}` is not a real directory", cur.display())),
            Err(e) => return Err(format!("cannot stat `{}`: {e}", cur.display())),
        }
    }
    let meta = fs::symlink_metadata(path).map_err(|e| format!("cannot stat: {e}"))?;
    let is_link = meta.file_type().is_symlink();
    match expect {
        Expect::File { dev, ino } => {
            if is_link || !meta.is_file() || meta.dev() != *dev || meta.ino() != *ino {
                return Err(
                    "it is no longer the file kdb recorded (edited or replaced by hand?)".into(),
                );
            }
        }
        Expect::Link(target) => {
            if !is_link {
                return Err("the link kdb recorded was replaced by a file".into());
            }
            if let Some(t) = target
                && fs::read_link(path).ok().as_deref() != Some(t.as_path())
            {
                return Err("the link now points elsewhere".into());
            }
        }
        Expect::Kind { link } => {
            if is_link != *link || (!is_link && !meta.is_file()) {
                return Err("it changed kind since the plan".into());
            }
        }
    }
    Ok(())
}

fn expect_row(r: &LocationRow) -> Expect {
    match r.kind {
        LocationKind::Symlink => Expect::Link(r.link_target.as_ref().map(PathBuf::from)),
        LocationKind::File | LocationKind::Object => {
            let (dev, ino) = (r.stamp.dev, r.stamp.ino);
            Expect::File { dev, ino }
        }
    }
}

/// The marked contents: registered metakernels' kernels, pins, scans outside the home.
fn mark(
    ctx: &Ctx<'_>,
    cat: &Catalogue,
    rows: &[LocationRow],
    owned: &Owned,
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
    // A user's location keeps its content: its archived link may point at the object.
    for r in rows.iter().filter(|r| !owned.contains(r)) {
        if Path::new(&r.path).starts_with(ctx.home.root()) {
            roots.user_files_in_home += 1;
        } else {
            roots.outside_home += 1;
        }
        live.insert(r.sha256.clone());
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
    /// What each removal's entry must still be when it is unlinked (same order).
    expect: Vec<Expect>,
    /// Catalogue rows to delete.
    row_paths: Vec<String>,
    /// `removed_metakernels` rows to forget.
    removed_mks: Vec<String>,
    strays: Vec<Removal>,
    stray_expect: Vec<Expect>,
    vanished: Vec<String>,
}

impl SweepPlan {
    fn remove(&mut self, removal: Removal, expect: Expect) {
        self.removals.push(removal);
        self.expect.push(expect);
    }
}

fn plan_sweep(
    home: &Home,
    cat: &Catalogue,
    rows: &[LocationRow],
    owned: &Owned,
    live: &HashSet<Sha256Hex>,
) -> Result<SweepPlan> {
    let mut plan = SweepPlan {
        removals: Vec::new(),
        expect: Vec::new(),
        row_paths: Vec::new(),
        removed_mks: Vec::new(),
        strays: Vec::new(),
        stray_expect: Vec::new(),
        vanished: Vec::new(),
    };
    let registered: HashSet<String> = cat
        .metakernels()?
        .into_iter()
        .map(|m| m.local_path)
        .collect();
    for r in rows {
        let path = Path::new(&r.path);
        let ours = owned.contains(r);
        let reason = match fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Confirm: a second look, so a transient error is never taken for "gone".
                if fs::symlink_metadata(path).is_ok() {
                    continue;
                }
                if !ours && !path.parent().is_some_and(Path::is_dir) {
                    // Its directory is gone too: an unplugged disk, not a deletion.
                    plan.vanished.push(r.path.clone());
                    continue;
                }
                Some(Reason::Gone)
            }
            Err(_) => None,
            Ok(_) if !ours || registered.contains(&r.path) => None,
            Ok(m) if m.file_type().is_symlink() && fs::metadata(path).is_err() => {
                Some(Reason::DanglingLink)
            }
            Ok(_) if live.contains(&r.sha256) => None,
            Ok(_) if r.kind == LocationKind::Object => Some(Reason::UnreferencedObject),
            Ok(_) => Some(Reason::Unreferenced),
        };
        if let Some(reason) = reason {
            plan.row_paths.push(r.path.clone());
            plan.remove(removal(path, Some(r.sha256.clone()), reason), expect_row(r));
        }
    }
    sweep_untracked(home, rows, live, &registered, &mut plan);
    for m in cat.removed_metakernels()? {
        plan.removed_mks.push(m.local_path.clone());
        let path = Path::new(&m.local_path);
        if !registered.contains(&m.local_path)
            && path.starts_with(home.missions())
            && let Ok(meta) = fs::symlink_metadata(path)
        {
            let expect = Expect::Kind {
                link: meta.file_type().is_symlink(),
            };
            plan.remove(removal(path, None, Reason::RemovedMetakernel), expect);
        }
    }
    Ok(plan)
}

/// Files in the object store no row names (strays: listed, kept), and links in the
/// mission trees no row names (a killed `get` may leave both).
fn sweep_untracked(
    home: &Home,
    rows: &[LocationRow],
    live: &HashSet<Sha256Hex>,
    registered: &HashSet<String>,
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
        plan.strays.push(removal(p, sha, Reason::Stray));
        plan.stray_expect.push(Expect::Kind {
            link: e.file_type().is_symlink(),
        });
    }
    for e in walk(home.missions()) {
        let p = e.path();
        let key = p.to_str().unwrap_or("");
        if !e.file_type().is_symlink() || known.contains(key) || registered.contains(key) {
            continue;
        }
        // A link no row records (its row went with a prune or a get killed midway):
        // removed when it dangles, or when the object it names is not live.
        let expect = Expect::Kind { link: true };
        if fs::metadata(p).is_err() {
            plan.remove(removal(p, None, Reason::DanglingLink), expect);
        } else if let Some(sha) = object_behind(home, p)
            && !live.contains(&sha)
        {
            plan.remove(removal(p, Some(sha), Reason::Unreferenced), expect);
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
        several => return Err(super::mk::ambiguous_metakernel(key, several)),
    };
    cat.write(|tx| -> Result<()> { Ok(tx.remove_metakernel(&m)?) })?;
    Ok(m)
}
