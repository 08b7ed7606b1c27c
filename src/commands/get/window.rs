//! `kdb get MK --from T --to T [--body ID|NAME ...] [--pad DURATION]`: acquire only
//! the kernels a time window needs (issue 11).
//!
//! Which entries are taken, decided before anything is downloaded:
//!
//! - text kernels (by extension: they are small and always needed), DSK/EK files,
//!   files that are not binary kernels, and binary kernels whose coverage could not
//!   be probed ([`crate::commands::probe`]: "coverage unknown → download");
//! - a binary kernel (SPK, CK, binary PCK) with at least one segment whose
//!   descriptor bounds intersect the window widened by `--pad` on both sides.
//!   SPK and PCK bounds are ET; CK bounds are encoded SCLK ticks, converted to ET
//!   through the metakernel's own SCLK and LSK kernels (fetched first), then
//!   widened by [`CK_MARGIN`] so that rounding can only take more. A CK whose
//!   ticks cannot be converted is taken.
//!
//! With `--body`, SPK segments count only for those bodies *and the centres they
//! are given relative to* (the closure, so the chain to the solar-system
//! barycentre is kept), CK segments only for instruments that are one of the
//! bodies or whose ID divided by 1000 is (the spacecraft bus convention:
//! −121000 → −121); binary PCKs are judged on time alone.
//!
//! When every kernel of a kind (SPK, CK, binary PCK) would be skipped, the smallest
//! is kept ([`keep_one_per_kind`]): CSPICE's error for "no file of this kind loaded"
//! differs from its answer for "no data", found on the real Cassini subset.
//!
//! Why this keeps SPICE's answers inside the window bit for bit: SPICE evaluates an
//! epoch from the last-loaded segment whose descriptor bounds contain it; a skipped
//! kernel has no segment whose bounds meet the window, so no epoch inside the window
//! could have used it. The taken entries keep their order (precedence unchanged).
//!
//! The local metakernel is the full one minus the skipped entries' strings (a line
//! left blank is dropped), every other byte kept, and a comment block at its end
//! recording the window. The window itself is kept in the catalogue
//! (`metakernel_windows`), so `kdb update` re-applies it and a later `kdb get`
//! without a window fetches the rest.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::commands::plan::RemotePlan;
use crate::commands::probe::{self, Probe, ProbeStats, Probed};
use crate::commands::{Error, Result};
use crate::coverage::TimeKernels;
use crate::coverage::binary::KernelKind;
use crate::db::{Catalogue, ProbeRow};
use crate::remote::fetch::{Conditional, Session};

/// Widening of converted CK bounds (seconds): tick → ET conversion rounds, and a
/// kernel taken for nothing costs bytes, a kernel skipped wrongly costs answers.
pub const CK_MARGIN: f64 = 1e-3;

/// Extensions of text kernels: taken without a probe (taking is always safe).
const TEXT_EXTENSIONS: &[&str] = &["tls", "tsc", "tf", "ti", "tpc", "tm", "txt", "tk"];

/// The window as the user gave it (and as the catalogue keeps it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bodies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad: Option<String>,
}

impl WindowSpec {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(s: &str) -> Result<WindowSpec> {
        serde_json::from_str(s)
            .map_err(|e| Error::Usage(format!("stored window `{s}` is unreadable: {e}")))
    }

    /// How the window reads on a command line.
    pub fn describe(&self) -> String {
        let mut s = format!("--from {} --to {}", self.from, self.to);
        for b in &self.bodies {
            s.push_str(&format!(" --body {b}"));
        }
        if let Some(p) = &self.pad {
            s.push_str(&format!(" --pad {p}"));
        }
        s
    }
}

