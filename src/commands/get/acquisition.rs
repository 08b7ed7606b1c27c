//! Planning an acquisition: validated destinations, what is already held (catalogue,
//! listing and conditional requests), collisions with other metakernels, and the
//! distinct URLs left to download.

use super::*;

/// Plans every entry: destination (validated before any write), present or to
/// download. Reads the catalogue and listings; writes nothing.
pub(super) fn plan_acquisition(
    ctx: &Ctx<'_>,
    cat: &Catalogue,
    listings: &mut Listings<'_>,
    target: &Target<'_>,
    fetched: &Fetched,
    loaded: &mk::Loaded,
    opts: &GetOptions,
) -> Result<Acquisition> {
    let remote = present::choose_plan(cat, listings, &fetched.final_url, loaded)?;
    let (remote, window) = match &opts.window {
        Some(spec) => {
            let (taken, selection) = window::select(listings.session(), cat, remote, spec)?;
            (taken, Some(selection))
        }
        None => (remote, None),
    };
    let root = ctx.home.missions().join(target.mission);
    // Validate every local path (no symlinked directory on the way) before any write.
    let mut checked = HashSet::new();
    let dests = remote
        .entries
        .iter()
        .map(|e| {
            e.local
                .under_checked(&root, &mut checked)
                .map_err(crate::store::Error::Path)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mk_dest = remote
        .metakernel
        .under(&root)
        .map_err(crate::store::Error::Path)?;
    refuse_collisions(cat, &remote, &dests)?;
    let copies = cat
        .missions()?
        .iter()
        .find(|m| m.name.eq_ignore_ascii_case(target.mission))
        .is_some_and(|m| !m.dedup);
    let present = if opts.force {
        HashMap::new()
    } else {
        held(cat, listings, &remote)?
    };
    let held_hashes: Vec<&Sha256Hex> = present.values().map(|r| &r.sha256).collect();
    let names = cat.alias_counts(&held_hashes)?;
    let mut entries = Vec::with_capacity(remote.entries.len());
    for (e, dest) in remote.entries.iter().zip(&dests) {
        let row = present.get(e.url.as_str());
        entries.push(PlanEntry {
            name: e.name.clone(),
            url: e.url.to_string(),
            local_path: dest.display().to_string(),
            status: if row.is_some() {
                EntryStatus::Present
            } else {
                EntryStatus::Download
            },
            size: row.map(|r| r.stamp.size),
            other_names: row
                .and_then(|r| names.get(&r.sha256))
                .map_or(0, |n| n.saturating_sub(1)),
        });
    }
    let mut once = HashSet::new();
    let missing: Vec<usize> = (0..remote.entries.len())
        .filter(|&i| {
            let url = remote.entries[i].url.as_str();
            !present.contains_key(url) && once.insert(url.to_owned())
        })
        .collect();
    let view = GetPlan {
        metakernel_url: fetched.final_url.to_string(),
        mission: target.mission.to_owned(),
        entries,
        to_download: missing.len(),
        window: window.as_ref().map(|w| w.view.clone()),
    };
    Ok(Acquisition {
        remote,
        root,
        dests,
        mk_dest,
        copies,
        present,
        missing,
        view,
        window,
    })
}

/// Refuses, before anything is written, an entry whose local path is a registered
/// metakernel's ready `.tm` (laying it out would replace that file with a link) or an
/// existing directory (it cannot be replaced by a kernel).
pub(super) fn refuse_collisions(
    cat: &Catalogue,
    remote: &RemotePlan,
    dests: &[PathBuf],
) -> Result<()> {
    let registered: HashSet<PathBuf> = cat
        .metakernels()?
        .into_iter()
        .map(|m| PathBuf::from(m.local_path))
        .collect();
    for (e, dest) in remote.entries.iter().zip(dests) {
        let reason = if registered.contains(dest) {
            "is a registered metakernel"
        } else if fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) {
            "is a directory"
        } else {
            continue;
        };
        return Err(plan::PlanError::Collision {
            what: e.raw.clone(),
            path: dest.display().to_string(),
            reason: reason.into(),
        }
        .into());
    }
    Ok(())
}

/// The held contents, by URL: content recorded for name + URL, intact on disk, and
/// the listing (or a conditional request, when it cannot tell) agrees.
pub(super) fn held(
    cat: &Catalogue,
    listings: &mut Listings<'_>,
    remote: &RemotePlan,
) -> Result<HashMap<String, LocationRow>> {
    let names: Vec<&str> = remote.entries.iter().map(|e| e.name.as_str()).collect();
    // Every location downloaded under one of the names, in one query, by (name, URL).
    let mut recorded: HashMap<(String, String), Vec<LocationRow>> = HashMap::new();
    for row in cat.locations_named_any(&names)? {
        if let Some(url) = row.source_url.clone() {
            recorded
                .entry((row.filename.clone(), url))
                .or_default()
                .push(row);
        }
    }
    // One set query for the download records of the entries no row names (a run that
    // did not finish), instead of one query per kernel on a cold `get`.
    let unrecorded: Vec<&str> = remote
        .entries
        .iter()
        .filter(|e| !recorded.contains_key(&(e.name.clone(), e.url.to_string())))
        .map(|e| e.url.as_str())
        .collect();
    let mut earlier = cat.downloads_of(&unrecorded)?;
    let mut present = HashMap::new();
    let mut ambiguous = Vec::new();
    for e in &remote.entries {
        if present.contains_key(e.url.as_str()) {
            continue;
        }
        let key = (e.name.clone(), e.url.to_string());
        let row = match recorded.remove(&key) {
            Some(rows) => rows.into_iter().find(intact),
            // Downloaded by a run that did not finish (a failure elsewhere, Ctrl-C):
            // its object and download record were committed, its tree link was not.
            None => match earlier.remove(e.url.as_str()) {
                Some(d) => arrived_earlier(cat, &d.sha256)?,
                None => None,
            },
        };
        if let Some(row) = row {
            match listings.verdict(&e.url, &e.name, row.stamp.size, row.hashed_at) {
                Listed::Agrees => {
                    present.insert(e.url.to_string(), row);
                }
                Listed::Changed => {}
                Listed::SameMinute => ambiguous.push((e.url.clone(), row)),
            }
        }
    }
    present.extend(present::revalidate(cat, listings.session(), ambiguous)?);
    Ok(present)
}

/// The intact object row of content `sha256` that a run which did not finish downloaded
/// (its `downloads` record names it), so a rerun lays it out instead of downloading it.
pub(super) fn arrived_earlier(cat: &Catalogue, sha256: &Sha256Hex) -> Result<Option<LocationRow>> {
    Ok(cat
        .locations_of(sha256)?
        .into_iter()
        .filter(|r| r.kind == db::LocationKind::Object)
        .find(intact))
}
