//! `kdb diff A B`: kernels added, removed and changed between two metakernels, two
//! locks, or one of each, and what a `get` of B would download given the store.
//!
//! A lock side knows every entry's bytes. A metakernel side (a path, a URL or a
//! registered name, read as `kdb list` reads it) knows the bytes of the entries the
//! catalogue resolves; the others are compared by entry only. The comparison itself
//! is [`crate::lockfile::diff`].

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;

use super::{Ctx, Result, mk, restore};
use crate::db::Catalogue;
use crate::lockfile::diff::{self, Diff, Download, Item};

#[derive(Debug, Serialize)]
pub struct Side {
    pub source: String,
    /// `lock` or `metakernel`.
    pub kind: &'static str,
    pub entries: usize,
}

#[derive(Debug, Serialize)]
pub struct DiffReport {
    pub a: Side,
    pub b: Side,
    #[serde(flatten)]
    pub diff: Diff,
    /// What a `get` of B would download given the contents the catalogue holds.
    pub download: Download,
}

impl DiffReport {
    pub fn is_empty(&self) -> bool {
        self.diff.added.is_empty() && self.diff.removed.is_empty() && self.diff.changed.is_empty()
    }
}

/// The entries of `arg`: a lockfile (`*.lock`) or a metakernel.
pub fn items(ctx: &Ctx<'_>, arg: &str) -> Result<(Side, Vec<Item>)> {
    if super::bundle::is_lockfile(arg) {
        let lock = restore::read_lock(Path::new(arg))?;
        let items: Vec<Item> = lock
            .kernels
            .iter()
            .map(|k| Item {
                entry: k.entry.clone(),
                name: k.name.clone(),
                sha256: Some(k.sha256.to_string()),
                size: Some(k.size),
            })
            .collect();
        return Ok((
            Side {
                source: arg.to_owned(),
                kind: "lock",
                entries: items.len(),
            },
            items,
        ));
    }
    let list = mk::list(ctx, arg, None)?;
    let items: Vec<Item> = list
        .entries
        .into_iter()
        .map(|e| Item {
            entry: e.raw,
            name: e.file_name,
            sha256: e.sha256.map(|h| h.to_string()),
            size: e.size,
        })
        .collect();
    Ok((
        Side {
            source: list.metakernel,
            kind: "metakernel",
            entries: items.len(),
        },
        items,
    ))
}

pub fn diff(ctx: &Ctx<'_>, a: &str, b: &str) -> Result<DiffReport> {
    let (side_a, items_a) = items(ctx, a)?;
    let (side_b, items_b) = items(ctx, b)?;
    let held: HashSet<String> = match Catalogue::open_existing(&ctx.home.catalogue()) {
        Ok(cat) => cat
            .all_kernels()?
            .into_iter()
            .map(|k| k.sha256.to_string())
            .collect(),
        Err(_) => HashSet::new(),
    };
    Ok(DiffReport {
        a: side_a,
        b: side_b,
        diff: diff::diff(&items_a, &items_b),
        download: diff::download(&items_b, &|s| held.contains(s)),
    })
}
