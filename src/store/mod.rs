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

pub mod fsio;
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

    /// Creates the directories a mutating command needs.
    pub fn create(&self) -> Result<(), Error> {
        fsio::create_dir_all(&self.objects())?;
        fsio::create_dir_all(&self.tmp())
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
        Ok(removed)
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
