//! The one module that renames, links and creates files (the write chokepoint).
//!
//! Every file kdb produces is streamed into a temporary file in the destination's
//! directory (or in `$KDB_HOME/tmp`, which is on the same filesystem as the store),
//! hashed while streaming, checked, `sync_data`-ed, renamed into place, and the
//! directory is fsynced. No function here opens an existing path for writing: the
//! 2024 incident (eight parallel downloads writing through one shared symlink) is
//! impossible by construction, because a path is only ever *replaced* by a rename.
//!
//! Modes: objects are 0444; user-facing outputs (lockfiles, bundles, rewritten and
//! ready metakernels: [`write_user_file`], [`persist_temp`]) follow the umask like
//! files other tools create (`0o666 & !umask`); kdb's own files stay as created.
//!
//! Replacing an entry with a link is: create the link under a temporary name in the
//! same directory, then rename it over the old entry. Temporary names start with
//! [`TEMP_PREFIX`]; the sweep removes leftovers after a crash.
#![allow(clippy::disallowed_methods)]

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::Error;
use super::hash::Sha256Hex;

/// Prefix of every temporary entry kdb creates, so a sweep can find leftovers.
pub const TEMP_PREFIX: &str = ".kdb-tmp-";

/// Streamed bytes sitting in a temporary file, hashed, not yet visible.
#[derive(Debug)]
pub struct Staged {
    file: tempfile::NamedTempFile,
    sha256: Sha256Hex,
    len: u64,
    /// The bytes are known to be on disk (synced one by one or by a batch flush).
    durable: bool,
}

