//! CK interval-level coverage for data types 1, 2, 3, 5 and 6, as CSPICE's `ZZCKCV01`,
//! `ZZCKCV02`, `ZZCKCV03`, `ZZCKCV05` and `ZZCKCV06` (called by `ckcov` with level
//! `INTERVAL`) compute it. Type 4 (Chebyshev) is given at segment level, flagged.
//!
//! Segment layouts (NAIF *CK Required Reading*, "Data Types"):
//!
//! - Type 1 (discrete pointing): NREC pointing records (4 or 7 doubles), NREC epochs, a
//!   directory of every 100th epoch, NREC. Coverage: each epoch is a singleton interval.
//! - Type 2 (continuous pointing, constant rate): NREC records of 8 doubles, NREC start
//!   and NREC stop times, a directory. NREC = nint((size·100 + 1) / 1001). Coverage:
//!   `[start_i, stop_i]` for every record.
//! - Type 3 (linear interpolation): NREC records (4 or 7 doubles), NREC epochs, epoch
//!   directory, NINT interpolation-interval starts, their directory, NINT, NREC.
//!   Coverage: each interval runs from its start to the last epoch before the next
//!   interval's start (the last one to the last epoch).
//! - Type 5 (Hermite/Lagrange): as type 3 with subtype-dependent packet sizes (8, 4,
//!   14, 7) and a 5-double tail; intervals are truncated to the segment bounds.
//! - Type 6: mini-segments; each covers its interval start to the smaller of its
//!   interval end and its last epoch, truncated to the segment bounds.
//!
//! Reads: types 1 and 2 need every epoch and read them in one call per segment; type 3
//! reads the interval starts in one call and finds each interval's last epoch by a
//! galloping search over the sorted epochs, one 1,024-byte block at a time, so a
//! segment with few interpolation intervals costs a few kilobytes whatever its size.
//! On well-formed (sorted) epochs this returns exactly what ZZCKCV03's linear scan
//! returns.

use std::collections::HashMap;

use super::Error;
use super::daf::{ByteOrder, RECORD_DOUBLES, RECORD_LEN};
use super::segment::Segment;
use super::source::ByteSource;

/// The segment's coverage intervals in ticks, or `None` for a type without
/// interval-level support here (the caller falls back to the segment bounds).
pub fn intervals<S: ByteSource + ?Sized>(
    src: &mut S,
    file: &str,
    bo: ByteOrder,
    seg: &Segment,
) -> Result<Option<Vec<[f64; 2]>>, Error> {
    let mut r = SegmentReader::new(src, file, bo, seg)?;
    match seg.data_type {
        1 => type1(&mut r).map(Some),
        2 => type2(&mut r).map(Some),
        3 => type3(&mut r).map(Some),
        5 => type5(&mut r).map(Some),
        6 => type6(&mut r).map(Some),
        _ => Ok(None),
    }
}

/// Reads doubles of one segment by DAF word address, with bounds checks that name the
/// file, the segment and its summary record.
struct SegmentReader<'a, S: ?Sized> {
    src: &'a mut S,
    file: &'a str,
    bo: ByteOrder,
    seg: &'a Segment,
    begin: u64,
    end: u64,
    blocks: HashMap<u64, Vec<f64>>,
}

impl<'a, S: ByteSource + ?Sized> SegmentReader<'a, S> {
    fn new(src: &'a mut S, file: &'a str, bo: ByteOrder, seg: &'a Segment) -> Result<Self, Error> {
        let words = src.len() / 8;
        let (begin, end) = (i64::from(seg.begin), i64::from(seg.end));
        let mut r = SegmentReader {
            src,
            file,
            bo,
            seg,
            begin: 0,
            end: 0,
            blocks: HashMap::new(),
        };
        if begin < 1 || end < begin || end as u64 > words {
            return Err(r.bad(format!(
                "its data addresses {begin}..{end} are outside the file ({words} words)"
            )));
        }
        r.begin = begin as u64;
        r.end = end as u64;
        Ok(r)
    }

