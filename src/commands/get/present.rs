//! Which entries are already held: the catalogue knows content for the name *and*
//! URL, its bytes are intact, and the server's listing (or a conditional request)
//! agrees it did not change.

use url::Url;

use crate::commands::{Result, mk};
use crate::db::{Catalogue, LocationRow};
use crate::remote::fetch::{self, Conditional, Validators};
use crate::remote::listings::Listings;
use crate::remote::plan::{self, RemotePlan};

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
    // Every directory the metakernel's own plan names is asked for at once.
    listings.prefetch(first.entries.iter().map(|e| &e.url));
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
