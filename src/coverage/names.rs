//! Body and frame names ↔ NAIF integer IDs.
//!
//! Built in: CSPICE's default body table — NAIF's published list (*NAIF Integer ID
//! codes*, `naif_ids.html`), as data in `bodies.tsv` — and its built-in frames
//! (`frames.tsv`: the inertial frames J2000, ECLIPJ2000, ..., the `IAU_*` body-fixed
//! frames, ITRF93). Both files are generated from CSPICE by the scripts in
//! `tests/cspice/` and checked against it by the tests.
//!
//! From text kernels: `NAIF_BODY_NAME` / `NAIF_BODY_CODE` pairs (by position; later
//! definitions take precedence, and over the built-ins) and FK frame definitions
//! `FRAME_<NAME> = <id>` / `FRAME_<id>_NAME = '<NAME>'` (*Frames Required Reading*).
//! Names compare as CSPICE compares them: case-insensitive, blanks collapsed.

use std::collections::HashMap;

use super::text::Pool;

const BODIES: &str = include_str!("bodies.tsv");
const FRAMES: &str = include_str!("frames.tsv");

/// CSPICE's name normalisation: trimmed, upper case, runs of blanks as one.
pub fn normalize(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// A two-way name ↔ ID table.
#[derive(Clone, Debug, Default)]
pub struct Names {
    by_name: HashMap<String, i32>,
    by_code: HashMap<i32, String>,
}

impl Names {
    fn insert(&mut self, name: &str, code: i32, primary: bool) {
        self.by_name.insert(normalize(name), code);
        if primary || !self.by_code.contains_key(&code) {
            self.by_code.insert(code, name.trim().to_string());
        }
    }

    /// `self` with every name and code of `other` laid over it (`other` wins).
    pub fn overlaid(mut self, other: Names) -> Names {
        for (code, name) in other.by_code {
            self.by_code.insert(code, name);
        }
        self.by_name.extend(other.by_name);
        self
    }

    /// The ID for a name (or for a decimal ID written as text).
    pub fn code(&self, name: &str) -> Option<i32> {
        self.by_name
            .get(&normalize(name))
            .copied()
            .or_else(|| name.trim().parse().ok())
    }

    /// The name CSPICE would print for an ID.
    pub fn name(&self, code: i32) -> Option<&str> {
        self.by_code.get(&code).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

fn rows(table: &str) -> impl Iterator<Item = Vec<&str>> {
    table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').collect())
}

/// The built-in body table.
pub fn builtin_bodies() -> Names {
    let mut n = Names::default();
    for r in rows(BODIES) {
        if let (Some(code), Some(name)) = (r.first().and_then(|c| c.parse().ok()), r.get(1)) {
            n.insert(name, code, r.get(2) == Some(&"1"));
        }
    }
    n
}

/// The built-in frames.
pub fn builtin_frames() -> Names {
    let mut n = Names::default();
    for r in rows(FRAMES) {
        if let (Some(code), Some(name)) = (r.first().and_then(|c| c.parse().ok()), r.get(1)) {
            n.insert(name, code, true);
        }
    }
    n
}

/// Frame names and the class IDs their CK and binary PCK segments carry (FRAMES
/// Required Reading: a PCK frame's class ID is what binary PCK segments name, e.g.
/// ITRF93 → 3000, IAU_EARTH → 399; a CK frame's is the CK ID), both ways: the
/// built-in PCK frames plus every class 2 (PCK) or 3 (CK) frame `pool` defines
/// (`FRAME_<code>_NAME`, `_CLASS`, `_CLASS_ID`). Kernel definitions win.
pub fn frame_classes(pool: Option<&Pool>) -> Names {
    let mut n = Names::default();
    for r in rows(FRAMES) {
        if let (Some(name), Some(class), Some(id)) = (
            r.get(1),
            r.get(2).and_then(|c| c.parse::<i32>().ok()),
            r.get(3).and_then(|c| c.parse::<i32>().ok()),
        ) && (class == 2 || class == 3)
        {
            n.insert(name, id, false);
        }
    }
    let Some(pool) = pool else { return n };
    let int = |var: String| match pool.numbers(&var) {
        Ok(Some(v)) if v.len() == 1 && v[0].fract() == 0.0 && v[0].abs() <= f64::from(i32::MAX) => {
            Some(v[0] as i32)
        }
        _ => None,
    };
    let mut defs: Vec<(String, i32)> = Vec::new();
    for var in pool.names() {
        let Some(code) = var
            .strip_prefix("FRAME_")
            .and_then(|r| r.strip_suffix("_NAME"))
            .and_then(|c| c.parse::<i32>().ok())
        else {
            continue;
        };
        let (Some(class), Some(id)) = (
            int(format!("FRAME_{code}_CLASS")),
            int(format!("FRAME_{code}_CLASS_ID")),
        ) else {
            continue;
        };
        if (class == 2 || class == 3)
            && let Some(name) = pool
                .strings(var)
                .and_then(|s| s.first().map(|s| s.to_string()))
        {
            defs.push((name, id));
        }
    }
    defs.sort();
    for (name, id) in defs {
        n.insert(&name, id, true);
    }
    n
}

/// Bodies: the built-ins plus the `NAIF_BODY_NAME`/`NAIF_BODY_CODE` pairs of `pool`.
pub fn bodies(pool: Option<&Pool>) -> Names {
    let mut n = builtin_bodies();
    if let Some(pool) = pool
        && let (Some(names), Ok(Some(codes))) = (
            pool.strings("NAIF_BODY_NAME"),
            pool.numbers("NAIF_BODY_CODE"),
        )
    {
        for (name, code) in names.iter().zip(codes) {
            if code.fract() == 0.0 && code.abs() <= f64::from(i32::MAX) {
                n.insert(name, code as i32, true);
            }
        }
    }
    n
}

/// Frames: the built-ins plus the FK definitions in `pool`.
pub fn frames(pool: Option<&Pool>) -> Names {
    let mut n = builtin_frames();
    let Some(pool) = pool else { return n };
    let mut defs: Vec<(String, i32)> = Vec::new();
    for var in pool.names() {
        let Some(rest) = var.strip_prefix("FRAME_") else {
            continue;
        };
        if let Some(id) = rest
            .strip_suffix("_NAME")
            .and_then(|i| i.parse::<i32>().ok())
        {
            if let Some(name) = pool
                .strings(var)
                .and_then(|s| s.first().map(|s| s.to_string()))
            {
                defs.push((name, id));
            }
        } else if let Ok(Some(v)) = pool.numbers(var)
            && let [code] = v.as_slice()
            && code.fract() == 0.0
            && code.abs() <= f64::from(i32::MAX)
            && !rest.contains("_CLASS")
        {
            // `FRAME_<NAME> = <id>`: the name part is everything after `FRAME_`.
            if rest.parse::<i64>().is_err() {
                defs.push((rest.to_string(), *code as i32));
            }
        }
    }
    defs.sort();
    for (name, id) in defs {
        n.insert(&name, id, true);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins() {
        let b = builtin_bodies();
        assert_eq!(b.code("earth"), Some(399));
        assert_eq!(b.code("  solar   system barycenter "), Some(0));
        assert_eq!(b.code("SSB"), Some(0));
        assert_eq!(b.name(399), Some("EARTH"));
        assert_eq!(b.name(-82), Some("CASSINI"));
        assert_eq!(b.code("-74"), Some(-74));
        assert!(b.len() > 600);
        let f = builtin_frames();
        assert_eq!(f.code("J2000"), Some(1));
        assert_eq!(f.code("eclipj2000"), Some(17));
        assert_eq!(f.name(13000), Some("ITRF93"));
        let c = frame_classes(None);
        assert_eq!(c.code("ITRF93"), Some(3000));
        assert_eq!(c.name(3000), Some("ITRF93"));
        assert_eq!(c.code("IAU_EARTH"), Some(399));
        assert_eq!(c.code("J2000"), None, "inertial frames have no segments");
    }

    #[test]
    fn kernels_add_names() {
        let mut p = Pool::new();
        p.load(
            "fk.tf",
            b"\\begindata\nNAIF_BODY_NAME += ( 'JUICE_TEST' 'EARTH' )\nNAIF_BODY_CODE += ( -28999 12345 )\nFRAME_JUICE_SPACECRAFT = -28000\nFRAME_-28000_NAME = 'JUICE_SPACECRAFT'\nFRAME_-28000_CLASS = 3\nFRAME_-28001_NAME = 'JUICE_X'\n",
        )
        .unwrap();
        let b = bodies(Some(&p));
        assert_eq!(b.code("juice_test"), Some(-28999));
        assert_eq!(b.code("EARTH"), Some(12345), "kernel definitions win");
        let f = frames(Some(&p));
        assert_eq!(f.code("JUICE_SPACECRAFT"), Some(-28000));
        assert_eq!(f.name(-28001), Some("JUICE_X"));
        assert_eq!(f.code("J2000"), Some(1));
        let c = frame_classes(Some(&p));
        assert_eq!(
            c.code("JUICE_SPACECRAFT"),
            None,
            "no CLASS_ID: not a segment frame"
        );
        p.load(
            "ck.tf",
            b"\\begindata\nFRAME_-28000_CLASS_ID = -28000\nFRAME_-28002_NAME = 'JUICE_SA'\nFRAME_-28002_CLASS = 3\nFRAME_-28002_CLASS_ID = -28210\n",
        )
        .unwrap();
        let c = frame_classes(Some(&p));
        assert_eq!(c.code("JUICE_SA"), Some(-28210));
        assert_eq!(c.name(-28210), Some("JUICE_SA"));
        assert_eq!(c.name(-28000), Some("JUICE_SPACECRAFT"));
    }
}
