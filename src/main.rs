use std::process::ExitCode;

use clap::Parser;
use kdb::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Err(failure) => {
            out.error(&failure.error.to_string());
            let mut cause = failure.error.source();
            while let Some(c) = cause {
                eprintln!("  caused by: {c}");
                cause = c.source();
            }
            ExitCode::from(failure.class.code() as u8)
        }
    }
}