impl Staged {
    pub fn sha256(&self) -> &Sha256Hex {
        &self.sha256
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Flushes the bytes to disk now (so a later persist need not).
    pub fn sync(&mut self) -> Result<(), Error> {
        if !self.durable {
            self.file
                .as_file()
                .sync_data()
                .map_err(|e| Error::io("sync", self.file.path(), e))?;
            self.durable = true;
        }
        Ok(())
    }

    /// Checks length and hash against what the caller expects.
    pub fn verify(
        &self,
        name: &str,
        len: Option<u64>,
        sha256: Option<&Sha256Hex>,
    ) -> Result<(), Error> {
        if let Some(expected) = len
            && expected != self.len
        {
            return Err(Error::LengthMismatch {
                name: name.to_owned(),
                expected,
                actual: self.len,
            });
        }
        if let Some(expected) = sha256
            && expected != &self.sha256
        {
            return Err(Error::HashMismatch {
                name: name.to_owned(),
                expected: expected.to_string(),
                actual: self.sha256.to_string(),
            });
        }
        Ok(())
    }

    /// Makes the staged bytes durable and renames them to `dest`, replacing any entry
    /// there (file or link) without ever writing into it, then fsyncs the directory.
    pub fn persist(self, dest: &Path, read_only: bool) -> Result<(), Error> {
        let mut dirs = DirSyncs::default();
        self.persist_batched(dest, read_only, false, &mut dirs)?;
        dirs.sync()
    }

    /// Like [`Staged::persist`], but the directory fsync is left to `dirs` (one
    /// fsync per directory for a whole batch). Keeps an existing `dest` when
    /// `keep_existing` (content-addressed objects). Returns whether it renamed.
    pub fn persist_batched(
        self,
        dest: &Path,
        read_only: bool,
        keep_existing: bool,
        dirs: &mut DirSyncs,
    ) -> Result<bool, Error> {
        if keep_existing && fs::symlink_metadata(dest).is_ok() {
            return Ok(false);
        }
        let Staged { file, durable, .. } = self;
        if read_only {
            fs::set_permissions(file.path(), fs::Permissions::from_mode(0o444))
                .map_err(|e| Error::io("set permissions on", file.path(), e))?;
        }
        if !durable {
            file.as_file()
                .sync_data()
                .map_err(|e| Error::io("sync", file.path(), e))?;
        }
        file.persist(dest)
            .map_err(|e| Error::io("persist", dest, e.error))?;
        dirs.add(dest);
        Ok(true)
    }

    /// Like [`Staged::persist`] but keeps an existing `dest` (used for
    /// content-addressed objects: an existing object already holds these bytes).
    pub fn persist_if_absent(self, dest: &Path, read_only: bool) -> Result<bool, Error> {
        let mut dirs = DirSyncs::default();
        let renamed = self.persist_batched(dest, read_only, true, &mut dirs)?;
        dirs.sync()?;
        Ok(renamed)
    }
}

impl Staged {
    /// Adopts a finished resumable download (see [`open_partial`]) as staged bytes:
    /// the partial file (`file` is its open handle) is renamed to a fresh temporary
    /// name in `dir` (never replacing an entry), or, when `dir` is on another
    /// filesystem, streamed into one and re-hashed. `sha256` and `len` are what the
    /// caller computed while writing the partial; the length is checked against the
    /// file.
    pub fn adopt_partial(
        partial: &Path,
        file: File,
        dir: &Path,
        sha256: Sha256Hex,
        len: u64,
    ) -> Result<Staged, Error> {
        let reserved = match move_to_fresh_name(partial, dir) {
            Ok(path) => path,
            Err(e) if e.raw_os_error() == Some(EXDEV) => {
                drop(file);
                return adopt_partial_by_copy(partial, dir, sha256, len);
            }
            Err(e) => return Err(Error::io("move partial download", partial, e)),
        };
        // The handle still names the same inode after the rename.
        let actual = file
            .metadata()
            .map_err(|e| Error::io("stat", &reserved, e))?
            .len();
        if actual != len {
            return Err(Error::LengthMismatch {
                name: partial.display().to_string(),
                expected: len,
                actual,
            });
        }
        Ok(Staged {
            file: tempfile::NamedTempFile::from_parts(file, reserved),
            sha256,
            len,
            durable: false,
        })
    }
}

/// Renames `from` to a new temporary name in `dir` without ever replacing an entry
/// there: `renameat2(RENAME_NOREPLACE)` to a fresh name, or, where the filesystem
/// lacks it, a rename over a name just reserved by creating it exclusively.
fn move_to_fresh_name(from: &Path, dir: &Path) -> io::Result<tempfile::TempPath> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    for _ in 0..8 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let to = dir.join(format!(
            "{TEMP_PREFIX}a{}-{n}-{nanos:x}",
            std::process::id()
        ));
        match rustix::fs::renameat_with(
            rustix::fs::CWD,
            from,
            rustix::fs::CWD,
            &to,
            rustix::fs::RenameFlags::NOREPLACE,
        ) {
            Ok(()) => return tempfile::TempPath::try_from_path(to),
            Err(rustix::io::Errno::EXIST) => continue,
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => break,
            Err(e) => return Err(e.into()),
        }
    }
    let reserved = temp_file_in(dir)
        .map_err(|e| io::Error::other(e.to_string()))?
        .into_temp_path();
    fs::rename(from, &reserved)?;
    Ok(reserved)
}

/// Moves `from` into `dir` under `name` (or `name.1`, `name.2`, … when taken) by one
/// rename that never replaces an entry (`renameat2(RENAME_NOREPLACE)`, or a hard
/// link then unlink where the filesystem lacks it), then fsyncs both directories.
/// Returns the new path.
pub fn move_into(from: &Path, dir: &Path, name: &str) -> Result<PathBuf, Error> {
    for n in 0..1000 {
        let to = if n == 0 {
            dir.join(name)
        } else {
            dir.join(format!("{name}.{n}"))
        };
        let moved = match rustix::fs::renameat_with(
            rustix::fs::CWD,
            from,
            rustix::fs::CWD,
            &to,
            rustix::fs::RenameFlags::NOREPLACE,
        ) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
                fs::hard_link(from, &to).and_then(|()| fs::remove_file(from))
            }
            Err(e) => Err(e.into()),
        };
        match moved {
            Ok(()) => {
                sync_parent(&to)?;
                sync_parent(from)?;
                return Ok(to);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io("move aside", from, e)),
        }
    }
    Err(Error::io(
        "move aside",
        from,
        io::Error::other(format!("no free name for `{name}` in `{}`", dir.display())),
    ))
}

