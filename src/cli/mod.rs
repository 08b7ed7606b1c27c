//! The command-line shell: clap types, settings, rendering, progress and prompts.
//! Only this module prints.

pub mod output;
pub mod progress;
pub mod prompt;
pub mod settings;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::commands::{self, Ctx, ExitClass, dedup, inspect, reset, scan};
use crate::store::Home;
use output::Out;
use settings::Settings;

const AFTER_HELP: &str = "\
Examples:
  kdb scan ~/spice/juice --mission JUICE     register every kernel under a tree
  kdb aliases jup365.bsp                     every name and place of one content
  kdb resolve naif0012.tls --mission JUICE   the local path of a kernel
  kdb dedup                                  show what dedup would link (dry run)
  kdb dedup --execute                        replace duplicate copies with links

Environment: KDB_HOME (home directory), KDB_CONFIG (config file), KDB_LOCK_TIMEOUT,
NO_COLOR. Exit codes: 0 ok, 1 not found, 2 usage, 3 partial failure, 5 busy, 10 internal.";

#[derive(Debug, Parser)]
#[command(name = "kdb", version, about = "SPICE kernel cache manager", after_help = AFTER_HELP)]
pub struct Cli {
    /// Home directory holding the catalogue and the store [env: KDB_HOME]
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// More log output (-v info, -vv debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr; no progress
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Colour on stderr
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Never draw progress bars
    #[arg(long, global = true)]
    pub no_progress: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register every kernel under a directory (incremental)
    #[command(
        after_help = "Examples:\n  kdb scan ~/spice/juice --mission JUICE\n  kdb scan ./kernels --archive    # move contents into the store, leave links"
    )]
    Scan(ScanArgs),
    /// Replace duplicate copies with links to one kept copy (dry run unless --execute)
    #[command(
        after_help = "Examples:\n  kdb dedup\n  kdb dedup --execute --link hardlink\n  kdb dedup --execute --mission JUICE"
    )]
    Dedup(DedupArgs),
    /// Every name and location of one content (by filename or hash prefix)
    #[command(after_help = "Examples:\n  kdb aliases jup365.bsp\n  kdb aliases 3f2a9c --json")]
    Aliases(AliasesArgs),
    /// The local path of a kernel filename (exact name only)
    #[command(
        after_help = "Examples:\n  kdb resolve naif0012.tls\n  kdb resolve juice_sc_v02.bc --mission JUICE --json"
    )]
    Resolve(ResolveArgs),
    /// Counts and bytes: contents, locations, per type and per mission
    Stats(JsonArgs),
    /// Contents stored more than once, with the bytes wasted
    Duplicates(JsonArgs),
    /// Show or change settings
    #[command(
        after_help = "Examples:\n  kdb config\n  kdb config get home\n  kdb config set home ~/spice-cache"
    )]
    Config(ConfigArgs),
    /// Delete the catalogue (never kernel files)
    Reset(ResetArgs),
    /// Print a shell completion script
    #[command(
        after_help = "Example:\n  kdb completions bash > ~/.local/share/bash-completion/completions/kdb"
    )]
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Directory to scan
    pub dir: PathBuf,
    /// Mission the files belong to
    #[arg(long)]
    pub mission: Option<String>,
    /// Move contents into the store and leave links at the original places
    #[arg(long)]
    pub archive: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DedupArgs {
    /// Carry out the plan (default: only print it)
    #[arg(long)]
    pub execute: bool,
    /// Kind of link that replaces a duplicate
    #[arg(long, value_enum, default_value_t = LinkArg::Symlink)]
    pub link: LinkArg,
    /// Only replace copies belonging to this mission
    #[arg(long)]
    pub mission: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LinkArg {
    Symlink,
    Hardlink,
}

#[derive(Debug, Args)]
pub struct AliasesArgs {
    /// A filename (exact) or a SHA-256 prefix of at least 6 hex digits
    pub query: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// Kernel filename, exactly as referenced
    pub name: String,
    /// Prefer this mission's copy
    #[arg(long)]
    pub mission: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: Option<ConfigAction>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print one setting's effective value
    Get { key: String },
    /// Store a setting in the config file
    Set { key: String, value: String },
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub yes: bool,
}

/// What went wrong, with the exit code to use.
pub struct Failure {
    pub class: ExitClass,
    pub error: Box<dyn std::error::Error + Send + Sync>,
}

impl<E: Into<commands::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        let e = e.into();
        Failure {
            class: e.class(),
            error: Box::new(e),
        }
    }
}

impl Failure {
    fn usage(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Failure {
            class: ExitClass::Usage,
            error: Box::new(e),
        }
    }
}

