//! Deduplication in the store's terms: which copies of a content become links to
//! which kept copy (the pure [`plan`] over catalogue rows), and carrying out one
//! group with every re-check (`kdb dedup`, `commands/dedup.rs`, is the command).
//!
//! Safety rules: the kept copy is re-checked before its group is touched (it must
//! exist, be a regular file and hash to the recorded content) and its stat is
//! re-checked before every replacement; each victim is re-hashed just before it is
//! replaced and skipped if it changed since the scan; a victim is replaced by an
//! atomic link-over-rename, so at every instant each path reads the same bytes and
//! the last real copy is never removed. Symbolic links point only into the store
//! ([`Archivable`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::{FileStamp, Home, Sha256Hex, fsio, hash};
use crate::db::{self, LocationKind, LocationRow};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LinkMode {
    #[default]
    Symlink,
    Hardlink,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Group {
    pub sha256: Sha256Hex,
    pub size: u64,
    pub keep: String,
    pub replace: Vec<String>,
    /// `keep` is the object the first of `replace` is archived into before the others
    /// link to it.
    #[serde(skip)]
    pub archive_first: bool,
}

#[derive(Clone, Debug, Serialize, Default, PartialEq, Eq)]
pub struct Plan {
    pub groups: Vec<Group>,
    /// Physical bytes freed if every replacement succeeds (once per inode, and only
    /// for inodes all of whose names are replaced).
    pub bytes_saved: u64,
}

#[derive(Debug, Serialize)]
pub struct SkippedReplacement {
    pub path: String,
    pub keep: String,
    pub reason: DedupSkip,
}

/// Where symbolic links may point: a link to a user's file breaks while that file's
/// directory is away (an unplugged disk), so a content the store does not hold yet is
/// first archived into it, and every copy then links to the object. `archivable`
/// names the object of a binary kernel and `None` for anything else: text kernels,
/// which users edit, are never replaced by a link into the read-only store (as with
/// `scan --archive`); hard links may join them.
pub type Archivable<'a> = &'a dyn Fn(&Sha256Hex) -> Option<PathBuf>;

/// Builds the plan from catalogue rows (pure). `nlink` gives the link count of each
/// (dev, ino) so freed bytes are only counted for inodes that lose every name.
/// `archivable` is given for symbolic links ([`Archivable`]); hard links may join
/// any two copies on one filesystem.
pub fn plan(
    rows: &[LocationRow],
    excluded: &HashSet<String>,
    mission: Option<&str>,
    nlink: &HashMap<(u64, u64), u64>,
    archivable: Option<Archivable<'_>>,
) -> Plan {
    let in_scope = |r: &LocationRow| {
        let m = r.mission.as_deref().map(str::to_ascii_lowercase);
        if m.as_ref().is_some_and(|m| excluded.contains(m)) {
            return false;
        }
        mission.is_none_or(|want| m.as_deref() == Some(&want.to_ascii_lowercase()))
    };
    let mut by_sha: BTreeMap<&Sha256Hex, Vec<&LocationRow>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.kind != LocationKind::Symlink) {
        by_sha.entry(&r.sha256).or_default().push(r);
    }
    let mut out = Plan::default();
    for (sha, mut copies) in by_sha {
        // Keep the store's object if there is one, else the first path in order.
        copies.sort_by(|a, b| {
            (a.kind != LocationKind::Object, &a.path)
                .cmp(&(b.kind != LocationKind::Object, &b.path))
        });
        let keep = copies[0];
        let object = archivable.map(|object| object(sha));
        if object.as_ref().is_some_and(Option::is_none) {
            continue; // a text kernel: no symbolic link to it
        }
        let to_archive = object
            .flatten()
            .filter(|_| keep.kind != LocationKind::Object);
        let victims: Vec<&LocationRow> = copies
            .iter()
            .copied()
            .filter(|r| {
                r.kind == LocationKind::File
                    && (to_archive.is_some()
                        || (r.stamp.dev, r.stamp.ino) != (keep.stamp.dev, keep.stamp.ino))
                    && in_scope(r)
            })
            .collect();
        // Archiving the first copy moves its inode into the store: nothing is saved
        // until a second copy links to it.
        if victims.len() < 1 + usize::from(to_archive.is_some()) {
            continue;
        }
        let mut per_inode: HashMap<(u64, u64), u64> = HashMap::new();
        for v in &victims {
            *per_inode.entry((v.stamp.dev, v.stamp.ino)).or_default() += 1;
        }
        let mut saved = 0;
        for (inode, names) in per_inode {
            if nlink.get(&inode).copied().unwrap_or(1) <= names {
                saved += keep.stamp.size;
            }
        }
        if to_archive.is_some() {
            saved = saved.saturating_sub(keep.stamp.size);
        }
        out.bytes_saved += saved;
        out.groups.push(Group {
            sha256: sha.clone(),
            size: keep.stamp.size,
            keep: to_archive
                .as_ref()
                .map_or_else(|| keep.path.clone(), |object| object.display().to_string()),
            replace: victims.iter().map(|v| v.path.clone()).collect(),
            archive_first: to_archive.is_some(),
        });
    }
    out
}

