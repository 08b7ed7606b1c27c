//! Dispatch: each command's `*Args` runs itself against an [`App`] and writes through
//! the [`Printer`]; the exit code follows the report (docs/cli.md lists them).

use std::io::IsTerminal;
use std::time::Duration;

use clap::CommandFactory;

pub use super::app::{App, Failure, Outcome};
use super::app::{confirmer, done, finish};
use super::output::{self, Out};
use super::printer::Printer;
use super::progress::CliReporter;
use super::settings::{Settings, Source};
use super::*;
use crate::commands::{
    self, Ctx, ExitClass, browse, dedup, get, inspect, mission, mk, reset, scan,
};
use crate::remote::fetch::FetchConfig;
use crate::store::Home;

/// Runs one parsed command line; returns the exit code.
pub fn run(cli: Cli) -> Outcome {
    let mut p = Printer::default();
    let out = Out::new(cli.color, cli.quiet);
    if let Command::Completions { shell } = cli.command {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "kdb", &mut buf);
        p.text(&String::from_utf8_lossy(&buf))
            .map_err(Failure::output)?;
        return Ok(0);
    }
    let settings = Settings::load(cli.home.as_deref()).map_err(Failure::usage)?;
    for key in &settings.unknown_keys {
        out.warn(&format!(
            "unknown key `{key}` in `{}` is ignored; known keys: {}",
            settings.config_file.value.display(),
            Settings::known_keys()
        ));
    }
    let show_progress = !cli.quiet && !cli.no_progress && std::io::stderr().is_terminal();
    let reporter = CliReporter::new(show_progress, out.clone());
    let app = App {
        ctx: Ctx {
            home: Home::new(settings.home().to_path_buf()),
            lock_timeout: Duration::from_secs(settings.lock_timeout()),
            reporter: &reporter,
        },
        settings,
        out,
    };
    match cli.command {
        Command::Get(a) => a.run(&app, &mut p),
        Command::Update(a) => a.run(&app, &mut p),
        Command::Browse(a) => a.run(&app, &mut p),
        Command::Mission(a) => a.run(&app, &mut p),
        Command::Metakernels(a) => a.run(&app, &mut p),
        Command::Scan(a) => a.run(&app, &mut p),
        Command::Dedup(a) => a.run(&app, &mut p),
        Command::Aliases(a) => a.run(&app, &mut p),
        Command::Resolve(a) => a.run(&app, &mut p),
        Command::List(a) => {
            let r = mk::list(&app.ctx, &a.metakernel, a.kernel_type)?;
            done(p.emit(a.json, &r, |w, r| output::list(w, &app.out, r)))
        }
        Command::Check(a) => {
            let r = mk::check(&app.ctx, &a.metakernel, a.mission.as_deref())?;
            finish(
                p.emit(a.json, &r, output::check),
                exit_if(r.missing > 0, ExitClass::NotFound),
            )
        }
        Command::Rewrite(a) => a.run(&app, &mut p),
        Command::Stats(a) => done(p.emit(a.json, &inspect::stats(&app.ctx)?, output::stats)),
        Command::Duplicates(a) => {
            let d = inspect::duplicates(&app.ctx)?;
            done(p.emit(a.json, &d, output::duplicates))
        }
        Command::Config(a) => a.run(&app, &mut p),
        Command::Reset(a) => a.run(&app),
        Command::Verify(a) => a.run(&app, &mut p),
        Command::Prune(a) => a.run(&app, &mut p),
        Command::Pin { target } => {
            let r = commands::prune::pin(&app.ctx, &target)?;
            done(p.text(&format!(
                "pinned {} ({}, {} contents, {} newly)\n",
                r.label, r.kind, r.contents, r.newly_pinned
            )))
        }
        Command::Unpin { label } => {
            let n = commands::prune::unpin(&app.ctx, &label)?;
            done(p.text(&format!("unpinned {label} ({n} contents)\n")))
        }
        Command::Pins(a) => done(p.emit(
            a.json,
            &commands::prune::pins(&app.ctx)?,
            super::integrity_output::pins,
        )),
        Command::Outdated(a) => a.run(&app, &mut p),
        Command::Lock(a) => reproduce::lock(&app, &mut p, a),
        Command::Restore(a) => reproduce::restore(&app, &mut p, a),
        Command::Export(a) => reproduce::export(&app, &mut p, a),
        Command::Import(a) => reproduce::import(&app, &mut p, a),
        Command::Diff(a) => reproduce::diff(&app, &mut p, a),
        Command::Coverage(a) => super::coverage::coverage(&app, &mut p, a),
        Command::Which(a) => super::coverage::which(&app, &mut p, a),
        Command::Gaps(a) => super::coverage::gaps(&app, &mut p, a),
        Command::Reindex(a) => super::coverage::reindex(&app, &mut p, a),
        Command::Team(a) => a.run(&app, &mut p),
        Command::Completions { .. } => Ok(0),
    }
}