/// `30`, `30s`, `15m`, `6h`, `2d` → seconds.
pub fn parse_duration(s: &str) -> Result<f64> {
    let t = s.trim();
    let (num, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let scale = match unit {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => 0.0,
    };
    match num.trim().parse::<f64>() {
        Ok(v) if scale > 0.0 && v.is_finite() && v >= 0.0 => Ok(v * scale),
        _ => Err(Error::Usage(format!(
            "`{s}` is not a duration (e.g. 30s, 15m, 6h, 2d)"
        ))),
    }
}

report_status! {
    /// What a windowed get does with one entry.
    pub enum Decision {
        Taken => "taken",
        Skipped => "skipped",
    }
}

/// One entry's decision.
#[derive(Debug, Clone, Serialize)]
pub struct WindowEntry {
    pub name: String,
    pub url: String,
    pub decision: Decision,
    pub reason: String,
    /// Size as the server reported it to the probe.
    pub size: Option<u64>,
}

/// The window part of a get plan.
#[derive(Debug, Clone, Serialize)]
pub struct WindowView {
    pub spec: WindowSpec,
    pub from_et: f64,
    pub to_et: f64,
    pub pad_seconds: f64,
    pub bodies: Vec<i32>,
    pub entries: Vec<WindowEntry>,
    pub taken: usize,
    pub skipped: usize,
    /// Bytes of the skipped kernels (not downloaded).
    pub bytes_saved: u64,
    pub probes: ProbeStats,
}

/// A windowed selection, ready for the rest of the plan.
pub(super) struct Selection {
    pub view: WindowView,
    /// Indexes (into the metakernel's entries) of the skipped ones.
    pub skipped: Vec<usize>,
    pub cache_rows: Vec<ProbeRow>,
}

fn is_text(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower
        .rsplit_once('.')
        .is_some_and(|(_, ext)| TEXT_EXTENSIONS.contains(&ext))
}

/// LSKs and SCLKs, and with `frames` FKs too (for body names they define).
fn is_time_kernel(name: &str, frames: bool) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".tls") || lower.ends_with(".tsc") || (frames && lower.ends_with(".tf"))
}

/// Whether some `--body` is a name the built-in table does not know (then the
/// metakernel's FKs are read for `NAIF_BODY_NAME`/`NAIF_BODY_CODE`; they are also read
/// when the metakernel lists a CK, for `CK_<id>_SCLK`).
fn needs_fk(spec: &WindowSpec) -> bool {
    let builtin = crate::coverage::names::builtin_bodies();
    spec.bodies
        .iter()
        .any(|b| b.trim().parse::<i32>().is_err() && builtin.code(b).is_none())
}

/// The time kernels of the metakernel (LSK, SCLK; FKs with `frames`), fetched into
/// memory in load order.
fn time_kernels(session: &Session, plan: &RemotePlan, frames: bool) -> Result<TimeKernels> {
    let mut tk = TimeKernels::new();
    let mut seen = HashSet::new();
    for e in plan
        .entries
        .iter()
        .filter(|e| is_time_kernel(&e.name, frames))
    {
        if !seen.insert(e.url.to_string()) {
            continue;
        }
        let fetched = match session.fetch_text(&e.url, None) {
            Ok(Conditional::Fetched(f)) => f,
            Ok(Conditional::NotModified) => continue,
            Err(err) => return Err(Error::Remote(Box::new(err))),
        };
        tk.load(&e.name, &fetched.bytes).map_err(|err| {
            Error::Usage(format!(
                "cannot read time kernel `{}`: {}",
                e.name,
                crate::error_chain(&err)
            ))
        })?;
    }
    Ok(tk)
}

fn epoch(tk: &mut TimeKernels, what: &str, input: &str) -> Result<f64> {
    tk.parse_epoch(input).map_err(|e| {
        Error::Usage(format!(
            "{what} `{input}`: {} (a UTC time needs the metakernel's LSK; ET:<seconds> needs none)",
            crate::error_chain(&e)
        ))
    })
}

