//! The coverage commands' arguments and rendering: `coverage`, `which`, `gaps`,
//! `reindex` (docs/cli.md; JSON shapes in `coverage::report`).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::app::{App, Outcome, done};
use super::printer::Printer;
use crate::commands::coverage::{self as cmd, CoverageQuery, Target, TimeFormat};
use crate::coverage::Level;
use crate::coverage::report::{Bound, CoverageReport, GapsReport, IdReport, WhichReport};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LevelArg {
    Segment,
    Interval,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum TimeArg {
    Utc,
    Et,
    Sclk,
}

#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// NAIF IDs or names to report [default: every ID], and kernel files (an argument
    /// naming an existing file is a FILE)
    #[arg(allow_negative_numbers = true)]
    pub ids: Vec<String>,
    /// Metakernel (path, registered name or URL) whose kernels to report
    #[arg(long, value_name = "MK")]
    pub mk: Option<String>,
    /// Kernel files (binary kernels, and the LSK/SCLK/FK text kernels to use)
    #[arg(long = "file", short = 'f', value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// CK granularity (SPK and PCK windows are always segment unions)
    #[arg(long, value_enum, default_value_t = LevelArg::Interval)]
    pub level: LevelArg,
    /// Bounds as ISO UTC (`et2utc` ISOC, 3 decimals), ET seconds or CK encoded ticks
    /// [default: utc when an LSK is loaded, else et; `--json`: et]
    #[arg(long, value_enum)]
    pub time: Option<TimeArg>,
    /// Only coverage at T (UTC `2031-07-02T10:14:00` or `ET:<seconds>`)
    #[arg(long, value_name = "T", conflicts_with_all = ["from", "to"])]
    pub at: Option<String>,
    /// Only coverage from T (with --to)
    #[arg(long, value_name = "T", requires = "to")]
    pub from: Option<String>,
    /// Only coverage up to T (with --from)
    #[arg(long, value_name = "T", requires = "from")]
    pub to: Option<String>,
    /// Also the union per ID over all kernels (as `brief -a`)
    #[arg(long)]
    pub merge: bool,
    /// CK: only segments with angular velocity (`ckcov` needav = true)
    #[arg(long)]
    pub need_av: bool,
    /// With IDs: also list the kernels that have no data for them
    #[arg(long)]
    pub all_kernels: bool,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

/// What `which` and `gaps` ask about: `ID --mk MK`, `--mk MK --body X`, or the
/// older `MK --body X` / `MK --frame X`.
#[derive(Debug, Args)]
pub struct QuestionArgs {
    /// The body or frame (NAIF ID or name) with `--mk`; without it, the metakernel
    /// (then `--body` or `--frame` names the target)
    #[arg(allow_negative_numbers = true, value_name = "ID|NAME|MK", num_args = 0..=1)]
    pub arg: Option<String>,
    /// Metakernel (path, registered name or URL)
    #[arg(long, value_name = "MK")]
    pub mk: Option<String>,
    /// SPK target: NAIF ID or body name
    #[arg(long, allow_hyphen_values = true, conflicts_with = "frame")]
    pub body: Option<String>,
    /// CK or binary PCK frame: class ID or frame name
    #[arg(long, allow_hyphen_values = true)]
    pub frame: Option<String>,
}

#[derive(Debug, Args)]
pub struct WhichArgs {
    #[command(flatten)]
    pub q: QuestionArgs,
    /// Epoch: UTC (`2031-07-02T10:14:00`) or `ET:<seconds>`
    #[arg(long, value_name = "T")]
    pub at: String,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GapsArgs {
    #[command(flatten)]
    pub q: QuestionArgs,
    /// Start of the window (UTC or `ET:<seconds>`)
    #[arg(long, value_name = "T")]
    pub from: String,
    /// End of the window (UTC or `ET:<seconds>`)
    #[arg(long, value_name = "T")]
    pub to: String,
    /// Bounds as ISO UTC or ET seconds (JSON keeps ET seconds unless `--time utc`)
    #[arg(long, value_enum)]
    pub time: Option<TimeArg>,
    /// Print JSON instead of text (the shapes are in docs/cli.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReindexArgs {
    /// Re-register every object of the store by its hash (and the mission-tree links to
    /// them): the way back after `kdb reset` or a lost catalogue
    #[arg(long)]
    pub store: bool,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// The metakernel and the target of `which`/`gaps`, given either way: `MK --body X`
/// (or `--frame X`), or `X --mk MK` (X a body or frame ID or name), or `--mk MK
/// --body X`.
fn question(q: QuestionArgs) -> Result<(String, Target), crate::commands::Error> {
    let QuestionArgs {
        arg,
        mk,
        body,
        frame,
    } = q;
    let usage = |m: &str| crate::commands::Error::Usage(m.to_owned());
    let named = match (body, frame) {
        (Some(b), _) => Some(Target::Body(b)),
        (None, Some(f)) => Some(Target::Frame(f)),
        (None, None) => None,
    };
    match (mk, arg, named) {
        (Some(mk), None, Some(t)) | (None, Some(mk), Some(t)) => Ok((mk, t)),
        (Some(mk), Some(x), None) => Ok((mk, Target::Either(x))),
        (Some(_), Some(x), Some(_)) => Err(usage(&format!(
            "`{x}` and `--body`/`--frame` both name a target; give one"
        ))),
        (None, Some(_), None) => Err(usage(
            "name the target: `ID --mk MK`, or `MK --body ID|NAME` / `MK --frame ID|NAME`",
        )),
        (_, None, _) => Err(usage(
            "give a metakernel: `--mk MK` (or it as the first argument)",
        )),
    }
}

pub fn coverage(app: &App<'_>, p: &mut Printer, a: CoverageArgs) -> Outcome {
    let (files, ids): (Vec<String>, Vec<String>) = a
        .ids
        .into_iter()
        .partition(|s| std::path::Path::new(s).is_file());
    let mut a = CoverageArgs { ids, ..a };
    a.files.extend(files.into_iter().map(PathBuf::from));
    if a.mk.is_none() && a.files.is_empty() {
        return Err(crate::commands::Error::Usage(
            "give a metakernel (`--mk MK`) or kernel files (`--file FILE`)".into(),
        )
        .into());
    }
    let mut inputs = match a.mk.as_deref() {
        Some(mk) if is_http(mk) && a.files.is_empty() => remote(app, mk)?,
        mk => cmd::gather(&app.ctx, mk, &a.files)?,
    };
    let time = a.time.unwrap_or_else(|| default_time(&mut inputs, a.json));
    let (from, to) = match (&a.at, a.from, a.to) {
        (Some(t), _, _) => (Some(t.clone()), Some(t.clone())),
        (None, f, t) => (f, t),
    };
    let q = CoverageQuery {
        ids: a.ids,
        level: match a.level {
            LevelArg::Segment => Level::Segment,
            LevelArg::Interval => Level::Interval,
        },
        time: time_format(time),
        from,
        to,
        merge: a.merge,
        need_av: a.need_av,
        all_kernels: a.all_kernels,
    };
    let binaries = inputs.binaries.len();
    let asked = q.ids.join(", ");
    let r = cmd::coverage(&mut inputs, &q)?;
    done(p.emit(a.json, &r, |w, r| {
        human_coverage(w, r);
        if r.kernels.is_empty() {
            say!(w, "{}", nothing_covered(binaries, &asked, q.all_kernels));
        }
    }))
}

/// What an empty coverage answer means, in words (the JSON says it with an empty
/// `kernels` list).
fn nothing_covered(binaries: usize, asked: &str, all_kernels: bool) -> String {
    match (binaries, asked.is_empty()) {
        (0, _) => "no binary kernel (SPK, CK, binary PCK) is loaded: nothing has coverage \
                   (text kernels only)"
            .to_owned(),
        (n, false) if !all_kernels => format!(
            "none of the {n} binary kernels has data for {asked} (`--all-kernels` lists them)"
        ),
        (n, _) => format!("none of the {n} binary kernels has data in the window asked"),
    }
}

/// What people read by default: UTC when the inputs have an LSK to convert with, ET
/// seconds otherwise; JSON keeps ET seconds (scripts were written against them).
fn default_time(inputs: &mut cmd::Inputs, json: bool) -> TimeArg {
    if !json && inputs.time.lsk().is_ok() {
        TimeArg::Utc
    } else {
        TimeArg::Et
    }
}

fn time_format(t: TimeArg) -> TimeFormat {
    match t {
        TimeArg::Utc => TimeFormat::Utc,
        TimeArg::Et => TimeFormat::Et,
        TimeArg::Sclk => TimeFormat::Sclk,
    }
}

/// An http(s) metakernel: probed remotely, no kernel body downloaded (issue 11).
/// A metakernel given by URL (`http`, `https` or `file`): its entries are resolved as
/// `get` resolves them and probed where they are served, not looked up locally.
fn is_http(mk: &str) -> bool {
    mk.starts_with("http://") || mk.starts_with("https://") || mk.starts_with("file://")
}

fn remote(app: &App<'_>, mk: &str) -> Result<cmd::Inputs, crate::commands::Error> {
    crate::commands::coverage::remote_inputs(&app.ctx, &app.net(None), mk)
}

fn inputs_of(app: &App<'_>, mk: &str) -> Result<cmd::Inputs, crate::commands::Error> {
    if is_http(mk) {
        remote(app, mk)
    } else {
        cmd::gather(&app.ctx, Some(mk), &[])
    }
}

pub fn which(app: &App<'_>, p: &mut Printer, a: WhichArgs) -> Outcome {
    let (mk, target) = question(a.q)?;
    let mut inputs = inputs_of(app, &mk)?;
    let r = cmd::which(&mut inputs, &target, &a.at)?;
    let code = if r.winner.is_some() { 0 } else { 1 };
    super::app::finish(p.emit(a.json, &r, human_which), code)
}

pub fn gaps(app: &App<'_>, p: &mut Printer, a: GapsArgs) -> Outcome {
    let (mk, target) = question(a.q)?;
    let mut inputs = inputs_of(app, &mk)?;
    let utc = a.time.unwrap_or_else(|| default_time(&mut inputs, a.json)) == TimeArg::Utc;
    let r = cmd::gaps(&mut inputs, &target, &a.from, &a.to, utc)?;
    done(p.emit(a.json, &r, human_gaps))
}

#[derive(serde::Serialize)]
struct ReindexReport {
    indexed: u64,
    refused: u64,
    unavailable: u64,
}

pub fn reindex(app: &App<'_>, p: &mut Printer, a: ReindexArgs) -> Outcome {
    if a.store {
        let r = crate::commands::adopt::run(&app.ctx)?;
        return done(p.emit(a.json, &r, |w, r| {
            say!(
                w,
                "re-registered {} of {} objects ({} already known), {} mission-tree links",
                r.adopted,
                r.objects,
                r.known,
                r.links
            );
            if r.adopted > 0 {
                say!(
                    w,
                    "pinned as `{0}`: `kdb unpin '{0}'` lets prune reclaim what no metakernel needs",
                    crate::commands::adopt::PIN_LABEL
                );
            }
            for q in &r.quarantined {
                say!(w, "set aside {q} (its bytes do not hash to its name)");
            }
            for n in &r.not_kernels {
                say!(w, "kept {n} (not a kernel; not registered)");
            }
        }));
    }
    let (indexed, refused, unavailable) = cmd::reindex(&app.ctx)?;
    let r = ReindexReport {
        indexed,
        refused,
        unavailable,
    };
    done(p.emit(a.json, &r, |w, r| {
        say!(
            w,
            "indexed {} kernels; {} refused by the reader; {} with no local copy",
            r.indexed,
            r.refused,
            r.unavailable
        );
    }))
}

fn bound(b: &Bound) -> String {
    match b {
        Bound::Seconds(s) => format!("{s:.6}"),
        Bound::Utc(u) => u.clone(),
    }
}

fn human_ids(w: &mut String, ids: &[IdReport], indent: &str) {
    for id in ids {
        let name = id.name.as_deref().unwrap_or("");
        let level = if id.level.is_some() {
            " (segment level)"
        } else {
            ""
        };
        say!(w, "{indent}{} {name}{level}", id.id);
        for [a, b] in &id.windows {
            say!(w, "{indent}  {} .. {}", bound(a), bound(b));
        }
    }
}

fn human_coverage(w: &mut String, r: &CoverageReport) {
    for k in &r.kernels {
        say!(
            w,
            "{} ({}, {})",
            k.file,
            k.kind.as_str(),
            k.byte_order.as_str()
        );
        if let Some(n) = &k.note {
            say!(w, "  note: {n}");
        }
        human_ids(w, &k.ids, "  ");
    }
    if let Some(m) = &r.merged {
        say!(w, "merged:");
        human_ids(w, m, "  ");
    }
}

fn human_which(w: &mut String, r: &WhichReport) {
    match &r.winner {
        Some(s) => say!(w, "winner: {} segment {}", s.file, s.segment),
        None => say!(w, "no loaded kernel covers that epoch"),
    }
    for s in &r.covering {
        say!(w, "also covering: {} segment {}", s.file, s.segment);
    }
}

fn human_gaps(w: &mut String, r: &GapsReport) {
    if r.gaps.is_empty() {
        say!(w, "{}: no gaps", r.id);
    }
    for [a, b] in &r.gaps {
        say!(w, "{}: gap {} .. {}", r.id, bound(a), bound(b));
    }
}
