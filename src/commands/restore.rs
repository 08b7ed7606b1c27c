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

use crate::content::Timestamp;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;
use url::Url;

use super::{Ctx, Error, Result, absolute, get, intact, mk};
use crate::db::{self, Catalogue, LocationRow, MetakernelRow};
use crate::lockfile::{self, Lock};
use crate::remote::fetch::{self, DownloadRequest, FetchConfig, Validators};
use crate::remote::plan::{self, RemotePlan};
use crate::store::{Sha256Hex, fsio, hash};

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

/// One place a content was looked for, and why it was not taken from there.
#[derive(Debug, Clone, Serialize)]
pub struct Tried {
    pub place: String,
    pub error: String,
}

/// A locked content found nowhere.
#[derive(Debug, Clone, Serialize)]
pub struct Unfound {
    pub name: String,
    pub sha256: String,
    pub tried: Vec<Tried>,
}

/// A content fetched during the restore, and from where.
#[derive(Debug, Clone, Serialize)]
pub struct Arrival {
    pub name: String,
    pub sha256: String,
    pub url: String,
    pub size: u64,
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

/// One distinct content to restore.
struct Want {
    name: String,
    sha: Sha256Hex,
    size: u64,
    source: Url,
    tried: Vec<Tried>,
    /// The store's object for this hash holds other bytes: replace it, never keep it.
    repair: bool,
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

/// Takes from `wants` what the local store holds intact (objects re-hashed in
/// parallel: a restore from the store is mostly this) into `found`; returns the
/// rest, each with why the store could not serve it.
fn from_store(
    ctx: &Ctx<'_>,
    cat: &Catalogue,
    wants: &mut Vec<Want>,
    now: crate::content::Timestamp,
    found: &mut Found,
    report: &mut RestoreReport,
) -> Result<Vec<Want>> {
    let hashes: Vec<Option<Sha256Hex>> = {
        use rayon::prelude::*;
        wants
            .par_iter()
            .map(|w| {
                hash::hash_file(&ctx.home.object_path(&w.sha))
                    .ok()
                    .map(|(h, _)| h)
            })
            .collect()
    };
    let mut remaining = Vec::new();
    for (mut w, object_hash) in wants.drain(..).zip(hashes) {
        w.repair = object_hash.as_ref().is_some_and(|h| *h != w.sha);
        match held(ctx, cat, &w, object_hash, now)? {
            Ok((object, arrived)) => {
                report.from_store += 1;
                found.objects.insert(w.sha.clone(), object);
                found.arrivals.extend(arrived);
            }
            Err(why) => {
                w.tried.push(Tried {
                    place: "local store".into(),
                    error: why,
                });
                remaining.push(w);
            }
        }
    }
    Ok(remaining)
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
    // 1. The local store, by hash.
    let mut remaining = from_store(ctx, &cat, &mut wants, now, &mut found, &mut report)?;
    // 2. The team store, by hash (docs/team.md).
    let team = crate::team::Team::open(&opts.team, net)?;
    let fetched_before = report.fetched.len();
    from_team(ctx, &team, &mut remaining, now, &mut found, &mut report)?;
    let from_team_count = report.fetched.len() - fetched_before;
    // 3. Mirrors, source, former versions: one round per candidate rank.
    if team.no_upstream() {
        for w in &mut remaining {
            w.tried.push(Tried {
                place: w.source.to_string(),
                error: "not tried (--no-upstream)".into(),
            });
        }
    } else {
        fetch_rounds(
            ctx,
            net,
            &mut remaining,
            &mirrors,
            opts.offline,
            now,
            &mut found,
            &mut report,
        )?;
        publish(
            ctx,
            &team,
            &found,
            &report.fetched[fetched_before + from_team_count..],
        );
    }
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
        keep(&mut cat, &found.arrivals)?;
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
        keep(&mut cat, &found.arrivals)?;
        return Err(e);
    }
    let mk_path = materialise(ctx, &mut cat, &lock, found, opts.into.as_deref(), now)?;
    report.metakernel = Some(mk_path.display().to_string());
    Ok(report)
}

/// Looks the remaining contents up in the team tiers by their locked hash and size;
/// hits (verified twice: by the tier against the object's name, then here against
/// the lock) become objects.
fn from_team(
    ctx: &Ctx<'_>,
    team: &crate::team::Team,
    remaining: &mut Vec<Want>,
    now: Timestamp,
    found: &mut Found,
    report: &mut RestoreReport,
) -> Result<()> {
    if team.is_empty() || remaining.is_empty() {
        return Ok(());
    }
    let tmp = ctx.home.tmp();
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
        ctx.reporter.warn(&warning);
    }
    let mut dirs = fsio::DirSyncs::default();
    let mut later = Vec::new();
    for (mut w, hit) in remaining.drain(..).zip(hits) {
        let Some(hit) = hit.filter(|h| h.staged.sha256() == &w.sha && h.staged.len() == w.size)
        else {
            w.tried.push(Tried {
                place: "team store".into(),
                error: "not held".into(),
            });
            later.push(w);
            continue;
        };
        let source = w.source.to_string();
        let arrived = Verified {
            staged: hit.staged,
            url: &source,
            from: hit.tier,
            validators: Validators::default(),
        };
        found.take(ctx, &w, arrived, now, &mut dirs, report)?;
    }
    dirs.sync()?;
    *remaining = later;
    Ok(())
}

