//! The supply chain: where the bytes of a content come from, and how they become an
//! object. Every content that enters the store goes through here:
//!
//! - **sources**, in order: the local store by hash (the object, else an intact
//!   catalogued copy, re-hashed: [`from_store`]); the team tiers by hash and size
//!   ([`from_team`]); then in rounds, each content from its next candidate: every
//!   mirror, the source URL, the archive's `former_versions/` siblings
//!   ([`fetch_rounds`], candidates from [`crate::remote::mirror`]). `get` asks the
//!   catalogue by URL first and the team tiers and upstream together
//!   (`team::download_all`, which claims what it fetches); a bundle is its own source;
//! - **one hash check**: bytes are staged through [`crate::store::fsio`], which hashes
//!   them as they are written, and only bytes whose hash (and size) is the one
//!   wanted reach [`place`]; an object already there is trusted only when verified;
//! - **one provenance record**: [`Arrived`], the rows of a content that arrived
//!   (kernel, object location, alias, download record with validators, coverage
//!   index, and the pin of a content found in the store without a row).
//!
//! Used by `get`, `restore`, `import` and `team warm` (through `get`). Imports
//! `store`, `db`, `remote`, `team`, `kernel`, `coverage` and `reporter`; never
//! `commands` or `cli`.

use serde::Serialize;
use url::Url;

use crate::reporter::Reporter;
use crate::store::{Home, Sha256Hex};

mod index;
mod local;
mod network;
mod record;
mod tier;

pub use index::{index_counted, index_file};
pub use local::{adopt, from_store, held, intact};
pub use network::fetch_rounds;
pub use record::{Arrived, FOUND_PIN_LABEL, Placed, arrived, place, verified_stamps};
pub use tier::{from_team, publish};

/// Where supplied contents go and who hears about it.
#[derive(Clone, Copy)]
pub struct Site<'a> {
    pub home: &'a Home,
    pub reporter: &'a dyn Reporter,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(transparent)]
    Db(#[from] crate::db::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

/// One distinct content wanted by hash and size.
pub struct Want {
    pub name: String,
    pub sha: Sha256Hex,
    pub size: u64,
    /// The URL it was published under (recorded with it, and the last candidate).
    pub source: Url,
    /// Every place it was looked for and why it was not taken from there.
    pub tried: Vec<Tried>,
    /// The store's object for this hash holds other bytes: replace it, never keep it.
    pub repair: bool,
}

impl Want {
    pub fn new(name: &str, sha: &Sha256Hex, size: u64, source: Url) -> Want {
        Want {
            name: name.to_owned(),
            sha: sha.clone(),
            size,
            source,
            tried: Vec::new(),
            repair: false,
        }
    }

    /// The rows of this content, now held as `object` (no validators: a hash pins
    /// bytes, not a server's answer).
    fn arrived(&self, object: &std::path::Path, now: crate::content::Timestamp) -> Result<Arrived> {
        Ok(arrived(
            &self.name,
            self.source.as_str(),
            crate::remote::fetch::Validators::default(),
            &self.sha,
            object,
            self.size,
            now,
        )?)
    }

    fn tried(&mut self, place: impl Into<String>, error: impl Into<String>) {
        self.tried.push(Tried {
            place: place.into(),
            error: error.into(),
        });
    }
}

/// One place a content was looked for, and why it was not taken from there.
#[derive(Debug, Clone, Serialize)]
pub struct Tried {
    pub place: String,
    pub error: String,
}

/// A content fetched (from a tier, a mirror or upstream), and from where.
#[derive(Debug, Clone, Serialize)]
pub struct Arrival {
    pub name: String,
    pub sha256: String,
    pub url: String,
    pub size: u64,
}

/// Contents supplied so far: the object holding each hash, the catalogue rows still
/// to record, and what came from where.
#[derive(Default)]
pub struct Found {
    pub objects: std::collections::HashMap<Sha256Hex, std::path::PathBuf>,
    pub arrivals: Vec<Arrived>,
    /// Contents the local store already held.
    pub from_store: usize,
    /// Contents fetched, in arrival order.
    pub fetched: Vec<Arrival>,
    pub fetched_bytes: u64,
}

/// Records contents that arrived (verified objects) without registering a
/// metakernel, as a failed `get` does: the next attempt need not fetch them again.
pub fn keep(cat: &mut crate::db::Catalogue, arrivals: &[Arrived]) -> Result<()> {
    cat.write(|tx| -> Result<()> {
        for a in arrivals {
            a.record(tx)?;
        }
        Ok(())
    })
}
