//! `kdb dedup`: replace duplicate copies of a content with links to one kept copy.
//!
//! Plan (pure, [`plan`]) → execute (only with `--execute`) → commit. Safety rules:
//! the kept copy is re-checked before its group is touched (it must exist, be a
//! regular file and hash to the recorded content) and its stat is re-checked before
//! every replacement; each victim is re-hashed just before it is replaced and skipped
//! if it changed since the scan; a victim is replaced by an atomic link-over-rename,
//! so at every instant each path reads the same bytes and the last real copy (the
//! kept one) is never removed. Missions whose dedup flag is off are left alone.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Ctx, Result};
use crate::db::{LocationKind, LocationRow};
use crate::store::Sha256Hex;
pub use crate::store::dedup::{
    Archivable, DedupSkip, Group, LinkMode, Plan, SkippedReplacement, plan,
};
use crate::store::dedup::{Execution, link_counts};

#[derive(Clone, Debug, Default)]
pub struct DedupOptions {
    pub execute: bool,
    pub link: LinkMode,
    pub mission: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DedupReport {
    pub executed: bool,
    pub link: LinkMode,
    pub plan: Plan,
    pub replaced: u64,
    pub bytes_saved: u64,
    pub skipped: Vec<SkippedReplacement>,
    /// Missions left alone because their dedup flag is off.
    pub excluded_missions: Vec<String>,
}

pub fn run(ctx: &Ctx<'_>, opts: &DedupOptions) -> Result<DedupReport> {
    let (_lock, mut cat) = ctx.write()?;
    // A "file" row inside kdb's own directories (a store reached through another
    // spelling, recorded by an older kdb) is never a victim: replacing it with a
    // link could turn an object into a link to itself (invariant 8).
    let mut store = ctx.home.store_matcher();
    let rows: Vec<LocationRow> = cat
        .all_locations()?
        .into_iter()
        .filter(|r| {
            let p = Path::new(&r.path);
            r.kind != LocationKind::File || p.starts_with(ctx.home.missions()) || !store.holds(p)
        })
        .collect();
    let excluded: HashSet<String> = cat
        .missions()?
        .into_iter()
        .filter(|m| !m.dedup)
        .map(|m| m.name.to_ascii_lowercase())
        .collect();
    let nlink = link_counts(&rows);
    let binary = |sha: &Sha256Hex| {
        cat.kernel(sha)
            .ok()
            .flatten()
            .is_some_and(|k| k.byte_order.is_some())
            .then(|| ctx.home.object_path(sha))
    };
    let archivable = (opts.link == LinkMode::Symlink).then_some(&binary as Archivable<'_>);
    let plan = plan(
        &rows,
        &excluded,
        opts.mission.as_deref(),
        &nlink,
        archivable,
    );
    let mut report = DedupReport {
        executed: opts.execute,
        link: opts.link,
        bytes_saved: 0,
        replaced: 0,
        skipped: Vec::new(),
        excluded_missions: excluded.into_iter().collect(),
        plan,
    };
    report.excluded_missions.sort();
    if !opts.execute {
        return Ok(report);
    }

    let by_path: HashMap<&str, &LocationRow> = rows.iter().map(|r| (r.path.as_str(), r)).collect();
    let dirs: HashSet<PathBuf> = report
        .plan
        .groups
        .iter()
        .flat_map(|g| g.replace.iter())
        .filter_map(|p| Path::new(p).parent().map(Path::to_path_buf))
        .collect();
    ctx.home.journal_dirs(dirs.iter().map(PathBuf::as_path))?;

    let total: u64 = report
        .plan
        .groups
        .iter()
        .map(|g| g.replace.len() as u64)
        .sum();
    ctx.reporter.start("deduplicating", total, 0);
    let mut done = Execution::default();
    for group in &report.plan.groups {
        done.group(&ctx.home, group, &by_path, opts.link, &mut |n| {
            ctx.reporter.advance(n, 0)
        });
    }
    let Execution {
        updates,
        freed,
        replaced,
        skipped,
    } = done;
    report.replaced = replaced;
    report.skipped = skipped;
    ctx.reporter.finish();
    report.bytes_saved = freed
        .iter()
        .filter(|(inode, (names, _))| nlink.get(inode).copied().unwrap_or(1) <= *names)
        .map(|(_, (_, size))| size)
        .sum();
    cat.write(|tx| -> Result<()> {
        for row in &updates {
            tx.upsert_location(row)?;
        }
        Ok(())
    })?;
    Ok(report)
}
