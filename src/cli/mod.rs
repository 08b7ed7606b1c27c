//! The command-line shell: clap types, settings, rendering, progress and prompts.
//! Only this module prints.

mod app;
pub mod integrity_output;
#[macro_use]
pub mod output;
pub mod coverage;
pub mod printer;
pub mod progress;
pub mod prompt;
pub mod reproduce;
mod run;
pub mod settings;
mod table;
pub mod team;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::kernel::KernelType;
pub use run::{Failure, run};

const AFTER_HELP: &str = "\
Examples:
  kdb get https://naif.jpl.nasa.gov/pub/naif/JUNO/kernels/mk/juno_v01.tm
                                             fetch a metakernel and its missing kernels
  kdb browse JUICE                           the metakernels a mission publishes
  kdb scan ~/spice/juice --mission JUICE     register every kernel under a tree
  kdb aliases jup365.bsp                     every name and place of one content
  kdb resolve naif0012.tls --mission JUICE   the local path of a kernel
  kdb dedup                                  show what dedup would link (dry run)
  kdb dedup --execute                        replace duplicate copies with links

Environment: KDB_HOME (home directory), KDB_CONFIG (config file), KDB_LOCK_TIMEOUT,
KDB_JOBS, KDB_CONNECT_TIMEOUT, KDB_READ_TIMEOUT, KDB_LOW_SPEED_LIMIT and
KDB_LOW_SPEED_TIME (speed floor), KDB_CA_FILE (extra trusted CAs, PEM; SSL_CERT_FILE
and SSL_CERT_DIR are honoured too), KDB_PROXY (a proxy for every request; HTTP_PROXY,
HTTPS_PROXY, ALL_PROXY and NO_PROXY otherwise), KDB_TEAM_STORE (team store tiers), KDB_LOG (log
filter, e.g. kdb=debug), NETRC (credentials), NO_COLOR. `kdb config` shows every setting.
Exit codes: 0 ok, 1 not found, 2 usage, 3 partial failure, 4 gone from server,
5 busy, 6 network, 10 internal.";

