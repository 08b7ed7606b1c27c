//! How verified bytes become an object, and the one provenance record of every
//! content that arrives (get, restore, import, team warm): its kernel row, object
//! location, alias, download record, coverage index, and the pin of a content found in
//! the store without a row (DESIGN.md §3, invariants 9 and 10).

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::Site;
use crate::content::Timestamp;
use crate::db::{self, LocationRow, NewKernel};
use crate::kernel::{self, Detection};
use crate::remote::fetch::Validators;
use crate::store::{self, FileStamp, Home, Sha256Hex, fsio};

/// The stamps the catalogue recorded for the objects of `hashes` when their bytes
/// were last hashed (their object location rows): an object whose stamp still
/// matches need not be hashed again before it is linked ([`store::object::place`]).
pub fn verified_stamps<'a>(
    home: &Home,
    cat: &db::Catalogue,
    hashes: impl IntoIterator<Item = &'a Sha256Hex>,
) -> Result<HashMap<Sha256Hex, FileStamp>, db::Error> {
    let paths: Vec<String> = hashes
        .into_iter()
        .map(|sha| home.object_path(sha).display().to_string())
        .collect();
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    Ok(cat
        .locations_at(&refs)?
        .into_values()
        .filter(|row| row.kind == db::LocationKind::Object)
        .map(|row| (row.sha256, row.stamp))
        .collect())
}

/// Makes verified `staged` bytes their object ([`store::object::place`]): an entry
/// already there is trusted only when `verified` (its recorded stamp) still matches
/// or its bytes hash right; otherwise it is quarantined, with a warning, and replaced.
/// The object's shard directory exists.
pub fn place(
    site: &Site<'_>,
    staged: fsio::Staged,
    verified: Option<FileStamp>,
    dirs: &mut fsio::DirSyncs,
) -> Result<Placed, store::Error> {
    let path = site.home.object_path(staged.sha256());
    let placed = store::object::place(site.home, staged, verified, dirs)?;
    if let store::object::Placed::Replaced { quarantined } = &placed {
        site.reporter.warn(&format!(
            "`{}` did not hold its content; moved it to `{}` and stored the verified bytes",
            path.display(),
            quarantined.display()
        ));
    }
    Ok(Placed {
        path,
        found: placed == store::object::Placed::Kept && verified.is_none(),
    })
}

/// Where [`place`] put a content, and whether it was already there unknown.
pub struct Placed {
    pub path: PathBuf,
    /// The store already held these bytes and the catalogue had no row for them (a
    /// `reset`, a lost catalogue, a killed run): a link the user archived may point
    /// at the object, so its rows pin it ([`FOUND_PIN_LABEL`]).
    pub found: bool,
}

/// The pin label of contents found in the object store without a catalogue row
/// (DESIGN.md §3, invariant 9): `prune` keeps them until `kdb unpin` of this label.
pub const FOUND_PIN_LABEL: &str = "found in the store";

/// One downloaded content, persisted as an object, ready to be recorded.
pub struct Arrived {
    name: String,
    url: String,
    validators: Validators,
    kernel_type: &'static str,
    byte_order: Option<&'static str>,
    object: LocationRow,
    /// The coverage index entry of a binary kernel.
    index: Option<db::CoverageRow>,
    /// The object was already in the store, unknown to the catalogue: pinned.
    found_in_store: bool,
    /// The mission mirror that served `url`, when the primary did not.
    served_by: Option<String>,
}

impl Arrived {
    /// Marks the object as found in the store without a catalogue row
    /// ([`Placed::found`]): its rows pin it.
    pub fn found_in_store(mut self, found: bool) -> Self {
        self.found_in_store = found;
        self
    }

    /// The mission mirror that served the bytes, if one did.
    pub fn served(&self) -> Option<&str> {
        self.served_by.as_deref()
    }

    /// Records the mission mirror that served the bytes (`None`: `url` itself).
    pub fn served_by(mut self, served_by: Option<String>) -> Self {
        self.served_by = served_by;
        self
    }

    /// Writes its rows: content, object location, alias, download record, coverage
    /// index, and the pin of a content found in the store.
    pub fn record(&self, tx: &db::Tx<'_>) -> Result<(), db::Error> {
        tx.insert_kernel(&NewKernel {
            sha256: &self.object.sha256,
            filename: &self.name,
            kernel_type: self.kernel_type,
            byte_order: self.byte_order,
            size: self.object.stamp.size,
        })?;
        tx.upsert_location(&self.object)?;
        if self.found_in_store {
            tx.insert_pin(FOUND_PIN_LABEL, &self.object.sha256, "kernel")?;
        }
        if let Some(entry) = &self.index {
            tx.upsert_coverage(entry)?;
        }
        tx.insert_alias(&self.object.sha256, &self.name, Some(&self.url))?;
        tx.upsert_download(&db::DownloadRow {
            url: self.url.clone(),
            sha256: self.object.sha256.clone(),
            etag: self.validators.etag.clone(),
            last_modified: self.validators.last_modified.clone(),
            size: self.object.stamp.size,
            fetched_at: self.object.hashed_at,
        })?;
        tx.set_served_by(&self.url, self.served_by.as_deref())?;
        Ok(())
    }
}

/// Classifies a persisted object and builds its rows.
pub fn arrived(
    name: &str,
    url: &str,
    validators: Validators,
    sha: &Sha256Hex,
    object: &Path,
    len: u64,
    now: Timestamp,
) -> Result<Arrived, store::Error> {
    let mut head = Vec::with_capacity(kernel::HEAD_LEN);
    fs::File::open(object)
        .and_then(|f| f.take(kernel::HEAD_LEN as u64).read_to_end(&mut head))
        .map_err(|e| store::Error::io("read", object, e))?;
    let (kernel_type, byte_order) = match kernel::detect(&head, name, len) {
        Detection::Kernel {
            kernel_type,
            byte_order,
            ..
        } => (kernel_type.as_str(), byte_order.map(|b| b.as_str())),
        _ => ("unknown", None),
    };
    let meta = fs::metadata(object).map_err(|e| store::Error::io("stat", object, e))?;
    let stamp = FileStamp::of(&meta);
    Ok(Arrived {
        name: name.to_owned(),
        url: url.to_owned(),
        validators,
        kernel_type,
        byte_order,
        object: LocationRow::object(object, sha, stamp, Some(url.to_owned()), now),
        index: (byte_order.is_some() && db::INDEXED_TYPES.contains(&kernel_type))
            .then(|| super::index_file(object, sha)),
        found_in_store: false,
        served_by: None,
    })
}
