//! `kdb mission add|list|remove|mirror`: the missions kdb knows, their server, mk/
//! URL and mirrors.
//!
//! NAIF (`https://naif.jpl.nasa.gov/pub/naif/`) and ESA
//! (`https://spiftp.esac.esa.int/data/SPICE/`) are built in; a mission lives under
//! `<server>/<MISSION>/kernels/mk/` unless `--mk-dir-url` says otherwise. Adding checks
//! the mk/ URL with one request. A name found on both servers without `--server` is an
//! error, never a silent choice; an unreachable server is never reported as "not found".
//! Mirrors are base URLs holding the same tree as the server; a command whose
//! requests the server refuses moves them to the next mirror
//! ([`crate::remote::failover`]), and adding works while only a mirror answers.

use serde::Serialize;
use url::Url;

use super::{Ctx, Error, Result};
use crate::db::{self, MissionRow};
use crate::remote::failover::Route;
use crate::remote::fetch::{self, FetchConfig, FetchError};

pub const NAIF: &str = "https://naif.jpl.nasa.gov/pub/naif/";
pub const ESA: &str = "https://spiftp.esac.esa.int/data/SPICE/";

#[derive(Debug, Clone)]
pub struct AddOptions {
    pub name: String,
    pub server: Option<String>,
    pub mk_dir_url: Option<String>,
    /// Mirror base URLs, in order of preference.
    pub mirrors: Vec<String>,
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

/// A mirror's base URL: http(s) only (a `file://` tree serves through `restore
/// --mirror`), with a trailing slash.
pub fn mirror_url(text: &str) -> Result<Url> {
    let url = server_url(text)?;
    if url.scheme() == "file" {
        return Err(Error::Usage(format!(
            "mirror `{url}`: a mission mirror is an http(s) server; a local tree serves \
             through `kdb restore --mirror`"
        )));
    }
    Ok(url)
}

/// The route of a mission's requests ([`crate::remote::failover`]).
pub fn route(row: &MissionRow) -> Option<Route> {
    let primary = Url::parse(row.server_url.as_deref()?).ok()?;
    Some(Route {
        mission: row.name.clone(),
        primary,
        mirrors: row
            .mirrors
            .iter()
            .filter_map(|m| Url::parse(m).ok())
            .collect(),
    })
}

/// Every mission's route into `net`, so its requests fail over to its mirrors.
pub fn install_routes(net: &FetchConfig, missions: &[MissionRow]) {
    for row in missions {
        if let Some(r) = route(row) {
            net.failover.add(r);
        }
    }
}

fn reachable(net: &FetchConfig, url: &Url) -> std::result::Result<bool, FetchError> {
    match fetch::fetch_text(net, url, None) {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// The `--mirror`s of `mission add`, checked.
fn add_mirrors(opts: &AddOptions) -> Result<Vec<Url>> {
    let mirrors: Vec<Url> = opts
        .mirrors
        .iter()
        .map(|m| mirror_url(m))
        .collect::<Result<_>>()?;
    if !mirrors.is_empty() && opts.server.is_none() && opts.mk_dir_url.is_none() {
        return Err(Error::Usage(
            "--mirror needs --server (or --mk-dir-url): a mirror copies one server's tree".into(),
        ));
    }
    Ok(mirrors)
}

pub fn add(
    ctx: &Ctx<'_>,
    net: &FetchConfig,
    opts: &AddOptions,
) -> Result<(MissionRow, AddOutcome)> {
    check_name(&opts.name)?;
    let mirrors = add_mirrors(opts)?;
    // The check below may be answered by a mirror alone.
    let routed = |server: &Url| {
        net.failover.add(Route {
            mission: opts.name.clone(),
            primary: server.clone(),
            mirrors: mirrors.clone(),
        });
    };
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
            routed(&server);
            if !reachable(net, &mk).map_err(|e| Error::Remote(Box::new(e)))? {
                return Err(Error::NotFound(format!("no mk/ directory at `{mk}`")));
            }
            (server, mk)
        }
        (Some(s), None) => {
            let server = server_url(s)?;
            let mk = default_mk_dir(&server, &opts.name)?;
            routed(&server);
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
        mirrors: mirrors.iter().map(Url::to_string).collect(),
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
                && b.mirrors == row.mirrors
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

/// What `mission mirror add|remove` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MirrorChange {
    Added,
    Removed,
    /// The mirror was already there (add) or not there (remove).
    Unchanged,
}

/// `mission mirror add NAME URL`: appends a mirror after checking (one request) that
/// it serves the mission's mk/ directory.
pub fn add_mirror(
    ctx: &Ctx<'_>,
    net: &FetchConfig,
    name: &str,
    url: &str,
) -> Result<(MissionRow, MirrorChange)> {
    let mirror = mirror_url(url)?;
    let row = find(&ctx.read()?, name)?;
    if row.mirrors.iter().any(|m| m == mirror.as_str()) {
        return Ok((row, MirrorChange::Unchanged));
    }
    let (Some(route), Some(mk)) = (
        route(&row),
        row.mk_dir_url.as_deref().and_then(|u| Url::parse(u).ok()),
    ) else {
        return Err(Error::Usage(format!(
            "mission `{}` has no server URL to mirror",
            row.name
        )));
    };
    let copy = Route {
        mirrors: vec![mirror.clone()],
        ..route
    };
    let at = copy.on_host(&mk, 1).ok_or_else(|| {
        Error::Usage(format!(
            "mission `{}`: its mk/ `{mk}` is not below its server `{}`",
            row.name, copy.primary
        ))
    })?;
    if !reachable(net, &at).map_err(|e| Error::Remote(Box::new(e)))? {
        return Err(Error::NotFound(format!(
            "mirror `{mirror}` does not hold mission `{}`: no `{at}`",
            row.name
        )));
    }
    change(ctx, &row.name, |mirrors| mirrors.push(mirror.to_string()))
        .map(|row| (row, MirrorChange::Added))
}

/// `mission mirror remove NAME URL`.
pub fn remove_mirror(ctx: &Ctx<'_>, name: &str, url: &str) -> Result<(MissionRow, MirrorChange)> {
    let wanted = mirror_url(url)?.to_string();
    let row = find(&ctx.read()?, name)?;
    if !row.mirrors.contains(&wanted) {
        return Ok((row, MirrorChange::Unchanged));
    }
    change(ctx, &row.name, |mirrors| mirrors.retain(|m| *m != wanted))
        .map(|row| (row, MirrorChange::Removed))
}

fn find(cat: &db::Catalogue, name: &str) -> Result<MissionRow> {
    cat.missions()?
        .into_iter()
        .find(|m| m.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| Error::NotFound(format!("no mission named `{name}`")))
}

/// Applies `edit` to the mission's mirrors under the home lock.
fn change(ctx: &Ctx<'_>, name: &str, edit: impl FnOnce(&mut Vec<String>)) -> Result<MissionRow> {
    let (_lock, mut cat) = ctx.write()?;
    let mut row = find(&cat, name)?;
    edit(&mut row.mirrors);
    cat.write(|tx| -> Result<()> { Ok(tx.upsert_mission(&row)?) })?;
    Ok(row)
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
