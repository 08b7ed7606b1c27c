//! What the kernels contain: a native reader for binary SPICE kernels (DAF: SPK, CK,
//! binary PCK; DAS: DSK, EK) and the text kernels needed to put times on their coverage
//! (LSK, SCLK type 1, body and frame names) — pure over bytes, no CSPICE.
//!
//! This module owns the binary layouts and the time arithmetic, and nothing else: no
//! filesystem walking, no catalogue, no network. Bytes come through [`ByteSource`]
//! (a `File`, a byte slice, later HTTP Range requests), read in few, large,
//! record-aligned calls.
//!
//! References (NAIF, `https://naif.jpl.nasa.gov/pub/naif/toolkit_docs/C/req/`):
//! *DAF Required Reading* (`daf.html`: file record, summary and name records),
//! *SPK*, *CK* and *PCK Required Reading* (segment descriptors, CK data types 1, 2, 3, 5, 6),
//! *DAS Required Reading* and *DSK Required Reading* (`das.html`, `dsk.html`),
//! *Windows Required Reading* (`windows.html`), *Time Required Reading* and *SCLK
//! Required Reading* (`time.html`, `sclk.html`), *Kernel Required Reading* (text
//! kernel syntax), and *NAIF Integer ID codes* (`naif_ids.html`). The CSPICE routines
//! each function reproduces are named in its documentation (`spkcov`, `ckcov`,
//! `pckcov`, `wninsd`, `wncomd`, `deltet`, `unitim`, `ttrans`, `et2utc`, `str2et`,
//! `sct2e`, `sce2c`); CSPICE N0067 through SpiceyPy is the test oracle
//! (`tests/it/coverage_reader.rs`, `tests/cspice/coverage_oracle.py`).
//!
//! # Use
//!
//! - Identify: [`identify`] on the first bytes; DAF kernels: [`binary::read`] (file
//!   record + segment descriptors); DAS: [`das::read`] (DSK bodies/surfaces).
//! - Coverage per ID: [`binary::et_coverage`] (`spkcov`/`pckcov`) and
//!   [`binary::ck_coverage`] (`ckcov`, levels, `needav`, ticks or TDB through
//!   [`TimeKernels::ck_ticks_to_et`]); union over kernels: [`Window::union`] /
//!   [`Window::from_intervals`] (`brief -a`'s merge).
//! - `which`: [`binary::segment_covers`] per kernel in load order, then
//!   [`which::which`]. `gaps`: [`window::gaps`].
//! - Times: [`TimeKernels`] (text kernels in load order; `ET:<s>` or ISO UTC epochs),
//!   [`time::Lsk::et2utc`] for output, [`sclk::Sclk`] for ticks.
//! - Names: [`names::bodies`] / [`names::frames`]. JSON: [`report`].
//!
//! # Invariants
//!
//! - No input makes a reader panic or loop: every record pointer is checked against the
//!   file length, a summary record seen twice is a loop, every count is bounded by the
//!   bytes that hold it. Every error names the file and the record (or line).
//! - Coverage windows are built with CSPICE's window rules ([`Window`]): SPK and PCK
//!   bounds are the doubles of the file, bit for bit.
//! - Reading a kernel's coverage reads the file record and the summary/name records only
//!   (plus, for CK intervals, the segment's epochs) — never the whole file.

pub mod binary;
mod calendar;
pub mod ck;
pub mod context;
pub mod daf;
pub mod das;
pub mod index;
pub mod names;
pub mod probe;
pub mod report;
pub mod sclk;
pub mod segment;
pub mod source;
pub mod text;
pub mod time;
pub mod which;
pub mod window;

pub use binary::{DafKernel, IdCoverage, KernelKind, Level, Segment};
pub use context::TimeKernels;
pub use daf::ByteOrder;
pub use source::{ByteSource, Counting};
pub use window::Window;