/// `class`'s code when `failed`, else 0.
fn exit_if(failed: bool, class: ExitClass) -> i32 {
    if failed { class.code() } else { 0 }
}

impl GetArgs {
    fn run(self, app: &App<'_>, p: &mut Printer) -> Outcome {
        let opts = get::GetOptions {
            source: self.source,
            mission: self.mission,
            force: self.force,
            dry_run: self.dry_run,
            window: match (self.from, self.to) {
                (Some(from), Some(to)) => Some(get::window::WindowSpec {
                    from,
                    to,
                    bodies: self.bodies,
                    pad: self.pad,
                }),
                _ => None,
            },
            team: app.team(&self.net),
            allow_missing: self.allow_missing,
        };
        let mut confirm = confirmer(&app.out, self.yes, self.json);
        let net = app.net(self.net.jobs);
        let r = get::get(&app.ctx, &net, &opts, &mut confirm)?;
        if let (Some(path), Some(_)) = (&self.lock, &r.metakernel) {
            let locked = crate::commands::lock::lock(
                &app.ctx,
                &net,
                &r.plan.metakernel_url,
                Some(path.as_path()),
            )?;
            app.out.note(&format!("locked: {}", locked.lockfile));
        }
        finish(
            p.emit(self.json, &r, |w, r| output::get(w, &app.out, r)),
            get_exit(&r),
        )
    }
}

impl UpdateArgs {
    fn run(self, app: &App<'_>, p: &mut Printer) -> Outcome {
        let opts = get::UpdateOptions {
            metakernel: self.metakernel,
            all: self.all,
            force: self.force,
            dry_run: self.dry_run,
            team: app.team(&self.net),
        };
        let mut confirm = confirmer(&app.out, self.yes, self.json);
        let items = get::update(&app.ctx, &app.net(self.net.jobs), &opts, &mut confirm)?;
        let code = items.iter().map(|i| get_exit(&i.report)).max().unwrap_or(0);
        finish(
            p.emit(self.json, &items, |w, items| {
                output::update(w, &app.out, items)
            }),
            code,
        )
    }
}

impl BrowseArgs {
    fn run(self, app: &App<'_>, p: &mut Printer) -> Outcome {
        let r = browse::run(
            &app.ctx,
            &app.net(None),
            &browse::BrowseOptions {
                target: self.target,
                archived: self.archived,
                filter: self.filter,
                sort_by_date: self.sort == SortArg::Date,
                show_versioned: self.show_versioned,
            },
        )?;
        done(p.emit(self.json, &r, output::browse))
    }
}

