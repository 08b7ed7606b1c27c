//! Putting verified bytes in the store as their object when an entry may already be
//! at the object's path (DESIGN.md §3, invariant 10: nothing is trusted because it is
//! already there).
//!
//! An object this process did not write is trusted only when the catalogue's row for
//! it still describes it — the stamp (device, inode, size, mtime) recorded when its
//! bytes were last hashed — so the warm path costs one `stat`. Otherwise it is
//! hashed; bytes that are not its name (a planted or damaged object, a link, a
//! directory) are moved to `quarantine/` — kept, never deleted — and replaced by the
//! verified bytes.

use std::fs;
use std::io;
use std::path::PathBuf;

use super::fsio::{DirSyncs, Staged};
use super::{Error, FileStamp, Home, hash};

/// What [`place`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// No object was there: the staged bytes became it.
    New,
    /// The object already held these bytes (its recorded stamp matched, or it was
    /// hashed); the staged bytes were dropped.
    Kept,
    /// The entry there did not hold these bytes: it was moved to the quarantine path
    /// given, and the staged bytes took its place.
    Replaced { quarantined: PathBuf },
}

/// Makes verified `staged` bytes the object of their hash. `verified` is the stamp
/// the catalogue recorded for the object when it was last hashed (its location
/// row), if any. The object's shard directory exists; directory syncs go to `dirs`.
pub fn place(
    home: &Home,
    staged: Staged,
    verified: Option<FileStamp>,
    dirs: &mut DirSyncs,
) -> Result<Placed, Error> {
    let object = home.object_path(staged.sha256());
    let meta = match fs::symlink_metadata(&object) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            staged.persist_batched(&object, true, true, dirs)?;
            return Ok(Placed::New);
        }
        Err(e) => return Err(Error::io("stat", &object, e)),
    };
    if meta.is_file() {
        if verified == Some(FileStamp::of(&meta)) {
            return Ok(Placed::Kept);
        }
        // Unreadable counts as not these bytes: it cannot be verified.
        if hash::hash_file(&object).is_ok_and(|(h, n)| &h == staged.sha256() && n == staged.len()) {
            return Ok(Placed::Kept);
        }
    }
    let quarantined = super::quarantine(home, &object)?;
    staged.persist_batched(&object, true, false, dirs)?;
    Ok(Placed::Replaced { quarantined })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fsio;

    fn staged(home: &Home, bytes: &[u8]) -> Staged {
        fsio::create_dir_all(&home.tmp()).unwrap();
        let mut reader = bytes;
        fsio::stage(&home.tmp(), &mut reader, &mut |_| {}).unwrap()
    }

    #[test]
    fn a_wrong_object_is_quarantined_and_replaced_a_right_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let first = staged(&home, b"right bytes");
        let sha = first.sha256().clone();
        let object = home.object_path(&sha);
        fsio::create_dir_all(object.parent().unwrap()).unwrap();
        let mut dirs = DirSyncs::default();
        assert_eq!(place(&home, first, None, &mut dirs).unwrap(), Placed::New);
        // Right bytes already there, nothing recorded: hashed and kept.
        let again = staged(&home, b"right bytes");
        assert_eq!(place(&home, again, None, &mut dirs).unwrap(), Placed::Kept);
        // A planted object under the same name: moved aside, replaced.
        fsio::remove_entry(&object).unwrap();
        let mut planted: &[u8] = b"planted";
        fsio::stage(&home.tmp(), &mut planted, &mut |_| {})
            .unwrap()
            .persist(&object, true)
            .unwrap();
        let stamp = FileStamp::of(&fs::metadata(&object).unwrap());
        let right = staged(&home, b"right bytes");
        // A stamp recorded for *other* bytes does not vouch for these.
        let other = FileStamp { size: 1, ..stamp };
        let Placed::Replaced { quarantined } = place(&home, right, Some(other), &mut dirs).unwrap()
        else {
            panic!("planted object kept");
        };
        assert_eq!(fs::read(&quarantined).unwrap(), b"planted");
        assert!(quarantined.starts_with(home.quarantine()));
        assert_eq!(fs::read(&object).unwrap(), b"right bytes");
        // The recorded stamp of the object is trusted without hashing (warm path).
        let stamp = FileStamp::of(&fs::metadata(&object).unwrap());
        let warm = staged(&home, b"right bytes");
        assert_eq!(
            place(&home, warm, Some(stamp), &mut dirs).unwrap(),
            Placed::Kept
        );
        // A second quarantine of the same name does not replace the first.
        let second = super::super::quarantine(&home, &object).unwrap();
        assert_ne!(second, quarantined);
        assert_eq!(fs::read(&quarantined).unwrap(), b"planted");
    }
}
