//! Append-only schema migrations, tracked by `PRAGMA user_version`.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: the seed schema.
    r"
    CREATE TABLE kernels (
        sha256      TEXT PRIMARY KEY NOT NULL,
        canonical   TEXT NOT NULL,          -- first registered filename
        kernel_type TEXT NOT NULL,
        byte_order  TEXT,                   -- BIG-IEEE / LTL-IEEE for DAF/DAS
        size        INTEGER NOT NULL,
        first_seen  TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX kernels_by_canonical ON kernels(canonical);

    CREATE TABLE missions (
        name        TEXT PRIMARY KEY NOT NULL COLLATE NOCASE,
        server_url  TEXT,
        mk_dir_url  TEXT,
        dedup       INTEGER NOT NULL DEFAULT 1,
        added_at    TEXT NOT NULL
    );

    CREATE TABLE locations (
        path        TEXT PRIMARY KEY NOT NULL,  -- absolute, as referenced (not canonicalised)
        filename    TEXT NOT NULL,              -- last component of path
        sha256      TEXT NOT NULL REFERENCES kernels(sha256),
        mission     TEXT,
        source_url  TEXT,
        kind        TEXT NOT NULL CHECK (kind IN ('file', 'symlink', 'object')),
        link_target TEXT,
        dev         INTEGER NOT NULL,           -- stat of the bytes (the target, for a link)
        ino         INTEGER NOT NULL,
        size        INTEGER NOT NULL,
        mtime_ns    INTEGER NOT NULL,
        hashed_at   TEXT NOT NULL
    );
    CREATE INDEX locations_by_sha256 ON locations(sha256);
    CREATE INDEX locations_by_filename ON locations(filename);

    CREATE TABLE kernel_aliases (
        sha256      TEXT NOT NULL REFERENCES kernels(sha256),
        filename    TEXT NOT NULL,
        first_seen  TEXT NOT NULL,
        source_url  TEXT,
        PRIMARY KEY (sha256, filename)
    ) WITHOUT ROWID;
    CREATE INDEX kernel_aliases_by_filename ON kernel_aliases(filename);

    CREATE TABLE metakernels (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL,
        source_url    TEXT NOT NULL UNIQUE,
        final_url     TEXT,
        local_path    TEXT NOT NULL,
        mission       TEXT,
        sha256        TEXT,
        etag          TEXT,
        last_modified TEXT,
        size          INTEGER,
        acquired_at   TEXT NOT NULL
    );
    CREATE INDEX metakernels_by_name ON metakernels(name);
    ",
    // 2: what each download was, so `get` can revalidate a kernel whose listing is
    // ambiguous (same size, modified in the minute it was fetched).
    r"
    CREATE TABLE downloads (
        url           TEXT PRIMARY KEY NOT NULL,
        sha256        TEXT NOT NULL REFERENCES kernels(sha256),
        etag          TEXT,
        last_modified TEXT,
        size          INTEGER NOT NULL,
        fetched_at    TEXT NOT NULL
    ) WITHOUT ROWID;
    ",
    // 3: pins (contents `prune` must keep, under the label the user pinned) and
    // metakernels the user removed (their local `.tm` is deleted by the next prune).
    r"
    CREATE TABLE pins (
        label       TEXT NOT NULL,              -- the MK or KERNEL argument of `kdb pin`
        sha256      TEXT NOT NULL REFERENCES kernels(sha256),
        kind        TEXT NOT NULL CHECK (kind IN ('metakernel', 'kernel')),
        pinned_at   TEXT NOT NULL,
        PRIMARY KEY (label, sha256)
    ) WITHOUT ROWID;
    CREATE INDEX pins_by_sha256 ON pins(sha256);

    CREATE TABLE removed_metakernels (
        local_path  TEXT PRIMARY KEY NOT NULL,
        name        TEXT NOT NULL,
        source_url  TEXT NOT NULL,
        removed_at  TEXT NOT NULL
    ) WITHOUT ROWID;
    ",
    // 4: the coverage index (issue 9): per binary content, its segment descriptors
    // (and CK interval-level ticks) in `IndexedKernel::encode`'s compact encoding, or
    // the reader's error for a content that is not a readable kernel. A content with
    // no row is indexed on first use (backfill).
    r"
    CREATE TABLE coverage (
        sha256      TEXT PRIMARY KEY NOT NULL REFERENCES kernels(sha256),
        kind        TEXT,                   -- spk / ck / pck; NULL for DSK, EK, errors
        summary     BLOB,                   -- coverage::index encoding
        error       TEXT,                   -- why the reader refused the file
        indexed_at  TEXT NOT NULL
    ) WITHOUT ROWID;
    ",
    // 5: remote coverage probes (issue 11): per URL, what its first records said
    // (segment descriptors in the `coverage` table's encoding, or what the file is
    // when not a DAF), valid while the server's validators and size are these; and
    // the time window a metakernel was acquired for (`get --from/--to`), so that
    // `update` keeps it.
    // (`IF NOT EXISTS`: tests that fake an older catalogue by lowering
    // `user_version` keep these tables.)
    r"
    CREATE TABLE IF NOT EXISTS probes (
        url           TEXT PRIMARY KEY NOT NULL,
        etag          TEXT,
        last_modified TEXT,
        size          INTEGER NOT NULL,
        kind          TEXT,                 -- spk / ck / pck; NULL when not a DAF
        summary       BLOB,                 -- coverage::index encoding (no CK intervals)
        what          TEXT,                 -- what a non-DAF file is
        probed_at     TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE IF NOT EXISTS metakernel_windows (
        source_url  TEXT PRIMARY KEY NOT NULL,
        spec        TEXT NOT NULL           -- JSON: from, to, bodies, pad
    ) WITHOUT ROWID;
    ",
    // 6: mission mirrors (issue 23): base URLs holding the same tree as the mission's
    // server, tried in `position` order when it fails; and, per downloaded URL, the
    // mirror that served it (no row: the URL itself did).
    r"
    CREATE TABLE IF NOT EXISTS mission_mirrors (
        mission     TEXT NOT NULL COLLATE NOCASE,
        url         TEXT NOT NULL,
        position    INTEGER NOT NULL,
        PRIMARY KEY (mission, url)
    ) WITHOUT ROWID;

    CREATE TABLE IF NOT EXISTS served (
        url         TEXT PRIMARY KEY NOT NULL,  -- a downloads.url
        served_by   TEXT NOT NULL
    ) WITHOUT ROWID;
    ",
];

/// The schema version this binary writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        // Re-read under the write lock: another process may have migrated meanwhile.
        let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current >= version {
            conn.execute_batch("COMMIT")?;
            continue;
        }
        if let Err(e) = conn.execute_batch(&format!("{sql}; PRAGMA user_version = {version};")) {
            let _rollback = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
        conn.execute_batch("COMMIT")?;
    }
    Ok(())
}
