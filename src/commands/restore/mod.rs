//! `kdb restore`: materialise a lockfile's metakernel and exactly its locked bytes.
//!
//! Plan → fetch → lay out → commit, under the home lock:
//! 1. every distinct content of the lock (the metakernel as served, then each
//!    kernel) is looked up in the local store by hash — the object, else an intact
//!    catalogued copy — and re-hashed before it counts;
//! 2. the rest is fetched in rounds, each content from its next candidate: every
//!    `--mirror` (scheme and host of the source URL replaced by the mirror base), the
//!    source URL, then the same for the archive's `former_versions/` and
//!    `a_old_versions/` siblings of that name. Each download goes through the fetch
//!    engine with the locked size and sha256 as expectations, so no byte that is not
//!    the locked one is ever persisted. `--offline` keeps only `file://` candidates;
//! 3. a content found nowhere is reported with every place tried; the contents that
//!    did arrive are kept as verified objects, no metakernel is registered and no
//!    local `.tm` is written (DESIGN.md §3, invariant 4);
//! 4. otherwise the mission tree is laid out and the ready metakernel written exactly
//!    as `get` does (its `lay_out` and `local_metakernel`), and contents, locations,
//!    aliases and the metakernel row are committed in one transaction.
//!
//! The metakernel's plan is recomputed from its locked bytes; the working directory
//! chosen is the one whose entry URLs are the locked ones, so a lock that does not
//! agree with its metakernel is refused before anything is laid out.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;
use url::Url;

use super::{Ctx, Error, Result, absolute, mk};
use crate::db::{self};
use crate::lockfile::{self, Lock};
use crate::remote::fetch::FetchConfig;
use crate::remote::plan::{self, RemotePlan};
use crate::store::Sha256Hex;

mod layout;

use crate::supply::{self, Found, Want};
pub use crate::supply::{Arrival, Tried};
pub(crate) use layout::{layout, materialise};

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    pub lockfile: PathBuf,
    pub offline: bool,
    /// Mirror base URLs, tried in order before the source URL.
    pub mirrors: Vec<String>,
    /// Lay the tree out here instead of `$KDB_HOME/missions/<MISSION>`.
    pub into: Option<PathBuf>,
    /// The team store tiers (tried by hash after the local store), `--no-upstream`.
    pub team: crate::team::TeamOptions,
}

/// A locked content found nowhere.
#[derive(Debug, Clone, Serialize)]
pub struct Unfound {
    pub name: String,
    pub sha256: String,
    pub tried: Vec<Tried>,
}

#[derive(Debug, Serialize)]
pub struct RestoreReport {
    pub lockfile: String,
    pub metakernel_url: String,
    /// Entries of the lock.
    pub entries: usize,
    /// Distinct contents (the metakernel included).
    pub contents: usize,
    /// Distinct contents the local store already held.
    pub from_store: usize,
    pub fetched: Vec<Arrival>,
    pub fetched_bytes: u64,
    pub missing: Vec<Unfound>,
    /// The ready local metakernel, only when everything was restored.
    pub metakernel: Option<String>,
}

/// Reads and parses a lockfile.
pub fn read_lock(path: &Path) -> Result<Lock> {
    let bytes = match fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotFound(format!("no lockfile `{}`", path.display())));
        }
        Err(e) => {
            return Err(Error::Usage(format!(
                "cannot read lockfile `{}`: {e}",
                path.display()
            )));
        }
    };
    if crate::bundle::looks_like_bundle(&bytes[..bytes.len().min(512)]) {
        return Err(Error::Usage(format!(
            "`{0}` is a bundle, not a lockfile: bring it in with `kdb import {0}`",
            path.display()
        )));
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return Err(Error::Usage(format!(
            "`{}` is not a kdb lockfile (it is not text; lockfiles are written by \
             `kdb lock` or `kdb get --lock`)",
            path.display()
        )));
    };
    Ok(lockfile::parse(&path.display().to_string(), &text)?)
}

