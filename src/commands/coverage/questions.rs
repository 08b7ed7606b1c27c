//! The three questions over gathered inputs: `coverage` (what each kernel covers),
//! `which` (the segment in force at an epoch) and `gaps` (where a window is not
//! covered), for a body or a frame.

use super::{Binary, Inputs, TimeFormat, cov_err};
use crate::commands::{Error, Result};
use crate::coverage::report::{self, CoverageReport, GapsReport, KernelReport};
use crate::coverage::{self as cov, KernelKind, Level, TimeKernels, Window};

/// What `kdb coverage` is asked.
#[derive(Clone)]
pub struct CoverageQuery {
    pub ids: Vec<String>,
    pub level: Level,
    pub time: TimeFormat,
    pub from: Option<String>,
    pub to: Option<String>,
    pub merge: bool,
    pub need_av: bool,
    /// With IDs: also the kernels that have no data for them (`--all-kernels`).
    pub all_kernels: bool,
}

/// An ID argument: a number, or a body or frame name known to the pool.
fn parse_id(time: &TimeKernels, s: &str) -> Result<i32> {
    if let Ok(n) = s.trim().parse::<i32>() {
        return Ok(n);
    }
    time.bodies()
        .code(s)
        .or_else(|| time.frame_classes().code(s))
        .or_else(|| time.frames().code(s).map(|code| class_id(time, code)))
        .ok_or_else(|| Error::Usage(format!("`{s}` is neither a NAIF ID nor a known name")))
}

/// Per-kernel coverage windows: converted and bounded as asked.
fn kernel_windows(
    b: &Binary,
    time: &mut TimeKernels,
    ids: Option<&[i32]>,
    q: &CoverageQuery,
) -> Result<Vec<cov::IdCoverage>> {
    let convert = b.kernel.kind == KernelKind::Ck && q.time != TimeFormat::Sclk;
    let mut f = |id: i32, t: f64| time.ck_ticks_to_et(id, t);
    let to_tdb: Option<cov::index::ToTdb<'_>> = if convert { Some(&mut f) } else { None };
    b.kernel
        .coverage(&b.file, ids, q.level, q.need_av, to_tdb)
        .map_err(cov_err)
}

fn clip(w: &Window, span: Option<(f64, f64)>) -> Window {
    match span {
        None => w.clone(),
        Some((a, b)) => Window::from_intervals(
            w.intervals()
                .iter()
                .filter(|iv| iv[1] >= a && iv[0] <= b)
                .map(|iv| [iv[0].max(a), iv[1].min(b)]),
        ),
    }
}

