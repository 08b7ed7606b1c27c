//! Executing a `get` plan: downloaded contents become objects, the mission tree is
//! laid out (links or copies, replaced atomically), and the local metakernel is built.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::commands::{Ctx, Error, Result, mk};
use crate::content::Timestamp;
use crate::db::{LocationKind, LocationRow};
use crate::remote::fetch::Validators;
use crate::remote::plan::{self, RemotePlan};
use crate::store::{FileStamp, Sha256Hex, fsio, hash};
use crate::supply::Placed as PlacedObject;

/// Persists a verified download as its object (read-only, directory sync batched;
/// the object's shard directory exists). An object already there is trusted only
/// when `verified` — its recorded stamp — still matches or its bytes hash right
/// ([`crate::commands::place_object`]).
pub(crate) fn persist_object(
    ctx: &Ctx<'_>,
    d: crate::remote::fetch::Downloaded,
    verified: Option<FileStamp>,
    dir_syncs: &mut fsio::DirSyncs,
) -> std::result::Result<(Sha256Hex, PlacedObject, u64, Validators), crate::store::Error> {
    let sha = d.staged.sha256().clone();
    let len = d.staged.len();
    let object = crate::supply::place(&ctx.site(), d.staged, verified, dir_syncs)?;
    Ok((sha, object, len, d.validators))
}

/// Where the bytes of a present location live (an object, or the file itself).
pub(crate) fn content_path(ctx: &Ctx<'_>, row: &LocationRow) -> PathBuf {
    let object = ctx.home.object_path(&row.sha256);
    if object.exists() {
        object
    } else {
        PathBuf::from(&row.path)
    }
}

/// Where one entry's content goes, and how.
pub(crate) struct Placement<'a> {
    pub dest: &'a Path,
    pub object: &'a Path,
    pub sha: &'a Sha256Hex,
    pub entry: &'a plan::RemoteEntry,
    pub mission: &'a str,
    /// An independent copy (the mission's dedup flag is off) instead of a link.
    pub copy: bool,
}

/// Puts the object's content at the destination: a symlink, or an independent copy.
/// An existing entry is replaced by rename, never written into.
pub(crate) fn lay_out(
    p: &Placement<'_>,
    now: Timestamp,
    dirs: &mut fsio::DirSyncs,
) -> Result<LocationRow> {
    let Placement {
        dest,
        object,
        sha,
        entry: e,
        mission,
        copy,
    } = *p;
    let current_link = fs::read_link(dest).ok();
    let kind = if !copy {
        if current_link.as_deref() != Some(object) {
            fsio::replace_with_symlink_batched(dest, object, dirs)?;
        }
        LocationKind::Symlink
    } else {
        let same = fs::symlink_metadata(dest).is_ok_and(|m| m.is_file())
            && hash::hash_file(dest).is_ok_and(|(h, _)| &h == sha);
        if !same {
            let mut src = fs::File::open(object)
                .map_err(|err| crate::store::Error::io("open", object, err))?;
            let staged = fsio::stage(
                dest.parent().unwrap_or(Path::new("/")),
                &mut src,
                &mut |_| {},
            )?;
            staged.verify(&e.name, None, Some(sha))?;
            staged.persist_batched(dest, true, false, dirs)?;
        }
        LocationKind::File
    };
    let meta = fs::metadata(dest).map_err(|err| crate::store::Error::io("stat", dest, err))?;
    let stamp = FileStamp::of(&meta);
    Ok(LocationRow {
        path: dest.display().to_string(),
        filename: e.name.clone(),
        sha256: sha.clone(),
        mission: Some(mission.to_owned()),
        source_url: Some(e.url.to_string()),
        kind,
        link_target: (kind == LocationKind::Symlink).then(|| object.display().to_string()),
        stamp,
        hashed_at: now,
    })
}

/// The local metakernel: PATH_VALUES (or literal entries) made absolute into the tree.
pub(crate) fn local_metakernel(
    loaded: &mk::Loaded,
    p: &RemotePlan,
    root: &Path,
) -> Result<Vec<u8>> {
    let bytes = if p.literal {
        let by_raw: BTreeMap<String, String> = p
            .entries
            .iter()
            .map(|e| {
                (
                    e.raw.clone(),
                    root.join(e.local.as_str()).display().to_string(),
                )
            })
            .collect();
        loaded.mk.rewrite_entries(|e| by_raw.get(&e.raw).cloned())
    } else {
        let values: Vec<(String, String)> = p
            .symbols
            .iter()
            .map(|(name, dir)| (name.clone(), root.join(dir.as_str()).display().to_string()))
            .collect();
        loaded.mk.rewrite_path_values(&values)
    };
    bytes.map_err(|source| Error::Rewrite {
        path: loaded.origin.clone(),
        source,
    })
}
