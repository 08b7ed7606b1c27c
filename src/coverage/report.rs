//! The JSON shapes of `kdb coverage`, `kdb which` and `kdb gaps` (issue 9's contract),
//! as plain serde types the CLI fills in and prints.

use serde::Serialize;

use super::Error;
use super::binary::{IdCoverage, KernelKind};
use super::daf::ByteOrder;
use super::names::Names;
use super::time::Lsk;
use super::which::{Hit, Which};
use super::window::Window;

/// How window bounds are printed: as numbers (ET seconds, or ticks for CK windows left
/// in SCLK) or as `et2utc(et, 'ISOC', 3)` strings.
#[derive(Clone, Copy, Debug)]
pub enum Format<'a> {
    Seconds,
    Utc(&'a Lsk),
}

impl<'a> Format<'a> {
    /// UTC with an LSK, seconds past J2000 without.
    pub fn of(lsk: Option<&'a Lsk>) -> Format<'a> {
        lsk.map_or(Format::Seconds, Format::Utc)
    }
}

/// A window's intervals as printable bounds.
pub fn bounds(w: &Window, format: Format<'_>) -> Result<Vec<[Bound; 2]>, Error> {
    w.intervals()
        .iter()
        .map(|&[a, b]| {
            Ok(match format {
                Format::Seconds => [Bound::Seconds(a), Bound::Seconds(b)],
                Format::Utc(lsk) => [Bound::Utc(lsk.et2utc(a, 3)?), Bound::Utc(lsk.et2utc(b, 3)?)],
            })
        })
        .collect()
}

/// Per-ID reports from coverage results, named with `names` (bodies for SPK, frames
/// for PCK and CK).
pub fn id_reports(
    covs: &[IdCoverage],
    names: &Names,
    format: Format<'_>,
) -> Result<Vec<IdReport>, Error> {
    covs.iter()
        .map(|c| {
            Ok(IdReport {
                id: c.id,
                name: names.name(c.id).map(str::to_string),
                windows: bounds(&c.windows, format)?,
                level: (!c.segment_level_types.is_empty()).then(|| "segment".to_string()),
            })
        })
        .collect()
}

impl WhichReport {
    /// From a precedence answer; every hit's kernel kind is `kind`.
    pub fn new(w: &Which, kind: Option<KernelKind>) -> WhichReport {
        let seg = |h: &Hit| WhichSegment {
            file: h.file.clone(),
            segment: h.segment,
            kind,
        };
        WhichReport {
            winner: w.winner.as_ref().map(seg),
            covering: w.covering.iter().map(seg).collect(),
        }
    }
}

/// A window bound: seconds (ET, or encoded SCLK ticks with `--time sclk`) or, with
/// `--time utc`, an ISO string (`et2utc(et, 'ISOC', 3)`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Bound {
    Seconds(f64),
    Utc(String),
}

/// `{"id", "name", "windows": [[start, stop], ...]}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IdReport {
    pub id: i32,
    pub name: Option<String>,
    pub windows: Vec<[Bound; 2]>,
    /// Set to `"segment"` when interval level was asked for a CK whose segments include
    /// data types without interval support (the windows are then segment bounds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
}

/// One kernel in `kdb coverage`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KernelReport {
    pub file: String,
    pub name: String,
    pub sha256: String,
    #[serde(rename = "type")]
    pub kind: KernelKind,
    pub byte_order: ByteOrder,
    pub ids: Vec<IdReport>,
    /// Why the bounds are not in the asked time format (a CK whose clock has no SCLK
    /// kernel loaded: encoded ticks). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `kdb coverage --json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoverageReport {
    pub kernels: Vec<KernelReport>,
    /// Always present (the contract's key); `null` unless `--merge` was asked.
    pub merged: Option<Vec<IdReport>>,
}

/// A segment in `kdb which`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WhichSegment {
    pub file: String,
    pub segment: usize,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<KernelKind>,
}

/// `kdb which --json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WhichReport {
    pub winner: Option<WhichSegment>,
    pub covering: Vec<WhichSegment>,
}

/// `kdb gaps --json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GapsReport {
    pub id: i32,
    pub gaps: Vec<[Bound; 2]>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders() {
        let lsk = Lsk::parse(
            "l",
            b"\\begindata\nDELTET/DELTA_T_A = 32.184\nDELTET/K = 1.657D-3\nDELTET/EB = 1.671D-2\nDELTET/M = ( 6.239996D0 1.99096871D-7 )\nDELTET/DELTA_AT = ( 10, @1972-JAN-1 32, @1999-JAN-1 )\n",
        )
        .unwrap();
        let covs = vec![IdCoverage {
            id: 399,
            windows: Window::from_intervals([[0.0, 0.0]]),
            segment_level_types: vec![4],
        }];
        let r = id_reports(
            &covs,
            &crate::coverage::names::builtin_bodies(),
            Format::Utc(&lsk),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"[{"id":399,"name":"EARTH","windows":[["2000-01-01T11:58:55.816","2000-01-01T11:58:55.816"]],"level":"segment"}]"#
        );
        let w = Which {
            winner: Some(Hit {
                file: "b".into(),
                kernel: 1,
                segment: 3,
            }),
            covering: vec![Hit {
                file: "a".into(),
                kernel: 0,
                segment: 0,
            }],
        };
        let j = serde_json::to_string(&WhichReport::new(&w, Some(KernelKind::Spk))).unwrap();
        assert_eq!(
            j,
            r#"{"winner":{"file":"b","segment":3,"type":"spk"},"covering":[{"file":"a","segment":0,"type":"spk"}]}"#
        );
    }

    #[test]
    fn json_shapes() {
        let r = CoverageReport {
            kernels: vec![KernelReport {
                file: "/k/de.bsp".into(),
                name: "de.bsp".into(),
                sha256: "ab".into(),
                kind: KernelKind::Spk,
                byte_order: ByteOrder::Little,
                ids: vec![IdReport {
                    id: 399,
                    name: Some("EARTH".into()),
                    windows: vec![[
                        Bound::Seconds(-1.5),
                        Bound::Utc("2000-01-01T00:00:00.000".into()),
                    ]],
                    level: None,
                }],
                note: None,
            }],
            merged: None,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"kernels":[{"file":"/k/de.bsp","name":"de.bsp","sha256":"ab","type":"spk","byte_order":"LTL-IEEE","ids":[{"id":399,"name":"EARTH","windows":[[-1.5,"2000-01-01T00:00:00.000"]]}]}],"merged":null}"#
        );
        let w = WhichReport {
            winner: Some(WhichSegment {
                file: "a".into(),
                segment: 2,
                kind: Some(KernelKind::Ck),
            }),
            covering: vec![WhichSegment {
                file: "b".into(),
                segment: 0,
                kind: None,
            }],
        };
        assert_eq!(
            serde_json::to_string(&w).unwrap(),
            r#"{"winner":{"file":"a","segment":2,"type":"ck"},"covering":[{"file":"b","segment":0}]}"#
        );
        let g = GapsReport {
            id: -82,
            gaps: vec![[Bound::Seconds(1.0), Bound::Seconds(2.0)]],
        };
        assert_eq!(
            serde_json::to_string(&g).unwrap(),
            r#"{"id":-82,"gaps":[[1.0,2.0]]}"#
        );
    }
}