impl MissionCommand {
    fn run(self, app: &App<'_>, p: &mut Printer) -> Outcome {
        match self {
            MissionCommand::Add {
                name,
                server,
                mk_dir_url,
                mirrors,
                no_dedup,
            } => {
                let name = match name {
                    Some(n) => n,
                    None => pick_mission(&app.out, &app.net(None), server.as_deref())?,
                };
                let (row, outcome) = mission::add(
                    &app.ctx,
                    &app.net(None),
                    &mission::AddOptions {
                        name,
                        server,
                        mk_dir_url,
                        mirrors,
                        dedup: !no_dedup,
                    },
                )?;
                let copies = if row.dedup {
                    ""
                } else {
                    ", independent copies"
                };
                let verb = match outcome {
                    mission::AddOutcome::Added => "added mission",
                    mission::AddOutcome::Updated => "updated mission",
                    mission::AddOutcome::Unchanged => "mission already configured:",
                };
                let mirrors = match row.mirrors.len() {
                    0 => String::new(),
                    n => format!(", {}", output::count(n as u64, "mirror")),
                };
                done(p.text(&format!(
                    "{verb} {} (mk/ at {}{copies}{mirrors})\n",
                    row.name,
                    row.mk_dir_url.unwrap_or_default(),
                )))
            }
            MissionCommand::Mirror(m) => {
                let (row, change, url) = match m {
                    MirrorCommand::Add { name, url } => {
                        let (row, change) =
                            mission::add_mirror(&app.ctx, &app.net(None), &name, &url)?;
                        (row, change, url)
                    }
                    MirrorCommand::Remove { name, url } => {
                        let (row, change) = mission::remove_mirror(&app.ctx, &name, &url)?;
                        (row, change, url)
                    }
                };
                let said = match change {
                    mission::MirrorChange::Added => "added mirror",
                    mission::MirrorChange::Removed => "removed mirror",
                    mission::MirrorChange::Unchanged => "nothing to change for mirror",
                };
                done(p.text(&format!(
                    "{said} {} of mission {} ({} now)\n",
                    crate::remote::auth::redact_text(&url),
                    row.name,
                    output::count(row.mirrors.len() as u64, "mirror"),
                )))
            }
            MissionCommand::List(a) => {
                done(p.emit(a.json, &mission::list(&app.ctx)?, output::missions))
            }
            MissionCommand::Remove { name } => {
                let removed = mission::remove(&app.ctx, &name)?;
                done(p.text(&format!(
                    "removed mission {removed} (its kernels stay in the store)\n"
                )))
            }
        }
    }
}

impl ScanArgs {
    fn run(self, app: &App<'_>, p: &mut Printer) -> Outcome {
        let report = scan::run(
            &app.ctx,
            &scan::ScanOptions {
                dir: self.dir,
                mission: self.mission,
                archive: self.archive,
            },
        )?;
        // A content `--archive` could not move into the store (disk full, I/O error)
        // is a partial failure (exit 3), as in `dedup`; impostors are only reported.
        let archive_failed = report
            .skipped
            .iter()
            .any(|s| matches!(s.reason, scan::SkipReason::Archive(_)));
        finish(
            p.emit(self.json, &report, |w, r| output::scan(w, &app.out, r)),
            exit_if(archive_failed, ExitClass::Partial),
        )
    }
}

impl DedupArgs {
    fn run(self, app: &App<'_>, p: &mut Printer) -> Outcome {
        let report = dedup::run(
            &app.ctx,
            &dedup::DedupOptions {
                execute: self.execute,
                link: match self.link {
                    LinkArg::Symlink => dedup::LinkMode::Symlink,
                    LinkArg::Hardlink => dedup::LinkMode::Hardlink,
                },
                mission: self.mission,
            },
        )?;
        finish(
            p.emit(self.json, &report, |w, r| output::dedup(w, &app.out, r)),
            exit_if(!report.skipped.is_empty(), ExitClass::Partial),
        )
    }
}

impl AliasesArgs {
    fn run(self, app: &App<'_>, p: &mut Printer) -> Outcome {
        let query = match self.query {
            Some(q) => q,
            None => pick_alias(&app.out, &app.ctx)?,
        };
        let reports = inspect::aliases(&app.ctx, &query)?;
        if !self.json {
            return done(p.emit(false, &reports, |w, r| output::aliases(w, &app.out, r)));
        }
        if reports.len() > 1 {
            let hashes: Vec<&str> = reports.iter().map(|r| r.sha256.as_str()).collect();
            return Err(commands::Error::Usage(format!(
                "`{query}` names {} different contents ({}); pass a hash prefix",
                reports.len(),
                hashes.join(", ")
            ))
            .into());
        }
        done(p.json(&reports[0]))
    }
}

