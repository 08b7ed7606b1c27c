//! How the library reports progress and notices: [`Reporter`] (the CLI implements
//! it with indicatif; tests and the Python API with nothing), and [`Progress`], the
//! download engine's progress drawn through it. Imports only `remote::fetch` (its
//! progress trait).

use std::path::Path;

use crate::remote::fetch;

/// How the library reports progress and notices; the CLI implements it with indicatif.
pub trait Reporter: Sync {
    /// Another kdb holds the home lock; we are about to wait for it.
    fn waiting_for_lock(&self, _lock: &Path) {}
    /// A long step starts: `items` things totalling `bytes` bytes.
    fn start(&self, _what: &str, _items: u64, _bytes: u64) {}
    fn advance(&self, _items: u64, _bytes: u64) {}
    /// The step's expected bytes grow by `bytes` (a size learnt mid-way).
    fn grow(&self, _bytes: u64) {}
    fn finish(&self) {}
    /// A non-fatal notice for stderr (e.g. a cross-mission fallback).
    fn warn(&self, _message: &str) {}
}

/// The download engine's progress ([`fetch::Progress`]) drawn through a [`Reporter`].
pub struct Progress<'a>(pub &'a dyn Reporter);

impl fetch::Progress for Progress<'_> {
    fn total(&self, files: u64, bytes: u64) {
        self.0.start("downloading", files, bytes);
    }
    fn bytes(&self, n: u64) {
        self.0.advance(0, n);
    }
    fn file_done(&self) {
        self.0.advance(1, 0);
    }
    fn grow(&self, n: u64) {
        self.0.grow(n);
    }
}
