//! DAF (Double precision Array File): the file record and the summary/name record chain.
//!
//! Layout (NAIF *DAF Required Reading*, "The file record" and "Summary records"): a
//! DAF is a sequence of 1,024-byte records numbered from 1. Record 1 is the file record:
//!
//! | bytes     | field                                                        |
//! |-----------|--------------------------------------------------------------|
//! | 0..8      | id word: `DAF/SPK`, `DAF/CK`, `DAF/PCK`, legacy `NAIF/DAF`    |
//! | 8..12     | ND (doubles per summary), 4-byte integer                     |
//! | 12..16    | NI (integers per summary)                                    |
//! | 16..76    | internal file name                                           |
//! | 76..88    | FWARD, BWARD, FREE (first/last summary record, first free word)|
//! | 88..96    | binary format `BIG-IEEE` / `LTL-IEEE` (blank in pre-N0046 files)|
//! | 699..727  | FTP validation string (absent in pre-N0046 files)            |
//!
//! A summary record holds three doubles NEXT, PREV, NSUM and then NSUM summaries of
//! SS = ND + (NI + 1) / 2 doubles each; the record after it holds the segment names
//! (8·SS characters each). The chain starts at FWARD and follows NEXT until 0.
//!
//! Invariants: the reader reads record 1 and, per summary record, that record and its
//! name record in one call — nothing else. It never panics and never loops: every
//! pointer is checked against the file length, a record visited twice is a loop, and
//! every failure names the file and the record.

use std::collections::HashSet;

use serde::Serialize;

use super::Error;
use super::source::ByteSource;

/// Bytes in a DAF/DAS record.
pub const RECORD_LEN: usize = 1024;
/// Doubles in a DAF record.
pub const RECORD_DOUBLES: usize = 128;

/// The FTP validation string NAIF writes at byte 699 of every file record since N0046;
/// an ASCII-mode FTP transfer rewrites its CR/LF/NUL/8-bit bytes.
pub const FTP_STRING: &[u8; 28] = b"FTPSTR:\r:\n:\r\n:\r\x00:\x81:\x10\xce:ENDFTP";
const FTP_OFFSET: usize = 699;

/// The byte order of a binary kernel: one type for detection and reading.
pub use crate::kernel::ByteOrder;

/// What the id word says the file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DafKind {
    Spk,
    Ck,
    Pck,
    /// Legacy `NAIF/DAF` (before id words carried the type): typed by ND/NI and by the
    /// segment descriptors, see [`super::binary::classify_legacy`].
    Legacy,
    /// Another `DAF/xxx` word (e.g. `DAF/EK` does not exist, but `DAF/ABC` might).
    Other,
}

/// The parsed file record.
#[derive(Clone, Debug, PartialEq)]
pub struct FileRecord {
    pub id_word: String,
    pub kind: DafKind,
    pub nd: usize,
    pub ni: usize,
    pub internal_name: String,
    pub fward: u64,
    pub bward: u64,
    pub free: u64,
    pub byte_order: ByteOrder,
    /// False for pre-N0046 files whose byte order was inferred from ND/NI.
    pub format_field: bool,
    /// Whether the FTP validation string is present (it is then intact: a damaged one
    /// is an error).
    pub ftp_string: bool,
}

impl FileRecord {
    /// Doubles per summary.
    pub fn summary_size(&self) -> usize {
        self.nd + self.ni.div_ceil(2)
    }

    /// Summaries per summary record.
    pub fn max_summaries(&self) -> usize {
        (RECORD_DOUBLES - 3) / self.summary_size().max(1)
    }
}

/// One segment summary: the ND doubles and NI integers, and the segment's name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// 0-based position in the file (summary order = CSPICE's `daffna` order).
    pub index: usize,
    /// The summary record holding it (1-based).
    pub record: u64,
    pub doubles: Vec<f64>,
    pub ints: Vec<i32>,
    pub name: Option<String>,
}