/// The link count of each file row's inode (`(dev, ino)`).
pub fn link_counts(rows: &[LocationRow]) -> HashMap<(u64, u64), u64> {
    use std::os::unix::fs::MetadataExt;
    rows.iter()
        .filter(|r| r.kind == LocationKind::File)
        .filter_map(|r| fs::symlink_metadata(&r.path).ok())
        .map(|meta| ((meta.dev(), meta.ino()), meta.nlink()))
        .collect()
}

/// What carrying out the plan did so far: the rows to commit, the inodes that lost
/// names, and each copy left alone.
#[derive(Default)]
pub struct Execution {
    pub updates: Vec<LocationRow>,
    /// Per replaced inode: (names replaced, size).
    pub freed: HashMap<(u64, u64), (u64, u64)>,
    pub replaced: u64,
    pub skipped: Vec<SkippedReplacement>,
}

impl Execution {
    /// Carries out one group: archives its first copy when the plan says so, then
    /// replaces each other copy by a link to the verified kept copy. `advance` is
    /// told of each copy done.
    pub fn group(
        &mut self,
        home: &Home,
        group: &Group,
        by_path: &HashMap<&str, &LocationRow>,
        mode: LinkMode,
        advance: &mut dyn FnMut(u64),
    ) {
        let keep = Path::new(&group.keep);
        let skip = |path: &String, reason| SkippedReplacement {
            path: path.clone(),
            keep: group.keep.clone(),
            reason,
        };
        let mut victims = group.replace.as_slice();
        if group.archive_first
            && let Some(first) = victims.first()
            && let Some(row) = by_path.get(first.as_str())
        {
            advance(1);
            victims = &victims[1..];
            match super::archive::archive_one(home, row) {
                Ok(Some((object, link))) => {
                    self.replaced += 1;
                    self.updates.extend([object, link]);
                }
                Ok(None) => {}
                Err(reason) => self.skipped.push(skip(first, DedupSkip::Archive(reason))),
            }
        }
        let keep_stamp = match check_kept(keep, &group.sha256) {
            Ok(stamp) => stamp,
            Err(reason) => {
                for victim in victims {
                    self.skipped.push(skip(victim, reason.clone()));
                }
                advance(victims.len() as u64);
                return;
            }
        };
        for victim in victims {
            advance(1);
            let Some(row) = by_path.get(victim.as_str()) else {
                continue;
            };
            match replace_one(keep, keep_stamp, row, mode) {
                Ok((new_row, (inode, size))) => {
                    self.replaced += 1;
                    self.freed.entry(inode).or_insert((0, size)).0 += 1;
                    self.updates.push(new_row);
                }
                Err(reason) => self.skipped.push(skip(victim, reason)),
            }
        }
    }
}

/// Why a copy was left as it is (never fatal; the report lists each).
#[derive(Debug, Clone)]
pub enum DedupSkip {
    KeptGone {
        keep: PathBuf,
        source: Arc<io::Error>,
    },
    KeptNotRegular {
        keep: PathBuf,
    },
    KeptUnreadable(Arc<io::Error>),
    KeptChanged {
        keep: PathBuf,
    },
    /// The kept copy's stat changed while dedup was running.
    KeptChangedDuring,
    Gone(Arc<io::Error>),
    NotRegular,
    Unreadable(Arc<io::Error>),
    Changed,
    OtherFilesystem,
    /// Replacing the entry failed (the original is untouched: replacement is a rename).
    Replace(Arc<crate::store::Error>),
    /// Archiving the first copy into the store failed (it is untouched).
    Archive(String),
}

