//! kdb: a SPICE kernel cache manager.
//!
//! Dependencies point one way (`scripts/check_layout.py --graph` prints the real graph,
//! docs/design.md draws it): `cli → commands → everything below`;
//! `supply` (where the bytes of a content come from, how they become an object, what is
//! recorded) → `team`, `remote`, `store`, `db`, `coverage`, `kernel`, `reporter`;
//! `team` → `remote`, `store`, `kernel`; `remote` → `integrity`, `metakernel`,
//! `coverage`, `store`, `db`, `kernel`; `integrity` → `coverage`, `store`, `db`,
//! `kernel`; `store` → `db`; `bundle`, `lockfile` → `store`; `coverage` → `kernel`;
//! `db`, `kernel`, `metakernel` and `content` use no other kdb module but `content`.

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
pub mod reporter;
pub mod store;
pub mod supply;

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