/// Publishes what was fetched from mirrors or upstream to the writable tiers.
fn publish(ctx: &Ctx<'_>, team: &crate::team::Team, found: &Found, fetched: &[Arrival]) {
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
        ctx.reporter.warn(&warning);
    }
}

/// Records contents that arrived (verified objects) without registering a
/// metakernel, as a failed `get` does: the next attempt need not fetch them again.
fn keep(cat: &mut Catalogue, arrivals: &[get::Arrived]) -> Result<()> {
    cat.write(|tx| -> Result<()> {
        for a in arrivals {
            a.record(tx)?;
        }
        Ok(())
    })
}

/// Contents restored so far: the object holding each hash, and the catalogue rows
/// still to record.
#[derive(Default)]
pub(crate) struct Found {
    pub objects: HashMap<Sha256Hex, PathBuf>,
    pub arrivals: Vec<get::Arrived>,
}

/// Bytes of a wanted content that hash right, with where they came from.
struct Verified<'a> {
    staged: fsio::Staged,
    /// The URL recorded for the content (its source, or the URL that served it).
    url: &'a str,
    /// Where the report says it came from (a tier, a mirror, the source).
    from: String,
    validators: Validators,
}

impl Found {
    /// Persists verified bytes of `w` as its object (replacing a wrong one when
    /// `w.repair`), records the arrival, and reports it.
    fn take(
        &mut self,
        ctx: &Ctx<'_>,
        w: &Want,
        v: Verified<'_>,
        now: crate::content::Timestamp,
        dirs: &mut fsio::DirSyncs,
        report: &mut RestoreReport,
    ) -> Result<()> {
        let object = ctx.home.object_path(&w.sha);
        fsio::create_dir_all(object.parent().unwrap_or(Path::new("/")))?;
        v.staged.persist_batched(&object, true, !w.repair, dirs)?;
        self.arrivals.push(get::arrived(
            &w.name,
            v.url,
            v.validators,
            &w.sha,
            &object,
            w.size,
            now,
        )?);
        self.objects.insert(w.sha.clone(), object);
        report.fetched_bytes += w.size;
        report.fetched.push(Arrival {
            name: w.name.clone(),
            sha256: w.sha.to_string(),
            url: v.from,
            size: w.size,
        });
        Ok(())
    }
}

