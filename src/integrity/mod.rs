//! Pure checks behind `kdb verify`: published checksum tables ([`checksums`]) and a
//! structural sanity check of DAF/DAS files ([`daf`]). Bytes in, values out; no I/O
//! beyond the reads the caller hands in.

pub mod checksums;
pub mod daf;
