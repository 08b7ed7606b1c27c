//! What every command's runner shares: the [`App`] (settings, notices, the library
//! context), the [`Outcome`] and [`Failure`] a runner returns, and the helpers that
//! end a command once its output is written. Imported by `run` and by the runners in
//! `coverage`, `reproduce` and `team`; it imports none of them.

use std::time::Duration;

use super::NetArgs;
use super::output::{self, Out};
use super::prompt;
use super::settings::Settings;
use crate::commands::{self, Ctx, ExitClass, get};
use crate::remote::fetch::FetchConfig;

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
    pub(super) fn usage(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Failure {
            class: ExitClass::Usage,
            error: Box::new(e),
        }
    }

    /// Writing to stdout failed (a closed pipe is handled by `main`).
    pub(super) fn output(e: std::io::Error) -> Self {
        Failure {
            class: ExitClass::Internal,
            error: Box::new(e),
        }
    }
}

/// A command's outcome: its exit code, or what failed.
pub type Outcome = Result<i32, Failure>;

/// Everything a command needs from the shell: settings, notices, the library context.
pub struct App<'a> {
    pub settings: Settings,
    pub out: Out,
    pub ctx: Ctx<'a>,
}

impl App<'_> {
    /// The network settings, with `jobs` overriding the configured parallelism.
    /// Requests of a mission with mirrors fail over to them, with one warning line.
    pub(super) fn net(&self, jobs: Option<u64>) -> FetchConfig {
        let s = &self.settings;
        let net = FetchConfig {
            jobs_per_host: jobs.unwrap_or(s.jobs()).max(1) as usize,
            connect_timeout: Duration::from_secs(s.connect_timeout()),
            read_timeout: Duration::from_secs(s.read_timeout()),
            low_speed_limit: s.low_speed_limit(),
            low_speed_time: Duration::from_secs(s.low_speed_time()),
            ca_file: s.ca_file(),
            proxy: s.proxy(),
            ..FetchConfig::default()
        };
        if self.ctx.home.catalogue().exists()
            && let Ok(missions) = self.ctx.read().and_then(|cat| Ok(cat.missions()?))
        {
            commands::mission::install_routes(&net, &missions);
        }
        let out = self.out.clone();
        net.failover.on_move(move |line| out.warn(line));
        net
    }

    /// The team store options: the configured tiers unless `--no-team`.
    pub(super) fn team(&self, net: &NetArgs) -> crate::team::TeamOptions {
        crate::team::TeamOptions {
            stores: if net.no_team {
                Vec::new()
            } else {
                self.settings.team_stores()
            },
            no_upstream: net.no_upstream,
        }
    }
}

/// Exit 0 once the output is written.
pub(super) fn done(written: std::io::Result<()>) -> Outcome {
    finish(written, 0)
}

/// Exit `code` once the output is written.
pub(crate) fn finish(written: std::io::Result<()>, code: i32) -> Outcome {
    written.map_err(Failure::output)?;
    Ok(code)
}

/// The confirmation step of `get`/`update`: print the plan, then ask on a terminal.
pub(super) fn confirmer(
    out: &Out,
    yes: bool,
    json: bool,
) -> impl FnMut(&get::GetPlan) -> commands::Result<bool> + '_ {
    move |plan: &get::GetPlan| {
        if !json {
            output::get_plan(out, plan);
        }
        if yes {
            return Ok(true);
        }
        prompt::confirm(
            &format!(
                "download {}?",
                super::output::count(plan.to_download as u64, "kernel")
            ),
            "get",
            "-y",
        )
    }
}