/// The distinct contents of a lock: the metakernel first, then kernels in order.
fn wants(lock: &Lock) -> Result<Vec<Want>> {
    let url = |s: &str| Url::parse(s).map_err(|e| Error::Usage(format!("locked URL `{s}`: {e}")));
    let m = &lock.metakernel;
    let mut out = vec![Want {
        name: m.name.clone(),
        sha: m.sha256.clone(),
        size: m.size,
        source: url(&m.source_url)?,
        tried: Vec::new(),
        repair: false,
    }];
    let mut seen: HashSet<Sha256Hex> = HashSet::from([m.sha256.clone()]);
    for k in &lock.kernels {
        if seen.insert(k.sha256.clone()) {
            out.push(Want {
                name: k.name.clone(),
                sha: k.sha256.clone(),
                size: k.size,
                source: url(&k.source_url)?,
                tried: Vec::new(),
                repair: false,
            });
        }
    }
    Ok(out)
}

/// The store object holding `w`'s bytes (`object_hash`: what the object hashes to,
/// if it exists), adopting an intact catalogued copy into the store when there is no
/// object yet; `Err` says why not.
fn held(
    ctx: &Ctx<'_>,
    cat: &Catalogue,
    w: &Want,
    object_hash: Option<Sha256Hex>,
    now: Timestamp,
) -> Result<std::result::Result<(PathBuf, Option<get::Arrived>), String>> {
    let object = ctx.home.object_path(&w.sha);
    let known = cat.kernel(&w.sha)?.is_some();
    match object_hash {
        Some(h) if h == w.sha => {
            let arrived = if known {
                None
            } else {
                Some(get::arrived(
                    &w.name,
                    w.source.as_str(),
                    Validators::default(),
                    &w.sha,
                    &object,
                    w.size,
                    now,
                )?)
            };
            return Ok(Ok((object, arrived)));
        }
        _ => {}
    }
    for row in cat.locations_of(&w.sha)? {
        if !intact(&row) {
            continue;
        }
        if let Some(object) = adopt(ctx, &row, &w.sha, w.repair)? {
            let arrived = get::arrived(
                &w.name,
                w.source.as_str(),
                Validators::default(),
                &w.sha,
                &object,
                w.size,
                now,
            )?;
            return Ok(Ok((object, Some(arrived))));
        }
    }
    Ok(Err(if w.repair {
        format!(
            "object `{}` holds other bytes (corrupt store) and no intact copy is catalogued",
            object.display()
        )
    } else {
        "not held".into()
    }))
}

