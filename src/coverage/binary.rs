//! Binary SPK, CK and PCK kernels: typed segment descriptors and per-ID coverage as
//! `spkcov`, `ckcov` and `pckcov` compute it.
//!
//! Descriptor layouts (NAIF *SPK*, *CK* and *PCK Required Reading*):
//!
//! | kernel | ND/NI | doubles            | integers                                              |
//! |--------|-------|--------------------|-------------------------------------------------------|
//! | SPK    | 2/6   | start, stop (ET)   | target, centre, frame, type, begin, end               |
//! | CK     | 2/6   | start, stop (ticks)| instrument, frame, type, angular-velocity flag, begin, end |
//! | PCK    | 2/5   | start, stop (ET)   | body frame class ID, frame, type, begin, end          |
//!
//! `spkcov`/`pckcov` insert `[start, stop]` of every segment for the ID into a window;
//! `ckcov` at level `SEGMENT` does the same in ticks (converting each bound to TDB with
//! `sct2e` first when asked), at level `INTERVAL` it reads the segment's own intervals
//! ([`super::ck`]). Segments whose angular-velocity flag is not 1 are skipped when
//! `needav` is set.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Error;
use super::ck;
use super::daf::{self, ByteOrder, DafKind, FileRecord, Summary};
pub use super::segment::Segment;
use super::source::ByteSource;
use super::window::Window;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KernelKind {
    Spk,
    Ck,
    Pck,
}

impl KernelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KernelKind::Spk => "spk",
            KernelKind::Ck => "ck",
            KernelKind::Pck => "pck",
        }
    }

    fn ndni(self) -> (usize, usize) {
        match self {
            KernelKind::Spk | KernelKind::Ck => (2, 6),
            KernelKind::Pck => (2, 5),
        }
    }
}

/// What [`read`] learns from a binary DAF kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct DafKernel {
    pub kind: KernelKind,
    pub file_record: FileRecord,
    pub segments: Vec<Segment>,
}

impl DafKernel {
    pub fn byte_order(&self) -> ByteOrder {
        self.file_record.byte_order
    }

    /// Every ID with a segment, ascending (`spkobj`/`ckobj`/`pckfrm` order).
    pub fn ids(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = self.segments.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// Reads the file record and every segment descriptor (with names when `names`).
pub fn read<S: ByteSource + ?Sized>(
    src: &mut S,
    file: &str,
    names: bool,
) -> Result<DafKernel, Error> {
    let fr = daf::read_file_record(src, file)?;
    let summaries = daf::read_summaries(src, file, &fr, names)?;
    let kind = match fr.kind {
        DafKind::Spk => KernelKind::Spk,
        DafKind::Ck => KernelKind::Ck,
        DafKind::Pck => KernelKind::Pck,
        DafKind::Legacy => classify_legacy(file, &fr, &summaries)?,
        DafKind::Other => {
            return Err(Error::WrongKind {
                file: file.into(),
                found: fr.id_word.clone(),
                expected: "an SPK, CK or binary PCK",
            });
        }
    };
    let (nd, ni) = kind.ndni();
    if (fr.nd, fr.ni) != (nd, ni) {
        return Err(Error::WrongNdNi {
            file: file.into(),
            kind: kind.as_str(),
            nd: fr.nd,
            ni: fr.ni,
            want_nd: nd,
            want_ni: ni,
        });
    }
    let segments = summaries.into_iter().map(|s| segment(kind, s)).collect();
    Ok(DafKernel {
        kind,
        file_record: fr,
        segments,
    })
}

/// One summary as a segment. The integers are (DAF Required Reading and the SPK, CK
/// and PCK Required Readings): SPK `id, center, frame, type, begin, end`; CK `id,
/// frame, type, has-av, begin, end`; binary PCK `id, frame, type, begin, end`.
fn segment(kind: KernelKind, s: Summary) -> Segment {
    let ic = &s.ints;
    let (center, rest) = match kind {
        KernelKind::Spk => (Some(ic[1]), &ic[2..]),
        KernelKind::Ck | KernelKind::Pck => (None, &ic[1..]),
    };
    let (has_av, addresses) = match kind {
        KernelKind::Ck => (Some(rest[2] == 1), &rest[3..]),
        KernelKind::Spk | KernelKind::Pck => (None, &rest[2..]),
    };
    Segment {
        index: s.index,
        record: s.record,
        id: ic[0],
        center,
        frame: rest[0],
        data_type: rest[1],
        has_av,
        start: s.doubles[0],
        stop: s.doubles[1],
        begin: addresses[0],
        end: addresses[1],
        name: s.name,
    }
}

/// Types a legacy `NAIF/DAF` file (before the id word named the type). ND/NI = 2/5 is a
/// binary PCK. 2/6 is an SPK or a CK: a CK's fourth integer is its angular-velocity
/// flag (0 or 1) and its third a CK type (1..6), its times are non-negative ticks; an
/// SPK's fourth integer is its data type. Ambiguous files are SPKs, as nearly all
/// legacy DAFs are (CSPICE's private `ZZCKSPK` heuristics look at the data instead).
pub fn classify_legacy(
    file: &str,
    fr: &FileRecord,
    summaries: &[Summary],
) -> Result<KernelKind, Error> {
    match (fr.nd, fr.ni) {
        (2, 5) => Ok(KernelKind::Pck),
        (2, 6) => {
            let ck_like = !summaries.is_empty()
                && summaries.iter().all(|s| {
                    matches!(s.ints[3], 0 | 1)
                        && (1..=6).contains(&s.ints[2])
                        && s.doubles[0] >= 0.0
                        && s.doubles[0].fract() == 0.0
                });
            let spk_impossible = summaries.iter().any(|s| s.ints[3] > 21 || s.ints[3] < 1);
            Ok(if ck_like && spk_impossible {
                KernelKind::Ck
            } else {
                KernelKind::Spk
            })
        }
        (nd, ni) => Err(Error::WrongKind {
            file: file.into(),
            found: format!("a legacy NAIF/DAF with ND = {nd}, NI = {ni}"),
            expected: "an SPK, CK or binary PCK",
        }),
    }
}

/// CK coverage granularity (`ckcov`'s `LEVEL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Segment,
    Interval,
}

/// One ID's coverage in one kernel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IdCoverage {
    pub id: i32,
    pub windows: Window,
    /// CK segment data types for which interval level was asked but only segment level
    /// could be given (types other than 1, 2, 3, 5 and 6, i.e. type 4). Empty otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub segment_level_types: Vec<i32>,
}

