//! The on-disk side of kdb: the home layout, the content-addressed object store, the
//! write chokepoint, links, the cross-process lock and the crash sweep.
//!
//! Layout under `$KDB_HOME`:
//!
//! ```text
//! kdb.sqlite                  the catalogue (see `db`)
//! objects/sha256/ab/abcd...   each distinct content once, mode 0444, never modified
//! tmp/                        staging (same filesystem as objects/)
//! tmp/journal                 directories outside tmp/ that may hold temp entries
//! missions/<MISSION>/...      per-mission trees of links to objects
//! quarantine/                 objects whose bytes were not their name (kept, never deleted)
//! .lock                       cross-process lock
//! ```
//!
//! Invariants owned here (DESIGN.md §3): no function opens an existing kernel path for
//! writing (see [`fsio`]); an object is only ever created by renaming fully written,
//! verified, fsynced bytes to its content-derived name; a temp entry left by a killed
//! process is removed by the [`Home::sweep`] that every mutating command runs first.

pub mod archive;
pub mod dedup;
pub mod fsio;
pub mod gc;
pub mod hash;
pub mod lock;
pub mod netfs;
pub mod object;
pub mod safe_path;

use std::fs;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::content::{FileStamp, Sha256Hex};
pub use lock::HomeLock;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to {action} `{path}`")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("length mismatch for `{name}`: expected {expected} bytes, got {actual}")]
    LengthMismatch {
        name: String,
        expected: u64,
        actual: u64,
    },
    #[error("hash mismatch for `{name}`: expected {expected}, got {actual}")]
    HashMismatch {
        name: String,
        expected: String,
        actual: String,
    },
    #[error(
        "timed out after {seconds} s waiting for the lock on `{path}` (another kdb is running; \
         raise KDB_LOCK_TIMEOUT or stop the other process)"
    )]
    LockTimeout { path: PathBuf, seconds: u64 },
    #[error(transparent)]
    Path(#[from] safe_path::PathError),
    #[error(transparent)]
    NetworkHome(#[from] netfs::NetworkHome),
    /// A directory kdb writes into or deletes from is a symlink (invariant 8): writing
    /// or unlinking through it would land outside the home.
    #[error(
        "`{path}` inside the kdb home is a symbolic link; kdb never writes or deletes \
         through a link (replace it with a real directory, e.g. move the home to the other \
         disk and point KDB_HOME at it)"
    )]
    LinkInHome { path: PathBuf },
}