impl ResolveArgs {
    fn run(self, app: &App<'_>, p: &mut Printer) -> Outcome {
        let r = inspect::resolve(&app.ctx, &self.name, self.mission.as_deref())?;
        if let Some(m) = &r.fallback_from {
            app.out.warn(&format!(
                "no copy of `{}` in mission {m}; using the one from {}",
                r.name,
                r.mission.as_deref().unwrap_or("no mission")
            ));
        }
        done(p.emit(self.json, &r, |w, r| w.push_str(&format!("{}\n", r.path))))
    }
}

impl RewriteArgs {
    fn run(self, app: &App<'_>, p: &mut Printer) -> Outcome {
        let r = mk::rewrite(
            &app.ctx,
            &mk::RewriteOptions {
                metakernel: self.metakernel,
                output: self.output,
                link_root: self.link_root,
                mission: self.mission,
            },
        )?;
        finish(
            p.emit(self.json, &r, |w, r| output::rewrite(w, &app.out, r)),
            exit_if(!r.unresolved.is_empty(), ExitClass::Partial),
        )
    }
}

impl ConfigArgs {
    fn run(self, app: &App<'_>, p: &mut Printer) -> Outcome {
        let settings = &app.settings;
        match self.action {
            Some(ConfigAction::Get { key }) => {
                let value = settings.get(&key).map_err(Failure::usage)?;
                done(p.text(&format!("{value}\n")))
            }
            Some(ConfigAction::Set { key, value }) => {
                let path = settings.set(&key, &value).map_err(Failure::usage)?;
                app.out.note(&format!(
                    "set {key} = {value} in `{}` (the config file of every home; {} names another)",
                    path.display(),
                    super::settings::CONFIG_ENV
                ));
                // The environment or a flag still wins over the file: say so now,
                // not when the user wonders why nothing changed.
                if let Some(source @ (Source::Env | Source::Flag)) = settings.source(&key)
                    && let Some(row) = super::settings::SETTINGS.iter().find(|s| s.name == key)
                {
                    let by = if source == Source::Env {
                        format!("{} is set", row.env)
                    } else {
                        "a command-line flag is given".to_owned()
                    };
                    app.out.warn(&format!(
                        "{by}: it overrides the `{key}` just written to the file"
                    ));
                }
                Ok(0)
            }
            None => done(p.emit(self.json, settings, output::settings)),
        }
    }
}

impl ResetArgs {
    fn run(self, app: &App<'_>) -> Outcome {
        let catalogue = app.ctx.home.catalogue();
        if !self.yes {
            let question = format!(
                "delete the catalogue `{}`? kernel files are kept",
                catalogue.display()
            );
            if !prompt::confirm(&question, "reset", "--yes")? {
                app.out.note("nothing deleted");
                return Ok(ExitClass::Usage.code());
            }
        }
        let r = reset::run(&app.ctx)?;
        app.out.note(&if r.deleted {
            format!("deleted the catalogue `{}`", r.catalogue)
        } else {
            format!("no catalogue at `{}`; nothing to delete", r.catalogue)
        });
        Ok(0)
    }
}

fn get_exit(r: &get::GetReport) -> i32 {
    if r.interrupted {
        crate::interrupt::EXIT_STATUS
    } else if !r.failed.is_empty() {
        ExitClass::Partial.code()
    } else if r.declined {
        ExitClass::Usage.code()
    } else {
        0
    }
}