/// Decides every entry, probing the binary ones; returns the plan of the taken
/// entries and the selection. Reads the catalogue (probe cache), fetches the time
/// kernels and probes; writes nothing.
pub(super) fn select(
    session: &Session,
    cat: &Catalogue,
    plan: RemotePlan,
    spec: &WindowSpec,
) -> Result<(RemotePlan, Selection)> {
    // FKs also say which clock a CK uses (`CK_<id>_SCLK`, e.g. BepiColombo's
    // -121001 runs on clock -121999): read them whenever a CK is listed.
    let has_ck = plan
        .entries
        .iter()
        .any(|e| e.name.to_ascii_lowercase().ends_with(".bc"));
    let mut tk = time_kernels(session, &plan, needs_fk(spec) || has_ck)?;
    let (from, to, pad, bodies) = resolve(&mut tk, spec)?;
    let (lo, hi) = (from - pad, to + pad);

    // Probe each distinct binary URL once.
    let mut items = Vec::new();
    let mut once = HashSet::new();
    for e in plan.entries.iter().filter(|e| !is_text(&e.name)) {
        if once.insert(e.url.to_string()) {
            items.push((e.url.clone(), e.name.clone()));
        }
    }
    let probes = probe::probe_all(session, cat, &items)?;
    let cache_rows = probe::cache_rows(&items, &probes);
    let stats = ProbeStats::of(&probes);
    let probes: HashMap<String, Probe> = probe::by_url(&items, probes);

    let wanted = closure(&bodies, &probes, lo, hi);
    let body_ok = |kind: KernelKind, id: i32| {
        wanted.is_empty()
            || match kind {
                KernelKind::Spk => wanted.contains(&id),
                KernelKind::Ck => wanted.contains(&id) || wanted.contains(&(id / 1000)),
                KernelKind::Pck => true,
            }
    };

    let mut entries: Vec<WindowEntry> = plan
        .entries
        .iter()
        .map(|e| {
            let p = probes.get(e.url.as_str());
            let (decision, reason) = match p.map(|p| &p.outcome) {
                None => (Decision::Taken, "text kernel".to_owned()),
                Some(Probed::NotDaf { what }) => (Decision::Taken, format!("not a DAF: {what}")),
                Some(Probed::Unknown { reason }) => {
                    (Decision::Taken, format!("coverage unknown: {reason}"))
                }
                Some(Probed::Daf(k)) => judge(k, &mut tk, lo, hi, &body_ok),
            };
            WindowEntry {
                name: e.name.clone(),
                url: e.url.to_string(),
                decision,
                reason,
                size: p.and_then(|p| p.size),
            }
        })
        .collect();
    keep_one_per_kind(&mut entries, &probes);
    let skipped: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].decision == Decision::Skipped)
        .collect();
    // Bytes saved: each skipped URL once, unless the same URL is taken elsewhere.
    let taken_urls: HashSet<&str> = entries
        .iter()
        .filter(|e| e.decision == Decision::Taken)
        .map(|e| e.url.as_str())
        .collect();
    let mut counted = HashSet::new();
    let bytes_saved: u64 = entries
        .iter()
        .filter(|e| e.decision == Decision::Skipped && !taken_urls.contains(e.url.as_str()))
        .filter(|e| counted.insert(e.url.as_str()))
        .map(|e| e.size.unwrap_or(0))
        .sum();
    let skip: HashSet<usize> = skipped.iter().copied().collect();
    let kept = RemotePlan {
        entries: plan
            .entries
            .iter()
            .enumerate()
            .filter(|(i, _)| !skip.contains(i))
            .map(|(_, e)| e.clone())
            .collect(),
        ..plan
    };
    let view = WindowView {
        spec: spec.clone(),
        from_et: from,
        to_et: to,
        pad_seconds: pad,
        bodies,
        taken: entries.len() - skipped.len(),
        skipped: skipped.len(),
        entries,
        bytes_saved,
        probes: stats,
    };
    Ok((
        kept,
        Selection {
            view,
            skipped,
            cache_rows,
        },
    ))
}

/// The window in ET, the pad in seconds and the body IDs.
fn resolve(tk: &mut TimeKernels, spec: &WindowSpec) -> Result<(f64, f64, f64, Vec<i32>)> {
    let from = epoch(tk, "--from", &spec.from)?;
    let to = epoch(tk, "--to", &spec.to)?;
    if from > to {
        return Err(Error::Usage(format!(
            "--from `{}` is after --to `{}`",
            spec.from, spec.to
        )));
    }
    let pad = spec
        .pad
        .as_deref()
        .map(parse_duration)
        .transpose()?
        .unwrap_or(0.0);
    let names = tk.bodies();
    let bodies = spec
        .bodies
        .iter()
        .map(|b| {
            b.trim()
                .parse::<i32>()
                .ok()
                .or_else(|| names.code(b))
                .ok_or_else(|| {
                    Error::Usage(format!("unknown body `{b}`; give its NAIF ID instead"))
                })
        })
        .collect::<Result<Vec<i32>>>()?;
    Ok((from, to, pad, bodies))
}