pub fn restore(ctx: &Ctx<'_>, net: &FetchConfig, opts: &RestoreOptions) -> Result<RestoreReport> {
    let lock = read_lock(&opts.lockfile)?;
    let mirrors = opts
        .mirrors
        .iter()
        .map(|m| parse_mirror(m))
        .collect::<Result<Vec<_>>>()?;
    let (_lock, mut cat) = ctx.write()?;
    let mut wants = wants(&lock)?;
    let mut report = RestoreReport {
        lockfile: absolute(&opts.lockfile).display().to_string(),
        metakernel_url: lock.metakernel.source_url.clone(),
        entries: lock.kernels.len(),
        contents: wants.len(),
        from_store: 0,
        fetched: Vec::new(),
        fetched_bytes: 0,
        missing: Vec::new(),
        metakernel: None,
    };
    let mut found = Found::default();
    let now = db::now();
    let site = ctx.site();
    // 1. The local store, by hash.
    let mut remaining = supply::from_store(&site, &cat, &mut wants, now, &mut found)?;
    // 2. The team store, by hash (docs/team.md).
    let team = crate::team::Team::open(&opts.team, net)?;
    supply::from_team(&site, &team, &mut remaining, now, &mut found)?;
    let from_team = found.fetched.len();
    // 3. Mirrors, source, former versions: one round per candidate rank.
    if team.no_upstream() {
        for w in &mut remaining {
            w.tried.push(Tried {
                place: w.source.to_string(),
                error: "not tried (--no-upstream)".into(),
            });
        }
    } else {
        supply::fetch_rounds(
            &site,
            net,
            &mut remaining,
            &mirrors,
            opts.offline,
            now,
            &mut found,
        )?;
        supply::publish(&site, &team, &found, &found.fetched[from_team..]);
    }
    report.from_store = found.from_store;
    report.fetched = std::mem::take(&mut found.fetched);
    report.fetched_bytes = found.fetched_bytes;
    // 3. Anything found nowhere: keep what arrived, register no metakernel.
    if !remaining.is_empty() {
        report.missing = remaining
            .into_iter()
            .map(|w| Unfound {
                name: w.name,
                sha256: w.sha.to_string(),
                tried: w.tried,
            })
            .collect();
        supply::keep(&mut cat, &found.arrivals)?;
        return Ok(report);
    }
    // 4. Lay out, write the ready metakernel, commit. A lock that does not agree with
    // its metakernel is refused before the tree is touched; what arrived is kept.
    let checked = found
        .objects
        .get(&lock.metakernel.sha256)
        .ok_or_else(|| Error::NotFound(format!("`{}` not restored", lock.metakernel.name)))
        .and_then(|mk| fs::read(mk).map_err(|e| crate::store::Error::io("read", mk, e).into()))
        .and_then(|bytes| layout(ctx, &cat, &lock, &bytes, opts.into.as_deref()));
    if let Err(e) = checked {
        supply::keep(&mut cat, &found.arrivals)?;
        return Err(e);
    }
    let mk_path = materialise(ctx, &mut cat, &lock, found, opts.into.as_deref(), now)?;
    report.metakernel = Some(mk_path.display().to_string());
    Ok(report)
}

/// The plan of `loaded` whose entry URLs are exactly the locked ones.
fn locked_plan(lock: &Lock, mk_url: &Url, loaded: &mk::Loaded) -> Result<RemotePlan> {
    for cwd in plan::working_dirs(mk_url) {
        let Ok(p) = plan::plan_from(mk_url, &cwd, loaded) else {
            continue;
        };
        if p.entries.len() == lock.kernels.len()
            && p.entries.iter().zip(&lock.kernels).all(|(e, k)| {
                e.url.as_str() == k.source_url && e.name == k.name && e.raw == k.entry
            })
        {
            return Ok(p);
        }
    }
    // Report the first difference against the metakernel's own directory.
    plan::plan(mk_url, loaded)?;
    Err(Error::Usage(format!(
        "refusing the lock: it does not agree with its metakernel `{mk_url}` (its {} entries are not the {} locked kernels (entry, name, URL)); nothing was written",
        loaded.entries.len(),
        lock.kernels.len()
    )))
}

/// The distinct contents of a lock: the metakernel first, then kernels in order.
fn wants(lock: &Lock) -> Result<Vec<Want>> {
    let url = |s: &str| Url::parse(s).map_err(|e| Error::Usage(format!("locked URL `{s}`: {e}")));
    let m = &lock.metakernel;
    let mut out = vec![Want::new(&m.name, &m.sha256, m.size, url(&m.source_url)?)];
    let mut seen: HashSet<Sha256Hex> = HashSet::from([m.sha256.clone()]);
    for k in &lock.kernels {
        if seen.insert(k.sha256.clone()) {
            out.push(Want::new(&k.name, &k.sha256, k.size, url(&k.source_url)?));
        }
    }
    Ok(out)
}

/// A `--mirror` base URL.
fn parse_mirror(m: &str) -> Result<Url> {
    let url =
        crate::remote::auth::accept_text(m).map_err(|e| Error::Usage(format!("mirror: {e}")))?;
    if !matches!(url.scheme(), "http" | "https" | "file") {
        return Err(Error::Usage(format!(
            "unsupported mirror URL scheme `{}`",
            url.scheme()
        )));
    }
    Ok(url)
}
