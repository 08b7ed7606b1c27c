//! The JSON shapes of `kdb coverage`, `kdb which` and `kdb gaps` (issue 9's contract),
//! as plain serde types the CLI fills in and prints.

use serde::Serialize;

use super::binary::KernelKind;
use super::daf::ByteOrder;

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
}

/// `kdb coverage --json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoverageReport {
    pub kernels: Vec<KernelReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
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
            }],
            merged: None,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"kernels":[{"file":"/k/de.bsp","name":"de.bsp","sha256":"ab","type":"spk","byte_order":"LTL-IEEE","ids":[{"id":399,"name":"EARTH","windows":[[-1.5,"2000-01-01T00:00:00.000"]]}]}]}"#
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
