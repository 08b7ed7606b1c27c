//! The coverage index entry recorded with every content that arrives (and by `scan`,
//! `reindex` and `adopt`): what the coverage readers find in the file, or why not.

use std::path::Path;

use crate::coverage::index::summarize;
use crate::coverage::{self as cov};
use crate::db::{self, CoverageRow};
use crate::store::Sha256Hex;

/// The index entry of the file at `path` (content `sha256`), read with the reader.
pub fn index_file(path: &Path, sha256: &Sha256Hex) -> CoverageRow {
    let (row, _) = index_counted(path, sha256);
    row
}

pub fn index_counted(path: &Path, sha256: &Sha256Hex) -> (CoverageRow, u64) {
    let name = path.display().to_string();
    let mut row = CoverageRow {
        sha256: sha256.clone(),
        kind: None,
        summary: None,
        error: None,
        indexed_at: db::now(),
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            row.error = Some(format!("cannot open `{name}`: {e}"));
            return (row, 0);
        }
    };
    let mut src = cov::Counting::new(file);
    match summarize(&mut src, &name) {
        Ok(Some(k)) => {
            row.kind = Some(k.kind.as_str().to_string());
            row.summary = Some(k.encode());
        }
        Ok(None) => {}
        Err(e) => row.error = Some(crate::error_chain(&e)),
    }
    (row, src.bytes_read())
}
