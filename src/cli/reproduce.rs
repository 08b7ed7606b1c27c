//! The reproduce commands' arguments and rendering: `lock`, `restore`, `export`,
//! `import`, `diff` (docs/cli.md, docs/lockfile.md).

use std::path::PathBuf;

use clap::Args;

use super::output::{self, Out, bytes};
use super::{Failure, NetArgs};
use crate::bundle::Compression;
use crate::commands::{Ctx, ExitClass, bundle, diff, lock, restore};
use crate::remote::fetch::FetchConfig;

#[derive(Debug, Args)]
pub struct LockArgs {
    /// An acquired metakernel: name, source URL or local path
    pub metakernel: String,
    /// Where to write the lock [default: `<stem>.kdb.lock` in the current directory]
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The lockfile
    pub lockfile: PathBuf,
    /// Touch no network: only the store and `file://` mirrors
    #[arg(long)]
    pub offline: bool,
    /// A copy of the archive: its scheme, host and path prefix replace those of every
    /// source URL (repeatable, tried in order before the source)
    #[arg(long = "mirror", value_name = "URL")]
    pub mirrors: Vec<String>,
    /// Lay the tree out under DIR instead of `$KDB_HOME/missions/<MISSION>`
    #[arg(long, value_name = "DIR")]
    pub into: Option<PathBuf>,
    #[command(flatten)]
    pub net: NetArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A lockfile (`*.lock`) or an acquired metakernel (name, URL or local path)
    pub source: String,
    /// The bundle to write (zstd-compressed when it ends in `.zst`)
    #[arg(short, long, value_name = "BUNDLE")]
    pub output: PathBuf,
    /// Compress with zstd whatever the name
    #[arg(long)]
    pub zstd: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A bundle written by `kdb export` (plain or zstd tar)
    pub bundle: PathBuf,
    /// Lay the tree out under DIR instead of `$KDB_HOME/missions/<MISSION>`
    #[arg(long, value_name = "DIR")]
    pub into: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// A metakernel (path, URL or registered name) or a lockfile (`*.lock`)
    pub a: String,
    /// The same for the other side
    pub b: String,
    #[arg(long)]
    pub json: bool,
}

pub fn lock(ctx: &Ctx<'_>, net: &FetchConfig, a: LockArgs) -> Result<i32, Failure> {
    let r = lock::lock(ctx, net, &a.metakernel, a.output.as_deref())?;
    output::emit(a.json, &r, |r| {
        println!(
            "locked {} ({} entries, {} distinct contents, {})",
            r.metakernel,
            r.kernels,
            r.distinct,
            bytes(r.bytes)
        );
        println!("wrote: {}", r.lockfile);
    });
    Ok(0)
}

pub fn restore(
    ctx: &Ctx<'_>,
    net: &FetchConfig,
    out: &Out,
    a: RestoreArgs,
) -> Result<i32, Failure> {
    let r = restore::restore(
        ctx,
        net,
        &restore::RestoreOptions {
            lockfile: a.lockfile,
            offline: a.offline,
            mirrors: a.mirrors,
            into: a.into,
        },
    )?;
    output::emit(a.json, &r, |r| {
        for m in &r.missing {
            out.error(&format!(
                "`{}` (sha256 {}) found nowhere with the locked hash; tried:",
                m.name, m.sha256
            ));
            for t in &m.tried {
                eprintln!("  {}: {}", t.place, t.error);
            }
        }
        if !r.missing.is_empty() {
            out.error(&format!(
                "{} of {} locked contents could not be restored; no metakernel was registered (contents that arrived are kept)",
                r.missing.len(),
                r.contents
            ));
            return;
        }
        println!(
            "restored {} contents ({} from the store, {} fetched, {})",
            r.contents,
            r.from_store,
            r.fetched.len(),
            bytes(r.fetched_bytes)
        );
        if let Some(mk) = &r.metakernel {
            println!("ready: {mk}");
        }
    });
    Ok(if r.missing.is_empty() {
        0
    } else {
        ExitClass::Partial.code()
    })
}

pub fn export(ctx: &Ctx<'_>, net: &FetchConfig, a: ExportArgs) -> Result<i32, Failure> {
    let zstd = a.zstd
        || a.output
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zst"));
    let r = bundle::export(
        ctx,
        net,
        &bundle::ExportOptions {
            source: a.source,
            output: a.output,
            compression: if zstd {
                Compression::Zstd(3)
            } else {
                Compression::None
            },
        },
    )?;
    output::emit(a.json, &r, |r| {
        println!(
            "exported {} ({} entries, {} members, {}{})",
            r.metakernel,
            r.kernels,
            r.members,
            bytes(r.bytes),
            if r.compressed { ", zstd" } else { "" }
        );
        println!("wrote: {}", r.bundle);
    });
    Ok(0)
}

pub fn import(ctx: &Ctx<'_>, a: ImportArgs) -> Result<i32, Failure> {
    let r = bundle::import(
        ctx,
        &bundle::ImportOptions {
            bundle: a.bundle,
            into: a.into,
        },
    )?;
    output::emit(a.json, &r, |r| {
        println!(
            "imported {} entries ({} contents) from {}",
            r.entries, r.contents, r.bundle
        );
        println!("ready: {}", r.metakernel);
    });
    Ok(0)
}

pub fn diff(ctx: &Ctx<'_>, a: DiffArgs) -> Result<i32, Failure> {
    let r = diff::diff(ctx, &a.a, &a.b)?;
    output::emit(a.json, &r, |r| {
        for i in &r.diff.removed {
            println!("- {}", i.entry);
        }
        for i in &r.diff.added {
            println!("+ {}", i.entry);
        }
        for c in &r.diff.changed {
            println!(
                "~ {}  {} -> {}",
                c.entry,
                &c.before[..c.before.len().min(12)],
                &c.after[..c.after.len().min(12)]
            );
        }
        println!(
            "{} added, {} removed, {} changed, {} unchanged, {} undetermined (bytes unknown)",
            r.diff.added.len(),
            r.diff.removed.len(),
            r.diff.changed.len(),
            r.diff.unchanged,
            r.diff.undetermined.len()
        );
        println!(
            "a get of B would download {} files ({}){}",
            r.download.files,
            bytes(r.download.bytes),
            if r.download.unknown > 0 {
                format!(
                    ", plus up to {} entries of unknown content",
                    r.download.unknown
                )
            } else {
                String::new()
            }
        );
    });
    Ok(0)
}