impl Error {
    pub fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The paths of one kdb home. Pure: constructing it touches nothing.
#[derive(Clone, Debug)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Home { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn catalogue(&self) -> PathBuf {
        self.root.join("kdb.sqlite")
    }

    pub fn objects(&self) -> PathBuf {
        self.root.join("objects").join("sha256")
    }

    /// Resumable partial downloads (`tmp/partial/`), swept like `tmp/`.
    pub fn partial_dir(&self) -> PathBuf {
        self.tmp().join("partial")
    }

    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn missions(&self) -> PathBuf {
        self.root.join("missions")
    }

    /// Where objects whose bytes are not their name are moved ([`quarantine`]).
    pub fn quarantine(&self) -> PathBuf {
        self.root.join("quarantine")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.root.join(".lock")
    }

    fn journal(&self) -> PathBuf {
        self.tmp().join("journal")
    }

    /// The only way to turn a content hash into a store path.
    pub fn object_path(&self, sha: &Sha256Hex) -> PathBuf {
        self.objects().join(&sha.as_str()[..2]).join(sha.as_str())
    }

    /// Creates the directories a mutating command needs, then checks that none of the
    /// directories kdb writes into or deletes from is a link ([`Home::check_layout`]).
    pub fn create(&self) -> Result<(), Error> {
        self.create_dir(&self.objects())?;
        self.create_dir(&self.tmp())?;
        self.check_layout()
    }

    /// Refuses a home whose `objects/`, `objects/sha256/`, an object shard, `tmp/`,
    /// `tmp/partial/`, `missions/` or a `missions/<M>/` is a symlink (invariant 8): kdb
    /// would otherwise write objects, temp files or mission trees into, or prune
    /// them out of, whatever directory the link names. Costs one `readdir` of the
    /// shard and mission directories (the entry type comes with the name).
    pub fn check_layout(&self) -> Result<(), Error> {
        let fixed = [
            self.root.join("objects"),
            self.objects(),
            self.tmp(),
            self.partial_dir(),
            self.missions(),
            self.quarantine(),
        ];
        for dir in &fixed {
            refuse_link(dir)?;
        }
        for parent in [self.objects(), self.missions()] {
            let Ok(entries) = fs::read_dir(&parent) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_symlink()) {
                    return Err(Error::LinkInHome { path: entry.path() });
                }
            }
        }
        Ok(())
    }

    /// Creates `dir` (and its missing parents) when it lies lexically inside the home,
    /// refusing when an existing component below the home root is a symlink: a
    /// directory kdb creates inside its home is always a real directory of the home.
    /// A `dir` outside the home is created as asked (the user's chosen output).
    pub fn create_dir(&self, dir: &Path) -> Result<(), Error> {
        if let Ok(rest) = dir.strip_prefix(&self.root) {
            let mut cur = self.root.clone();
            for c in rest.components() {
                cur.push(c);
                refuse_link(&cur)?;
            }
        }
        fsio::create_dir_all(dir)
    }

    /// Sets a store file whose bytes are not what its name says aside in
    /// `quarantine/` (kept for the user to inspect, never deleted by kdb).
    pub fn quarantine_file(&self, path: &Path) -> Result<PathBuf, Error> {
        self.create_dir(&self.quarantine())?;
        quarantine(self, path)
    }

    /// A matcher that tells whether paths lie inside this home however they are
    /// spelled (invariant 8).
    pub fn matcher(&self) -> HomeMatcher {
        HomeMatcher::new(vec![self.root.clone()])
    }

    /// A matcher for the directories kdb owns outright: `objects/`, `missions/`,
    /// `tmp/` and `quarantine/` (a user may keep other files inside the home).
    pub fn store_matcher(&self) -> HomeMatcher {
        HomeMatcher::new(self.store_dirs().to_vec())
    }

    /// The directories kdb owns outright (see [`Home::store_matcher`]).
    pub fn store_dirs(&self) -> [PathBuf; 4] {
        [
            self.root.join("objects"),
            self.missions(),
            self.tmp(),
            self.quarantine(),
        ]
    }

    /// Takes the exclusive home lock (creating the home first).
    pub fn lock(
        &self,
        timeout: Duration,
        on_wait: &mut dyn FnMut(&Path),
    ) -> Result<HomeLock, Error> {
        fsio::create_dir_all(&self.root)?;
        lock::acquire(&self.lock_file(), timeout, on_wait)
    }

    /// Records, durably, that temp entries may appear in `dirs` (outside `tmp/`), so a
    /// sweep after a crash knows where to look. Call before creating them.
    pub fn journal_dirs<'a>(&self, dirs: impl IntoIterator<Item = &'a Path>) -> Result<(), Error> {
        let path = self.journal();
        let mut text = String::new();
        for dir in dirs {
            if let Some(s) = dir.to_str() {
                text.push_str(s);
                text.push('\n');
            }
        }
        if text.is_empty() {
            return Ok(());
        }
        fsio::append_journal(&path, text.as_bytes())
    }

    /// Removes temp entries left by a killed process: `.kdb-tmp-*` entries in `tmp/`,
    /// `tmp/partial/` and every journalled directory. Objects are only ever renamed in
    /// from `tmp/`, so the object shards never hold temp entries and are not read. Must run under the home lock. Returns how many were removed.
    pub fn sweep(&self) -> Result<usize, Error> {
        let mut removed = 0;
        let journal = self.journal();
        if let Ok(file) = fs::File::open(&journal) {
            let mut dirs: Vec<PathBuf> = io::BufReader::new(file)
                .lines()
                .map_while(Result::ok)
                .filter(|l| !l.is_empty())
                .map(PathBuf::from)
                .collect();
            dirs.sort();
            dirs.dedup();
            for dir in dirs {
                removed += sweep_dir(&dir)?;
            }
            fsio::remove_entry(&journal)?;
        }
        removed += sweep_dir(&self.tmp())?;
        removed += sweep_dir(&self.partial_dir())?;
        // The home root itself holds files written atomically (`.home-path`).
        removed += sweep_dir(&self.root)?;
        Ok(removed)
    }
}

