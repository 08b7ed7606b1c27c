//! DAS (Direct Access Segregated) files: identification of DSK and EK kernels, and the
//! body/surface IDs of DSK segments.
//!
//! Layout (NAIF *DAS Required Reading*): record 1 is the file record — id word
//! (`DAS/DSK`, `DAS/EK`) at 0..8, internal name 8..68, NRESVR, NRESVC, NCOMR, NCOMC as
//! 4-byte integers at 68..84, binary format (`BIG-IEEE`/`LTL-IEEE`) at 84..92. Then
//! NRESVR reserved and NCOMR comment records, then the first directory record.
//!
//! A directory record holds 256 integers: backward and forward pointers, the logical
//! address ranges (character, double, integer) its clusters hold, the type of its first
//! cluster (1 character, 2 double, 3 integer) and then cluster sizes in records; each
//! later cluster's type is the next type in the cycle character → double → integer
//! when its size is positive, the previous one when negative. A double record holds 128
//! doubles, an integer record 256 integers.
//!
//! DSK files are DLA files (*DLA Required Reading*): integer addresses 1..3 hold the
//! format version and the addresses of the first and last segment descriptors; a
//! descriptor is 8 integers (backward, forward, integer base, integer count, double
//! base, double count, character base, character count), −1 ends the list. The first 24
//! doubles of a segment are its DSK descriptor (*DSK Required Reading*): surface ID,
//! centre (body) ID, data class, data type, frame, ... (see [`DskSegment`]).
//!
//! Invariants: directory records are followed with a visited set and bounds checks; at
//! most one directory record per file record is read, and one integer or double record
//! per descriptor field — never the whole file. Errors name the file and record.

use std::collections::HashSet;

use serde::Serialize;

use super::Error;
use super::daf::{ByteOrder, RECORD_LEN, describe_non_kernel, id_word};
use super::source::ByteSource;

/// What kind of DAS file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DasKind {
    Dsk,
    Ek,
    Other,
}

/// One DSK segment's descriptor (the fields `dskobj`/`dsksrf`/`brief` report).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DskSegment {
    pub index: usize,
    pub surface: i32,
    pub body: i32,
    pub data_class: i32,
    pub data_type: i32,
    pub frame: i32,
    pub start: f64,
    pub stop: f64,
}

/// The parsed DAS file record plus, for a DSK, its segments.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DasFile {
    pub id_word: String,
    pub kind: DasKind,
    pub byte_order: ByteOrder,
    pub segments: Vec<DskSegment>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    Char = 0,
    Dp = 1,
    Int = 2,
}

/// A cluster of one type: its first record and record count, and the first logical
/// address it holds.
#[derive(Clone, Copy, Debug)]
struct Cluster {
    record: u64,
    records: u64,
    first_addr: u64,
}

struct Das<'a, S: ?Sized> {
    src: &'a mut S,
    file: &'a str,
    bo: ByteOrder,
    /// Per type (character, double, integer), in increasing logical address order.
    clusters: [Vec<Cluster>; 3],
}

const PER_RECORD: [u64; 3] = [1024, 128, 256];

