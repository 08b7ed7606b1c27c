//! Structural sanity of binary kernels, read through a caller-supplied positional
//! reader (so this module does no I/O of its own and is tested on byte slices).
//!
//! DAF (NAIF DAF Required Reading): the 1,024-byte file record holds the id word
//! (`DAF/SPK`, `NAIF/DAF`, …), ND and NI (with ND ≤ 124, 2 ≤ NI ≤ 250 and a summary
//! of at most 125 double words), the first and last summary record numbers (FWARD,
//! BWARD), the byte-order field (`BIG-IEEE`/`LTL-IEEE`, absent in pre-N0046 files,
//! then inferred from ND/NI) and the FTP validation string (absent in old files;
//! when present it must be intact). The summary records form a doubly linked list
//! from FWARD to BWARD: every record must lie within the file, its PREV must name the
//! record before it, its NSUM must fit, and the chain must end (no loop). The file
//! must also hold its data: FREE (the first free word) may not lie past the end, and
//! every segment's address range (the last two integers of its summary: initial and
//! final word) must lie within the file — a kernel cut short (`head -c`, a transfer
//! that ended early) fails here even when its summary records survived.
//!
//! The file record and the chain are read by the one DAF walker,
//! [`crate::coverage::daf`] (`parse_file_record`, `walk_chain`, which coverage and
//! the windowed `get` use too); this module adds what only a structure check asks:
//! PREV and BWARD agree with the chain, FREE and every segment's address range lie
//! within the file, and a trailing partial summary record is accepted when it holds
//! its summaries.
//!
//! DAS: the id word, the byte-order field, the FTP string, the reserved and comment
//! records within the file length, and the directory records: the chain is walked
//! by the DAS reader of [`crate::coverage::das`] (the one DAS walker), which refuses
//! a cluster — and so a last record number — past the end of the file.
//!
//! The check is deliberately lenient where real archives vary (bytes after FREE,
//! trailing partial records) and strict where corruption shows (a chain or a segment
//! that leaves the file, a loop, a damaged FTP string).

use std::io;

use crate::coverage::{self, daf};
use crate::kernel::ByteOrder;

const RECORD: u64 = 1024;

/// The FTP validation string NAIF writes into new DAF/DAS file records.
pub const FTPSTR: &[u8; 28] = b"FTPSTR:\r:\n:\r\n:\r\x00:\x81:\x10\xce:ENDFTP";

/// What is wrong with a file's structure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Defect {
    #[error("shorter than one 1,024-byte file record ({0} bytes)")]
    TooShort(u64),
    #[error("id word `{0}` is not a DAF or DAS id word")]
    IdWord(String),
    #[error("byte-order field `{0}` is neither BIG-IEEE nor LTL-IEEE")]
    ByteOrder(String),
    #[error("ND={nd}, NI={ni} out of range")]
    Dimensions { nd: i64, ni: i64 },
    #[error("FTP validation string damaged (the file went through an ASCII-mode transfer?)")]
    Ftp,
    #[error("summary record {record} lies past the end of the file ({len} bytes)")]
    PastEof { record: i64, len: u64 },
    #[error("summary record chain loops back to record {0}")]
    Loop(i64),
    #[error("summary record {record}: PREV is {prev}, expected {expected}")]
    BadPrev {
        record: i64,
        prev: i64,
        expected: i64,
    },
    #[error("summary chain ends at record {last}, but BWARD says {bward}")]
    BadBward { last: i64, bward: i64 },
    #[error("reserved and comment records ({0}) run past the end of the file")]
    DasPastEof(i64),
    #[error("FREE is word {free}, past the end of the file ({len} bytes): the file was cut short")]
    FreePastEof { free: i64, len: u64 },
    #[error(
        "segment {index} (summary record {record}) spans words {initial}..={last}, \
         past the end of the file ({len} bytes): the file was cut short"
    )]
    SegmentPastEof {
        record: i64,
        index: usize,
        initial: i64,
        last: i64,
        len: u64,
    },
    #[error(
        "segment {index} (summary record {record}) has the impossible address range {initial}..={last}"
    )]
    BadAddresses {
        record: i64,
        index: usize,
        initial: i64,
        last: i64,
    },
    #[error("{0}")]
    Das(String),
    /// Another failure of the shared DAF reader, in its words.
    #[error("{0}")]
    Daf(String),
}