/// Runs one parsed command line; returns the exit code.
pub fn run(cli: Cli) -> Result<i32, Failure> {
    let out = Out::new(cli.color, cli.quiet);
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(shell, &mut Cli::command(), "kdb", &mut std::io::stdout());
        return Ok(0);
    }
    let settings = Settings::load(cli.home.as_deref()).map_err(Failure::usage)?;
    let show_progress = !cli.quiet && !cli.no_progress && std::io::stderr().is_terminal();
    let reporter = progress::CliReporter::new(show_progress, out.clone());
    let ctx = Ctx {
        home: Home::new(settings.home.value.clone()),
        lock_timeout: Duration::from_secs(settings.lock_timeout.value),
        reporter: &reporter,
    };
    match cli.command {
        Command::Scan(a) => {
            let report = scan::run(
                &ctx,
                &scan::ScanOptions {
                    dir: a.dir,
                    mission: a.mission,
                    archive: a.archive,
                },
            )?;
            if a.json {
                output::json(&report);
            } else {
                output::scan(&out, &report);
            }
            Ok(0)
        }
        Command::Dedup(a) => {
            let report = dedup::run(
                &ctx,
                &dedup::DedupOptions {
                    execute: a.execute,
                    link: match a.link {
                        LinkArg::Symlink => dedup::LinkMode::Symlink,
                        LinkArg::Hardlink => dedup::LinkMode::Hardlink,
                    },
                    mission: a.mission,
                },
            )?;
            if a.json {
                output::json(&report);
            } else {
                output::dedup(&out, &report);
            }
            Ok(if report.skipped.is_empty() {
                0
            } else {
                ExitClass::Partial.code()
            })
        }
        Command::Aliases(a) => {
            let query = match a.query {
                Some(q) => q,
                None => pick_alias(&ctx)?,
            };
            let reports = inspect::aliases(&ctx, &query)?;
            if a.json {
                if reports.len() > 1 {
                    let hashes: Vec<&str> = reports.iter().map(|r| r.sha256.as_str()).collect();
                    return Err(commands::Error::Usage(format!(
                        "`{query}` names {} different contents ({}); pass a hash prefix",
                        reports.len(),
                        hashes.join(", ")
                    ))
                    .into());
                }
                output::json(&reports[0]);
            } else {
                output::aliases(&out, &reports);
            }
            Ok(0)
        }
        Command::Resolve(a) => {
            let r = inspect::resolve(&ctx, &a.name, a.mission.as_deref())?;
            if let Some(m) = &r.fallback_from {
                out.warn(&format!(
                    "no copy of `{}` in mission {m}; using the one from {}",
                    r.name,
                    r.mission.as_deref().unwrap_or("no mission")
                ));
            }
            if a.json {
                output::json(&r);
            } else {
                println!("{}", r.path);
            }
            Ok(0)
        }
        Command::Stats(a) => {
            let s = inspect::stats(&ctx)?;
            if a.json {
                output::json(&s);
            } else {
                output::stats(&s);
            }
            Ok(0)
        }
        Command::Duplicates(a) => {
            let d = inspect::duplicates(&ctx)?;
            if a.json {
                output::json(&d);
            } else {
                output::duplicates(&d);
            }
            Ok(0)
        }
        Command::Config(a) => config(&settings, a),
        Command::Reset(a) => {
            if !a.yes {
                let question = format!(
                    "delete the catalogue `{}`? kernel files are kept",
                    ctx.home.catalogue().display()
                );
                if !prompt::confirm(&question, "reset", "--yes")? {
                    out.note("nothing deleted");
                    return Ok(ExitClass::Usage.code());
                }
            }
            let r = reset::run(&ctx)?;
            if r.deleted {
                out.note(&format!("deleted the catalogue `{}`", r.catalogue));
            } else {
                out.note(&format!(
                    "no catalogue at `{}`; nothing to delete",
                    r.catalogue
                ));
            }
            Ok(0)
        }
        Command::Completions { .. } => Ok(0),
    }
}

fn config(settings: &Settings, a: ConfigArgs) -> Result<i32, Failure> {
    match a.action {
        Some(ConfigAction::Get { key }) => {
            println!("{}", settings.get(&key).map_err(Failure::usage)?);
        }
        Some(ConfigAction::Set { key, value }) => {
            let path = settings.set(&key, &value).map_err(Failure::usage)?;
            eprintln!("set {key} in `{}`", path.display());
        }
        None if a.json => output::json(settings),
        None => output::settings(settings),
    }
    Ok(0)
}

/// Without an argument on a terminal, offer the contents known under several names.
fn pick_alias(ctx: &Ctx<'_>) -> Result<String, Failure> {
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
    let mut err = std::io::stderr();
    for (i, (sha, canonical, n)) in candidates.iter().enumerate() {
        let _ = writeln!(
            err,
            "{:>3}) {canonical}  ({n} names, {})",
            i + 1,
            &sha[..12]
        );
    }
    let choice = prompt::choose("pick a content", candidates.len())?;
    Ok(candidates[choice].0.clone())
}