impl<S: ByteSource + ?Sized> Das<'_, S> {
    fn bad(&self, record: u64, why: String) -> Error {
        Error::BadDas {
            file: self.file.into(),
            record,
            why,
        }
    }

    fn record(&mut self, record: u64) -> Result<Vec<u8>, Error> {
        super::daf::read_records(self.src, self.file, record, 1)
    }

    /// The record and byte offset holding logical address `addr` of type `ty`.
    fn locate(&self, ty: Ty, addr: u64) -> Result<(u64, usize), Error> {
        let per = PER_RECORD[ty as usize];
        let list = &self.clusters[ty as usize];
        let i = list.partition_point(|c| c.first_addr <= addr);
        if let Some(c) = i.checked_sub(1).and_then(|i| list.get(i)) {
            let k = addr - c.first_addr;
            if k < c.records * per {
                let width = RECORD_LEN as u64 / per;
                return Ok((c.record + k / per, ((k % per) * width) as usize));
            }
        }
        Err(self.bad(
            0,
            format!("logical address {addr} ({ty:?}) is in no cluster"),
        ))
    }

    fn ints(&mut self, first: u64, count: u64) -> Result<Vec<i32>, Error> {
        self.words(Ty::Int, first, count, |bo, b| bo.i32(b))
    }

    fn doubles(&mut self, first: u64, count: u64) -> Result<Vec<f64>, Error> {
        self.words(Ty::Dp, first, count, |bo, b| bo.f64(b))
    }

    /// `count` words of type `ty` from logical address `first`, each decoded by
    /// `decode`, reading each physical record once.
    fn words<T>(
        &mut self,
        ty: Ty,
        first: u64,
        count: u64,
        decode: impl Fn(ByteOrder, &[u8]) -> T,
    ) -> Result<Vec<T>, Error> {
        let mut out = Vec::with_capacity(count as usize);
        let mut cache: Option<(u64, Vec<u8>)> = None;
        for a in first..first + count {
            let (rec, off) = self.locate(ty, a)?;
            if cache.as_ref().map(|c| c.0) != Some(rec) {
                cache = Some((rec, self.record(rec)?));
            }
            let buf = &cache
                .as_ref()
                .map(|c| &c.1)
                .ok_or_else(|| self.bad(rec, "unreadable".into()))?;
            out.push(decode(self.bo, &buf[off..]));
        }
        Ok(out)
    }
}

/// The byte order of a DAS file record: its format field, or for pre-N0052 files
/// (no field) the order in which the reserved/comment counts are plausible.
fn byte_order(head: &[u8], file: &str) -> Result<ByteOrder, Error> {
    Ok(match &head[84..92] {
        b"BIG-IEEE" => ByteOrder::Big,
        b"LTL-IEEE" => ByteOrder::Little,
        other => {
            // Pre-N0052 DAS files have no format field: the reserved/comment counts are
            // small non-negative integers in the native order of their writer.
            let le = ByteOrder::Little.i32(&head[76..]);
            let be = ByteOrder::Big.i32(&head[76..]);
            let plausible = |v: i32| (0..=1_000_000).contains(&v);
            match (plausible(le), plausible(be)) {
                (true, false) => ByteOrder::Little,
                (false, true) => ByteOrder::Big,
                _ => {
                    return Err(Error::UnsupportedFormat {
                        file: file.into(),
                        format: String::from_utf8_lossy(other).escape_default().to_string(),
                    });
                }
            }
        }
    })
}

/// A DSK's segment descriptors, following the DLA segment list.
fn dsk_segments<S: ByteSource + ?Sized>(das: &mut Das<'_, S>) -> Result<Vec<DskSegment>, Error> {
    let mut segments = Vec::new();
    let header = das.ints(1, 3)?;
    let mut base = header[1];
    let mut seen = HashSet::new();
    while base >= 0 {
        // Real DSKs hold at most thousands of segments.
        if !seen.insert(base) || seen.len() > 100_000 {
            return Err(das.bad(
                0,
                format!("the DLA segment list loops at integer address {base}"),
            ));
        }
        if base < 1 {
            return Err(das.bad(0, format!("DLA descriptor address {base} is not positive")));
        }
        let dsc = das.ints(base as u64, 8)?;
        let (dbase, dsize) = (dsc[4], dsc[5]);
        if dbase < 0 || dsize < 24 {
            return Err(das.bad(
                0,
                format!(
                    "DLA segment {} has no DSK descriptor (double base {dbase}, size {dsize})",
                    segments.len()
                ),
            ));
        }
        let v = das.doubles(dbase as u64 + 1, 24)?;
        let int = |x: f64| {
            if x.is_finite() && x.fract() == 0.0 && x.abs() <= f64::from(i32::MAX) {
                x as i32
            } else {
                i32::MIN
            }
        };
        segments.push(DskSegment {
            index: segments.len(),
            surface: int(v[0]),
            body: int(v[1]),
            data_class: int(v[2]),
            data_type: int(v[3]),
            frame: int(v[4]),
            start: v[22],
            stop: v[23],
        });
        base = dsc[1];
        if base == -1 {
            break;
        }
    }
    Ok(segments)
}

