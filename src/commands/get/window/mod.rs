//! `kdb get MK --from T --to T [--body ID|NAME ...] [--pad DURATION]`: acquire only
//! the kernels a time window needs (issue 11).
//!
//! Which entries are taken, decided before anything is downloaded:
//!
//! - text kernels (by extension: they are small and always needed), DSK/EK files,
//!   files that are not binary kernels, and binary kernels whose coverage could not
//!   be probed ([`crate::remote::probe`]: "coverage unknown → download");
//! - a binary kernel (SPK, CK, binary PCK) with at least one segment whose
//!   descriptor bounds intersect the window widened by `--pad` on both sides.
//!   SPK and PCK bounds are ET; CK bounds are encoded SCLK ticks, converted to ET
//!   through the metakernel's own SCLK and LSK kernels (fetched first), then
//!   widened by [`CK_MARGIN`] so that rounding can only take more. A CK whose
//!   ticks cannot be converted is taken.
//!
//! With `--body`, SPK segments count only for those bodies *and the centres they
//! are given relative to* (the closure, so the chain to the solar-system
//! barycentre is kept), CK segments only for instruments that are one of the
//! bodies or whose ID divided by 1000 is (the spacecraft bus convention:
//! −121000 → −121); binary PCKs are judged on time alone.
//!
//! When every kernel of a kind (SPK, CK, binary PCK) would be skipped, the smallest
//! is kept (`select::keep_one_per_kind`): CSPICE's error for "no file of this kind loaded"
//! differs from its answer for "no data", found on the real Cassini subset.
//!
//! Why this keeps SPICE's answers inside the window bit for bit: SPICE evaluates an
//! epoch from the last-loaded segment whose descriptor bounds contain it; a skipped
//! kernel has no segment whose bounds meet the window, so no epoch inside the window
//! could have used it. The taken entries keep their order (precedence unchanged).
//!
//! The local metakernel is the full one minus the skipped entries' strings (a line
//! left blank is dropped), every other byte kept, and a comment block at its end
//! recording the window. The window itself is kept in the catalogue
//! (`metakernel_windows`), so `kdb update` re-applies it and a later `kdb get`
//! without a window fetches the rest.

use serde::{Deserialize, Serialize};

use crate::commands::{Error, Result};
use crate::db::{Catalogue, ProbeRow};
use crate::remote::probe::ProbeStats;

mod select;

pub(super) use select::select;

/// Widening of converted CK bounds (seconds): tick → ET conversion rounds, and a
/// kernel taken for nothing costs bytes, a kernel skipped wrongly costs answers.
pub const CK_MARGIN: f64 = 1e-3;

/// Extensions of text kernels: taken without a probe (taking is always safe).
const TEXT_EXTENSIONS: &[&str] = &["tls", "tsc", "tf", "ti", "tpc", "tm", "txt", "tk"];

/// The window as the user gave it (and as the catalogue keeps it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bodies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad: Option<String>,
}

impl WindowSpec {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(s: &str) -> Result<WindowSpec> {
        serde_json::from_str(s)
            .map_err(|e| Error::Usage(format!("stored window `{s}` is unreadable: {e}")))
    }

    /// How the window reads on a command line.
    pub fn describe(&self) -> String {
        let mut s = format!("--from {} --to {}", self.from, self.to);
        for b in &self.bodies {
            s.push_str(&format!(" --body {b}"));
        }
        if let Some(p) = &self.pad {
            s.push_str(&format!(" --pad {p}"));
        }
        s
    }
}

