//! The one writer to stdout.
//!
//! Every byte a command prints goes through [`Printer`], which returns
//! `io::Result`: a reader that went away (`kdb stats | head -1`) surfaces as a
//! `BrokenPipe` error that `main` turns into a quiet exit 0, as ripgrep does, instead of
//! the panic `println!` raises. Human renderers build a `String` first (see
//! [`super::output`]), so a report is written in one piece.

use std::io::{self, Write};

use serde::Serialize;

/// Stdout, written only through `io::Result`-returning calls.
pub struct Printer {
    stdout: io::Stdout,
}

impl Default for Printer {
    fn default() -> Self {
        Printer {
            stdout: io::stdout(),
        }
    }
}

impl Printer {
    /// Writes `text` as is and flushes.
    pub fn text(&mut self, text: &str) -> io::Result<()> {
        let mut lock = self.stdout.lock();
        lock.write_all(text.as_bytes())?;
        lock.flush()
    }

    /// Writes `value` as pretty JSON and a newline.
    pub fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> io::Result<()> {
        // Serialised whole first: stdout is line-buffered, and thousands of entries
        // must not cost one `write` per line.
        let mut buf = serde_json::to_vec_pretty(value).map_err(io::Error::from)?;
        buf.push(b'\n');
        let mut lock = self.stdout.lock();
        lock.write_all(&buf)?;
        lock.flush()
    }

    /// `value` as JSON when `json`, else through its human renderer.
    pub fn emit<T: Serialize + ?Sized>(
        &mut self,
        json: bool,
        value: &T,
        human: impl FnOnce(&mut String, &T),
    ) -> io::Result<()> {
        if json {
            self.json(value)
        } else {
            let mut buf = String::new();
            human(&mut buf, value);
            self.text(&buf)
        }
    }
}

/// Whether the command line asked for `--json` (before a `--` separator): then an
/// error is also printed as a JSON object on stdout, so scripts always get JSON.
pub fn json_requested(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    args.into_iter()
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// `{"error": {"message", "causes": [...], "class", "exit_code"}}` on stdout.
pub fn error_json(
    class: crate::commands::ExitClass,
    error: &(dyn std::error::Error + 'static),
) -> io::Result<()> {
    let mut causes = Vec::new();
    let mut cur = error.source();
    while let Some(c) = cur {
        causes.push(c.to_string());
        cur = c.source();
    }
    Printer::default().json(&serde_json::json!({
        "error": {
            "message": error.to_string(),
            "causes": causes,
            "class": class.name(),
            "exit_code": class.code(),
        }
    }))
}

/// Whether `error` (or one of its causes) is a closed stdout.
pub fn is_broken_pipe(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(error);
    while let Some(e) = cur {
        if e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
        {
            return true;
        }
        cur = e.source();
    }
    false
}
