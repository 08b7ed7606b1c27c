//! Bundles: one file holding a lock, its metakernel and its kernels, for air-gapped
//! machines and paper supplements (docs/lockfile.md, "Bundles").
//!
//! A bundle is a tar archive, optionally compressed with zstd (recognised on import
//! by the zstd frame magic, whatever the file is called). Members, all regular files:
//!
//! ```text
//! kdb.lock            the lockfile (always the first member)
//! mk/<name>           the metakernel as served, `<name>` = the lock's metakernel name
//! kernels/<sha256>    each distinct kernel content once, named by its locked hash
//! ```
//!
//! Export ([`write`]) streams every member through a hasher and refuses to finish a
//! bundle whose bytes are not the locked ones. Import ([`read`]) is the hostile side:
//! it accepts only the members above, each exactly once, regular files only (no
//! symlinks, hard links, devices, FIFOs or directories), no absolute paths, no `..`,
//! no member that is not in the lock, every byte hashed while it is streamed into a
//! staged temporary file (`store::fsio::stage`, in the caller's tmp directory) and
//! checked against the lock, and every locked content present. A refusal returns an
//! error and drops every staged file: nothing becomes visible. Only the caller, once
//! [`read`] returned, persists the staged files.
//!
//! Extension headers (GNU long names and links, PAX records) are capped at
//! [`MAX_EXTENSION_LEN`] before the tar crate reads them (it holds them in memory
//! whole): a 100 KB bundle claiming a 3 GB name is refused at its header. Member
//! names in messages are shortened.
//!
//! Pure over readers and writers: the only files touched are the staged temporary
//! files, through the store's write chokepoint.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::lockfile::{self, Lock};
use crate::store::fsio::{self, Staged};
use crate::store::{self, Sha256Hex};

