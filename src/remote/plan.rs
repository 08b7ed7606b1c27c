//! Pure planning for acquisition: where each metakernel entry lives on the server,
//! where its link goes in the mission tree, and which `PATH_VALUES` the local copy of
//! the metakernel gets. No I/O.
//!
//! Remote resolution follows SPICE semantics transplanted to URLs: a relative
//! `PATH_VALUES` value (`..`, `../..`, `./data`) or literal entry is resolved against
//! the metakernel's URL, an absolute one against the server root. The mission tree
//! mirrors the server: `missions/<MISSION>/<host>/<url path>`, so every root a
//! metakernel names (several symbols, `../..`, absolute server paths) has its place.
//!
//! Refused before any I/O (DESIGN.md §3, invariant 5): a value or entry that climbs
//! above the server root, an entry whose part after its symbol contains `..`, any
//! result on another host or scheme. Refused too, because laying it out would
//! replace something the plan itself needs: an entry that names a directory (its URL
//! ends in `/`, as `'..'` does), an entry whose local path is the metakernel itself,
//! and an entry whose local path is a directory of another entry or of the
//! metakernel.

use std::collections::HashMap;

use url::Url;

use crate::metakernel::Loaded;
use crate::store::safe_path::SafeRelPath;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("refusing `{what}` (line {line}): {reason}; nothing was written")]
    Unsafe {
        what: String,
        line: usize,
        reason: String,
    },
    /// An entry whose local path is taken by something the plan may not replace.
    #[error("refusing entry `{what}`: its local path `{path}` {reason}; nothing was written")]
    Collision {
        what: String,
        path: String,
        reason: String,
    },
}

/// One kernel of a metakernel, located remotely and locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEntry {
    /// The file name as the metakernel references it (the alias to record).
    pub name: String,
    pub raw: String,
    pub url: Url,
    /// Path of its link in the mission tree, relative to the mission root.
    pub local: SafeRelPath,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePlan {
    pub entries: Vec<RemoteEntry>,
    /// Each PATH_SYMBOL with the mission-tree directory its value maps to.
    pub symbols: Vec<(String, SafeRelPath)>,
    /// Where the metakernel itself goes in the mission tree.
    pub metakernel: SafeRelPath,
    /// True when the metakernel has no PATH_SYMBOLS (its entry strings get rewritten).
    pub literal: bool,
}

/// The mission-tree path mirroring `url`: `<host>/<decoded path>`.
pub fn local_path_of(url: &Url) -> Result<SafeRelPath, String> {
    let host = match (url.scheme(), url.host_str()) {
        ("file", _) => "local".to_owned(),
        (_, Some(h)) => match url.port() {
            Some(p) => format!("{h}_{p}"),
            None => h.to_owned(),
        },
        (_, None) => return Err("URL has no host".into()),
    };
    let mut parts = vec![host];
    for seg in url.path_segments().into_iter().flatten() {
        let decoded = percent_encoding::percent_decode_str(seg)
            .decode_utf8()
            .map_err(|_| "path is not UTF-8".to_owned())?;
        if decoded.contains('/') || decoded.contains('\\') {
            return Err(format!("encoded separator in segment `{seg}`"));
        }
        if !decoded.is_empty() {
            parts.push(decoded.into_owned());
        }
    }
    SafeRelPath::new(&parts.join("/")).map_err(|e| e.to_string())
}

/// Characters escaped in a URL path segment (RFC 3986 `pchar` complement, plus `%`).
pub const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

/// Resolves `rel` (a SPICE path, `/`-separated) against directory URL `base`,
/// refusing results that climb above the server root or leave its host.
fn join(base: &Url, rel: &str) -> Result<Url, String> {
    if rel.contains("://") || rel.starts_with("//") {
        return Err("names another server".into());
    }
    // Lexical climb check first: Url::join silently clamps `..` at the root.
    let start: Vec<&str> = if rel.starts_with('/') {
        Vec::new()
    } else {
        base.path().split('/').filter(|s| !s.is_empty()).collect()
    };
    let mut depth = start.len() as i64;
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return Err("climbs above the server root".into());
                }
            }
            _ => depth += 1,
        }
    }
    // SPICE names are raw file names: encode each segment so `%`, `#`, `?` and spaces
    // stay part of the name instead of being read as URL syntax.
    let encoded: Vec<String> = rel
        .split('/')
        .map(|seg| match seg {
            "." | ".." => seg.to_owned(),
            _ => percent_encoding::utf8_percent_encode(seg, SEGMENT).to_string(),
        })
        .collect();
    let url = base.join(&encoded.join("/")).map_err(|e| e.to_string())?;
    if url.scheme() != base.scheme()
        || url.host_str() != base.host_str()
        || url.port() != base.port()
    {
        return Err("resolves to another server".into());
    }
    Ok(url)
}

