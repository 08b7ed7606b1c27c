//! Resumable partial downloads: `partial_dir/<sha256 of the URL>` holds the bytes
//! received so far, `partial_dir/<sha256 of the URL>.json` the validators they
//! belong to (URL, ETag, Last-Modified, total size).
//!
//! The bytes are written straight into the partial file, so even a process killed
//! with `SIGKILL` leaves something a later run can continue. A later run re-hashes
//! the bytes (the digest is never stored, so it cannot go stale) and continues with
//! `Range` + `If-Range`; without a validator to put in `If-Range` the bytes are
//! dropped, because appending another version's tail would corrupt the file. The
//! sidecar is rewritten (atomically, through `fsio`) before the bytes of a new
//! response are appended, so it never describes bytes older than itself.
//!
//! A partial is opened under an exclusive advisory lock; when another process holds
//! it, the download goes to a private temporary file in `tmp_dir` instead (swept
//! after a crash, never resumed across processes). On success the file is renamed
//! into `tmp_dir` as a [`Staged`] and the sidecar is removed.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::kernel::HEAD_LEN;
use crate::store::fsio::{self, Staged};
use crate::store::{self, Sha256Hex};

/// Transfers shorter than this are not made resumable across runs.
pub(super) const RESUMABLE_FROM: u64 = 1 << 20;

/// Largest sidecar read back (it holds a URL and two short headers).
const MAX_SIDECAR_LEN: u64 = 64 * 1024;

/// What the partial bytes are a prefix of.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Sidecar {
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Total size of the representation, when the server said.
    pub size: Option<u64>,
}

impl Sidecar {
    /// The validators of the representation the bytes belong to.
    pub fn validators(&self) -> super::Validators {
        super::Validators {
            etag: self.etag.clone(),
            last_modified: self.last_modified.clone(),
        }
    }

    /// The `If-Range` value: a strong ETag, else Last-Modified (RFC 9110 §13.1.5:
    /// a weak ETag must not be used there).
    pub fn if_range(&self) -> Option<&str> {
        self.etag
            .as_deref()
            .filter(|e| e.starts_with('"'))
            .or(self.last_modified.as_deref())
    }
}

#[derive(Debug)]
pub(super) struct Partial {
    path: PathBuf,
    /// `None` for a private temporary file (another process holds the partial).
    sidecar_path: Option<PathBuf>,
    file: File,
    hasher: Sha256,
    len: u64,
    head: Vec<u8>,
    meta: Sidecar,
    /// Whether the sidecar file holds `meta`.
    sidecar_on_disk: bool,
    /// Whether the current bytes were continued rather than received in one piece.
    resumed: bool,
}

/// The file name of a URL's partial download.
pub(super) fn key(url: &Url) -> String {
    Sha256Hex::from_digest(Sha256::digest(url.as_str().as_bytes()).into()).to_string()
}

/// Bodies at least this large are flushed as soon as they complete.
const SYNC_IN_TASK_MIN: u64 = 1 << 20;

impl Partial {
    /// A partial with no bytes accounted for yet (the caller re-hashes or resets).
    fn empty(path: PathBuf, sidecar_path: Option<PathBuf>, file: File, url: &Url) -> Partial {
        Partial {
            path,
            sidecar_path,
            file,
            hasher: Sha256::new(),
            len: 0,
            head: Vec::new(),
            meta: Sidecar {
                url: url.to_string(),
                ..Sidecar::default()
            },
            sidecar_on_disk: false,
            resumed: false,
        }
    }

    /// Opens (or creates) the partial download of `url`, re-hashing the bytes a
    /// previous run left when its sidecar still vouches for them.
    pub fn open(partial_dir: &Path, tmp_dir: &Path, url: &Url) -> Result<Partial, store::Error> {
        let key = key(url);
        let path = partial_dir.join(&key);
        let sidecar_path = partial_dir.join(format!("{key}.json"));
        let Some((file, on_disk)) = fsio::open_partial(&path)? else {
            return Partial::private(tmp_dir, &key, url);
        };
        let mut partial = Partial::empty(path, Some(sidecar_path), file, url);
        if on_disk == 0 {
            // A new (or empty) partial: nothing to resume, nothing to truncate.
            return Ok(partial);
        }
        match partial.read_sidecar() {
            Some(meta)
                if meta.url == url.as_str()
                    && meta.if_range().is_some()
                    && meta.size.is_none_or(|size| on_disk < size) =>
            {
                partial.meta = meta;
                partial.sidecar_on_disk = true;
                partial.rehash()?;
                partial.resumed = partial.len > 0;
            }
            _ => partial.reset()?,
        }
        Ok(partial)
    }