fn adopt_partial_by_copy(
    partial: &Path,
    dir: &Path,
    sha256: Sha256Hex,
    len: u64,
) -> Result<Staged, Error> {
    let mut source = File::open(partial).map_err(|e| Error::io("open", partial, e))?;
    let staged = stage(dir, &mut source, &mut |_| {})?;
    staged.verify(&partial.display().to_string(), Some(len), Some(&sha256))?;
    remove_entry(partial)?;
    Ok(staged)
}

/// How many staged files are worth flushing from several threads at once.
const BATCH_FLUSH_MIN: usize = 8;

/// Threads that flush a batch: concurrent `fdatasync` calls share the filesystem
/// journal's commits (group commit), so thousands of small files cost a few commit
/// latencies instead of one each.
const FLUSH_THREADS: usize = 32;

/// Makes every staged file durable before any of them is renamed into place: one
/// `fdatasync` each, issued from up to [`FLUSH_THREADS`] threads when there are many.
/// (Not `syncfs(2)`: on a shared machine it would also flush, and wait for, every
/// other process's dirty data.) Invariant 3 holds: data on disk → rename → directory
/// fsync → catalogue commit.
pub fn make_durable(staged: &mut [&mut Staged], _dir: &Path) -> Result<(), Error> {
    let mut pending: Vec<&mut Staged> = staged
        .iter_mut()
        .filter(|s| !s.durable)
        .map(|s| &mut **s)
        .collect();
    if pending.len() < BATCH_FLUSH_MIN {
        return pending.into_iter().try_for_each(Staged::sync);
    }
    let chunk = pending.len().div_ceil(FLUSH_THREADS);
    std::thread::scope(|scope| {
        let handles: Vec<_> = pending
            .chunks_mut(chunk)
            .map(|part| scope.spawn(move || part.iter_mut().try_for_each(|s| s.sync())))
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    })
}

/// Appends `bytes` to kdb's own append-only journal at `path` (never a kernel path)
/// and flushes them to disk before returning.
pub fn append_journal(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write as _;
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io("open journal", path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::io("write journal", path, e))
}

/// Opens the resumable partial download at `path` for reading and appending,
/// creating it when absent and never truncating it, under an exclusive advisory
/// lock so that two processes never append to one partial. Returns the file and its
/// length; `None` when another process holds the lock. A partial is only ever a
/// regular file kdb created: the open refuses to follow a symlink (`O_NOFOLLOW`), and
/// a symlink or other non-directory entry found at `path` is removed and the open
/// retried once. Two system calls for a new partial: open, fstat (then the lock).
pub fn open_partial(path: &Path) -> Result<Option<(File, u64)>, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = || {
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)
    };
    let mut retried = false;
    let (file, len) = loop {
        let not_a_file = match open() {
            Ok(file) => {
                let meta = file.metadata().map_err(|e| Error::io("stat", path, e))?;
                if meta.is_file() {
                    break (file, meta.len());
                }
                true
            }
            // A symlink at `path` (`ELOOP` under `O_NOFOLLOW`).
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => true,
            Err(e) if e.kind() == io::ErrorKind::IsADirectory => {
                return Err(Error::io(
                    "open partial download",
                    path,
                    io::Error::other("a directory is in the way"),
                ));
            }
            Err(e) => return Err(Error::io("open partial download", path, e)),
        };
        if not_a_file && retried {
            return Err(Error::io(
                "open partial download",
                path,
                io::Error::other("the entry changed while it was being opened"),
            ));
        }
        remove_entry(path)?;
        retried = true;
    };
    match file.try_lock() {
        Ok(()) => Ok(Some((file, len))),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(Error::io("lock", path, e)),
    }
}

