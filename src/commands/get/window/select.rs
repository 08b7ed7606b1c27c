//! Which entries a window needs: the time kernels fetched first, the window and its
//! bodies resolved, each probed binary kernel judged by its segment bounds, and one
//! kernel kept per kind when all would go (see the parent module for the rules).

use std::collections::{HashMap, HashSet};

use super::{
    CK_MARGIN, Decision, Selection, TEXT_EXTENSIONS, WindowEntry, WindowSpec, WindowView,
    parse_duration,
};
use crate::commands::{Error, Result};
use crate::coverage::TimeKernels;
use crate::coverage::binary::KernelKind;
use crate::db::Catalogue;
use crate::remote::fetch::{Conditional, Session};
use crate::remote::plan::RemotePlan;
use crate::remote::probe::{self, Probe, ProbeStats, Probed};

pub(super) fn is_text(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower
        .rsplit_once('.')
        .is_some_and(|(_, ext)| TEXT_EXTENSIONS.contains(&ext))
}

/// LSKs and SCLKs, and with `frames` FKs too (for body names they define).
pub(super) fn is_time_kernel(name: &str, frames: bool) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".tls") || lower.ends_with(".tsc") || (frames && lower.ends_with(".tf"))
}

/// Whether some `--body` is a name the built-in table does not know (then the
/// metakernel's FKs are read for `NAIF_BODY_NAME`/`NAIF_BODY_CODE`; they are also read
/// when the metakernel lists a CK, for `CK_<id>_SCLK`).
pub(super) fn needs_fk(spec: &WindowSpec) -> bool {
    let builtin = crate::coverage::names::builtin_bodies();
    spec.bodies
        .iter()
        .any(|b| b.trim().parse::<i32>().is_err() && builtin.code(b).is_none())
}

/// The time kernels of the metakernel (LSK, SCLK; FKs with `frames`), fetched into
/// memory in load order.
pub(super) fn time_kernels(
    session: &Session,
    plan: &RemotePlan,
    frames: bool,
) -> Result<TimeKernels> {
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

pub(super) fn epoch(tk: &mut TimeKernels, what: &str, input: &str) -> Result<f64> {
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
pub(crate) fn select(
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
pub(super) fn resolve(
    tk: &mut TimeKernels,
    spec: &WindowSpec,
) -> Result<(f64, f64, f64, Vec<i32>)> {
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
pub(super) fn closure(
    bodies: &[i32],
    probes: &HashMap<String, Probe>,
    lo: f64,
    hi: f64,
) -> HashSet<i32> {
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
pub(super) fn keep_one_per_kind(entries: &mut [WindowEntry], probes: &HashMap<String, Probe>) {
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
pub(super) fn segment_of(tk: &TimeKernels, kind: KernelKind, id: i32) -> String {
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
pub(super) fn judge(
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