/// Name of the lock member.
pub const LOCK_MEMBER: &str = "kdb.lock";
/// Directory of the metakernel member.
pub const MK_DIR: &str = "mk";
/// Directory of the kernel members.
pub const KERNEL_DIR: &str = "kernels";
/// The first four bytes of a zstd frame.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// Largest lock member read into memory.
const MAX_LOCK_LEN: u64 = 16 << 20;
/// Largest extension header (GNU long name or link, PAX) accepted: the tar crate
/// reads them into memory whole.
pub const MAX_EXTENSION_LEN: u64 = 64 << 10;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("refusing bundle member `{member}`: {reason}; nothing was imported")]
    Refused { member: String, reason: String },
    #[error("refusing bundle: {reason}; nothing was imported")]
    Invalid { reason: String },
    #[error("refusing bundle: truncated or corrupt archive; nothing was imported")]
    Corrupt(#[source] io::Error),
    #[error("refusing bundle: its lockfile is invalid; nothing was imported")]
    Lock(#[source] lockfile::Error),
    #[error("cannot write the bundle (or read a member for it)")]
    Write(#[source] io::Error),
    #[error("cannot read `{name}` for the bundle")]
    Source {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "`{name}` does not hold the locked bytes: expected sha256 {expected} ({size} bytes), got {actual} ({len} bytes)"
    )]
    NotLocked {
        name: String,
        expected: Sha256Hex,
        size: u64,
        actual: Sha256Hex,
        len: u64,
    },
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Whether an exported bundle is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    /// zstd at this level (1–19; 3 is zstd's default).
    Zstd(i32),
}

/// The member path of a kernel content.
pub fn kernel_member(sha: &Sha256Hex) -> String {
    format!("{KERNEL_DIR}/{sha}")
}

/// The member path of the metakernel.
pub fn mk_member(lock: &Lock) -> String {
    format!("{MK_DIR}/{}", lock.metakernel.name)
}

// ---------------------------------------------------------------- export

/// Writes a bundle of `lock` to `out`: the lock, the metakernel read from `mk`, and
/// each distinct kernel read from `open(sha)`. Every member's bytes are hashed as they
/// are copied and must be the locked ones; on any error the caller must discard
/// `out` (it holds a partial archive). Returns `out` once the archive is complete.
pub fn write<W: Write>(
    out: W,
    compression: Compression,
    lock: &Lock,
    mk: &mut dyn Read,
    open: &mut dyn FnMut(&lockfile::LockedKernel) -> io::Result<Box<dyn Read>>,
) -> Result<W, Error> {
    match compression {
        Compression::None => write_tar(out, lock, mk, open),
        Compression::Zstd(level) => {
            let enc = zstd::stream::write::Encoder::new(out, level).map_err(Error::Write)?;
            let enc = write_tar(enc, lock, mk, open)?;
            enc.finish().map_err(Error::Write)
        }
    }
}

fn write_tar<W: Write>(
    out: W,
    lock: &Lock,
    mk: &mut dyn Read,
    open: &mut dyn FnMut(&lockfile::LockedKernel) -> io::Result<Box<dyn Read>>,
) -> Result<W, Error> {
    let mut tar = tar::Builder::new(out);
    let text = lock.to_toml();
    append(
        &mut tar,
        LOCK_MEMBER,
        text.len() as u64,
        &mut text.as_bytes(),
        None,
    )?;
    let m = &lock.metakernel;
    append(
        &mut tar,
        &mk_member(lock),
        m.size,
        mk,
        Some((&m.name, &m.sha256)),
    )?;
    for k in lock.distinct_kernels() {
        let mut reader = open(k).map_err(|source| Error::Source {
            name: k.name.clone(),
            source,
        })?;
        append(
            &mut tar,
            &kernel_member(&k.sha256),
            k.size,
            &mut reader,
            Some((&k.name, &k.sha256)),
        )?;
    }
    tar.into_inner().map_err(Error::Write)
}

/// Appends one regular-file member with fixed metadata (mode 0444, mtime 0, owner 0),
/// so that the same lock and bytes give the same archive.
fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    data: &mut dyn Read,
    expect: Option<(&str, &Sha256Hex)>,
) -> Result<(), Error> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(0o444);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    let mut hashing = Hashing::new(data.take(size));
    tar.append_data(&mut header, path, &mut hashing)
        .map_err(Error::Write)?;
    let (actual, len) = hashing.finish();
    if let Some((name, expected)) = expect
        && (&actual != expected || len != size)
    {
        return Err(Error::NotLocked {
            name: name.to_owned(),
            expected: expected.clone(),
            size,
            actual,
            len,
        });
    }
    Ok(())
}

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    fn finish(self) -> (Sha256Hex, u64) {
        (
            Sha256Hex::from_digest(self.hasher.finalize().into()),
            self.len,
        )
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

// ---------------------------------------------------------------- import

/// A bundle checked in full, its members staged (hashed, not yet visible).
#[derive(Debug)]
pub struct Unpacked {
    pub lock: Lock,
    /// The lock member's text, as in the bundle.
    pub lock_text: String,
    pub metakernel: Staged,
    pub kernels: BTreeMap<Sha256Hex, Staged>,
}

/// What a member path names.
enum Member {
    Lock,
    Metakernel(String),
    Kernel(Sha256Hex),
}

/// Classifies a member path, refusing everything but the documented layout.
fn classify(raw: &[u8]) -> Result<Member, String> {
    let path = std::str::from_utf8(raw).map_err(|_| "the path is not UTF-8".to_owned())?;
    if path.starts_with('/') {
        return Err("absolute path".into());
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts.contains(&"..") {
        return Err("`..` in the path".into());
    }
    if parts.iter().any(|p| p.is_empty() || *p == ".") || path.contains(['\\', '\0']) {
        return Err("not a plain relative path".into());
    }
    match parts.as_slice() {
        [LOCK_MEMBER] => Ok(Member::Lock),
        [MK_DIR, name] => Ok(Member::Metakernel((*name).to_owned())),
        [KERNEL_DIR, hex] => Sha256Hex::parse(hex)
            .filter(|h| h.as_str() == *hex)
            .map(Member::Kernel)
            .ok_or_else(|| "a kernel member must be named by its sha256".to_owned()),
        _ => Err("not a member of the kdb bundle layout".into()),
    }
}

fn kind_name(t: tar::EntryType) -> &'static str {
    match t {
        tar::EntryType::Symlink => "symbolic link",
        tar::EntryType::Link => "hard link",
        tar::EntryType::Char | tar::EntryType::Block => "device",
        tar::EntryType::Fifo => "FIFO",
        tar::EntryType::Directory => "directory",
        _ => "unsupported member type",
    }
}

/// Whether `head` (a file's first bytes, up to 512) starts like a bundle: a zstd
/// frame or a ustar/GNU tar header. Used to tell a user who passed the wrong file
/// to `import` or `restore` what it is.
pub fn looks_like_bundle(head: &[u8]) -> bool {
    head.starts_with(&ZSTD_MAGIC) || head.get(257..262) == Some(b"ustar".as_slice())
}

/// Reads and checks a whole bundle from `input` (zstd-compressed or not), staging
/// each member in `tmp_dir`. Nothing is persisted; on error every staged file is
/// dropped.
pub fn read(input: &mut dyn Read, tmp_dir: &Path) -> Result<Unpacked, Error> {
    let mut magic = [0u8; 4];
    let mut n = 0;
    while n < magic.len() {
        match input.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Corrupt(e)),
        }
    }
    let head = io::Cursor::new(magic[..n].to_vec());
    let mut joined = head.chain(input);
    if magic[..n] == ZSTD_MAGIC {
        let mut dec = zstd::stream::read::Decoder::new(joined).map_err(Error::Corrupt)?;
        read_tar(&mut dec, tmp_dir)
    } else {
        read_tar(&mut joined, tmp_dir)
    }
}

