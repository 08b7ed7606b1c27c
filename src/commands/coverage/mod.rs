//! `coverage`, `which`, `gaps` and `reindex`: what the kernels of a metakernel (or of
//! the files given) cover, answered from the coverage index (`coverage` table).
//!
//! Invariants:
//! - A registered content whose location is intact is answered from its index entry,
//!   reading no byte of the kernel; one with no entry yet is read once and its entry
//!   written (backfill, under the home lock). Unregistered files are read directly.
//! - Text kernels (extension `.t*`, NAIF's convention) are loaded in load order into
//!   the [`TimeKernels`] pool, as CSPICE's `furnsh` would: the LSK and SCLKs in force
//!   are the metakernel's (or the FILEs').
//! - A kernel the reader refuses, or a missing time kernel, is a usage error (exit 2)
//!   naming the file or what is missing.

use std::path::{Path, PathBuf};

use super::inspect::{Hint, resolve_hinted};
use super::mk::{candidate_paths, entry_suffix, file_name};
use super::{Ctx, Error, Result, absolute, intact};
use crate::coverage::index::IndexedKernel;
use crate::coverage::{self as cov, TimeKernels};
use crate::db::Catalogue;
use crate::store::Sha256Hex;

mod questions;

pub use questions::*;

/// How bounds are given: ET seconds, ISO UTC, or (CK) encoded SCLK ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFormat {
    Et,
    Utc,
    Sclk,
}

/// One binary kernel of the inputs, in load order.
pub struct Binary {
    pub file: String,
    pub name: String,
    pub sha256: Option<Sha256Hex>,
    pub kernel: IndexedKernel,
}

/// The inputs of a coverage question: binary kernels and the text-kernel pool.
pub struct Inputs {
    pub binaries: Vec<Binary>,
    pub time: TimeKernels,
    /// Bytes of binary kernels read (0 when every answer came from the index).
    pub bytes_read: u64,
}

fn cov_err(e: cov::Error) -> Error {
    let hint = match &e {
        cov::Error::Missing { .. } => {
            " (load it from the metakernel or pass it as a FILE; `--time sclk` needs no clock)"
        }
        _ => "",
    };
    Error::Usage(format!("{}{hint}", crate::error_chain(&e)))
}

/// Whether a file name follows NAIF's text-kernel convention (`.t*` extension).
fn is_text(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| ext.to_ascii_lowercase().starts_with('t'))
}

/// A path to load, with its content hash when the catalogue knows it intact.
struct ToLoad {
    path: PathBuf,
    display: String,
    sha256: Option<Sha256Hex>,
}

/// Collects the inputs: a metakernel's entries in load order, or the FILEs.
pub fn gather(ctx: &Ctx<'_>, mk: Option<&str>, files: &[PathBuf]) -> Result<Inputs> {
    let cat = Catalogue::open_existing(&ctx.home.catalogue()).ok();
    let mut list = Vec::new();
    if let Some(mk) = mk {
        let loaded = super::mk::load(ctx, mk)?;
        for e in &loaded.entries {
            list.push(locate_entry(cat.as_ref(), &loaded.origin, &e.path)?);
        }
    }
    for f in files {
        let path = absolute(f);
        if !path.exists() {
            return Err(Error::NotFound(format!("no file `{}`", path.display())));
        }
        let display = path.display().to_string();
        let sha256 = match &cat {
            Some(c) => c.location(&display)?.filter(intact).map(|r| r.sha256),
            None => None,
        };
        list.push(ToLoad {
            path,
            display,
            sha256,
        });
    }
    load_all(ctx, cat.as_ref(), list)
}

fn locate_entry(cat: Option<&Catalogue>, origin: &str, entry: &str) -> Result<ToLoad> {
    let name = file_name(entry);
    let exact = candidate_paths(origin, entry);
    if let Some(cat) = cat
        && let Some(r) = resolve_hinted(
            cat,
            name,
            None,
            &Hint {
                exact: &exact,
                suffix: Some(entry_suffix(entry)),
            },
        )?
        && let Some(row) = cat.location(&r.path)?
        && intact(&row)
    {
        return Ok(ToLoad {
            path: PathBuf::from(&row.path),
            display: row.path.clone(),
            sha256: Some(row.sha256),
        });
    }
    match exact.iter().find(|p| Path::new(p).is_file()) {
        Some(p) => Ok(ToLoad {
            path: PathBuf::from(p),
            display: p.clone(),
            sha256: None,
        }),
        None => Err(Error::NotFound(format!(
            "kernel `{entry}` of `{origin}` is not present locally (run `kdb get` or `kdb scan`)"
        ))),
    }
}

fn load_all(ctx: &Ctx<'_>, cat: Option<&Catalogue>, list: Vec<ToLoad>) -> Result<Inputs> {
    let mut inputs = Inputs {
        binaries: Vec::new(),
        time: TimeKernels::new(),
        bytes_read: 0,
    };
    let mut backfill = Vec::new();
    for t in list {
        let name = file_name(&t.display).to_string();
        if is_text(&name) {
            let bytes = std::fs::read(&t.path)
                .map_err(|e| Error::Usage(format!("cannot read `{}`: {e}", t.display)))?;
            inputs.time.load(&t.display, &bytes).map_err(cov_err)?;
            continue;
        }
        let cached = match (cat, &t.sha256) {
            (Some(c), Some(sha)) => c.coverage_of(sha)?,
            _ => None,
        };
        let row = match cached {
            Some(row) => row,
            None => {
                let sha = t
                    .sha256
                    .clone()
                    .unwrap_or_else(|| Sha256Hex::from_digest([0; 32]));
                let (row, n) = crate::supply::index_counted(&t.path, &sha);
                inputs.bytes_read += n;
                if t.sha256.is_some() {
                    backfill.push(row.clone());
                }
                row
            }
        };
        if let Some(e) = &row.error {
            return Err(Error::Usage(format!("`{}`: {e}", t.display)));
        }
        let Some(blob) = &row.summary else { continue };
        let kernel = IndexedKernel::decode(blob)
            .map_err(|e| Error::Usage(format!("`{}`: {e}", t.display)))?;
        inputs.binaries.push(Binary {
            file: t.display,
            name,
            sha256: t.sha256,
            kernel,
        });
    }
    if !backfill.is_empty() {
        let (_lock, mut cat) = ctx.write()?;
        cat.write(|tx| -> Result<()> {
            for row in &backfill {
                tx.upsert_coverage(row)?;
            }
            Ok(())
        })?;
    }
    if std::env::var_os("KDB_DEBUG_READS").is_some() {
        ctx.reporter.warn(&format!(
            "read {} bytes of binary kernels",
            inputs.bytes_read
        ));
    }
    Ok(inputs)
}

