//! Archiving a user's file into the store (`scan --archive`, and `dedup`'s symbolic
//! links, which point only into the store): its bytes become their object — the
//! user's inode itself when it has no other name, else a verified copy — and a
//! symbolic link to the object takes its place.

use std::fs;
use std::path::Path;

use super::{Error, FileStamp, Home, fsio, hash};
use crate::db::{self, LocationKind, LocationRow};

/// Moves one regular file's content into the store and leaves a symlink in its place.
/// Returns the object's and the link's new rows, `None` when there is nothing to do.
pub fn archive_one(
    home: &Home,
    row: &LocationRow,
) -> std::result::Result<Option<(LocationRow, LocationRow)>, String> {
    let sha = row.sha256.clone();
    let object = home.object_path(&sha);
    let path = Path::new(&row.path);
    let err = |e: Error| format!("cannot archive: {}", crate::error_chain(&e));
    fsio::create_dir_all(object.parent().unwrap_or(Path::new("."))).map_err(err)?;
    if fs::symlink_metadata(&object).is_ok()
        && hash::hash_file(&object).map(|(h, _)| h).ok().as_ref() != Some(&sha)
    {
        // A damaged or planted object: set it aside, then store the user's good copy.
        let aside = home.quarantine_file(&object).map_err(err)?;
        tracing::warn!(object = %object.display(), aside = %aside.display(), "object did not hash to its name");
    }
    if fs::symlink_metadata(&object).is_err() {
        // Hard link the file into tmp/ (same filesystem as objects/), verify the bytes
        // still hash to what was scanned, then rename to the content-derived name.
        let staged = stage_copy_or_link(home, path, &row.filename).map_err(err)?;
        staged
            .verify(&row.filename, Some(row.stamp.size), Some(&sha))
            .map_err(err)?;
        staged.persist_if_absent(&object, true).map_err(err)?;
    }
    // The original bytes must still be what we scanned before we drop them.
    let (actual, _) = hash::hash_file(path).map_err(|e| format!("cannot read: {e}"))?;
    if actual != sha {
        return Err("changed since it was hashed; rescan".into());
    }
    fsio::replace_with_symlink(path, &object).map_err(err)?;
    let object_meta = fs::metadata(&object).map_err(|e| format!("cannot stat object: {e}"))?;
    let stamp = FileStamp::of(&object_meta);
    let object_str = object
        .to_str()
        .ok_or("object path is not UTF-8")?
        .to_owned();
    let object_row = LocationRow::object(&object, &sha, stamp, None, db::now());
    let link_row = LocationRow {
        kind: LocationKind::Symlink,
        link_target: Some(object_str),
        stamp,
        ..row.clone()
    };
    Ok(Some((object_row, link_row)))
}

/// A staged copy of `path` in `$KDB_HOME/tmp`: a hard link when on the same filesystem
/// (no bytes copied), otherwise a streamed, hashed copy.
fn stage_copy_or_link(home: &Home, path: &Path, name: &str) -> Result<fsio::Staged, Error> {
    // An inode with other names (a hard-linked backup) is never adopted: the store
    // object would share writes with the user's other name (invariant 10). Copy it.
    let shared = {
        use std::os::unix::fs::MetadataExt;
        fs::symlink_metadata(path).is_ok_and(|m| m.nlink() > 1)
    };
    if !shared && let Some(staged) = fsio::stage_hardlink(path, &home.tmp())? {
        return Ok(staged);
    }
    let mut file = fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    tracing::debug!(name, "different filesystem: copying into the store");
    fsio::stage(&home.tmp(), &mut file, &mut |_| {})
}
