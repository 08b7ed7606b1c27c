//! `kdb browse`: the metakernels of a mission's mk/ directory, versioned snapshots
//! grouped under their base name, and whether each is held locally.
//!
//! "Local" is decided from the validators stored when the metakernel was acquired
//! (ETag, Last-Modified as a time, size), never by comparing date strings.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike};
use serde::Serialize;
use url::Url;

use super::{Ctx, Error, Result};
use crate::db::{Catalogue, MetakernelRow};
use crate::remote::fetch::{self, FetchConfig};
use crate::remote::listing::Size;
use crate::remote::plan::split_version;

#[derive(Debug, Clone)]
pub struct BrowseOptions {
    pub target: Option<String>,
    pub archived: bool,
    pub filter: Option<String>,
    pub sort_by_date: bool,
    pub show_versioned: bool,
}

#[derive(Debug, Serialize)]
pub struct BrowseReport {
    pub url: String,
    pub metakernels: Vec<BrowseEntry>,
}

#[derive(Debug, Serialize, Clone)]
pub struct BrowseEntry {
    pub name: String,
    pub base: String,
    /// `[version, date, sequence]` of a versioned snapshot.
    pub version: Option<[u64; 3]>,
    pub size: Option<u64>,
    pub size_exact: bool,
    pub modified: Option<String>,
    pub url: String,
    /// `yes`, `outdated` or `no`.
    pub local: LocalState,
    /// Versioned snapshots of this base name in the listing (for unversioned names).
    pub snapshots: usize,
}

/// Resolves `MISSION|URL` (or the only configured mission) to an mk/ directory URL.
pub fn mk_dir(cat: Option<&Catalogue>, target: Option<&str>) -> Result<Url> {
    let missions = match cat {
        Some(c) => c.missions()?,
        None => Vec::new(),
    };
    let url = match target {
        Some(t) if t.contains("://") => {
            let t = if t.ends_with('/') || t.to_ascii_lowercase().ends_with(".tm") {
                t.to_owned()
            } else {
                format!("{t}/")
            };
            return crate::remote::auth::accept_text(&t).map_err(Error::Usage);
        }
        Some(name) => missions
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(name))
            .and_then(|m| m.mk_dir_url.clone())
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "no mission named `{name}`; add it with `kdb mission add {name}`"
                ))
            })?,
        None => match missions.as_slice() {
            [one] => one.mk_dir_url.clone().unwrap_or_default(),
            [] => {
                return Err(Error::Usage(
                    "no mission configured; pass a URL or run `kdb mission add NAME`".into(),
                ));
            }
            many => {
                let names: Vec<&str> = many.iter().map(|m| m.name.as_str()).collect();
                return Err(Error::Usage(format!(
                    "several missions configured ({}); name one",
                    names.join(", ")
                )));
            }
        },
    };
    Url::parse(&url).map_err(|e| Error::Usage(format!("invalid mk/ URL `{url}`: {e}")))
}

report_status! {
    /// Whether a listed metakernel was acquired, and whether it is current.
    pub enum LocalState {
        Yes => "yes",
        No => "no",
        /// Acquired, but the listing shows another size or a later time.
        Outdated => "outdated",
    }
}

/// Whether a stored acquisition still matches what the listing shows.
pub fn local_state(
    row: Option<&MetakernelRow>,
    size: Option<Size>,
    modified: Option<NaiveDateTime>,
) -> LocalState {
    let Some(row) = row else {
        return LocalState::No;
    };
    if let (Some(listed), Some(stored)) = (size, row.size)
        && !listed.agrees_with(stored)
    {
        return LocalState::Outdated;
    }
    if let (Some(listed), Some(lm)) = (modified, row.last_modified.as_deref())
        && let Ok(stored) = DateTime::parse_from_rfc2822(lm)
    {
        // Listings show minutes: newer than the stored time rounded down → changed.
        let stored = stored.naive_utc();
        let stored_minute =
            stored - chrono::Duration::seconds(stored.and_utc().timestamp().rem_euclid(60));
        if listed > stored_minute {
            return LocalState::Outdated;
        }
    }
    LocalState::Yes
}

