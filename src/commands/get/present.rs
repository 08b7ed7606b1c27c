//! Which entries are already held: the catalogue knows content for the name *and*
//! URL, its bytes are intact, and the server's listing (or a conditional request)
//! agrees it did not change.

use std::collections::HashMap;

use url::Url;

use crate::commands::{Result, mk};
use crate::db::{Catalogue, LocationRow};
use crate::remote::fetch::{self, Conditional, Validators};
use crate::remote::listing::ListingEntry;
use crate::remote::plan::{self, RemotePlan};

/// Directory listings fetched during one `get`, by directory URL (`None` when the
/// server gives none: then nothing is known about sizes there).
pub(super) struct Listings<'a> {
    session: &'a fetch::Session,
    /// `--no-upstream`: ask the server nothing (no listing, so no size is known).
    offline: bool,
    /// Each directory's files by name (an index: a metakernel of thousands of entries
    /// in one directory looks each up once).
    pages: HashMap<String, Option<HashMap<String, ListingEntry>>>,
}

impl<'a> Listings<'a> {
    pub(super) fn new(session: &'a fetch::Session, offline: bool) -> Self {
        Listings {
            session,
            offline,
            pages: HashMap::new(),
        }
    }

    pub(super) fn entry(&mut self, url: &Url, name: &str) -> Option<ListingEntry> {
        if self.offline {
            return None;
        }
        let dir = url.join("./").ok()?;
        let session = self.session;
        let page = self.pages.entry(dir.to_string()).or_insert_with(|| {
            session.fetch_listing(&dir).ok().map(|listing| {
                listing
                    .entries
                    .into_iter()
                    .filter(|e| !e.is_dir)
                    .map(|e| (e.name.clone(), e))
                    .collect()
            })
        });
        page.as_ref()?.get(name).cloned()
    }

    pub(super) fn session(&self) -> &'a fetch::Session {
        self.session
    }

    /// The listing's size for a file, exact or rounded (a download must agree).
    pub(super) fn size(&mut self, url: &Url, name: &str) -> Option<crate::remote::listing::Size> {
        self.entry(url, name)?.size
    }

    /// The listing's exact size for a file (the size a download must have).
    pub(super) fn exact_size(&mut self, url: &Url, name: &str) -> Option<u64> {
        self.entry(url, name)?.size.and_then(|s| s.exact())
    }

    /// What the server's listing (when there is one) says of what we hold: a
    /// different size (exactly, or beyond the rounding of `12K` forms) or a later
    /// minute means changed; the very minute we fetched it cannot tell.
    pub(super) fn verdict(&mut self, url: &Url, name: &str, row: &LocationRow) -> Listed {
        if self.offline {
            return Listed::Agrees;
        }
        // No listing, or a listing without dates (Python's `http.server`, a server
        // that refuses directory listings): the listing cannot tell a same-size
        // change, so a conditional request decides (issue 20).
        let Some(entry) = self.entry(url, name) else {
            return Listed::SameMinute;
        };
        if entry
            .size
            .is_some_and(|size| !size.agrees_with(row.stamp.size))
        {
            return Listed::Changed;
        }
        if let Some(modified) = entry.modified {
            let fetched_minute = row.hashed_at.unix() / 60;
            let modified_minute = modified.and_utc().timestamp() / 60;
            if modified_minute > fetched_minute {
                return Listed::Changed;
            }
            if modified_minute == fetched_minute {
                return Listed::SameMinute;
            }
            return Listed::Agrees;
        }
        Listed::SameMinute
    }
}

/// Settles kernels whose listing cannot tell (modified in the minute we fetched
/// them) with conditional requests carrying the validators of our download: 304 →
/// still present. A 200 (or a body too large to be a small document) → changed. No
/// stored validators, or no answer → kept as present (the listing agreed on size).
pub(super) fn revalidate(
    cat: &Catalogue,
    session: &fetch::Session,
    ambiguous: Vec<(Url, LocationRow)>,
) -> Result<Vec<(String, LocationRow)>> {
    let mut kept = Vec::new();
    let mut asks = Vec::new();
    let mut rows = Vec::new();
    let urls: Vec<&str> = ambiguous.iter().map(|(u, _)| u.as_str()).collect();
    let mut downloads = cat.downloads_of(&urls)?;
    for (url, row) in ambiguous {
        match downloads.remove(url.as_str()) {
            Some(d)
                if d.sha256 == row.sha256 && (d.etag.is_some() || d.last_modified.is_some()) =>
            {
                asks.push((
                    url.clone(),
                    Validators {
                        etag: d.etag,
                        last_modified: d.last_modified,
                    },
                ));
                rows.push((url.to_string(), row));
            }
            _ => kept.push((url.to_string(), row)),
        }
    }
    for (answer, row) in session.revalidate_all(&asks).into_iter().zip(rows) {
        match answer {
            Ok(Conditional::NotModified) => kept.push(row),
            Ok(Conditional::Fetched(_)) | Err(fetch::FetchError::TooLong { .. }) => {}
            Err(e) => {
                tracing::debug!("cannot revalidate `{}`: {}", row.0, crate::error_chain(&e));
                kept.push(row);
            }
        }
    }
    Ok(kept)
}

/// A listing's verdict on a kernel we hold.
pub(super) enum Listed {
    Agrees,
    Changed,
    /// The listing cannot tell (modified in the minute we fetched it, no date, no
    /// listing): ask the server (conditional request).
    SameMinute,
}

/// The plan `get` would make for a served metakernel: one resolution of its entries
/// for every command (`coverage`/`which`/`gaps --mk URL` use it too, issue 20).
pub(crate) fn plan_like_get(
    cat: &Catalogue,
    session: &fetch::Session,
    mk_url: &Url,
    loaded: &mk::Loaded,
) -> Result<RemotePlan> {
    let mut listings = Listings::new(session, false);
    choose_plan(cat, &mut listings, mk_url, loaded)
}

/// Picks the server directory that plays SPICE's working directory: the
/// metakernel's own (NAIF's convention), else the first ancestor under which the
/// first entry is listed. Traversal found with the metakernel's own directory
/// refuses the whole operation.
pub(super) fn choose_plan(
    cat: &Catalogue,
    listings: &mut Listings<'_>,
    mk_url: &Url,
    loaded: &mk::Loaded,
) -> Result<RemotePlan> {
    let first = plan::plan(mk_url, loaded)?;
    for (i, cwd) in plan::working_dirs(mk_url).iter().enumerate() {
        let candidate = if i == 0 {
            first.clone()
        } else {
            match plan::plan_from(mk_url, cwd, loaded) {
                Ok(p) => p,
                Err(_) => continue,
            }
        };
        let Some(e) = candidate.entries.first() else {
            return Ok(candidate);
        };
        if !cat.locations_from(&e.name, e.url.as_str())?.is_empty()
            || listings.entry(&e.url, &e.name).is_some()
        {
            return Ok(candidate);
        }
    }
    Ok(first)
}