/// Copies (or hard-links) a catalogued file into the store when its bytes still
/// hash to `sha`.
fn adopt(
    ctx: &Ctx<'_>,
    row: &LocationRow,
    sha: &Sha256Hex,
    repair: bool,
) -> Result<Option<PathBuf>> {
    let src = Path::new(&row.path);
    let tmp = ctx.home.tmp();
    let staged = match fsio::stage_hardlink(src, &tmp) {
        Ok(Some(s)) => s,
        Ok(None) | Err(_) => match fs::File::open(src) {
            Ok(mut f) => fsio::stage(&tmp, &mut f, &mut |_| {})?,
            Err(_) => return Ok(None),
        },
    };
    if staged.sha256() != sha {
        return Ok(None);
    }
    let object = ctx.home.object_path(sha);
    fsio::create_dir_all(object.parent().unwrap_or(Path::new("/")))?;
    if repair {
        staged.persist(&object, true)?;
    } else {
        staged.persist_if_absent(&object, true)?;
    }
    Ok(Some(object))
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

/// `source` served from `mirror`: the mirror's scheme, host and port, the mirror's
/// path followed by the source's path (`file:///mnt/naif` serves
/// `https://naif.jpl.nasa.gov/pub/naif/X/a.bsp` as `file:///mnt/naif/pub/naif/X/a.bsp`).
pub fn mirrored(mirror: &Url, source: &Url) -> Url {
    let mut u = mirror.clone();
    u.set_path(&format!(
        "{}{}",
        mirror.path().trim_end_matches('/'),
        source.path()
    ));
    u.set_query(source.query());
    u.set_fragment(None);
    u
}

/// `…/spk/a.bsp` → `…/spk/<dir>/a.bsp`.
pub fn sibling(source: &Url, dir: &str) -> Option<Url> {
    let last = source.path_segments()?.next_back()?;
    if last.is_empty() {
        return None;
    }
    source.join(&format!("{dir}/{last}")).ok()
}

/// Every place to look for `source`, in order: each mirror, the source; then the
/// same for `former_versions/` and `a_old_versions/`. Pure.
pub fn candidates(source: &Url, mirrors: &[Url]) -> Vec<Url> {
    let mut variants = vec![source.clone()];
    variants.extend(
        ["former_versions", "a_old_versions"]
            .iter()
            .filter_map(|d| sibling(source, d)),
    );
    let mut out = Vec::new();
    for v in &variants {
        out.extend(mirrors.iter().map(|m| mirrored(m, v)));
        out.push(v.clone());
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn fetch_rounds(
    ctx: &Ctx<'_>,
    net: &FetchConfig,
    remaining: &mut Vec<Want>,
    mirrors: &[Url],
    offline: bool,
    now: Timestamp,
    found: &mut Found,
    report: &mut RestoreReport,
) -> Result<()> {
    let lists: Vec<Vec<Url>> = remaining
        .iter()
        .map(|w| candidates(&w.source, mirrors))
        .collect();
    let mut pending: Vec<(Want, Vec<Url>)> = remaining.drain(..).zip(lists).collect();
    let partial = ctx.home.tmp().join("partial");
    fsio::create_dir_all(&partial)?;
    let rounds = pending.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
    for round in 0..rounds {
        let mut batch = Vec::new();
        let mut later = Vec::new();
        for (mut w, cands) in pending.drain(..) {
            match cands.get(round) {
                Some(u) if offline && u.scheme() != "file" => {
                    w.tried.push(Tried {
                        place: u.to_string(),
                        error: "not tried (--offline)".into(),
                    });
                    later.push((w, cands));
                }
                Some(_) => batch.push((w, cands)),
                None => later.push((w, cands)),
            }
        }
        let requests: Vec<DownloadRequest> = batch
            .iter()
            .map(|(w, cands)| DownloadRequest {
                url: cands[round].clone(),
                name: w.name.clone(),
                expected_size: Some(w.size),
                expected_sha256: Some(w.sha.clone()),
                size_hint: None,
            })
            .collect();
        if !requests.is_empty() {
            let results = fetch::download_all(
                net,
                &ctx.home.tmp(),
                &partial,
                &requests,
                &get::Progress(ctx.reporter),
            );
            ctx.reporter.finish();
            let mut dirs = fsio::DirSyncs::default();
            for ((mut w, cands), (req, result)) in
                batch.into_iter().zip(requests.iter().zip(results))
            {
                match result {
                    Ok(d) if d.staged.sha256() == &w.sha => {
                        let arrived = Verified {
                            staged: d.staged,
                            url: req.url.as_str(),
                            from: req.url.to_string(),
                            validators: d.validators,
                        };
                        found.take(ctx, &w, arrived, now, &mut dirs, report)?;
                    }
                    Ok(d) => {
                        w.tried.push(Tried {
                            place: req.url.to_string(),
                            error: format!("served {}, not the locked bytes", d.staged.sha256()),
                        });
                        later.push((w, cands));
                    }
                    Err(e) => {
                        w.tried.push(Tried {
                            place: req.url.to_string(),
                            error: crate::error_chain(&e),
                        });
                        later.push((w, cands));
                    }
                }
            }
            dirs.sync()?;
        }
        pending = later;
        if pending.is_empty() {
            break;
        }
    }
    remaining.extend(pending.into_iter().map(|(w, _)| w));
    Ok(())
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

/// Where a lock's tree goes: the plan reproducing the locked URLs, every path
/// validated. Computed before anything is written.
pub(crate) struct Layout {
    loaded: mk::Loaded,
    plan: RemotePlan,
    mission: String,
    root: PathBuf,
    dests: Vec<PathBuf>,
    mk_dest: PathBuf,
    dedup: bool,
}

/// Plans the tree of `lock` from its metakernel's bytes (pure but for reading the
/// mission's settings): refuses a lock that does not agree with its metakernel and
/// any unsafe path, before the first write.
pub(crate) fn layout(
    ctx: &Ctx<'_>,
    cat: &Catalogue,
    lock: &Lock,
    mk_bytes: &[u8],
    into: Option<&Path>,
) -> Result<Layout> {
    let m = &lock.metakernel;
    let mk_url = Url::parse(&m.source_url)
        .map_err(|e| Error::Usage(format!("locked URL `{}`: {e}", m.source_url)))?;
    let loaded = mk::parse(mk_url.to_string(), mk_bytes)?;
    let plan = locked_plan(lock, &mk_url, &loaded)?;
    let mission = match &m.mission {
        Some(name) => name.clone(),
        None => get::mission_for_url(cat, &mk_url).unwrap_or_else(|_| "default".into()),
    };
    super::mission::check_name(&mission)?;
    let root = match into {
        Some(dir) => absolute(dir),
        None => ctx.home.missions().join(&mission),
    };
    let mut dests = Vec::new();
    for e in &plan.entries {
        dests.push(e.local.under(&root).map_err(crate::store::Error::Path)?);
    }
    let mk_dest = plan
        .metakernel
        .under(&root)
        .map_err(crate::store::Error::Path)?;
    let dedup = cat
        .missions()?
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(&mission))
        .is_none_or(|r| r.dedup);
    if into.is_some() {
        let objects = ctx.home.objects();
        for (dest, k) in dests.iter().zip(&lock.kernels) {
            keep_user_file(dest, &objects, |found| found == &k.sha256)?;
        }
        let ready = get::local_metakernel(&loaded, &plan, &root)?;
        let ready = crate::store::hash::hash_reader(&mut ready.as_slice())
            .map_err(|e| crate::store::Error::io("hash", &mk_dest, e))?
            .0;
        keep_user_file(&mk_dest, &objects, |found| found == &ready)?;
    }
    Ok(Layout {
        loaded,
        plan,
        mission,
        root,
        dests,
        mk_dest,
        dedup,
    })
}

/// Refuses to lay out over `dest` when it holds something kdb may not replace in a
/// directory the user chose (`--into`): anything but nothing, a kdb link (into
/// `objects`), or a file (or link to one) whose bytes already are the ones to place
/// (`same` says of their sha256). Checked before the first write.
fn keep_user_file(
    dest: &Path,
    objects: &Path,
    same: impl Fn(&crate::store::Sha256Hex) -> bool,
) -> Result<()> {
    let meta = match fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(crate::store::Error::io("inspect", dest, e).into()),
    };
    if meta.file_type().is_symlink()
        && fs::read_link(dest)
            .is_ok_and(|t| dest.parent().unwrap_or(dest).join(t).starts_with(objects))
    {
        return Ok(());
    }
    let held = if meta.is_dir() {
        None
    } else {
        crate::store::hash::hash_file(dest).ok().map(|(sha, _)| sha)
    };
    if held.as_ref().is_some_and(same) {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "refusing to replace `{}`: it is not a file kdb placed and holds other bytes \
         (move it away, or choose another --into directory); nothing was written",
        dest.display()
    )))
}