/// On a terminal, offer the mission directories of a server's listing.
fn pick_mission(out: &Out, net: &FetchConfig, server: Option<&str>) -> Result<String, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(commands::Error::Usage(
            "`kdb mission add` needs a NAME when stdin is not a terminal".into(),
        )
        .into());
    }
    let url = mission::server_url(server.unwrap_or("naif"))?;
    let names = mission::server_missions(net, &url)?;
    if names.is_empty() {
        return Err(
            commands::Error::NotFound(format!("no mission directories listed at `{url}`")).into(),
        );
    }
    let menu: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{:>3}) {n}", i + 1))
        .collect();
    out.raw(&menu.join("\n"));
    let k = prompt::choose("pick a mission", names.len())?;
    Ok(names[k].clone())
}

/// Without an argument on a terminal, offer the contents known under several names.
fn pick_alias(out: &Out, ctx: &Ctx<'_>) -> Result<String, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(commands::Error::Usage(
            "`kdb aliases` needs a NAME or HASH argument when stdin is not a terminal".into(),
        )
        .into());
    }
    let candidates = inspect::alias_candidates(ctx, 30)?;
    if candidates.is_empty() {
        return Err(commands::Error::NotFound(
            "no content is known under more than one name".into(),
        )
        .into());
    }
    let menu: Vec<String> = candidates
        .iter()
        .enumerate()
        .map(|(i, (sha, canonical, n))| {
            format!("{:>3}) {canonical}  ({n} names, {})", i + 1, sha.short(12))
        })
        .collect();
    out.raw(&menu.join("\n"));
    let choice = prompt::choose("pick a content", candidates.len())?;
    Ok(candidates[choice].0.to_string())
}

impl MetakernelsArgs {
    fn run(self, app: &App<'_>, p: &mut Printer) -> Outcome {
        if let Some(name) = self.remove {
            let m = commands::prune::remove_metakernel(&app.ctx, &name)?;
            app.out.note(&format!(
                "removed metakernel {} ({}); its kernels stay until `kdb prune --execute`",
                m.name, m.source_url
            ));
            return Ok(0);
        }
        let rows = app
            .ctx
            .read()?
            .metakernels()
            .map_err(commands::Error::from)?;
        done(p.emit(self.json, &rows, |w, rows| output::metakernels(w, rows)))
    }
}

impl VerifyArgs {
    fn run(self, app: &App<'_>, p: &mut Printer) -> Outcome {
        let r = commands::verify::run(
            &app.ctx,
            &commands::verify::VerifyOptions {
                metakernels: self.metakernels,
                deep: self.deep,
                checksums: self.checksums,
            },
        )?;
        let code = if r.errors() > 0 {
            ExitClass::Partial.code()
        } else if self.strict && r.warnings() > 0 {
            ExitClass::NotFound.code()
        } else {
            0
        };
        finish(p.emit(self.json, &r, super::integrity_output::verify), code)
    }
}

impl PruneArgs {
    fn run(self, app: &App<'_>, p: &mut Printer) -> Outcome {
        let r = commands::prune::run(
            &app.ctx,
            &commands::prune::PruneOptions {
                execute: self.execute,
                keep_versions: self.keep_versions,
                remove_strays: self.remove_strays,
            },
        )?;
        done(p.emit(self.json, &r, super::integrity_output::prune))
    }
}

impl OutdatedArgs {
    fn run(self, app: &App<'_>, p: &mut Printer) -> Outcome {
        let r = commands::outdated::run(
            &app.ctx,
            &app.net(None),
            &commands::outdated::OutdatedOptions {
                metakernels: self.metakernels,
            },
        )?;
        let down = r.unreachable > 0;
        if down {
            app.out.warn(&format!(
                "{} of {} checks could not reach the server; their state is unknown",
                r.unreachable, r.checked
            ));
        }
        // One map for every command: an acquired metakernel the server no longer
        // serves is "gone" (4), as for `update`; a server that could not say is
        // "network" (6).
        let mk_gone = r
            .items
            .iter()
            .any(|i| i.kind == "metakernel" && i.status == commands::outdated::Upstream::Gone);
        let code = if mk_gone {
            ExitClass::Gone.code()
        } else {
            exit_if(down && !self.offline_ok, ExitClass::Network)
        };
        finish(
            p.emit(self.json, &r, super::integrity_output::outdated),
            code,
        )
    }
}