fn dir_url(url: &Url) -> Url {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    if !u.path().ends_with('/') {
        let mut segs: Vec<String> = u.path().split('/').map(str::to_owned).collect();
        segs.pop();
        u.set_path(&format!("{}/", segs.join("/")));
    }
    u
}

/// The directories SPICE's working directory could have been on the server: the
/// metakernel's own directory (NAIF's convention), then each ancestor.
pub fn working_dirs(mk_url: &Url) -> Vec<Url> {
    let mut out = vec![dir_url(mk_url)];
    while let Some(last) = out.last() {
        if last.path() == "/" {
            break;
        }
        match last.join("../") {
            Ok(up) if up != *last => out.push(up),
            _ => break,
        }
    }
    out
}

/// Plans where every entry of `loaded` (fetched from `mk_url`) lives, with relative
/// paths resolved against the metakernel's directory.
pub fn plan(mk_url: &Url, loaded: &Loaded) -> Result<RemotePlan, PlanError> {
    plan_from(mk_url, &dir_url(mk_url), loaded)
}

/// Like [`plan`], with relative paths resolved against `cwd` (a directory URL).
pub fn plan_from(mk_url: &Url, cwd: &Url, loaded: &Loaded) -> Result<RemotePlan, PlanError> {
    let mk_dir = cwd.clone();
    let unsafe_ = |what: &str, line: usize, reason: String| PlanError::Unsafe {
        what: what.to_owned(),
        line,
        reason,
    };
    let mut symbols = loaded.mk.path_symbols();
    symbols.sort_by_key(|s| std::cmp::Reverse(s.name.len()));
    let mut symbol_urls: HashMap<String, Url> = HashMap::new();
    let mut symbol_dirs = Vec::new();
    for s in &symbols {
        let value = s.value.replace('\\', "/");
        let mut v = value.trim_end_matches('/').to_owned();
        if v.is_empty() {
            v = "/".into();
        }
        let url = join(&mk_dir, &format!("{v}/"))
            .map_err(|r| unsafe_(&format!("PATH_VALUES '{}'", s.value), s.line, r))?;
        let local = local_path_of(&url).map_err(|r| unsafe_(&s.value, s.line, r))?;
        symbol_urls.insert(s.name.clone(), url);
        symbol_dirs.push((s.name.clone(), local));
    }
    let mut entries = Vec::new();
    for e in &loaded.entries {
        let raw = e.raw.replace('\\', "/");
        let symbol = symbols
            .iter()
            .find(|s| raw.starts_with(&format!("${}", s.name)));
        let url = match symbol {
            Some(s) => {
                let rest = raw[s.name.len() + 1..].trim_start_matches('/');
                if rest.split('/').any(|seg| seg == "..") {
                    return Err(unsafe_(&e.raw, e.line, "`..` after the path symbol".into()));
                }
                join(&symbol_urls[&s.name], rest)
            }
            None => join(&mk_dir, &e.path.replace('\\', "/")),
        }
        .map_err(|r| unsafe_(&e.raw, e.line, r))?;
        if url.path().ends_with('/') {
            return Err(unsafe_(
                &e.raw,
                e.line,
                "names a directory, not a kernel file".into(),
            ));
        }
        let local = local_path_of(&url).map_err(|r| unsafe_(&e.raw, e.line, r))?;
        entries.push(RemoteEntry {
            name: local.file_name().to_owned(),
            raw: e.raw.clone(),
            url,
            local,
        });
    }
    let metakernel = local_path_of(mk_url).map_err(|r| unsafe_(mk_url.as_str(), 0, r))?;
    check_overlaps(&entries, &metakernel, loaded)?;
    Ok(RemotePlan {
        entries,
        symbols: symbol_dirs,
        metakernel,
        literal: symbols.is_empty(),
    })
}

