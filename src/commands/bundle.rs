//! `kdb export` and `kdb import`: one file holding a lock, its metakernel and its
//! kernels (layout in [`crate::bundle`]).
//!
//! Export reads every member from the store (each re-hashed while it is written)
//! into a temporary file beside the output, renamed into place only when the archive
//! is complete. Import checks the whole bundle — every member staged and hashed
//! against the lock, hostile members refused — before anything is persisted; then it
//! stores the contents as objects and lays out the tree exactly as `restore` does,
//! committing in one transaction. A refused import writes nothing.

use std::fs;
use std::io::{BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::restore;
use super::{Ctx, Error, Result, absolute, get, lock};
use crate::bundle::{self, Compression};
use crate::lockfile::{self, Lock};
use crate::remote::fetch::{FetchConfig, Validators};
use crate::store::fsio;
use crate::supply::Found;

#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// A lockfile (`*.lock`) or an acquired metakernel (name, URL or local path).
    pub source: String,
    pub output: PathBuf,
    pub compression: Compression,
}

#[derive(Debug, Serialize)]
pub struct ExportReport {
    pub bundle: String,
    pub metakernel: String,
    pub kernels: usize,
    /// Distinct contents in the bundle (the metakernel included).
    pub members: usize,
    pub bytes: u64,
    pub compressed: bool,
}

/// Whether `arg` names a lockfile rather than a metakernel.
pub(crate) fn is_lockfile(arg: &str) -> bool {
    arg.ends_with(".lock") && Path::new(arg).is_file()
}

pub fn export(ctx: &Ctx<'_>, net: &FetchConfig, opts: &ExportOptions) -> Result<ExportReport> {
    let (_lock, mut cat) = ctx.write()?;
    let lock: Lock = if is_lockfile(&opts.source) {
        restore::read_lock(Path::new(&opts.source))?
    } else {
        lock::build(ctx, &mut cat, net, &opts.source)?
    };
    // Every member must be in the store before the first byte is written.
    let mut missing = Vec::new();
    let object = |sha: &crate::store::Sha256Hex| ctx.home.object_path(sha);
    if !object(&lock.metakernel.sha256).is_file() {
        missing.push(lock.metakernel.name.clone());
    }
    for k in lock.distinct_kernels() {
        if !object(&k.sha256).is_file() {
            missing.push(k.name.clone());
        }
    }
    if !missing.is_empty() {
        return Err(Error::NotFound(format!(
            "the store lacks {} locked content(s) ({}); `kdb restore` the lock first",
            missing.len(),
            missing.join(", ")
        )));
    }
    if opts.output == Path::new("-") {
        return export_to_stdout(&lock, opts, &object);
    }
    let out = absolute(&opts.output);
    super::check_output(&out)?;
    let dir = out.parent().unwrap_or(Path::new("/"));
    let output_err = |source| Error::Output {
        path: out.display().to_string(),
        source,
    };
    fsio::create_dir_all(dir).map_err(output_err)?;
    let tmp = fsio::temp_file_in(dir).map_err(output_err)?;
    let mk_path = object(&lock.metakernel.sha256);
    let mut mk =
        fs::File::open(&mk_path).map_err(|e| crate::store::Error::io("open", &mk_path, e))?;
    let writer = BufWriter::with_capacity(1 << 20, tmp.as_file());
    let mut open = |k: &lockfile::LockedKernel| -> std::io::Result<Box<dyn Read>> {
        Ok(Box::new(fs::File::open(object(&k.sha256))?))
    };
    let writer = bundle::write(writer, opts.compression, &lock, &mut mk, &mut open)?;
    writer
        .into_inner()
        .map_err(|e| bundle::Error::Write(e.into_error()))?;
    fsio::persist_temp(tmp, &out).map_err(output_err)?;
    let distinct = lock.distinct_kernels();
    Ok(ExportReport {
        bundle: out.display().to_string(),
        metakernel: lock.metakernel.name.clone(),
        kernels: lock.kernels.len(),
        members: distinct.len() + 1,
        bytes: distinct.iter().map(|k| k.size).sum::<u64>() + lock.metakernel.size,
        compressed: opts.compression != Compression::None,
    })
}

