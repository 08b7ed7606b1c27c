//! A home that was moved (`mv ~/kdb /data/kdb`) keeps working (issue 20).
//!
//! Rows, mission-tree links and ready metakernels hold absolute paths: SPICE needs
//! absolute paths in a metakernel, and rows are the paths users see. The home records
//! where it lives in `$KDB_HOME/.home-path`. When a command opens a home whose record
//! names another directory, and that directory is not this one by device and inode
//! (another spelling of the same home changes nothing), the home was moved: under
//! the home lock, every row under the old path is re-rooted in one transaction, every
//! mission-tree link into the old store is re-pointed (a new link renamed over the
//! old one), and every ready metakernel naming the old home is rewritten by the
//! minimal-edit rewriter; then the record is updated. A kill in between leaves the
//! record at the old path, so the next command finishes the work (each step skips
//! what is already done).

use std::fs;
use std::path::{Path, PathBuf};

use super::{Error, Result};
use crate::db::Catalogue;
use crate::metakernel::Metakernel;
use crate::store::{Home, Identity, fsio};

const RECORD: &str = ".home-path";

/// Where the home says it lives, if it recorded it.
fn recorded(home: &Home) -> Option<PathBuf> {
    let text = fs::read_to_string(home.root().join(RECORD)).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| PathBuf::from(line))
}

/// The old root when the home was moved since it last recorded where it lives.
pub fn moved_from(home: &Home) -> Option<PathBuf> {
    let old = recorded(home)?;
    if old == home.root() {
        return None;
    }
    // Another spelling of the same directory (a symlinked parent, a bind mount).
    match (Identity::of(&old), Identity::of(home.root())) {
        (Some(a), Some(b)) if a == b => None,
        _ => Some(old),
    }
}

/// Records where the home lives (once; again after a move).
pub fn record(home: &Home) -> Result<()> {
    if recorded(home).is_some() {
        return Ok(());
    }
    write_record(home)
}

fn write_record(home: &Home) -> Result<()> {
    let text = format!("{}\n", home.root().display());
    fsio::write_atomic(&home.root().join(RECORD), text.as_bytes())?;
    Ok(())
}

/// What a relocation changed.
#[derive(Debug, Default)]
pub struct Relocated {
    pub from: PathBuf,
    pub rows: usize,
    pub links: usize,
    pub metakernels: usize,
}

/// Re-roots a moved home from `old` to where it is now. Call under the home lock.
pub fn relocate(home: &Home, cat: &mut Catalogue, old: &Path) -> Result<Relocated> {
    let (old_s, new_s) = (text(old)?, text(home.root())?);
    let rows = cat.write(|tx| -> Result<usize> { Ok(tx.relocate_prefix(&old_s, &new_s)?) })?;
    let links = repoint_links(home, old)?;
    let metakernels = rewrite_metakernels(cat, &old_s, &new_s)?;
    write_record(home)?;
    Ok(Relocated {
        from: old.to_path_buf(),
        rows,
        links,
        metakernels,
    })
}

fn text(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::Usage(format!("home path `{}` is not UTF-8", p.display())))
}

/// Mission-tree links into the old home, re-pointed at the same place in this one.
fn repoint_links(home: &Home, old: &Path) -> Result<usize> {
    let mut n = 0;
    let mut dirs = fsio::DirSyncs::default();
    for e in walkdir::WalkDir::new(home.missions())
        .follow_links(false)
        .into_iter()
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_type().is_symlink())
    {
        let Ok(target) = fs::read_link(e.path()) else {
            continue;
        };
        if let Ok(rest) = target.strip_prefix(old) {
            fsio::replace_with_symlink_batched(e.path(), &home.root().join(rest), &mut dirs)?;
            n += 1;
        }
    }
    dirs.sync()?;
    Ok(n)
}

/// Ready metakernels whose `PATH_VALUES` (or literal entries) name the old home.
fn rewrite_metakernels(cat: &Catalogue, old: &str, new: &str) -> Result<usize> {
    let mut n = 0;
    for m in cat.metakernels()? {
        let path = Path::new(&m.local_path);
        let Ok(bytes) = fs::read(path) else { continue };
        let Ok(mk) = Metakernel::parse(&bytes) else {
            continue;
        };
        let moved = |v: &str| {
            v.strip_prefix(old)
                .filter(|rest| rest.is_empty() || rest.starts_with('/'))
                .map(|rest| format!("{new}{rest}"))
        };
        let symbols = mk.path_symbols();
        let out = if symbols.iter().any(|s| moved(&s.value).is_some()) {
            let values: Vec<(String, String)> = symbols
                .iter()
                .map(|s| (s.name.clone(), moved(&s.value).unwrap_or(s.value.clone())))
                .collect();
            mk.rewrite_path_values(&values)
        } else if mk
            .entries()
            .is_ok_and(|es| es.iter().any(|e| moved(&e.raw).is_some()))
        {
            mk.rewrite_entries(|e| moved(&e.raw))
        } else {
            continue;
        };
        let out = out.map_err(|source| Error::Rewrite {
            path: m.local_path.clone(),
            source,
        })?;
        fsio::write_user_file(path, &out)?;
        n += 1;
    }
    Ok(n)
}