/// A directory's identity: device and inode, the same however the path is spelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
}

impl Identity {
    /// The identity of what `path` names (following links), if it exists.
    pub fn of(path: &Path) -> Option<Identity> {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(path).ok().map(|m| Identity {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

/// Tells whether a path is the home or lies inside it: by the spelling kdb was given,
/// or because its directory is (by device and inode) the home or inside it — a home
/// reached through a symlink, `..` or a bind mount is still the home. The entry
/// itself is not followed: a user's link to an object is outside the home.
/// Directories already decided are cached, so a million rows cost one look per
/// directory.
pub struct HomeMatcher {
    roots: Vec<PathBuf>,
    ids: Vec<Identity>,
    dirs: std::collections::HashMap<PathBuf, bool>,
}

impl HomeMatcher {
    fn new(roots: Vec<PathBuf>) -> Self {
        let ids = roots.iter().filter_map(|r| Identity::of(r)).collect();
        HomeMatcher {
            roots,
            ids,
            dirs: std::collections::HashMap::new(),
        }
    }

    /// Whether `path` is one of the matched directories (by identity).
    pub fn is_root(&self, path: &Path) -> bool {
        fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
            && Identity::of(path).is_some_and(|id| self.ids.contains(&id))
    }

    /// Whether `path` is one of the matched directories or lies inside one.
    pub fn holds(&mut self, path: &Path) -> bool {
        if self.roots.iter().any(|r| path.starts_with(r)) {
            return true;
        }
        if self.ids.is_empty() {
            return false;
        }
        if self.is_root(path) {
            return true;
        }
        let Some(dir) = path.parent() else {
            return false;
        };
        if let Some(&known) = self.dirs.get(dir) {
            return known;
        }
        // The nearest existing directory, resolved, then its ancestors by identity.
        let ids = &self.ids;
        let inside = dir
            .ancestors()
            .find_map(|a| fs::canonicalize(a).ok())
            .is_some_and(|c| {
                c.ancestors()
                    .any(|a| Identity::of(a).is_some_and(|id| ids.contains(&id)))
            });
        self.dirs.insert(dir.to_path_buf(), inside);
        inside
    }
}

/// An error when `path` exists and is a symlink.
fn refuse_link(path: &Path) -> Result<(), Error> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::LinkInHome {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Moves `path` (an object whose bytes are not its name, or anything else kdb must
/// not trust but must not delete) into the home's quarantine directory by one
/// rename, never replacing an entry there. Returns where it went.
pub fn quarantine(home: &Home, path: &Path) -> Result<PathBuf, Error> {
    let dir = home.quarantine();
    fsio::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map_or_else(|| "entry".into(), |n| n.to_string_lossy().into_owned());
    fsio::move_into(path, &dir, &name)
}

/// Removes `.kdb-tmp-*` entries directly inside `dir` (never recursing, never
/// following links).
fn sweep_dir(dir: &Path) -> Result<usize, Error> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(fsio::TEMP_PREFIX))
            && entry.file_type().is_ok_and(|t| !t.is_dir())
        {
            fsio::remove_entry(&entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}