/// The id word at the start of a file (its first blank-delimited token within the
/// first 8 bytes, non-printing bytes as blanks), e.g. `DAF/SPK`.
pub fn id_word(head: &[u8]) -> String {
    let end = head.len().min(8);
    head[..end]
        .iter()
        .map(|&b| {
            if (32..=126).contains(&b) {
                b as char
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

/// A human description of bytes that are not a binary kernel, for error messages.
pub fn describe_non_kernel(head: &[u8]) -> String {
    let text = String::from_utf8_lossy(&head[..head.len().min(512)]).to_ascii_lowercase();
    let t = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if head.is_empty() {
        "no bytes (an empty file)".into()
    } else if t.starts_with("<!doctype html") || t.starts_with("<html") || t.contains("<body") {
        "an HTML page".into()
    } else if t.starts_with("version https://git-lfs") {
        "a Git LFS pointer".into()
    } else if t.starts_with("kpl/") {
        format!("a SPICE text kernel (`{}`)", id_word(head))
    } else if t.contains("\\begindata") {
        "a SPICE text kernel without a KPL header".into()
    } else if head
        .iter()
        .take(512)
        .all(|&b| b == b'\t' || b == b'\n' || b == b'\r' || (32..127).contains(&b))
    {
        "text".into()
    } else {
        format!("the unknown id word `{}`", id_word(head))
    }
}

fn ndni_plausible(nd: i32, ni: i32) -> bool {
    (0..=124).contains(&nd) && (2..=250).contains(&ni) && nd + (ni + 1) / 2 <= 125
}

/// The byte order of a DAF file record, and whether it says so in its format field:
/// pre-N0046 files have none, and the order is the one in which ND and NI are
/// plausible (CSPICE's ZZDDHPPF does the same).
fn byte_order_of(file: &str, rec: &[u8]) -> Result<(ByteOrder, bool), Error> {
    let format = &rec[88..96];
    let format_str = String::from_utf8_lossy(format)
        .trim_matches(['\0', ' '])
        .to_string();
    Ok(match format_str.as_str() {
        "BIG-IEEE" => (ByteOrder::Big, true),
        "LTL-IEEE" => (ByteOrder::Little, true),
        "" => {
            // Pre-N0046 files have no format field: the byte order is the one in which
            // ND and NI are plausible (CSPICE's ZZDDHPPF does the same).
            let be = (
                ByteOrder::Big.i32(&rec[8..]),
                ByteOrder::Big.i32(&rec[12..]),
            );
            let le = (
                ByteOrder::Little.i32(&rec[8..]),
                ByteOrder::Little.i32(&rec[12..]),
            );
            match (ndni_plausible(be.0, be.1), ndni_plausible(le.0, le.1)) {
                (true, false) => (ByteOrder::Big, false),
                (false, true) => (ByteOrder::Little, false),
                (true, true) if be == le => (ByteOrder::Little, false),
                (false, false) => {
                    return Err(Error::BadNdNi {
                        file: file.into(),
                        nd: i64::from(le.0),
                        ni: i64::from(le.1),
                    });
                }
                (true, true) => return Err(Error::UnknownByteOrder { file: file.into() }),
            }
        }
        other => {
            return Err(Error::UnsupportedFormat {
                file: file.into(),
                format: other.escape_default().to_string(),
            });
        }
    })
}

/// Parses record 1 of a DAF. `len` is the file length (for the pointer checks).
pub fn parse_file_record(file: &str, rec: &[u8], len: u64) -> Result<FileRecord, Error> {
    let word = id_word(rec);
    let kind = match word.as_str() {
        "DAF/SPK" => DafKind::Spk,
        "DAF/CK" => DafKind::Ck,
        "DAF/PCK" => DafKind::Pck,
        "NAIF/DAF" => DafKind::Legacy,
        w if w.starts_with("DAF/") => DafKind::Other,
        "DAFETF" | "DASETF" => return Err(Error::TransferFormat { file: file.into() }),
        _ => {
            return Err(Error::NotKernel {
                file: file.into(),
                what: describe_non_kernel(rec),
            });
        }
    };
    if rec.len() < RECORD_LEN {
        return Err(Error::Truncated {
            file: file.into(),
            record: 1,
            len,
        });
    }
    let (byte_order, format_field) = byte_order_of(file, rec)?;
    let bo = byte_order;
    let nd = bo.i32(&rec[8..]);
    let ni = bo.i32(&rec[12..]);
    if !ndni_plausible(nd, ni) {
        return Err(Error::BadNdNi {
            file: file.into(),
            nd: i64::from(nd),
            ni: i64::from(ni),
        });
    }
    let ftp_string = check_ftp(file, rec)?;
    let records = len / RECORD_LEN as u64;
    let pointer = |at: usize| -> Result<u64, Error> {
        let v = bo.i32(&rec[at..]);
        if v < 0 {
            return Err(Error::BadSummaryRecord {
                file: file.into(),
                record: 1,
                why: format!("negative record pointer {v}"),
            });
        }
        Ok(v as u64)
    };
    let fward = pointer(76)?;
    let bward = pointer(80)?;
    let free = pointer(84)?;
    // FREE is the first free word: a file shorter than the words before it was cut.
    if free > 1 && (free - 1) * 8 > len {
        return Err(Error::FreePastEof {
            file: file.into(),
            free,
            len,
        });
    }
    // A trailing partial record may be named here; reading it whole fails later,
    // naming it as cut short (the structure check accepts it when it holds its
    // summaries, see [`Walk::partial_last`]).
    if fward > len.div_ceil(RECORD_LEN as u64) || fward == 1 {
        return Err(Error::PointerPastEof {
            file: file.into(),
            record: 1,
            pointer: fward as i64,
            records,
        });
    }
    Ok(FileRecord {
        id_word: word,
        kind,
        nd: nd as usize,
        ni: ni as usize,
        internal_name: String::from_utf8_lossy(&rec[16..76]).trim_end().to_string(),
        fward,
        bward,
        free,
        byte_order,
        format_field,
        ftp_string,
    })
}

/// Checks the FTP validation string (CSPICE's ZZFTPCHK looks for `FTPSTR` ... `ENDFTP`
/// and compares what lies between). Absent → `Ok(false)`; intact → `Ok(true)`.
fn check_ftp(file: &str, rec: &[u8]) -> Result<bool, Error> {
    if rec.get(FTP_OFFSET..FTP_OFFSET + FTP_STRING.len()) == Some(&FTP_STRING[..]) {
        return Ok(true);
    }
    let Some(start) = find(rec, b"FTPSTR") else {
        return Ok(false);
    };
    let rest = &rec[start..];
    let intact = match find(rest, b"ENDFTP") {
        Some(end) => rest[..end + 6] == FTP_STRING[..],
        None => false,
    };
    if intact {
        Ok(true)
    } else {
        Err(Error::FtpDamaged { file: file.into() })
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads record `record` (1-based) and, when `with_next`, the record after it in the
/// same call. Fails naming the record when the file ends first.
pub fn read_records<S: ByteSource + ?Sized>(
    src: &mut S,
    file: &str,
    record: u64,
    count: u64,
) -> Result<Vec<u8>, Error> {
    let len = src.len();
    if record == 0 {
        return Err(Error::BadSummaryRecord {
            file: file.into(),
            record,
            why: "record 0 does not exist".into(),
        });
    }
    let start = (record - 1).saturating_mul(RECORD_LEN as u64);
    let end = start.saturating_add(count.saturating_mul(RECORD_LEN as u64));
    if end > len {
        return Err(Error::Truncated {
            file: file.into(),
            record: if start + RECORD_LEN as u64 > len {
                record
            } else {
                record + 1
            },
            len,
        });
    }
    super::source::read_bytes(src, file, record, start, (end - start) as usize)
}

/// Reads the file record.
pub fn read_file_record<S: ByteSource + ?Sized>(
    src: &mut S,
    file: &str,
) -> Result<FileRecord, Error> {
    let head = super::source::read_head(src, file)?;
    parse_file_record(file, &head, src.len())
}

/// One summary record met on the chain: its number, its control words and its
/// summaries (with names when they were read).
#[derive(Clone, Debug, PartialEq)]
pub struct ChainRecord {
    pub record: u64,
    /// NEXT, checked: 0 ends the chain, anything else is a summary record of the file.
    pub next: u64,
    /// PREV as stored (CSPICE reads forward and never looks at it; `verify` does).
    pub prev: f64,
    pub summaries: Vec<Summary>,
}

/// How [`walk_chain`] reads the chain.
#[derive(Clone, Copy, Debug, Default)]
pub struct Walk {
    /// Read each summary record together with its name record.
    pub names: bool,
    /// Accept a summary record cut by the end of the file as long as the summaries
    /// it declares are held (the structure check is lenient where real archives
    /// vary); coverage reads whole records, as CSPICE does.
    pub partial_last: bool,
}

/// The one DAF summary-chain walker (coverage, `verify`, the download check): follows
/// NEXT from FWARD to 0 and decodes every summary in `daffna` order. Never panics,
/// never loops: a record visited twice is a loop, every pointer is checked against
/// the file length, every control word must be a whole non-negative number and NSUM
/// must fit in a record.
pub fn walk_chain<S: ByteSource + ?Sized>(
    src: &mut S,
    file: &str,
    fr: &FileRecord,
    walk: Walk,
) -> Result<Vec<ChainRecord>, Error> {
    let len = src.len();
    let records = len / RECORD_LEN as u64;
    // The last record a pointer may name (a trailing partial one, when accepted).
    let last = if walk.partial_last {
        len.div_ceil(RECORD_LEN as u64)
    } else {
        records
    };
    let mut out: Vec<ChainRecord> = Vec::new();
    let mut index = 0;
    let mut seen = HashSet::new();
    let mut record = fr.fward;
    while record != 0 {
        if !seen.insert(record) {
            return Err(Error::SummaryLoop {
                file: file.into(),
                record,
            });
        }
        let with_names = walk.names && record < records;
        let buf = if walk.partial_last && record > records {
            read_held(src, file, record)?
        } else {
            read_records(src, file, record, if with_names { 2 } else { 1 })?
        };
        let step = decode_record(file, fr, record, &buf, with_names, &mut index)?;
        if step.next > last || step.next == 1 {
            return Err(Error::PointerPastEof {
                file: file.into(),
                record,
                pointer: i64::try_from(step.next).unwrap_or(i64::MAX),
                records,
            });
        }
        record = step.next;
        out.push(step);
    }
    Ok(out)
}

/// The part of a trailing partial record the file holds (at least its three control
/// words).
fn read_held<S: ByteSource + ?Sized>(
    src: &mut S,
    file: &str,
    record: u64,
) -> Result<Vec<u8>, Error> {
    let len = src.len();
    let start = (record.max(1) - 1).saturating_mul(RECORD_LEN as u64);
    if record == 0 || start.saturating_add(24) > len {
        return read_records(src, file, record, 1);
    }
    let n = (len - start).min(RECORD_LEN as u64) as usize;
    super::source::read_bytes(src, file, record, start, n)
}

/// Decodes one summary record (`buf`: as much of it as was read, then its name
/// record when `with_names`). `index` numbers the summaries across the file.
fn decode_record(
    file: &str,
    fr: &FileRecord,
    record: u64,
    buf: &[u8],
    with_names: bool,
    index: &mut usize,
) -> Result<ChainRecord, Error> {
    let bo = fr.byte_order;
    let ss = fr.summary_size();
    let control = |i: usize, what: &str| -> Result<f64, Error> {
        let v = bo.f64(&buf[i * 8..]);
        if !v.is_finite() || v.fract() != 0.0 || v < 0.0 {
            return Err(Error::BadSummaryRecord {
                file: file.into(),
                record,
                why: format!("{what} is {v}, not a record count"),
            });
        }
        Ok(v)
    };
    let next = control(0, "NEXT")?;
    let nsum = control(2, "NSUM")?;
    if nsum > fr.max_summaries() as f64 {
        return Err(Error::BadSummaryRecord {
            file: file.into(),
            record,
            why: format!(
                "NSUM is {nsum}, but at most {} summaries of {ss} doubles fit in a record",
                fr.max_summaries()
            ),
        });
    }
    let nsum = nsum as usize;
    let held = buf.len().min(RECORD_LEN);
    if (3 + nsum * ss) * 8 > held {
        return Err(Error::Truncated {
            file: file.into(),
            record,
            len: (record - 1) * RECORD_LEN as u64 + held as u64,
        });
    }
    let mut summaries = Vec::with_capacity(nsum);
    for i in 0..nsum {
        let at = (3 + i * ss) * 8;
        let doubles = (0..fr.nd).map(|k| bo.f64(&buf[at + k * 8..])).collect();
        let iat = at + fr.nd * 8;
        let ints = (0..fr.ni).map(|k| bo.i32(&buf[iat + k * 4..])).collect();
        let name = with_names.then(|| {
            let nc = 8 * ss;
            let raw = &buf[RECORD_LEN + i * nc..RECORD_LEN + (i + 1) * nc];
            String::from_utf8_lossy(raw)
                .trim_end_matches(['\0', ' '])
                .to_string()
        });
        summaries.push(Summary {
            index: *index,
            record,
            doubles,
            ints,
            name,
        });
        *index += 1;
    }
    Ok(ChainRecord {
        record,
        next: next as u64,
        prev: bo.f64(&buf[8..]),
        summaries,
    })
}

/// Every summary in `daffna` order ([`walk_chain`] over whole records). With `names`,
/// each summary record is read together with its name record.
pub fn read_summaries<S: ByteSource + ?Sized>(
    src: &mut S,
    file: &str,
    fr: &FileRecord,
    names: bool,
) -> Result<Vec<Summary>, Error> {
    let walk = Walk {
        names,
        partial_last: false,
    };
    Ok(walk_chain(src, file, fr, walk)?
        .into_iter()
        .flat_map(|r| r.summaries)
        .collect())
}