pub fn run(ctx: &Ctx<'_>, net: &FetchConfig, opts: &BrowseOptions) -> Result<BrowseReport> {
    let cat = Catalogue::open_existing(&ctx.home.catalogue()).ok();
    let mut dir = mk_dir(cat.as_ref(), opts.target.as_deref())?;
    if opts.archived {
        dir = dir
            .join("former_versions/")
            .map_err(|e| Error::Usage(format!("cannot build the former_versions/ URL: {e}")))?;
    }
    let listing = fetch::Session::new(net)
        .fetch_listing(&dir)
        .map_err(|e| Error::Remote(Box::new(e)))?;
    let filter = opts.filter.as_deref().map(str::to_ascii_lowercase);
    // Acquired metakernels by the URLs they came from (one query, not one per row).
    let mut acquired: HashMap<String, MetakernelRow> = HashMap::new();
    if let Some(c) = &cat {
        for m in c.metakernels()? {
            if let Some(f) = &m.final_url {
                acquired.insert(f.clone(), m.clone());
            }
            acquired.insert(m.source_url.clone(), m);
        }
    }
    let mut all = Vec::new();
    for e in listing.entries.iter().filter(|e| !e.is_dir) {
        if !e.name.to_ascii_lowercase().ends_with(".tm") {
            continue;
        }
        if filter
            .as_ref()
            .is_some_and(|f| !e.name.to_ascii_lowercase().contains(f))
        {
            continue;
        }
        let url = entry_url(&dir, &e.name)?;
        let row = acquired.get(url.as_str());
        let split = split_version(&e.name);
        all.push(BrowseEntry {
            name: e.name.clone(),
            base: split.base,
            version: split.version.map(|(a, b, c)| [a, b, c]),
            size: e.size.map(Size::bytes),
            size_exact: e.size.is_some_and(Size::is_exact),
            modified: e.modified.map(|m| {
                format!(
                    "{:04}-{:02}-{:02} {:02}:{:02}",
                    m.year(),
                    m.month(),
                    m.day(),
                    m.hour(),
                    m.minute()
                )
            }),
            local: local_state(row, e.size, e.modified),
            url,
            snapshots: 0,
        });
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for e in all.iter().filter(|e| e.version.is_some()) {
        *counts.entry(e.base.clone()).or_default() += 1;
    }
    let unversioned: HashSet<&str> = all
        .iter()
        .filter(|e| e.version.is_none())
        .map(|e| e.base.as_str())
        .collect();
    let keep: Vec<bool> = all
        .iter()
        .map(|e| {
            opts.show_versioned || e.version.is_none() || !unversioned.contains(e.base.as_str())
        })
        .collect();
    drop(unversioned);
    let mut shown: Vec<BrowseEntry> = all
        .into_iter()
        .zip(keep)
        .filter_map(|(mut e, keep)| {
            if e.version.is_none() {
                e.snapshots = counts.get(&e.base).copied().unwrap_or(0);
            }
            keep.then_some(e)
        })
        .collect();
    if opts.sort_by_date {
        shown.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.name.cmp(&b.name)));
    } else {
        // Base name, the unversioned file first, then snapshots by numeric version.
        shown.sort_by_cached_key(|e| (e.base.to_ascii_lowercase(), e.version.is_some(), e.version));
    }
    Ok(BrowseReport {
        url: dir.to_string(),
        metakernels: shown,
    })
}

/// The URL of a listed file: the directory URL and the percent-encoded name, put
/// together as text (a name such as `a:b.tm` must not be read as a scheme, and
/// re-parsing 28,000 URLs cost more than the listing itself).
fn entry_url(dir: &Url, name: &str) -> Result<String> {
    let encoded = percent_encoding::utf8_percent_encode(name, crate::remote::plan::SEGMENT);
    if dir.query().is_none() && dir.fragment().is_none() && dir.path().ends_with('/') {
        return Ok(format!("{dir}{encoded}"));
    }
    dir.join(&format!("./{encoded}"))
        .map(String::from)
        .map_err(|err| Error::Usage(err.to_string()))
}