/// `export -o -`: the bundle streamed to stdout (for `| ssh host kdb import -`-style
/// pipes); nothing is written to disk.
fn export_to_stdout(
    lock: &Lock,
    opts: &ExportOptions,
    object: &dyn Fn(&crate::store::Sha256Hex) -> PathBuf,
) -> Result<ExportReport> {
    let mk_path = object(&lock.metakernel.sha256);
    let mut mk =
        fs::File::open(&mk_path).map_err(|e| crate::store::Error::io("open", &mk_path, e))?;
    let stdout = std::io::stdout();
    let writer = BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut open = |k: &lockfile::LockedKernel| -> std::io::Result<Box<dyn Read>> {
        Ok(Box::new(fs::File::open(object(&k.sha256))?))
    };
    let writer = bundle::write(writer, opts.compression, lock, &mut mk, &mut open)?;
    let mut inner = writer
        .into_inner()
        .map_err(|e| bundle::Error::Write(e.into_error()))?;
    std::io::Write::flush(&mut inner).map_err(bundle::Error::Write)?;
    let distinct = lock.distinct_kernels();
    Ok(ExportReport {
        bundle: "-".to_owned(),
        metakernel: lock.metakernel.name.clone(),
        kernels: lock.kernels.len(),
        members: distinct.len() + 1,
        bytes: distinct.iter().map(|k| k.size).sum::<u64>() + lock.metakernel.size,
        compressed: opts.compression != Compression::None,
    })
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub bundle: PathBuf,
    pub into: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct ImportReport {
    pub bundle: String,
    pub metakernel_url: String,
    pub entries: usize,
    pub contents: usize,
    /// The ready local metakernel.
    pub metakernel: String,
}

/// Every kernel member is a whole kernel of the kind its name says (the checks a
/// download passes): a bundle whose lock agrees with a truncated kernel is refused
/// before anything is persisted.
fn check_structures(unpacked: &bundle::Unpacked) -> Result<()> {
    for k in unpacked.lock.distinct_kernels() {
        let Some(staged) = unpacked.kernels.get(&k.sha256) else {
            continue;
        };
        if let Err(why) = crate::integrity::check_kernel(staged.path(), &k.name) {
            return Err(Error::Usage(format!(
                "refusing bundle member `{}` ({}): {why}; nothing was imported",
                k.name, k.sha256
            )));
        }
    }
    Ok(())
}

/// Refuses, before anything is staged, a file that does not start like a bundle,
/// naming what it looks like (a lockfile goes to `restore`).
fn refuse_non_bundle(path: &Path, input: &mut BufReader<fs::File>) -> Result<()> {
    use std::io::BufRead;
    let head = input
        .fill_buf()
        .map_err(|e| crate::store::Error::io("read", path, e))?;
    if bundle::looks_like_bundle(&head[..head.len().min(512)]) {
        return Ok(());
    }
    let hint = if head.starts_with(b"schema") || head.starts_with(b"# kdb lockfile") {
        format!(
            "; it looks like a lockfile: `kdb restore {}`",
            path.display()
        )
    } else {
        String::new()
    };
    Err(Error::Usage(format!(
        "`{}` is not a kdb bundle (a tar or tar.zst archive written by `kdb export`){hint}",
        path.display()
    )))
}

pub fn import(ctx: &Ctx<'_>, opts: &ImportOptions) -> Result<ImportReport> {
    let file = match fs::File::open(&opts.bundle) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotFound(format!(
                "no bundle `{}`",
                opts.bundle.display()
            )));
        }
        Err(e) => return Err(crate::store::Error::io("open", &opts.bundle, e).into()),
    };
    let mut input = BufReader::with_capacity(1 << 20, file);
    refuse_non_bundle(&opts.bundle, &mut input)?;
    let (_lock, mut cat) = ctx.write()?;
    // Checked in full, every member staged; nothing visible yet.
    let unpacked = bundle::read(&mut input, &ctx.home.tmp())?;
    // The lock must agree with its metakernel, and every path be safe, before the
    // first object is persisted.
    let mk_bytes = fs::read(unpacked.metakernel.path())
        .map_err(|e| crate::store::Error::io("read", unpacked.metakernel.path(), e))?;
    restore::layout(ctx, &cat, &unpacked.lock, &mk_bytes, opts.into.as_deref())?;
    check_structures(&unpacked)?;
    let verified = crate::supply::verified_stamps(
        &ctx.home,
        &cat,
        std::iter::once(&unpacked.lock.metakernel.sha256).chain(unpacked.kernels.keys()),
    )?;
    let lock = unpacked.lock;
    let now = crate::db::now();
    let mut found = Found::default();
    let mut dirs = fsio::DirSyncs::default();
    let mk = &lock.metakernel;
    let members = std::iter::once((mk.sha256.clone(), unpacked.metakernel)).chain(unpacked.kernels);
    for (sha, staged) in members {
        let (name, url) = if sha == mk.sha256 {
            (mk.name.clone(), mk.source_url.clone())
        } else {
            match lock.kernels.iter().find(|k| k.sha256 == sha) {
                Some(k) => (k.name.clone(), k.source_url.clone()),
                None => continue,
            }
        };
        let len = staged.len();
        let object = ctx.home.object_path(&sha);
        fsio::create_dir_all(object.parent().unwrap_or(Path::new("/")))?;
        // An object already there is trusted only when verified (invariant 10).
        let placed =
            crate::supply::place(&ctx.site(), staged, verified.get(&sha).copied(), &mut dirs)?;
        let object = placed.path;
        found.arrivals.push(
            get::arrived(&name, &url, Validators::default(), &sha, &object, len, now)?
                .found_in_store(placed.found),
        );
        found.objects.insert(sha, object);
    }
    dirs.sync()?;
    let contents = found.objects.len();
    let path = restore::materialise(ctx, &mut cat, &lock, found, opts.into.as_deref(), now)?;
    Ok(ImportReport {
        bundle: absolute(&opts.bundle).display().to_string(),
        metakernel_url: lock.metakernel.source_url.clone(),
        entries: lock.kernels.len(),
        contents,
        metakernel: path.display().to_string(),
    })
}
