//! One module per command group. Each command takes a [`Ctx`] and options, does its
//! work through `store` and `db`, and returns a report value; only `cli` prints.
//!
//! Mutating commands follow plan → execute → commit: they take the home lock, sweep
//! leftovers of a killed process, build a plan from the catalogue, execute it through
//! the store's write path, and record the result in one transaction.

pub mod adopt;
pub mod browse;
pub mod bundle;
pub mod coverage;
pub mod dedup;
pub mod diff;
pub mod get;
pub mod index;
pub mod inspect;
pub mod lock;
pub mod mission;
pub mod mk;
pub mod outdated;

pub mod prune;
pub mod relocate;
pub mod reset;
pub mod restore;
pub mod scan;
pub mod team;
pub mod verify;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::db::{self, Catalogue};
use crate::store::{self, Home, HomeLock};

pub use crate::reporter::Reporter;

/// What every command gets from the CLI.
pub struct Ctx<'a> {
    pub home: Home,
    pub lock_timeout: Duration,
    pub reporter: &'a dyn Reporter,
}

/// The exit-code classes documented in docs/cli.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitClass {
    /// 1: the thing asked for does not exist (name, hash, catalogue) or a check found gaps.
    NotFound,
    /// 2: the request cannot be carried out as given (bad argument, needs a flag).
    Usage,
    /// 3: part of the work failed; the report lists what.
    Partial,
    /// 4: the server no longer serves the metakernel (403/404/410 on update).
    Gone,
    /// 5: another kdb held the home lock past the timeout.
    Busy,
    /// 6: the network failed (unreachable, timed out, server error).
    Network,
    /// 10: an internal failure (I/O, database).
    Internal,
}