/// No entry's local path is the metakernel's, or a directory holding another entry
/// or the metakernel: laying the plan out would replace one with the other.
fn check_overlaps(
    entries: &[RemoteEntry],
    metakernel: &SafeRelPath,
    loaded: &Loaded,
) -> Result<(), PlanError> {
    let line = |i: usize| loaded.entries.get(i).map_or(0, |e| e.line);
    let files: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.local.as_str(), i))
        .collect();
    for (i, e) in entries.iter().enumerate() {
        if e.local == *metakernel {
            return Err(PlanError::Unsafe {
                what: e.raw.clone(),
                line: line(i),
                reason: "is the metakernel itself".into(),
            });
        }
    }
    let paths = entries
        .iter()
        .map(|e| (e.local.as_str(), &e.raw))
        .chain(std::iter::once((metakernel.as_str(), &loaded.origin)));
    for (path, raw) in paths {
        let mut at = path;
        while let Some((dir, _)) = at.rsplit_once('/') {
            if let Some(&i) = files.get(dir) {
                return Err(PlanError::Unsafe {
                    what: entries[i].raw.clone(),
                    line: line(i),
                    reason: format!("is a directory of `{raw}`, not a kernel file"),
                });
            }
            at = dir;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- versioned names

/// A metakernel file name split into base and version tag:
/// `juice_ops_v461_20251127_001.tm` → base `juice_ops.tm`, version 461, date
/// 20251127, sequence 1. Names without a tag have no version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MkName {
    pub base: String,
    pub version: Option<(u64, u64, u64)>,
}

pub fn split_version(name: &str) -> MkName {
    let unversioned = MkName {
        base: name.to_owned(),
        version: None,
    };
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return unversioned;
    };
    let parts: Vec<&str> = stem.rsplitn(4, '_').collect();
    if parts.len() != 4 {
        return unversioned;
    }
    let (seq, date, ver, base) = (parts[0], parts[1], parts[2], parts[3]);
    let digits = |s: &str, n: Option<usize>| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && n.is_none_or(|n| s.len() == n)
    };
    let v = ver.strip_prefix(['v', 'V']).unwrap_or("");
    if !(digits(v, None) && digits(date, Some(8)) && digits(seq, None)) || base.is_empty() {
        return unversioned;
    }
    let num = |s: &str| s.parse::<u64>().unwrap_or(0);
    MkName {
        base: format!("{base}.{ext}"),
        version: Some((num(v), num(date), num(seq))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn loaded(text: &str) -> Loaded {
        let mk = crate::metakernel::Metakernel::parse(text.as_bytes()).unwrap();
        let entries = mk.entries().unwrap();
        Loaded {
            origin: "test.tm".into(),
            mk,
            entries,
        }
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn naif_layout_with_dotdot_symbol() {
        let l = loaded(
            "KPL/MK\n\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'KERNELS' )\nKERNELS_TO_LOAD = ( '$KERNELS/lsk/naif0012.tls' '$KERNELS/spk/de440s.bsp' )\n\\begintext\n",
        );
        let p = plan(
            &url("https://naif.jpl.nasa.gov/pub/naif/JUICE/kernels/mk/juice_ops.tm"),
            &l,
        )
        .unwrap();
        assert_eq!(
            p.entries[0].url.as_str(),
            "https://naif.jpl.nasa.gov/pub/naif/JUICE/kernels/lsk/naif0012.tls"
        );
        assert_eq!(
            p.entries[1].local.as_str(),
            "naif.jpl.nasa.gov/pub/naif/JUICE/kernels/spk/de440s.bsp"
        );
        assert_eq!(p.entries[1].name, "de440s.bsp");
        assert_eq!(
            p.symbols[0].1.as_str(),
            "naif.jpl.nasa.gov/pub/naif/JUICE/kernels"
        );
        assert_eq!(
            p.metakernel.as_str(),
            "naif.jpl.nasa.gov/pub/naif/JUICE/kernels/mk/juice_ops.tm"
        );
        assert!(!p.literal);
    }

    #[test]
    fn several_symbols_double_dotdot_and_absolute_server_paths() {
        let l = loaded(
            "\\begindata\nPATH_VALUES = ( '../..' '/pub/naif/generic_kernels' )\nPATH_SYMBOLS = ( 'ROOT' 'GEN' )\nKERNELS_TO_LOAD = ( '$ROOT/kernels/ck/a.bc' '$GEN/lsk/naif0012.tls' )\n",
        );
        let p = plan(
            &url("http://127.0.0.1:8080/pub/naif/JUICE/kernels/mk/x.tm"),
            &l,
        )
        .unwrap();
        assert_eq!(
            p.entries[0].url.as_str(),
            "http://127.0.0.1:8080/pub/naif/JUICE/kernels/ck/a.bc"
        );
        assert_eq!(
            p.entries[1].url.as_str(),
            "http://127.0.0.1:8080/pub/naif/generic_kernels/lsk/naif0012.tls"
        );
        assert_eq!(
            p.entries[1].local.as_str(),
            "127.0.0.1_8080/pub/naif/generic_kernels/lsk/naif0012.tls"
        );
    }

    #[test]
    fn traversal_is_refused_everywhere() {
        let base = url("http://h/pub/naif/M/kernels/mk/x.tm");
        for text in [
            "\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'K' )\nKERNELS_TO_LOAD = ( '$K/../../../../tmp/pwn.bsp' )\n",
            "\\begindata\nPATH_VALUES = ( '../../../../../../../..' )\nPATH_SYMBOLS = ( 'K' )\nKERNELS_TO_LOAD = ( '$K/a.bsp' )\n",
            "\\begindata\nKERNELS_TO_LOAD = ( '../../../../../../../../etc/passwd' )\n",
            "\\begindata\nKERNELS_TO_LOAD = ( '//evil.example/x.bsp' )\n",
            "\\begindata\nPATH_VALUES = ( 'http://evil.example/k' )\nPATH_SYMBOLS = ( 'K' )\nKERNELS_TO_LOAD = ( '$K/a.bsp' )\n",
        ] {
            assert!(
                matches!(plan(&base, &loaded(text)), Err(PlanError::Unsafe { .. })),
                "accepted: {text}"
            );
        }
    }

    #[test]
    fn literal_relative_entries_resolve_against_the_metakernel() {
        let l = loaded("\\begindata\nKERNELS_TO_LOAD = ( '../spk/a%20b.bsp' 'lsk/x.tls' )\n");
        let p = plan(&url("file:///srv/mirror/M/kernels/mk/m.tm"), &l).unwrap();
        assert!(p.literal);
        assert_eq!(
            p.entries[0].url.as_str(),
            "file:///srv/mirror/M/kernels/spk/a%2520b.bsp"
        );
        assert_eq!(
            p.entries[1].local.as_str(),
            "local/srv/mirror/M/kernels/mk/lsk/x.tls"
        );
    }

    #[test]
    fn working_dirs_climb_to_the_root() {
        let dirs: Vec<String> = working_dirs(&url("http://h/a/b/mk/x.tm"))
            .iter()
            .map(|u| u.path().to_owned())
            .collect();
        assert_eq!(dirs, ["/a/b/mk/", "/a/b/", "/a/", "/"]);
        let l = loaded(
            "\\begindata\nPATH_VALUES = ( '../kernels' )\nPATH_SYMBOLS = ( 'K' )\nKERNELS_TO_LOAD = ( '$K/lsk/a.tls' )\n",
        );
        let p = plan_from(
            &url("http://h/w/kernels/mk/x.tm"),
            &url("http://h/w/kernels/"),
            &l,
        )
        .unwrap();
        assert_eq!(p.entries[0].url.as_str(), "http://h/w/kernels/lsk/a.tls");
    }

    #[test]
    fn version_tags_split_and_order_numerically() {
        assert_eq!(
            split_version("juice_ops_v461_20251127_001.tm"),
            MkName {
                base: "juice_ops.tm".into(),
                version: Some((461, 20251127, 1))
            }
        );
        assert_eq!(
            split_version("MEX_OPS_V324_20260206_002.TM").base,
            "MEX_OPS.TM"
        );
        assert_eq!(split_version("juice_ops.tm").version, None);
        assert_eq!(split_version("a_b_c.tm").version, None);
        let mut v = [
            split_version("x_v100_20250101_001.tm"),
            split_version("x_v99_20250101_001.tm"),
        ];
        v.sort_by_key(|m| m.version);
        assert_eq!(v[1].version.unwrap().0, 100);
    }

    #[test]
    fn entries_that_are_directories_or_the_metakernel_are_refused() {
        let base = url("http://h/pub/M/kernels/mk/x.tm");
        for (text, why) in [
            (
                "\\begindata\nKERNELS_TO_LOAD = ( '../lsk/a.tls' '..' )\n",
                "names a directory",
            ),
            (
                "\\begindata\nKERNELS_TO_LOAD = ( '../lsk/a.tls' '../lsk/' )\n",
                "names a directory",
            ),
            (
                "\\begindata\nKERNELS_TO_LOAD = ( '../lsk/a.tls' '../lsk' )\n",
                "is a directory of",
            ),
            (
                "\\begindata\nKERNELS_TO_LOAD = ( '../lsk/a.tls' '../../kernels' )\n",
                "is a directory of",
            ),
            (
                "\\begindata\nKERNELS_TO_LOAD = ( 'x.tm' )\n",
                "is the metakernel itself",
            ),
            (
                "\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'K' )\nKERNELS_TO_LOAD = ( '$K/mk/x.tm' )\n",
                "is the metakernel itself",
            ),
        ] {
            match plan(&base, &loaded(text)) {
                Err(PlanError::Unsafe { reason, .. }) => {
                    assert!(reason.contains(why), "{text}: {reason}")
                }
                other => panic!("accepted {text}: {other:?}"),
            }
        }
        // The same file twice is not a collision.
        let ok = loaded("\\begindata\nKERNELS_TO_LOAD = ( '../lsk/a.tls' '../lsk/a.tls' )\n");
        assert!(plan(&base, &ok).is_ok());
    }
}
