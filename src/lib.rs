//! kdb: a SPICE kernel cache manager.
//!
//! Dependencies point one way: `cli → commands → {metakernel, remote, store, db, kernel,
//! integrity}`; `integrity` (checksum tables, DAF/DAS sanity) is pure and uses nothing.
//! Among the core modules, `remote` uses `store::fsio` (downloads are staged through
//! the write chokepoint) and `kernel` (a body is checked to be a kernel); `db`, `store`,
//! `kernel` and `metakernel` use no other kdb module. docs/design.md draws the graph.
//! `team` (the team store, DESIGN.md §6) sits beside `remote`: it uses `remote`
//! (transfers, listings), `store::fsio` (staging) and `kernel` (content checks).

pub mod bundle;
pub mod cli;
pub mod commands;
pub mod content;
pub mod db;
pub mod integrity;
pub mod kernel;
pub mod lockfile;
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
pub mod team;