/// Streams `reader` into a new temporary file inside `dir`, hashing as it goes.
pub fn stage(
    dir: &Path,
    reader: &mut dyn Read,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<Staged, Error> {
    let mut file = temp_file_in(dir)?;
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("read source for", file.path(), e)),
        };
        hasher.update(&buf[..n]);
        file.as_file_mut()
            .write_all(&buf[..n])
            .map_err(|e| Error::io("write", file.path(), e))?;
        len += n as u64;
        on_bytes(n as u64);
    }
    Ok(Staged {
        file,
        sha256: Sha256Hex::from_digest(hasher.finalize().into()),
        len,
        durable: false,
    })
}

/// Stages an existing regular file by hard-linking it under a temporary name in
/// `dir` (no bytes copied), then hashes it through the new name. `None` when `dir` is
/// on another filesystem.
pub fn stage_hardlink(existing: &Path, dir: &Path) -> Result<Option<Staged>, Error> {
    let file = match tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .make_in(dir, |p| {
            fs::hard_link(existing, p)?;
            File::open(p)
        }) {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(EXDEV) => return Ok(None),
        Err(e) => return Err(Error::io("hard-link", existing, e)),
    };
    let (sha256, len) = super::hash::hash_reader(&mut file.as_file())
        .map_err(|e| Error::io("read", existing, e))?;
    Ok(Some(Staged {
        file,
        sha256,
        len,
        durable: false,
    }))
}

/// errno of a cross-device link or rename.
const EXDEV: i32 = 18;

/// A new, empty temporary file in `dir`, created exclusively (never an existing path).
pub fn temp_file_in(dir: &Path) -> Result<tempfile::NamedTempFile, Error> {
    tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(|e| Error::io("create temporary file in", dir, e))
}

/// Makes a temporary file the caller filled itself (one from [`temp_file_in`], e.g.
/// an archive written through an encoder) durable, renames it to `dest` (replacing
/// any entry there without writing into it) and fsyncs the directory. The result is
/// a user-facing output: its mode is [`user_file_mode`].
pub fn persist_temp(file: tempfile::NamedTempFile, dest: &Path) -> Result<(), Error> {
    set_user_mode(file.path())?;
    file.as_file()
        .sync_data()
        .map_err(|e| Error::io("sync", file.path(), e))?;
    file.persist(dest)
        .map_err(|e| Error::io("persist", dest, e.error))?;
    sync_parent(dest)
}

/// Replaces whatever is at `path` with a symlink to `target`: the link is made under
/// a temporary name in the same directory and renamed over `path`.
pub fn replace_with_symlink(path: &Path, target: &Path) -> Result<(), Error> {
    let mut dirs = DirSyncs::default();
    replace_with_symlink_batched(path, target, &mut dirs)?;
    dirs.sync()
}

/// [`replace_with_symlink`] with the directory fsync left to `dirs`.
pub fn replace_with_symlink_batched(
    path: &Path,
    target: &Path,
    dirs: &mut DirSyncs,
) -> Result<(), Error> {
    let dir = parent(path);
    let tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .make_in(dir, |p| std::os::unix::fs::symlink(target, p))
        .map_err(|e| Error::io("create link in", dir, e))?;
    tmp.persist(path)
        .map_err(|e| Error::io("replace", path, e.error))?;
    dirs.add(path);
    Ok(())
}

/// Directories whose entries were renamed in a batch: [`DirSyncs::sync`] fsyncs each
/// once, in parallel, so a batch of renames becomes durable together. Callers commit
/// catalogue rows only after it returns.
#[derive(Debug, Default)]
pub struct DirSyncs(std::collections::BTreeSet<PathBuf>);

impl DirSyncs {
    /// Records the directory holding `entry`.
    pub fn add(&mut self, entry: &Path) {
        self.0.insert(parent(entry).to_path_buf());
    }

    /// Adds the directories `other` recorded.
    pub fn merge(&mut self, other: DirSyncs) {
        self.0.extend(other.0);
    }