/// `kdb coverage`.
pub fn coverage(inputs: &mut Inputs, q: &CoverageQuery) -> Result<CoverageReport> {
    let ids = q
        .ids
        .iter()
        .map(|s| parse_id(&inputs.time, s))
        .collect::<Result<Vec<_>>>()?;
    let ids_given = !ids.is_empty();
    let ids = ids_given.then_some(ids.as_slice());
    let span = match (&q.from, &q.to) {
        (Some(from), Some(to)) => {
            let a = inputs.time.parse_epoch(from).map_err(cov_err)?;
            let b = inputs.time.parse_epoch(to).map_err(cov_err)?;
            if a > b {
                return Err(Error::Usage(format!(
                    "`--from {from}` is after `--to {to}`"
                )));
            }
            Some((a, b))
        }
        _ => None,
    };
    let bodies = inputs.time.bodies();
    // CK and PCK segments carry class IDs: named by the frame of that class.
    let frames = inputs.time.frames().overlaid(inputs.time.frame_classes());
    let mut per_kernel = Vec::new();
    // CKs whose clock has no SCLK kernel loaded: shown in ticks, with a note, instead
    // of failing the whole command (issue 20).
    let mut in_ticks: Vec<Option<String>> = Vec::new();
    for b in &inputs.binaries {
        let (mut covs, ticks) = match kernel_windows(b, &mut inputs.time, ids, q) {
            Ok(c) => (c, None),
            Err(Error::Usage(why))
                if b.kernel.kind == KernelKind::Ck
                    && q.time != TimeFormat::Sclk
                    && why.contains("SCLK kernel") =>
            {
                let ticks = CoverageQuery {
                    time: TimeFormat::Sclk,
                    ..q.clone()
                };
                let covs = kernel_windows(b, &mut inputs.time, ids, &ticks)?;
                (covs, Some(format!("{why}; bounds are encoded SCLK ticks")))
            }
            Err(e) => return Err(e),
        };
        in_ticks.push(ticks.clone());
        if b.kernel.kind != KernelKind::Ck || (q.time != TimeFormat::Sclk && ticks.is_none()) {
            for c in &mut covs {
                c.windows = clip(&c.windows, span);
            }
            covs.retain(|c| span.is_none() || !c.windows.is_empty());
        }
        per_kernel.push(covs);
    }
    let lsk = utc_lsk(inputs, q.time == TimeFormat::Utc)?;
    let format = report::Format::of(lsk.as_ref());
    let mut kernels = Vec::new();
    for ((b, covs), ticks) in inputs.binaries.iter().zip(&per_kernel).zip(&in_ticks) {
        let names = if b.kernel.kind == KernelKind::Spk {
            &bodies
        } else {
            &frames
        };
        let fmt = if ticks.is_some() {
            report::Format::Seconds
        } else {
            format
        };
        if ids_given && !q.all_kernels && covs.is_empty() {
            // Asked about some IDs: a kernel with no data for them is not an answer.
            continue;
        }
        let mut ids = report::id_reports(covs, names, fmt).map_err(cov_err)?;
        if b.kernel.kind == KernelKind::Ck && q.level == Level::Segment {
            ids.iter_mut().for_each(|r| r.level = None);
        }
        kernels.push(KernelReport {
            file: b.file.clone(),
            name: b.name.clone(),
            sha256: b.sha256.as_ref().map(|s| s.to_string()).unwrap_or_default(),
            kind: b.kernel.kind,
            byte_order: b.kernel.byte_order,
            ids,
            note: ticks.clone(),
        });
    }
    let merged = if q.merge {
        let m = cov::binary::merge(per_kernel.iter().map(Vec::as_slice));
        Some(report::id_reports(&m, &bodies, format).map_err(cov_err)?)
    } else {
        None
    };
    Ok(CoverageReport { kernels, merged })
}

/// Body (SPK) or frame (CK, binary PCK) questions of `which` and `gaps`.
#[derive(Clone, Debug)]
pub enum Target {
    Body(String),
    Frame(String),
    /// A positional ID or name (`kdb which 606 --mk MK`): a body when a body name or
    /// an ID SPK segments carry, else a frame.
    Either(String),
}

const BODY_KINDS: &[KernelKind] = &[KernelKind::Spk];
const FRAME_KINDS: &[KernelKind] = &[KernelKind::Ck, KernelKind::Pck];

fn target_id(inputs: &Inputs, t: &Target) -> Result<(i32, &'static [KernelKind])> {
    let time = &inputs.time;
    match t {
        Target::Either(s) => match s.trim().parse::<i32>() {
            Ok(n) => {
                let carried_by = |kinds: &[KernelKind]| {
                    inputs
                        .binaries
                        .iter()
                        .any(|b| kinds.contains(&b.kernel.kind) && b.kernel.ids().contains(&n))
                };
                let frame = !carried_by(BODY_KINDS) && carried_by(FRAME_KINDS);
                Ok((n, if frame { FRAME_KINDS } else { BODY_KINDS }))
            }
            Err(_) if time.bodies().code(s).is_some() => {
                target_id(inputs, &Target::Body(s.clone()))
            }
            Err(_) => target_id(inputs, &Target::Frame(s.clone())).map_err(|_| {
                Error::Usage(format!("`{s}` is neither a body nor a frame kdb knows"))
            }),
        },
        Target::Body(s) => {
            let id = match s.trim().parse::<i32>() {
                Ok(n) => n,
                Err(_) => time
                    .bodies()
                    .code(s)
                    .ok_or_else(|| Error::Usage(format!("unknown body `{s}`")))?,
            };
            Ok((id, BODY_KINDS))
        }
        Target::Frame(s) => {
            let id = match s.trim().parse::<i32>() {
                Ok(n) => n,
                Err(_) => match time.frame_classes().code(s) {
                    Some(id) => id,
                    None => {
                        let code = time
                            .frames()
                            .code(s)
                            .ok_or_else(|| Error::Usage(format!("unknown frame `{s}`")))?;
                        class_id(time, code)
                    }
                },
            };
            Ok((id, FRAME_KINDS))
        }
    }
}

