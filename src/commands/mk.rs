//! Metakernel commands: `list`, `check`, `rewrite`.
//!
//! Each takes a metakernel by path or by registered name. `rewrite` validates every
//! path it will create before creating any (DESIGN.md §3, invariant 5): an entry whose
//! path leaves the link root (`$KERNELS/../../../../tmp/pwn.bsp`, an absolute path
//! with `..`) refuses the whole operation with nothing written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::inspect::{Hint, resolve_hinted, resolve_hinted_with};
use super::{Ctx, Error, Result, absolute};
use crate::content::Sha256Hex;
use crate::db::{Catalogue, MetakernelRow};
use crate::kernel::KernelType;
use crate::metakernel::{Entry, Metakernel};
use crate::store::fsio;
use crate::store::safe_path::{PathError, SafeRelPath};

/// A metakernel loaded from disk, with where it came from.
pub struct Loaded {
    pub origin: String,
    pub mk: Metakernel,
    pub entries: Vec<Entry>,
}

/// Reads `arg` as a URL (`http`, `https`, `file`), a path, or else as the name of a
/// registered metakernel.
pub fn load(ctx: &Ctx<'_>, arg: &str) -> Result<Loaded> {
    if arg.contains("://") {
        let url = crate::remote::auth::accept_text(arg).map_err(Error::Usage)?;
        let cfg = crate::remote::fetch::FetchConfig::default();
        return match crate::remote::fetch::fetch_text(&cfg, &url, None) {
            Ok(crate::remote::fetch::Conditional::Fetched(f)) => {
                parse(f.final_url.to_string(), &f.bytes)
            }
            Ok(crate::remote::fetch::Conditional::NotModified) => {
                Err(Error::Usage(format!("`{url}` answered 304 to a plain GET")))
            }
            Err(e) if e.is_not_found() => Err(Error::NotFound(format!("no metakernel at `{url}`"))),
            Err(e) => Err(Error::Remote(Box::new(e))),
        };
    }
    let path = if Path::new(arg).exists() {
        PathBuf::from(arg)
    } else {
        let found = match Catalogue::open_existing(&ctx.home.catalogue()) {
            Ok(cat) => find_registered(&cat, arg).map(Some).or_else(|e| {
                if matches!(e, Error::NotFound(_)) {
                    Ok(None)
                } else {
                    Err(e)
                }
            })?,
            Err(_) => None,
        };
        match found {
            Some(m) => PathBuf::from(m.local_path),
            None => {
                return Err(Error::NotFound(format!(
                    "no metakernel `{arg}`: not a file and not a registered metakernel name"
                )));
            }
        }
    };
    let bytes = std::fs::read(&path)
        .map_err(|e| Error::Usage(format!("cannot read `{}`: {e}", path.display())))?;
    let origin = absolute(&path).display().to_string();
    parse(origin, &bytes)
}

pub fn parse(origin: String, bytes: &[u8]) -> Result<Loaded> {
    if let Some(why) = not_a_metakernel(bytes) {
        return Err(Error::Usage(format!(
            "`{origin}` is not a metakernel: {why}; nothing was registered"
        )));
    }
    let mk = Metakernel::parse(bytes).map_err(|source| Error::Metakernel {
        path: origin.clone(),
        source,
    })?;
    let entries = mk.entries().map_err(|source| Error::Metakernel {
        path: origin.clone(),
        source,
    })?;
    if mk.values("KERNELS_TO_LOAD").is_none() {
        return Err(Error::Usage(format!(
            "`{origin}` is not a metakernel: it assigns no `KERNELS_TO_LOAD` in a \
             `\\begindata` block; nothing was registered"
        )));
    }
    Ok(Loaded {
        origin,
        mk,
        entries,
    })
}

/// Why `bytes` cannot be a metakernel before parsing them: a binary kernel (DAF/DAS),
/// an HTML page (a directory listing fetched as a file), an empty file, or bytes that
/// are not text. `None` when they may be one.
fn not_a_metakernel(bytes: &[u8]) -> Option<&'static str> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Some("the file is empty");
    }
    let head = &bytes[..bytes.len().min(1024)];
    if [&b"DAF/"[..], b"DAS/", b"NAIF/DAF", b"NAIF/DAS"]
        .iter()
        .any(|id| head.starts_with(id))
    {
        return Some("it is a binary kernel (DAF/DAS)");
    }
    let lower = String::from_utf8_lossy(&head[..head.len().min(512)]).to_ascii_lowercase();
    let text = lower.trim_start();
    if text.starts_with("<!doctype html") || text.starts_with("<html") {
        return Some("it is an HTML page (a directory listing?)");
    }
    if head.contains(&0) {
        return Some("it is not text");
    }
    None
}

/// The part of an entry path below any `.`/`..` prefix (`../data/spk/a.bsp` →
/// `data/spk/a.bsp`): where the metakernel says the file lives, for resolution.
pub fn entry_suffix(path: &str) -> &str {
    let mut rest = path.trim_start_matches('/');
    while let Some((head, tail)) = rest.split_once('/') {
        if head == ".." || head == "." || head.is_empty() {
            rest = tail;
        } else {
            break;
        }
    }
    rest
}

/// Paths an entry may name: joined to the metakernel's directory and each ancestor
/// (SPICE resolves against the working directory, usually one of these), normalised.
pub fn candidate_paths(origin: &str, entry_path: &str) -> Vec<String> {
    let entry = entry_path.replace('\\', "/");
    if entry.starts_with('/') {
        return vec![normalise(Path::new(&entry))];
    }
    Path::new(origin)
        .ancestors()
        .skip(1)
        .map(|dir| normalise(&dir.join(&entry)))
        .collect()
}

fn normalise(p: &Path) -> String {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out.display().to_string()
}

/// The file name an entry refers to (a Windows `\` counts as a separator here).
pub fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

// ---------------------------------------------------------------- list

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
                .and_then(super::index::short_summary_of),
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

    super::check_output(&output)?;
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
    super::write_output(&output, &bytes)?;
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

/// The registered metakernel `arg` names: by name, source or final URL, or local
/// path. The one rule for every command (issue 20): a name two acquired metakernels
/// share (the same file name from two URLs) is refused, listing the candidates, so
/// nothing is picked silently; a URL or the local path picks one.
pub(crate) fn find_registered(cat: &Catalogue, arg: &str) -> Result<MetakernelRow> {
    let path = absolute(Path::new(arg)).display().to_string();
    let mut hits: Vec<MetakernelRow> = cat
        .metakernels()?
        .into_iter()
        .filter(|m| {
            m.name == arg
                || m.source_url == arg
                || m.final_url.as_deref() == Some(arg)
                || m.local_path == arg
                || m.local_path == path
        })
        .collect();
    hits.sort_by(|a, b| (&a.acquired_at, a.id).cmp(&(&b.acquired_at, b.id)));
    match hits.len() {
        0 => Err(Error::NotFound(format!(
            "no acquired metakernel `{arg}`; `kdb get` it first (see `kdb metakernels`)"
        ))),
        1 => Ok(hits.remove(0)),
        _ => Err(ambiguous_metakernel(arg, &hits)),
    }
}

/// The error for a name several acquired metakernels share.
pub(crate) fn ambiguous_metakernel(arg: &str, hits: &[MetakernelRow]) -> Error {
    let list: Vec<String> = hits
        .iter()
        .map(|m| format!("  {} (local `{}`)", m.source_url, m.local_path))
        .collect();
    Error::Usage(format!(
        "`{arg}` names {} acquired metakernels; give one by its source URL or local path:\n{}",
        hits.len(),
        list.join("\n")
    ))
}
