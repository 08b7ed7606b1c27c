//! Laying out a restored (or imported) metakernel's tree and writing its ready `.tm`,
//! as `get` does, and committing the rows in one transaction.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use url::Url;

use super::{Found, locked_plan};
use crate::commands::{Ctx, Error, Result, absolute, get, mk};
use crate::content::Timestamp;
use crate::db::{Catalogue, MetakernelRow};
use crate::lockfile::Lock;
use crate::remote::plan::RemotePlan;
use crate::store::fsio;

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
    crate::commands::mission::check_name(&mission)?;
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
pub(super) fn keep_user_file(
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
