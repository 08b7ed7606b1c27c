//! The coverage index entry of one binary kernel: every segment descriptor (and, for a
//! CK, each segment's interval-level coverage in encoded ticks), in a compact binary
//! encoding the catalogue stores per content hash.
//!
//! Invariants:
//! - [`summarize`] reads what [`super::binary::read`] and [`super::ck::intervals`] read
//!   (file record, summary records, CK interval data) — never the whole file.
//! - The encoding keeps every double bit for bit (little-endian IEEE words), so
//!   coverage computed from an entry equals coverage computed from the file.
//! - [`IndexedKernel::decode`] never panics: a short or malformed blob is an error.
//! - CK per-segment intervals are stored merged (in ticks); tick → ET is monotone, so
//!   merging before or after conversion gives the same window.

use std::collections::BTreeMap;

use super::binary::{self, IdCoverage, KernelKind, Level};
use super::daf::ByteOrder;
use super::source::ByteSource;
use super::which::SegmentCover;
use super::window::Window;
use super::{BinaryKind, Error, ck, identify};

/// Encoding version (first byte of a blob).
const VERSION: u8 = 1;

/// One segment as the index keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexedSegment {
    pub id: i32,
    pub center: Option<i32>,
    pub frame: i32,
    pub data_type: i32,
    pub has_av: Option<bool>,
    pub start: f64,
    pub stop: f64,
    /// CK only: interval-level coverage in ticks (merged), `None` for a CK type
    /// without interval support (or any SPK/PCK segment).
    pub intervals: Option<Vec<[f64; 2]>>,
}

impl IndexedSegment {
    /// A segment as the index keeps it, with its CK intervals when read.
    pub fn of(s: &super::Segment, intervals: Option<Vec<[f64; 2]>>) -> IndexedSegment {
        IndexedSegment {
            id: s.id,
            center: s.center,
            frame: s.frame,
            data_type: s.data_type,
            has_av: s.has_av,
            start: s.start,
            stop: s.stop,
            intervals,
        }
    }
}

/// A binary DAF kernel's index entry.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexedKernel {
    pub kind: KernelKind,
    pub byte_order: ByteOrder,
    pub segments: Vec<IndexedSegment>,
}

/// A segment-to-TDB conversion: `(instrument id, ticks) -> ET`.
pub type ToTdb<'a> = &'a mut dyn FnMut(i32, f64) -> Result<f64, Error>;

/// Reads a binary kernel's index entry. `Ok(None)` for DAS files (DSK, EK), which have
/// no time coverage here; errors name the file for anything that is not a kernel.
pub fn summarize<S: ByteSource + ?Sized>(
    src: &mut S,
    file: &str,
) -> Result<Option<IndexedKernel>, Error> {
    let head = super::source::read_head(src, file)?;
    if matches!(identify(file, &head)?, BinaryKind::Dsk | BinaryKind::Ek) {
        return Ok(None);
    }
    let k = binary::read(src, file, false)?;
    let mut segments = Vec::with_capacity(k.segments.len());
    for s in &k.segments {
        let intervals = if k.kind == KernelKind::Ck {
            ck::intervals(src, file, k.byte_order(), s)?
                .map(|ivs| Window::from_intervals(ivs).into_intervals())
        } else {
            None
        };
        segments.push(IndexedSegment::of(s, intervals));
    }
    Ok(Some(IndexedKernel {
        kind: k.kind,
        byte_order: k.byte_order(),
        segments,
    }))
}

