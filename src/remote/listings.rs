//! Directory listings fetched during one command (`get`, `update`, `outdated`), all
//! the directories a command needs at once, and what a listing says of a file held
//! since a given time: the one rule `get`, `update` and `outdated` share, so they
//! agree (issue 20).

use std::collections::HashMap;

use url::Url;

use super::fetch;
use super::listing::{Listing, ListingEntry, Size};
use crate::content::Timestamp;

/// Directory listings fetched during one command, by directory URL (`None` when the
/// server gives none: then nothing is known about sizes there).
pub struct Listings<'a> {
    session: &'a fetch::Session,
    /// `--no-upstream`: ask the server nothing (no listing, so no size is known).
    offline: bool,
    /// Each directory's files by name (an index: a metakernel of thousands of entries
    /// in one directory looks each up once).
    pages: HashMap<String, Option<HashMap<String, ListingEntry>>>,
}

impl<'a> Listings<'a> {
    pub fn new(session: &'a fetch::Session, offline: bool) -> Self {
        Listings {
            session,
            offline,
            pages: HashMap::new(),
        }
    }

    /// Fetches the listings of the directories of `urls` not fetched yet, all at once
    /// (each is needed: a later [`Self::entry`] would ask for them one at a time).
    pub fn prefetch<'u>(&mut self, urls: impl IntoIterator<Item = &'u Url>) {
        if self.offline {
            return;
        }
        let mut dirs: Vec<Url> = Vec::new();
        for url in urls {
            if let Ok(dir) = url.join("./")
                && !self.pages.contains_key(dir.as_str())
                && !dirs.contains(&dir)
            {
                dirs.push(dir);
            }
        }
        let answers = self.session.fetch_listings(&dirs);
        for (dir, answer) in dirs.into_iter().zip(answers) {
            self.pages.insert(dir.to_string(), answer.ok().map(index));
        }
    }

    /// Takes listings fetched earlier (beside the metakernel), by directory URL.
    pub fn seed(&mut self, pages: Vec<(Url, Result<Listing, fetch::FetchError>)>) {
        for (dir, page) in pages {
            self.pages.insert(dir.to_string(), page.ok().map(index));
        }
    }

    pub fn entry(&mut self, url: &Url, name: &str) -> Option<ListingEntry> {
        if self.offline {
            return None;
        }
        let dir = url.join("./").ok()?;
        let session = self.session;
        let page = self
            .pages
            .entry(dir.to_string())
            .or_insert_with(|| session.fetch_listing(&dir).ok().map(index));
        page.as_ref()?.get(name).cloned()
    }

    pub fn session(&self) -> &'a fetch::Session {
        self.session
    }

    /// The listing's size for a file, exact or rounded (a download must agree).
    pub fn size(&mut self, url: &Url, name: &str) -> Option<Size> {
        self.entry(url, name)?.size
    }

    /// The listing's exact size for a file (the size a download must have).
    pub fn exact_size(&mut self, url: &Url, name: &str) -> Option<u64> {
        self.entry(url, name)?.size.and_then(|s| s.exact())
    }

    /// What the server's listing (when there is one) says of what we hold: a
    /// different size (exactly, or beyond the rounding of `12K` forms) or a later
    /// minute means changed; the very minute we fetched it cannot tell.
    pub fn verdict(&mut self, url: &Url, name: &str, held: u64, fetched_at: Timestamp) -> Listed {
        if self.offline {
            return Listed::Agrees;
        }
        // No listing, or a listing without dates (Python's `http.server`, a server
        // that refuses directory listings): the listing cannot tell a same-size
        // change, so a conditional request decides (issue 20).
        let Some(entry) = self.entry(url, name) else {
            return Listed::SameMinute;
        };
        if entry.size.is_some_and(|size| !size.agrees_with(held)) {
            return Listed::Changed;
        }
        if let Some(modified) = entry.modified {
            let fetched_minute = fetched_at.unix() / 60;
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

/// A listing's files by name.
fn index(listing: Listing) -> HashMap<String, ListingEntry> {
    listing
        .entries
        .into_iter()
        .filter(|e| !e.is_dir)
        .map(|e| (e.name.clone(), e))
        .collect()
}

/// A listing's verdict on a kernel we hold.
pub enum Listed {
    Agrees,
    Changed,
    /// The listing cannot tell (modified in the minute we fetched it, no date, no
    /// listing): ask the server (conditional request).
    SameMinute,
}