/// `30`, `30s`, `15m`, `6h`, `2d` → seconds.
pub fn parse_duration(s: &str) -> Result<f64> {
    let t = s.trim();
    let (num, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let scale = match unit {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => 0.0,
    };
    match num.trim().parse::<f64>() {
        Ok(v) if scale > 0.0 && v.is_finite() && v >= 0.0 => Ok(v * scale),
        _ => Err(Error::Usage(format!(
            "`{s}` is not a duration (e.g. 30s, 15m, 6h, 2d)"
        ))),
    }
}

report_status! {
    /// What a windowed get does with one entry.
    pub enum Decision {
        Taken => "taken",
        Skipped => "skipped",
    }
}

/// One entry's decision.
#[derive(Debug, Clone, Serialize)]
pub struct WindowEntry {
    pub name: String,
    pub url: String,
    pub decision: Decision,
    pub reason: String,
    /// Size as the server reported it to the probe.
    pub size: Option<u64>,
}

/// The window part of a get plan.
#[derive(Debug, Clone, Serialize)]
pub struct WindowView {
    pub spec: WindowSpec,
    pub from_et: f64,
    pub to_et: f64,
    pub pad_seconds: f64,
    pub bodies: Vec<i32>,
    pub entries: Vec<WindowEntry>,
    pub taken: usize,
    pub skipped: usize,
    /// Bytes of the skipped kernels (not downloaded).
    pub bytes_saved: u64,
    pub probes: ProbeStats,
}

/// A windowed selection, ready for the rest of the plan.
pub(super) struct Selection {
    pub view: WindowView,
    /// Indexes (into the metakernel's entries) of the skipped ones.
    pub skipped: Vec<usize>,
    pub cache_rows: Vec<ProbeRow>,
}
/// The local metakernel without the strings of the entries at `drop` (indexes into
/// its entries), checked by parsing the result: every other entry kept, in order.
pub(super) fn drop_entries(local: &[u8], drop: &[usize]) -> Result<Vec<u8>> {
    crate::metakernel::edit::drop_entries(local, drop)
        .map_err(|why| Error::Usage(format!("cannot write the metakernel: {why}")))
}

pub(super) use crate::metakernel::edit::append_lines;

pub(super) fn append_comment(out: &mut Vec<u8>, skipped: usize, total: usize, spec: &WindowSpec) {
    append_lines(
        out,
        &[
            format!("   kdb: windowed metakernel ({}).", spec.describe()),
            format!(
                "   {skipped} of {total} entries were left out: binary kernels with no segment in the window."
            ),
            format!("   kdb-window: {}", spec.to_json()),
        ],
    );
}

/// The window stored for a metakernel, if it was acquired with one.
pub(super) fn stored(cat: &Catalogue, source_url: &str) -> Result<Option<WindowSpec>> {
    cat.window_of(source_url)?
        .map(|s| WindowSpec::from_json(&s))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The local metakernel without the skipped entries' strings, with the window
    /// recorded in a comment block at its end. Every other byte is kept; a line left
    /// with nothing but blanks and commas is dropped. Checked by parsing the result:
    /// its entries must be exactly the taken ones, in order.
    fn drop_skipped(local: &[u8], skipped: &[usize], spec: &WindowSpec) -> Result<Vec<u8>> {
        let mut out = drop_entries(local, skipped)?;
        let total = crate::metakernel::Metakernel::parse(local)
            .and_then(|m| m.entries())
            .map_or(0, |e| e.len());
        append_comment(&mut out, skipped.len(), total, spec);
        Ok(out)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30").unwrap(), 30.0);
        assert_eq!(parse_duration("15m").unwrap(), 900.0);
        assert_eq!(parse_duration("2d").unwrap(), 172_800.0);
        assert_eq!(parse_duration("1.5h").unwrap(), 5400.0);
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("3y").is_err());
        assert!(parse_duration("").is_err());
    }

    const MK: &str = "KPL/MK\n\\begindata\nPATH_VALUES = ( '/x' )\nPATH_SYMBOLS = ( 'K' )\nKERNELS_TO_LOAD = ( '$K/a.tls'\n                    '$K/b.bsp', '$K/c.bsp'\n                    '$K/d.bc' )\n\\begintext\nend\n";

    fn spec() -> WindowSpec {
        WindowSpec {
            from: "ET:0".into(),
            to: "ET:1".into(),
            bodies: vec![],
            pad: None,
        }
    }

    #[test]
    fn dropping_entries_keeps_everything_else() {
        let out = drop_skipped(MK.as_bytes(), &[1, 3], &spec()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                "KPL/MK\n\\begindata\nPATH_VALUES = ( '/x' )\nPATH_SYMBOLS = ( 'K' )\nKERNELS_TO_LOAD = ( '$K/a.tls'\n                     '$K/c.bsp'\n                     )\n\\begintext\nend\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("kdb-window: {\"from\":\"ET:0\",\"to\":\"ET:1\"}"),
            "{text}"
        );
        let m = crate::metakernel::Metakernel::parse(text.as_bytes()).unwrap();
        let paths: Vec<String> = m.entries().unwrap().into_iter().map(|e| e.path).collect();
        assert_eq!(paths, ["/x/a.tls", "/x/c.bsp"]);
    }

    #[test]
    fn a_blank_line_goes_and_data_mode_is_closed() {
        let mk = "\\begindata\nKERNELS_TO_LOAD = (\n 'a.tls'\n 'b.bsp'\n 'c.bsp'\n)\n";
        let out = drop_skipped(mk.as_bytes(), &[1], &spec()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                "\\begindata\nKERNELS_TO_LOAD = (\n 'a.tls'\n 'c.bsp'\n)\n\\begintext\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn crlf_is_kept() {
        let mk = "\\begindata\r\nKERNELS_TO_LOAD = ( 'a.tls'\r\n 'b.bsp' )\r\n\\begintext\r\n";
        let text = String::from_utf8(drop_skipped(mk.as_bytes(), &[1], &spec()).unwrap()).unwrap();
        assert!(!text.replace("\r\n", "").contains('\n'), "{text:?}");
    }

    #[test]
    fn spec_round_trips() {
        let s = WindowSpec {
            from: "2030-01-01".into(),
            to: "2030-01-08".into(),
            bodies: vec!["-121".into(), "MERCURY".into()],
            pad: Some("1h".into()),
        };
        assert_eq!(WindowSpec::from_json(&s.to_json()).unwrap(), s);
    }
}