#[derive(Debug, Parser)]
#[command(name = "kdb", version, about = "SPICE kernel cache manager", after_help = AFTER_HELP)]
pub struct Cli {
    /// Home directory holding the catalogue and the store [env: KDB_HOME]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "DIR"
    )]
    pub home: Option<PathBuf>,
    /// More log output (-v info, -vv debug)
    #[arg(short, long, global = true, help_heading = "Global options", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr; no progress
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub quiet: bool,
    /// Colour on stderr
    #[arg(long, global = true, help_heading = "Global options", value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Never draw progress bars
    #[arg(long, global = true, help_heading = "Global options")]
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
    /// Fetch a metakernel and exactly the kernels missing; leave a metakernel that loads
    #[command(
        after_help = "Examples:\n  kdb get https://naif.jpl.nasa.gov/pub/naif/JUNO/kernels/mk/juno_v01.tm\n  kdb get juice_ops.tm --mission JUICE -y\n  kdb get file:///mnt/mirror/pub/naif/JUICE/kernels/mk/juice_ops.tm --dry-run"
    )]
    Get(GetArgs),
    /// Re-fetch acquired metakernels; download what changed
    #[command(after_help = "Examples:\n  kdb update juice_ops.tm\n  kdb update --all -y")]
    Update(UpdateArgs),
    /// The metakernels of a mission's mk/ directory, and which are local
    #[command(
        after_help = "Examples:\n  kdb browse JUICE\n  kdb browse JUICE --filter ops --show-versioned\n  kdb browse https://spiftp.esac.esa.int/data/SPICE/JUICE/kernels/mk/ --archived --json"
    )]
    Browse(BrowseArgs),
    /// Configure missions (NAIF and ESA servers built in)
    #[command(subcommand)]
    Mission(MissionCommand),
    /// Acquired metakernels (--remove NAME unregisters one)
    #[command(visible_alias = "mk")]
    Metakernels(MetakernelsArgs),
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
    /// The kernels a metakernel loads, in load order
    #[command(
        after_help = "Examples:\n  kdb list juice_ops.tm\n  kdb list juice_ops.tm --type ck --json"
    )]
    List(ListArgs),
    /// Which kernels of a metakernel are present locally
    #[command(
        after_help = "Examples:\n  kdb check juice_ops.tm --mission JUICE\n  kdb check juice_ops.tm --json"
    )]
    Check(CheckArgs),
    /// Write a metakernel that loads from anywhere, over a tree of links to local copies
    #[command(
        after_help = "Examples:\n  kdb rewrite juice_ops.tm -o ~/work/juice_ops.tm\n  kdb rewrite mk/em16.tm -o em16_local.tm --link-root ~/work/em16_kernels --mission EM16"
    )]
    Rewrite(RewriteArgs),
    /// Counts and bytes: contents, locations, per type and per mission
    Stats(JsonArgs),
    /// Contents stored more than once, with the bytes wasted
    Duplicates(JsonArgs),
    /// Show or change settings
    #[command(
        after_help = format!("Examples:\n  kdb config\n  kdb config get home\n  kdb config set home ~/spice-cache\n\n{}", settings::help())
    )]
    Config(ConfigArgs),
    /// Delete the catalogue (never kernel files)
    Reset(ResetArgs),
    /// Re-check the store against the catalogue (never changes anything)
    #[command(
        after_help = "Examples:\n  kdb verify\n  kdb verify --deep --json\n  kdb verify juice_ops.tm --strict\n  kdb verify --checksums bundle/miscellaneous/checksum/checksum_v004.tab\n\nExit: 0 clean, 3 findings, 1 warnings only with --strict."
    )]
    Verify(VerifyArgs),
    /// Remove what no metakernel, pin or outside scan needs (dry run unless --execute)
    #[command(
        after_help = "kdb deletes only what it made: objects, the links and copies `get` laid out in \
                      missions/, its temp files. A file you scanned or keep inside the home is never \
                      deleted; a location whose directory is gone (an unplugged disk) is kept.\n\n\
                      Examples:\n  kdb prune\n  kdb prune --execute\n  kdb prune --execute --keep-versions 1"
    )]
    Prune(PruneArgs),
    /// Protect a metakernel's kernels or one kernel from `prune`
    #[command(
        after_help = "Examples:\n  kdb pin juice_ops.tm\n  kdb pin naif0012.tls\n  kdb pin 3f2a9c41"
    )]
    Pin {
        /// A registered metakernel (exact name or source URL), a kernel file name, or a hash prefix
        target: String,
    },
    /// Remove a pin (by the argument it was pinned with)
    Unpin {
        /// The MK or KERNEL given to `kdb pin`
        label: String,
    },
    /// Pinned contents
    Pins(JsonArgs),
    /// What changed upstream since it was fetched (no downloads)
    #[command(
        after_help = "Examples:\n  kdb outdated\n  kdb outdated juice_ops.tm --json\n  kdb outdated --offline-ok\n\nExit: 0, or 6 when a server could not be reached (0 with --offline-ok)."
    )]
    Outdated(OutdatedArgs),
    /// Write the lockfile of an acquired metakernel: every entry's URL, sha256 and size
    #[command(
        after_help = "Examples:\n  kdb lock juice_ops.tm\n  kdb lock juice_ops.tm -o paper/juice_ops.kdb.lock"
    )]
    Lock(reproduce::LockArgs),
    /// Materialise a lockfile's metakernel and exactly its locked bytes
    #[command(
        after_help = "Examples:\n  kdb restore juice_ops.kdb.lock\n  kdb restore juice_ops.kdb.lock --offline\n  kdb restore juice_ops.kdb.lock --mirror file:///mnt/naif"
    )]
    Restore(reproduce::RestoreArgs),
    /// Write one file holding a lock, its metakernel and its kernels
    #[command(
        after_help = "Examples:\n  kdb export juice_ops.tm -o juice_ops.kdb.tar.zst\n  kdb export juice_ops.kdb.lock -o bundle.tar"
    )]
    Export(reproduce::ExportArgs),
    /// Check a bundle in full, then store its kernels and lay out its metakernel
    #[command(after_help = "Example:\n  kdb import juice_ops.kdb.tar.zst")]
    Import(reproduce::ImportArgs),
    /// Kernels added, removed and changed between two metakernels or locks
    #[command(
        after_help = "Examples:\n  kdb diff bc_plan.tm bc_ops.tm\n  kdb diff old.kdb.lock juice_ops.tm --json"
    )]
    Diff(reproduce::DiffArgs),
    /// Coverage windows per kernel and ID (SPK, CK, binary PCK), from the index
    #[command(
        after_help = "Examples:\n  kdb coverage --mk juice_ops.tm --time utc\n  kdb coverage 399 301 --mk de.tm --merge --json\n  kdb coverage -f naif0012.tls -f cas00172.tsc -f 04135_04171pc_psiv2.bc --time utc"
    )]
    Coverage(coverage::CoverageArgs),
    /// Which kernel and segment CSPICE would use for a body or frame at an epoch
    #[command(
        after_help = "Example:\n  kdb which juice_ops.tm --body GANYMEDE --at 2031-07-02T10:14:00"
    )]
    Which(coverage::WhichArgs),
    /// Holes in the union coverage of a body or frame inside a window
    #[command(
        after_help = "Example:\n  kdb gaps juice_ops.tm --frame -28000 --from 2031-07-01 --to 2031-07-03"
    )]
    Gaps(coverage::GapsArgs),
    /// Rebuild the coverage index of every registered binary kernel (`--store`: re-register
    /// the store's objects after `kdb reset`)
    #[command(after_help = "Examples:\n  kdb reindex\n  kdb reset -y && kdb reindex --store")]
    Reindex(coverage::ReindexArgs),
    /// The team store several homes share: its tiers (directories or s3:// URLs, from
    /// `[team] stores` in the config or KDB_TEAM_STORE), publishing, warming
    #[command(
        subcommand,
        after_help = "Kernels a home downloads are published to the tiers and taken from them by the\nother homes (hash-verified). Set up: `kdb config set team.stores s3://bucket/kdb`, or\nKDB_TEAM_STORE=\"/mnt/shared/kdb, s3://bucket/kdb\". The full guide is docs/team.md in\nkdb's documentation."
    )]
    Team(team::TeamCommand),
    /// Print a shell completion script
    #[command(
        after_help = "Example:\n  kdb completions bash > ~/.local/share/bash-completion/completions/kdb"
    )]
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Args)]
pub struct NetArgs {
    /// Parallel downloads per host [config: jobs, env: KDB_JOBS, default 8]
    #[arg(short = 'j', long, value_parser = clap::value_parser!(u64).range(1..=settings::JOBS_MAX))]
    pub jobs: Option<u64>,
    /// Do not use the team store for this command ([team] stores, KDB_TEAM_STORE)
    #[arg(long)]
    pub no_team: bool,
    /// Take what the local store lacks from the team store only; fail instead of
    /// contacting the archive
    #[arg(long, conflicts_with = "no_team")]
    pub no_upstream: bool,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Metakernel URL (http, https, file) or NAME.tm in the mission's mk/ directory
    pub source: String,
    /// Mission the metakernel belongs to (needed for a bare NAME.tm with several missions)
    #[arg(long)]
    pub mission: Option<String>,
    /// Download every kernel again, even those present
    #[arg(long)]
    pub force: bool,
    /// Do not ask before downloading
    #[arg(short, long)]
    pub yes: bool,
    /// Show the plan and stop
    #[arg(long)]
    pub dry_run: bool,
    /// Only the kernels needed from this time on (ISO UTC through the metakernel's LSK, or ET:<seconds>)
    #[arg(long, value_name = "TIME", requires = "to", conflicts_with = "lock")]
    pub from: Option<String>,
    /// ... up to this time (with --from)
    #[arg(long, value_name = "TIME", requires = "from")]
    pub to: Option<String>,
    /// Only segments of these bodies (NAIF ID or name; repeatable; with --from/--to)
    #[arg(long = "body", value_name = "ID|NAME", requires = "from")]
    pub bodies: Vec<String>,
    /// Widen the window by DURATION on both sides (30s, 15m, 6h, 2d; default 0)
    #[arg(long, value_name = "DURATION", requires = "from")]
    pub pad: Option<String>,
    #[command(flatten)]
    pub net: NetArgs,
    /// Write the metakernel without the kernels the server no longer has (404, 410),
    /// naming them, instead of failing
    #[arg(long)]
    pub allow_missing: bool,
    /// After a successful get, write a lockfile of exactly these bytes to FILE
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// An acquired metakernel (name, source URL or local path)
    pub metakernel: Option<String>,
    /// Update every acquired metakernel
    #[arg(long, conflicts_with = "metakernel")]
    pub all: bool,
    /// Do not ask before downloading
    #[arg(short, long)]
    pub yes: bool,
    /// Re-fetch even when the server says nothing changed, and re-download kernels
    #[arg(long)]
    pub force: bool,
    /// Show the plan and stop
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub net: NetArgs,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BrowseArgs {
    /// A configured mission or an mk/ directory URL [default: the only configured mission]
    pub target: Option<String>,
    /// Order by modification time (newest first) instead of name
    #[arg(long, value_enum, default_value_t = SortArg::Name)]
    pub sort: SortArg,
    /// List `former_versions/` instead
    #[arg(long)]
    pub archived: bool,
    /// Only names containing TEXT (case-insensitive)
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Also list every versioned snapshot (`*_v461_20251127_001.tm`)
    #[arg(long)]
    pub show_versioned: bool,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum SortArg {
    Name,
    Date,
}

#[derive(Debug, Subcommand)]
pub enum MissionCommand {
    /// Add a mission (checks its mk/ directory with one request)
    #[command(
        after_help = "Examples:\n  kdb mission add JUICE --server esa\n  kdb mission add MRO --server naif --no-dedup\n  kdb mission add JUICE --server naif --mirror https://naif-mirror.example.org/pub/naif/\n  kdb mission add DEMO --mk-dir-url file:///srv/demo/pub/naif/DEMO/kernels/mk/"
    )]
    Add {
        /// Mission name as the server spells it (picked from the server listing on a terminal if omitted)
        name: Option<String>,
        /// naif, esa or a server base URL
        #[arg(long)]
        server: Option<String>,
        /// The mission's mk/ directory, when not `<server>/<NAME>/kernels/mk/`
        #[arg(long, value_name = "URL")]
        mk_dir_url: Option<String>,
        /// A base URL holding the same tree as the server, used when it fails (repeat for more, in order)
        #[arg(long = "mirror", value_name = "URL")]
        mirrors: Vec<String>,
        /// Keep independent copies in this mission's tree instead of links
        #[arg(long)]
        no_dedup: bool,
    },
    /// List configured missions
    List(JsonArgs),
    /// Remove a mission (exact name, case-insensitive); kernels stay
    Remove { name: String },
    /// Add or remove a mirror of a mission's server
    #[command(subcommand)]
    Mirror(MirrorCommand),
}

