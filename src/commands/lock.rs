//! `kdb lock`: write the lockfile of an acquired metakernel from the catalogue.
//!
//! The lock pins what `get` laid out: for each `KERNELS_TO_LOAD` entry of the
//! metakernel as served, the content the catalogue recorded at that entry's place in
//! the mission tree (re-hashed when its stat changed since), with its source URL.
//! The served metakernel's bytes are kept in the store as an object (fetched again
//! and checked against the recorded hash when the store does not hold them yet), so
//! that `restore --offline` and `export` need nothing but the store.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;
use url::Url;

use super::mk::find_registered;
use super::{Ctx, Error, Result, absolute, get, intact, mk};
use crate::db::{Catalogue, MetakernelRow};
use crate::lockfile::{self, Lock, LockedKernel, LockedMetakernel};
use crate::remote::fetch::{self, Conditional, FetchConfig, Validators};
use crate::store::{Sha256Hex, fsio, hash};

#[derive(Debug, Serialize)]
pub struct LockReport {
    /// The lockfile written, or `-` for stdout.
    pub lockfile: String,
    /// With `-o -`: the lock's text, for the CLI to print.
    #[serde(skip)]
    pub text: Option<String>,
    pub metakernel: String,
    pub source_url: String,
    pub kernels: usize,
    pub distinct: usize,
    pub bytes: u64,
}

/// Writes the lock of acquired metakernel `arg` (name, source URL or local path) to
/// `out` (default: `<stem>.kdb.lock` in the current directory).
pub fn lock(ctx: &Ctx<'_>, net: &FetchConfig, arg: &str, out: Option<&Path>) -> Result<LockReport> {
    let (_lock, mut cat) = ctx.write()?;
    let l = build(ctx, &mut cat, net, arg)?;
    let to_stdout = out.is_some_and(|o| o == Path::new("-"));
    let out = match out {
        Some(o) => absolute(o),
        None => absolute(Path::new(&default_name(&l.metakernel.name))),
    };
    let toml = l.to_toml();
    if !to_stdout {
        super::write_output(&out, toml.as_bytes())?;
    }
    Ok(LockReport {
        lockfile: if to_stdout {
            "-".to_owned()
        } else {
            out.display().to_string()
        },
        text: to_stdout.then_some(toml),
        metakernel: l.metakernel.name.clone(),
        source_url: l.metakernel.source_url.clone(),
        kernels: l.kernels.len(),
        distinct: l.distinct_kernels().len(),
        bytes: l.distinct_kernels().iter().map(|k| k.size).sum(),
    })
}

/// `juice_ops.tm` → `juice_ops.kdb.lock`.
pub fn default_name(mk_name: &str) -> String {
    let stem = match mk_name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => mk_name,
    };
    format!("{stem}{}", lockfile::SUFFIX)
}

/// Builds the lock of acquired metakernel `arg` from the catalogue (storing the
/// served metakernel as an object if needed).
pub(crate) fn build(
    ctx: &Ctx<'_>,
    cat: &mut Catalogue,
    net: &FetchConfig,
    arg: &str,
) -> Result<Lock> {
    let row = find_registered(cat, arg)?;
    // A windowed metakernel lists only part of what is served (issue 11).
    if let Some(spec) = cat.window_of(&row.source_url)? {
        return Err(Error::Usage(format!(
            "`{}` was acquired for a time window ({spec}); a lock pins every entry of the \
             served metakernel: `kdb get` it without --from/--to first",
            row.name
        )));
    }
    let url_text = row
        .final_url
        .clone()
        .unwrap_or_else(|| row.source_url.clone());
    let url =
        Url::parse(&url_text).map_err(|e| Error::Usage(format!("stored URL `{url_text}`: {e}")))?;
    let sha = row.sha256.clone().ok_or_else(|| {
        Error::Usage(format!(
            "`{}` was acquired without a recorded hash; `kdb update --force` it first",
            row.name
        ))
    })?;
    let served = served_bytes(ctx, cat, net, &row, &url, &sha)?;
    let served = mk::parse(url.to_string(), &served)?;
    let local_bytes = fs::read(&row.local_path).map_err(|e| {
        Error::NotFound(format!(
            "the local metakernel `{}` is unreadable ({e}); `kdb get` it again",
            row.local_path
        ))
    })?;
    let local = mk::parse(row.local_path.clone(), &local_bytes)?;
    if local.entries.len() != served.entries.len() {
        return Err(Error::Usage(format!(
            "`{}` no longer matches the metakernel served at `{url}`; `kdb get` it again",
            row.local_path
        )));
    }
    let mut kernels = Vec::with_capacity(served.entries.len());
    for (s, l) in served.entries.iter().zip(&local.entries) {
        let loc = cat.location(&l.path)?.ok_or_else(|| {
            Error::NotFound(format!(
                "`{}` (line {}) has no catalogued copy at `{}`; `kdb get` the metakernel again",
                s.raw, s.line, l.path
            ))
        })?;
        if !intact(&loc) {
            let (now, _) = hash::hash_file(Path::new(&loc.path))
                .map_err(|e| crate::store::Error::io("hash", Path::new(&loc.path), e))?;
            if now != loc.sha256 {
                return Err(Error::Usage(format!(
                    "`{}` changed since it was acquired (now {now}, recorded {}); `kdb get` the metakernel again",
                    loc.path, loc.sha256
                )));
            }
        }
        let kernel = cat
            .kernel(&loc.sha256)?
            .ok_or_else(|| Error::NotFound(format!("content {} is not catalogued", loc.sha256)))?;
        let source_url = loc
            .source_url
            .clone()
            .ok_or_else(|| Error::Usage(format!("`{}` has no recorded source URL", loc.path)))?;
        kernels.push(LockedKernel {
            name: loc.filename.clone(),
            entry: s.raw.clone(),
            source_url,
            sha256: loc.sha256.clone(),
            size: kernel.size,
            kernel_type: kernel.kernel_type.clone(),
        });
    }
    Ok(Lock {
        schema: lockfile::SCHEMA,
        kdb_version: env!("CARGO_PKG_VERSION").to_owned(),
        created: crate::db::now().to_string(),
        metakernel: LockedMetakernel {
            name: row.name.clone(),
            mission: row.mission.clone(),
            source_url: url.to_string(),
            sha256: sha,
            size: row.size.unwrap_or(0),
            etag: row.etag.clone(),
            last_modified: row.last_modified.clone(),
        },
        kernels,
    })
}

