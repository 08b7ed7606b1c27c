//! Where a `get` source points: a URL, or `NAME.tm` in a mission's mk/ directory
//! (then its `former_versions/`), and which mission it belongs to.

use url::Url;

use super::remote;
use crate::commands::{Error, Result};
use crate::db::Catalogue;
use crate::remote::fetch::{self, Conditional, Fetched};
use crate::remote::listing::Listing;

/// Where `source` (a URL, or `NAME.tm` of a mission) points, and the mission.
pub(super) fn locate(
    cat: &Catalogue,
    source: &str,
    mission: Option<&str>,
) -> Result<(Vec<Url>, String)> {
    // A local file, however it is written (`/abs/demo.tm`, `../mk/demo.tm`,
    // `~/spice/demo.tm`), is read as its `file://` URL.
    let local;
    let source = match local_file_url(source) {
        Some(url) => {
            local = url.to_string();
            local.as_str()
        }
        None => source,
    };
    if source.contains("://") {
        // Userinfo moves to the client's credentials: nothing derived from this URL
        // (plan, catalogue, lockfiles, bundles, team records) carries it.
        let url = crate::remote::auth::accept_text(source).map_err(Error::Usage)?;
        if !matches!(url.scheme(), "http" | "https" | "file") {
            return Err(Error::Usage(format!(
                "unsupported URL scheme `{}`",
                url.scheme()
            )));
        }
        if url.path().ends_with('/') {
            return Err(Error::Usage(format!(
                "`{url}` is a directory, not a metakernel; `kdb browse {url}` lists the \
                 metakernels in it"
            )));
        }
        if url.scheme() == "file"
            && let Ok(path) = url.to_file_path()
            && !path.is_file()
        {
            return Err(if path.is_dir() {
                Error::Usage(format!(
                    "`{}` is a directory, not a metakernel",
                    path.display()
                ))
            } else {
                Error::NotFound(format!("no metakernel at `{}`", path.display()))
            });
        }
        let name = match mission {
            Some(m) => m.to_owned(),
            None => mission_for_url(cat, &url)?,
        };
        crate::commands::mission::check_name(&name)?;
        return Ok((vec![url], name));
    }
    if source.contains('/') || !source.to_ascii_lowercase().ends_with(".tm") {
        return Err(Error::Usage(format!(
            "`{source}` is neither a URL nor a metakernel file name (NAME.tm)"
        )));
    }
    let missions = cat.missions()?;
    let m = match mission {
        Some(name) => missions
            .into_iter()
            .find(|m| m.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "no mission named `{name}`; add it with `kdb mission add {name}`"
                ))
            })?,
        None => match missions.len() {
            1 => missions
                .into_iter()
                .next()
                .unwrap_or_else(|| unreachable!()),
            0 => {
                return Err(Error::Usage(
                    "no mission configured: pass a URL, or `kdb mission add NAME` first".into(),
                ));
            }
            _ => {
                return Err(Error::Usage(format!(
                    "several missions configured; pass `--mission` for `{source}`"
                )));
            }
        },
    };
    let dir = Url::parse(m.mk_dir_url.as_deref().unwrap_or_default())
        .map_err(|e| Error::Usage(format!("mission `{}` has an invalid mk/ URL: {e}", m.name)))?;
    let first = dir.join(source).map_err(|e| Error::Usage(e.to_string()))?;
    let former = dir
        .join(&format!("former_versions/{source}"))
        .map_err(|e| Error::Usage(e.to_string()))?;
    Ok((vec![first, former], m.name))
}

/// The `file://` URL of `source` when it is a local path (absolute, relative to the
/// working directory, or under `~/`) rather than a URL or a bare `NAME.tm` of a
/// mission.
pub(crate) fn local_file_url(source: &str) -> Option<Url> {
    if source.contains("://") {
        return None;
    }
    let expanded = match (source.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::Path::new(&home).join(rest),
        _ => std::path::PathBuf::from(source),
    };
    // A bare `NAME.tm` is a mission's metakernel; a path names a file (missing or not).
    if !source.contains('/') {
        return None;
    }
    let abs = crate::commands::absolute(&expanded);
    Url::from_file_path(&abs).ok()
}

/// The mission of a URL: a configured mission whose mk/ or server URL contains it,
/// else the path segment before `kernels`.
pub(crate) fn mission_for_url(cat: &Catalogue, url: &Url) -> Result<String> {
    for m in cat.missions()? {
        if let Some(mk) = &m.mk_dir_url
            && let Some(base) = mk.strip_suffix("kernels/mk/").or(Some(mk.as_str()))
            && url.as_str().starts_with(base)
        {
            return Ok(m.name);
        }
    }
    let segs: Vec<&str> = url
        .path_segments()
        .map(Iterator::collect)
        .unwrap_or_default();
    if let Some(i) = segs.iter().position(|s| s.eq_ignore_ascii_case("kernels"))
        && i > 0
    {
        return Ok(segs[i - 1].to_owned());
    }
    Err(Error::Usage(format!(
        "cannot tell the mission of `{url}`; pass `--mission NAME`"
    )))
}

/// Listings fetched beside the metakernel, by directory URL.
pub(super) type Pages = Vec<(Url, std::result::Result<Listing, fetch::FetchError>)>;

/// The directories of the kernels this home acquired for the metakernel at `url`
/// before (its ready `.tm`'s entries, by their recorded source URLs): a warm `get`
/// asks for their listings while the metakernel is on its way.
pub(super) fn previous_dirs(cat: &Catalogue, url: &Url) -> Vec<Url> {
    let Ok(Some(row)) = cat.metakernel_by_url(url.as_str()) else {
        return Vec::new();
    };
    let Ok(bytes) = std::fs::read(&row.local_path) else {
        return Vec::new();
    };
    let Ok(loaded) = crate::commands::mk::parse(row.local_path.clone(), &bytes) else {
        return Vec::new();
    };
    let paths: Vec<String> = loaded
        .entries
        .iter()
        .filter_map(|e| {
            crate::commands::mk::candidate_paths(&row.local_path, &e.path)
                .into_iter()
                .next()
        })
        .collect();
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    let Ok(rows) = cat.locations_at(&refs) else {
        return Vec::new();
    };
    let mut dirs: Vec<Url> = Vec::new();
    for path in &paths {
        let Some(source) = rows
            .get(path.as_str())
            .and_then(|r| r.source_url.as_deref())
        else {
            continue;
        };
        if let Ok(dir) = Url::parse(source).and_then(|u| u.join("./"))
            && !dirs.contains(&dir)
        {
            dirs.push(dir);
        }
    }
    dirs
}

/// Fetches the first of `urls` that exists (the first together with the listings of
/// `dirs`); not-found on all names every URL tried.
pub(super) fn fetch_first(
    session: &fetch::Session,
    urls: &[Url],
    dirs: &[Url],
) -> Result<(Url, Fetched, Pages)> {
    let mut tried = Vec::new();
    let mut pages = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let answer = if i == 0 && !dirs.is_empty() {
            let (answer, listings) = session.fetch_text_and_listings(url, dirs);
            pages = dirs.iter().cloned().zip(listings).collect();
            answer
        } else {
            session.fetch_text(url, None)
        };
        match answer {
            Ok(Conditional::Fetched(f)) => return Ok((url.clone(), f, pages)),
            Ok(Conditional::NotModified) => {}
            Err(e) if e.is_not_found() => tried.push(format!("`{url}`")),
            Err(e) => return Err(remote(e)),
        }
    }
    Err(Error::NotFound(format!(
        "metakernel not found at {}",
        tried.join(" nor ")
    )))
}
