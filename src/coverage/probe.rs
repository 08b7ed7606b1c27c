//! Reading a binary kernel's coverage from byte ranges fetched on demand (remote
//! probes, issue 11), pure over the bytes held so far.
//!
//! [`Sparse`] is a [`ByteSource`] over the ranges received; a read it cannot serve
//! fails with [`NeedBytes`] (inside the reader's `Error::Io`). [`step`] runs the
//! ordinary DAF reader ([`binary::read`], without names) from scratch over what is
//! held and says what it needs next, so the driver's loop is: fetch → [`Sparse::insert`]
//! → [`step`], until done. Re-running from the file record each time keeps every
//! check of the reader — pointer bounds, NSUM bounds, and the summary-chain loop
//! detection, which therefore also catches a chain that loops *across* requests.
//!
//! Invariants: [`step`] never guesses — a kernel whose records cannot all be read is
//! never given a coverage; the coverage it gives is the one the reader gives for the
//! whole file (segment descriptors, bit for bit). It needs no CK data records:
//! segment bounds from the descriptors are enough to decide what a window needs
//! (interval-level CK coverage lies inside them).

use std::collections::BTreeMap;

use super::binary::{self, KernelKind};
use super::ck;
use super::daf::RECORD_LEN;
use super::index::{IndexedKernel, IndexedSegment};
use super::source::ByteSource;
use super::window::Window;
use super::{BinaryKind, Error, identify};

/// Bytes asked for first: the file record and the record after it, where a kernel
/// written without a comment area keeps its first summary record (FWARD = 2).
pub const FIRST: u64 = 2 * RECORD_LEN as u64;

/// A read [`Sparse`] cannot serve: the driver should fetch `len` bytes at `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bytes {offset}..+{len} not fetched yet")]
pub struct NeedBytes {
    pub offset: u64,
    pub len: u64,
}

/// The byte ranges of one file received so far.
#[derive(Debug, Clone, Default)]
pub struct Sparse {
    len: u64,
    chunks: BTreeMap<u64, Vec<u8>>,
}

impl Sparse {
    /// A file of `len` bytes with nothing held yet.
    pub fn new(len: u64) -> Self {
        Sparse {
            len,
            chunks: BTreeMap::new(),
        }
    }

    /// Holds `bytes` at `offset` (bytes past the file's length are dropped).
    pub fn insert(&mut self, offset: u64, mut bytes: Vec<u8>) {
        let room = self.len.saturating_sub(offset);
        bytes.truncate(usize::try_from(room).unwrap_or(usize::MAX));
        if !bytes.is_empty() {
            self.chunks.insert(offset, bytes);
        }
    }

    fn find(&self, offset: u64, n: usize) -> Option<&[u8]> {
        let (start, chunk) = self.chunks.range(..=offset).next_back()?;
        let at = usize::try_from(offset - start).ok()?;
        chunk.get(at..at.checked_add(n)?)
    }
}

impl ByteSource for Sparse {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        match self.find(offset, buf.len()) {
            Some(bytes) => {
                buf.copy_from_slice(bytes);
                Ok(())
            }
            None => Err(std::io::Error::other(NeedBytes {
                offset,
                len: buf.len() as u64,
            })),
        }
    }
}

/// Where a probe stands after [`step`].
#[derive(Debug)]
pub enum Step {
    /// A DAF kernel: every segment descriptor (CK intervals not read: `None`).
    Daf(IndexedKernel),
    /// Not a DAF with time coverage: a DSK or EK, or not a binary kernel at all (a
    /// text kernel, an HTML page...): `what` says which.
    NotDaf { what: String },
    /// Fetch these bytes, then step again.
    Need(NeedBytes),
    /// The bytes held are not a readable kernel (the reader's error).
    Failed(Error),
}

fn needed(e: &Error) -> Option<NeedBytes> {
    match e {
        Error::Io { source, .. } => source.get_ref()?.downcast_ref::<NeedBytes>().copied(),
        _ => None,
    }
}

/// Runs the reader over what `src` holds.
pub fn step(src: &mut Sparse, file: &str) -> Step {
    let n = src.len().min(RECORD_LEN as u64) as usize;
    let mut head = vec![0u8; n];
    if let Err(source) = src.read_at(0, &mut head) {
        let e = Error::Io {
            file: file.into(),
            record: 1,
            source,
        };
        return needed(&e).map_or(Step::Failed(e), Step::Need);
    }
    match identify(file, &head) {
        Ok(BinaryKind::Dsk) => {
            return Step::NotDaf {
                what: "a DSK (DAS) file".into(),
            };
        }
        Ok(BinaryKind::Ek) => {
            return Step::NotDaf {
                what: "an EK (DAS) file".into(),
            };
        }
        Ok(_) => {}
        Err(Error::NotKernel { what, .. }) => return Step::NotDaf { what },
        Err(e) => return Step::Failed(e),
    }
    match binary::read(src, file, false) {
        Ok(k) => Step::Daf(IndexedKernel {
            kind: k.kind,
            byte_order: k.byte_order(),
            segments: k
                .segments
                .iter()
                .map(|s| IndexedSegment::of(s, None))
                .collect(),
        }),
        Err(e) => needed(&e).map_or(Step::Failed(e), Step::Need),
    }
}

