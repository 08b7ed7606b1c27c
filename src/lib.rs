//! kdb: a SPICE kernel cache manager.
//!
//! Dependencies point one way: `cli → commands → {metakernel, remote, store, db, kernel,
//! integrity}`; `integrity` (checksum tables, DAF/DAS sanity) reads through the one DAF
//! walker in `coverage` and uses nothing else. Among the core modules, `remote` uses
//! `store::fsio` (downloads are staged through the write chokepoint) and `kernel` (a
//! body is checked to be a kernel); `store` uses `db` for its operations over catalogue
//! rows (garbage collection, dedup, archiving); `db`, `kernel`, `coverage` and
//! `metakernel` use no other kdb module but `content`/`kernel`. docs/design.md draws the
//! graph (`scripts/check_layout.py --graph` prints the real one).
//! `team` (the team store, DESIGN.md §6) sits beside `remote`: it uses `remote`
//! (transfers, listings), `store::fsio` (staging) and `kernel` (content checks).

/// A report status: an enum that serialises (and displays) as one snake_case word,
/// so JSON consumers see stable strings and the code matches on variants.
macro_rules! report_status {
    ($(#[$meta:meta])* $vis:vis enum $name:ident {
        $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
        #[serde(rename_all = "snake_case")]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(match self {
                    $(Self::$variant => $text),+
                })
            }
        }
    };
}

pub mod bundle;
pub mod cli;
pub mod commands;
pub mod content;
pub mod db;
pub mod integrity;
pub mod interrupt;
pub mod kernel;
pub mod lockfile;
pub mod metakernel;
pub mod remote;
pub mod store;

/// `error` followed by each of its causes, `: `-separated (for one-line reports).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut s = error.to_string();
    let mut cur = error.source();
    while let Some(e) = cur {
        s.push_str(": ");
        s.push_str(&e.to_string());
        cur = e.source();
    }
    s
}

/// At most `max` characters of `s` (a name or text a user or a file supplied), with
/// `…` and the count of characters left out when shortened, so a hostile 3 GB name
/// or a 400 KB line never becomes a 3 GB or 400 KB message.
pub fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((cut, _)) => {
            let left = s[cut..].chars().count();
            format!("{}… ({left} more characters)", &s[..cut])
        }
    }
}

/// The longest name or line [`ShortMessage`] and messages about user input show.
pub const MESSAGE_MAX: usize = 200;

/// A cause whose text was too long to show whole (a parser's error quoting a
/// 400 KB line): each line shortened with [`shorten`] to [`MESSAGE_MAX`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortMessage(pub String);

impl ShortMessage {
    pub fn of(e: &dyn std::fmt::Display) -> Self {
        let text = e.to_string();
        ShortMessage(
            text.lines()
                .map(|l| shorten(l, MESSAGE_MAX))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }
}

impl std::fmt::Display for ShortMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ShortMessage {}

pub mod coverage;
pub mod team;