/// The file record of a DAS: its bytes, ID word and kind; refuses what is not a DAS
/// (a transfer file, another format) and a file shorter than one record.
fn file_record<S: ByteSource + ?Sized>(
    src: &mut S,
    file: &str,
) -> Result<(Vec<u8>, String, DasKind), Error> {
    let len = src.len();
    let head = super::source::read_head(src, file)?;
    let word = id_word(&head);
    let kind = match word.as_str() {
        "DAS/DSK" => DasKind::Dsk,
        "DAS/EK" => DasKind::Ek,
        w if w.starts_with("DAS/") || w == "NAIF/DAS" => DasKind::Other,
        "DASETF" => return Err(Error::TransferFormat { file: file.into() }),
        _ => {
            return Err(Error::NotKernel {
                file: file.into(),
                what: describe_non_kernel(&head),
            });
        }
    };
    if head.len() < RECORD_LEN {
        return Err(Error::Truncated {
            file: file.into(),
            record: 1,
            len,
        });
    }
    Ok((head, word, kind))
}

/// Reads a DAS file's record 1, its directory, and (for a DSK) its segment descriptors.
pub fn read<S: ByteSource + ?Sized>(src: &mut S, file: &str) -> Result<DasFile, Error> {
    let len = src.len();
    let (head, word, kind) = file_record(src, file)?;
    let bo = byte_order(&head, file)?;
    let count = |at: usize| -> Result<u64, Error> {
        let v = bo.i32(&head[at..]);
        u64::try_from(v).map_err(|_| Error::BadDas {
            file: file.into(),
            record: 1,
            why: format!("negative record count {v} at byte {at}"),
        })
    };
    let (nresvr, ncomr) = (count(68)?, count(76)?);
    let mut das = Das {
        src,
        file,
        bo,
        clusters: [Vec::new(), Vec::new(), Vec::new()],
    };
    let records = len / RECORD_LEN as u64;
    let mut dir = 2 + nresvr + ncomr;
    let mut seen = HashSet::new();
    let mut next_addr = [1u64; 3];
    while dir != 0 {
        if !seen.insert(dir) {
            return Err(das.bad(dir, "the directory chain loops".into()));
        }
        if dir > records {
            return Err(Error::PointerPastEof {
                file: file.into(),
                record: dir,
                pointer: dir as i64,
                records,
            });
        }
        let buf = das.record(dir)?;
        let d: Vec<i32> = buf.chunks_exact(4).map(|c| bo.i32(c)).collect();
        let mut ty = match d[8] {
            1 => Ty::Char,
            2 => Ty::Dp,
            3 => Ty::Int,
            0 => break, // an empty directory
            t => return Err(das.bad(dir, format!("first cluster type {t} is not 1, 2 or 3"))),
        };
        let mut rec = dir + 1;
        for (i, &size) in d[9..].iter().enumerate() {
            if size == 0 {
                break;
            }
            if i > 0 {
                ty = match (ty, size > 0) {
                    (Ty::Char, true) | (Ty::Int, false) => Ty::Dp,
                    (Ty::Dp, true) | (Ty::Char, false) => Ty::Int,
                    (Ty::Int, true) | (Ty::Dp, false) => Ty::Char,
                };
            }
            let n = u64::from(size.unsigned_abs());
            if rec + n - 1 > records {
                return Err(das.bad(
                    dir,
                    format!(
                        "a cluster of {n} records at record {rec} runs past the end of the file"
                    ),
                ));
            }
            das.clusters[ty as usize].push(Cluster {
                record: rec,
                records: n,
                first_addr: next_addr[ty as usize],
            });
            next_addr[ty as usize] += n * PER_RECORD[ty as usize];
            rec += n;
        }
        let fwd = d[1];
        if fwd < 0 {
            return Err(das.bad(dir, format!("negative forward pointer {fwd}")));
        }
        dir = fwd as u64;
    }
    let segments = if kind == DasKind::Dsk {
        dsk_segments(&mut das)?
    } else {
        Vec::new()
    };
    Ok(DasFile {
        id_word: word,
        kind,
        byte_order: bo,
        segments,
    })
}
