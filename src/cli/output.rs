//! Rendering reports as human text, and stderr notices.
//!
//! Renderers write into a `String` (which cannot fail); [`super::printer::Printer`]
//! is the one place that writes to stdout. Notices go to stderr through [`Out`].

/// `writeln!` into a `String` buffer: infallible, so the result is dropped.
macro_rules! say {
    ($w:expr) => {
        $w.push('\n')
    };
    ($w:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($w, $($arg)*);
    }};
}

use std::io::IsTerminal;

use super::table::Table;

use super::ColorChoice;
use super::settings::{CONFIG_ENV, Settings};
use crate::commands::browse::BrowseReport;
use crate::commands::dedup::DedupReport;
use crate::commands::get::{self, GetPlan, GetReport, UpdateItem};
use crate::commands::inspect::{AliasesReport, Duplicates, Stats};
use crate::commands::mission::MissionList;
use crate::commands::mk::{CheckReport, CheckStatus, ListReport, RewriteMode, RewriteReport};
use crate::commands::scan::ScanReport;
use crate::db::{LocationKind, MetakernelRow};

/// The longest line written to stderr (a long path fits; a 3 GB name does not).
pub const MAX_LINE: usize = 8192;

/// Where notices go, and whether they may be coloured.
#[derive(Clone, Debug)]
pub struct Out {
    color: bool,
    pub quiet: bool,
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

    // The stderr writers: the only places that print to stderr (besides the
    // progress bars). A closed stderr is ignored: there is nowhere left to report.

    /// Writes `msg` and a newline to stderr; a line longer than [`MAX_LINE`]
    /// characters (text from a hostile input that no message shortened) is cut.
    pub fn raw(&self, msg: &str) {
        use std::io::Write as _;
        let msg = if msg.len() > MAX_LINE {
            msg.lines()
                .map(|l| crate::shorten(l, MAX_LINE))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            msg.to_owned()
        };
        let _ = writeln!(std::io::stderr().lock(), "{msg}");
    }

    pub fn warn(&self, msg: &str) {
        self.raw(&format!("{} {msg}", self.paint("33;1", "warning:")));
    }

    pub fn error(&self, msg: &str) {
        self.raw(&format!("{} {msg}", self.paint("31;1", "error:")));
    }

    /// An error and its causes, one `caused by:` line each.
    pub fn error_chain(&self, error: &(dyn std::error::Error + 'static)) {
        self.error(&error.to_string());
        let mut cause = error.source();
        while let Some(c) = cause {
            self.raw(&format!("  caused by: {c}"));
            cause = c.source();
        }
    }

    pub fn note(&self, msg: &str) {
        if !self.quiet {
            self.raw(msg);
        }
    }
}

/// `n` and a noun, singular for one: `1 kernel`, `2 kernels`, `1 entry`, `3 entries`.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        return format!("1 {noun}");
    }
    match noun.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'o', 'u']) => format!("{n} {stem}ies"),
        _ => format!("{n} {noun}s"),
    }
}

/// `1 alias`, `2 aliases` (other names a content was published under).
fn alias_count(n: impl Into<u64>) -> String {
    match n.into() {
        1 => "1 alias".to_owned(),
        n => format!("{n} aliases"),
    }
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

pub(crate) fn table(header: &[&str]) -> Table {
    Table::new(header)
}

pub fn scan(w: &mut String, out: &Out, r: &ScanReport) {
    say!(
        w,
        "scanned `{}`: {} new contents, {} new paths, {} unchanged (not re-hashed), {} changed, {} removed",
        r.root,
        r.new_contents,
        r.new_locations,
        r.unchanged,
        r.changed,
        r.removed
    );
    say!(
        w,
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
            out.raw(&format!("  {}: {}", s.path, s.reason));
        }
    }
}

