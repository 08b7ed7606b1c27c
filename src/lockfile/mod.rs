//! Lockfiles: the exact bytes one metakernel and its kernels resolve to, so the same
//! set can be restored later or on another machine (docs/lockfile.md).
//!
//! Pure: parsing from `&str`, serializing to `String`; no I/O.
//!
//! Format (TOML, versioned by `schema`):
//!
//! ```toml
//! schema = 1
//! kdb_version = "0.1.0"
//! created = "2026-11-30T09:00:00Z"
//!
//! [metakernel]
//! name = "m_v01.tm"
//! mission = "M"                       # optional
//! source_url = "https://host/pub/naif/M/kernels/mk/m_v01.tm"
//! sha256 = "…"                        # of the metakernel as served
//! size = 1234
//! etag = "\"abc\""                    # optional validators
//! last_modified = "Mon, 01 Jan 2024 00:00:00 GMT"
//!
//! [[kernel]]                          # one per KERNELS_TO_LOAD entry, in load order
//! name = "naif0012.tls"               # file name as referenced
//! entry = "$KERNELS/lsk/naif0012.tls" # the entry as written in the metakernel
//! source_url = "https://host/pub/naif/M/kernels/lsk/naif0012.tls"
//! sha256 = "…"
//! size = 5257
//! type = "lsk"
//! ```
//!
//! Invariants: a parsed [`Lock`] has schema [`SCHEMA`], every hash is 64 hex digits,
//! every URL is absolute `http`, `https` or `file`, every name is one path component,
//! and no field holds a local path of the machine that wrote it (URLs and names
//! only). [`Lock::to_toml`] is deterministic: the same lock gives the same bytes, and
//! `parse(to_toml(l)) == l`.

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::store::Sha256Hex;

pub mod diff;

/// The schema version this kdb writes and reads.
pub const SCHEMA: u32 = 1;

