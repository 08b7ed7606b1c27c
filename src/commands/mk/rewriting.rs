//! `kdb rewrite MK -o OUT`: a metakernel that loads the held copies, every path it
//! will create validated before any is created (DESIGN.md §3, invariant 5).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::commands::inspect::{Hint, resolve_hinted};
use crate::commands::{Ctx, Error, Result, absolute};
use crate::store::fsio;
use crate::store::safe_path::{PathError, SafeRelPath};

use super::{Loaded, RewriteMode, candidate_paths, file_name, load};

#[derive(Debug, Clone)]
pub struct RewriteOptions {
    pub metakernel: String,
    pub output: Option<PathBuf>,
    pub link_root: Option<PathBuf>,
    pub mission: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RewriteReport {
    pub metakernel: String,
    pub output: String,
    pub link_root: String,
    /// `path_values` (only PATH_VALUES strings changed) or `entries` (a metakernel
    /// without PATH_SYMBOLS: its relative entry strings changed).
    pub mode: RewriteMode,
    pub linked: usize,
    pub unresolved: Vec<String>,
    pub warnings: Vec<String>,
}

/// Where one entry's link goes (relative to the link root) and which file it names.
struct Placement {
    /// The entry as written (the key of an entries-mode rewrite).
    raw: String,
    rel: SafeRelPath,
    name: String,
    /// The entry's path below its symbol (or its literal path), to tell apart
    /// same-named files in different directories.
    suffix: String,
    /// Exact paths the entry may name on this machine.
    exact: Vec<String>,
}

/// Plans the link tree (pure): one relative path under the link root per entry, the
/// symbol names, and whether the metakernel uses PATH_SYMBOLS. Refuses the whole
/// metakernel if any entry would leave the root.
fn place(
    loaded: &Loaded,
    warnings: &mut Vec<String>,
) -> Result<(Vec<Placement>, Vec<String>, bool)> {
    let mut symbols = loaded.mk.path_symbols();
    let by_symbol = !symbols.is_empty();
    // Longest first, so `$KERNELS_DATA` is not read as `$KERNELS` + `_DATA`.
    symbols.sort_by_key(|s| std::cmp::Reverse(s.name.len()));
    let multi = symbols.len() > 1;
    let mut out = Vec::new();
    for e in &loaded.entries {
        let symbol = symbols
            .iter()
            .find(|s| e.raw.starts_with(&format!("${}", s.name)));
        let (prefix, rest) = match symbol {
            Some(s) => (multi.then_some(s.name.as_str()), &e.raw[s.name.len() + 1..]),
            None if e.path.starts_with('/') => {
                return Err(Error::Usage(format!(
                    "refusing `{}` (line {}): absolute path outside the link root; nothing was written",
                    e.raw, e.line
                )));
            }
            None if by_symbol => {
                warnings.push(format!(
                    "`{}` uses no path symbol; it is left as written and may not load from another directory",
                    e.raw
                ));
                continue;
            }
            None => (None, e.path.as_str()),
        };
        let mut rest = rest.to_owned();
        if rest.contains('\\') {
            warnings.push(format!(
                "`{}`: `\\` treated as a directory separator in the link tree",
                e.raw
            ));
            rest = rest.replace('\\', "/");
        }
        let rel_text = match prefix {
            Some(p) => format!("{p}/{}", rest.trim_start_matches('/')),
            None => rest.trim_start_matches('/').to_owned(),
        };
        let rel = SafeRelPath::new(&rel_text).map_err(|err| match err {
            PathError::Unsafe { reason, .. } => Error::Usage(format!(
                "refusing `{}` (line {}): {reason}; nothing was written",
                e.raw, e.line
            )),
            other => crate::store::Error::Path(other).into(),
        })?;
        out.push(Placement {
            raw: e.raw.clone(),
            name: file_name(&rest).to_owned(),
            suffix: rest.trim_start_matches('/').to_owned(),
            exact: candidate_paths(&loaded.origin, &e.path),
            rel,
        });
    }
    Ok((
        out,
        symbols.into_iter().map(|s| s.name).collect(),
        by_symbol,
    ))
}

/// Where `rewrite` writes: `-o OUT`, else the input's file name in the working
/// directory — never over the input itself.
fn rewrite_output(output: Option<&Path>, origin: &str) -> Result<PathBuf> {
    if let Some(o) = output {
        return Ok(absolute(o));
    }
    let o = absolute(Path::new(file_name(origin)));
    if o.display().to_string() == origin {
        return Err(Error::Usage(
            "the output would overwrite the input; pass `-o OUT`".to_owned(),
        ));
    }
    Ok(o)
}

pub fn rewrite(ctx: &Ctx<'_>, opts: &RewriteOptions) -> Result<RewriteReport> {
    let loaded = load(ctx, &opts.metakernel)?;
    let output = rewrite_output(opts.output.as_deref(), &loaded.origin)?;
    let link_root = match &opts.link_root {
        Some(r) => absolute(r),
        None => output.parent().unwrap_or(Path::new("/")).join("kernels"),
    };
    let mut warnings: Vec<String> = loaded
        .mk
        .warnings()
        .iter()
        .map(ToString::to_string)
        .collect();
    // Plan everything, validating every path, before the first write.
    let (placements, symbols, by_symbol) = place(&loaded, &mut warnings)?;
    // An entry written with `\` (a metakernel made on Windows) cannot load on this
    // machine through PATH_VALUES alone: its entries are rewritten too.
    let by_symbol = by_symbol && !placements.iter().any(|p| p.raw.contains('\\'));
    let mut targets = Vec::new();
    for p in &placements {
        let dest = p.rel.under(&link_root).map_err(crate::store::Error::Path)?;
        targets.push(dest);
    }
    let cat = ctx.read()?;
    let mut unresolved = Vec::new();
    let mut links = Vec::new();
    for (p, dest) in placements.iter().zip(&targets) {
        let hint = Hint {
            exact: &p.exact,
            suffix: Some(&p.suffix),
        };
        match resolve_hinted(&cat, &p.name, opts.mission.as_deref(), &hint)? {
            Some(r) => {
                if let Some(m) = &r.fallback_from {
                    ctx.reporter.warn(&format!(
                        "`{}`: no copy in mission {m}; linking {}",
                        p.name, r.path
                    ));
                }
                links.push((dest.clone(), PathBuf::from(r.path)));
            }
            None => unresolved.push(p.rel.to_string()),
        }
    }
    let root_str = link_root
        .to_str()
        .ok_or_else(|| Error::Usage(format!("link root `{}` is not UTF-8", link_root.display())))?
        .to_owned();
    let bytes = if by_symbol {
        let multi = symbols.len() > 1;
        let values: Vec<(String, String)> = symbols
            .into_iter()
            .map(|name| {
                let v = if multi {
                    format!("{root_str}/{name}")
                } else {
                    root_str.clone()
                };
                (name, v)
            })
            .collect();
        loaded.mk.rewrite_path_values(&values)
    } else {
        let by_raw: std::collections::HashMap<String, String> = placements
            .iter()
            .zip(&targets)
            .map(|(p, t)| (p.raw.clone(), t.display().to_string()))
            .collect();
        loaded.mk.rewrite_entries(|e| by_raw.get(&e.raw).cloned())
    }
    .map_err(|source| Error::Rewrite {
        path: loaded.origin.clone(),
        source,
    })?;

    crate::commands::check_output(&output)?;
    let output_err = |source| Error::Output {
        path: link_root.display().to_string(),
        source,
    };
    for (dest, target) in &links {
        ctx.home
            .create_dir(dest.parent().unwrap_or(Path::new("/")))
            .map_err(output_err)?;
        fsio::replace_with_symlink(dest, target).map_err(output_err)?;
    }
    crate::commands::write_output(&output, &bytes)?;
    Ok(RewriteReport {
        metakernel: loaded.origin,
        output: output.display().to_string(),
        link_root: root_str,
        mode: if by_symbol {
            RewriteMode::PathValues
        } else {
            RewriteMode::Entries
        },
        linked: links.len(),
        unresolved,
        warnings,
    })
}