    fn bad(&self, why: String) -> Error {
        Error::BadSegment {
            file: self.file.into(),
            segment: self.seg.index,
            record: self.seg.record,
            why,
        }
    }

    fn len(&self) -> u64 {
        self.end - self.begin + 1
    }

    /// `count` doubles from word address `addr` (1-based, inside the segment).
    fn doubles(&mut self, addr: u64, count: u64) -> Result<Vec<f64>, Error> {
        if count == 0 {
            return Ok(Vec::new());
        }
        if addr < self.begin || addr + count - 1 > self.end {
            return Err(self.bad(format!(
                "its metadata points at words {addr}..{} outside the segment",
                addr + count - 1
            )));
        }
        let mut buf = vec![0u8; (count * 8) as usize];
        let offset = (addr - 1) * 8;
        let record = offset / RECORD_LEN as u64 + 1;
        self.src
            .read_at(offset, &mut buf)
            .map_err(|source| Error::Io {
                file: self.file.into(),
                record,
                source,
            })?;
        Ok(buf.chunks_exact(8).map(|c| self.bo.f64(c)).collect())
    }

    /// One double through a cache of record-aligned blocks.
    fn double(&mut self, addr: u64) -> Result<f64, Error> {
        let block = (addr - 1) / RECORD_DOUBLES as u64;
        if !self.blocks.contains_key(&block) {
            let first = (block * RECORD_DOUBLES as u64 + 1).max(self.begin);
            let last = ((block + 1) * RECORD_DOUBLES as u64).min(self.end);
            if addr < first || addr > last {
                return Err(self.bad(format!(
                    "its metadata points at word {addr} outside the segment"
                )));
            }
            let values = self.doubles(first, last - first + 1)?;
            if self.blocks.len() >= 64 {
                self.blocks.clear();
            }
            let mut padded = vec![f64::NAN; (first - 1 - block * RECORD_DOUBLES as u64) as usize];
            padded.extend(values);
            self.blocks.insert(block, padded);
        }
        let i = ((addr - 1) % RECORD_DOUBLES as u64) as usize;
        match self.blocks.get(&block).and_then(|b| b.get(i)) {
            Some(v) if addr >= self.begin && addr <= self.end => Ok(*v),
            _ => Err(self.bad(format!(
                "its metadata points at word {addr} outside the segment"
            ))),
        }
    }

    fn count(&self, v: f64, what: &str) -> Result<u64, Error> {
        if v.is_finite() && v >= 1.0 && v <= self.len() as f64 {
            Ok(v as u64)
        } else {
            Err(self.bad(format!("{what} is {v}")))
        }
    }
}

fn type1<S: ByteSource + ?Sized>(r: &mut SegmentReader<'_, S>) -> Result<Vec<[f64; 2]>, Error> {
    let last = r.doubles(r.end, 1)?[0];
    // ZZCKCV01 truncates (INT), it does not round.
    let nrec = r.count(last.trunc(), "the record count")?;
    let dir = (nrec - 1) / 100;
    let psiz = if r.len() == nrec * 5 + dir + 1 {
        4
    } else if r.len() == nrec * 8 + dir + 1 {
        7
    } else {
        return Err(r.bad(format!(
            "type 1 length {} fits neither {} nor {} (NREC = {nrec})",
            r.len(),
            nrec * 5 + dir + 1,
            nrec * 8 + dir + 1
        )));
    };
    let times = r.doubles(r.begin + nrec * psiz, nrec)?;
    Ok(times.into_iter().map(|t| [t, t]).collect())
}