/// A failure: the structure is bad, or reading failed.
#[derive(Debug)]
pub enum CheckError {
    Defect(Defect),
    Io(io::Error),
}

impl From<io::Error> for CheckError {
    fn from(e: io::Error) -> Self {
        CheckError::Io(e)
    }
}

impl From<Defect> for CheckError {
    fn from(d: Defect) -> Self {
        CheckError::Defect(d)
    }
}

/// Reads exactly `buf.len()` bytes at `offset`.
pub trait ReadAt {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ReadAt for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let src = self
            .get(start..start.saturating_add(buf.len()))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

impl ReadAt for std::fs::File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
}

/// The byte order of a file record: the format field at `field_at`, else the one in
/// which ND/NI are sane (DAS files; DAFs are read by [`crate::coverage::daf`]).
fn order_of(record: &[u8], field_at: usize) -> Result<ByteOrder, Defect> {
    let field = &record[field_at..field_at + 8];
    match field {
        b"BIG-IEEE" => return Ok(ByteOrder::Big),
        b"LTL-IEEE" => return Ok(ByteOrder::Little),
        _ => {}
    }
    if field.iter().any(|&b| b != 0 && b != b' ') {
        return Err(Defect::ByteOrder(
            String::from_utf8_lossy(field).into_owned(),
        ));
    }
    let sane = |o: ByteOrder| {
        let (nd, ni) = (o.i32(&record[8..12]), o.i32(&record[12..16]));
        (0..=124).contains(&nd) && (2..=250).contains(&ni) && nd + (ni + 1) / 2 <= 125
    };
    Ok(if sane(ByteOrder::Big) || !sane(ByteOrder::Little) {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    })
}

/// The FTP string, where present, is intact.
fn check_ftp(record: &[u8]) -> Result<(), Defect> {
    let start = record.windows(7).position(|w| w == b"FTPSTR:");
    let end = record.windows(6).position(|w| w == b"ENDFTP");
    match (start, end) {
        (None, None) => Ok(()),
        (Some(s), _) if record.get(s..s + FTPSTR.len()) == Some(&FTPSTR[..]) => Ok(()),
        _ => Err(Defect::Ftp),
    }
}

/// Checks a DAF or DAS file of `len` bytes. Text kernels and other files are the
/// caller's business (see `kernel::detect`).
pub fn check(file: &(impl ReadAt + ?Sized), len: u64) -> Result<(), CheckError> {
    if len < RECORD {
        return Err(Defect::TooShort(len).into());
    }
    let mut record = [0u8; RECORD as usize];
    file.read_exact_at(&mut record, 0)?;
    let id = String::from_utf8_lossy(&record[..8]).trim_end().to_owned();
    if id.starts_with("DAS/") || id == "NAIF/DAS" {
        return check_das(file, &record, len);
    }
    if !(id.starts_with("DAF/") || id == "NAIF/DAF") {
        return Err(Defect::IdWord(id).into());
    }
    let fr = daf::parse_file_record(NAME, &record, len).map_err(|e| defect(e, len))?;
    let walk = daf::Walk {
        names: false,
        partial_last: true,
    };
    let chain =
        daf::walk_chain(&mut Source { file, len }, NAME, &fr, walk).map_err(|e| defect(e, len))?;
    check_links(&fr, &chain)?;
    for r in &chain {
        check_segments(r, fr.ni, len)?;
    }
    Ok(())
}

/// The name the shared readers give the file in their messages (replaced on the way
/// out: the caller names the path).
const NAME: &str = "file";