/// Lays out the tree of `lock` from `found` (which holds every content), writes the
/// ready metakernel and commits everything in one transaction. Returns the ready
/// metakernel's path.
pub(crate) fn materialise(
    ctx: &Ctx<'_>,
    cat: &mut Catalogue,
    lock: &Lock,
    found: Found,
    into: Option<&Path>,
    now: Timestamp,
) -> Result<PathBuf> {
    let m = &lock.metakernel;
    let mk_object = found
        .objects
        .get(&m.sha256)
        .ok_or_else(|| Error::NotFound(format!("metakernel `{}` not restored", m.name)))?;
    let bytes = fs::read(mk_object).map_err(|e| crate::store::Error::io("read", mk_object, e))?;
    let Layout {
        loaded,
        plan: remote_plan,
        mission,
        root,
        dests,
        mk_dest,
        dedup,
    } = layout(ctx, cat, lock, &bytes, into)?;
    let dirs: HashSet<PathBuf> = dests
        .iter()
        .chain(std::iter::once(&mk_dest))
        .filter_map(|d| d.parent().map(Path::to_path_buf))
        .collect();
    for d in &dirs {
        ctx.home.create_dir(d)?;
    }
    ctx.home.journal_dirs(dirs.iter().map(PathBuf::as_path))?;
    let mut tree_rows = Vec::new();
    let mut laid = HashSet::new();
    let mut dir_syncs = fsio::DirSyncs::default();
    for ((e, dest), k) in remote_plan.entries.iter().zip(&dests).zip(&lock.kernels) {
        if !laid.insert(dest.clone()) {
            continue;
        }
        let object = found
            .objects
            .get(&k.sha256)
            .ok_or_else(|| Error::NotFound(format!("`{}` not restored", k.name)))?;
        let placed = get::Placement {
            dest,
            object,
            sha: &k.sha256,
            entry: e,
            mission: &mission,
            copy: !dedup,
        };
        tree_rows.push(get::lay_out(&placed, now, &mut dir_syncs)?);
    }
    dir_syncs.sync()?;
    let local_mk = get::local_metakernel(&loaded, &remote_plan, &root)?;
    if fs::read(&mk_dest).map(|b| b != local_mk).unwrap_or(true) {
        fsio::write_user_file(&mk_dest, &local_mk)?;
    }
    let mk_row = MetakernelRow {
        id: 0,
        name: m.name.clone(),
        source_url: m.source_url.clone(),
        final_url: Some(m.source_url.clone()),
        local_path: mk_dest.display().to_string(),
        mission: Some(mission.clone()),
        sha256: Some(m.sha256.clone()),
        etag: m.etag.clone(),
        last_modified: m.last_modified.clone(),
        size: Some(m.size),
        acquired_at: now,
    };
    cat.write(|tx| -> Result<()> {
        for a in &found.arrivals {
            a.record(tx)?;
        }
        for row in &tree_rows {
            tx.insert_alias(&row.sha256, &row.filename, row.source_url.as_deref())?;
            tx.upsert_location(row)?;
        }
        tx.upsert_metakernel(&mk_row)?;
        Ok(())
    })?;
    Ok(mk_dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn mirrors_replace_scheme_and_host() {
        let src = u("https://naif.jpl.nasa.gov/pub/naif/X/kernels/spk/a%20b.bsp");
        assert_eq!(
            mirrored(&u("file:///mnt/naif"), &src).as_str(),
            "file:///mnt/naif/pub/naif/X/kernels/spk/a%20b.bsp"
        );
        assert_eq!(
            mirrored(&u("http://127.0.0.1:8080/copy/"), &src).as_str(),
            "http://127.0.0.1:8080/copy/pub/naif/X/kernels/spk/a%20b.bsp"
        );
    }

    #[test]
    fn candidates_try_mirrors_then_source_then_former_versions() {
        let src = u("https://h/pub/naif/X/kernels/spk/a.bsp");
        let c: Vec<String> = candidates(&src, &[u("file:///m")])
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            c,
            [
                "file:///m/pub/naif/X/kernels/spk/a.bsp",
                "https://h/pub/naif/X/kernels/spk/a.bsp",
                "file:///m/pub/naif/X/kernels/spk/former_versions/a.bsp",
                "https://h/pub/naif/X/kernels/spk/former_versions/a.bsp",
                "file:///m/pub/naif/X/kernels/spk/a_old_versions/a.bsp",
                "https://h/pub/naif/X/kernels/spk/a_old_versions/a.bsp",
            ]
        );
    }
}