/// The `kdb.lock` member: bounded, UTF-8, complete, and a valid lockfile.
fn read_lock_member(entry: &mut dyn Read, raw: &[u8], size: u64) -> Result<(Lock, String), Error> {
    let refused = |reason: &str| Error::Refused {
        member: crate::shorten(&String::from_utf8_lossy(raw), crate::MESSAGE_MAX),
        reason: reason.to_owned(),
    };
    if size > MAX_LOCK_LEN {
        return Err(refused("too large for a lockfile"));
    }
    let mut text = String::new();
    entry
        .take(size)
        .read_to_string(&mut text)
        .map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => refused("not UTF-8 text"),
            _ => Error::Corrupt(e),
        })?;
    if text.len() as u64 != size {
        return Err(Error::Corrupt(io::ErrorKind::UnexpectedEof.into()));
    }
    let parsed = lockfile::parse(LOCK_MEMBER, &text).map_err(Error::Lock)?;
    Ok((parsed, text))
}

/// Why [`HeaderGuard`] stopped a stream.
#[derive(Debug)]
struct GuardRefusal(String);

impl std::fmt::Display for GuardRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GuardRefusal {}

/// A reader between the archive bytes and the tar crate that checks every header
/// block before handing it over: an extension header (GNU long name `L` or long link
/// `K`, PAX `x` or `g`) larger than [`MAX_EXTENSION_LEN`], a GNU sparse member or a
/// size field that does not parse ends the stream with a [`GuardRefusal`], so a
/// header claiming 3 GB is never read into memory. It tracks entry boundaries by the
/// same rule as the tar crate: each header block is followed by its data rounded up
/// to 512 bytes, whose length a preceding PAX `size` record may override.
struct HeaderGuard<R> {
    inner: R,
    /// Data and padding bytes left before the next header block.
    skip: u64,
    block: Box<[u8; 512]>,
    filled: usize,
    /// The PAX header body being read (bounded by the cap), and its length.
    pax: Option<(Vec<u8>, u64)>,
    /// The size a PAX `size` record gave the next entry.
    next_size: Option<u64>,
}

impl<R: Read> HeaderGuard<R> {
    fn new(inner: R) -> Self {
        HeaderGuard {
            inner,
            skip: 0,
            block: Box::new([0; 512]),
            filled: 0,
            pax: None,
            next_size: None,
        }
    }

