//! The team tiers as a source (looked up by hash and size), and publishing what
//! came from elsewhere to the writable tiers.

use super::network::Verified;
use super::{Arrival, Found, Result, Site, Want};
use crate::content::Timestamp;
use crate::remote::fetch::Validators;
use crate::store::{Sha256Hex, fsio};

/// Looks the remaining contents up in the team tiers by their locked hash and size;
/// hits (verified twice: by the tier against the object's name, then here against
/// the lock) become objects.
pub fn from_team(
    site: &Site<'_>,
    team: &crate::team::Team,
    remaining: &mut Vec<Want>,
    now: Timestamp,
    found: &mut Found,
) -> Result<()> {
    if team.is_empty() || remaining.is_empty() {
        return Ok(());
    }
    let tmp = site.home.tmp();
    fsio::create_dir_all(&tmp)?;
    let asks: Vec<crate::team::Want> = remaining
        .iter()
        .map(|w| crate::team::Want {
            url: Some(w.source.clone()),
            name: w.name.clone(),
            sha256: Some(w.sha.clone()),
            size: Some(w.size),
        })
        .collect();
    let hits = team.find_all(&asks, &tmp);
    for warning in team.take_warnings() {
        site.reporter.warn(&warning);
    }
    let mut dirs = fsio::DirSyncs::default();
    let mut later = Vec::new();
    for (mut w, hit) in remaining.drain(..).zip(hits) {
        let Some(hit) = hit.filter(|h| h.staged.sha256() == &w.sha && h.staged.len() == w.size)
        else {
            w.tried("team store", "not held");
            later.push(w);
            continue;
        };
        let source = w.source.to_string();
        let arrived = Verified {
            staged: hit.staged,
            url: &source,
            from: hit.tier,
            served_by: None,
            validators: Validators::default(),
        };
        found.take(site, &w, arrived, now, &mut dirs)?;
    }
    dirs.sync()?;
    *remaining = later;
    Ok(())
}

/// Publishes what was fetched from mirrors or upstream to the writable tiers.
pub fn publish(site: &Site<'_>, team: &crate::team::Team, found: &Found, fetched: &[Arrival]) {
    if team.is_empty() || fetched.is_empty() {
        return;
    }
    let items: Vec<crate::team::Publish> = fetched
        .iter()
        .filter_map(|a| {
            let sha = Sha256Hex::parse(&a.sha256)?;
            Some(crate::team::Publish {
                url: Some(a.url.clone()),
                path: found.objects.get(&sha)?.clone(),
                sha256: sha,
                size: a.size,
                validators: Validators::default(),
            })
        })
        .collect();
    team.publish(&items);
    for warning in team.take_warnings() {
        site.reporter.warn(&warning);
    }
}