pub fn dedup(w: &mut String, out: &Out, r: &DedupReport) {
    if r.plan.groups.is_empty() {
        say!(w, "no duplicates to link");
        return;
    }
    for g in &r.plan.groups {
        say!(
            w,
            "keep    {}  ({}, {})",
            g.keep,
            g.sha256.short(12),
            bytes(g.size)
        );
        for v in &g.replace {
            say!(w, "  link  {v}");
        }
    }
    let n: usize = r.plan.groups.iter().map(|g| g.replace.len()).sum();
    if r.executed {
        say!(
            w,
            "replaced {} of {n} copies with {} links; saved {}",
            r.replaced,
            match r.link {
                crate::commands::dedup::LinkMode::Symlink => "symbolic",
                crate::commands::dedup::LinkMode::Hardlink => "hard",
            },
            bytes(r.bytes_saved)
        );
    } else {
        say!(
            w,
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

pub fn aliases(w: &mut String, out: &Out, reports: &[AliasesReport]) {
    if reports.len() > 1 {
        out.warn(&format!(
            "this name is shared by {} different contents",
            reports.len()
        ));
    }
    for (i, r) in reports.iter().enumerate() {
        if i > 0 {
            say!(w);
        }
        say!(w, "sha256      {}", r.sha256);
        say!(w, "canonical   {}", r.canonical);
        say!(
            w,
            "type        {}{}",
            r.kernel_type,
            r.byte_order
                .as_deref()
                .map(|b| format!(" ({b})"))
                .unwrap_or_default()
        );
        // A kernel without segments has nothing to say here.
        if let Some(c) = r.coverage.as_deref().filter(|c| !c.is_empty()) {
            say!(w, "covers      {c}");
        }
        say!(w, "size        {} ({} bytes)", bytes(r.size), r.size);
        say!(w, "aliases     {}", r.aliases.len());
        for a in &r.aliases {
            let mark = if a == &r.canonical {
                "  (canonical)"
            } else {
                ""
            };
            say!(w, "  {a}{mark}");
        }
        say!(w, "locations   {}", r.locations.len());
        for l in &r.locations {
            let what = match (l.kind, &l.target) {
                (LocationKind::Symlink, Some(t)) => format!("symlink -> {t}"),
                (k, _) => k.as_str().to_owned(),
            };
            let mission = l
                .mission
                .as_deref()
                .map(|m| format!(" [{m}]"))
                .unwrap_or_default();
            say!(w, "  {}{mission}  {what}", l.path);
        }
    }
}

pub fn stats(w: &mut String, s: &Stats) {
    say!(w, "contents        {}", s.contents);
    say!(w, "locations       {}", s.locations);
    say!(w, "names           {}", s.aliases);
    say!(w, "unique bytes    {}", bytes(s.unique_bytes));
    say!(w, "logical bytes   {}", bytes(s.logical_bytes));
    say!(w, "physical bytes  {}", bytes(s.physical_bytes));
    if !s.by_type.is_empty() {
        let mut t = table(&["type", "contents", "bytes"]);
        for r in &s.by_type {
            t.add_row(vec![
                r.kernel_type.clone(),
                r.contents.to_string(),
                bytes(r.bytes),
            ]);
        }
        say!(w, "{t}");
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
        say!(w, "{t}");
    }
}

pub fn duplicates(w: &mut String, d: &Duplicates) {
    if d.groups.is_empty() {
        say!(w, "no content is stored more than once");
        return;
    }
    let mut t = table(&["canonical", "sha256", "copies", "size", "wasted", "names"]);
    for g in &d.groups {
        t.add_row(vec![
            g.canonical.clone(),
            g.sha256.short(12).to_owned(),
            g.copies.to_string(),
            bytes(g.size),
            bytes(g.wasted_bytes),
            g.names.join(", "),
        ]);
    }
    say!(w, "{t}");
    say!(
        w,
        "{} groups, {} wasted",
        d.groups.len(),
        bytes(d.wasted_bytes)
    );
}

pub fn settings(w: &mut String, s: &Settings) {
    let mut t = table(&["key", "value", "from"]);
    t.add_row(vec![
        "config file".to_owned(),
        s.config_file.value.display().to_string(),
        s.config_file.source.describe(CONFIG_ENV),
    ]);
    for (key, v) in s.rows() {
        t.add_row(vec![
            key.name.to_owned(),
            v.value.to_string(),
            v.source.describe(key.env),
        ]);
    }
    let home = s.home();
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
    say!(w, "{t}");
}

pub fn list(w: &mut String, out: &Out, r: &ListReport) {
    // The coverage column (IDs and span, from the index) only when some entry has one.
    let covers = r.entries.iter().any(|e| e.coverage.is_some());
    let mut t = if covers {
        table(&[
            "#",
            "kernel",
            "type",
            "size",
            "covers (IDs, TDB days)",
            "path",
        ])
    } else {
        table(&["#", "kernel", "type", "size", "path"])
    };
    for e in &r.entries {
        let size = match e.size {
            Some(s) if e.other_names > 0 => {
                format!("{} (+{})", bytes(s), alias_count(e.other_names))
            }
            Some(s) => bytes(s),
            None => "-".into(),
        };
        let mut row = vec![
            e.index.to_string(),
            e.file_name.clone(),
            e.kernel_type.map(|k| k.as_str()).unwrap_or("?").to_owned(),
            size,
        ];
        if covers {
            row.push(e.coverage.clone().unwrap_or_else(|| "-".into()));
        }
        row.push(e.path.clone());
        t.add_row(row);
    }
    say!(w, "{t}");
    say!(
        w,
        "{} in `{}`",
        count(r.entries.len() as u64, "entry"),
        r.metakernel
    );
    let file = file_of(&r.metakernel);
    for w in &r.warnings {
        out.warn(&format!("{file}: {w}"));
    }
}

pub fn check(w: &mut String, r: &CheckReport) {
    let mut t = table(&["status", "kernel", "local path"]);
    for e in &r.entries {
        let local = match (&e.local_path, &e.mission) {
            (Some(p), Some(m)) if e.status == CheckStatus::Fallback => format!("{p} (from {m})"),
            (Some(p), _) => p.clone(),
            (None, _) => "-".into(),
        };
        t.add_row(vec![e.status.to_string(), e.file_name.clone(), local]);
    }
    say!(w, "{t}");
    say!(
        w,
        "{} present, {} from another mission, {} missing ({})",
        r.present,
        r.fallback,
        r.missing,
        count(r.entries.len() as u64, "entry")
    );
}

pub fn rewrite(w: &mut String, out: &Out, r: &RewriteReport) {
    let file = file_of(&r.metakernel);
    for w in &r.warnings {
        out.warn(&format!("{file}: {w}"));
    }
    for u in &r.unresolved {
        out.error(&format!("no local copy for `{u}`"));
    }
    let how = if r.mode == RewriteMode::PathValues {
        "only PATH_VALUES changed"
    } else {
        "the entry strings changed: no PATH_SYMBOLS, or entries written with `\\`"
    };
    say!(
        w,
        "wrote `{}` ({how}); {} links under `{}`{}",
        r.output,
        r.linked,
        r.link_root,
        if r.unresolved.is_empty() {
            String::new()
        } else {
            format!(", {} unresolved", r.unresolved.len())
        }
    );
}

pub fn get_plan(out: &Out, p: &GetPlan) {
    if let Some(w) = &p.window {
        get_window_plan(out, p, w);
        return;
    }
    let mut t = table(&["kernel", "size", "status"]);
    for e in &p.entries {
        let size = match (e.size, e.other_names) {
            (Some(s), 0) => bytes(s),
            (Some(s), n) => format!("{} (+{})", bytes(s), alias_count(n)),
            (None, _) => "?".into(),
        };
        t.add_row(vec![e.name.clone(), size, e.status.to_string()]);
    }
    out.note(&format!(
        "{t}\n{}: {}, {} to download (mission {})",
        p.metakernel_url,
        count(p.entries.len() as u64, "entry"),
        p.to_download,
        p.mission
    ));
}

/// A windowed plan: every entry with its decision and why, then the savings.
fn get_window_plan(out: &Out, p: &GetPlan, w: &crate::commands::get::window::WindowView) {
    let mut t = table(&["kernel", "size", "window", "why", "status"]);
    let mut status = p
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.status.to_string()));
    for e in &w.entries {
        let st = if e.decision == crate::commands::get::window::Decision::Taken {
            status.next().map(|(_, s)| s).unwrap_or_default()
        } else {
            "-".to_owned()
        };
        t.add_row(vec![
            e.name.clone(),
            e.size.map_or("?".into(), bytes),
            e.decision.to_string(),
            e.reason.clone(),
            st,
        ]);
    }
    out.note(&format!(
        "{t}\n{}: window {}: {} taken, {} skipped ({} not downloaded); probes: {} kernels, {} range requests, {} ({} cached, {} unknown); {} to download (mission {})",
        p.metakernel_url,
        w.spec.describe(),
        w.taken,
        w.skipped,
        bytes(w.bytes_saved),
        w.probes.probed,
        w.probes.requests,
        bytes(w.probes.bytes),
        w.probes.cached,
        w.probes.unknown,
        p.to_download,
        p.mission
    ));
}

pub fn get(w: &mut String, out: &Out, r: &GetReport) {
    if r.dry_run {
        get_plan(out, &r.plan);
        say!(w, "dry run: nothing downloaded");
        return;
    }
    if r.declined {
        out.note("declined: nothing downloaded, nothing registered");
        return;
    }
    if r.interrupted {
        let stopped = r.failed.len();
        out.error(&format!(
            "interrupted: {} that arrived {} kept ({}); {} not finished (partial ones resume); \
             the metakernel was not written. Run the same command again to fetch the rest.",
            count(r.downloaded as u64, "kernel"),
            if r.downloaded == 1 { "is" } else { "are" },
            bytes(r.downloaded_bytes),
            stopped,
        ));
        return;
    }
    for f in &r.failed {
        out.error(&format!("{} ({}): {}", f.name, f.url, f.error));
    }
    if !r.failed.is_empty() {
        out.error(&format!(
            "{} of {} downloads failed; the metakernel was not registered (kernels that arrived are kept)",
            r.failed.len(),
            r.failed.len() + r.downloaded
        ));
        if r.failed.iter().all(get::Failure::is_gone) {
            out.note(
                "the server no longer has these kernels: `--allow-missing` writes the \
                 metakernel without them",
            );
        }
        return;
    }
    if !r.left_out.is_empty() {
        let names: Vec<&str> = r.left_out.iter().map(|f| f.name.as_str()).collect();
        out.warn(&format!(
            "the server no longer has {}; the metakernel leaves {} out: {}",
            count(names.len() as u64, "kernel"),
            if names.len() == 1 { "it" } else { "them" },
            names.join(", ")
        ));
    }
    if let Some(mk) = &r.metakernel {
        say!(
            w,
            "downloaded {} ({}); {} in place",
            count(r.downloaded as u64, "kernel"),
            bytes(r.downloaded_bytes),
            count(r.plan.entries.len() as u64, "entry")
        );
        if let Some(win) = &r.plan.window {
            say!(
                w,
                "window {}: {} skipped ({} not downloaded)",
                win.spec.describe(),
                count(win.skipped as u64, "kernel"),
                bytes(win.bytes_saved)
            );
        }
        if r.from_team > 0 || r.published > 0 {
            say!(
                w,
                "team store: {} kernels from it, {} published to it",
                r.from_team,
                r.published
            );
        }
        say!(w, "ready: {mk}");
    }
}

pub fn update(w: &mut String, out: &Out, items: &[UpdateItem]) {
    for item in items {
        if item.report.unchanged {
            say!(w, "{}: unchanged on the server", item.name);
        } else {
            get(w, out, &item.report);
        }
    }
}

pub fn browse(w: &mut String, r: &BrowseReport) {
    let mut t = table(&["metakernel", "size", "modified", "local", "snapshots"]);
    for e in &r.metakernels {
        let size = match (e.size, e.size_exact) {
            (Some(s), true) => bytes(s),
            (Some(s), false) => format!("~{}", bytes(s)),
            (None, _) => "-".into(),
        };
        let name = if e.version.is_some() {
            format!("  {}", e.name)
        } else {
            e.name.clone()
        };
        t.add_row(vec![
            name,
            size,
            e.modified.clone().unwrap_or_default(),
            e.local.to_string(),
            if e.snapshots > 0 {
                e.snapshots.to_string()
            } else {
                String::new()
            },
        ]);
    }
    say!(w, "{t}");
    say!(
        w,
        "{} at {}",
        count(r.metakernels.len() as u64, "metakernel"),
        r.url
    );
}

pub fn missions(w: &mut String, r: &MissionList) {
    if r.missions.is_empty() {
        say!(
            w,
            "no mission configured; add one with `kdb mission add NAME`"
        );
        return;
    }
    // The mirrors column only when a mission has one.
    let mirrored = r.missions.iter().any(|m| !m.mirrors.is_empty());
    let mut head = vec!["mission", "mk/ directory", "dedup"];
    if mirrored {
        head.push("mirrors");
    }
    let mut t = table(&head);
    for m in &r.missions {
        let mut row = vec![
            m.name.clone(),
            m.mk_dir_url.clone().unwrap_or_default(),
            if m.dedup { "links" } else { "copies" }.to_owned(),
        ];
        if mirrored {
            row.push(m.mirrors.join("\n"));
        }
        t.add_row(row);
    }
    say!(w, "{t}");
}

pub fn metakernels(w: &mut String, rows: &[MetakernelRow]) {
    if rows.is_empty() {
        say!(w, "no metakernel acquired yet; use `kdb get URL`");
        return;
    }
    let mut t = table(&["metakernel", "mission", "acquired", "local path"]);
    for m in rows {
        t.add_row(vec![
            m.name.clone(),
            m.mission.clone().unwrap_or_default(),
            m.acquired_at.to_string(),
            m.local_path.clone(),
        ]);
    }
    say!(w, "{t}");
}

/// The file name of a metakernel path or URL, for warnings that must say which file.
fn file_of(origin: &str) -> &str {
    origin.rsplit('/').next().unwrap_or(origin)
}
