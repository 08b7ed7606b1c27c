//! The checks `kdb verify` makes of what the catalogue records (`commands/verify.rs`
//! is the command): the quick check of one location (stat and readlink only), the
//! deep check that reads every physical file once (kind, DAF/DAS structure, SHA-256),
//! and the fix each finding suggests. Nothing here changes anything.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use rayon::prelude::*;
use serde::Serialize;

use super::daf;
use crate::db::{LocationKind, LocationRow};
use crate::kernel::{self, Detection, Format};
use crate::store::{FileStamp, Home, Sha256Hex};

report_status! {
    /// What is wrong at a path.
    pub enum Problem {
        /// The recorded path does not exist.
        Missing => "missing",
        /// A file where a link was recorded, or the reverse.
        WrongKind => "wrong_kind",
        /// A link points somewhere other than the object of its content.
        WrongLink => "wrong_link",
        /// A link whose target is gone.
        DanglingLink => "dangling_link",
        SizeMismatch => "size_mismatch",
        /// The bytes no longer hash to the recorded content.
        HashMismatch => "hash_mismatch",
        /// HTML, a Git LFS pointer or an empty file where a kernel should be.
        Impostor => "impostor",
        /// A DAF/DAS whose records are inconsistent (chain past EOF, FTP string, …).
        BadStructure => "bad_structure",
        /// A metakernel entry that does not resolve to a file.
        UnresolvedEntry => "unresolved_entry",
        /// The file differs from a published checksum table.
        ChecksumMismatch => "checksum_mismatch",
        /// The path cannot be read (permissions, I/O error).
        Unreadable => "unreadable",
        /// Warning: an object is writable (objects are 0444).
        WritableObject => "writable_object",
        /// Warning: modified since hashed, same size (quick mode cannot tell more).
        ChangedSinceHashed => "changed_since_hashed",
        /// Warning: a file in the object store the catalogue does not know.
        UntrackedObject => "untracked_object",
    }
}

impl Problem {
    /// Warnings exit 0 (1 with `--strict`); every other problem exits 3.
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            Problem::WritableObject | Problem::ChangedSinceHashed | Problem::UntrackedObject
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub path: String,
    pub sha256: Option<Sha256Hex>,
    pub problem: Problem,
    pub detail: String,
    pub fix: String,
}

/// What a fix suggestion needs to know.
pub struct FixContext<'a> {
    pub home: &'a Home,
    /// Entry path → source URL of a metakernel that lists it.
    pub owners: &'a HashMap<PathBuf, String>,
}

impl FixContext<'_> {
    /// How to get the right bytes back at `row`'s path.
    fn refetch(&self, row: &LocationRow) -> String {
        let path = Path::new(&row.path);
        if let Some(src) = self.owners.get(path) {
            return format!("kdb get --force {src}");
        }
        if !path.starts_with(self.home.root()) {
            let dir = path.parent().unwrap_or(path).display();
            return format!(
                "restore the file, then `kdb scan {dir}`; or `kdb prune --execute` to forget it"
            );
        }
        if row.kind == LocationKind::Object {
            // Never suggest deleting it: it may be the only copy (an archived file
            // no server publishes), and damaged bytes beat no bytes.
            return "do not delete it (it may be the only copy): `kdb get --force MK` (a metakernel \
                    that lists it) fetches the published bytes and sets this object aside; for a \
                    file you archived, put a good copy back and `kdb scan DIR --archive`"
                .into();
        }
        "kdb get --force MK (the metakernel that lists it), or `kdb prune --execute`".into()
    }
}

fn finding(row: &LocationRow, problem: Problem, detail: String, fix: String) -> Option<Finding> {
    Some(Finding {
        path: row.path.clone(),
        sha256: Some(row.sha256.clone()),
        problem,
        detail,
        fix,
    })
}