/// A shared reader's failure as a defect (or the read failure it was); `len` is the
/// file's length.
fn defect(e: coverage::Error, len: u64) -> CheckError {
    use coverage::Error as E;
    let to_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    CheckError::Defect(match e {
        E::Io { source, .. } => return CheckError::Io(source),
        E::BadNdNi { nd, ni, .. } => Defect::Dimensions { nd, ni },
        E::UnsupportedFormat { format, .. } => Defect::ByteOrder(format),
        E::FtpDamaged { .. } => Defect::Ftp,
        E::FreePastEof { free, len, .. } => Defect::FreePastEof {
            free: to_i64(free),
            len,
        },
        E::PointerPastEof { pointer, .. } => Defect::PastEof {
            record: pointer,
            len,
        },
        E::Truncated { record, .. } => Defect::PastEof {
            record: to_i64(record),
            len,
        },
        E::SummaryLoop { record, .. } => Defect::Loop(to_i64(record)),
        other => Defect::Daf(other.to_string().replace("`file`", "the DAF file")),
    })
}

/// The chain's back links: each record's PREV names the record before it, and BWARD
/// names the last.
fn check_links(fr: &daf::FileRecord, chain: &[daf::ChainRecord]) -> Result<(), Defect> {
    let mut expected = 0;
    for r in chain {
        if r.prev != expected as f64 {
            return Err(Defect::BadPrev {
                record: r.record as i64,
                prev: r.prev as i64,
                expected,
            });
        }
        expected = r.record as i64;
    }
    if fr.fward != 0 && expected != fr.bward as i64 {
        return Err(Defect::BadBward {
            last: expected,
            bward: fr.bward as i64,
        });
    }
    Ok(())
}

/// Every summary of one summary record names a data range inside the file: its last
/// two integers are the initial and final word addresses (DAF Required Reading,
/// "Summary records").
fn check_segments(r: &daf::ChainRecord, ni: usize, len: u64) -> Result<(), Defect> {
    for s in &r.summaries {
        let (initial, last) = (i64::from(s.ints[ni - 2]), i64::from(s.ints[ni - 1]));
        let (record, index) = (r.record as i64, s.index);
        if initial < 1 || last < initial - 1 {
            return Err(Defect::BadAddresses {
                record,
                index,
                initial,
                last,
            });
        }
        if (last as u64).saturating_mul(8) > len {
            return Err(Defect::SegmentPastEof {
                record,
                index,
                initial,
                last,
                len,
            });
        }
    }
    Ok(())
}

/// A [`ReadAt`] seen as the DAS reader's byte source.
struct Source<'a, R: ?Sized> {
    file: &'a R,
    len: u64,
}

impl<R: ReadAt + ?Sized> crate::coverage::ByteSource for Source<'_, R> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
}

fn check_das_directories(file: &(impl ReadAt + ?Sized), len: u64) -> Result<(), CheckError> {
    let mut src = Source { file, len };
    match crate::coverage::das::read(&mut src, "file") {
        Ok(_) => Ok(()),
        Err(crate::coverage::Error::Io { source, .. }) => Err(CheckError::Io(source)),
        Err(e) => {
            // The reader names the file; the caller names the path.
            Err(Defect::Das(e.to_string().replace("`file`", "the DAS file")).into())
        }
    }
}

