//! The local store as a source: the object of a hash (re-hashed before it counts),
//! else an intact catalogued copy adopted into the store.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Arrived, Found, Result, Site, Want};
use crate::content::Timestamp;
use crate::db::{Catalogue, LocationRow};
use crate::store::{FileStamp, Sha256Hex, fsio, hash};

/// The path still holds the bytes the catalogue recorded: its stat (following a
/// link) is unchanged since it was hashed.
pub fn intact(row: &LocationRow) -> bool {
    std::fs::metadata(&row.path).is_ok_and(|m| FileStamp::of(&m) == row.stamp)
}

/// Takes from `wants` what the local store holds intact (objects re-hashed in
/// parallel: a restore from the store is mostly this) into `found`; returns the
/// rest, each with why the store could not serve it.
pub fn from_store(
    site: &Site<'_>,
    cat: &Catalogue,
    wants: &mut Vec<Want>,
    now: Timestamp,
    found: &mut Found,
) -> Result<Vec<Want>> {
    let hashes: Vec<Option<Sha256Hex>> = {
        use rayon::prelude::*;
        wants
            .par_iter()
            .map(|w| {
                hash::hash_file(&site.home.object_path(&w.sha))
                    .ok()
                    .map(|(h, _)| h)
            })
            .collect()
    };
    let mut remaining = Vec::new();
    for (mut w, object_hash) in wants.drain(..).zip(hashes) {
        w.repair = object_hash.as_ref().is_some_and(|h| *h != w.sha);
        match held(site, cat, &w, object_hash, now)? {
            Ok((object, arrived)) => {
                found.from_store += 1;
                found.objects.insert(w.sha.clone(), object);
                found.arrivals.extend(arrived);
            }
            Err(why) => {
                w.tried("local store", why);
                remaining.push(w);
            }
        }
    }
    Ok(remaining)
}
/// The store object holding `w`'s bytes (`object_hash`: what the object hashes to,
/// if it exists), adopting an intact catalogued copy into the store when there is no
/// object yet; `Err` says why not.
pub fn held(
    site: &Site<'_>,
    cat: &Catalogue,
    w: &Want,
    object_hash: Option<Sha256Hex>,
    now: Timestamp,
) -> Result<std::result::Result<(PathBuf, Option<Arrived>), String>> {
    let object = site.home.object_path(&w.sha);
    let known = cat.kernel(&w.sha)?.is_some();
    match object_hash {
        Some(h) if h == w.sha => {
            let arrived = if known {
                None
            } else {
                Some(w.arrived(&object, now)?)
            };
            return Ok(Ok((object, arrived)));
        }
        _ => {}
    }
    for row in cat.locations_of(&w.sha)? {
        if !intact(&row) {
            continue;
        }
        if let Some(object) = adopt(site, &row, &w.sha, w.repair)? {
            let arrived = w.arrived(&object, now)?;
            return Ok(Ok((object, Some(arrived))));
        }
    }
    Ok(Err(if w.repair {
        format!(
            "object `{}` holds other bytes (corrupt store) and no intact copy is catalogued",
            object.display()
        )
    } else {
        "not held".into()
    }))
}

/// Copies (or hard-links) a catalogued file into the store when its bytes still
/// hash to `sha`.
pub fn adopt(
    site: &Site<'_>,
    row: &LocationRow,
    sha: &Sha256Hex,
    repair: bool,
) -> Result<Option<PathBuf>> {
    let src = Path::new(&row.path);
    let tmp = site.home.tmp();
    let staged = match fsio::stage_hardlink(src, &tmp) {
        Ok(Some(s)) => s,
        Ok(None) | Err(_) => match fs::File::open(src) {
            Ok(mut f) => fsio::stage(&tmp, &mut f, &mut |_| {})?,
            Err(_) => return Ok(None),
        },
    };
    if staged.sha256() != sha {
        return Ok(None);
    }
    let object = site.home.object_path(sha);
    fsio::create_dir_all(object.parent().unwrap_or(Path::new("/")))?;
    if repair {
        staged.persist(&object, true)?;
    } else {
        staged.persist_if_absent(&object, true)?;
    }
    Ok(Some(object))
}
