//! Typed rows and queries of the catalogue. Reads take `&Catalogue`, writes take a
//! [`Tx`] so they only ever run inside a transaction.

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{Catalogue, Error, Tx};
use crate::content::{FileStamp, Sha256Hex, Timestamp};

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct KernelRow {
    pub sha256: Sha256Hex,
    pub canonical: String,
    pub kernel_type: String,
    pub byte_order: Option<String>,
    pub size: u64,
    pub first_seen: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LocationKind {
    File,
    Symlink,
    Object,
}

impl LocationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LocationKind::File => "file",
            LocationKind::Symlink => "symlink",
            LocationKind::Object => "object",
        }
    }

    /// The kind stored in the catalogue; an unknown word is an error, never a guess.
    fn parse(s: &str) -> Option<Self> {
        match s {
            "file" => Some(LocationKind::File),
            "symlink" => Some(LocationKind::Symlink),
            "object" => Some(LocationKind::Object),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct LocationRow {
    pub path: String,
    pub filename: String,
    pub sha256: Sha256Hex,
    pub mission: Option<String>,
    pub source_url: Option<String>,
    pub kind: LocationKind,
    pub link_target: Option<String>,
    /// The stat (following a link) when the content was hashed.
    #[serde(flatten)]
    pub stamp: FileStamp,
    pub hashed_at: Timestamp,
}

impl LocationRow {
    /// The row of a store object (a content under its own hash) at `object`.
    pub fn object(
        object: &std::path::Path,
        sha256: &Sha256Hex,
        stamp: FileStamp,
        source_url: Option<String>,
        hashed_at: Timestamp,
    ) -> LocationRow {
        LocationRow {
            path: object.display().to_string(),
            filename: sha256.to_string(),
            sha256: sha256.clone(),
            mission: None,
            source_url,
            kind: LocationKind::Object,
            link_target: None,
            stamp,
            hashed_at,
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AliasRow {
    pub sha256: Sha256Hex,
    pub filename: String,
    pub first_seen: Timestamp,
    pub source_url: Option<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct MissionRow {
    pub name: String,
    pub server_url: Option<String>,
    pub mk_dir_url: Option<String>,
    /// Base URLs holding the same tree as `server_url`, in order of preference.
    pub mirrors: Vec<String>,
    pub dedup: bool,
    pub added_at: Timestamp,
}

/// One download: the content a URL served and the validators it came with.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DownloadRow {
    pub url: String,
    pub sha256: Sha256Hex,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub size: u64,
    pub fetched_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct MetakernelRow {
    pub id: i64,
    pub name: String,
    pub source_url: String,
    pub final_url: Option<String>,
    pub local_path: String,
    pub mission: Option<String>,
    /// SHA-256 of the metakernel as served (not of the local rewrite).
    pub sha256: Option<Sha256Hex>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub size: Option<u64>,
    pub acquired_at: Timestamp,
}

const METAKERNEL_COLS: &str = "id, name, source_url, final_url, local_path, mission, sha256, etag, last_modified, size, acquired_at";

fn metakernel(r: &Row<'_>) -> rusqlite::Result<MetakernelRow> {
    Ok(MetakernelRow {
        id: r.get(0)?,
        name: r.get(1)?,
        source_url: r.get(2)?,
        final_url: r.get(3)?,
        local_path: r.get(4)?,
        mission: r.get(5)?,
        sha256: r.get(6)?,
        etag: r.get(7)?,
        last_modified: r.get(8)?,
        size: r.get::<_, Option<i64>>(9)?.map(|s| s as u64),
        acquired_at: r.get(10)?,
    })
}

const LOCATION_COLS: &str = "path, filename, sha256, mission, source_url, kind, link_target, dev, ino, size, mtime_ns, hashed_at";

fn location(r: &Row<'_>) -> rusqlite::Result<LocationRow> {
    Ok(LocationRow {
        path: r.get(0)?,
        filename: r.get(1)?,
        sha256: r.get(2)?,
        mission: r.get(3)?,
        source_url: r.get(4)?,
        kind: {
            let word: String = r.get(5)?;
            LocationKind::parse(&word).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    5,
                    rusqlite::types::Type::Text,
                    format!("unknown location kind `{word}`").into(),
                )
            })?
        },
        link_target: r.get(6)?,
        stamp: FileStamp {
            dev: r.get::<_, i64>(7)? as u64,
            ino: r.get::<_, i64>(8)? as u64,
            size: r.get::<_, i64>(9)? as u64,
            mtime_ns: r.get(10)?,
        },
        hashed_at: r.get(11)?,
    })
}

/// A `downloads` row (`url, sha256, etag, last_modified, size, fetched_at`).
fn download_row(r: &Row<'_>) -> rusqlite::Result<DownloadRow> {
    Ok(DownloadRow {
        url: r.get(0)?,
        sha256: r.get(1)?,
        etag: r.get(2)?,
        last_modified: r.get(3)?,
        size: r.get::<_, i64>(4)? as u64,
        fetched_at: r.get(5)?,
    })
}

fn kernel(r: &Row<'_>) -> rusqlite::Result<KernelRow> {
    Ok(KernelRow {
        sha256: r.get(0)?,
        canonical: r.get(1)?,
        kernel_type: r.get(2)?,
        byte_order: r.get(3)?,
        size: r.get::<_, i64>(4)? as u64,
        first_seen: r.get(5)?,
    })
}

impl Catalogue {
    pub fn kernel(&self, sha256: &Sha256Hex) -> Result<Option<KernelRow>, Error> {
        let mut st = self.conn.prepare_cached(
            "SELECT sha256, canonical, kernel_type, byte_order, size, first_seen FROM kernels WHERE sha256 = ?1",
        )?;
        Ok(st.query_row([sha256], kernel).optional()?)
    }

    /// Contents whose hash starts with `prefix` (lower-case hex), at most `limit`.
    pub fn kernels_by_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<Sha256Hex>, Error> {
        let mut st = self
            .conn
            .prepare_cached("SELECT sha256 FROM kernels WHERE sha256 >= ?1 AND sha256 < ?2 ORDER BY sha256 LIMIT ?3")?;
        let upper = format!("{prefix}g");
        let rows = st.query_map(params![prefix, upper, limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Contents known under `filename` (exactly): as canonical name, alias or location.
    pub fn kernels_named(&self, filename: &str) -> Result<Vec<Sha256Hex>, Error> {
        let mut st = self.conn.prepare_cached(
            "SELECT sha256 FROM kernel_aliases WHERE filename = ?1
             UNION SELECT sha256 FROM kernels WHERE canonical = ?1
             UNION SELECT sha256 FROM locations WHERE filename = ?1
             ORDER BY 1",
        )?;
        let rows = st.query_map([filename], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn aliases_of(&self, sha256: &Sha256Hex) -> Result<Vec<AliasRow>, Error> {
        let mut st = self.conn.prepare_cached(
            "SELECT sha256, filename, first_seen, source_url FROM kernel_aliases WHERE sha256 = ?1
             ORDER BY first_seen, filename",
        )?;
        let rows = st.query_map([sha256], |r| {
            Ok(AliasRow {
                sha256: r.get(0)?,
                filename: r.get(1)?,
                first_seen: r.get(2)?,
                source_url: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn locations_of(&self, sha256: &Sha256Hex) -> Result<Vec<LocationRow>, Error> {
        self.locations_where("WHERE sha256 = ?1 ORDER BY path", [sha256])
    }

    pub fn locations_named(&self, filename: &str) -> Result<Vec<LocationRow>, Error> {
        self.locations_where("WHERE filename = ?1 ORDER BY path", [filename])
    }

    pub fn location(&self, path: &str) -> Result<Option<LocationRow>, Error> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {LOCATION_COLS} FROM locations WHERE path = ?1"
        ))?;
        Ok(st.query_row([path], location).optional()?)
    }

    /// Every location at or below directory `dir` (an absolute path without trailing `/`).
    pub fn locations_under(&self, dir: &str) -> Result<Vec<LocationRow>, Error> {
        let dir = dir.trim_end_matches('/');
        // '0' is the character after '/', so [dir/, dir0) is exactly the subtree.
        self.locations_where(
            "WHERE path >= ?1 AND path < ?2 ORDER BY path",
            params![format!("{dir}/"), format!("{dir}0")],
        )
    }

    pub fn all_locations(&self) -> Result<Vec<LocationRow>, Error> {
        self.locations_where("ORDER BY sha256, path", [])
    }

    /// The location rows `clause` (the SQL after `FROM locations`) selects.
    fn locations_where(
        &self,
        clause: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<LocationRow>, Error> {
        let mut st = self
            .conn
            .prepare_cached(&format!("SELECT {LOCATION_COLS} FROM locations {clause}"))?;
        let rows = st.query_map(params, location)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn all_kernels(&self) -> Result<Vec<KernelRow>, Error> {
        let mut st = self.conn.prepare_cached(
            "SELECT sha256, canonical, kernel_type, byte_order, size, first_seen FROM kernels ORDER BY sha256",
        )?;
        let rows = st.query_map([], kernel)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Contents known under more than one filename, most-aliased first.
    pub fn most_aliased(&self, limit: usize) -> Result<Vec<(Sha256Hex, String, u64)>, Error> {
        let mut st = self.conn.prepare_cached(
            "SELECT k.sha256, k.canonical, COUNT(*) AS n FROM kernel_aliases a JOIN kernels k USING (sha256)
             GROUP BY k.sha256 HAVING n > 1 ORDER BY n DESC, k.canonical LIMIT ?1",
        )?;
        let rows = st.query_map([limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn alias_count(&self, sha256: &Sha256Hex) -> Result<u64, Error> {
        let mut st = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM kernel_aliases WHERE sha256 = ?1")?;
        Ok(st.query_row([sha256], |r| r.get::<_, i64>(0))? as u64)
    }

    pub fn missions(&self) -> Result<Vec<MissionRow>, Error> {
        let mut st = self.conn.prepare_cached(
            "SELECT name, server_url, mk_dir_url, dedup, added_at FROM missions ORDER BY name",
        )?;
        let rows = st.query_map([], |r| {
            Ok(MissionRow {
                name: r.get(0)?,
                server_url: r.get(1)?,
                mk_dir_url: r.get(2)?,
                mirrors: Vec::new(),
                dedup: r.get::<_, i64>(3)? != 0,
                added_at: r.get(4)?,
            })
        })?;
        let mut missions: Vec<MissionRow> = rows.collect::<Result<_, _>>()?;
        let mut st = self
            .conn
            .prepare_cached("SELECT mission, url FROM mission_mirrors ORDER BY position")?;
        let mirrors = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in mirrors {
            let (mission, url) = row?;
            if let Some(m) = missions
                .iter_mut()
                .find(|m| m.name.eq_ignore_ascii_case(&mission))
            {
                m.mirrors.push(url);
            }
        }
        Ok(missions)
    }

    /// For each download of `sha256` a mission mirror served: (URL, mirror URL).
    pub fn served_by(&self, sha256: &Sha256Hex) -> Result<Vec<(String, String)>, Error> {
        let mut st = self.conn.prepare_cached(
            "SELECT s.url, s.served_by FROM served s JOIN downloads d ON d.url = s.url
             WHERE d.sha256 = ?1 ORDER BY s.url",
        )?;
        let rows = st.query_map([sha256], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The local path of the registered metakernel called `name` (latest acquisition).
    pub fn metakernel_path(&self, name: &str) -> Result<Option<String>, Error> {
        let mut st = self.conn.prepare_cached(
            "SELECT local_path FROM metakernels WHERE name = ?1 ORDER BY acquired_at DESC, id DESC LIMIT 1",
        )?;
        Ok(st.query_row([name], |r| r.get(0)).optional()?)
    }

    pub fn metakernel_by_url(&self, url: &str) -> Result<Option<MetakernelRow>, Error> {
        let mut st = self
            .conn
            .prepare_cached(&format!("SELECT {METAKERNEL_COLS} FROM metakernels WHERE source_url = ?1 OR final_url = ?1 LIMIT 1"))?;
        Ok(st.query_row([url], metakernel).optional()?)
    }

    pub fn metakernels(&self) -> Result<Vec<MetakernelRow>, Error> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {METAKERNEL_COLS} FROM metakernels ORDER BY name, acquired_at"
        ))?;
        let rows = st.query_map([], metakernel)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Locations recorded as downloaded from `url`.
    pub fn locations_from(&self, filename: &str, url: &str) -> Result<Vec<LocationRow>, Error> {
        self.locations_where(
            "WHERE filename = ?1 AND source_url = ?2 ORDER BY path",
            [filename, url],
        )
    }

    /// Validators the server sent when `url` was last downloaded.
    pub fn download(&self, url: &str) -> Result<Option<DownloadRow>, Error> {
        let mut st = self.conn.prepare_cached(
            "SELECT url, sha256, etag, last_modified, size, fetched_at FROM downloads WHERE url = ?1",
        )?;
        Ok(st.query_row([url], download_row).optional()?)
    }

    // Set-based reads: one statement for a whole plan instead of one per entry (a
    // metakernel of thousands of entries must not pay thousands of queries). The keys
    // travel as one JSON array, expanded by SQLite's `json_each`.

    /// Every location whose file name is one of `names` (through the file-name index;
    /// callers filter further, e.g. by source URL), ordered by path.
    pub fn locations_named_any(&self, names: &[&str]) -> Result<Vec<LocationRow>, Error> {
        self.locations_where(
            "WHERE filename IN (SELECT value FROM json_each(?1)) ORDER BY path",
            [json_array(names)],
        )
    }

    /// The locations at `paths` (absent paths are simply not in the map).
    pub fn locations_at(
        &self,
        paths: &[&str],
    ) -> Result<std::collections::HashMap<String, LocationRow>, Error> {
        self.keyed(
            &format!(
                "SELECT {LOCATION_COLS} FROM locations WHERE path IN (SELECT value FROM json_each(?1))"
            ),
            paths,
            |r| location(r).map(|row| (row.path.clone(), row)),
        )
    }

    /// How many names each of `hashes` is known under.
    pub fn alias_counts(
        &self,
        hashes: &[&Sha256Hex],
    ) -> Result<std::collections::HashMap<Sha256Hex, u64>, Error> {
        self.keyed(
            "SELECT sha256, COUNT(*) FROM kernel_aliases
             WHERE sha256 IN (SELECT value FROM json_each(?1)) GROUP BY sha256",
            &hex_keys(hashes),
            hash_and_count,
        )
    }

    /// The sizes of the contents `hashes` (one query), by hash.
    pub fn kernel_sizes(
        &self,
        hashes: &[&Sha256Hex],
    ) -> Result<std::collections::HashMap<Sha256Hex, u64>, Error> {
        self.keyed(
            "SELECT sha256, size FROM kernels WHERE sha256 IN (SELECT value FROM json_each(?1))",
            &hex_keys(hashes),
            hash_and_count,
        )
    }

    /// The recorded downloads of `urls`, by URL.
    pub fn downloads_of(
        &self,
        urls: &[&str],
    ) -> Result<std::collections::HashMap<String, DownloadRow>, Error> {
        self.keyed(
            "SELECT url, sha256, etag, last_modified, size, fetched_at FROM downloads
             WHERE url IN (SELECT value FROM json_each(?1))",
            urls,
            |r| download_row(r).map(|d| (d.url.clone(), d)),
        )
    }

    /// One set query: `sql` takes `keys` as the JSON array `?1` (expanded by
    /// `json_each`), and each row it returns becomes one `(key, value)` of the map.
    pub(crate) fn keyed<K: Eq + std::hash::Hash, V>(
        &self,
        sql: &str,
        keys: &[&str],
        row: impl FnMut(&Row<'_>) -> rusqlite::Result<(K, V)>,
    ) -> Result<std::collections::HashMap<K, V>, Error> {
        let mut st = self.conn.prepare_cached(sql)?;
        let rows = st.query_map([json_array(keys)], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn table_counts(&self) -> Result<(u64, u64, u64), Error> {
        let c = |sql: &str| -> Result<u64, Error> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
        };
        Ok((
            c("SELECT COUNT(*) FROM kernels")?,
            c("SELECT COUNT(*) FROM locations")?,
            c("SELECT COUNT(*) FROM kernel_aliases")?,
        ))
    }
}

/// The hex strings of `hashes` (the keys of a set query).
pub(crate) fn hex_keys<'a>(hashes: &[&'a Sha256Hex]) -> Vec<&'a str> {
    hashes.iter().map(|h| h.as_str()).collect()
}

/// A `(sha256, count)` row.
fn hash_and_count(r: &Row<'_>) -> rusqlite::Result<(Sha256Hex, u64)> {
    Ok((r.get::<_, Sha256Hex>(0)?, r.get::<_, i64>(1)? as u64))
}

/// `keys` as a JSON array of strings (the parameter of a `json_each` set query).
fn json_array(keys: &[&str]) -> String {
    serde_json::to_string(keys).unwrap_or_else(|_| "[]".to_owned())
}

/// A new content (ignored when the hash is already known: canonical = first name).
pub struct NewKernel<'a> {
    pub sha256: &'a Sha256Hex,
    pub filename: &'a str,
    pub kernel_type: &'a str,
    pub byte_order: Option<&'a str>,
    pub size: u64,
}

impl Tx<'_> {
    /// Re-roots every path under `old` (a moved home) at `new`: location paths and link
    /// targets, metakernels' local paths, removed metakernels. Returns the rows changed.
    pub fn relocate_prefix(&self, old: &str, new: &str) -> Result<usize, Error> {
        let old_dir = format!("{old}/");
        let n = old_dir.chars().count() as i64;
        let mut changed = 0;
        for (table, column) in [
            ("locations", "path"),
            ("locations", "link_target"),
            ("metakernels", "local_path"),
            ("removed_metakernels", "local_path"),
        ] {
            changed += self.conn().execute(
                &format!(
                    "UPDATE OR REPLACE {table} SET {column} = ?1 || substr({column}, ?3) \
                     WHERE substr({column}, 1, ?2) = ?4"
                ),
                params![format!("{new}/"), n, n + 1, old_dir],
            )?;
        }
        Ok(changed)
    }

    pub fn insert_kernel(&self, k: &NewKernel<'_>) -> Result<bool, Error> {
        let mut st = self.conn().prepare_cached(
            "INSERT OR IGNORE INTO kernels (sha256, canonical, kernel_type, byte_order, size, first_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        Ok(st.execute(params![
            k.sha256,
            k.filename,
            k.kernel_type,
            k.byte_order,
            k.size as i64,
            Timestamp::now()
        ])? > 0)
    }

    /// Records `filename` as a name of `sha256` (kept forever; first sighting wins).
    pub fn insert_alias(
        &self,
        sha256: &Sha256Hex,
        filename: &str,
        source_url: Option<&str>,
    ) -> Result<bool, Error> {
        let mut st = self.conn().prepare_cached(
            "INSERT OR IGNORE INTO kernel_aliases (sha256, filename, first_seen, source_url) VALUES (?1, ?2, ?3, ?4)",
        )?;
        Ok(st.execute(params![sha256, filename, Timestamp::now(), source_url])? > 0)
    }

    pub fn upsert_location(&self, l: &LocationRow) -> Result<(), Error> {
        let mut st = self.conn().prepare_cached(&format!(
            "INSERT INTO locations ({LOCATION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT(path) DO UPDATE SET filename = excluded.filename, sha256 = excluded.sha256,
               mission = excluded.mission, source_url = COALESCE(excluded.source_url, locations.source_url),
               kind = excluded.kind, link_target = excluded.link_target, dev = excluded.dev,
               ino = excluded.ino, size = excluded.size, mtime_ns = excluded.mtime_ns,
               hashed_at = excluded.hashed_at"
        ))?;
        st.execute(params![
            l.path,
            l.filename,
            l.sha256,
            l.mission,
            l.source_url,
            l.kind.as_str(),
            l.link_target,
            l.stamp.dev as i64,
            l.stamp.ino as i64,
            l.stamp.size as i64,
            l.stamp.mtime_ns,
            l.hashed_at
        ])?;
        Ok(())
    }

    pub fn delete_location(&self, path: &str) -> Result<(), Error> {
        let mut st = self
            .conn()
            .prepare_cached("DELETE FROM locations WHERE path = ?1")?;
        st.execute([path])?;
        Ok(())
    }

    pub fn upsert_mission(&self, m: &MissionRow) -> Result<(), Error> {
        let mut st = self.conn().prepare_cached(
            "INSERT INTO missions (name, server_url, mk_dir_url, dedup, added_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(name) DO UPDATE SET server_url = excluded.server_url, mk_dir_url = excluded.mk_dir_url,
               dedup = excluded.dedup",
        )?;
        st.execute(params![
            m.name,
            m.server_url,
            m.mk_dir_url,
            m.dedup,
            m.added_at
        ])?;
        self.conn()
            .prepare_cached("DELETE FROM mission_mirrors WHERE mission = ?1")?
            .execute([&m.name])?;
        let mut st = self.conn().prepare_cached(
            "INSERT OR IGNORE INTO mission_mirrors (mission, url, position) VALUES (?1, ?2, ?3)",
        )?;
        for (i, url) in m.mirrors.iter().enumerate() {
            st.execute(params![m.name, url, i as i64])?;
        }
        Ok(())
    }

    /// Records which mission mirror served `url` (`None`: the URL itself did).
    pub fn set_served_by(&self, url: &str, served_by: Option<&str>) -> Result<(), Error> {
        match served_by {
            Some(by) => self
                .conn()
                .prepare_cached(
                    "INSERT INTO served (url, served_by) VALUES (?1, ?2)
                     ON CONFLICT(url) DO UPDATE SET served_by = excluded.served_by",
                )?
                .execute([url, by])?,
            None => self
                .conn()
                .prepare_cached("DELETE FROM served WHERE url = ?1")?
                .execute([url])?,
        };
        Ok(())
    }

    pub fn upsert_metakernel(&self, m: &MetakernelRow) -> Result<(), Error> {
        let mut st = self.conn().prepare_cached(
            "INSERT INTO metakernels (name, source_url, final_url, local_path, mission, sha256, etag, last_modified, size, acquired_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(source_url) DO UPDATE SET name = excluded.name, final_url = excluded.final_url,
               local_path = excluded.local_path, mission = excluded.mission, sha256 = excluded.sha256,
               etag = excluded.etag, last_modified = excluded.last_modified, size = excluded.size,
               acquired_at = excluded.acquired_at",
        )?;
        st.execute(params![
            m.name,
            m.source_url,
            m.final_url,
            m.local_path,
            m.mission,
            m.sha256,
            m.etag,
            m.last_modified,
            m.size.map(|s| s as i64),
            m.acquired_at
        ])?;
        Ok(())
    }

    pub fn upsert_download(&self, d: &DownloadRow) -> Result<(), Error> {
        let mut st = self.conn().prepare_cached(
            "INSERT INTO downloads (url, sha256, etag, last_modified, size, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(url) DO UPDATE SET sha256 = excluded.sha256, etag = excluded.etag,
               last_modified = excluded.last_modified, size = excluded.size, fetched_at = excluded.fetched_at",
        )?;
        st.execute(params![
            d.url,
            d.sha256,
            d.etag,
            d.last_modified,
            d.size as i64,
            d.fetched_at
        ])?;
        Ok(())
    }

    pub fn delete_mission(&self, name: &str) -> Result<bool, Error> {
        let mut st = self
            .conn()
            .prepare_cached("DELETE FROM missions WHERE name = ?1")?;
        let deleted = st.execute([name])? > 0;
        self.conn()
            .prepare_cached("DELETE FROM mission_mirrors WHERE mission = ?1")?
            .execute([name])?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod kind_tests {
    use super::LocationKind;

    #[test]
    fn an_unknown_location_kind_is_refused_not_taken_for_a_file() {
        assert_eq!(LocationKind::parse("file"), Some(LocationKind::File));
        assert_eq!(LocationKind::parse("symlink"), Some(LocationKind::Symlink));
        assert_eq!(LocationKind::parse("object"), Some(LocationKind::Object));
        assert_eq!(LocationKind::parse("hardlink"), None);
        assert_eq!(LocationKind::parse(""), None);
    }
}