impl ExitClass {
    /// The class as one snake_case word (the `class` of a JSON error).
    pub fn name(self) -> &'static str {
        match self {
            ExitClass::NotFound => "not_found",
            ExitClass::Usage => "usage",
            ExitClass::Partial => "partial",
            ExitClass::Gone => "gone",
            ExitClass::Busy => "busy",
            ExitClass::Network => "network",
            ExitClass::Internal => "internal",
        }
    }

    pub fn code(self) -> i32 {
        match self {
            ExitClass::NotFound => 1,
            ExitClass::Usage => 2,
            ExitClass::Partial => 3,
            ExitClass::Gone => 4,
            ExitClass::Busy => 5,
            ExitClass::Network => 6,
            ExitClass::Internal => 10,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Usage(String),
    #[error("{what} needs confirmation and stdin is not a terminal; pass `{flag}` to proceed")]
    NeedsConfirmation { what: String, flag: &'static str },
    #[error("cannot read metakernel `{path}`")]
    Metakernel {
        path: String,
        #[source]
        source: crate::metakernel::ParseError,
    },
    #[error("cannot rewrite metakernel `{path}`")]
    Rewrite {
        path: String,
        #[source]
        source: crate::metakernel::RewriteError,
    },
    #[error(transparent)]
    Remote(Box<crate::remote::fetch::FetchError>),
    /// The server says the metakernel is gone (403/404/410).
    #[error("{0}")]
    Gone(String),
    #[error(transparent)]
    Plan(#[from] crate::remote::plan::PlanError),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error(transparent)]
    Db(#[from] db::Error),
    #[error(transparent)]
    Lockfile(#[from] crate::lockfile::Error),
    #[error(transparent)]
    Bundle(#[from] crate::bundle::Error),
    #[error(transparent)]
    Team(#[from] crate::team::Error),
    /// The output the user named cannot be written (a directory, a read-only place):
    /// the request cannot be carried out as given (exit 2), not an internal failure.
    #[error("cannot write the output `{path}`")]
    Output {
        path: String,
        #[source]
        source: store::Error,
    },
}

impl Error {
    pub fn class(&self) -> ExitClass {
        match self {
            Error::NotFound(_) | Error::Db(db::Error::Missing(_)) => ExitClass::NotFound,
            Error::Usage(_)
            | Error::NeedsConfirmation { .. }
            | Error::Metakernel { .. }
            | Error::Rewrite { .. }
            | Error::Plan(_)
            | Error::Db(db::Error::TooNew { .. }) => ExitClass::Usage,
            Error::Store(
                store::Error::Path(_)
                | store::Error::NetworkHome(_)
                | store::Error::LinkInHome { .. },
            ) => ExitClass::Usage,
            Error::Gone(_) => ExitClass::Gone,
            Error::Remote(e) if e.is_not_found() => ExitClass::NotFound,
            Error::Remote(e) if matches!(**e, crate::remote::fetch::FetchError::CaFile { .. }) => {
                ExitClass::Usage
            }
            Error::Remote(_) => ExitClass::Network,
            Error::Store(store::Error::LockTimeout { .. }) => ExitClass::Busy,
            Error::Store(_) | Error::Db(_) => ExitClass::Internal,
            Error::Lockfile(_) => ExitClass::Usage,
            Error::Bundle(e) => match e {
                crate::bundle::Error::Store(_) | crate::bundle::Error::Write(_) => {
                    ExitClass::Internal
                }
                crate::bundle::Error::Source { .. } => ExitClass::Internal,
                _ => ExitClass::Usage,
            },
            Error::Team(crate::team::Error::Spec { .. }) => ExitClass::Usage,
            Error::Team(crate::team::Error::Local(_) | crate::team::Error::Runtime(_)) => {
                ExitClass::Internal
            }
            Error::Team(_) => ExitClass::Network,
            Error::Output { .. } => ExitClass::Usage,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Ctx<'_> {
    /// Opens the catalogue for a read-only command (no lock; fails if there is none).
    /// A home that was moved is first re-rooted (that takes the lock, once).
    pub fn read(&self) -> Result<Catalogue> {
        store::netfs::check_home(self.home.root()).map_err(store::Error::from)?;
        if self.home.catalogue().exists() && relocate::moved_from(&self.home).is_some() {
            drop(self.write()?);
        }
        Catalogue::open_existing(&self.home.catalogue()).map_err(|e| self.disk_full(e))
    }

    /// Where supplied contents go and who hears about it ([`crate::supply`]).
    pub fn site(&self) -> crate::supply::Site<'_> {
        crate::supply::Site {
            home: &self.home,
            reporter: self.reporter,
        }
    }

    /// Takes the home lock, sweeps crash leftovers, opens (or creates) the catalogue.
    pub fn write(&self) -> Result<(HomeLock, Catalogue)> {
        store::netfs::check_home(self.home.root()).map_err(store::Error::from)?;
        let lock = self.home.lock(self.lock_timeout, &mut |p| {
            self.reporter.waiting_for_lock(p)
        })?;
        self.home.create()?;
        let swept = self.home.sweep()?;
        if swept > 0 {
            tracing::info!(swept, "removed temporary files left by an interrupted kdb");
        }
        let mut cat =
            Catalogue::open_or_create(&self.home.catalogue()).map_err(|e| self.disk_full(e))?;
        match relocate::moved_from(&self.home) {
            Some(old) => {
                let r = relocate::relocate(&self.home, &mut cat, &old)?;
                self.reporter.warn(&format!(
                    "the home moved from `{}`: {} rows, {} mission-tree links and {} ready \
                     metakernels now point into `{}`",
                    r.from.display(),
                    r.rows,
                    r.links,
                    r.metakernels,
                    self.home.root().display()
                ));
            }
            None => relocate::record(&self.home)?,
        }
        Ok((lock, cat))
    }

    /// SQLite reports a full disk as an I/O error of its shared memory or journal; when
    /// the home's filesystem has no free block, say so, naming the catalogue.
    fn disk_full(&self, e: db::Error) -> Error {
        let full = rustix::fs::statvfs(self.home.root()).is_ok_and(|s| s.f_bavail == 0);
        if full && matches!(e, db::Error::Open { .. } | db::Error::Sql(_)) {
            return store::Error::io(
                "open the catalogue (the disk is full)",
                &self.home.catalogue(),
                std::io::Error::from_raw_os_error(28),
            )
            .into();
        }
        e.into()
    }
}

pub use crate::supply::{FOUND_PIN_LABEL, intact};

/// A test seam for the crash-ordering tests: when `KDB_CRASH_AT` names this point,
/// the process dies on the spot (`abort`, as abrupt as `kill -9`: no destructor, no
/// cleanup). Points: `flushed` (bodies on disk, nothing renamed), `renamed` (objects
/// in place, nothing committed), `laid_out` (tree links in place, nothing committed).
pub fn crash_point(point: &str) {
    if std::env::var_os("KDB_CRASH_AT").is_some_and(|p| p == point) {
        std::process::abort();
    }
}

/// Checks that the user's output path can be a file: not an existing directory.
pub fn check_output(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(Error::Usage(format!(
            "the output `{}` is a directory; give a file name (e.g. `{}/out`)",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// Writes `bytes` to the user's output `path` (mode from the umask), mapping a
/// failure to [`Error::Output`].
pub fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    check_output(path)?;
    store::fsio::write_user_file(path, bytes).map_err(|source| Error::Output {
        path: path.display().to_string(),
        source,
    })
}

/// `path` made absolute without resolving links (the name as the user refers to it).
pub fn absolute(path: &Path) -> PathBuf {
    store::fsio::absolute(path)
}

impl From<crate::supply::Error> for Error {
    fn from(e: crate::supply::Error) -> Self {
        match e {
            crate::supply::Error::Store(e) => e.into(),
            crate::supply::Error::Db(e) => e.into(),
        }
    }
}
