//! The catalogue: one SQLite file, `$KDB_HOME/kdb.sqlite`.
//!
//! Contract:
//! - WAL journal, `foreign_keys = ON`, a busy timeout, so read-only commands never
//!   block each other nor a writer; writers are serialised by the home lock
//!   (`store::lock`) before they open a write transaction.
//! - The schema version is `PRAGMA user_version`; migrations are append-only: never
//!   edit a shipped one, add the next. A catalogue newer than this binary is refused.
//! - A row is written only after the bytes it describes are durable (callers persist
//!   first, commit second); every multi-row change is one transaction.
//! - `kernels` has one row per content (SHA-256); `locations` one per path holding a
//!   content; `kernel_aliases` every filename a content was ever registered or
//!   referenced under. Rows of `kernels` and `kernel_aliases` are never deleted by
//!   normal operation: provenance is not erased.

pub mod coverage_rows;
pub mod integrity;
mod migrations;
pub mod probe_rows;
pub mod queries;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use coverage_rows::*;
pub use probe_rows::*;
pub use queries::*;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no catalogue at `{0}` yet; register kernels first with `kdb scan DIR` or `kdb get URL`"
    )]
    Missing(PathBuf),
    #[error("failed to open the catalogue `{path}`")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the catalogue `{path}` has schema version {found}, newer than this kdb ({supported}); upgrade kdb"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("catalogue query failed")]
    Sql(#[from] rusqlite::Error),
}

/// An open catalogue.
#[derive(Debug)]
pub struct Catalogue {
    conn: Connection,
    path: PathBuf,
}

impl Catalogue {
    /// Opens an existing catalogue for reading (and writing, if the caller holds the
    /// home lock). Fails with [`Error::Missing`] when there is none yet.
    pub fn open_existing(path: &Path) -> Result<Self, Error> {
        if !path.exists() {
            return Err(Error::Missing(path.to_path_buf()));
        }
        let cat = Self::open_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let version = cat.supported_version()?;
        if version < migrations::LATEST {
            migrations::migrate(&cat.conn)?;
        }
        Ok(cat)
    }

    /// Opens the catalogue, creating and migrating it if needed. Call under the home lock.
    pub fn open_or_create(path: &Path) -> Result<Self, Error> {
        let cat = Self::open_with(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        cat.supported_version()?;
        migrations::migrate(&cat.conn)?;
        Ok(cat)
    }

    fn open_with(path: &Path, flags: OpenFlags) -> Result<Self, Error> {
        let open_err = |source| Error::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(open_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;",
        )
        .map_err(open_err)?;
        Ok(Catalogue {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The schema version, refused when a newer kdb wrote it.
    fn supported_version(&self) -> Result<i64, Error> {
        let version = self.user_version()?;
        if version > migrations::LATEST {
            return Err(Error::TooNew {
                path: self.path.clone(),
                found: version,
                supported: migrations::LATEST,
            });
        }
        Ok(version)
    }

    fn user_version(&self) -> Result<i64, Error> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs the reads of `f` in one read transaction: one consistent snapshot, and the
    /// file locks taken once instead of once per statement (which dominates a plan of
    /// thousands of small reads).
    pub fn snapshot<T, E: From<Error>>(
        &self,
        f: impl FnOnce(&Catalogue) -> Result<T, E>,
    ) -> Result<T, E> {
        self.conn.execute_batch("BEGIN").map_err(Error::from)?;
        let out = f(self);
        // Ending a read transaction cannot lose anything; a failure to end it is
        // reported only when `f` succeeded.
        let ended = self.conn.execute_batch("COMMIT").map_err(Error::from);
        let out = out?;
        ended?;
        Ok(out)
    }

    /// Runs `f` in one write transaction (`BEGIN IMMEDIATE`), committing on `Ok`.
    pub fn write<T, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(Error::from)?;
        let out = f(&Tx(&tx))?;
        tx.commit().map_err(Error::from)?;
        Ok(out)
    }
}

/// A write transaction; the typed write queries take it, so they cannot run outside one.
pub struct Tx<'a>(&'a rusqlite::Transaction<'a>);

impl Tx<'_> {
    pub fn conn(&self) -> &Connection {
        self.0
    }
}

/// Current UTC time (whole seconds), the value of every timestamp column.
pub fn now() -> crate::content::Timestamp {
    crate::content::Timestamp::now()
}
