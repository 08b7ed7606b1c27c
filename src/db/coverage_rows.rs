//! Rows of the coverage index (`coverage` table, migration 4): one per binary content,
//! written when the content is registered or on first use (backfill).

use rusqlite::{OptionalExtension, params};

use super::{Catalogue, Error, Tx};
use crate::content::{Sha256Hex, Timestamp};

/// Kernel types (`kernels.kernel_type`) the index covers.
pub const INDEXED_TYPES: &[&str] = &["spk", "ck", "pck", "daf", "dsk", "ek", "das"];

/// One content's index entry.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageRow {
    pub sha256: Sha256Hex,
    /// `spk`, `ck` or `pck`; `None` for DAS files and for errors.
    pub kind: Option<String>,
    /// `coverage::index::IndexedKernel::encode`.
    pub summary: Option<Vec<u8>>,
    /// The reader's error, for a content it refused.
    pub error: Option<String>,
    pub indexed_at: Timestamp,
}

impl Catalogue {
    /// The index entry of `sha256`, if it was indexed.
    pub fn coverage_of(&self, sha256: &Sha256Hex) -> Result<Option<CoverageRow>, Error> {
        let mut st = self.conn().prepare_cached(
            "SELECT sha256, kind, summary, error, indexed_at FROM coverage WHERE sha256 = ?1",
        )?;
        Ok(st.query_row([sha256], coverage_row).optional()?)
    }

    /// The index entries of `hashes` (one query), by hash; unindexed ones are absent.
    pub fn coverage_of_any(
        &self,
        hashes: &[&Sha256Hex],
    ) -> Result<std::collections::HashMap<Sha256Hex, CoverageRow>, Error> {
        self.keyed(
            "SELECT sha256, kind, summary, error, indexed_at FROM coverage
             WHERE sha256 IN (SELECT value FROM json_each(?1))",
            &super::queries::hex_keys(hashes),
            |r| coverage_row(r).map(|row| (row.sha256.clone(), row)),
        )
    }

    /// Binary contents (a byte order recorded) with no index entry yet (registered before the index existed).
    pub fn unindexed(&self) -> Result<Vec<Sha256Hex>, Error> {
        let types = INDEXED_TYPES
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(",");
        let mut st = self.conn().prepare(&format!(
            "SELECT k.sha256 FROM kernels k LEFT JOIN coverage c ON c.sha256 = k.sha256 \
             WHERE c.sha256 IS NULL AND k.byte_order IS NOT NULL \
             AND k.kernel_type IN ({types}) ORDER BY k.sha256"
        ))?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Tx<'_> {
    pub fn upsert_coverage(&self, row: &CoverageRow) -> Result<(), Error> {
        self.conn().execute(
            "INSERT INTO coverage (sha256, kind, summary, error, indexed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT(sha256) DO UPDATE SET kind = excluded.kind, \
             summary = excluded.summary, error = excluded.error, indexed_at = excluded.indexed_at",
            params![row.sha256, row.kind, row.summary, row.error, row.indexed_at],
        )?;
        Ok(())
    }

    /// Forgets every index entry (`kdb reindex`).
    pub fn clear_coverage(&self) -> Result<u64, Error> {
        Ok(self.conn().execute("DELETE FROM coverage", [])? as u64)
    }
}

fn coverage_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CoverageRow> {
    Ok(CoverageRow {
        sha256: r.get(0)?,
        kind: r.get(1)?,
        summary: r.get(2)?,
        error: r.get(3)?,
        indexed_at: r.get(4)?,
    })
}