/// Default file-name suffix: `<metakernel stem>.kdb.lock`.
pub const SUFFIX: &str = ".kdb.lock";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{origin}` is not a valid kdb lockfile")]
    Syntax {
        origin: String,
        /// The parser's message, each line shortened (it quotes the offending line).
        #[source]
        source: crate::ShortMessage,
    },
    #[error("`{origin}` line {line}: `{field}` {reason}")]
    Field {
        origin: String,
        line: usize,
        field: String,
        reason: String,
    },
    #[error(
        "`{origin}` line {line}: lockfile schema {found} is not supported (this kdb reads schema {SCHEMA}); use a kdb that does"
    )]
    Schema {
        origin: String,
        line: usize,
        found: i64,
    },
}

/// A lockfile's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    pub schema: u32,
    pub kdb_version: String,
    /// RFC 3339 UTC, seconds.
    pub created: String,
    pub metakernel: LockedMetakernel,
    pub kernels: Vec<LockedKernel>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedMetakernel {
    pub name: String,
    pub mission: Option<String>,
    pub source_url: String,
    /// SHA-256 of the metakernel as served (not of a local rewrite).
    pub sha256: Sha256Hex,
    pub size: u64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedKernel {
    /// The file name as the metakernel references it.
    pub name: String,
    /// The `KERNELS_TO_LOAD` string as written (continuations joined).
    pub entry: String,
    pub source_url: String,
    pub sha256: Sha256Hex,
    pub size: u64,
    pub kernel_type: String,
}

impl Lock {
    /// Distinct kernel contents, first occurrence order.
    pub fn distinct_kernels(&self) -> Vec<&LockedKernel> {
        let mut seen = std::collections::HashSet::new();
        self.kernels
            .iter()
            .filter(|k| seen.insert(k.sha256.clone()))
            .collect()
    }

    /// The lock as TOML text, byte-for-byte deterministic.
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        s.push_str("# kdb lockfile: the exact bytes of a metakernel and its kernels.\n");
        s.push_str("# Restore with `kdb restore FILE`; format in docs/lockfile.md.\n");
        line(&mut s, "schema", &self.schema.to_string());
        line(&mut s, "kdb_version", &quote(&self.kdb_version));
        line(&mut s, "created", &quote(&self.created));
        let m = &self.metakernel;
        s.push_str("\n[metakernel]\n");
        line(&mut s, "name", &quote(&m.name));
        if let Some(mission) = &m.mission {
            line(&mut s, "mission", &quote(mission));
        }
        line(&mut s, "source_url", &quote(&m.source_url));
        line(&mut s, "sha256", &quote(m.sha256.as_str()));
        line(&mut s, "size", &m.size.to_string());
        if let Some(etag) = &m.etag {
            line(&mut s, "etag", &quote(etag));
        }
        if let Some(lm) = &m.last_modified {
            line(&mut s, "last_modified", &quote(lm));
        }
        for k in &self.kernels {
            s.push_str("\n[[kernel]]\n");
            line(&mut s, "name", &quote(&k.name));
            line(&mut s, "entry", &quote(&k.entry));
            line(&mut s, "source_url", &quote(&k.source_url));
            line(&mut s, "sha256", &quote(k.sha256.as_str()));
            line(&mut s, "size", &k.size.to_string());
            line(&mut s, "type", &quote(&k.kernel_type));
        }
        s
    }
}

fn line(s: &mut String, key: &str, value: &str) {
    s.push_str(key);
    s.push_str(" = ");
    s.push_str(value);
    s.push('\n');
}

/// A TOML basic string: `"`, `\` and control characters escaped.
fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------- parsing

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLock {
    schema: Spanned<i64>,
    kdb_version: String,
    created: Spanned<String>,
    metakernel: Spanned<RawMetakernel>,
    #[serde(default, rename = "kernel")]
    kernels: Vec<Spanned<RawKernel>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetakernel {
    name: Spanned<String>,
    mission: Option<Spanned<String>>,
    source_url: Spanned<String>,
    sha256: Spanned<String>,
    size: Spanned<i64>,
    etag: Option<String>,
    last_modified: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKernel {
    name: Spanned<String>,
    entry: Spanned<String>,
    source_url: Spanned<String>,
    sha256: Spanned<String>,
    size: Spanned<i64>,
    #[serde(rename = "type")]
    kernel_type: Spanned<String>,
}

/// Only the version, read first so that a lock of another schema is named as such
/// rather than as a list of unknown fields.
#[derive(Deserialize)]
struct SchemaOnly {
    schema: Spanned<i64>,
}

/// Parses lockfile text; `origin` (a path or URL) names it in errors.
pub fn parse(origin: &str, text: &str) -> Result<Lock, Error> {
    if let Ok(v) = toml::from_str::<SchemaOnly>(text)
        && *v.schema.get_ref() != i64::from(SCHEMA)
    {
        return Err(Error::Schema {
            origin: origin.to_owned(),
            line: Validator { origin, text }.line(&v.schema),
            found: *v.schema.get_ref(),
        });
    }
    let raw: RawLock = toml::from_str(text).map_err(|e| Error::Syntax {
        origin: origin.to_owned(),
        source: crate::ShortMessage::of(&e),
    })?;
    let v = Validator { origin, text };
    let schema = *raw.schema.get_ref();
    if schema != i64::from(SCHEMA) {
        return Err(Error::Schema {
            origin: origin.to_owned(),
            line: v.line(&raw.schema),
            found: schema,
        });
    }
    if chrono::DateTime::parse_from_rfc3339(raw.created.get_ref()).is_err() {
        return Err(v.field(&raw.created, "created", "is not an RFC 3339 time"));
    }
    let m = raw.metakernel.into_inner();
    let metakernel = LockedMetakernel {
        name: v.name(&m.name, "metakernel.name")?,
        mission: match &m.mission {
            Some(s) => Some(v.name(s, "metakernel.mission")?),
            None => None,
        },
        source_url: v.url(&m.source_url, "metakernel.source_url")?,
        sha256: v.sha(&m.sha256, "metakernel.sha256")?,
        size: v.size(&m.size, "metakernel.size")?,
        etag: m.etag,
        last_modified: m.last_modified,
    };
    let mut kernels = Vec::with_capacity(raw.kernels.len());
    for (i, k) in raw.kernels.into_iter().enumerate() {
        let k = k.into_inner();
        let f = |name: &str| format!("kernel[{}].{name}", i + 1);
        let kernel_type = k.kernel_type.get_ref().clone();
        if kernel_type.is_empty()
            || !kernel_type
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(v.field(&k.kernel_type, &f("type"), "is not a kernel type"));
        }
        if k.entry.get_ref().is_empty() {
            return Err(v.field(&k.entry, &f("entry"), "is empty"));
        }
        kernels.push(LockedKernel {
            name: v.name(&k.name, &f("name"))?,
            entry: k.entry.into_inner(),
            source_url: v.url(&k.source_url, &f("source_url"))?,
            sha256: v.sha(&k.sha256, &f("sha256"))?,
            size: v.size(&k.size, &f("size"))?,
            kernel_type,
        });
    }
    Ok(Lock {
        schema: SCHEMA,
        kdb_version: raw.kdb_version,
        created: raw.created.into_inner(),
        metakernel,
        kernels,
    })
}

struct Validator<'a> {
    origin: &'a str,
    text: &'a str,
}

