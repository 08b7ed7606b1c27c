//! The cross-process lock on `$KDB_HOME/.lock`.
//!
//! Mutating commands hold it exclusively for their whole run; read-only commands do
//! not take it (SQLite WAL lets them read a consistent snapshot). A second kdb first
//! tries the lock, then says on stderr that it waits, then polls until a timeout that
//! yields an actionable error. The lock is released by the OS when the process dies,
//! so a kill -9 never leaves the home locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::Error;

/// Holds the exclusive lock until dropped. Bind it with a name: `let _lock = ...`.
#[derive(Debug)]
pub struct HomeLock {
    _file: File,
    path: PathBuf,
}

impl HomeLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Acquires the lock, calling `on_wait` once if another process holds it.
pub fn acquire(
    path: &Path,
    timeout: Duration,
    on_wait: &mut dyn FnMut(&Path),
) -> Result<HomeLock, Error> {
    // The lock file is never a kernel and holds no data; opening it without
    // truncation is the one open-for-write kdb does outside the staging path.
    #[allow(clippy::disallowed_methods)] // the lock module is the other allowed opener
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("open lock file", path, e))?;
    let start = Instant::now();
    let mut announced = false;
    loop {
        match file.try_lock() {
            Ok(()) => {
                return Ok(HomeLock {
                    _file: file,
                    path: path.to_path_buf(),
                });
            }
            Err(TryLockError::WouldBlock) => {
                if !announced {
                    on_wait(path);
                    announced = true;
                }
                if start.elapsed() >= timeout {
                    return Err(Error::LockTimeout {
                        path: path.to_path_buf(),
                        seconds: timeout.as_secs(),
                    });
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("lock", path, e)),
        }
    }
}
