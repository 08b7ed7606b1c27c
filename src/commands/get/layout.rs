//! Laying out the mission tree: each entry's destination gets a link to (or a copy
//! of) its object, replaced atomically, on a bounded pool of file threads.

use super::*;
use download::FILE_THREADS;

/// Lays out each `(entry, destination)` (distinct destinations) on [`FILE_THREADS`]
/// threads, then syncs the directories that changed, once each.
pub(super) fn lay_out_all(
    ctx: &Ctx<'_>,
    todo: &[(&plan::RemoteEntry, &PathBuf)],
    plan: &Acquisition,
    mission: &str,
    downloads: &Downloads,
) -> Result<Vec<LocationRow>> {
    use rayon::prelude::*;
    let dir_syncs = std::sync::Mutex::new(fsio::DirSyncs::default());
    let rows: Result<Vec<LocationRow>> = file_pool(ctx)?.install(|| {
        todo.par_iter()
            .map(|&(e, dest)| {
                let url = e.url.as_str();
                let (sha, object) = match (downloads.objects.get(url), plan.present.get(url)) {
                    (Some((sha, object)), _) => (sha.clone(), object.clone()),
                    (None, Some(row)) => (row.sha256.clone(), execute::content_path(ctx, row)),
                    (None, None) => unreachable!("every missing entry was downloaded"),
                };
                let placed = execute::Placement {
                    dest,
                    object: &object,
                    sha: &sha,
                    entry: e,
                    mission,
                    copy: plan.copies,
                };
                let mut syncs = fsio::DirSyncs::default();
                let row = execute::lay_out(&placed, downloads.now, &mut syncs)?;
                if let Ok(mut all) = dir_syncs.lock() {
                    all.merge(syncs);
                }
                Ok(row)
            })
            .collect()
    });
    let rows = rows?;
    dir_syncs
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .sync()?;
    Ok(rows)
}

/// The thread pool for per-file work.
pub(super) fn file_pool(ctx: &Ctx<'_>) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(FILE_THREADS)
        .build()
        .map_err(|e| {
            crate::store::Error::io("start threads", &ctx.home.tmp(), std::io::Error::other(e))
                .into()
        })
}

/// Lays out the mission tree: every entry's path links to (or copies) its content.
/// Returns the location rows that changed (rows already saying exactly this are
/// left alone: the warm path writes nothing).
pub(super) fn lay_out_tree(
    ctx: &Ctx<'_>,
    cat: &Catalogue,
    plan: &Acquisition,
    mission: &str,
    downloads: &Downloads,
    gone: &HashSet<&str>,
) -> Result<Vec<LocationRow>> {
    // The warm path: a held row that *is* this tree entry, a link whose target's stat
    // still matches (checked by `held`), needs nothing done and nothing recorded.
    let mut laid = HashSet::new();
    let todo: Vec<(&plan::RemoteEntry, &PathBuf)> = plan
        .remote
        .entries
        .iter()
        .zip(&plan.dests)
        .filter(|(e, _)| !gone.contains(e.url.as_str()))
        .filter(|(_, dest)| laid.insert(dest.as_path()))
        .filter(|(e, dest)| {
            !plan.present.get(e.url.as_str()).is_some_and(|row| {
                !plan.copies
                    && row.kind == db::LocationKind::Symlink
                    && Path::new(&row.path) == dest.as_path()
            })
        })
        .collect();
    let dirs: HashSet<PathBuf> = todo
        .iter()
        .map(|(_, d)| *d)
        .chain(std::iter::once(&plan.mk_dest))
        .filter_map(|d| d.parent().map(Path::to_path_buf))
        .collect();
    for d in &dirs {
        ctx.home.create_dir(d)?;
    }
    if !todo.is_empty() {
        ctx.home.journal_dirs(dirs.iter().map(PathBuf::as_path))?;
    }
    let rows = lay_out_all(ctx, &todo, plan, mission, downloads)?;
    let paths: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
    let old_rows = cat.locations_at(&paths)?;
    Ok(rows
        .into_iter()
        .filter(|row| {
            !old_rows.get(&row.path).is_some_and(|old| {
                old.sha256 == row.sha256
                    && old.kind == row.kind
                    && old.link_target == row.link_target
                    && old.stamp == row.stamp
                    && old.source_url == row.source_url
                    && old.mission == row.mission
            })
        })
        .collect())
}
