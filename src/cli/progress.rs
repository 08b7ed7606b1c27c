//! The indicatif implementation of `commands::Reporter`: drawn only on a terminal.

use std::path::Path;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

use super::output::Out;
use crate::commands::Reporter;

pub struct CliReporter {
    enabled: bool,
    out: Out,
    bar: Mutex<Option<ProgressBar>>,
}

impl CliReporter {
    pub fn new(enabled: bool, out: Out) -> Self {
        CliReporter {
            enabled,
            out,
            bar: Mutex::new(None),
        }
    }
}

impl Reporter for CliReporter {
    fn waiting_for_lock(&self, lock: &Path) {
        // Always said, even with --quiet: the user must know why nothing happens.
        eprintln!(
            "waiting for lock on `{}` (another kdb is running)",
            lock.display()
        );
    }

    fn start(&self, what: &str, items: u64, bytes: u64) {
        if !self.enabled {
            return;
        }
        let bar = if bytes > 0 {
            ProgressBar::new(bytes).with_style(
                ProgressStyle::with_template(
                    "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            )
        } else {
            ProgressBar::new(items).with_style(
                ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            )
        };
        bar.set_message(what.to_owned());
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn advance(&self, items: u64, bytes: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(bar) = slot.as_ref()
        {
            bar.inc(if bar.length().is_some_and(|_| bytes > 0) {
                bytes
            } else {
                items
            });
        }
    }

    fn finish(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish_and_clear();
        }
    }

    fn warn(&self, message: &str) {
        self.out.warn(message);
    }
}