impl std::fmt::Display for DedupSkip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DedupSkip::KeptGone { keep, source } => {
                write!(f, "kept copy `{}` is gone: {source}", keep.display())
            }
            DedupSkip::KeptNotRegular { keep } => {
                write!(
                    f,
                    "kept copy `{}` is no longer a regular file",
                    keep.display()
                )
            }
            DedupSkip::KeptUnreadable(e) => write!(f, "cannot read kept copy: {e}"),
            DedupSkip::KeptChanged { keep } => write!(
                f,
                "kept copy `{}` changed since it was scanned",
                keep.display()
            ),
            DedupSkip::KeptChangedDuring => f.write_str("kept copy changed during dedup"),
            DedupSkip::Gone(e) => write!(f, "gone since it was scanned: {e}"),
            DedupSkip::NotRegular => f.write_str("no longer a regular file"),
            DedupSkip::Unreadable(e) => write!(f, "cannot read: {e}"),
            DedupSkip::Changed => {
                f.write_str("changed since it was scanned (hash differs); rescan first")
            }
            DedupSkip::OtherFilesystem => {
                f.write_str("on another filesystem than the kept copy; use `--link symlink`")
            }
            DedupSkip::Replace(e) => f.write_str(&crate::error_chain(e.as_ref())),
            DedupSkip::Archive(reason) => f.write_str(reason),
        }
    }
}

