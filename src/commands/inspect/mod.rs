//! Read-only commands: `aliases`, `resolve`, `stats`, `duplicates`. None takes the
//! home lock; each reads one consistent snapshot of the catalogue.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::store::Sha256Hex;

use super::{Ctx, Error, Result, intact};
use crate::db::{Catalogue, LocationKind, LocationRow};

// ---------------------------------------------------------------- aliases

mod stats;

pub use stats::*;

#[derive(Debug, Serialize)]
pub struct AliasesReport {
    pub sha256: Sha256Hex,
    pub canonical: String,
    pub kernel_type: String,
    pub byte_order: Option<String>,
    pub size: u64,
    pub aliases: Vec<String>,
    pub locations: Vec<LocationView>,
    /// Downloads of this content a mission mirror served: URL → the mirror URL.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub served_by: BTreeMap<String, String>,
    /// IDs and time span from the coverage index (human output only: the JSON shape
    /// is unchanged).
    #[serde(skip)]
    pub coverage: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LocationView {
    pub path: String,
    pub mission: Option<String>,
    pub kind: LocationKind,
    /// For a symlink: what it points to.
    pub target: Option<String>,
}

report_status! {
    /// How `resolve` found its answer.
    pub enum MatchedBy {
        /// A location registered under exactly this file name.
        Name => "name",
        /// A content known under this name as an alias, found at another name.
        Alias => "alias",
    }
}

/// What the argument of `aliases` designates.
pub enum Query<'a> {
    Name(&'a str),
    Hash(&'a str),
}

/// A hex string of at least 6 digits is a hash (prefix); anything else a filename.
pub fn classify(arg: &str) -> Query<'_> {
    if arg.len() >= 6 && arg.len() <= 64 && arg.bytes().all(|b| b.is_ascii_hexdigit()) {
        Query::Hash(arg)
    } else {
        Query::Name(arg)
    }
}

/// Contents `arg` designates: exact filename (canonical, alias or location name) or a
/// unique hash prefix of at least 6 hex digits. A hex-looking argument that is also a
/// filename is tried as a name first.
pub fn contents_for(cat: &Catalogue, arg: &str) -> Result<Vec<Sha256Hex>> {
    let by_name = cat.kernels_named(arg)?;
    if !by_name.is_empty() {
        return Ok(by_name);
    }
    if let Query::Hash(prefix) = classify(arg) {
        let found = cat.kernels_by_prefix(&prefix.to_ascii_lowercase(), 2)?;
        return match found.len() {
            0 => Err(Error::NotFound(format!(
                "no kernel with a hash starting `{arg}`"
            ))),
            1 => Ok(found),
            _ => Err(Error::Usage(format!(
                "hash prefix `{arg}` is ambiguous; give more digits"
            ))),
        };
    }
    let hexish = (1..6).contains(&arg.len()) && arg.bytes().all(|b| b.is_ascii_hexdigit());
    Err(Error::NotFound(if hexish {
        format!("no kernel known under the name `{arg}`; a hash prefix needs at least 6 hex digits")
    } else {
        format!("no kernel known under the name `{arg}`")
    }))
}

pub fn aliases(ctx: &Ctx<'_>, arg: &str) -> Result<Vec<AliasesReport>> {
    let cat = ctx.read()?;
    contents_for(&cat, arg)?
        .iter()
        .map(|sha| aliases_of(&cat, sha))
        .collect()
}

pub fn aliases_of(cat: &Catalogue, sha: &Sha256Hex) -> Result<AliasesReport> {
    let k = cat
        .kernel(sha)?
        .ok_or_else(|| Error::NotFound(format!("no kernel with hash `{sha}`")))?;
    let mut aliases: Vec<String> = vec![k.canonical.clone()];
    for a in cat.aliases_of(sha)? {
        if !aliases.contains(&a.filename) {
            aliases.push(a.filename);
        }
    }
    let locations = cat
        .locations_of(sha)?
        .into_iter()
        .map(|l| LocationView {
            kind: l.kind,
            target: l.link_target,
            path: l.path,
            mission: l.mission,
        })
        .collect();
    let coverage = super::index::short_summary(cat, &k.sha256);
    Ok(AliasesReport {
        coverage,
        sha256: k.sha256,
        canonical: k.canonical,
        kernel_type: k.kernel_type,
        byte_order: k.byte_order,
        size: k.size,
        aliases,
        locations,
        served_by: cat.served_by(sha)?.into_iter().collect(),
    })
}

/// Candidates for the interactive picker: contents known under several names.
pub fn alias_candidates(ctx: &Ctx<'_>, limit: usize) -> Result<Vec<(Sha256Hex, String, u64)>> {
    Ok(ctx.read()?.most_aliased(limit)?)
}

// ---------------------------------------------------------------- resolve

#[derive(Debug, Serialize)]
pub struct Resolved {
    pub name: String,
    pub path: String,
    pub sha256: Sha256Hex,
    pub mission: Option<String>,
    /// `name` when a file actually named NAME was found, `alias` when the path holds
    /// the same content under another name.
    pub matched_by: MatchedBy,
    /// Set when the preferred mission had no copy and another mission's was used.
    pub fallback_from: Option<String>,
}

/// The local path for kernel filename `name` (exact match only, never a prefix).
///
/// A name that different contents carry (two `cpck05Mar2004.tpc` of different bytes)
/// is refused, listing the candidates, unless `mission` narrows it to one content:
/// the one rule for ambiguous names (issue 20) — say so, never pick silently.
pub fn resolve(ctx: &Ctx<'_>, name: &str, mission: Option<&str>) -> Result<Resolved> {
    let cat = ctx.read()?;
    let found = resolve_in(&cat, name, mission, None)?
        .ok_or_else(|| Error::NotFound(format!("no local copy of `{name}`")))?;
    let mut rows: Vec<LocationRow> = cat.locations_named(name)?;
    if rows.iter().all(|r| !intact(r)) {
        for sha in cat.kernels_named(name)? {
            rows.extend(cat.locations_of(&sha)?);
        }
    }
    let in_mission = |r: &LocationRow| {
        mission.is_some_and(|m| {
            r.mission
                .as_deref()
                .is_some_and(|rm| rm.eq_ignore_ascii_case(m))
        })
    };
    let live: Vec<&LocationRow> = rows.iter().filter(|r| intact(r)).collect();
    let scoped: Vec<&LocationRow> = if live.iter().any(|r| in_mission(r)) {
        live.into_iter().filter(|r| in_mission(r)).collect()
    } else {
        live
    };
    let mut contents: BTreeMap<&Sha256Hex, &LocationRow> = BTreeMap::new();
    for r in &scoped {
        contents.entry(&r.sha256).or_insert(r);
    }
    if contents.len() > 1 {
        let list: Vec<String> = contents
            .iter()
            .map(|(sha, r)| {
                format!(
                    "  {} at `{}`{}",
                    &sha.as_str()[..12],
                    r.path,
                    r.mission
                        .as_deref()
                        .map(|m| format!(" (mission {m})"))
                        .unwrap_or_default()
                )
            })
            .collect();
        return Err(Error::Usage(format!(
            "`{name}` names {} different contents; pick one with `--mission M` (or by hash with \
             `kdb aliases HASH`):\n{}",
            contents.len(),
            list.join("\n")
        )));
    }
    Ok(found)
}

/// Resolution over an open catalogue (used by metakernel commands too). `suffix`
/// (e.g. `lsk/naif0008.tls` from a metakernel entry) prefers locations whose path
/// ends with it, so two different files sharing a name in different trees are told
/// apart by where the metakernel says they live.
pub fn resolve_in(
    cat: &Catalogue,
    name: &str,
    mission: Option<&str>,
    suffix: Option<&str>,
) -> Result<Option<Resolved>> {
    resolve_hinted(cat, name, mission, &Hint { exact: &[], suffix })
}

/// Where a metakernel says a file lives: exact candidate paths (the entry joined to
/// the metakernel's directory and its ancestors) and the sub-path below `..`/symbol.
#[derive(Default)]
pub struct Hint<'a> {
    pub exact: &'a [String],
    pub suffix: Option<&'a str>,
}