/// With `--body`: the bodies and, transitively, the centres their in-window SPK
/// segments are relative to (so the chain to the barycentre is kept). Empty: all.
fn closure(bodies: &[i32], probes: &HashMap<String, Probe>, lo: f64, hi: f64) -> HashSet<i32> {
    let mut wanted: HashSet<i32> = bodies.iter().copied().collect();
    if wanted.is_empty() {
        return wanted;
    }
    loop {
        let before = wanted.len();
        for p in probes.values() {
            if let Probed::Daf(k) = &p.outcome
                && k.kind == KernelKind::Spk
            {
                for s in &k.segments {
                    if wanted.contains(&s.id) && s.start <= hi && s.stop >= lo {
                        wanted.extend(s.center);
                    }
                }
            }
        }
        if wanted.len() == before {
            return wanted;
        }
    }
}

/// CSPICE answers "no kernel of this kind loaded" (`SPICE(NOLOADEDFILES)`) where the
/// full metakernel answers "no data" (`SPKINSUFFDATA`, `ckgp` not found): so when every
/// SPK (or CK, or binary PCK) would be skipped, the smallest one is taken — any loaded
/// file of the kind gives the full metakernel's answer for an epoch it does not cover.
fn keep_one_per_kind(entries: &mut [WindowEntry], probes: &HashMap<String, Probe>) {
    for kind in [KernelKind::Spk, KernelKind::Ck, KernelKind::Pck] {
        let of_kind: Vec<usize> = (0..entries.len())
            .filter(|&i| {
                probes
                    .get(&entries[i].url)
                    .is_some_and(|p| matches!(&p.outcome, Probed::Daf(k) if k.kind == kind))
            })
            .collect();
        if of_kind
            .iter()
            .any(|&i| entries[i].decision == Decision::Taken)
        {
            continue;
        }
        if let Some(&i) = of_kind
            .iter()
            .min_by_key(|&&i| entries[i].size.unwrap_or(u64::MAX))
        {
            entries[i].decision = Decision::Taken;
            entries[i].reason = format!(
                "kept: no other {} is taken, and CSPICE reports a missing kind differently from missing data ({})",
                kind.as_str(),
                entries[i].reason
            );
        }
    }
}

/// What a segment's ID is, said plainly: `of body 299 (VENUS)`, `of instrument
/// -121001`, `of frame class 3000 (ITRF93)`.
fn segment_of(tk: &TimeKernels, kind: KernelKind, id: i32) -> String {
    let (what, name) = match kind {
        KernelKind::Spk => ("body", tk.bodies().name(id).map(str::to_owned)),
        KernelKind::Ck => ("instrument", None),
        _ => (
            "frame class",
            tk.frames()
                .overlaid(tk.frame_classes())
                .name(id)
                .map(str::to_owned),
        ),
    };
    match name {
        Some(n) => format!("of {what} {id} ({n})"),
        None => format!("of {what} {id}"),
    }
}