/// The quick check of one location (stat and readlink only).
pub fn quick_check(cx: &FixContext<'_>, row: &LocationRow) -> Option<Finding> {
    let path = Path::new(&row.path);
    let lmeta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return finding(
                row,
                Problem::Missing,
                "recorded location does not exist".into(),
                cx.refetch(row),
            );
        }
        Err(e) => return finding(row, Problem::Unreadable, e.to_string(), cx.refetch(row)),
    };
    let is_link = lmeta.file_type().is_symlink();
    match row.kind {
        LocationKind::Symlink if !is_link => {
            return finding(
                row,
                Problem::WrongKind,
                "recorded as a link, found a file".into(),
                cx.refetch(row),
            );
        }
        LocationKind::File | LocationKind::Object if is_link => {
            return finding(
                row,
                Problem::WrongKind,
                "recorded as a file, found a link".into(),
                cx.refetch(row),
            );
        }
        _ => {}
    }
    if row.kind == LocationKind::Symlink
        && let Some(f) = check_link(cx, row, path)
    {
        return Some(f);
    }
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return finding(
                row,
                Problem::DanglingLink,
                format!("link target unreadable: {e}"),
                cx.refetch(row),
            );
        }
    };
    if !meta.is_file() {
        return finding(
            row,
            Problem::WrongKind,
            "not a regular file".into(),
            cx.refetch(row),
        );
    }
    if meta.len() != row.stamp.size {
        let detail = format!("{} bytes, recorded {}", meta.len(), row.stamp.size);
        return finding(row, Problem::SizeMismatch, detail, cx.refetch(row));
    }
    if row.kind == LocationKind::Object && meta.permissions().mode() & 0o222 != 0 {
        let detail = format!(
            "mode {:o}; objects are read-only",
            meta.permissions().mode() & 0o777
        );
        return finding(
            row,
            Problem::WritableObject,
            detail,
            format!("chmod 0444 {}", row.path),
        );
    }
    if FileStamp::of(&meta) != row.stamp {
        return finding(
            row,
            Problem::ChangedSinceHashed,
            "inode or modification time changed since it was hashed".into(),
            "kdb verify --deep".into(),
        );
    }
    None
}

/// A link points at its recorded target, and that target is the object of its content.
fn check_link(cx: &FixContext<'_>, row: &LocationRow, path: &Path) -> Option<Finding> {
    let target = fs::read_link(path).ok()?;
    let object = cx.home.object_path(&row.sha256);
    let expected = row.link_target.as_deref().map(PathBuf::from);
    let target_abs = if target.is_absolute() {
        target.clone()
    } else {
        path.parent().unwrap_or(Path::new("/")).join(&target)
    };
    let in_store = target_abs.starts_with(cx.home.objects());
    if expected.as_deref().is_some_and(|e| e != target) || (in_store && target_abs != object) {
        let detail = format!(
            "points at `{}`, expected `{}`",
            target.display(),
            expected.unwrap_or(object).display()
        );
        return finding(row, Problem::WrongLink, detail, cx.refetch(row));
    }
    None
}

/// One physical file to hash: the path to open and the rows it backs.
struct Physical {
    path: String,
    rows: Vec<usize>,
    /// A name to classify the bytes by (a kernel file name, not a hash).
    name: String,
}

/// What reading one physical file found.
struct Examined {
    sha256: Option<Sha256Hex>,
    defect: Option<(Problem, String)>,
}

/// The deep check: reads every physical file the `rows` name once (grouped by inode,
/// in parallel) and the files of the object store no row names. `quick` holds each
/// row's quick finding and is updated in place; `canonical` names each content (to
/// classify an object's bytes by a kernel name). Returns the files checked beyond the
/// rows and the findings about them.
pub fn deep_check(
    cx: &FixContext<'_>,
    canonical: &HashMap<Sha256Hex, String>,
    rows: &[LocationRow],
    quick: &mut [Option<Finding>],
) -> (u64, Vec<Finding>) {
    let mut by_inode: BTreeMap<(u64, u64), Physical> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        if quick[i].as_ref().is_some_and(|f| {
            f.problem != Problem::ChangedSinceHashed && f.problem != Problem::WritableObject
        }) {
            continue;
        }
        let Ok(meta) = fs::metadata(&row.path) else {
            continue;
        };
        let name = if row.kind == LocationKind::Object {
            canonical.get(&row.sha256).cloned().unwrap_or_default()
        } else {
            row.filename.clone()
        };
        by_inode
            .entry((meta.dev(), meta.ino()))
            .or_insert_with(|| Physical {
                path: row.path.clone(),
                rows: Vec::new(),
                name,
            })
            .rows
            .push(i);
    }
    let mut files: Vec<Physical> = by_inode.into_values().collect();
    let strays = strays(cx.home, rows);
    files.extend(strays.iter().map(|p| Physical {
        path: p.display().to_string(),
        rows: Vec::new(),
        name: String::new(),
    }));
    let examined: Vec<Examined> = files
        .par_iter()
        .map(|f| examine(&f.path, &f.name))
        .collect();
    let mut untracked = Vec::new();
    for (f, ex) in files.iter().zip(examined) {
        if f.rows.is_empty() {
            untracked.push(untracked_finding(f, ex));
        } else {
            apply_examined(cx, rows, quick, f, ex);
        }
    }
    (untracked.len() as u64, untracked)
}