    fn refuse(why: String) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, GuardRefusal(why))
    }

    /// Follows the stream through `bytes` (just read), checking each header block.
    fn track(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let k = (self.skip.min(bytes.len() as u64)) as usize;
                if let Some((body, len)) = &mut self.pax {
                    let want = (*len as usize).saturating_sub(body.len()).min(k);
                    body.extend_from_slice(&bytes[..want]);
                }
                self.skip -= k as u64;
                bytes = &bytes[k..];
                if self.skip == 0
                    && let Some((body, _)) = self.pax.take()
                {
                    self.next_size = pax_size(&body)?;
                }
                continue;
            }
            let k = (512 - self.filled).min(bytes.len());
            self.block[self.filled..self.filled + k].copy_from_slice(&bytes[..k]);
            self.filled += k;
            bytes = &bytes[k..];
            if self.filled == 512 {
                self.filled = 0;
                self.header()?;
            }
        }
        Ok(())
    }

    /// Checks one complete header block and sets how much data follows it.
    fn header(&mut self) -> io::Result<()> {
        let block = &*self.block;
        if block.iter().all(|&b| b == 0) {
            return Ok(());
        }
        let kind = block[156];
        let size = header_size(&block[124..136])
            .ok_or_else(|| Self::refuse("a member header with an unreadable size".into()))?;
        let extension = matches!(kind, b'L' | b'K' | b'x' | b'g');
        if extension && size > MAX_EXTENSION_LEN {
            return Err(Self::refuse(format!(
                "an extension header of {size} bytes (a long name, link or PAX record; \
                 the limit is {MAX_EXTENSION_LEN})"
            )));
        }
        if kind == b'S' {
            return Err(Self::refuse("a GNU sparse member".into()));
        }
        let size = if extension {
            size
        } else {
            self.next_size.take().unwrap_or(size)
        };
        if kind == b'x' {
            self.pax = Some((Vec::with_capacity(size as usize), size));
        }
        self.skip = size.div_ceil(512).saturating_mul(512);
        if self.skip == 0
            && let Some((body, _)) = self.pax.take()
        {
            self.next_size = pax_size(&body)?;
        }
        Ok(())
    }
}

impl<R: Read> Read for HeaderGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.track(&buf[..n])?;
        Ok(n)
    }
}

/// A tar size field: octal digits (space or NUL padded), or base-256 when the high
/// bit of the first byte is set. `None` when it does not parse or overflows.
fn header_size(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut n: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            n = n.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(n);
    }
    let text = std::str::from_utf8(field).ok()?;
    let digits = text.trim_matches(|c: char| c == ' ' || c == '\0');
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, 8).ok()
}

/// The `size` record of a PAX header body (`LEN size=N\n` records), if any.
fn pax_size(body: &[u8]) -> io::Result<Option<u64>> {
    let mut size = None;
    for record in body.split(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(record);
        if let Some((_, kv)) = text.split_once(' ')
            && let Some(value) = kv.strip_prefix("size=")
        {
            let n = value.trim().parse::<u64>().map_err(|_| {
                HeaderGuard::<io::Empty>::refuse("a PAX `size` record that is not a number".into())
            })?;
            size = Some(n);
        }
    }
    Ok(size)
}

