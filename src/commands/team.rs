//! `kdb team status|push|warm`: the team store seen from this home (DESIGN.md §6).
//!
//! - `status` asks every tier for its manifest and tests write access with a
//!   conditional create of it (so it also initialises an empty store it may write);
//! - `push` publishes contents the local store holds — one acquired metakernel's
//!   (as served, and each kernel) or everything catalogued — with a `seen/` record
//!   per source URL. Every byte is re-hashed before upload, so a damaged local copy
//!   is never published;
//! - `warm` is `get` (which publishes what it downloads) followed by `push` of the
//!   same metakernel (which publishes what this home already held): afterwards the
//!   team store serves every kernel of it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::{Ctx, Error, Result, get, lock};
use crate::remote::fetch::{FetchConfig, Validators};
use crate::store::Sha256Hex;
use crate::team::{Publish, PublishReport, Team, TeamOptions, TierStatus};

/// What `push` publishes.
#[derive(Debug, Clone)]
pub enum PushTarget {
    /// One acquired metakernel (name, source URL or local path).
    Metakernel(String),
    /// Every catalogued content.
    All,
}

#[derive(Debug, Serialize)]
pub struct PushReport {
    /// Distinct contents considered.
    pub contents: usize,
    #[serde(flatten)]
    pub published: PublishReport,
    /// One line per failing tier (also shown as warnings).
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct WarmReport {
    pub get: get::GetReport,
    pub push: Option<PushReport>,
}

fn open(opts: &TeamOptions, net: &FetchConfig) -> Result<Team> {
    if opts.stores.is_empty() {
        return Err(Error::Usage(
            "no team store configured: set `[team] stores = [...]` in the config file or \
             KDB_TEAM_STORE"
                .into(),
        ));
    }
    Ok(Team::open(opts, net)?)
}

/// Every tier's reachability, layout and write access.
pub fn status(opts: &TeamOptions, net: &FetchConfig) -> Result<Vec<TierStatus>> {
    Ok(open(opts, net)?.status())
}

/// Publishes local contents to every writable tier.
pub fn push(
    ctx: &Ctx<'_>,
    net: &FetchConfig,
    opts: &TeamOptions,
    target: &PushTarget,
) -> Result<PushReport> {
    let team = open(opts, net)?;
    let items = {
        let (_lock, mut cat) = ctx.write()?;
        match target {
            PushTarget::Metakernel(arg) => metakernel_items(ctx, &mut cat, net, arg)?,
            PushTarget::All => all_items(ctx, &cat)?,
        }
    };
    let contents = items
        .iter()
        .map(|i| &i.sha256)
        .collect::<std::collections::HashSet<_>>()
        .len();
    let published = team.publish(&items);
    let warnings = team.take_warnings();
    for w in &warnings {
        ctx.reporter.warn(w);
    }
    Ok(PushReport {
        contents,
        published,
        warnings,
    })
}

/// `get` the metakernel (team store first, publishing what comes from upstream),
/// then `push` it (publishing what this home already held).
pub fn warm(
    ctx: &Ctx<'_>,
    net: &FetchConfig,
    opts: &get::GetOptions,
    confirm: &mut get::Confirm<'_>,
) -> Result<WarmReport> {
    open(&opts.team, net)?;
    let report = get::get(ctx, net, opts, confirm)?;
    let push = match &report.metakernel {
        Some(_) => Some(push(
            ctx,
            net,
            &opts.team,
            &PushTarget::Metakernel(report.plan.metakernel_url.clone()),
        )?),
        None => None,
    };
    Ok(WarmReport { get: report, push })
}

/// The acquired metakernel as served and each of its kernels, by source URL.
fn metakernel_items(
    ctx: &Ctx<'_>,
    cat: &mut crate::db::Catalogue,
    net: &FetchConfig,
    arg: &str,
) -> Result<Vec<Publish>> {
    let l = lock::build(ctx, cat, net, arg)?;
    let mut items = vec![Publish {
        url: Some(l.metakernel.source_url.clone()),
        sha256: l.metakernel.sha256.clone(),
        path: ctx.home.object_path(&l.metakernel.sha256),
        size: l.metakernel.size,
        validators: Validators {
            etag: l.metakernel.etag.clone(),
            last_modified: l.metakernel.last_modified.clone(),
        },
    }];
    let mut seen = std::collections::HashSet::new();
    for k in &l.kernels {
        if !seen.insert((k.sha256.clone(), k.source_url.clone())) {
            continue;
        }
        items.push(Publish {
            url: Some(k.source_url.clone()),
            sha256: k.sha256.clone(),
            path: content_path(ctx, cat, &k.sha256)?,
            size: k.size,
            validators: Validators::default(),
        });
    }
    Ok(items)
}

/// Every catalogued content: the object (else a catalogued copy), once per source
/// URL (once without a record when it has none).
fn all_items(ctx: &Ctx<'_>, cat: &crate::db::Catalogue) -> Result<Vec<Publish>> {
    let mut by_sha: BTreeMap<Sha256Hex, (PathBuf, u64, Vec<String>)> = BTreeMap::new();
    for row in cat.all_locations()? {
        let object = ctx.home.object_path(&row.sha256);
        let path = if object.exists() {
            object
        } else {
            PathBuf::from(&row.path)
        };
        let entry = by_sha
            .entry(row.sha256.clone())
            .or_insert_with(|| (path, row.stamp.size, Vec::new()));
        if let Some(url) = row.source_url
            && !entry.2.contains(&url)
        {
            entry.2.push(url);
        }
    }
    let mut items = Vec::new();
    for (sha, (path, size, urls)) in by_sha {
        let urls: Vec<Option<String>> = if urls.is_empty() {
            vec![None]
        } else {
            urls.into_iter().map(Some).collect()
        };
        for url in urls {
            items.push(Publish {
                url,
                sha256: sha.clone(),
                path: path.clone(),
                size,
                validators: Validators::default(),
            });
        }
    }
    Ok(items)
}

/// Where the bytes of `sha` are: its object, else a catalogued copy.
fn content_path(ctx: &Ctx<'_>, cat: &crate::db::Catalogue, sha: &Sha256Hex) -> Result<PathBuf> {
    let object = ctx.home.object_path(sha);
    if object.exists() {
        return Ok(object);
    }
    cat.locations_of(sha)?
        .into_iter()
        .next()
        .map(|r| PathBuf::from(r.path))
        .ok_or_else(|| Error::NotFound(format!("content {sha} has no local copy")))
}
