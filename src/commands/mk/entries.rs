//! `kdb list` (every entry of a metakernel and where it is held) and `kdb check`
//! (which entries are held, missing or ambiguous).

use std::collections::HashMap;

use serde::Serialize;

use crate::commands::inspect::{Hint, resolve_hinted, resolve_hinted_with};
use crate::commands::{Ctx, Result};
use crate::content::Sha256Hex;
use crate::db::Catalogue;
use crate::kernel::KernelType;

use super::{Loaded, candidate_paths, entry_suffix, file_name, load};

#[derive(Debug, Serialize)]
pub struct ListReport {
    pub metakernel: String,
    pub entries: Vec<ListEntry>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ListEntry {
    pub index: usize,
    /// As written (continuation joined), before symbol substitution.
    pub raw: String,
    /// What FURNSH opens, after substitution.
    pub path: String,
    pub file_name: String,
    pub kernel_type: Option<KernelType>,
    pub line: usize,
    /// Content the catalogue has for this name, if any.
    pub sha256: Option<crate::store::Sha256Hex>,
    pub size: Option<u64>,
    /// Other names the same content is known under.
    pub other_names: u64,
    /// IDs and time span from the coverage index (human output only: the JSON shape
    /// is unchanged).
    #[serde(skip)]
    pub coverage: Option<String>,
}

pub fn list(ctx: &Ctx<'_>, arg: &str, only: Option<KernelType>) -> Result<ListReport> {
    let loaded = load(ctx, arg)?;
    let cat = Catalogue::open_existing(&ctx.home.catalogue()).ok();
    let entries = match &cat {
        Some(cat) => cat.snapshot(|cat| list_entries(Some(cat), &loaded, only))?,
        None => list_entries(None, &loaded, only)?,
    };
    Ok(ListReport {
        metakernel: loaded.origin,
        entries,
        warnings: loaded
            .mk
            .warnings()
            .iter()
            .map(ToString::to_string)
            .collect(),
    })
}

/// The list rows of `loaded`'s entries, with what the catalogue (if any) holds.
fn list_entries(
    cat: Option<&Catalogue>,
    loaded: &Loaded,
    only: Option<KernelType>,
) -> Result<Vec<ListEntry>> {
    let listed: Vec<(usize, &crate::metakernel::Entry, &str, Option<KernelType>)> = loaded
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let name = file_name(&e.path);
            (i, e, name, KernelType::from_extension(name))
        })
        .filter(|(_, _, _, kernel_type)| only.is_none() || *kernel_type == only)
        .collect();
    // Set queries for the whole metakernel: locations by name, then sizes, names and
    // coverage of the contents found (not four queries per entry).
    let mut resolved: Vec<Option<Sha256Hex>> = vec![None; listed.len()];
    let mut facts = ListFacts::default();
    if let Some(cat) = cat {
        let names: Vec<&str> = listed.iter().map(|(_, _, n, _)| *n).collect();
        let mut named: HashMap<String, Vec<crate::db::LocationRow>> = HashMap::new();
        for row in cat.locations_named_any(&names)? {
            named.entry(row.filename.clone()).or_default().push(row);
        }
        for (slot, (_, e, name, _)) in resolved.iter_mut().zip(&listed) {
            let hint = Hint {
                exact: &candidate_paths(&loaded.origin, &e.path),
                suffix: Some(entry_suffix(&e.path)),
            };
            let rows = named.get(*name).map_or(&[][..], Vec::as_slice);
            *slot = resolve_hinted_with(cat, name, None, &hint, rows)?.map(|r| r.sha256);
        }
        let hashes: Vec<&Sha256Hex> = resolved.iter().flatten().collect();
        facts = ListFacts {
            sizes: cat.kernel_sizes(&hashes)?,
            names: cat.alias_counts(&hashes)?,
            coverage: cat.coverage_of_any(&hashes)?,
        };
    }
    Ok(listed
        .into_iter()
        .zip(resolved)
        .map(|((i, e, name, kernel_type), sha256)| ListEntry {
            index: i + 1,
            raw: e.raw.clone(),
            path: e.path.clone(),
            file_name: name.to_owned(),
            kernel_type,
            line: e.line,
            size: sha256.as_ref().and_then(|s| facts.sizes.get(s).copied()),
            other_names: sha256
                .as_ref()
                .and_then(|s| facts.names.get(s))
                .map_or(0, |n| n.saturating_sub(1)),
            coverage: sha256
                .as_ref()
                .and_then(|s| facts.coverage.get(s))
                .and_then(crate::commands::index::short_summary_of),
            sha256,
        })
        .collect())
}

/// What `list` shows about the contents it found, read in one query each.
#[derive(Default)]
struct ListFacts {
    sizes: HashMap<Sha256Hex, u64>,
    names: HashMap<Sha256Hex, u64>,
    coverage: HashMap<Sha256Hex, crate::db::CoverageRow>,
}

// ---------------------------------------------------------------- check

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub metakernel: String,
    pub present: usize,
    pub fallback: usize,
    pub missing: usize,
    pub entries: Vec<CheckEntry>,
}

#[derive(Debug, Serialize)]
pub struct CheckEntry {
    pub path: String,
    pub file_name: String,
    pub status: CheckStatus,
    pub local_path: Option<String>,
    pub mission: Option<String>,
}

report_status! {
    /// Whether a metakernel entry is held locally.
    pub enum CheckStatus {
        Present => "present",
        /// Only another mission holds it.
        Fallback => "fallback",
        Missing => "missing",
    }
}

report_status! {
    /// What a rewrite changed.
    pub enum RewriteMode {
        /// Only the `PATH_VALUES` strings.
        PathValues => "path_values",
        /// No `PATH_SYMBOLS`: the relative entry strings.
        Entries => "entries",
    }
}

pub fn check(ctx: &Ctx<'_>, arg: &str, mission: Option<&str>) -> Result<CheckReport> {
    let loaded = load(ctx, arg)?;
    let cat = ctx.read()?;
    cat.snapshot(|cat| check_entries(cat, &loaded, mission))
}

/// Resolves every entry of `loaded` against the catalogue.
fn check_entries(cat: &Catalogue, loaded: &Loaded, mission: Option<&str>) -> Result<CheckReport> {
    let mut report = CheckReport {
        metakernel: loaded.origin.clone(),
        present: 0,
        fallback: 0,
        missing: 0,
        entries: Vec::new(),
    };
    for e in &loaded.entries {
        let name = file_name(&e.path);
        let exact = candidate_paths(&loaded.origin, &e.path);
        let hint = Hint {
            exact: &exact,
            suffix: Some(entry_suffix(&e.path)),
        };
        let r = resolve_hinted(cat, name, mission, &hint)?;
        let status = match &r {
            None => {
                report.missing += 1;
                CheckStatus::Missing
            }
            Some(r) if r.fallback_from.is_some() => {
                report.fallback += 1;
                CheckStatus::Fallback
            }
            Some(_) => {
                report.present += 1;
                CheckStatus::Present
            }
        };
        report.entries.push(CheckEntry {
            path: e.path.clone(),
            file_name: name.to_owned(),
            status,
            local_path: r.as_ref().map(|r| r.path.clone()),
            mission: r.and_then(|r| r.mission),
        });
    }
    Ok(report)
}

// ---------------------------------------------------------------- rewrite