    pub fn sync(self) -> Result<(), Error> {
        let dirs: Vec<PathBuf> = self.0.into_iter().collect();
        if dirs.len() <= 2 {
            return dirs.iter().try_for_each(|d| sync_dir(d));
        }
        // Directory fsyncs are latency-bound; overlapping them lets the filesystem
        // journal commit them together.
        let chunk = dirs.len().div_ceil(FLUSH_THREADS);
        std::thread::scope(|s| {
            let handles: Vec<_> = dirs
                .chunks(chunk)
                .map(|part| s.spawn(move || part.iter().try_for_each(|d| sync_dir(d))))
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
        })
    }
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync directory", dir, e))
}

/// Replaces whatever is at `path` with a hard link to `target` (same filesystem).
pub fn replace_with_hardlink(path: &Path, target: &Path) -> Result<(), Error> {
    let dir = parent(path);
    let tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .make_in(dir, |p| fs::hard_link(target, p))
        .map_err(|e| Error::io("create hard link in", dir, e))?;
    tmp.persist(path)
        .map_err(|e| Error::io("replace", path, e.error))?;
    sync_parent(path)
}

/// Writes small generated text (config file, metakernel) atomically.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = parent(dest);
    fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    let mut reader = bytes;
    let staged = stage(dir, &mut reader, &mut |_| {})?;
    staged.persist(dest, false)
}

/// Writes a user-facing output (a lockfile, a rewritten or ready metakernel)
/// atomically, with the mode other tools give new files: [`user_file_mode`] (a
/// temporary file is created 0600).
pub fn write_user_file(dest: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = parent(dest);
    fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    let mut reader = bytes;
    let staged = stage(dir, &mut reader, &mut |_| {})?;
    set_user_mode(staged.path())?;
    staged.persist(dest, false)
}

/// The process umask, read once from `/proc/self/status` (`Umask:`, Linux 4.7+);
/// `0o022` when it cannot be read.
pub fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                status.lines().find_map(|l| {
                    let value = l.strip_prefix("Umask:")?;
                    u32::from_str_radix(value.trim(), 8).ok()
                })
            })
            .unwrap_or(0o022)
    })
}

/// The mode of a new user-facing file: `0o666 & !umask` (objects stay 0444).
pub fn user_file_mode() -> u32 {
    0o666 & !umask()
}

fn set_user_mode(path: &Path) -> Result<(), Error> {
    fs::set_permissions(path, fs::Permissions::from_mode(user_file_mode()))
        .map_err(|e| Error::io("set permissions on", path, e))
}

/// Removes one entry kdb owns (a temporary file or a link it made). Never follows links.
pub fn remove_entry(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}

/// Creates a directory (and parents) that kdb owns.
pub fn create_dir_all(dir: &Path) -> Result<(), Error> {
    fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))
}

pub fn sync_parent(path: &Path) -> Result<(), Error> {
    let dir = parent(path);
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync directory", dir, e))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The absolute form of `path` without resolving symlinks (the name as referenced).
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Bytes that arrive in chunks (an async stream from a team store) staged into a
/// new temporary file in a directory, hashed as they come: [`stage`] for sources
/// that are not a [`Read`].
pub struct Stager {
    file: tempfile::NamedTempFile,
    hasher: Sha256,
    len: u64,
}

impl Stager {
    /// A new, empty temporary file in `dir`.
    pub fn new(dir: &Path) -> Result<Stager, Error> {
        Ok(Stager {
            file: temp_file_in(dir)?,
            hasher: Sha256::new(),
            len: 0,
        })
    }

    /// Appends one chunk (and hashes it).
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.hasher.update(bytes);
        self.file
            .as_file_mut()
            .write_all(bytes)
            .map_err(|e| Error::io("write", self.file.path(), e))?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Bytes received so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The staged bytes, hashed; not yet visible anywhere.
    pub fn finish(self) -> Staged {
        Staged {
            file: self.file,
            sha256: Sha256Hex::from_digest(self.hasher.finalize().into()),
            len: self.len,
            durable: false,
        }
    }
}
