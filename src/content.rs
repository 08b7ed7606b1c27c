//! The typed values every layer shares: a content's identity ([`Sha256Hex`]), the
//! stat facts that tell whether a file changed since it was hashed ([`FileStamp`]),
//! and catalogue times ([`Timestamp`]).
//!
//! They live apart from `store` and `db` so both can carry them without depending on
//! each other. Each converts to and from its SQLite column (TEXT for hashes and
//! times, INTEGER for stat fields) and serialises as the plain string or number the
//! JSON reports have always shown.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Serialize, Serializer};

/// A SHA-256 digest as 64 lower-case hex digits (the content identity).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    pub fn from_digest(bytes: [u8; 32]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in bytes {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        Sha256Hex(s)
    }

    /// Parses 64 hex digits (any case); `None` otherwise.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Sha256Hex(s.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first `n` hex digits (for short displays).
    pub fn short(&self, n: usize) -> &str {
        &self.0[..n.min(64)]
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Sha256Hex {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Sha256Hex {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl Serialize for Sha256Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl ToSql for Sha256Hex {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0.as_str()))
    }
}

impl FromSql for Sha256Hex {
    /// A stored hash that is not 64 hex digits is a damaged catalogue, not a value.
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Sha256Hex::parse(text).ok_or_else(|| {
            FromSqlError::Other(format!("`{text}` is not a SHA-256 hex digest").into())
        })
    }
}

/// Stat facts used to decide whether a file changed since it was hashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct FileStamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
}

impl FileStamp {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        }
    }
}

/// A catalogue time: UTC, whole seconds, stored and shown as RFC 3339
/// (`2026-11-30T09:11:00Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(chrono::DateTime<chrono::Utc>);

impl Timestamp {
    pub fn now() -> Self {
        use chrono::SubsecRound as _;
        Timestamp(chrono::Utc::now().trunc_subsecs(0))
    }

    pub fn from_datetime(t: chrono::DateTime<chrono::Utc>) -> Self {
        Timestamp(t)
    }

    pub fn datetime(self) -> chrono::DateTime<chrono::Utc> {
        self.0
    }

    /// Seconds since the Unix epoch.
    pub fn unix(self) -> i64 {
        self.0.timestamp()
    }

    pub fn parse(text: &str) -> Option<Self> {
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Timestamp(t.with_timezone(&chrono::Utc)))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl ToSql for Timestamp {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

impl FromSql for Timestamp {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Timestamp::parse(text)
            .ok_or_else(|| FromSqlError::Other(format!("`{text}` is not an RFC 3339 time").into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_short_and_non_hex() {
        assert!(Sha256Hex::parse("abc").is_none());
        assert!(Sha256Hex::parse(&"g".repeat(64)).is_none());
        assert_eq!(
            Sha256Hex::parse(&"A".repeat(64)).unwrap().as_str(),
            "a".repeat(64)
        );
    }

    #[test]
    fn values_round_trip_through_sqlite_and_bad_ones_are_errors() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (h TEXT, t TEXT)")
            .unwrap();
        let h = Sha256Hex::parse(&"ab".repeat(32)).unwrap();
        let t = Timestamp::parse("2026-11-30T09:11:00Z").unwrap();
        conn.execute("INSERT INTO t VALUES (?1, ?2)", (&h, &t))
            .unwrap();
        let (h2, t2): (Sha256Hex, Timestamp) = conn
            .query_row("SELECT h, t FROM t", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((h2, t2), (h, t));
        assert_eq!(t.to_string(), "2026-11-30T09:11:00Z");
        conn.execute("UPDATE t SET h = 'nothex', t = 'yesterday'", [])
            .unwrap();
        assert!(
            conn.query_row("SELECT h FROM t", [], |r| r.get::<_, Sha256Hex>(0))
                .is_err()
        );
        assert!(
            conn.query_row("SELECT t FROM t", [], |r| r.get::<_, Timestamp>(0))
                .is_err()
        );
    }
}
