//! Published checksum tables: PDS4 `checksum_v###.tab` and PDS3 `index/checksum.tab`
//! (`<md5>  <path relative to the bundle or volume root>`), and the `<path> <md5>`
//! order some pipelines write. Parsing is pure over the text.

use serde::Serialize;

/// One row of a checksum table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChecksumRow {
    /// Lower-case hex MD5.
    pub md5: String,
    /// The path as the table gives it (relative to the bundle root, `/`-separated).
    pub path: String,
}

/// Why a table could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TableError {
    #[error("line {line} of the checksum table is not `<md5> <path>`: `{text}`")]
    Malformed { line: usize, text: String },
    #[error("the checksum table has no rows")]
    Empty,
}

fn is_md5(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Parses a table. Blank lines are skipped; fixed-length PDS3 records (trailing
/// blanks, CRLF) are trimmed. Either column order is accepted.
pub fn parse(text: &str) -> Result<Vec<ChecksumRow>, TableError> {
    let mut rows = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let malformed = || TableError::Malformed {
            line: i + 1,
            text: line.chars().take(80).collect(),
        };
        let (first, rest) = line.split_once(char::is_whitespace).ok_or_else(malformed)?;
        let rest = rest.trim();
        let (md5, path) = if is_md5(first) {
            (first, rest)
        } else {
            let (path, last) = line
                .rsplit_once(char::is_whitespace)
                .ok_or_else(malformed)?;
            if !is_md5(last) {
                return Err(malformed());
            }
            (last, path.trim())
        };
        // md5sum's binary-mode marker.
        let path = path.strip_prefix('*').unwrap_or(path);
        if path.is_empty() {
            return Err(malformed());
        }
        rows.push(ChecksumRow {
            md5: md5.to_ascii_lowercase(),
            path: path.trim_start_matches("./").replace('\\', "/"),
        });
    }
    if rows.is_empty() {
        return Err(TableError::Empty);
    }
    Ok(rows)
}

/// Whether `held` (a local path or a source URL path) is the file `row_path` names:
/// it ends with `/<row_path>` (or is it), compared component-wise, so that
/// `spice_kernels/lsk/naif0012.tls` matches `.../em16_spice/spice_kernels/lsk/naif0012.tls`
/// but not `.../xspice_kernels/lsk/naif0012.tls`.
pub fn path_matches(held: &str, row_path: &str) -> bool {
    let row = row_path.trim_start_matches('/');
    if held == row {
        return true;
    }
    held.strip_suffix(row)
        .is_some_and(|head| head.ends_with('/'))
}

/// The file name a row names (its last component).
pub fn file_name(row_path: &str) -> &str {
    row_path.rsplit('/').next().unwrap_or(row_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pds4_and_pds3_rows() {
        let text = "e72e0153bb94a16bb7b5766296c34fcf  bundle_em16_spice_v001.xml\r\n\
                    0C00A84A76250E67166EA5E0D0B52BE4  catalog/catinfo.txt        \r\n\n";
        let rows = parse(text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].md5, "0c00a84a76250e67166ea5e0d0b52be4");
        assert_eq!(rows[1].path, "catalog/catinfo.txt");
    }

    #[test]
    fn path_first_order_and_errors() {
        let rows = parse("/a/b/spice_kernels/fk/x.tf 56ba47ddd8e7348bbf2c76620dc2730d\n").unwrap();
        assert_eq!(rows[0].path, "/a/b/spice_kernels/fk/x.tf");
        assert!(matches!(
            parse("nothing here\n"),
            Err(TableError::Malformed { line: 1, .. })
        ));
        assert_eq!(parse("\n\n"), Err(TableError::Empty));
    }

    #[test]
    fn suffix_matching_is_by_component() {
        assert!(path_matches(
            "/h/em16_spice/spice_kernels/lsk/a.tls",
            "spice_kernels/lsk/a.tls"
        ));
        assert!(!path_matches(
            "/h/xspice_kernels/lsk/a.tls",
            "spice_kernels/lsk/a.tls"
        ));
        assert!(path_matches(
            "spice_kernels/lsk/a.tls",
            "spice_kernels/lsk/a.tls"
        ));
    }
}
