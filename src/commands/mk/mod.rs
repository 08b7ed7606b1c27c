//! Metakernel commands: `list`, `check`, `rewrite`.
//!
//! Each takes a metakernel by path or by registered name. `rewrite` validates every
//! path it will create before creating any (DESIGN.md §3, invariant 5): an entry whose
//! path leaves the link root (`$KERNELS/../../../../tmp/pwn.bsp`, an absolute path
//! with `..`) refuses the whole operation with nothing written.

use std::path::{Path, PathBuf};

use super::{Ctx, Error, Result, absolute};
use crate::db::{Catalogue, MetakernelRow};
use crate::metakernel::Metakernel;

mod entries;
mod rewriting;

pub use entries::*;
pub use rewriting::*;

pub use crate::metakernel::Loaded;

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