fn type2<S: ByteSource + ?Sized>(r: &mut SegmentReader<'_, S>) -> Result<Vec<[f64; 2]>, Error> {
    let nrec = ((r.len() as f64 * 100.0 + 1.0) / 1001.0).round() as u64;
    if nrec == 0 || nrec * 10 > r.len() {
        return Err(r.bad(format!("type 2 length {} gives no whole record", r.len())));
    }
    let both = r.doubles(r.begin + 8 * nrec, 2 * nrec)?;
    let (starts, stops) = both.split_at(nrec as usize);
    Ok(starts.iter().zip(stops).map(|(&a, &b)| [a, b]).collect())
}

fn type3<S: ByteSource + ?Sized>(r: &mut SegmentReader<'_, S>) -> Result<Vec<[f64; 2]>, Error> {
    if r.len() < 2 {
        return Err(r.bad("type 3 segment shorter than its two counts".into()));
    }
    let tail = r.doubles(r.end - 1, 2)?;
    let invls = r.count(tail[0].round(), "the interval count")?;
    let nrec = r.count(tail[1].round(), "the record count")?;
    let ndir = (nrec - 1) / 100;
    let rest = ndir + invls + (invls - 1) / 100 + 2;
    let rsize = if r.len() == nrec * 5 + rest {
        4
    } else if r.len() == nrec * 8 + rest {
        7
    } else {
        return Err(r.bad(format!(
            "type 3 length {} fits neither {} nor {} (NREC = {nrec}, NINT = {invls})",
            r.len(),
            nrec * 5 + rest,
            nrec * 8 + rest
        )));
    };
    let tick0 = r.begin + rsize * nrec;
    let starts = r.doubles(tick0 + nrec + ndir, invls)?;
    let mut out = Vec::new();
    for (k, begin, finish) in interpolation_intervals(r, tick0, nrec, &starts)? {
        match finish {
            Some(f) if begin <= f => out.push([begin, f]),
            _ => {
                return Err(r.bad(format!(
                    "type 3 interpolation interval {k} starting at {begin} holds no epoch"
                )));
            }
        }
    }
    Ok(out)
}

/// ZZCKCV03/ZZCKCV05's walk: each interpolation interval from its start to the last
/// epoch before the next interval's start (the last interval to the last epoch).
/// Returns (interval number, begin, finish); `finish` is `None` where CSPICE would use
/// a value left over from an earlier interval (an interval that holds no epoch).
#[allow(clippy::type_complexity)]
fn interpolation_intervals<S: ByteSource + ?Sized>(
    r: &mut SegmentReader<'_, S>,
    tick0: u64,
    nrec: u64,
    starts: &[f64],
) -> Result<Vec<(usize, f64, Option<f64>)>, Error> {
    let last = (nrec - 1) as usize;
    let tick = |r: &mut SegmentReader<'_, S>, i: usize| r.double(tick0 + i as u64);
    // ZZCKCV03's linear "advance while tick < start and not at the last tick",
    // as a galloping search: the first index >= `from` whose tick >= `start`, or `last`.
    let advance = |r: &mut SegmentReader<'_, S>, from: usize, start: f64| -> Result<usize, Error> {
        if from >= last || tick(r, from)? >= start {
            return Ok(from);
        }
        // Invariant: tick(lo) < start.
        let mut lo = from;
        let mut step = 1usize;
        let hi = loop {
            let probe = lo.saturating_add(step).min(last);
            if probe == last || tick(r, probe)? >= start {
                break probe;
            }
            lo = probe;
            step = step.saturating_mul(2);
        };
        let (mut lo, mut hi) = (lo, hi);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if tick(r, mid)? >= start {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    };

    let mut out = Vec::new();
    let mut start = starts[0];
    let mut t = advance(r, 0, start)?;
    let mut tk = tick(r, t)?;
    if tk < start {
        return Ok(out);
    }
    let mut finish: Option<f64> = None;
    let mut k = 0usize;
    let lastk = starts.len() - 1;
    let mut bail = false;
    while k <= lastk && t <= last && !bail {
        let begin = start;
        if k == lastk {
            finish = Some(tick(r, last)?);
            bail = true;
        } else {
            k += 1;
            start = starts[k];
            if tk < start && t < last {
                let j = advance(r, t, start)?;
                finish = Some(tick(r, j - 1)?);
                t = j;
                tk = tick(r, t)?;
            }
            if tk < start {
                finish = Some(tk);
                t += 1;
            }
        }
        out.push((k, begin, finish));
    }
    Ok(out)
}

