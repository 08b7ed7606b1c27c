//! One segment descriptor of a binary DAF kernel, typed by the kernel's kind: the
//! value `binary` reads and `ck` (intervals) and `which` (precedence) work on.
//! Imports nothing of kdb.

use serde::Serialize;

/// One segment descriptor, typed by the kernel's kind.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Segment {
    /// 0-based position in the file, in summary order (within a file the last segment
    /// has precedence).
    pub index: usize,
    /// Summary record holding the descriptor.
    pub record: u64,
    pub name: Option<String>,
    /// SPK target, CK instrument/structure, PCK body frame class ID.
    pub id: i32,
    /// SPK centre of motion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub center: Option<i32>,
    /// Reference frame ID.
    pub frame: i32,
    pub data_type: i32,
    /// CK only: whether the segment has angular velocity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_av: Option<bool>,
    /// ET seconds past J2000 TDB (SPK, PCK) or encoded SCLK ticks (CK).
    pub start: f64,
    pub stop: f64,
    /// First and last double-precision word addresses of the segment's data (1-based).
    pub begin: i32,
    pub end: i32,
}
