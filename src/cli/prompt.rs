//! Prompts. None is ever shown without a terminal: the command fails instead and
//! names the flag that answers the question.

use std::io::{BufRead, IsTerminal, Write};

use crate::commands::Error;

/// Asks a yes/no question on stderr; `Err` when stdin is not a terminal.
pub fn confirm(question: &str, what: &str, flag: &'static str) -> Result<bool, Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::NeedsConfirmation {
            what: format!("`kdb {what}`"),
            flag,
        });
    }
    ask(&format!("{question} [y/N] "));
    let mut line = String::new();
    // EOF (Ctrl-D) reads as "no".
    let _ = std::io::stdin().lock().read_line(&mut line);
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// Asks for a number in 1..=n; returns the 0-based choice.
pub fn choose(question: &str, n: usize) -> Result<usize, Error> {
    ask(&format!("{question} [1-{n}]: "));
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    match line.trim().parse::<usize>() {
        Ok(k) if (1..=n).contains(&k) => Ok(k - 1),
        _ => Err(Error::Usage(format!("expected a number from 1 to {n}"))),
    }
}

/// Writes a question (no newline) to stderr, where prompts go.
fn ask(question: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(question.as_bytes());
    let _ = err.flush();
}