/// Files under `objects/` that no catalogue row names (never following links).
fn strays(home: &Home, rows: &[LocationRow]) -> Vec<PathBuf> {
    let known: HashSet<&str> = rows.iter().map(|r| r.path.as_str()).collect();
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(home.objects())
        .min_depth(1)
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        if entry.file_type().is_dir() {
            continue;
        }
        let p = entry.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with(crate::store::fsio::TEMP_PREFIX) {
            continue;
        }
        if !known.contains(p.to_str().unwrap_or("")) {
            out.push(p.to_path_buf());
        }
    }
    out
}

/// Reads one file once: kind, structure, SHA-256.
fn examine(path: &str, name: &str) -> Examined {
    let fail = |e: std::io::Error| Examined {
        sha256: None,
        defect: Some((Problem::Unreadable, e.to_string())),
    };
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut head = vec![0u8; kernel::HEAD_LEN.min(len as usize)];
    if let Err(e) = (&file).read_exact(&mut head) {
        return fail(e);
    }
    let defect = match kernel::detect(&head, name, len) {
        Detection::NotKernel(reason) => Some((Problem::Impostor, reason.to_owned())),
        Detection::Kernel {
            format: Format::Daf | Format::Das,
            ..
        } => match daf::check(&file, len) {
            Ok(()) => None,
            Err(daf::CheckError::Defect(d)) => Some((Problem::BadStructure, d.to_string())),
            Err(daf::CheckError::Io(e)) => Some((Problem::Unreadable, e.to_string())),
        },
        _ if len == 0 => Some((Problem::Impostor, "empty file".to_owned())),
        _ => None,
    };
    match hash_rest(&file, &head) {
        Ok(sha) => Examined {
            sha256: Some(sha),
            defect,
        },
        Err(e) => fail(e),
    }
}

thread_local! {
    /// One read buffer per hashing thread, reused across files.
    static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 1 << 18]);
}

/// SHA-256 of `head` followed by the rest of `file` (read from its current position).
fn hash_rest(mut file: &fs::File, head: &[u8]) -> std::io::Result<Sha256Hex> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    hasher.update(head);
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        loop {
            match file.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => hasher.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    })?;
    Ok(Sha256Hex::from_digest(hasher.finalize().into()))
}

/// A file of the object store no row names: what reading it found.
fn untracked_finding(f: &Physical, ex: Examined) -> Finding {
    let (problem, detail) = ex.defect.unwrap_or((
        Problem::UntrackedObject,
        "in the object store but not in the catalogue".to_owned(),
    ));
    let detail = match (&ex.sha256, Path::new(&f.path).file_name()) {
        (Some(sha), Some(n))
            if n.to_str() != Some(sha.as_str()) && problem == Problem::UntrackedObject =>
        {
            format!("{detail}; its name is not its SHA-256")
        }
        _ => detail,
    };
    Finding {
        path: f.path.clone(),
        sha256: ex.sha256,
        problem,
        detail,
        fix: "kdb prune --execute (removes files of the store nothing references)".into(),
    }
}

/// What reading one physical file found, applied to the rows it backs.
fn apply_examined(
    cx: &FixContext<'_>,
    rows: &[LocationRow],
    quick: &mut [Option<Finding>],
    f: &Physical,
    ex: Examined,
) {
    for &i in &f.rows {
        let row = &rows[i];
        let mismatch = ex.sha256.as_ref().is_some_and(|s| s != &row.sha256);
        let found = if mismatch {
            let actual = ex.sha256.as_ref().map(Sha256Hex::as_str).unwrap_or("");
            finding(
                row,
                Problem::HashMismatch,
                format!("bytes hash to {actual}"),
                cx.refetch(row),
            )
        } else if let Some((problem, detail)) = &ex.defect {
            finding(row, *problem, detail.clone(), cx.refetch(row))
        } else if quick[i]
            .as_ref()
            .is_some_and(|q| q.problem == Problem::ChangedSinceHashed)
        {
            None // the bytes are what was recorded; only the stat moved
        } else {
            quick[i].take()
        };
        quick[i] = found;
    }
}

/// The MD5 of a file (published checksum tables use it), `None` when unreadable.
pub fn md5_file(path: &Path) -> Option<String> {
    let mut file = fs::File::open(path).ok()?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}