/// An archive error: the guard's refusal as such (however the tar crate wrapped
/// it), anything else as corruption.
fn archive_error(e: io::Error) -> Error {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = cur {
        let inner = err
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref)
            .map(|i| i as &(dyn std::error::Error + 'static));
        for candidate in [Some(err), inner].into_iter().flatten() {
            if let Some(GuardRefusal(why)) = candidate.downcast_ref::<GuardRefusal>() {
                return Error::Invalid {
                    reason: why.clone(),
                };
            }
        }
        cur = inner
            .and_then(std::error::Error::source)
            .or_else(|| err.source());
    }
    Error::Corrupt(e)
}

/// What the lock says a member after `kdb.lock` holds: its name, hash and size; or
/// why the member has no place in this bundle.
fn locked_as(member: &Member, locked: &Lock) -> Result<(String, Sha256Hex, u64), String> {
    match member {
        Member::Lock => Err("appears twice".into()),
        Member::Metakernel(name) if *name != locked.metakernel.name => Err(format!(
            "the lock's metakernel is `{}`",
            locked.metakernel.name
        )),
        Member::Metakernel(name) => Ok((
            name.clone(),
            locked.metakernel.sha256.clone(),
            locked.metakernel.size,
        )),
        Member::Kernel(sha) => match locked.kernels.iter().find(|k| k.sha256 == *sha) {
            Some(k) => Ok((k.name.clone(), sha.clone(), k.size)),
            None => Err("content not in the lock".into()),
        },
    }
}

fn read_tar(input: &mut dyn Read, tmp_dir: &Path) -> Result<Unpacked, Error> {
    let mut archive = tar::Archive::new(HeaderGuard::new(input));
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut lock: Option<(Lock, String)> = None;
    let mut metakernel: Option<Staged> = None;
    let mut kernels: BTreeMap<Sha256Hex, Staged> = BTreeMap::new();
    let refused = |member: &[u8], reason: String| Error::Refused {
        member: crate::shorten(&String::from_utf8_lossy(member), crate::MESSAGE_MAX),
        reason,
    };
    for entry in archive.entries().map_err(archive_error)? {
        let mut entry = entry.map_err(archive_error)?;
        let raw = entry.path_bytes().into_owned();
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            return Err(refused(&raw, format!("a {}", kind_name(kind))));
        }
        let member = classify(&raw).map_err(|r| refused(&raw, r))?;
        if !seen.insert(raw.clone()) {
            return Err(refused(&raw, "appears twice".into()));
        }
        let size = entry.size();
        let Some((locked, _)) = &lock else {
            if !matches!(member, Member::Lock) {
                return Err(refused(
                    &raw,
                    format!("the first member must be `{LOCK_MEMBER}`"),
                ));
            }
            lock = Some(read_lock_member(&mut entry, &raw, size)?);
            continue;
        };
        let (name, expected, expected_size) =
            locked_as(&member, locked).map_err(|r| refused(&raw, r))?;
        if size != expected_size {
            return Err(refused(
                &raw,
                format!("{size} bytes, but the lock says {expected_size} for `{name}`"),
            ));
        }
        let staged = fsio::stage(tmp_dir, &mut entry, &mut |_| {}).map_err(|e| match e {
            // A read error inside a member is the archive's (truncated, bad zstd frame).
            store::Error::Io {
                action: "read source for",
                source,
                ..
            } => archive_error(source),
            other => Error::Store(other),
        })?;
        if staged.len() != size {
            return Err(Error::Corrupt(io::ErrorKind::UnexpectedEof.into()));
        }
        if staged.sha256() != &expected {
            return Err(refused(
                &raw,
                format!(
                    "its bytes hash to {}, not the locked {expected} of `{name}`",
                    staged.sha256()
                ),
            ));
        }
        match member {
            Member::Metakernel(_) => metakernel = Some(staged),
            Member::Kernel(sha) => {
                kernels.insert(sha, staged);
            }
            Member::Lock => {}
        }
    }
    let Some((lock, lock_text)) = lock else {
        return Err(Error::Invalid {
            reason: format!("no `{LOCK_MEMBER}` member (empty or not a kdb bundle)"),
        });
    };
    let Some(metakernel) = metakernel else {
        return Err(Error::Invalid {
            reason: format!("member `{}` is missing", mk_member(&lock)),
        });
    };
    if let Some(k) = lock
        .distinct_kernels()
        .into_iter()
        .find(|k| !kernels.contains_key(&k.sha256))
    {
        return Err(Error::Invalid {
            reason: format!(
                "member `{}` (`{}`) is missing",
                kernel_member(&k.sha256),
                k.name
            ),
        });
    }
    Ok(Unpacked {
        lock,
        lock_text,
        metakernel,
        kernels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lockfile::{LockedKernel, LockedMetakernel, SCHEMA};

    fn sha_of(b: &[u8]) -> Sha256Hex {
        Sha256Hex::from_digest(Sha256::digest(b).into())
    }

    const MK: &[u8] = b"KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( 'a.tls' 'b.bsp' 'a2.tls' )\n";

    fn kernels() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("a.tls", b"KPL/LSK\nfirst\n".to_vec()),
            ("b.bsp", vec![7u8; 3000]),
            ("a2.tls", b"KPL/LSK\nfirst\n".to_vec()),
        ]
    }

    fn lock() -> Lock {
        Lock {
            schema: SCHEMA,
            kdb_version: "0.1.0".into(),
            created: "2026-11-30T09:00:00Z".into(),
            metakernel: LockedMetakernel {
                name: "m.tm".into(),
                mission: None,
                source_url: "https://h/pub/naif/M/kernels/mk/m.tm".into(),
                sha256: sha_of(MK),
                size: MK.len() as u64,
                etag: None,
                last_modified: None,
            },
            kernels: kernels()
                .into_iter()
                .map(|(name, bytes)| LockedKernel {
                    name: name.into(),
                    entry: name.into(),
                    source_url: format!("https://h/pub/naif/M/kernels/mk/{name}"),
                    sha256: sha_of(&bytes),
                    size: bytes.len() as u64,
                    kernel_type: "lsk".into(),
                })
                .collect(),
        }
    }

    fn bundle(compression: Compression) -> Vec<u8> {
        let l = lock();
        let ks = kernels();
        write(Vec::new(), compression, &l, &mut &MK[..], &mut |k| {
            let bytes = ks.iter().find(|(n, _)| *n == k.name).unwrap().1.clone();
            Ok(Box::new(io::Cursor::new(bytes)))
        })
        .unwrap()
    }

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    fn entries(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn export_import_round_trip_plain_and_zstd() {
        for c in [Compression::None, Compression::Zstd(3)] {
            let b = bundle(c);
            assert_eq!(b.starts_with(&ZSTD_MAGIC), c != Compression::None);
            assert_eq!(b, bundle(c), "deterministic");
            let dir = tmp();
            let u = read(&mut &b[..], dir.path()).unwrap();
            assert_eq!(u.lock, lock());
            assert_eq!(u.kernels.len(), 2, "one member per distinct content");
            assert_eq!(std::fs::read(u.metakernel.path()).unwrap(), MK);
            for (name, bytes) in kernels() {
                let s = &u.kernels[&sha_of(&bytes)];
                assert_eq!(std::fs::read(s.path()).unwrap(), bytes, "{name}");
            }
            drop(u);
            assert_eq!(entries(dir.path()), 0, "staged files vanish when dropped");
        }
    }

    #[test]
    fn long_metakernel_names_survive_the_round_trip() {
        let mut l = lock();
        l.metakernel.name = format!("{}.tm", "juice_ops_v461_20251127_001_".repeat(6));
        assert!(mk_member(&l).len() > 100, "needs a GNU long-name header");
        let ks = kernels();
        let b = write(Vec::new(), Compression::None, &l, &mut &MK[..], &mut |k| {
            let bytes = ks.iter().find(|(n, _)| *n == k.name).unwrap().1.clone();
            Ok(Box::new(io::Cursor::new(bytes)))
        })
        .unwrap();
        let dir = tmp();
        assert_eq!(read(&mut &b[..], dir.path()).unwrap().lock, l);
    }

    /// A header block of `kind` and `size` (ustar layout, valid checksum).
    fn header_block(name: &str, kind: u8, size: u64) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    /// A PAX `x` header with `records`, its body padded to a block.
    fn pax(records: &str) -> Vec<u8> {
        let mut out = header_block("PaxHeaders/x", b'x', records.len() as u64);
        out.extend_from_slice(records.as_bytes());
        out.resize(out.len().div_ceil(512) * 512, 0);
        out
    }

    #[test]
    fn oversized_extension_headers_are_refused_before_they_are_read() {
        for kind in [b'L', b'K', b'x', b'g'] {
            let mut b = header_block("././@LongLink", kind, MAX_EXTENSION_LEN + 1);
            // Far fewer bytes than claimed: the refusal comes from the header alone.
            b.extend_from_slice(&[b'a'; 4096]);
            let e = read(&mut &b[..], tmp().path()).unwrap_err().to_string();
            assert!(e.contains("extension header of 65537 bytes"), "{e}");
        }
        let b = header_block("s", b'S', 10);
        let e = read(&mut &b[..], tmp().path()).unwrap_err().to_string();
        assert!(e.contains("sparse"), "{e}");
    }

    #[test]
    fn a_pax_header_keeps_the_guard_in_step() {
        // A PAX header without `size` before the first member: nothing changes.
        let mut b = pax("17 comment=hello\n");
        b.extend_from_slice(&bundle(Compression::None));
        assert_eq!(read(&mut &b[..], tmp().path()).unwrap().lock, lock());
        // A `size` record governs the next member's length, for the guard as for tar.
        assert_eq!(pax_size(b"11 size=99\n").unwrap(), Some(99));
        assert!(pax_size(b"11 size=zz\n").is_err());
        assert_eq!(header_size(b"00000001750\0"), Some(1000));
        assert_eq!(
            header_size(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
            Some(256)
        );
        assert_eq!(header_size(&[0xff; 12]), None);
    }

    #[test]
    fn export_refuses_bytes_that_are_not_locked() {
        let l = lock();
        let e = write(Vec::new(), Compression::None, &l, &mut &MK[..], &mut |_| {
            Ok(Box::new(io::Cursor::new(b"KPL/LSK\nother!\n".to_vec())))
        })
        .unwrap_err();
        assert!(matches!(e, Error::NotLocked { .. }), "{e:?}");
        let short = write(
            Vec::new(),
            Compression::None,
            &l,
            &mut &MK[..5],
            &mut |_| unreachable!(),
        )
        .unwrap_err();
        assert!(
            matches!(short, Error::NotLocked { len: 5, .. }),
            "{short:?}"
        );
    }

    /// A tar with members written byte for byte as given (no path sanitising).
    fn raw_tar(members: &[(&[u8], tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, data) in members {
            let mut h = tar::Header::new_gnu();
            h.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path);
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            if matches!(kind, tar::EntryType::Symlink | tar::EntryType::Link) {
                h.set_link_name("kdb.lock").unwrap();
            }
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn refused(bytes: &[u8]) -> Error {
        let dir = tmp();
        let e = read(&mut &bytes[..], dir.path()).unwrap_err();
        assert_eq!(entries(dir.path()), 0, "a refused import left staged files");
        e
    }

    #[test]
    fn hostile_bundles_are_refused_and_leave_nothing() {
        let l = lock();
        let text = l.to_toml();
        let lk = text.as_bytes();
        let ks = kernels();
        let (a, b) = (&ks[0].1[..], &ks[1].1[..]);
        let ka = kernel_member(&sha_of(a));
        let kb = kernel_member(&sha_of(b));
        let reg = tar::EntryType::Regular;
        let good: Vec<(&[u8], tar::EntryType, &[u8])> = vec![
            (b"kdb.lock", reg, lk),
            (b"mk/m.tm", reg, MK),
            (ka.as_bytes(), reg, a),
            (kb.as_bytes(), reg, b),
        ];
        read(&mut &raw_tar(&good)[..], tmp().path()).unwrap();
        let with = |extra: (&'static [u8], tar::EntryType, &'static [u8])| {
            let mut m = good.clone();
            m.insert(2, extra);
            raw_tar(&m)
        };
        for (case, bytes, want) in [
            ("dotdot", with((b"../x", reg, b"x")), "`..`"),
            (
                "nested dotdot",
                with((b"kernels/../../x", reg, b"x")),
                "`..`",
            ),
            ("absolute", with((b"/etc/x", reg, b"x")), "absolute"),
            (
                "symlink",
                with((b"kernels/s", tar::EntryType::Symlink, b"")),
                "symbolic link",
            ),
            (
                "hardlink",
                with((b"kernels/h", tar::EntryType::Link, b"")),
                "hard link",
            ),
            (
                "device",
                with((b"dev", tar::EntryType::Char, b"")),
                "device",
            ),
            ("fifo", with((b"fifo", tar::EntryType::Fifo, b"")), "FIFO"),
            ("stranger", with((b"README", reg, b"x")), "layout"),
            (
                "not locked",
                with((
                    b"kernels/0000000000000000000000000000000000000000000000000000000000000000",
                    reg,
                    b"x",
                )),
                "not in the lock",
            ),
        ] {
            let e = refused(&bytes);
            let msg = e.to_string();
            assert!(
                msg.contains("refusing") && msg.contains(want),
                "{case}: {msg}"
            );
        }
        // Duplicate names: the same member twice.
        let mut dup = good.clone();
        dup.push((ka.as_bytes(), reg, a));
        assert!(refused(&raw_tar(&dup)).to_string().contains("twice"));
        // Bytes that do not match the lock (same size).
        let mut wrong = good.clone();
        let other = vec![8u8; 3000];
        wrong[3] = (kb.as_bytes(), reg, &other);
        assert!(refused(&raw_tar(&wrong)).to_string().contains("hash to"));
        // The lock must come first.
        let mut late = good.clone();
        late.swap(0, 1);
        assert!(
            refused(&raw_tar(&late))
                .to_string()
                .contains("first member")
        );
        // A locked content missing.
        assert!(
            refused(&raw_tar(&good[..3]))
                .to_string()
                .contains("missing")
        );
        // Truncated anywhere, compressed or not.
        for c in [Compression::None, Compression::Zstd(3)] {
            let full = bundle(c);
            let cuts = match c {
                Compression::None => vec![full.len() / 2, full.len() - 1100, 700, 3],
                Compression::Zstd(_) => vec![full.len() / 2, full.len() - 3, 5],
            };
            for cut in cuts {
                let e = refused(&full[..cut]);
                assert!(e.to_string().contains("refusing"), "cut {cut}: {e}");
            }
        }
        assert!(matches!(refused(b""), Error::Invalid { .. }));
        // A broken lock member.
        let broken = raw_tar(&[(b"kdb.lock", reg, b"schema = 1\n")]);
        assert!(matches!(refused(&broken), Error::Lock(_)));
    }
}
