//! The indicatif implementation of `commands::Reporter`: drawn only on a terminal.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

use super::output::Out;
use crate::commands::Reporter;

pub struct CliReporter {
    enabled: bool,
    out: Out,
    bar: Mutex<Option<ProgressBar>>,
    /// For byte bars: what the step is called, items done and expected.
    what: Mutex<String>,
    done: AtomicU64,
    items: AtomicU64,
    bytes_mode: std::sync::atomic::AtomicBool,
}

impl CliReporter {
    pub fn new(enabled: bool, out: Out) -> Self {
        CliReporter {
            enabled,
            out,
            bar: Mutex::new(None),
            what: Mutex::new(String::new()),
            done: AtomicU64::new(0),
            items: AtomicU64::new(0),
            bytes_mode: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Reporter for CliReporter {
    fn waiting_for_lock(&self, lock: &Path) {
        // Always said, even with --quiet: the user must know why nothing happens.
        self.out.raw(&format!(
            "waiting for lock on `{}` (another kdb is running)",
            lock.display()
        ));
    }

    fn start(&self, what: &str, items: u64, bytes: u64) {
        if !self.enabled {
            return;
        }
        let bar = if bytes > 0 {
            ProgressBar::new(bytes).with_style(byte_style())
        } else {
            ProgressBar::new(items).with_style(
                ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            )
        };
        self.bytes_mode.store(bytes > 0, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.items.store(items, Ordering::Relaxed);
        if let Ok(mut w) = self.what.lock() {
            *w = what.to_owned();
        }
        bar.set_message(if bytes > 0 {
            format!("{what} 0/{items}")
        } else {
            what.to_owned()
        });
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn advance(&self, items: u64, bytes: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(bar) = slot.as_ref()
        {
            if !self.bytes_mode.load(Ordering::Relaxed) {
                bar.inc(items);
                return;
            }
            bar.inc(bytes);
            if items > 0 {
                let done = self.done.fetch_add(items, Ordering::Relaxed) + items;
                let what = self.what.lock().map(|w| w.clone()).unwrap_or_default();
                bar.set_message(format!(
                    "{what} {done}/{}",
                    self.items.load(Ordering::Relaxed)
                ));
            }
        }
    }

    fn grow(&self, bytes: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(bar) = slot.as_ref()
        {
            if self.bytes_mode.swap(true, Ordering::Relaxed) {
                bar.inc_length(bytes);
                return;
            }
            // The first size learnt turns an item counter into a byte bar with rate
            // and ETA; the items done so far move into the message.
            let done = bar.position();
            bar.set_style(byte_style());
            bar.set_length(bytes);
            bar.set_position(0);
            let what = self.what.lock().map(|w| w.clone()).unwrap_or_default();
            self.done.store(done, Ordering::Relaxed);
            bar.set_message(format!(
                "{what} {done}/{}",
                self.items.load(Ordering::Relaxed)
            ));
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

/// A byte bar: bytes done and expected, rate and ETA.
fn byte_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{msg:>20} [{bar:30}] {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
}