/// Taken or skipped, and why, for a DAF kernel.
fn judge(
    k: &crate::coverage::index::IndexedKernel,
    tk: &mut TimeKernels,
    lo: f64,
    hi: f64,
    body_ok: &dyn Fn(KernelKind, i32) -> bool,
) -> (Decision, String) {
    let mut span: Option<(f64, f64)> = None;
    let mut relevant = 0usize;
    for s in k.segments.iter().filter(|s| body_ok(k.kind, s.id)) {
        relevant += 1;
        let (a, b) = if k.kind == KernelKind::Ck {
            match (
                tk.ck_ticks_to_et(s.id, s.start),
                tk.ck_ticks_to_et(s.id, s.stop),
            ) {
                (Ok(a), Ok(b)) => (a - CK_MARGIN, b + CK_MARGIN),
                (Err(e), _) | (_, Err(e)) => {
                    return (
                        Decision::Taken,
                        format!(
                            "CK ticks not convertible ({}): taken",
                            crate::error_chain(&e)
                        ),
                    );
                }
            }
        } else {
            (s.start, s.stop)
        };
        if a <= hi && b >= lo {
            return (
                Decision::Taken,
                format!(
                    "{} segment {} in the window",
                    k.kind.as_str(),
                    segment_of(tk, k.kind, s.id)
                ),
            );
        }
        span = Some(span.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
    }
    if relevant == 0 {
        return (
            Decision::Skipped,
            format!("no {} segment for the given bodies", k.kind.as_str()),
        );
    }
    let covers = match (span, tk.lsk()) {
        (Some((a, b)), Ok(lsk)) => match (lsk.et2utc(a, 0), lsk.et2utc(b, 0)) {
            (Ok(a), Ok(b)) => format!("{a} – {b}"),
            _ => format!("ET {a} – {b}"),
        },
        (Some((a, b)), Err(_)) => format!("ET {a} – {b}"),
        (None, _) => "nothing".into(),
    };
    (
        Decision::Skipped,
        format!("no segment in the window (covers {covers})"),
    )
}

/// The local metakernel without the strings of the entries at `drop` (indexes into
/// its entries), checked by parsing the result: every other entry kept, in order.
pub(super) fn drop_entries(local: &[u8], drop: &[usize]) -> Result<Vec<u8>> {
    let rewrite_err = |why: String| Error::Usage(format!("cannot write the metakernel: {why}"));
    let skipped = drop;
    let parsed =
        crate::metakernel::Metakernel::parse(local).map_err(|e| rewrite_err(e.to_string()))?;
    let all = parsed.entries().map_err(|e| rewrite_err(e.to_string()))?;
    let skip: HashSet<usize> = skipped.iter().copied().collect();
    if skip.iter().any(|&i| i >= all.len()) {
        return Err(rewrite_err("entry count changed".into()));
    }
    let mut spans: Vec<(usize, usize)> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| skip.contains(i))
        .flat_map(|(_, e)| e.spans.iter().map(|s| (s.start, s.end)))
        .collect();
    spans.sort_unstable();
    let mut out = Vec::with_capacity(local.len() + 256);
    let mut at = 0;
    let mut line_start_out = 0;
    let mut touched = false;
    let mut k = 0;
    while at < local.len() {
        if k < spans.len() && spans[k].0 == at {
            at = spans[k].1;
            k += 1;
            touched = true;
            // A comma right after the removed string goes with it.
            let mut j = at;
            while j < local.len() && (local[j] == b' ' || local[j] == b'\t') {
                j += 1;
            }
            if j < local.len() && local[j] == b',' {
                at = j + 1;
            }
            continue;
        }
        let b = local[at];
        out.push(b);
        at += 1;
        if b == b'\n' {
            if touched
                && out[line_start_out..]
                    .iter()
                    .all(|c| matches!(c, b' ' | b'\t' | b',' | b'\r' | b'\n'))
            {
                out.truncate(line_start_out);
            }
            line_start_out = out.len();
            touched = false;
        }
    }
    if touched
        && out[line_start_out..]
            .iter()
            .all(|c| matches!(c, b' ' | b'\t' | b','))
    {
        out.truncate(line_start_out);
    }
    // Check: the entries are the taken ones, in order.
    let want: Vec<&str> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| !skip.contains(i))
        .map(|(_, e)| e.path.as_str())
        .collect();
    let check = crate::metakernel::Metakernel::parse(&out)
        .and_then(|m| m.entries())
        .map_err(|e| rewrite_err(e.to_string()))?;
    if check.iter().map(|e| e.path.as_str()).collect::<Vec<_>>() != want {
        return Err(rewrite_err(
            "the entries left are not the taken ones".into(),
        ));
    }
    Ok(out)
}

/// Appends a comment block to a metakernel (after `\begintext` when its data
/// section is still open), in the file's own line ends.
pub(super) fn append_lines(out: &mut Vec<u8>, text: &[String]) {
    let eol: &[u8] = if out.windows(2).any(|w| w == b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    };
    let mut in_data = false;
    for line in out.split(|&b| b == b'\n') {
        match String::from_utf8_lossy(line).trim() {
            "\\begindata" => in_data = true,
            "\\begintext" => in_data = false,
            _ => {}
        }
    }
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.extend_from_slice(eol);
    }
    let mut lines = Vec::new();
    if in_data {
        lines.push("\\begintext".to_owned());
    }
    lines.push(String::new());
    lines.extend(text.iter().cloned());
    lines.push(String::new());
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.extend_from_slice(eol);
    }
}