    /// A non-resumable partial in `tmp_dir` under a temporary name.
    fn private(tmp_dir: &Path, key: &str, url: &Url) -> Result<Partial, store::Error> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = tmp_dir.join(format!(
            "{}partial-{key}-{}-{n}",
            fsio::TEMP_PREFIX,
            std::process::id()
        ));
        let (file, on_disk) = fsio::open_partial(&path)?.ok_or_else(|| {
            store::Error::io("lock", &path, io::Error::other("locked by another process"))
        })?;
        let mut partial = Partial::empty(path, None, file, url);
        if on_disk > 0 {
            partial.reset()?;
        }
        Ok(partial)
    }

    fn read_sidecar(&self) -> Option<Sidecar> {
        let path = self.sidecar_path.as_ref()?;
        let file = File::open(path).ok()?;
        let mut text = String::new();
        file.take(MAX_SIDECAR_LEN).read_to_string(&mut text).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Hashes the bytes already on disk and positions the file after them.
    fn rehash(&mut self) -> Result<(), store::Error> {
        let path = &self.path;
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|e| store::Error::io("seek", path, e))?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match self.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(store::Error::io("read", path, e)),
            };
            self.hasher.update(&buf[..n]);
            keep_head(&mut self.head, &buf[..n]);
            self.len += n as u64;
        }
        Ok(())
    }

    /// Bytes held so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the bytes held were continued from an earlier response.
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    pub fn meta(&self) -> &Sidecar {
        &self.meta
    }

    /// The first [`HEAD_LEN`] bytes, for kernel type detection.
    /// The file holding the bytes so far.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The digest of the bytes held so far.
    pub fn sha256(&self) -> Sha256Hex {
        Sha256Hex::from_digest(self.hasher.clone().finalize().into())
    }

    /// Where to continue and the `If-Range` value to send; `None` when starting
    /// from zero.
    pub fn resume_point(&self) -> Option<(u64, String)> {
        (self.len > 0)
            .then(|| self.meta.if_range().map(|v| (self.len, v.to_owned())))
            .flatten()
    }

    /// Drops the bytes held and starts over from zero.
    pub fn reset(&mut self) -> Result<(), store::Error> {
        let path = &self.path;
        self.file
            .set_len(0)
            .and_then(|()| self.file.seek(SeekFrom::Start(0)).map(drop))
            .map_err(|e| store::Error::io("truncate partial download", path, e))?;
        self.hasher = Sha256::new();
        self.len = 0;
        self.head.clear();
        self.resumed = false;
        Ok(())
    }

    /// Marks the bytes held as continued by a `206` answer.
    pub fn mark_resumed(&mut self) {
        self.resumed = true;
    }

    /// Records what the bytes about to be appended belong to. A sidecar on disk
    /// that says otherwise is removed at once.
    pub fn record(&mut self, meta: Sidecar) -> Result<(), store::Error> {
        if meta != self.meta {
            if self.sidecar_on_disk
                && let Some(path) = &self.sidecar_path
            {
                fsio::remove_entry(path)?;
            }
            self.sidecar_on_disk = false;
            self.meta = meta;
        }
        Ok(())
    }

    pub fn append(&mut self, bytes: &[u8]) -> Result<(), store::Error> {
        let after = self.len + bytes.len() as u64;
        if !self.sidecar_on_disk
            && after > RESUMABLE_FROM
            && self.meta.if_range().is_some()
            && let Some(path) = &self.sidecar_path
        {
            let text = serde_json::to_vec(&self.meta).unwrap_or_default();
            fsio::write_atomic(path, &text)?;
            self.sidecar_on_disk = true;
        }
        self.file
            .write_all(bytes)
            .map_err(|e| store::Error::io("write", &self.path, e))?;
        self.hasher.update(bytes);
        keep_head(&mut self.head, bytes);
        self.len = after;
        Ok(())
    }

    /// Turns the complete bytes into a [`Staged`] file in `tmp_dir` and forgets the
    /// partial. Returns the staged file and its first bytes.
    pub fn finish(self, tmp_dir: &Path) -> Result<(Staged, Vec<u8>), store::Error> {
        let sha256 = self.sha256();
        let Partial {
            path,
            sidecar_path,
            file,
            len,
            head,
            ..
        } = self;
        let mut staged = Staged::adopt_partial(&path, file, tmp_dir, sha256, len)?;
        // Durable before it is renamed anywhere (invariant 3). A large body is synced
        // here, on a blocking thread while other transfers go on, so its flush
        // overlaps the network; small ones are left to one batch flush by the caller
        // (`fsio::make_durable`) or to `persist`.
        if len >= SYNC_IN_TASK_MIN {
            staged.sync()?;
        }
        if let Some(sidecar) = sidecar_path {
            fsio::remove_entry(&sidecar)?;
        }
        Ok((staged, head))
    }

    /// Deletes the partial (its bytes are useless: wrong content, gone upstream).
    pub fn discard(self) {
        // Best effort: a leftover is re-validated by the next `open` anyway.
        let removed = fsio::remove_entry(&self.path);
        let sidecar_removed = self.sidecar_path.as_deref().map(fsio::remove_entry);
        drop((removed, sidecar_removed));
    }

    /// Leaves the bytes for a later process to continue, when it can: without a
    /// sidecar (a short transfer, no validator, a private temporary file) they are
    /// deleted.
    pub fn keep(self) {
        if !self.sidecar_on_disk || self.len == 0 {
            self.discard();
        }
    }
}

fn keep_head(head: &mut Vec<u8>, bytes: &[u8]) {
    if head.len() < HEAD_LEN {
        let take = (HEAD_LEN - head.len()).min(bytes.len());
        head.extend_from_slice(&bytes[..take]);
    }
}
