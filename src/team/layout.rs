//! The team store's layout under its prefix (pure: keys in, keys out).
//!
//! ```text
//! kdb-store.json                               {"layout": 1, "hash": "sha256"}
//! objects/sha256/ab/<hex>                      the bytes whose SHA-256 is <hex>; immutable
//! seen/<sha256 of URL>/<time>-<hex>.json       "URL was seen serving <hex>"; immutable
//! claims/<sha256 of URL>/<window>              "a home is downloading URL" (10-minute window)
//! ```
//!
//! Every key is written at most once (put-if-absent) and never deleted by a client.
//! A `seen/` record is a hint: its name alone says which content a URL served at a
//! time (so a reader needs one LIST, never the record's body); the object's hash is
//! the truth. `<time>` is UTC, `YYYYMMDDTHHMMSS.nnnnnnnnnZ`, so names sort by time.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::Sha256Hex;

/// The layout version written to (and expected in) `kdb-store.json`.
pub const LAYOUT_VERSION: u32 = 1;

/// The manifest's key.
pub const MANIFEST: &str = "kdb-store.json";

/// The manifest: what layout and hash a store uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub layout: u32,
    pub hash: String,
}

impl Manifest {
    pub fn current() -> Manifest {
        Manifest {
            layout: LAYOUT_VERSION,
            hash: "sha256".into(),
        }
    }
}

/// The body of a `seen/` record (for people and audits; readers use its name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenRecord {
    pub url: String,
    pub sha256: String,
    pub size: u64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// RFC 3339, UTC.
    pub seen_at: String,
}

/// `objects/sha256/ab/<hex>`.
pub fn object_key(sha: &Sha256Hex) -> String {
    let hex = sha.as_str();
    format!("objects/sha256/{}/{hex}", &hex[..2])
}

/// The SHA-256 (hex) of a URL's text: the directory of its `seen/` records.
pub fn url_digest(url: &str) -> String {
    Sha256Hex::from_digest(Sha256::digest(url.as_bytes()).into()).to_string()
}

/// `seen/<sha256 of url>/` (with the trailing slash, as a listing prefix).
pub fn seen_prefix(url: &str) -> String {
    format!("seen/{}/", url_digest(url))
}

/// The record name for `url` serving `sha` at `time` (from [`seen_time`]).
pub fn seen_key(url: &str, time: &str, sha: &Sha256Hex) -> String {
    format!("{}{time}-{sha}.json", seen_prefix(url))
}

/// `claims/<sha256 of url>/<window>`: who downloads `url` from the archive during one
/// 10-minute `window` (Unix time / 600); the first put-if-absent wins.
pub fn claim_key(url: &str, window: i64) -> String {
    format!("claims/{}/{window}", url_digest(url))
}

/// `YYYYMMDDTHHMMSS.nnnnnnnnnZ` for a record name.
pub fn seen_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y%m%dT%H%M%S%.9fZ").to_string()
}

/// The `(time, content)` of a record's file name (the last path segment), or `None`
/// for anything that is not a record name (so stray files are ignored, not trusted).
pub fn parse_seen_name(name: &str) -> Option<(&str, Sha256Hex)> {
    let stem = name.strip_suffix(".json")?;
    let (time, hex) = stem.rsplit_once('-')?;
    let valid_time = time.len() == 26
        && time.ends_with('Z')
        && time.as_bytes()[8] == b'T'
        && time.as_bytes()[15] == b'.';
    if !valid_time {
        return None;
    }
    Some((time, Sha256Hex::parse(hex)?))
}

/// The content of the newest record among `names` (file names or full keys).
pub fn newest<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Sha256Hex> {
    names
        .into_iter()
        .filter_map(|n| parse_seen_name(n.rsplit('/').next().unwrap_or(n)))
        .max_by(|a, b| a.0.cmp(b.0).then_with(|| a.1.as_str().cmp(b.1.as_str())))
        .map(|(_, sha)| sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(c: char) -> Sha256Hex {
        Sha256Hex::parse(&c.to_string().repeat(64)).unwrap()
    }

    #[test]
    fn object_keys_shard_by_the_first_two_hex_digits() {
        assert_eq!(
            object_key(&sha('a')),
            format!("objects/sha256/aa/{}", "a".repeat(64))
        );
    }

    #[test]
    fn seen_keys_are_under_the_digest_of_the_url_text() {
        // sha256("abc"), the FIPS 180-2 test vector.
        assert_eq!(
            url_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-30T12:01:02.5Z")
            .unwrap()
            .to_utc();
        let key = seen_key("abc", &seen_time(t), &sha('b'));
        assert_eq!(
            key,
            format!(
                "seen/{}/20261130T120102.500000000Z-{}.json",
                url_digest("abc"),
                "b".repeat(64)
            )
        );
        let name = key.rsplit('/').next().unwrap();
        assert_eq!(
            parse_seen_name(name),
            Some(("20261130T120102.500000000Z", sha('b')))
        );
    }

    #[test]
    fn the_newest_record_wins_and_strays_are_ignored() {
        let names = [
            format!("20250101T000000.000000000Z-{}.json", "a".repeat(64)),
            format!("seen/x/20260101T000000.000000000Z-{}.json", "c".repeat(64)),
            format!("20240101T000000.000000000Z-{}.json", "d".repeat(64)),
            format!("20990101T000000.000000000Z-{}.json", "e".repeat(63)),
            "20990101T000000.000000000Z-zz.json".to_string(),
            "notes.txt".to_string(),
            format!("2099-{}.json", "f".repeat(64)),
        ];
        assert_eq!(newest(names.iter().map(String::as_str)), Some(sha('c')));
        assert_eq!(newest(["junk.json"]), None);
    }
}
