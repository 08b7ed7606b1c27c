//! The coverage index of one content: its entry is built by [`crate::supply::index_file`]
//! (`get`, `scan`, `reindex`, `adopt`); this file has the one-line "IDs and span" summary `list` and `aliases`
//! show. Imports the coverage readers and the catalogue, no other command.

use crate::coverage::KernelKind;
use crate::coverage::index::IndexedKernel;
use crate::db::{Catalogue, CoverageRow};
use crate::store::Sha256Hex;

/// A short "IDs and span" summary of one content for `list` and `aliases`
/// (e.g. `spk 399,301,+3 1950-01-01..2050-01-01`), from its index entry.
pub fn short_summary(cat: &Catalogue, sha256: &Sha256Hex) -> Option<String> {
    short_summary_of(&cat.coverage_of(sha256).ok()??)
}

/// [`short_summary`] of an index entry already read.
pub fn short_summary_of(row: &CoverageRow) -> Option<String> {
    let k = IndexedKernel::decode(row.summary.as_deref()?).ok()?;
    let ids = k.ids();
    let mut s = ids
        .iter()
        .take(3)
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    if ids.len() > 3 {
        s.push_str(&format!(",+{}", ids.len() - 3));
    }
    if let Some((a, b)) = k.span()
        && k.kind != KernelKind::Ck
    {
        s.push_str(&format!(" {}..{}", et_date(a), et_date(b)));
    }
    Some(s)
}

/// An ET as a calendar date (UTC within a minute, no LSK needed: TDB − UTC < 70 s).
fn et_date(et: f64) -> String {
    // J2000 (ET 0) is 2000-01-01T12:00, Unix day 10957.
    let unix_days = 10_957 + (et / 86_400.0 + 0.5).floor() as i64;
    civil(unix_days)
}

/// Days since 1970-01-01 → `YYYY-MM-DD` (proleptic Gregorian; H. Hinnant's algorithm).
fn civil(unix_days: i64) -> String {
    let z = unix_days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_et() {
        assert_eq!(et_date(0.0), "2000-01-01");
        assert_eq!(et_date(-43_200.0 + 1.0), "2000-01-01");
        assert_eq!(et_date(86_400.0 * 366.0), "2001-01-01");
        assert_eq!(et_date(-86_400.0 * 18_262.5), "1950-01-01");
        assert_eq!(et_date(86_400.0 * 11_323.0), "2031-01-01");
    }
}