/// `spkcov` / `pckcov` for every ID (or the ones in `ids`), ascending by ID. Fails on a
/// segment whose start is after its stop (CSPICE's `wninsd` signals `BADENDPOINTS`).
pub fn et_coverage(
    file: &str,
    kernel: &DafKernel,
    ids: Option<&[i32]>,
) -> Result<Vec<IdCoverage>, Error> {
    let mut by_id: BTreeMap<i32, Vec<[f64; 2]>> = BTreeMap::new();
    for s in &kernel.segments {
        if ids.is_some_and(|ids| !ids.contains(&s.id)) {
            continue;
        }
        check_bounds(file, s, s.start, s.stop)?;
        by_id.entry(s.id).or_default().push([s.start, s.stop]);
    }
    Ok(by_id
        .into_iter()
        .map(|(id, ivs)| IdCoverage {
            id,
            windows: Window::from_intervals(ivs),
            segment_level_types: Vec::new(),
        })
        .collect())
}

fn check_bounds(file: &str, s: &Segment, a: f64, b: f64) -> Result<(), Error> {
    if a <= b {
        Ok(())
    } else {
        Err(Error::BadSegment {
            file: file.into(),
            segment: s.index,
            record: s.record,
            why: format!("its start {a} is after its stop {b} (or not a number)"),
        })
    }
}