pub(super) fn append_comment(out: &mut Vec<u8>, skipped: usize, total: usize, spec: &WindowSpec) {
    append_lines(
        out,
        &[
            format!("   kdb: windowed metakernel ({}).", spec.describe()),
            format!(
                "   {skipped} of {total} entries were left out: binary kernels with no segment in the window."
            ),
            format!("   kdb-window: {}", spec.to_json()),
        ],
    );
}

/// The window stored for a metakernel, if it was acquired with one.
pub(super) fn stored(cat: &Catalogue, source_url: &str) -> Result<Option<WindowSpec>> {
    cat.window_of(source_url)?
        .map(|s| WindowSpec::from_json(&s))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The local metakernel without the skipped entries' strings, with the window
    /// recorded in a comment block at its end. Every other byte is kept; a line left
    /// with nothing but blanks and commas is dropped. Checked by parsing the result:
    /// its entries must be exactly the taken ones, in order.
    fn drop_skipped(local: &[u8], skipped: &[usize], spec: &WindowSpec) -> Result<Vec<u8>> {
        let mut out = drop_entries(local, skipped)?;
        let total = crate::metakernel::Metakernel::parse(local)
            .and_then(|m| m.entries())
            .map_or(0, |e| e.len());
        append_comment(&mut out, skipped.len(), total, spec);
        Ok(out)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30").unwrap(), 30.0);
        assert_eq!(parse_duration("15m").unwrap(), 900.0);
        assert_eq!(parse_duration("2d").unwrap(), 172_800.0);
        assert_eq!(parse_duration("1.5h").unwrap(), 5400.0);
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("3y").is_err());
        assert!(parse_duration("").is_err());
    }

    const MK: &str = "KPL/MK\n\\begindata\nPATH_VALUES = ( '/x' )\nPATH_SYMBOLS = ( 'K' )\nKERNELS_TO_LOAD = ( '$K/a.tls'\n                    '$K/b.bsp', '$K/c.bsp'\n                    '$K/d.bc' )\n\\begintext\nend\n";

    fn spec() -> WindowSpec {
        WindowSpec {
            from: "ET:0".into(),
            to: "ET:1".into(),
            bodies: vec![],
            pad: None,
        }
    }

    #[test]
    fn dropping_entries_keeps_everything_else() {
        let out = drop_skipped(MK.as_bytes(), &[1, 3], &spec()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                "KPL/MK\n\\begindata\nPATH_VALUES = ( '/x' )\nPATH_SYMBOLS = ( 'K' )\nKERNELS_TO_LOAD = ( '$K/a.tls'\n                     '$K/c.bsp'\n                     )\n\\begintext\nend\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("kdb-window: {\"from\":\"ET:0\",\"to\":\"ET:1\"}"),
            "{text}"
        );
        let m = crate::metakernel::Metakernel::parse(text.as_bytes()).unwrap();
        let paths: Vec<String> = m.entries().unwrap().into_iter().map(|e| e.path).collect();
        assert_eq!(paths, ["/x/a.tls", "/x/c.bsp"]);
    }

    #[test]
    fn a_blank_line_goes_and_data_mode_is_closed() {
        let mk = "\\begindata\nKERNELS_TO_LOAD = (\n 'a.tls'\n 'b.bsp'\n 'c.bsp'\n)\n";
        let out = drop_skipped(mk.as_bytes(), &[1], &spec()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                "\\begindata\nKERNELS_TO_LOAD = (\n 'a.tls'\n 'c.bsp'\n)\n\\begintext\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn crlf_is_kept() {
        let mk = "\\begindata\r\nKERNELS_TO_LOAD = ( 'a.tls'\r\n 'b.bsp' )\r\n\\begintext\r\n";
        let text = String::from_utf8(drop_skipped(mk.as_bytes(), &[1], &spec()).unwrap()).unwrap();
        assert!(!text.replace("\r\n", "").contains('\n'), "{text:?}");
    }

    #[test]
    fn spec_round_trips() {
        let s = WindowSpec {
            from: "2030-01-01".into(),
            to: "2030-01-08".into(),
            bodies: vec!["-121".into(), "MERCURY".into()],
            pad: Some("1h".into()),
        };
        assert_eq!(WindowSpec::from_json(&s.to_json()).unwrap(), s);
    }
}
