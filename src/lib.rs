//! kdb: a SPICE kernel cache manager.
//!
//! Dependencies point one way: `cli → commands → {store, db, kernel}`; the core
//! modules do not call each other (except `store` ← nothing, `db` ← nothing).

pub mod cli;
pub mod commands;
pub mod db;
pub mod kernel;
pub mod metakernel;
pub mod remote;
pub mod store;

/// `error` followed by each of its causes, `: `-separated (for one-line reports).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut s = error.to_string();
    let mut cur = error.source();
    while let Some(e) = cur {
        s.push_str(": ");
        s.push_str(&e.to_string());
        cur = e.source();
    }
    s
}
pub mod coverage;