/// `kdb reindex`: forgets every entry and indexes every binary content again from an
/// intact location (or its store object). Returns (indexed, refused, unavailable).
pub fn reindex(ctx: &Ctx<'_>) -> Result<(u64, u64, u64)> {
    let (_lock, mut cat) = ctx.write()?;
    cat.write(|tx| tx.clear_coverage().map_err(Error::from))?;
    let todo = cat.unindexed()?;
    let mut rows = Vec::new();
    let mut unavailable = 0;
    for sha in todo {
        let object = ctx.home.object_path(&sha);
        let path = if object.is_file() {
            Some(object)
        } else {
            cat.locations_of(&sha)?
                .into_iter()
                .find(intact)
                .map(|r| PathBuf::from(r.path))
        };
        match path {
            Some(p) => rows.push(crate::supply::index_file(&p, &sha)),
            None => unavailable += 1,
        }
    }
    let refused = rows.iter().filter(|r| r.error.is_some()).count() as u64;
    let indexed = rows.len() as u64 - refused;
    cat.write(|tx| -> Result<()> {
        for r in &rows {
            tx.upsert_coverage(r)?;
        }
        Ok(())
    })?;
    Ok((indexed, refused, unavailable))
}

// ---------------------------------------------------------------- questions

/// `kdb coverage|which|gaps --mk URL` on an http(s) metakernel: its text kernels
/// are fetched (they are small and give the times and names), its binary kernels
/// are probed, CK intervals included — no kernel body is downloaded. A kernel whose coverage cannot be
/// probed is left out with a warning naming it and why. Fresh probes are cached.
pub fn remote_inputs(
    ctx: &Ctx<'_>,
    net: &crate::remote::fetch::FetchConfig,
    mk_url: &str,
) -> Result<Inputs> {
    use crate::remote::fetch::{Conditional, Session};
    use crate::remote::probe::{Probed, cache_rows, probe_all_with};
    let url = crate::remote::auth::accept_text(mk_url).map_err(Error::Usage)?;
    let session = Session::new(net);
    let fetched = match session.fetch_text(&url, None) {
        Ok(Conditional::Fetched(f)) => f,
        Ok(Conditional::NotModified) => {
            return Err(Error::Usage(format!("`{url}` answered 304 to a plain GET")));
        }
        Err(e) if e.is_not_found() => {
            return Err(Error::NotFound(format!("no metakernel at `{url}`")));
        }
        Err(e) => return Err(Error::Remote(Box::new(e))),
    };
    let loaded = crate::commands::mk::parse(fetched.final_url.to_string(), &fetched.bytes)?;
    // The probe cache is read and written under the home lock.
    let (_lock, mut cat) = ctx.write()?;
    // The same resolution of the entries as `get` (the working directory SPICE would
    // use is chosen by the listings), so `../kernels` reads the same files.
    let plan = crate::commands::get::plan_like_get(&cat, &session, &fetched.final_url, &loaded)?;
    let mut time = crate::coverage::TimeKernels::new();
    let mut items = Vec::new();
    let mut once = std::collections::HashSet::new();
    for e in &plan.entries {
        let text = e
            .name
            .rsplit_once('.')
            .is_some_and(|(_, ext)| ext.to_ascii_lowercase().starts_with('t'));
        if text {
            let f = match session.fetch_text(&e.url, None) {
                Ok(Conditional::Fetched(f)) => f,
                Ok(Conditional::NotModified) => continue,
                Err(err) => return Err(Error::Remote(Box::new(err))),
            };
            time.load(e.url.as_str(), &f.bytes)
                .map_err(|err| Error::Usage(crate::error_chain(&err)))?;
        } else if once.insert(e.url.to_string()) {
            items.push((e.url.clone(), e.name.clone()));
        }
    }
    let probes = probe_all_with(&session, &cat, &items, true)?;
    let rows = cache_rows(&items, &probes);
    let mut inputs = Inputs {
        binaries: Vec::new(),
        time,
        bytes_read: probes.iter().map(|p| p.bytes).sum(),
    };
    for ((url, name), p) in items.iter().zip(probes) {
        match p.outcome {
            Probed::Daf(kernel) => inputs.binaries.push(Binary {
                file: url.to_string(),
                name: name.clone(),
                sha256: None,
                kernel,
            }),
            Probed::NotDaf { .. } => {}
            Probed::Unknown { reason } => ctx.reporter.warn(&format!(
                "`{url}` left out: coverage unknown ({reason}); download it to read it"
            )),
        }
    }
    if !rows.is_empty() {
        cat.write(|tx| -> Result<()> {
            for row in &rows {
                tx.upsert_probe(row)?;
            }
            Ok(())
        })?;
    }
    Ok(inputs)
}
