//! `kdb team status|push|warm`: arguments and rendering (docs/cli.md).

use clap::{Args, Subcommand};

use super::app::{App, Outcome, finish};
use super::output::{self, bytes};
use super::printer::Printer;
use crate::commands::{ExitClass, get, team};

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Every configured tier: reachable, layout version, write access
    #[command(
        after_help = "Examples:\n  kdb team status\n  KDB_TEAM_STORE=s3://team-kernels/kdb kdb team status --json\n\nExit: 0 every tier reachable, 6 otherwise."
    )]
    Status {
        /// Print JSON instead of text (the shapes are in docs/cli.md)
        #[arg(long)]
        json: bool,
    },
    /// Publish what the local store holds to the writable tiers
    #[command(
        after_help = "Examples:\n  kdb team push juice_ops.tm\n  kdb team push --all\n\nExit: 0 published (or already there), 3 some uploads failed."
    )]
    Push(PushArgs),
    /// Get a metakernel through the team store, then publish all of it there
    #[command(
        after_help = "Examples:\n  kdb team warm https://naif.jpl.nasa.gov/pub/naif/JUNO/kernels/mk/juno_v01.tm -y\n  kdb team warm juice_ops.tm --mission JUICE -y"
    )]
    Warm(WarmArgs),
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// An acquired metakernel (name, source URL or local path)
    #[arg(required_unless_present = "all")]
    pub metakernel: Option<String>,
    /// Every catalogued content
    #[arg(long, conflicts_with = "metakernel")]
    pub all: bool,
    /// Parallel uploads [config: jobs, env: KDB_JOBS, default 8]
    #[arg(short = 'j', long, value_parser = clap::value_parser!(u64).range(1..=super::settings::JOBS_MAX))]
    pub jobs: Option<u64>,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WarmArgs {
    /// Metakernel URL (http, https, file) or NAME.tm in the mission's mk/ directory
    pub source: String,
    /// Mission the metakernel belongs to
    #[arg(long)]
    pub mission: Option<String>,
    /// Do not ask before downloading
    #[arg(short, long)]
    pub yes: bool,
    /// Parallel transfers per host [config: jobs, env: KDB_JOBS, default 8]
    #[arg(short = 'j', long, value_parser = clap::value_parser!(u64).range(1..=super::settings::JOBS_MAX))]
    pub jobs: Option<u64>,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

impl TeamCommand {
    pub(super) fn run(self, app: &App<'_>, p: &mut Printer) -> Outcome {
        let opts = crate::team::TeamOptions {
            stores: app.settings.team_stores(),
            no_upstream: false,
        };
        match self {
            TeamCommand::Status { json } => {
                let tiers = team::status(&opts, &app.net(None))?;
                let down = tiers.iter().any(|t| !t.reachable);
                finish(
                    p.emit(json, &tiers, |w, tiers| {
                        let mut t =
                            output::table(&["store", "kind", "reachable", "layout", "writable"]);
                        for s in tiers {
                            t.add_row(vec![
                                s.store.clone(),
                                s.kind.as_str().to_owned(),
                                yes_no(s.reachable),
                                s.layout.map_or_else(|| "-".into(), |l| l.to_string()),
                                yes_no(s.writable),
                            ]);
                        }
                        say!(w, "{t}");
                        for s in tiers {
                            if let Some(e) = &s.error {
                                app.out.warn(&format!("{}: {e}", s.store));
                            }
                        }
                    }),
                    if down { ExitClass::Network.code() } else { 0 },
                )
            }
            TeamCommand::Push(a) => {
                let target = match a.metakernel {
                    Some(mk) => team::PushTarget::Metakernel(mk),
                    None => team::PushTarget::All,
                };
                let r = team::push(&app.ctx, &app.net(a.jobs), &opts, &target)?;
                // A tier that could not be set up or refused the push is a failure too.
                let code = if r.published.failed > 0 || !r.warnings.is_empty() {
                    ExitClass::Partial.code()
                } else {
                    0
                };
                finish(
                    p.emit(a.json, &r, |w, r| {
                        say!(
                            w,
                            "{} contents: {} uploaded ({}), {} already in the team store, {} records, {} failed",
                            r.contents,
                            r.published.uploaded,
                            bytes(r.published.uploaded_bytes),
                            r.published.present,
                            r.published.records,
                            r.published.failed
                        );
                    }),
                    code,
                )
            }
            TeamCommand::Warm(a) => {
                let get_opts = get::GetOptions {
                    source: a.source,
                    mission: a.mission,
                    force: false,
                    dry_run: false,
                    window: None,
                    team: opts,
                    allow_missing: false,
                };
                let mut confirm = super::app::confirmer(&app.out, a.yes, a.json);
                let r = team::warm(&app.ctx, &app.net(a.jobs), &get_opts, &mut confirm)?;
                let code = match &r.push {
                    _ if r.get.metakernel.is_none() => ExitClass::Partial.code(),
                    Some(p) if p.published.failed > 0 => ExitClass::Partial.code(),
                    _ => 0,
                };
                finish(
                    p.emit(a.json, &r, |w, r| {
                        output::get(w, &app.out, &r.get);
                        if let Some(push) = &r.push {
                            say!(
                                w,
                                "team store: {} uploaded, {} already there, {} failed",
                                push.published.uploaded,
                                push.published.present,
                                push.published.failed
                            );
                        }
                    }),
                    code,
                )
            }
        }
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}
