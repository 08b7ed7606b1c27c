//! Ctrl-C while kernels download. Armed by the first download of a process: from
//! then on the first SIGINT only raises a flag, the transfers in flight stop at once
//! (their partial files stay for a `Range` resume), the kernels that finished are
//! committed as objects, and the command exits 130 saying so. A second SIGINT exits
//! 130 at once — safe as well, since every write kdb makes is atomic.
//!
//! Before the first download, and in commands that never download, SIGINT keeps its
//! default action.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// The exit status of a command stopped by SIGINT (128 + 2, as shells report it).
pub const EXIT_STATUS: i32 = 130;

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Installs the handlers (once per process). When they cannot be installed, SIGINT
/// keeps its default action: kdb stops at once, which is safe, only less tidy.
pub fn arm() {
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let sig = signal_hook::consts::SIGINT;
        // Order matters: the shutdown check runs before the flag is raised, so the
        // first signal only raises it and the second one exits.
        let installed =
            signal_hook::flag::register_conditional_shutdown(sig, EXIT_STATUS, Arc::clone(&flag))
                .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&flag)));
        if let Err(e) = installed {
            tracing::warn!(error = %e, "cannot handle Ctrl-C; it will stop kdb at once");
        }
        flag
    });
}

/// Whether SIGINT arrived since [`arm`].
pub fn requested() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::SeqCst))
}