impl IndexedKernel {
    /// Every ID with a segment, ascending.
    pub fn ids(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = self.segments.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The earliest start and latest stop over all segments (ET, or ticks for a CK).
    pub fn span(&self) -> Option<(f64, f64)> {
        let start = self.segments.iter().map(|s| s.start).reduce(f64::min)?;
        let stop = self.segments.iter().map(|s| s.stop).reduce(f64::max)?;
        Some((start, stop))
    }

    /// `spkcov` / `pckcov` / `ckcov` per ID (all IDs or those in `ids`), ascending.
    /// `to_tdb` converts CK ticks (`None`: ticks). Errors as the file readers do on an
    /// inverted segment (SPK/PCK, or CK at interval level).
    pub fn coverage(
        &self,
        file: &str,
        ids: Option<&[i32]>,
        level: Level,
        needav: bool,
        mut to_tdb: Option<ToTdb<'_>>,
    ) -> Result<Vec<IdCoverage>, Error> {
        let mut by_id: BTreeMap<i32, (Vec<[f64; 2]>, Vec<i32>)> = BTreeMap::new();
        for (i, s) in self.segments.iter().enumerate() {
            if ids.is_some_and(|ids| !ids.contains(&s.id))
                || (needav && self.kind == KernelKind::Ck && s.has_av != Some(true))
            {
                continue;
            }
            let entry = by_id.entry(s.id).or_default();
            let ivs = self.segment_intervals(s, level, Some(&mut entry.1));
            for [a, b] in ivs {
                let (a, b) = match (self.kind, to_tdb.as_mut()) {
                    (KernelKind::Ck, Some(f)) => (f(s.id, a)?, f(s.id, b)?),
                    _ => (a, b),
                };
                let strict = self.kind != KernelKind::Ck || level == Level::Interval;
                if strict && a.partial_cmp(&b).is_none_or(|o| o.is_gt()) {
                    return Err(Error::BadSegment {
                        file: file.into(),
                        segment: i,
                        record: 0,
                        why: format!("its start {a} is after its stop {b} (or not a number)"),
                    });
                }
                entry.0.push([a, b]);
            }
        }
        Ok(super::binary::id_coverages(by_id))
    }

    fn segment_intervals(
        &self,
        s: &IndexedSegment,
        level: Level,
        unsupported: Option<&mut Vec<i32>>,
    ) -> Vec<[f64; 2]> {
        if self.kind != KernelKind::Ck || level == Level::Segment {
            return vec![[s.start, s.stop]];
        }
        match &s.intervals {
            Some(ivs) => ivs.clone(),
            None => {
                if let Some(u) = unsupported
                    && !u.contains(&s.data_type)
                {
                    u.push(s.data_type);
                }
                vec![[s.start, s.stop]]
            }
        }
    }

    /// Each segment's own coverage for the precedence search (`which`): CK at interval
    /// level, converted with `to_tdb`.
    pub fn segment_covers(
        &self,
        ids: &[i32],
        mut to_tdb: Option<ToTdb<'_>>,
    ) -> Result<Vec<SegmentCover>, Error> {
        let mut out = Vec::new();
        for (i, s) in self.segments.iter().enumerate() {
            if !ids.contains(&s.id) {
                continue;
            }
            let mut conv = Vec::new();
            for [a, b] in self.segment_intervals(s, Level::Interval, None) {
                conv.push(match (self.kind, to_tdb.as_mut()) {
                    (KernelKind::Ck, Some(f)) => [f(s.id, a)?, f(s.id, b)?],
                    _ => [a, b],
                });
            }
            out.push(SegmentCover {
                id: s.id,
                index: i,
                windows: Window::from_intervals(conv),
            });
        }
        Ok(out)
    }

    /// The compact encoding: a version byte, kind, byte order, segment count, then per
    /// segment five 32-bit words, a flags byte, two doubles and (CK) the intervals.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.segments.len() * 40);
        out.push(VERSION);
        out.push(match self.kind {
            KernelKind::Spk => 0,
            KernelKind::Ck => 1,
            KernelKind::Pck => 2,
        });
        out.push(match self.byte_order {
            ByteOrder::Big => 0,
            ByteOrder::Little => 1,
        });
        put_u32(&mut out, self.segments.len());
        for s in &self.segments {
            out.extend_from_slice(&s.id.to_le_bytes());
            out.extend_from_slice(&s.center.unwrap_or(0).to_le_bytes());
            out.extend_from_slice(&s.frame.to_le_bytes());
            out.extend_from_slice(&s.data_type.to_le_bytes());
            let flags = u8::from(s.center.is_some())
                | (u8::from(s.has_av.is_some()) << 1)
                | (u8::from(s.has_av == Some(true)) << 2)
                | (u8::from(s.intervals.is_some()) << 3);
            out.push(flags);
            out.extend_from_slice(&s.start.to_le_bytes());
            out.extend_from_slice(&s.stop.to_le_bytes());
            if let Some(ivs) = &s.intervals {
                put_u32(&mut out, ivs.len());
                for [a, b] in ivs {
                    out.extend_from_slice(&a.to_le_bytes());
                    out.extend_from_slice(&b.to_le_bytes());
                }
            }
        }
        out
    }