impl Serialize for DedupSkip {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The kept copy must exist, be a regular file (not a link) and hash correctly.
fn check_kept(keep: &Path, sha256: &Sha256Hex) -> std::result::Result<FileStamp, DedupSkip> {
    let meta = fs::symlink_metadata(keep).map_err(|source| DedupSkip::KeptGone {
        keep: keep.to_path_buf(),
        source: Arc::new(source),
    })?;
    if !meta.is_file() {
        return Err(DedupSkip::KeptNotRegular {
            keep: keep.to_path_buf(),
        });
    }
    let (actual, _) = hash::hash_file(keep).map_err(|e| DedupSkip::KeptUnreadable(Arc::new(e)))?;
    if &actual != sha256 {
        return Err(DedupSkip::KeptChanged {
            keep: keep.to_path_buf(),
        });
    }
    Ok(FileStamp::of(&meta))
}

/// The inode a replacement took a name from, with its size.
type ReplacedInode = ((u64, u64), u64);

/// Re-verifies one victim and replaces it with a link to `keep`. Returns its new row
/// and the old inode with its size.
fn replace_one(
    keep: &Path,
    keep_stamp: FileStamp,
    row: &LocationRow,
    mode: LinkMode,
) -> std::result::Result<(LocationRow, ReplacedInode), DedupSkip> {
    let now_keep = fs::symlink_metadata(keep).map_err(|source| DedupSkip::KeptGone {
        keep: keep.to_path_buf(),
        source: Arc::new(source),
    })?;
    if !now_keep.is_file() || FileStamp::of(&now_keep) != keep_stamp {
        return Err(DedupSkip::KeptChangedDuring);
    }
    let path = Path::new(&row.path);
    let meta = fs::symlink_metadata(path).map_err(|e| DedupSkip::Gone(Arc::new(e)))?;
    if !meta.is_file() {
        return Err(DedupSkip::NotRegular);
    }
    let (actual, _) = hash::hash_file(path).map_err(|e| DedupSkip::Unreadable(Arc::new(e)))?;
    if actual != row.sha256 {
        return Err(DedupSkip::Changed);
    }
    let old = FileStamp::of(&meta);
    let err = |e| DedupSkip::Replace(Arc::new(e));
    let mut new_row = row.clone();
    match mode {
        LinkMode::Symlink => {
            fsio::replace_with_symlink(path, keep).map_err(err)?;
            new_row.kind = LocationKind::Symlink;
            new_row.link_target = keep.to_str().map(str::to_owned);
        }
        LinkMode::Hardlink => {
            if old.dev != keep_stamp.dev {
                return Err(DedupSkip::OtherFilesystem);
            }
            fsio::replace_with_hardlink(path, keep).map_err(err)?;
            new_row.kind = LocationKind::File;
            new_row.link_target = None;
        }
    }
    new_row.stamp = keep_stamp;
    new_row.hashed_at = db::now();
    Ok((new_row, ((old.dev, old.ino), old.size)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        path: &str,
        sha: &str,
        ino: u64,
        kind: LocationKind,
        mission: Option<&str>,
    ) -> LocationRow {
        LocationRow {
            path: path.into(),
            filename: path.rsplit('/').next().unwrap().into(),
            sha256: Sha256Hex::parse(&sha.repeat(32)).unwrap(),
            mission: mission.map(Into::into),
            source_url: None,
            kind,
            link_target: None,
            stamp: FileStamp {
                dev: 1,
                ino,
                size: 100,
                mtime_ns: 0,
            },
            hashed_at: crate::content::Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
        }
    }

    #[test]
    fn keeps_object_first_and_skips_links_and_same_inode() {
        let rows = vec![
            row("/a/x.bsp", "aa", 1, LocationKind::File, None),
            row("/b/y.bsp", "aa", 2, LocationKind::File, None),
            row("/b/y2.bsp", "aa", 2, LocationKind::File, None),
            row("/s/aa", "aa", 3, LocationKind::Object, None),
            row("/c/z.bsp", "aa", 3, LocationKind::Symlink, None),
            row("/d/solo.bc", "bb", 9, LocationKind::File, None),
        ];
        let nlink = HashMap::from([((1, 1), 1), ((1, 2), 2)]);
        let p = plan(&rows, &HashSet::new(), None, &nlink, None);
        assert_eq!(p.groups.len(), 1);
        assert_eq!(p.groups[0].keep, "/s/aa");
        assert_eq!(
            p.groups[0].replace,
            vec!["/a/x.bsp", "/b/y.bsp", "/b/y2.bsp"]
        );
        assert_eq!(p.bytes_saved, 200, "two inodes freed, each counted once");
    }

    #[test]
    fn symlinks_point_into_the_store_and_never_at_text_kernels() {
        let rows = vec![
            row("/a/x.bsp", "aa", 1, LocationKind::File, None),
            row("/b/y.bsp", "aa", 2, LocationKind::File, None),
            row("/a/t.tf", "bb", 3, LocationKind::File, None),
            row("/a/u.tf", "bb", 4, LocationKind::File, None),
            row("/b/t.tf", "bb", 5, LocationKind::File, None),
        ];
        let object =
            |sha: &Sha256Hex| (sha.as_str().starts_with("aa")).then(|| PathBuf::from("/s/aa"));
        let p = plan(&rows, &HashSet::new(), None, &HashMap::new(), Some(&object));
        // The binary content is archived (x.bsp's inode becomes the object), and both
        // copies link to the object: one copy's bytes saved.
        assert_eq!(p.groups[0].keep, "/s/aa");
        assert!(p.groups[0].archive_first);
        assert_eq!(p.groups[0].replace, vec!["/a/x.bsp", "/b/y.bsp"]);
        // The text content is left alone.
        assert_eq!(p.groups.len(), 1);
        assert_eq!(p.bytes_saved, 100);
    }

    #[test]
    fn inode_with_outside_names_is_not_counted_as_freed() {
        let rows = vec![
            row("/a/x.bsp", "aa", 1, LocationKind::File, None),
            row("/b/y.bsp", "aa", 2, LocationKind::File, None),
        ];
        let nlink = HashMap::from([((1, 2), 3)]);
        let p = plan(&rows, &HashSet::new(), None, &nlink, None);
        assert_eq!(p.groups[0].replace, vec!["/b/y.bsp"]);
        assert_eq!(p.bytes_saved, 0);
    }

    #[test]
    fn excluded_and_other_missions_are_not_victims() {
        let rows = vec![
            row("/a/x.bsp", "aa", 1, LocationKind::File, Some("JUICE")),
            row("/b/y.bsp", "aa", 2, LocationKind::File, Some("MEX")),
            row("/c/z.bsp", "aa", 3, LocationKind::File, Some("juice")),
        ];
        let excluded = HashSet::from(["mex".to_owned()]);
        let p = plan(&rows, &excluded, None, &HashMap::new(), None);
        assert_eq!(p.groups[0].replace, vec!["/c/z.bsp"]);
        let p = plan(&rows, &HashSet::new(), Some("MEX"), &HashMap::new(), None);
        assert_eq!(p.groups[0].replace, vec!["/b/y.bsp"]);
    }
}