/// Everything that can go wrong reading kernels or converting times.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to read `{file}` at record {record}")]
    Io {
        file: String,
        record: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("`{file}` is truncated: record {record} ends past the end of the file ({len} bytes)")]
    Truncated { file: String, record: u64, len: u64 },
    #[error(
        "`{file}` is truncated: FREE (record 1) is word {free}, past the end of the file ({len} bytes)"
    )]
    FreePastEof { file: String, free: u64, len: u64 },
    #[error("`{file}` is not a binary SPICE kernel: record 1 holds {what}")]
    NotKernel { file: String, what: String },
    #[error(
        "`{file}` is a SPICE transfer file, not a binary kernel (record 1); convert it with NAIF's `tobin`"
    )]
    TransferFormat { file: String },
    #[error(
        "`{file}` was damaged by an ASCII-mode (text) transfer: the FTP validation string in record 1 is altered; download it again in binary mode"
    )]
    FtpDamaged { file: String },
    #[error("`{file}` has an impossible ND = {nd}, NI = {ni} in record 1")]
    BadNdNi { file: String, nd: i64, ni: i64 },
    #[error(
        "`{file}` is a {kind} with ND = {nd}, NI = {ni} in record 1, but a {kind} has ND = {want_nd}, NI = {want_ni}"
    )]
    WrongNdNi {
        file: String,
        kind: &'static str,
        nd: usize,
        ni: usize,
        want_nd: usize,
        want_ni: usize,
    },
    #[error("`{file}` has the unsupported binary format `{format}` in record 1")]
    UnsupportedFormat { file: String, format: String },
    #[error(
        "`{file}`: cannot tell the byte order of record 1 (no format field, ND/NI plausible either way)"
    )]
    UnknownByteOrder { file: String },
    #[error("`{file}` is {found}, not {expected} (record 1)")]
    WrongKind {
        file: String,
        found: String,
        expected: &'static str,
    },
    #[error("`{file}`: the summary record chain loops back to record {record}")]
    SummaryLoop { file: String, record: u64 },
    #[error(
        "`{file}`: record {record} points to record {pointer}, past the end of the file ({records} records)"
    )]
    PointerPastEof {
        file: String,
        record: u64,
        pointer: i64,
        records: u64,
    },
    #[error("`{file}`: summary record {record} is malformed: {why}")]
    BadSummaryRecord {
        file: String,
        record: u64,
        why: String,
    },
    #[error("`{file}`: segment {segment} (summary record {record}) is malformed: {why}")]
    BadSegment {
        file: String,
        segment: usize,
        record: u64,
        why: String,
    },
    #[error("`{file}`: DAS record {record} is malformed: {why}")]
    BadDas {
        file: String,
        record: u64,
        why: String,
    },
    #[error("`{file}` line {line}: {why}")]
    TextKernel {
        file: String,
        line: usize,
        why: String,
    },
    #[error("`{file}`: kernel variable `{name}` {why}")]
    KernelVariable {
        file: String,
        name: String,
        why: String,
    },
    #[error("no {what} loaded: {why}")]
    Missing { what: &'static str, why: String },
    #[error("`{input}` is not a time kdb understands: {why}")]
    BadTime { input: String, why: String },
    #[error("corrupt coverage index entry: {0}; rebuild it with `kdb reindex`")]
    BadIndex(String),
    #[error("{what} {value} is outside the range of SCLK {clock} (`{file}`)")]
    SclkRange {
        file: String,
        clock: i32,
        what: &'static str,
        value: f64,
    },
}

/// What kind of binary kernel a file is, from its first record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BinaryKind {
    Spk,
    Ck,
    Pck,
    /// A legacy `NAIF/DAF` (SPK, CK or PCK: see [`binary::classify_legacy`]).
    LegacyDaf,
    Dsk,
    Ek,
}

/// Identifies a binary kernel from its first record (at most 1,024 bytes). Text, HTML,
/// Git LFS pointers, transfer files and unknown id words are errors that say what the
/// bytes are.
pub fn identify(file: &str, head: &[u8]) -> Result<BinaryKind, Error> {
    let word = daf::id_word(head);
    Ok(match word.as_str() {
        "DAF/SPK" => BinaryKind::Spk,
        "DAF/CK" => BinaryKind::Ck,
        "DAF/PCK" => BinaryKind::Pck,
        "NAIF/DAF" => BinaryKind::LegacyDaf,
        "DAS/DSK" => BinaryKind::Dsk,
        "DAS/EK" => BinaryKind::Ek,
        "DAFETF" | "DASETF" => return Err(Error::TransferFormat { file: file.into() }),
        _ => {
            return Err(Error::NotKernel {
                file: file.into(),
                what: daf::describe_non_kernel(head),
            });
        }
    })
}

#[cfg(test)]
mod tests;