/// A frame's class ID (what CK and binary PCK segments carry), from the pool's
/// `FRAME_<code>_CLASS_ID` when defined, else the frame code itself.
fn class_id(time: &TimeKernels, code: i32) -> i32 {
    let var = format!("FRAME_{code}_CLASS_ID");
    match time.pool().numbers(&var) {
        Ok(Some(v)) if v.len() == 1 && v[0].fract() == 0.0 => v[0] as i32,
        _ => code,
    }
}

/// `kdb which`: precedence among the inputs for one body or frame at one epoch.
pub fn which(inputs: &mut Inputs, target: &Target, at: &str) -> Result<report::WhichReport> {
    let (id, kinds) = target_id(inputs, target)?;
    let t = inputs.time.parse_epoch(at).map_err(cov_err)?;
    let mut covers = Vec::new();
    for b in &inputs.binaries {
        if !kinds.contains(&b.kernel.kind) {
            covers.push(Vec::new());
            continue;
        }
        let mut f = |i: i32, x: f64| inputs.time.ck_ticks_to_et(i, x);
        let conv: Option<cov::index::ToTdb<'_>> =
            (b.kernel.kind == KernelKind::Ck).then_some(&mut f as cov::index::ToTdb<'_>);
        covers.push(b.kernel.segment_covers(&[id], conv).map_err(cov_err)?);
    }
    let kc: Vec<cov::which::KernelCover<'_>> = inputs
        .binaries
        .iter()
        .zip(&covers)
        .map(|(b, c)| cov::which::KernelCover {
            file: &b.file,
            segments: c,
        })
        .collect();
    let w = cov::which::which(&kc, id, t);
    let seg = |h: &cov::which::Hit| report::WhichSegment {
        file: h.file.clone(),
        segment: h.segment,
        kind: inputs.binaries.get(h.kernel).map(|b| b.kernel.kind),
    };
    Ok(report::WhichReport {
        winner: w.winner.as_ref().map(seg),
        covering: w.covering.iter().map(seg).collect(),
    })
}

/// `kdb gaps`: holes in the union coverage (interval level for CK) inside `[from, to]`.
pub fn gaps(
    inputs: &mut Inputs,
    target: &Target,
    from: &str,
    to: &str,
    utc: bool,
) -> Result<GapsReport> {
    let (id, kinds) = target_id(inputs, target)?;
    let a = inputs.time.parse_epoch(from).map_err(cov_err)?;
    let b = inputs.time.parse_epoch(to).map_err(cov_err)?;
    if a > b {
        return Err(Error::Usage(format!(
            "`--from {from}` is after `--to {to}`"
        )));
    }
    let mut windows = Vec::new();
    for k in &inputs.binaries {
        if !kinds.contains(&k.kernel.kind) {
            continue;
        }
        let mut f = |i: i32, x: f64| inputs.time.ck_ticks_to_et(i, x);
        let conv: Option<cov::index::ToTdb<'_>> =
            (k.kernel.kind == KernelKind::Ck).then_some(&mut f as cov::index::ToTdb<'_>);
        let covs = k
            .kernel
            .coverage(&k.file, Some(&[id]), Level::Interval, false, conv)
            .map_err(cov_err)?;
        windows.extend(covs.into_iter().map(|c| c.windows));
    }
    let g = cov::window::gaps(windows.iter(), a, b).unwrap_or_default();
    let lsk = utc_lsk(inputs, utc)?;
    let format = report::Format::of(lsk.as_ref());
    Ok(GapsReport {
        id,
        gaps: report::bounds(&g, format).map_err(cov_err)?,
    })
}

/// The LSK that prints times as UTC, when `utc` is asked for.
fn utc_lsk(inputs: &mut Inputs, utc: bool) -> Result<Option<cov::time::Lsk>> {
    Ok(if utc {
        Some(inputs.time.lsk().map_err(cov_err)?.clone())
    } else {
        None
    })
}