/// The metakernel's bytes as served: the store object of its recorded hash, else
/// fetched again (and then stored), refused when the server now serves other bytes.
fn served_bytes(
    ctx: &Ctx<'_>,
    cat: &mut Catalogue,
    net: &FetchConfig,
    row: &MetakernelRow,
    url: &Url,
    sha: &Sha256Hex,
) -> Result<Vec<u8>> {
    let object = ctx.home.object_path(sha);
    if let Ok(bytes) = fs::read(&object)
        && hash::hash_reader(&mut bytes.as_slice()).is_ok_and(|(h, _)| &h == sha)
        && cat.kernel(sha)?.is_some()
    {
        return Ok(bytes);
    }
    let fetched = match fetch::fetch_text(net, url, None) {
        Ok(Conditional::Fetched(f)) => f,
        Ok(Conditional::NotModified) => {
            return Err(Error::Usage(format!("`{url}` answered 304 to a plain GET")));
        }
        Err(e) => return Err(Error::Remote(Box::new(e))),
    };
    let mut reader = fetched.bytes.as_slice();
    let staged = fsio::stage(&ctx.home.tmp(), &mut reader, &mut |_| {})?;
    if staged.sha256() != sha {
        return Err(Error::Usage(format!(
            "`{url}` now serves other bytes than when `{}` was acquired (sha256 {}, recorded {sha}); `kdb update` it, then lock",
            row.name,
            staged.sha256()
        )));
    }
    store_object(
        ctx,
        cat,
        staged,
        &row.name,
        url.as_str(),
        fetched.validators,
    )?;
    Ok(fetched.bytes)
}

/// Persists verified staged bytes as a store object and records it (content, object
/// location, alias) in one transaction.
pub(crate) fn store_object(
    ctx: &Ctx<'_>,
    cat: &mut Catalogue,
    staged: fsio::Staged,
    name: &str,
    url: &str,
    validators: Validators,
) -> Result<PathBuf> {
    let sha = staged.sha256().clone();
    let len = staged.len();
    let object = ctx.home.object_path(&sha);
    fsio::create_dir_all(object.parent().unwrap_or(Path::new("/")))?;
    let verified = crate::supply::verified_stamps(&ctx.home, cat, [&sha])?;
    let mut dirs = fsio::DirSyncs::default();
    let found =
        crate::supply::place(&ctx.site(), staged, verified.get(&sha).copied(), &mut dirs)?.found;
    dirs.sync()?;
    let arrived = get::arrived(name, url, validators, &sha, &object, len, crate::db::now())?
        .found_in_store(found);
    cat.write(|tx| arrived.record(tx))?;
    Ok(object)
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_lock_names() {
        assert_eq!(super::default_name("juice_ops.tm"), "juice_ops.kdb.lock");
        assert_eq!(super::default_name("a.b.tm"), "a.b.kdb.lock");
        assert_eq!(super::default_name("noext"), "noext.kdb.lock");
        assert_eq!(super::default_name(".tm"), ".tm.kdb.lock");
    }
}
