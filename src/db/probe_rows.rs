//! Rows of the probe cache (`probes`, migration 5) and of metakernel windows
//! (`metakernel_windows`, migration 5).
//!
//! A probe row says what a URL's first records held when the server described the
//! file with these validators and this size; it is only ever trusted after the
//! server confirms the validators (a `304` to a conditional range request), so a
//! row for a file that changed is never used.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::{Catalogue, Error, Tx};
use crate::content::Timestamp;

/// One cached probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRow {
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub size: u64,
    /// `spk`, `ck` or `pck`; `None` when the file is not a DAF.
    pub kind: Option<String>,
    /// `coverage::index::IndexedKernel::encode` (segment descriptors only).
    pub summary: Option<Vec<u8>>,
    /// What a non-DAF file is (`a SPICE text kernel`, `a DSK (DAS) file`...).
    pub what: Option<String>,
    pub probed_at: Timestamp,
}

impl Catalogue {
    /// Cached probes of `urls`, by URL.
    pub fn probes_of(&self, urls: &[&str]) -> Result<HashMap<String, ProbeRow>, Error> {
        // One statement for the whole set (a plan of thousands of kernels).
        self.keyed(
            "SELECT url, etag, last_modified, size, kind, summary, what, probed_at \
             FROM probes WHERE url IN (SELECT value FROM json_each(?1))",
            urls,
            |r| {
                let row = ProbeRow {
                    url: r.get(0)?,
                    etag: r.get(1)?,
                    last_modified: r.get(2)?,
                    size: r.get(3)?,
                    kind: r.get(4)?,
                    summary: r.get(5)?,
                    what: r.get(6)?,
                    probed_at: r.get(7)?,
                };
                Ok((row.url.clone(), row))
            },
        )
    }

    /// The window (JSON) a metakernel was acquired for, if any.
    pub fn window_of(&self, source_url: &str) -> Result<Option<String>, Error> {
        let mut st = self
            .conn()
            .prepare_cached("SELECT spec FROM metakernel_windows WHERE source_url = ?1")?;
        Ok(st.query_row([source_url], |r| r.get(0)).optional()?)
    }
}

impl Tx<'_> {
    pub fn upsert_probe(&self, row: &ProbeRow) -> Result<(), Error> {
        self.conn().execute(
            "INSERT INTO probes (url, etag, last_modified, size, kind, summary, what, probed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, \
             last_modified = excluded.last_modified, size = excluded.size, kind = excluded.kind, \
             summary = excluded.summary, what = excluded.what, probed_at = excluded.probed_at",
            params![
                row.url,
                row.etag,
                row.last_modified,
                row.size,
                row.kind,
                row.summary,
                row.what,
                row.probed_at
            ],
        )?;
        Ok(())
    }

    /// Records (or, with `None`, forgets) the window of a metakernel.
    pub fn set_window(&self, source_url: &str, spec: Option<&str>) -> Result<(), Error> {
        match spec {
            Some(spec) => self.conn().execute(
                "INSERT INTO metakernel_windows (source_url, spec) VALUES (?1, ?2) \
                 ON CONFLICT(source_url) DO UPDATE SET spec = excluded.spec",
                params![source_url, spec],
            )?,
            None => self.conn().execute(
                "DELETE FROM metakernel_windows WHERE source_url = ?1",
                [source_url],
            )?,
        };
        Ok(())
    }
}
