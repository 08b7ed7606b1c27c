//! The reproduce commands' arguments and rendering: `lock`, `restore`, `export`,
//! `import`, `diff` (docs/cli.md, docs/lockfile.md).

use std::path::PathBuf;

use clap::Args;

use super::NetArgs;
use super::app::{App, Outcome, done, finish};
use super::output::bytes;
use super::printer::Printer;
use crate::bundle::Compression;
use crate::commands::{ExitClass, bundle, diff, lock, restore};

#[derive(Debug, Args)]
pub struct LockArgs {
    /// An acquired metakernel: name, source URL or local path
    pub metakernel: String,
    /// Where to write the lock (`-`: stdout) [default: `<stem>.kdb.lock` in the current directory]
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
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
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A lockfile (`*.lock`) or an acquired metakernel (name, URL or local path)
    pub source: String,
    /// The bundle to write (zstd-compressed when it ends in `.zst`; `-`: stdout)
    #[arg(short, long, value_name = "BUNDLE")]
    pub output: PathBuf,
    /// Compress with zstd whatever the name
    #[arg(long)]
    pub zstd: bool,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
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
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// A metakernel (path, URL or registered name) or a lockfile (`*.lock`)
    pub a: String,
    /// The same for the other side
    pub b: String,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

pub fn lock(app: &App<'_>, p: &mut Printer, a: LockArgs) -> Outcome {
    if a.json && a.output.as_deref() == Some(std::path::Path::new("-")) {
        return Err(crate::commands::Error::Usage(
            "`-o -` writes the lock to stdout; it cannot share it with `--json`".into(),
        )
        .into());
    }
    let r = lock::lock(&app.ctx, &app.net(None), &a.metakernel, a.output.as_deref())?;
    if let Some(text) = &r.text {
        app.out.note(&format!(
            "locked {} ({} entries, {} distinct contents, {})",
            r.metakernel,
            r.kernels,
            r.distinct,
            bytes(r.bytes)
        ));
        return done(p.text(text));
    }
    done(p.emit(a.json, &r, |w, r| {
        say!(
            w,
            "locked {} ({} entries, {} distinct contents, {})",
            r.metakernel,
            r.kernels,
            r.distinct,
            bytes(r.bytes)
        );
        say!(w, "wrote: {}", r.lockfile);
    }))
}

pub fn restore(app: &App<'_>, p: &mut Printer, a: RestoreArgs) -> Outcome {
    let out = &app.out;
    let r = restore::restore(
        &app.ctx,
        &app.net(a.net.jobs),
        &restore::RestoreOptions {
            lockfile: a.lockfile,
            offline: a.offline,
            mirrors: a.mirrors,
            into: a.into,
            team: app.team(&a.net),
        },
    )?;
    let written = p.emit(a.json, &r, |w, r| {
        for m in &r.missing {
            out.error(&format!(
                "`{}` (sha256 {}) found nowhere with the locked hash; tried:",
                m.name, m.sha256
            ));
            for t in &m.tried {
                out.raw(&format!("  {}: {}", t.place, t.error));
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
        say!(
            w,
            "restored {} contents ({} from the store, {} fetched, {})",
            r.contents,
            r.from_store,
            r.fetched.len(),
            bytes(r.fetched_bytes)
        );
        if let Some(mk) = &r.metakernel {
            say!(w, "ready: {mk}");
        }
    });
    let code = if r.missing.is_empty() {
        0
    } else {
        ExitClass::Partial.code()
    };
    finish(written, code)
}

pub fn export(app: &App<'_>, p: &mut Printer, a: ExportArgs) -> Outcome {
    let to_stdout = a.output == std::path::Path::new("-");
    if to_stdout && a.json {
        return Err(crate::commands::Error::Usage(
            "`-o -` writes the bundle to stdout; it cannot share it with `--json`".into(),
        )
        .into());
    }
    let zstd = a.zstd
        || a.output
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zst"));
    let r = bundle::export(
        &app.ctx,
        &app.net(None),
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
    if to_stdout {
        app.out.note(&format!(
            "exported {} ({} entries, {} members, {}) to stdout",
            r.metakernel,
            r.kernels,
            r.members,
            bytes(r.bytes)
        ));
        return Ok(0);
    }
    done(p.emit(a.json, &r, |w, r| {
        say!(
            w,
            "exported {} ({} entries, {} members, {}{})",
            r.metakernel,
            r.kernels,
            r.members,
            bytes(r.bytes),
            if r.compressed { ", zstd" } else { "" }
        );
        say!(w, "wrote: {}", r.bundle);
    }))
}

pub fn import(app: &App<'_>, p: &mut Printer, a: ImportArgs) -> Outcome {
    let r = bundle::import(
        &app.ctx,
        &bundle::ImportOptions {
            bundle: a.bundle,
            into: a.into,
        },
    )?;
    done(p.emit(a.json, &r, |w, r| {
        say!(
            w,
            "imported {} entries ({} contents) from {}",
            r.entries,
            r.contents,
            r.bundle
        );
        say!(w, "ready: {}", r.metakernel);
    }))
}

pub fn diff(app: &App<'_>, p: &mut Printer, a: DiffArgs) -> Outcome {
    let r = diff::diff(&app.ctx, &a.a, &a.b)?;
    done(p.emit(a.json, &r, |w, r| {
        for i in &r.diff.removed {
            say!(w, "- {}", i.entry);
        }
        for i in &r.diff.added {
            say!(w, "+ {}", i.entry);
        }
        for c in &r.diff.changed {
            say!(
                w,
                "~ {}  {} -> {}",
                c.entry,
                &c.before[..c.before.len().min(12)],
                &c.after[..c.after.len().min(12)]
            );
        }
        say!(
            w,
            "{} added, {} removed, {} changed, {} unchanged, {} undetermined (bytes unknown)",
            r.diff.added.len(),
            r.diff.removed.len(),
            r.diff.changed.len(),
            r.diff.unchanged.len(),
            r.diff.undetermined.len()
        );
        say!(
            w,
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
    }))
}