/// `ckcov` for every ID (or the ones in `ids`). `to_tdb` maps ticks of the ID's clock to
/// ET (`sct2e`); `None` returns ticks (`TIMSYS = 'SCLK'`). Each bound is converted before
/// insertion, as `ckcov` does.
pub fn ck_coverage<S: ByteSource + ?Sized>(
    src: &mut S,
    file: &str,
    kernel: &DafKernel,
    ids: Option<&[i32]>,
    needav: bool,
    level: Level,
    mut to_tdb: Option<&mut dyn FnMut(i32, f64) -> Result<f64, Error>>,
) -> Result<Vec<IdCoverage>, Error> {
    let mut by_id: BTreeMap<i32, (Vec<[f64; 2]>, Vec<i32>)> = BTreeMap::new();
    for s in &kernel.segments {
        if ids.is_some_and(|ids| !ids.contains(&s.id)) || (needav && s.has_av != Some(true)) {
            continue;
        }
        let entry = by_id.entry(s.id).or_default();
        let intervals = match level {
            Level::Segment => vec![[s.start, s.stop]],
            Level::Interval => match ck::intervals(src, file, kernel.byte_order(), s)? {
                Some(ivs) => ivs,
                None => {
                    if !entry.1.contains(&s.data_type) {
                        entry.1.push(s.data_type);
                    }
                    vec![[s.start, s.stop]]
                }
            },
        };
        for [a, b] in intervals {
            let (a, b) = match to_tdb.as_mut() {
                Some(f) => (f(s.id, a)?, f(s.id, b)?),
                None => (a, b),
            };
            // Segment level: ckcov skips an inverted segment silently; interval level:
            // wninsd would signal an error.
            if level == Level::Interval {
                check_bounds(file, s, a, b)?;
            }
            entry.0.push([a, b]);
        }
    }
    Ok(id_coverages(by_id))
}

/// Each ID's merged coverage from its intervals (and the CK types only read at
/// segment level), in ID order.
pub(crate) fn id_coverages(by_id: BTreeMap<i32, (Vec<[f64; 2]>, Vec<i32>)>) -> Vec<IdCoverage> {
    by_id
        .into_iter()
        .map(|(id, (ivs, types))| IdCoverage {
            id,
            windows: Window::from_intervals(ivs),
            segment_level_types: types,
        })
        .collect()
}

/// Each segment's own coverage, for the precedence search ([`super::which`]): the
/// segment bounds, or for a CK at interval level the segment's intervals (converted to
/// TDB with `to_tdb` when given). Segments of CK types without interval support keep
/// their bounds.
pub fn segment_covers<S: ByteSource + ?Sized>(
    src: &mut S,
    file: &str,
    kernel: &DafKernel,
    level: Level,
    mut to_tdb: Option<&mut dyn FnMut(i32, f64) -> Result<f64, Error>>,
) -> Result<Vec<super::which::SegmentCover>, Error> {
    let mut out = Vec::with_capacity(kernel.segments.len());
    for s in &kernel.segments {
        let ivs = if kernel.kind == KernelKind::Ck && level == Level::Interval {
            ck::intervals(src, file, kernel.byte_order(), s)?
                .unwrap_or_else(|| vec![[s.start, s.stop]])
        } else {
            vec![[s.start, s.stop]]
        };
        let mut conv = Vec::with_capacity(ivs.len());
        for [a, b] in ivs {
            conv.push(match (kernel.kind, to_tdb.as_mut()) {
                (KernelKind::Ck, Some(f)) => [f(s.id, a)?, f(s.id, b)?],
                _ => [a, b],
            });
        }
        out.push(super::which::SegmentCover {
            id: s.id,
            index: s.index,
            windows: Window::from_intervals(conv),
        });
    }
    Ok(out)
}

/// `--merge` (as `brief -a`): per ID, the union of its windows over every kernel.
/// Ascending by ID; the segment-level flags are united too.
pub fn merge<'a>(per_kernel: impl IntoIterator<Item = &'a [IdCoverage]>) -> Vec<IdCoverage> {
    let mut by_id: BTreeMap<i32, (Vec<[f64; 2]>, Vec<i32>)> = BTreeMap::new();
    for covs in per_kernel {
        for c in covs {
            let e = by_id.entry(c.id).or_default();
            e.0.extend_from_slice(c.windows.intervals());
            for t in &c.segment_level_types {
                if !e.1.contains(t) {
                    e.1.push(*t);
                }
            }
        }
    }
    id_coverages(by_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_unites_per_id() {
        let c = |id, ivs: &[[f64; 2]]| IdCoverage {
            id,
            windows: Window::from_intervals(ivs.iter().copied()),
            segment_level_types: Vec::new(),
        };
        let a = vec![c(399, &[[0.0, 1.0]]), c(301, &[[5.0, 6.0]])];
        let b = vec![c(399, &[[1.0, 2.0], [4.0, 5.0]])];
        let m = merge([a.as_slice(), b.as_slice()]);
        assert_eq!(m.iter().map(|c| c.id).collect::<Vec<_>>(), [301, 399]);
        assert_eq!(m[1].windows.intervals(), &[[0.0, 2.0], [4.0, 5.0]]);
    }
}
