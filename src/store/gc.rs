//! The store's garbage collector: which contents are live (mark) and which entries
//! kdb may delete (sweep), for `kdb prune` (`commands/prune.rs`, the command, holds
//! the home lock, reads each metakernel's entries and carries out the removals).
//!
//! Roots (marked contents): the kernels of every registered metakernel, every pinned
//! content, and every content at a user's location (outside kdb's `objects/` and
//! `missions/`, wherever it is). The sweep lists catalogue rows whose file is gone
//! (confirmed by a second `lstat`; a user's location whose directory is gone too has
//! *vanished* and stays), mission-tree entries and objects no root needs, links that
//! point at nothing, and the local `.tm` of removed metakernels. Store files the
//! catalogue does not know are *strays*: listed, kept. [`still_ours`] re-checks an
//! entry just before it is unlinked (invariant 9: kdb deletes only what kdb made, and
//! only while it is still what kdb made).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Home, Sha256Hex, fsio};
use crate::db::{self, Catalogue, LocationKind, LocationRow};

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

/// Which catalogue rows name entries kdb made (objects in `objects/`, links and
/// copies `get` laid out in `missions/`), as opposed to a user's locations.
pub struct Owned {
    paths: HashSet<String>,
}

impl Owned {
    pub fn of(home: &Home, rows: &[LocationRow]) -> Owned {
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
pub enum Expect {
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
pub fn still_ours(home: &Home, path: &Path, expect: &Expect) -> std::result::Result<(), String> {
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
/// Marks the live contents. `entries` holds each registered metakernel's entries as
/// local paths (read by the caller: a metakernel whose `.tm` cannot be read aborts
/// the prune, since its roots are unknown).
pub fn mark(
    home: &Home,
    cat: &Catalogue,
    rows: &[LocationRow],
    owned: &Owned,
    entries: &[Vec<PathBuf>],
) -> Result<(HashSet<Sha256Hex>, Roots), db::Error> {
    let mut live = HashSet::new();
    let mut roots = Roots::default();
    let by_path: HashMap<&str, &LocationRow> = rows.iter().map(|r| (r.path.as_str(), r)).collect();
    for paths in entries {
        roots.metakernels += 1;
        for path in paths {
            let key = path.display().to_string();
            if let Some(row) = by_path.get(key.as_str()) {
                live.insert(row.sha256.clone());
            } else if let Some(sha) = object_behind(home, path) {
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
        if Path::new(&r.path).starts_with(home.root()) {
            roots.user_files_in_home += 1;
        } else {
            roots.outside_home += 1;
        }
        live.insert(r.sha256.clone());
    }
    Ok((live, roots))
}

/// The content a path links to, when its target is a store object.
pub fn object_behind(home: &Home, path: &Path) -> Option<Sha256Hex> {
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
pub fn keep_versions(
    cat: &Catalogue,
    rows: &[LocationRow],
    mut live: HashSet<Sha256Hex>,
    n: usize,
    roots: &mut Roots,
) -> Result<HashSet<Sha256Hex>, db::Error> {
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

pub struct SweepPlan {
    pub removals: Vec<Removal>,
    /// What each removal's entry must still be when it is unlinked (same order).
    pub expect: Vec<Expect>,
    /// Catalogue rows to delete.
    pub row_paths: Vec<String>,
    /// `removed_metakernels` rows to forget.
    pub removed_mks: Vec<String>,
    pub strays: Vec<Removal>,
    pub stray_expect: Vec<Expect>,
    pub vanished: Vec<String>,
}

impl SweepPlan {
    fn remove(&mut self, removal: Removal, expect: Expect) {
        self.removals.push(removal);
        self.expect.push(expect);
    }
}

pub fn plan_sweep(
    home: &Home,
    cat: &Catalogue,
    rows: &[LocationRow],
    owned: &Owned,
    live: &HashSet<Sha256Hex>,
) -> Result<SweepPlan, db::Error> {
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
pub fn freed(removals: &[Removal]) -> u64 {
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