fn type5<S: ByteSource + ?Sized>(r: &mut SegmentReader<'_, S>) -> Result<Vec<[f64; 2]>, Error> {
    if r.len() < 5 {
        return Err(r.bad("type 5 segment shorter than its control area".into()));
    }
    let tail = r.doubles(r.end - 3, 4)?;
    let rsize = match tail[0].round() {
        0.0 => 8,
        1.0 => 4,
        2.0 => 14,
        3.0 => 7,
        other => return Err(r.bad(format!("type 5 subtype {other} is not 0..3"))),
    };
    let invls = r.count(tail[2].round(), "the interval count")?;
    let nrec = r.count(tail[3].round(), "the record count")?;
    let ndir = (nrec - 1) / 100;
    let tick0 = r.begin + rsize * nrec;
    let starts = r.doubles(tick0 + nrec + ndir, invls)?;
    let (lo, hi) = (r.seg.start, r.seg.stop);
    let mut out = Vec::new();
    for (k, begin, finish) in interpolation_intervals(r, tick0, nrec, &starts)? {
        let Some(finish) = finish else {
            return Err(r.bad(format!(
                "type 5 interpolation interval {k} starting at {begin} holds no epoch"
            )));
        };
        // Truncated to the segment bounds; empty intervals are dropped (ZZCKCV05).
        let (b, f) = (begin.max(lo), finish.min(hi));
        if b <= f {
            out.push([b, f]);
        }
    }
    Ok(out)
}

/// ZZCKCV06: each mini-segment covers from its interval start to the smaller of its
/// interval end and its last epoch, truncated to the segment bounds.
fn type6<S: ByteSource + ?Sized>(r: &mut SegmentReader<'_, S>) -> Result<Vec<[f64; 2]>, Error> {
    let raw = r.doubles(r.end, 1)?[0].round();
    let nintvl = r.count(raw, "the mini-segment count")?;
    let ptrbas = (r.end as i64) - 2 - (nintvl as i64 + 1);
    let ivlbas = ptrbas - (nintvl / 100) as i64 - (nintvl as i64 + 1);
    if ivlbas + 1 < r.begin as i64 {
        return Err(r.bad(format!(
            "type 6 directory of {nintvl} mini-segments does not fit"
        )));
    }
    let bounds = r.doubles(ivlbas as u64 + 1, nintvl + 1)?;
    let ptrs = r.doubles(ptrbas as u64 + 1, nintvl + 1)?;
    let (lo, hi) = (r.seg.start, r.seg.stop);
    let mut out = Vec::new();
    for i in 0..nintvl as usize {
        let p = ptrs[i + 1].round();
        if !(p >= 2.0 && p <= r.len() as f64 + 1.0) {
            return Err(r.bad(format!("type 6 mini-segment {i} has the end pointer {p}")));
        }
        let minie = r.begin - 1 + p as u64 - 1;
        let nrec = r.double(minie)?.round();
        if !(nrec >= 1.0 && nrec <= r.len() as f64) {
            return Err(r.bad(format!("type 6 mini-segment {i} has {nrec} records")));
        }
        let ndir = (nrec as u64 - 1) / 100;
        let Some(epaddr) = minie.checked_sub(4 + ndir).filter(|a| *a >= r.begin) else {
            return Err(r.bad(format!(
                "type 6 mini-segment {i} is shorter than its control area"
            )));
        };
        let last_epoch = r.double(epaddr)?;
        let b = bounds[i].max(lo);
        let f = last_epoch.min(bounds[i + 1]).min(hi);
        if b <= f {
            out.push([b, f]);
        }
    }
    Ok(out)
}