impl Validator<'_> {
    fn line<T>(&self, at: &Spanned<T>) -> usize {
        let start = at.span().start.min(self.text.len());
        self.text.as_bytes()[..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn field<T>(&self, at: &Spanned<T>, field: &str, reason: &str) -> Error {
        Error::Field {
            origin: self.origin.to_owned(),
            line: self.line(at),
            field: field.to_owned(),
            reason: reason.to_owned(),
        }
    }

    fn sha(&self, s: &Spanned<String>, field: &str) -> Result<Sha256Hex, Error> {
        Sha256Hex::parse(s.get_ref())
            .filter(|h| h.as_str() == s.get_ref())
            .ok_or_else(|| self.field(s, field, "is not 64 lower-case hex digits"))
    }

    fn size(&self, s: &Spanned<i64>, field: &str) -> Result<u64, Error> {
        u64::try_from(*s.get_ref()).map_err(|_| self.field(s, field, "is negative"))
    }

    fn url(&self, s: &Spanned<String>, field: &str) -> Result<String, Error> {
        match Url::parse(s.get_ref()) {
            // Credentials are never taken from (or passed on with) what is written
            // down: userinfo is dropped.
            Ok(mut u) if matches!(u.scheme(), "http" | "https" | "file") => {
                if u.username().is_empty() && u.password().is_none() {
                    return Ok(s.get_ref().clone());
                }
                u.set_username("").ok();
                u.set_password(None).ok();
                Ok(u.to_string())
            }
            Ok(u) => Err(self.field(
                s,
                field,
                &format!(
                    "has unsupported scheme `{}`",
                    crate::shorten(u.scheme(), crate::MESSAGE_MAX)
                ),
            )),
            Err(e) => Err(self.field(s, field, &format!("is not a URL ({e})"))),
        }
    }

    /// A single path component: no separators, not `.`/`..`, not empty.
    fn name(&self, s: &Spanned<String>, field: &str) -> Result<String, Error> {
        let n = s.get_ref();
        if n.is_empty() || n == "." || n == ".." || n.contains(['/', '\\', '\0']) {
            return Err(self.field(s, field, "is not a plain file name"));
        }
        Ok(n.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(c: char) -> Sha256Hex {
        Sha256Hex::parse(&c.to_string().repeat(64)).unwrap()
    }

    fn sample() -> Lock {
        Lock {
            schema: SCHEMA,
            kdb_version: "0.1.0".into(),
            created: "2026-11-30T09:00:00Z".into(),
            metakernel: LockedMetakernel {
                name: "m_v01.tm".into(),
                mission: Some("M".into()),
                source_url: "https://naif.jpl.nasa.gov/pub/naif/M/kernels/mk/m_v01.tm".into(),
                sha256: sha('a'),
                size: 1234,
                etag: Some("\"5e-1a2b\"".into()),
                last_modified: Some("Mon, 01 Jan 2024 00:00:00 GMT".into()),
            },
            kernels: vec![
                LockedKernel {
                    name: "naif0012.tls".into(),
                    entry: "$KERNELS/lsk/naif0012.tls".into(),
                    source_url: "https://naif.jpl.nasa.gov/pub/naif/M/kernels/lsk/naif0012.tls"
                        .into(),
                    sha256: sha('b'),
                    size: 5257,
                    kernel_type: "lsk".into(),
                },
                LockedKernel {
                    name: "we\"ird name\t.bsp".into(),
                    entry: "$KERNELS/spk/we\"ird\\name\t.bsp".into(),
                    source_url: "https://naif.jpl.nasa.gov/pub/naif/M/kernels/spk/x.bsp".into(),
                    sha256: sha('c'),
                    size: 0,
                    kernel_type: "spk".into(),
                },
            ],
        }
    }

    #[test]
    fn round_trip_is_exact_and_deterministic() {
        let l = sample();
        let text = l.to_toml();
        assert_eq!(parse("x", &text).unwrap(), l);
        assert_eq!(parse("x", &text).unwrap().to_toml(), text);
        assert!(text.contains("\n[[kernel]]\nname = \"naif0012.tls\"\n"));
    }

    #[test]
    fn optional_fields_may_be_absent() {
        let mut l = sample();
        l.metakernel.mission = None;
        l.metakernel.etag = None;
        l.metakernel.last_modified = None;
        l.kernels.clear();
        let text = l.to_toml();
        assert!(!text.contains("etag"));
        assert_eq!(parse("x", &text).unwrap(), l);
    }

    fn field_error(text: &str) -> (usize, String, String) {
        match parse("f.kdb.lock", text) {
            Err(Error::Field {
                line,
                field,
                reason,
                ..
            }) => (line, field, reason),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn bad_fields_are_named_with_their_line() {
        let good = sample().to_toml();
        let bad_sha = good.replacen(&"c".repeat(64), "xyz", 1);
        let (line, field, _) = field_error(&bad_sha);
        assert_eq!(field, "kernel[2].sha256");
        assert_eq!(bad_sha.lines().nth(line - 1).unwrap(), "sha256 = \"xyz\"");

        let upper = good.replacen(&"b".repeat(64), &"B".repeat(64), 1);
        assert_eq!(field_error(&upper).1, "kernel[1].sha256");

        let bad_url = good.replacen(
            "https://naif.jpl.nasa.gov/pub/naif/M/kernels/mk",
            "ftp://h",
            1,
        );
        let (_, field, reason) = field_error(&bad_url);
        assert_eq!(field, "metakernel.source_url");
        assert!(reason.contains("ftp"), "{reason}");

        let path_name = good.replacen("name = \"naif0012.tls\"", "name = \"../x.tls\"", 1);
        assert_eq!(field_error(&path_name).1, "kernel[1].name");

        let negative = good.replacen("size = 5257", "size = -1", 1);
        assert_eq!(field_error(&negative).1, "kernel[1].size");

        let bad_time = good.replacen("2026-11-30T09:00:00Z", "yesterday", 1);
        let (line, field, _) = field_error(&bad_time);
        assert_eq!((line, field.as_str()), (5, "created"));
    }

    #[test]
    fn other_schemas_and_broken_toml_are_refused_clearly() {
        let good = sample().to_toml();
        let newer = good.replacen("schema = 1", "schema = 2", 1);
        let e = parse("f.kdb.lock", &newer).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Schema {
                    found: 2,
                    line: 3,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("schema 2"));

        for text in [
            "",
            "schema = 1\n",
            &good.replacen("[metakernel]", "[metakernal]", 1),
            &good.replacen(
                "type = \"lsk\"",
                "type = \"lsk\"\nlocal_path = \"/home/x\"",
                1,
            ),
            &good[..good.len() / 2],
        ] {
            let e = parse("f.kdb.lock", text).unwrap_err();
            assert!(matches!(e, Error::Syntax { .. }), "{e:?}");
            let msg = crate::error_chain(&e);
            assert!(
                msg.starts_with("`f.kdb.lock` is not a valid kdb lockfile: "),
                "{msg}"
            );
        }
    }

    #[test]
    fn distinct_kernels_keep_first_occurrence_order() {
        let mut l = sample();
        let mut again = l.kernels[0].clone();
        again.name = "alias.tls".into();
        l.kernels.push(again);
        let d: Vec<&str> = l
            .distinct_kernels()
            .iter()
            .map(|k| k.name.as_str())
            .collect();
        assert_eq!(d, ["naif0012.tls", "we\"ird name\t.bsp"]);
    }
}
