//! The time kernels in force for a set of kernels: a kernel pool built from text kernels
//! in load order (a metakernel's LSK, SCLKs, FKs), with the LSK and the type 1 clocks
//! taken from it the way CSPICE takes them (the last assignment wins), cached.
//!
//! Also parses the user's epochs: `ET:<seconds>` or an ISO UTC string.

use std::collections::HashMap;

use super::Error;
use super::names::{self, Names};
use super::sclk::{self, Sclk};
use super::text::Pool;
use super::time::Lsk;

#[derive(Clone, Debug, Default)]
pub struct TimeKernels {
    pool: Pool,
    files: Vec<String>,
    lsk: Option<Lsk>,
    clocks: HashMap<i32, Sclk>,
}

impl TimeKernels {
    pub fn new() -> Self {
        TimeKernels::default()
    }

    /// Loads one text kernel (in load order). Invalidates the cached LSK and clocks.
    pub fn load(&mut self, file: &str, bytes: &[u8]) -> Result<(), Error> {
        self.pool.load(file, bytes)?;
        self.files.push(file.to_string());
        self.lsk = None;
        self.clocks.clear();
        Ok(())
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The text kernels loaded so far, in order.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// The LSK in force; an error naming what is missing when none was loaded.
    pub fn lsk(&mut self) -> Result<&Lsk, Error> {
        if self.lsk.is_none() {
            self.lsk = Some(Lsk::from_pool(&self.pool)?);
        }
        self.lsk.as_ref().ok_or_else(|| Error::Missing {
            what: "leapseconds kernel",
            why: "none loaded".into(),
        })
    }

    /// The type 1 clock `clock` (e.g. −82).
    pub fn sclk(&mut self, clock: i32) -> Result<&Sclk, Error> {
        if !self.clocks.contains_key(&clock) {
            let s = Sclk::from_pool(&self.pool, clock)?;
            self.clocks.insert(clock, s);
        }
        self.clocks.get(&clock).ok_or_else(|| Error::Missing {
            what: "SCLK kernel",
            why: format!("clock {clock}"),
        })
    }

    /// Encoded ticks of a CK instrument's clock → ET (`CKMETA` then `sct2e`).
    pub fn ck_ticks_to_et(&mut self, instrument: i32, ticks: f64) -> Result<f64, Error> {
        let clock = sclk::ck_clock(Some(&self.pool), instrument);
        let needs_lsk = self.sclk(clock)?.time_system != 1;
        let lsk = if needs_lsk {
            Some(self.lsk()?.clone())
        } else {
            None
        };
        self.sclk(clock)?.to_et(ticks, lsk.as_ref())
    }

    /// Body names: built-ins plus the pool's `NAIF_BODY_NAME`/`NAIF_BODY_CODE`.
    pub fn bodies(&self) -> Names {
        names::bodies(Some(&self.pool))
    }

    /// Frame names: built-ins plus the pool's FK definitions.
    pub fn frames(&self) -> Names {
        names::frames(Some(&self.pool))
    }

    /// Frame names ↔ the class IDs CK and binary PCK segments carry.
    pub fn frame_classes(&self) -> Names {
        names::frame_classes(Some(&self.pool))
    }

    /// An epoch as the CLI takes it: `ET:<seconds past J2000 TDB>` or ISO UTC
    /// (`2031-07-02T10:14:00`), the latter through the LSK in force.
    pub fn parse_epoch(&mut self, input: &str) -> Result<f64, Error> {
        let t = input.trim();
        if let Some(rest) = t.strip_prefix("ET:").or_else(|| t.strip_prefix("et:")) {
            return super::text::parse_number(rest.trim()).ok_or_else(|| Error::BadTime {
                input: input.to_string(),
                why: "expected ET:<seconds past J2000 TDB>".into(),
            });
        }
        self.lsk()?.str2et(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_and_missing_kernels() {
        let mut tk = TimeKernels::new();
        assert_eq!(tk.parse_epoch("ET:-1.5e3").unwrap(), -1500.0);
        let e = tk.parse_epoch("2031-07-02T10:14:00").unwrap_err();
        assert!(e.to_string().contains("leapseconds kernel"), "{e}");
        let e = tk.ck_ticks_to_et(-82000, 1.0).unwrap_err();
        assert!(e.to_string().contains("SCLK01_N_FIELDS_82"), "{e}");
        tk.load(
            "l.tls",
            b"\\begindata\nDELTET/DELTA_T_A = 32.184\nDELTET/K = 1.657D-3\nDELTET/EB = 1.671D-2\nDELTET/M = ( 6.239996D0 1.99096871D-7 )\nDELTET/DELTA_AT = ( 10, @1972-JAN-1 37, @2017-JAN-1 )\n",
        )
        .unwrap();
        let et = tk.parse_epoch("2031-07-02T10:14:00").unwrap();
        assert_eq!(
            tk.lsk().unwrap().et2utc(et, 0).unwrap(),
            "2031-07-02T10:14:00"
        );
        assert!(tk.parse_epoch("ET:abc").is_err());
        assert_eq!(tk.bodies().code("EARTH"), Some(399));
    }
}
