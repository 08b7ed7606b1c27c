use std::process::ExitCode;

use clap::Parser;
use kdb::cli::{self, Cli, printer};
use kdb::commands::ExitClass;

fn main() -> ExitCode {
    // A bug must never show a user a backtrace: one line, and the internal exit code.
    std::panic::set_hook(Box::new(|info| {
        cli::output::Out::new(cli::ColorChoice::Never, false).raw(&format!(
            "error: internal error (a bug in kdb, please report it): {info}"
        ));
        std::process::exit(ExitClass::Internal.code());
    }));
    let json = printer::json_requested(std::env::args_os());
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let usage = !matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
                && e.kind() != ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand;
            if json && usage {
                let _printed = printer::error_json(ExitClass::Usage, &e);
            }
            e.exit();
        }
    };
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KDB_LOG")
        .unwrap_or_else(|_| format!("kdb={level}").into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .init();
    let out = cli::output::Out::new(cli.color, cli.quiet);
    match cli::run(cli) {
        Ok(code) => ExitCode::from(code as u8),
        // The reader of our stdout went away (`kdb stats | head -1`): a normal end.
        Err(failure) if printer::is_broken_pipe(failure.error.as_ref()) => ExitCode::SUCCESS,
        Err(failure) => {
            out.error_chain(failure.error.as_ref());
            if json {
                let _printed = printer::error_json(failure.class, failure.error.as_ref());
            }
            ExitCode::from(failure.class.code() as u8)
        }
    }
}
