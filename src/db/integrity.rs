//! Catalogue queries of the integrity commands (`verify`, `prune`, `pin`,
//! `metakernels --remove`, `outdated`): pins, removed metakernels, and the deletions
//! `prune` commits.
//!
//! Invariants: a pin row names a content that has a `kernels` row (foreign key);
//! `prune` deletes `locations` rows (and removed-metakernel rows) only, never
//! `kernels`, `kernel_aliases` or `downloads` rows: provenance is not erased.

use rusqlite::params;
use serde::Serialize;

use super::{Catalogue, Error, MetakernelRow, Tx};
use crate::content::{Sha256Hex, Timestamp};

/// One pinned content, under the label it was pinned by.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PinRow {
    pub label: String,
    pub sha256: Sha256Hex,
    /// `metakernel` or `kernel`.
    pub kind: String,
    pub pinned_at: Timestamp,
}

/// A metakernel removed with `metakernels --remove`, whose local `.tm` the next
/// `prune` deletes.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RemovedMetakernel {
    pub local_path: String,
    pub name: String,
    pub source_url: String,
    pub removed_at: Timestamp,
}

impl Catalogue {
    pub fn pins(&self) -> Result<Vec<PinRow>, Error> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT label, sha256, kind, pinned_at FROM pins ORDER BY label, sha256",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PinRow {
                label: r.get(0)?,
                sha256: r.get(1)?,
                kind: r.get(2)?,
                pinned_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn removed_metakernels(&self) -> Result<Vec<RemovedMetakernel>, Error> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT local_path, name, source_url, removed_at FROM removed_metakernels ORDER BY local_path",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(RemovedMetakernel {
                local_path: r.get(0)?,
                name: r.get(1)?,
                source_url: r.get(2)?,
                removed_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Registered metakernels whose name or source URL is exactly `key`.
    pub fn metakernels_exactly(&self, key: &str) -> Result<Vec<MetakernelRow>, Error> {
        Ok(self
            .metakernels()?
            .into_iter()
            .filter(|m| m.name == key || m.source_url == key)
            .collect())
    }
}

impl Tx<'_> {
    /// Pins `sha256` under `label`; `false` when it already was.
    pub fn insert_pin(&self, label: &str, sha256: &Sha256Hex, kind: &str) -> Result<bool, Error> {
        let n = self.conn().execute(
            "INSERT OR IGNORE INTO pins (label, sha256, kind, pinned_at) VALUES (?1, ?2, ?3, ?4)",
            params![label, sha256, kind, super::now()],
        )?;
        Ok(n > 0)
    }

    /// Removes every pin under `label`; returns how many.
    pub fn delete_pins(&self, label: &str) -> Result<usize, Error> {
        Ok(self
            .conn()
            .execute("DELETE FROM pins WHERE label = ?1", params![label])?)
    }

    /// Unregisters a metakernel and remembers its local `.tm` for the next prune.
    pub fn remove_metakernel(&self, m: &MetakernelRow) -> Result<(), Error> {
        self.conn().execute(
            "INSERT OR REPLACE INTO removed_metakernels (local_path, name, source_url, removed_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![m.local_path, m.name, m.source_url, super::now()],
        )?;
        self.conn()
            .execute("DELETE FROM metakernels WHERE id = ?1", params![m.id])?;
        Ok(())
    }

    pub fn forget_removed_metakernel(&self, local_path: &str) -> Result<(), Error> {
        self.conn().execute(
            "DELETE FROM removed_metakernels WHERE local_path = ?1",
            params![local_path],
        )?;
        Ok(())
    }
}