/// [`resolve_in`] preferring, among same-named files, one at an exact hinted path,
/// then one whose path ends with the hinted suffix.
pub fn resolve_hinted(
    cat: &Catalogue,
    name: &str,
    mission: Option<&str>,
    hint: &Hint<'_>,
) -> Result<Option<Resolved>> {
    let named = cat.locations_named(name)?;
    resolve_hinted_with(cat, name, mission, hint, &named)
}

/// As [`resolve_hinted`], with the locations named `name` already read (one set query
/// serves a whole metakernel).
pub fn resolve_hinted_with(
    cat: &Catalogue,
    name: &str,
    mission: Option<&str>,
    hint: &Hint<'_>,
    named: &[LocationRow],
) -> Result<Option<Resolved>> {
    if let Some(r) = pick(named, name, mission, hint, MatchedBy::Name) {
        return Ok(Some(r));
    }
    let mut by_alias = Vec::new();
    for sha in cat.kernels_named(name)? {
        by_alias.extend(cat.locations_of(&sha)?);
    }
    Ok(pick(
        &by_alias,
        name,
        mission,
        &Hint::default(),
        MatchedBy::Alias,
    ))
}

fn pick(
    rows: &[LocationRow],
    name: &str,
    mission: Option<&str>,
    hint: &Hint<'_>,
    how: MatchedBy,
) -> Option<Resolved> {
    let rank = |r: &LocationRow| match r.kind {
        LocationKind::File => 0,
        LocationKind::Object => 1,
        LocationKind::Symlink => 2,
    };
    let off_exact = |r: &LocationRow| !hint.exact.contains(&r.path);
    let off_suffix = |r: &LocationRow| {
        !hint.suffix.is_some_and(|s| {
            let s = s.trim_start_matches("./").trim_start_matches('/');
            r.path.ends_with(&format!("/{s}"))
        })
    };
    let key = |r: &LocationRow| (off_exact(r), off_suffix(r), rank(r));
    let mut live: Vec<&LocationRow> = rows.iter().filter(|r| intact(r)).collect();
    live.sort_by(|a, b| (key(a), &a.path).cmp(&(key(b), &b.path)));
    let same_mission = |r: &&&LocationRow| {
        mission.is_none_or(|m| {
            r.mission
                .as_deref()
                .is_some_and(|rm| rm.eq_ignore_ascii_case(m))
        })
    };
    let (row, fallback_from) = match live.iter().find(same_mission) {
        Some(r) => (*r, None),
        None => (*live.first()?, mission.map(str::to_owned)),
    };
    Some(Resolved {
        name: name.to_owned(),
        path: row.path.clone(),
        sha256: row.sha256.clone(),
        mission: row.mission.clone(),
        matched_by: how,
        fallback_from,
    })
}

// ---------------------------------------------------------------- stats