/// Like [`step`], and for CK segments of the types with interval-level coverage
/// (1, 2, 3, 5, 6) also their intervals ([`ck::intervals`]: records near each
/// segment's end, so more ranges), merged per segment as the index keeps them.
pub fn step_with_intervals(src: &mut Sparse, file: &str) -> Step {
    let mut k = match step(src, file) {
        Step::Daf(k) if k.kind == KernelKind::Ck => k,
        other => return other,
    };
    let daf = match binary::read(src, file, false) {
        Ok(d) => d,
        Err(e) => return needed(&e).map_or(Step::Failed(e), Step::Need),
    };
    for (seg, indexed) in daf.segments.iter().zip(k.segments.iter_mut()) {
        match ck::intervals(src, file, daf.byte_order(), seg) {
            Ok(ivs) => {
                indexed.intervals = ivs.map(|v| Window::from_intervals(v).into_intervals());
            }
            Err(e) => return needed(&e).map_or(Step::Failed(e), Step::Need),
        }
    }
    Step::Daf(k)
}

/// The range to fetch for `need`: whole records, within the file. (Summary records
/// after the first are interleaved with segment data, so reading ahead rarely pays.)
pub fn widen(need: NeedBytes, len: u64) -> (u64, u64) {
    let rec = RECORD_LEN as u64;
    let start = need.offset / rec * rec;
    let end = need
        .offset
        .saturating_add(need.len)
        .max(start.saturating_add(rec));
    (start, end.min(len).saturating_sub(start))
}

/// Whether `kind` is a DAF kind whose segments carry ET bounds (SPK, binary PCK).
pub fn et_bounds(kind: KernelKind) -> bool {
    kind != KernelKind::Ck
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal little-endian SPK: file record, one summary record at `fward` holding
    /// one type 2 segment (target 399, centre 3, frame 1, 10.0..20.0), names after it.
    fn spk(fward: u32, next: f64, records: usize) -> Vec<u8> {
        let mut b = vec![0u8; records * RECORD_LEN];
        b[..8].copy_from_slice(b"DAF/SPK ");
        b[8..12].copy_from_slice(&2i32.to_le_bytes());
        b[12..16].copy_from_slice(&6i32.to_le_bytes());
        b[76..80].copy_from_slice(&fward.to_le_bytes());
        b[80..84].copy_from_slice(&fward.to_le_bytes());
        b[84..88].copy_from_slice(&((records * 128) as u32).to_le_bytes());
        b[88..96].copy_from_slice(b"LTL-IEEE");
        let at = (fward as usize - 1) * RECORD_LEN;
        let mut put =
            |i: usize, v: f64| b[at + i * 8..at + i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        put(0, next);
        put(1, 0.0);
        put(2, 1.0);
        put(3, 10.0);
        put(4, 20.0);
        let ints = [399i32, 3, 1, 2, 1, 2];
        for (k, v) in ints.iter().enumerate() {
            let o = at + 5 * 8 + k * 4;
            b[o..o + 4].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    fn run(bytes: &[u8]) -> (Step, u32) {
        let mut src = Sparse::new(bytes.len() as u64);
        let first = FIRST.min(bytes.len() as u64) as usize;
        src.insert(0, bytes[..first].to_vec());
        let mut fetches = 1;
        loop {
            match step(&mut src, "x.bsp") {
                Step::Need(need) => {
                    fetches += 1;
                    assert!(fetches < 50, "no progress");
                    let (o, n) = widen(need, bytes.len() as u64);
                    src.insert(o, bytes[o as usize..(o + n) as usize].to_vec());
                }
                other => return (other, fetches),
            }
        }
    }

    #[test]
    fn fward_2_costs_the_first_fetch_only() {
        let bytes = spk(2, 0.0, 4);
        let mut src = Sparse::new(bytes.len() as u64);
        src.insert(0, bytes[..FIRST as usize].to_vec());
        let s = step(&mut src, "x.bsp");
        let Step::Daf(k) = s else { panic!("{s:?}") };
        assert_eq!(k.segments.len(), 1);
        assert_eq!((k.segments[0].start, k.segments[0].stop), (10.0, 20.0));
    }

    #[test]
    fn a_far_summary_record_costs_one_more_fetch() {
        let bytes = spk(40, 0.0, 44);
        let (s, fetches) = run(&bytes);
        assert_eq!(fetches, 2);
        assert!(matches!(s, Step::Daf(_)));
    }

    #[test]
    fn a_chain_looping_across_fetches_is_an_error() {
        let mut bytes = spk(40, 60.0, 64);
        // Record 60 points back to 40.
        let at = 59 * RECORD_LEN;
        bytes[at..at + 8].copy_from_slice(&40.0f64.to_le_bytes());
        bytes[at + 16..at + 24].copy_from_slice(&0.0f64.to_le_bytes());
        let (s, _) = run(&bytes);
        assert!(
            matches!(s, Step::Failed(Error::SummaryLoop { .. })),
            "{s:?}"
        );
    }

    #[test]
    fn a_pointer_past_the_end_is_an_error() {
        let mut bytes = spk(2, 0.0, 4);
        bytes[76..80].copy_from_slice(&10_000_000u32.to_le_bytes());
        let (s, fetches) = run(&bytes);
        assert_eq!(fetches, 1);
        assert!(
            matches!(s, Step::Failed(Error::PointerPastEof { .. })),
            "{s:?}"
        );
    }

    #[test]
    fn text_is_not_a_daf() {
        let (s, _) = run(b"KPL/LSK\n\\begindata\nX = 1\n");
        assert!(matches!(s, Step::NotDaf { .. }), "{s:?}");
    }

    #[test]
    fn widen_stays_inside_the_file() {
        assert_eq!(
            widen(
                NeedBytes {
                    offset: 0,
                    len: 100
                },
                100_000
            ),
            (0, 1024)
        );
        assert_eq!(
            widen(
                NeedBytes {
                    offset: 2048,
                    len: 2048
                },
                3000
            ),
            (2048, 952)
        );
        assert_eq!(
            widen(
                NeedBytes {
                    offset: 1500,
                    len: 8192
                },
                100_000
            ),
            (1024, 8668)
        );
    }
}
