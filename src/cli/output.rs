//! Rendering reports as text tables or JSON, and stderr notices.

use std::io::{IsTerminal, Write};

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use serde::Serialize;

use super::ColorChoice;
use super::settings::{KEYS, Settings};
use crate::commands::dedup::DedupReport;
use crate::commands::inspect::{AliasesReport, Duplicates, Stats};
use crate::commands::scan::ScanReport;

/// Where notices go, and whether they may be coloured.
#[derive(Clone, Debug)]
pub struct Out {
    color: bool,
    quiet: bool,
}

impl Out {
    pub fn new(choice: ColorChoice, quiet: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color && std::io::stderr().is_terminal(),
        };
        Out { color, quiet }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn warn(&self, msg: &str) {
        eprintln!("{} {msg}", self.paint("33;1", "warning:"));
    }

    pub fn error(&self, msg: &str) {
        eprintln!("{} {msg}", self.paint("31;1", "error:"));
    }

    pub fn note(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }
}

pub fn json<T: Serialize + ?Sized>(value: &T) {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let _ = serde_json::to_writer_pretty(&mut lock, value);
    let _ = writeln!(lock);
}

/// `1234567` → `1.2 MB` (decimal units, as archives list sizes).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY).set_header(header.to_vec());
    t
}

pub fn scan(out: &Out, r: &ScanReport) {
    println!(
        "scanned `{}`: {} new contents, {} new paths, {} unchanged (not re-hashed), {} changed, {} removed",
        r.root, r.new_contents, r.new_locations, r.unchanged, r.changed, r.removed
    );
    println!(
        "hashed {} files ({}), {} symlinks, {} aliases added{}",
        r.hashed,
        bytes(r.hashed_bytes),
        r.symlinks,
        r.aliases_added,
        if r.archived > 0 {
            format!(", {} archived into the store", r.archived)
        } else {
            String::new()
        }
    );
    if !r.skipped.is_empty() {
        out.warn(&format!("skipped {} files:", r.skipped.len()));
        for s in &r.skipped {
            eprintln!("  {}: {}", s.path, s.reason);
        }
    }
}

pub fn dedup(out: &Out, r: &DedupReport) {
    if r.plan.groups.is_empty() {
        println!("no duplicates to link");
        return;
    }
    for g in &r.plan.groups {
        println!(
            "keep    {}  ({}, {})",
            g.keep,
            &g.sha256[..12],
            bytes(g.size)
        );
        for v in &g.replace {
            println!("  link  {v}");
        }
    }
    let n: usize = r.plan.groups.iter().map(|g| g.replace.len()).sum();
    if r.executed {
        println!(
            "replaced {} of {n} copies with {} links; saved {}",
            r.replaced,
            match r.link {
                crate::commands::dedup::LinkMode::Symlink => "symbolic",
                crate::commands::dedup::LinkMode::Hardlink => "hard",
            },
            bytes(r.bytes_saved)
        );
    } else {
        println!(
            "dry run: {n} copies in {} groups would be linked, saving {}; run with --execute to apply",
            r.plan.groups.len(),
            bytes(r.plan.bytes_saved)
        );
    }
    if !r.excluded_missions.is_empty() {
        out.note(&format!(
            "left alone (dedup off): {}",
            r.excluded_missions.join(", ")
        ));
    }
    for s in &r.skipped {
        out.warn(&format!("skipped `{}`: {}", s.path, s.reason));
    }
}

pub fn aliases(out: &Out, reports: &[AliasesReport]) {
    if reports.len() > 1 {
        out.warn(&format!(
            "this name is shared by {} different contents",
            reports.len()
        ));
    }
    for (i, r) in reports.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("sha256      {}", r.sha256);
        println!("canonical   {}", r.canonical);
        println!(
            "type        {}{}",
            r.kernel_type,
            r.byte_order
                .as_deref()
                .map(|b| format!(" ({b})"))
                .unwrap_or_default()
        );
        println!("size        {} ({} bytes)", bytes(r.size), r.size);
        println!("aliases     {}", r.aliases.len());
        for a in &r.aliases {
            let mark = if a == &r.canonical {
                "  (canonical)"
            } else {
                ""
            };
            println!("  {a}{mark}");
        }
        println!("locations   {}", r.locations.len());
        for l in &r.locations {
            let what = match (&l.kind[..], &l.target) {
                ("symlink", Some(t)) => format!("symlink -> {t}"),
                (k, _) => k.to_owned(),
            };
            let mission = l
                .mission
                .as_deref()
                .map(|m| format!(" [{m}]"))
                .unwrap_or_default();
            println!("  {}{mission}  {what}", l.path);
        }
    }
}

pub fn stats(s: &Stats) {
    println!("contents        {}", s.contents);
    println!("locations       {}", s.locations);
    println!("names           {}", s.aliases);
    println!("unique bytes    {}", bytes(s.unique_bytes));
    println!("logical bytes   {}", bytes(s.logical_bytes));
    println!("physical bytes  {}", bytes(s.physical_bytes));
    if !s.by_type.is_empty() {
        let mut t = table(&["type", "contents", "bytes"]);
        for r in &s.by_type {
            t.add_row(vec![
                r.kernel_type.clone(),
                r.contents.to_string(),
                bytes(r.bytes),
            ]);
        }
        println!("{t}");
    }
    if !s.by_mission.is_empty() {
        let mut t = table(&["mission", "locations", "logical", "physical"]);
        for r in &s.by_mission {
            t.add_row(vec![
                r.mission.clone().unwrap_or_else(|| "-".into()),
                r.locations.to_string(),
                bytes(r.logical_bytes),
                bytes(r.physical_bytes),
            ]);
        }
        println!("{t}");
    }
}

pub fn duplicates(d: &Duplicates) {
    if d.groups.is_empty() {
        println!("no content is stored more than once");
        return;
    }
    let mut t = table(&["canonical", "sha256", "copies", "size", "wasted", "names"]);
    for g in &d.groups {
        t.add_row(vec![
            g.canonical.clone(),
            g.sha256[..12].to_owned(),
            g.copies.to_string(),
            bytes(g.size),
            bytes(g.wasted_bytes),
            g.names.join(", "),
        ]);
    }
    println!("{t}");
    println!(
        "{} groups, {} wasted",
        d.groups.len(),
        bytes(d.wasted_bytes)
    );
}

pub fn settings(s: &Settings) {
    let mut t = table(&["key", "value", "from"]);
    t.add_row(vec![
        "config file".to_owned(),
        s.config_file.value.display().to_string(),
        s.config_file.source.describe("KDB_CONFIG"),
    ]);
    t.add_row(vec![
        "home".to_owned(),
        s.home.value.display().to_string(),
        s.home.source.describe(KEYS[0].env),
    ]);
    t.add_row(vec![
        "lock_timeout".to_owned(),
        format!("{} s", s.lock_timeout.value),
        s.lock_timeout.source.describe(KEYS[1].env),
    ]);
    let home = &s.home.value;
    for (k, p) in [
        ("catalogue", home.join("kdb.sqlite")),
        ("objects", home.join("objects/sha256")),
    ] {
        t.add_row(vec![
            k.to_owned(),
            p.display().to_string(),
            "home".to_owned(),
        ]);
    }
    println!("{t}");
}
