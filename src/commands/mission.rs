//! `kdb mission add|list|remove`: the missions kdb knows, their server and mk/ URL.
//!
//! NAIF (`https://naif.jpl.nasa.gov/pub/naif/`) and ESA
//! (`https://spiftp.esac.esa.int/data/SPICE/`) are built in; a mission lives under
//! `<server>/<MISSION>/kernels/mk/` unless `--mk-dir-url` says otherwise. Adding checks
//! the mk/ URL with one request. A name found on both servers without `--server` is an
//! error, never a silent choice; an unreachable server is never reported as "not found".

use serde::Serialize;
use url::Url;

use super::{Ctx, Error, Result};
use crate::db::{self, MissionRow};
use crate::remote::fetch::{self, FetchConfig, FetchError};

pub const NAIF: &str = "https://naif.jpl.nasa.gov/pub/naif/";
pub const ESA: &str = "https://spiftp.esac.esa.int/data/SPICE/";

#[derive(Debug, Clone)]
pub struct AddOptions {
    pub name: String,
    pub server: Option<String>,
    pub mk_dir_url: Option<String>,
    pub dedup: bool,
}

/// `naif`, `esa` or a URL → the server base URL (with a trailing slash).
pub fn server_url(server: &str) -> Result<Url> {
    let s = match server.to_ascii_lowercase().as_str() {
        "naif" => NAIF.to_owned(),
        "esa" => ESA.to_owned(),
        _ => server.to_owned(),
    };
    let s = if s.ends_with('/') { s } else { format!("{s}/") };
    let url = match Url::parse(&s) {
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Err(Error::Usage(format!(
                "`{}` is not a server: give `naif`, `esa` or a base URL such as \
                 `https://host/pub/naif/`",
                crate::remote::auth::redact_text(server)
            )));
        }
        _ => crate::remote::auth::accept_text(&s)
            .map_err(|e| Error::Usage(format!("server: {e}")))?,
    };
    if !matches!(url.scheme(), "http" | "https" | "file") {
        return Err(Error::Usage(format!("unsupported URL scheme in `{url}`")));
    }
    Ok(url)
}

/// A mission name is one path segment (it names `missions/<NAME>/`).
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 100
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        || name.starts_with('.')
    {
        return Err(Error::Usage(format!(
            "invalid mission name `{name}`: use letters, digits, `-`, `_` and `.`"
        )));
    }
    Ok(())
}

fn default_mk_dir(server: &Url, name: &str) -> Result<Url> {
    server
        .join(&format!("{name}/kernels/mk/"))
        .map_err(|e| Error::Usage(format!("cannot build the mk/ URL: {e}")))
}

fn reachable(net: &FetchConfig, url: &Url) -> std::result::Result<bool, FetchError> {
    match fetch::fetch_text(net, url, None) {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn add(
    ctx: &Ctx<'_>,
    net: &FetchConfig,
    opts: &AddOptions,
) -> Result<(MissionRow, AddOutcome)> {
    check_name(&opts.name)?;
    let (server, mk_dir) = match (&opts.server, &opts.mk_dir_url) {
        (_, Some(mk)) => {
            let mk = if mk.ends_with('/') {
                mk.clone()
            } else {
                format!("{mk}/")
            };
            let mk = crate::remote::auth::accept_text(&mk)
                .map_err(|e| Error::Usage(format!("--mk-dir-url: {e}")))?;
            let server = match &opts.server {
                Some(s) => server_url(s)?,
                None => mk.clone(),
            };
            if !reachable(net, &mk).map_err(|e| Error::Remote(Box::new(e)))? {
                return Err(Error::NotFound(format!("no mk/ directory at `{mk}`")));
            }
            (server, mk)
        }
        (Some(s), None) => {
            let server = server_url(s)?;
            let mk = default_mk_dir(&server, &opts.name)?;
            if !reachable(net, &mk).map_err(|e| Error::Remote(Box::new(e)))? {
                return Err(Error::NotFound(format!(
                    "mission `{}` not found: no `{mk}`",
                    opts.name
                )));
            }
            (server, mk)
        }
        (None, None) => {
            let mut found = Vec::new();
            let mut tried = Vec::new();
            for base in [NAIF, ESA] {
                let server = server_url(base)?;
                let mk = default_mk_dir(&server, &opts.name)?;
                tried.push(mk.to_string());
                if reachable(net, &mk).map_err(|e| Error::Remote(Box::new(e)))? {
                    found.push((server, mk));
                }
            }
            match found.len() {
                0 => {
                    return Err(Error::NotFound(format!(
                        "mission `{}` not found at `{}` nor `{}`",
                        opts.name, tried[0], tried[1]
                    )));
                }
                1 => found.remove(0),
                _ => {
                    return Err(Error::Usage(format!(
                        "mission `{}` exists on both NAIF and ESA; choose with `--server naif` or `--server esa`",
                        opts.name
                    )));
                }
            }
        }
    };
    let row = MissionRow {
        name: opts.name.clone(),
        server_url: Some(server.to_string()),
        mk_dir_url: Some(mk_dir.to_string()),
        dedup: opts.dedup,
        added_at: db::now(),
    };
    let (_lock, mut cat) = ctx.write()?;
    let before = cat
        .missions()?
        .into_iter()
        .find(|m| m.name.eq_ignore_ascii_case(&row.name));
    let outcome = match &before {
        None => AddOutcome::Added,
        Some(b)
            if b.server_url == row.server_url
                && b.mk_dir_url == row.mk_dir_url
                && b.dedup == row.dedup =>
        {
            return Ok((b.clone(), AddOutcome::Unchanged));
        }
        Some(_) => AddOutcome::Updated,
    };
    cat.write(|tx| -> Result<()> { Ok(tx.upsert_mission(&row)?) })?;
    Ok((row, outcome))
}

/// What `mission add` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    /// The mission existed with other settings; they were replaced.
    Updated,
    /// The mission existed with these very settings.
    Unchanged,
}

#[derive(Debug, Serialize)]
pub struct MissionList {
    pub missions: Vec<MissionRow>,
}

pub fn list(ctx: &Ctx<'_>) -> Result<MissionList> {
    Ok(MissionList {
        missions: ctx.read()?.missions()?,
    })
}

/// Removes the mission with exactly this name (case-insensitive). Kernels stay.
pub fn remove(ctx: &Ctx<'_>, name: &str) -> Result<String> {
    let (_lock, mut cat) = ctx.write()?;
    let existing = cat
        .missions()?
        .into_iter()
        .find(|m| m.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| Error::NotFound(format!("no mission named `{name}`")))?;
    cat.write(|tx| -> Result<()> {
        tx.delete_mission(&existing.name)?;
        Ok(())
    })?;
    Ok(existing.name)
}

/// Directory names of a server's top listing (for the interactive picker).
pub fn server_missions(net: &FetchConfig, server: &Url) -> Result<Vec<String>> {
    Ok(fetch::Session::new(net)
        .fetch_listing(server)
        .map_err(|e| Error::Remote(Box::new(e)))?
        .entries
        .into_iter()
        .filter(|e| e.is_dir)
        .map(|e| e.name)
        .collect())
}