fn check_das(file: &(impl ReadAt + ?Sized), record: &[u8], len: u64) -> Result<(), CheckError> {
    let order = order_of(record, 84)?;
    check_ftp(record)?;
    let nresvr = i64::from(order.i32(&record[68..72]));
    let ncomr = i64::from(order.i32(&record[76..80]));
    let header = 1 + nresvr.max(0) + ncomr.max(0);
    if nresvr < 0 || ncomr < 0 || (header as u64).saturating_mul(RECORD) > len {
        return Err(Defect::DasPastEof(header).into());
    }
    check_das_directories(file, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian DAF/SPK with ND=2, NI=6 and `chain` summary records (next, prev, nsum).
    fn daf(chain: &[(f64, f64, f64)], fward: i32, bward: i32) -> Vec<u8> {
        let mut f = vec![0u8; 1024 * (2 + chain.len())];
        f[..8].copy_from_slice(b"DAF/SPK ");
        f[8..12].copy_from_slice(&2i32.to_le_bytes());
        f[12..16].copy_from_slice(&6i32.to_le_bytes());
        f[76..80].copy_from_slice(&fward.to_le_bytes());
        f[80..84].copy_from_slice(&bward.to_le_bytes());
        f[88..96].copy_from_slice(b"LTL-IEEE");
        f[699..727].copy_from_slice(FTPSTR);
        for (i, (n, p, s)) in chain.iter().enumerate() {
            let at = (i + 1) * 1024;
            f[at..at + 8].copy_from_slice(&n.to_le_bytes());
            f[at + 8..at + 16].copy_from_slice(&p.to_le_bytes());
            f[at + 16..at + 24].copy_from_slice(&s.to_le_bytes());
            // Each summary's data: words 1..=128 (inside the file).
            for k in 0..(*s as usize).min(25) {
                let ints = at + 24 + k * 40 + 16;
                f[ints + 16..ints + 20].copy_from_slice(&1i32.to_le_bytes());
                f[ints + 20..ints + 24].copy_from_slice(&128i32.to_le_bytes());
            }
        }
        f
    }

    #[test]
    fn a_sane_chain_passes() {
        let f = daf(&[(3.0, 0.0, 1.0), (0.0, 2.0, 2.0)], 2, 3);
        assert!(check(&f[..], f.len() as u64).is_ok());
    }

    #[test]
    fn chain_past_eof_loop_and_ftp_are_caught() {
        let f = daf(&[(9.0, 0.0, 1.0)], 2, 2);
        assert!(matches!(
            check(&f[..], f.len() as u64),
            Err(CheckError::Defect(Defect::PastEof { record: 9, .. }))
        ));
        let f = daf(&[(3.0, 0.0, 1.0), (2.0, 2.0, 1.0)], 2, 3);
        assert!(matches!(
            check(&f[..], f.len() as u64),
            Err(CheckError::Defect(_))
        ));
        let mut f = daf(&[(0.0, 0.0, 1.0)], 2, 2);
        f[710] = b'X';
        assert!(matches!(
            check(&f[..], f.len() as u64),
            Err(CheckError::Defect(Defect::Ftp))
        ));
        let f = daf(&[(0.0, 0.0, 1.0)], 40, 40);
        assert!(matches!(
            check(&f[..], f.len() as u64),
            Err(CheckError::Defect(Defect::PastEof { .. }))
        ));
    }

    #[test]
    fn short_and_foreign_files_fail() {
        assert!(matches!(
            check(&b"DAF/SPK "[..], 8),
            Err(CheckError::Defect(Defect::TooShort(8)))
        ));
        let f = vec![b'<'; 2048];
        assert!(matches!(
            check(&f[..], 2048),
            Err(CheckError::Defect(Defect::IdWord(_)))
        ));
    }

    /// One segment (ND=2, NI=6) in summary record 2, its name record 3, data words
    /// `initial..=last`; the file is `len` bytes.
    fn one_segment(initial: i32, last: i32, free: i32, len: usize) -> Vec<u8> {
        let mut f = daf(&[(0.0, 0.0, 1.0)], 2, 2);
        f.resize(len, 0);
        f[84..88].copy_from_slice(&free.to_le_bytes());
        let ints = 1024 + 3 * 8 + 2 * 8;
        f[ints + 16..ints + 20].copy_from_slice(&initial.to_le_bytes());
        f[ints + 20..ints + 24].copy_from_slice(&last.to_le_bytes());
        f
    }

    #[test]
    fn segments_and_free_must_lie_within_the_file() {
        // Words 385..=512 are record 4: a 4-record file holds them.
        let f = one_segment(385, 512, 513, 4096);
        assert!(check(&f[..], f.len() as u64).is_ok());
        // The same file cut short by one byte, then by a record (FREE still says 513).
        for cut in [4095, 3072] {
            let g = &f[..cut];
            assert!(
                matches!(
                    check(g, cut as u64),
                    Err(CheckError::Defect(
                        Defect::SegmentPastEof { index: 0, .. } | Defect::FreePastEof { .. }
                    ))
                ),
                "{cut}"
            );
        }
        // A segment past the end while FREE is silent.
        let f = one_segment(385, 900, 0, 4096);
        assert!(matches!(
            check(&f[..], 4096),
            Err(CheckError::Defect(Defect::SegmentPastEof { last: 900, .. }))
        ));
        // FREE past the end while the segments fit.
        let f = one_segment(385, 512, 2000, 4096);
        assert!(matches!(
            check(&f[..], 4096),
            Err(CheckError::Defect(Defect::FreePastEof { free: 2000, .. }))
        ));
        // An address range that cannot be.
        let f = one_segment(0, 512, 513, 4096);
        assert!(matches!(
            check(&f[..], 4096),
            Err(CheckError::Defect(Defect::BadAddresses { .. }))
        ));
    }

    /// A little-endian DAS/DSK: file record, one directory record whose one cluster
    /// is `cluster` integer records, then `held` integer records (DLA header: no
    /// segments).
    fn das(cluster: i32, held: usize) -> Vec<u8> {
        let mut f = vec![0u8; 1024 * (2 + held)];
        f[..8].copy_from_slice(b"DAS/DSK ");
        f[84..92].copy_from_slice(b"LTL-IEEE");
        let dir = 1024;
        f[dir + 32..dir + 36].copy_from_slice(&3i32.to_le_bytes());
        f[dir + 36..dir + 40].copy_from_slice(&cluster.to_le_bytes());
        if held > 0 {
            f[2048..2052].copy_from_slice(&1i32.to_le_bytes());
            f[2052..2056].copy_from_slice(&(-1i32).to_le_bytes());
        }
        f
    }

    #[test]
    fn das_directory_clusters_must_lie_within_the_file() {
        let f = das(1, 1);
        assert!(
            check(&f[..], f.len() as u64).is_ok(),
            "{:?}",
            check(&f[..], f.len() as u64)
        );
        // The directory says 5 integer records; the file holds one.
        let f = das(5, 1);
        assert!(matches!(
            check(&f[..], f.len() as u64),
            Err(CheckError::Defect(Defect::Das(m))) if m.contains("past the end")
        ));
    }

    /// Every binary kernel of the shared real data passes whole, and fails cut short
    /// (at a few lengths) — the check has no false positives and sees `head -c`.
    #[test]
    fn real_kernels_pass_whole_and_fail_truncated() {
        let Some(root) = std::env::var_os("KDB_REALDATA").map(std::path::PathBuf::from) else {
            return;
        };
        let mut seen = 0;
        for entry in walkdir::WalkDir::new(&root).into_iter().flatten() {
            let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
            if !entry.file_type().is_file()
                || ![".bsp", ".bc", ".bpc", ".bds"]
                    .iter()
                    .any(|e| name.ends_with(e))
            {
                continue;
            }
            let bytes = std::fs::read(entry.path()).unwrap();
            if !(bytes.starts_with(b"DAF/")
                || bytes.starts_with(b"DAS/")
                || bytes.starts_with(b"NAIF/DAF"))
            {
                continue;
            }
            let len = bytes.len() as u64;
            // Where the data ends (a DAF may hold unused records after FREE).
            let end = if bytes.starts_with(b"DAS/") {
                len
            } else {
                let order = order_of(&bytes[..1024], 88).unwrap();
                ((i64::from(order.i32(&bytes[84..88])) - 1) * 8) as u64
            };
            if let Err(e) = check(&bytes[..], len) {
                panic!("{}: {e:?}", entry.path().display());
            }
            seen += 1;
            // (Not the last record alone: NAIF files may end with an unused record.)
            for cut in [len * 2 / 3, len - 5_000.min(len / 2)] {
                if cut < 1024 || cut >= end {
                    continue;
                }
                let short = &bytes[..cut as usize];
                assert!(
                    check(short, cut).is_err(),
                    "{} cut at {cut} of {len} passes",
                    entry.path().display()
                );
            }
        }
        assert!(seen > 20, "only {seen} real binary kernels found");
    }
}