#[derive(Debug, Subcommand)]
pub enum MirrorCommand {
    /// Append a mirror (checks it serves the mission's mk/ with one request)
    #[command(
        after_help = "Examples:\n  kdb mission mirror add JUICE https://naif-mirror.example.org/pub/naif/"
    )]
    Add {
        /// The mission (exact name, case-insensitive)
        name: String,
        /// Base URL holding the same tree as the mission's server
        url: String,
    },
    /// Remove a mirror
    Remove {
        /// The mission (exact name, case-insensitive)
        name: String,
        /// The mirror's base URL, as `mission list` shows it
        url: String,
    },
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON instead of a table
    /// Print JSON instead of text (the shapes are in docs/cli.md)
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
    /// Print JSON instead of text (the shapes are in docs/cli.md)
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
    /// Print JSON instead of text (the shapes are in docs/cli.md)
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
    /// Print JSON instead of text (the shapes are in docs/cli.md)
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
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Metakernel: a path or a registered metakernel name
    pub metakernel: String,
    /// Only entries of this kernel type (spk, ck, pck, fk, ik, lsk, sclk, dsk, ek, mk)
    #[arg(long = "type", value_parser = parse_kernel_type)]
    pub kernel_type: Option<KernelType>,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

fn parse_kernel_type(s: &str) -> Result<KernelType, String> {
    KernelType::parse(s).ok_or_else(|| {
        format!("unknown kernel type `{s}` (spk, ck, pck, fk, ik, lsk, sclk, dsk, ek, mk)")
    })
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Metakernel: a path or a registered metakernel name
    pub metakernel: String,
    /// Prefer this mission's copies; others count as fallbacks
    #[arg(long)]
    pub mission: Option<String>,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RewriteArgs {
    /// Metakernel: a path or a registered metakernel name
    pub metakernel: String,
    /// Where to write the rewritten metakernel [default: its file name in the current directory]
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Directory of the link tree [default: `kernels/` beside OUT]
    #[arg(long, value_name = "DIR")]
    pub link_root: Option<PathBuf>,
    /// Prefer this mission's copies
    #[arg(long)]
    pub mission: Option<String>,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: Option<ConfigAction>,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print one setting's effective value
    Get { key: String },
    /// Store a setting in the config file
    Set {
        key: String,
        /// The value (a negative number is read as a value and then validated)
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct MetakernelsArgs {
    /// Unregister the metakernel with exactly this name (or source URL); kernels stay until `prune`
    #[arg(long, value_name = "NAME")]
    pub remove: Option<String>,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Registered metakernels to check (name or source URL) [default: everything]
    pub metakernels: Vec<String>,
    /// Check everything (the default without MK arguments)
    #[arg(long, conflicts_with = "metakernels")]
    pub all: bool,
    /// Re-hash every byte and check DAF/DAS structure and impostors
    #[arg(long)]
    pub deep: bool,
    /// Warnings (writable object, stat changed, untracked file) also fail (exit 1)
    #[arg(long)]
    pub strict: bool,
    /// Compare with a published MD5 table (PDS4 checksum_v###.tab, PDS3 index/checksum.tab): a path or URL
    #[arg(long, value_name = "TABLE|URL")]
    pub checksums: Option<String>,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Delete (default: only show what would go)
    #[arg(long)]
    pub execute: bool,
    /// Keep the newest N superseded versions of kernels a metakernel now loads in a newer version
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_versions: usize,
    /// Also delete strays: files in the object store the catalogue does not know (kept by
    /// default: a link you archived may point at one; `kdb scan --archive` re-registers them)
    #[arg(long)]
    pub remove_strays: bool,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct OutdatedArgs {
    /// Registered metakernels to check (name or source URL) [default: all]
    pub metakernels: Vec<String>,
    /// Check every acquired metakernel (the default without MK arguments)
    #[arg(long, conflicts_with = "metakernels")]
    pub all: bool,
    /// Exit 0 even when a server cannot be reached
    #[arg(long)]
    pub offline_ok: bool,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod help_tests {
    use super::*;

    /// The top-level help names every setting's environment variable.
    #[test]
    fn top_level_help_names_every_environment_variable() {
        for s in settings::SETTINGS {
            assert!(
                AFTER_HELP.contains(s.env),
                "{} missing from the help",
                s.env
            );
        }
        assert!(AFTER_HELP.contains("KDB_LOG"));
    }

    /// Issue 22, defect 5: the README's quick start shows the questions users come with
    /// after the download, and every `kdb` line of it parses as written.
    #[test]
    fn readme_quick_start_shows_the_questions_and_every_line_parses() {
        use clap::Parser;
        let readme = include_str!("../../README.md");
        let start = readme
            .find("## Quick start")
            .expect("a quick start section");
        let block = &readme[start..];
        let block = &block[block.find("```sh").expect("a shell block") + 5..];
        let block = &block[..block.find("```").expect("the block's end")];
        let mut seen = Vec::new();
        for line in block.lines().map(str::trim) {
            if !line.starts_with("kdb ") {
                continue;
            }
            let args: Vec<&str> = line
                .split("   #")
                .next()
                .unwrap_or(line)
                .split_whitespace()
                .collect();
            if let Err(e) = Cli::try_parse_from(&args) {
                panic!("README line `{line}` does not parse:\n{e}");
            }
            seen.push(args[1..].join(" "));
        }
        for want in [
            "coverage", "which", "gaps", "get", "verify", "prune", "update",
        ] {
            assert!(
                seen.iter().any(|l| l.split(' ').next() == Some(want)),
                "the quick start never shows `kdb {want}`"
            );
        }
        assert!(
            seen.iter()
                .any(|l| l.starts_with("get") && l.contains("--from") && l.contains("--to")),
            "the quick start never shows a windowed get"
        );
        // In the order a user meets them: download, ask, then keep the store.
        let first = |cmd: &str| {
            seen.iter()
                .position(|l| l.starts_with(cmd))
                .unwrap_or(usize::MAX)
        };
        assert!(first("get") < first("coverage"));
        assert!(first("coverage") < first("which") && first("which") < first("gaps"));
        assert!(first("gaps") < first("verify") && first("verify") < first("prune"));
    }
}