    /// Decodes [`IndexedKernel::encode`]'s bytes.
    pub fn decode(bytes: &[u8]) -> Result<IndexedKernel, Error> {
        let mut r = Reader(bytes);
        if r.u8()? != VERSION {
            return Err(bad("unknown version"));
        }
        let kind = match r.u8()? {
            0 => KernelKind::Spk,
            1 => KernelKind::Ck,
            2 => KernelKind::Pck,
            _ => return Err(bad("unknown kind")),
        };
        let byte_order = match r.u8()? {
            0 => ByteOrder::Big,
            1 => ByteOrder::Little,
            _ => return Err(bad("unknown byte order")),
        };
        let n = r.u32()?;
        // Each segment takes at least 33 bytes: bound the allocation by the blob.
        let mut segments = Vec::with_capacity(n.min(bytes.len() / 33));
        for _ in 0..n {
            let (id, center, frame, data_type) = (r.i32()?, r.i32()?, r.i32()?, r.i32()?);
            let flags = r.u8()?;
            let (start, stop) = (r.f64()?, r.f64()?);
            let intervals = if flags & 8 != 0 {
                let m = r.u32()?;
                let mut v = Vec::with_capacity(m.min(r.0.len() / 16));
                for _ in 0..m {
                    v.push([r.f64()?, r.f64()?]);
                }
                Some(v)
            } else {
                None
            };
            segments.push(IndexedSegment {
                id,
                center: (flags & 1 != 0).then_some(center),
                frame,
                data_type,
                has_av: (flags & 2 != 0).then_some(flags & 4 != 0),
                start,
                stop,
                intervals,
            });
        }
        if !r.0.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(IndexedKernel {
            kind,
            byte_order,
            segments,
        })
    }
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn bad(why: &str) -> Error {
    Error::BadIndex(why.to_string())
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or_else(|| bad("truncated"))?;
        self.0 = rest;
        Ok(*head)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<usize, Error> {
        Ok(u32::from_le_bytes(self.take()?) as usize)
    }
    fn i32(&mut self) -> Result<i32, Error> {
        Ok(i32::from_le_bytes(self.take()?))
    }
    fn f64(&mut self) -> Result<f64, Error> {
        Ok(f64::from_le_bytes(self.take()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let k = IndexedKernel {
            kind: KernelKind::Ck,
            byte_order: ByteOrder::Big,
            segments: vec![
                IndexedSegment {
                    id: -82000,
                    center: None,
                    frame: 1,
                    data_type: 3,
                    has_av: Some(true),
                    start: 1.0,
                    stop: 9.5,
                    intervals: Some(vec![[1.0, 2.0], [3.0, 9.5]]),
                },
                IndexedSegment {
                    id: -82000,
                    center: None,
                    frame: 1,
                    data_type: 4,
                    has_av: Some(false),
                    start: 20.0,
                    stop: 30.0,
                    intervals: None,
                },
            ],
        };
        let b = k.encode();
        assert_eq!(IndexedKernel::decode(&b).unwrap(), k);
        for cut in 0..b.len() {
            assert!(IndexedKernel::decode(&b[..cut]).is_err());
        }
        let covs = k.coverage("f", None, Level::Interval, false, None).unwrap();
        assert_eq!(
            covs[0].windows.intervals(),
            &[[1.0, 2.0], [3.0, 9.5], [20.0, 30.0]]
        );
        assert_eq!(covs[0].segment_level_types, vec![4]);
        let av = k.coverage("f", None, Level::Interval, true, None).unwrap();
        assert_eq!(av[0].windows.intervals(), &[[1.0, 2.0], [3.0, 9.5]]);
        assert_eq!(k.span(), Some((1.0, 30.0)));
    }
}
