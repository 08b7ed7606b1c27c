//! Type 1 spacecraft clocks (SCLK kernels): encoded ticks ↔ ET, as CSPICE's `SCTE01`
//! (`sct2e`) and `SCEC01` (`sce2c`).
//!
//! Variables (NAIF *SCLK Required Reading*), for clock ID `-n`, suffix `_n`:
//! `SCLK_DATA_TYPE_n` (1), `SCLK01_TIME_SYSTEM_n` (1 = TDB, default; 2 = TDT),
//! `SCLK01_N_FIELDS_n`, `SCLK01_MODULI_n`, `SCLK01_OFFSETS_n`, `SCLK01_OUTPUT_DELIM_n`,
//! `SCLK_PARTITION_START_n`, `SCLK_PARTITION_END_n`, `SCLK01_COEFFICIENTS_n` (triples:
//! encoded SCLK, parallel time, rate in seconds per most significant count).
//!
//! Encoded SCLK ("ticks") counts units of the least significant field since the start of
//! the first partition. ET is the coefficient record's time plus the tick difference
//! times the rate per tick (`rate / Π moduli[2..]`); the parallel time is TDT when the
//! time system is 2, converted to TDB with the LSK.
//!
//! Which clock a CK instrument uses: `CK_<id>_SCLK` from the pool if present, otherwise
//! the instrument ID divided by 1,000 when it is ≤ −1,000, else the ID itself (`CKMETA`).

use super::Error;
use super::text::Pool;
use super::time::Lsk;

/// One type 1 clock's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Sclk {
    /// The file that defined the coefficients (for messages).
    pub file: String,
    /// The clock ID (negative for spacecraft clocks, e.g. −82 for Cassini).
    pub clock: i32,
    /// 1 = TDB, 2 = TDT.
    pub time_system: i32,
    pub moduli: Vec<f64>,
    pub offsets: Vec<f64>,
    pub partition_start: Vec<f64>,
    pub partition_end: Vec<f64>,
    /// (encoded SCLK, parallel time, seconds per most significant count).
    pub coefficients: Vec<[f64; 3]>,
}

/// The SCLK clock ID for a CK instrument/structure ID (`CKMETA`).
pub fn ck_clock(pool: Option<&Pool>, instrument: i32) -> i32 {
    if let Some(Ok(Some(v))) = pool.map(|p| p.numbers(&format!("CK_{instrument}_SCLK")))
        && let Some(&c) = v.first()
        && c.fract() == 0.0
        && c.abs() < i32::MAX as f64
    {
        return c as i32;
    }
    if instrument <= -1000 {
        instrument / 1000
    } else {
        instrument
    }
}

impl Sclk {
    /// Reads clock `clock` from a pool.
    pub fn from_pool(pool: &Pool, clock: i32) -> Result<Sclk, Error> {
        let n = -i64::from(clock);
        let coeff_name = format!("SCLK01_COEFFICIENTS_{n}");
        let file = pool
            .source(&coeff_name)
            .unwrap_or("the loaded kernels")
            .to_string();
        let get = |base: &str| -> Result<Vec<f64>, Error> {
            let name = format!("{base}_{n}");
            pool.numbers(&name)?.ok_or_else(|| Error::Missing {
                what: "SCLK kernel",
                why: format!("`{name}` (clock {clock}) is not defined by any loaded text kernel"),
            })
        };
        let bad = |name: &str, why: String| Error::KernelVariable {
            file: file.clone(),
            name: format!("{name}_{n}"),
            why,
        };
        if let Ok(t) = get("SCLK_DATA_TYPE")
            && t.first() != Some(&1.0)
        {
            return Err(bad(
                "SCLK_DATA_TYPE",
                format!("is {t:?}; only type 1 clocks are supported"),
            ));
        }
        let time_system = match pool.numbers(&format!("SCLK01_TIME_SYSTEM_{n}"))? {
            None => 1,
            Some(v) if v.first() == Some(&1.0) => 1,
            Some(v) if v.first() == Some(&2.0) => 2,
            Some(v) => {
                return Err(bad(
                    "SCLK01_TIME_SYSTEM",
                    format!("is {v:?}, not 1 (TDB) or 2 (TDT)"),
                ));
            }
        };
        let nfields = get("SCLK01_N_FIELDS")?;
        let nfields = match nfields.first() {
            Some(&f) if (1.0..=10.0).contains(&f) && f.fract() == 0.0 => f as usize,
            _ => return Err(bad("SCLK01_N_FIELDS", format!("is {nfields:?}, not 1..10"))),
        };
        let moduli = get("SCLK01_MODULI")?;
        let offsets = get("SCLK01_OFFSETS")?;
        if moduli.len() != nfields
            || offsets.len() != nfields
            || moduli.iter().any(|&m| m.is_nan() || m < 1.0)
        {
            return Err(bad(
                "SCLK01_MODULI",
                format!("must hold {nfields} moduli >= 1 (and as many offsets)"),
            ));
        }
        let partition_start = get("SCLK_PARTITION_START")?;
        let partition_end = get("SCLK_PARTITION_END")?;
        if partition_start.is_empty() || partition_start.len() != partition_end.len() {
            return Err(bad(
                "SCLK_PARTITION_START",
                "and SCLK_PARTITION_END must be non-empty and as many".into(),
            ));
        }
        let raw = get("SCLK01_COEFFICIENTS")?;
        if raw.is_empty() || raw.len() % 3 != 0 {
            return Err(bad(
                "SCLK01_COEFFICIENTS",
                format!("has {} values, not triples", raw.len()),
            ));
        }
        if raw
            .iter()
            .chain(&partition_start)
            .chain(&partition_end)
            .any(|v| !v.is_finite())
        {
            return Err(bad(
                "SCLK01_COEFFICIENTS",
                "and the partitions must be finite numbers".into(),
            ));
        }
        let coefficients: Vec<[f64; 3]> = raw.chunks(3).map(|c| [c[0], c[1], c[2]]).collect();
        Ok(Sclk {
            file,
            clock,
            time_system,
            moduli: moduli[..nfields].to_vec(),
            offsets,
            partition_start,
            partition_end,
            coefficients,
        })
    }

    /// Ticks per most significant count.
    fn tikmsc(&self) -> f64 {
        let mut t = 1.0;
        for m in self.moduli.iter().skip(1).rev() {
            t *= m;
        }
        t
    }

    /// The last encoded tick of the last partition.
    pub fn max_tick(&self) -> f64 {
        let mut mx = 0.0f64;
        for (s, e) in self.partition_start.iter().zip(&self.partition_end) {
            mx = (e - s + mx).round();
        }
        mx
    }

    fn range(&self, what: &'static str, value: f64) -> Error {
        Error::SclkRange {
            file: self.file.clone(),
            clock: self.clock,
            what,
            value,
        }
    }

    /// `sct2e`: encoded ticks → ET (TDB seconds past J2000). The LSK is needed only for
    /// TDT-based clocks.
    pub fn to_et(&self, ticks: f64, lsk: Option<&Lsk>) -> Result<f64, Error> {
        let c = &self.coefficients;
        if ticks.is_nan() || ticks < c[0][0] || ticks > self.max_tick() {
            return Err(self.range("encoded SCLK", ticks));
        }
        let lower = self.record_at(0, ticks)?;
        let tikdif = ticks - c[lower][0];
        let rate = c[lower][2] / self.tikmsc();
        let partim = c[lower][1] + rate * tikdif;
        self.parallel_to_tdb(partim, lsk)
    }

    fn parallel_to_tdb(&self, partim: f64, lsk: Option<&Lsk>) -> Result<f64, Error> {
        if self.time_system == 1 {
            return Ok(partim);
        }
        Ok(self.tdt_lsk(lsk)?.tdt_to_tdb(partim))
    }

    /// The LSK a TDT-based clock needs, or the error naming the clock.
    fn tdt_lsk<'l>(&self, lsk: Option<&'l Lsk>) -> Result<&'l Lsk, Error> {
        lsk.ok_or_else(|| Error::Missing {
            what: "leapseconds kernel",
            why: format!(
                "SCLK {} (`{}`) runs on TDT and needs one",
                self.clock, self.file
            ),
        })
    }

    /// The coefficient record whose column `col` (0: ticks, 1: parallel time) is the
    /// last one at or below `x` (CSPICE's binary search in `SCT2E`/`SCE2C`), with a
    /// usable clock rate.
    fn record_at(&self, col: usize, x: f64) -> Result<usize, Error> {
        let c = &self.coefficients;
        let last = c.len() - 1;
        let lower = if x < c[last][col] {
            let (mut lower, mut upper) = (0, last);
            while lower + 1 < upper {
                let middle = (lower + upper) / 2;
                if x < c[middle][col] {
                    upper = middle;
                } else {
                    lower = middle;
                }
            }
            lower
        } else {
            last
        };
        if c[lower][2].is_nan() || c[lower][2] <= 0.0 {
            return Err(self.range("clock rate", c[lower][2]));
        }
        Ok(lower)
    }

    /// `sce2c`: ET → continuous encoded ticks (not rounded).
    pub fn from_et(&self, et: f64, lsk: Option<&Lsk>) -> Result<f64, Error> {
        let partim = if self.time_system == 1 {
            et
        } else {
            self.tdt_lsk(lsk)?.tdb_to_tdt(et)
        };
        let c = &self.coefficients;
        if partim.is_nan() || partim < c[0][1] {
            return Err(self.range("ET", et));
        }
        let lower = self.record_at(1, partim)?;
        let timdif = partim - c[lower][1];
        let rate = 1.0 / (c[lower][2] / self.tikmsc());
        let ticks = c[lower][0] + rate * timdif;
        if ticks > self.max_tick() {
            return Err(self.range("ET", et));
        }
        Ok(ticks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KPLO: &[u8] = b"\\begindata
SCLK_KERNEL_ID           = ( @2021-06-08/10:40:42.01 )
SCLK_DATA_TYPE_155        = ( 1 )
SCLK01_TIME_SYSTEM_155    = ( 2 )
SCLK01_N_FIELDS_155       = ( 2 )
SCLK01_MODULI_155         = ( 5218 4838400 )
SCLK01_OFFSETS_155        = ( 0 0 )
SCLK01_OUTPUT_DELIM_155   = ( 2 )
SCLK_PARTITION_START_155  = ( 0.0000000000000E+00 )
SCLK_PARTITION_END_155    = ( 2.5246771199000E+10 )
SCLK01_COEFFICIENTS_155   = (
    0.0000000000000E+00     6.4184000000000E+01     6.0480000000000E+05
    1.5147647920000E+09     1.8934566318400E+08     1.2096000000000E+06 )
";

    #[test]
    fn reads_and_inverts() {
        let mut pool = Pool::new();
        pool.load("kplo.tsc", KPLO).unwrap();
        let s = Sclk::from_pool(&pool, -155).unwrap();
        assert_eq!(s.time_system, 2);
        assert_eq!(s.max_tick(), 25246771199.0);
        let lsk = crate::coverage::time::Lsk::parse(
            "l",
            b"\\begindata\nDELTET/DELTA_T_A = 32.184\nDELTET/K = 1.657D-3\nDELTET/EB = 1.671D-2\nDELTET/M = ( 6.239996D0 1.99096871D-7 )\nDELTET/DELTA_AT = ( 10, @1972-JAN-1 )\n",
        )
        .unwrap();
        // Tick 0 is parallel (TDT) time 64.184.
        let et = s.to_et(0.0, Some(&lsk)).unwrap();
        assert!((et - lsk.tdt_to_tdb(64.184)).abs() < 1e-9);
        for t in [0.0, 12345.0, 1.5e9, 2.0e9] {
            let et = s.to_et(t, Some(&lsk)).unwrap();
            let back = s.from_et(et, Some(&lsk)).unwrap();
            assert!((back - t).abs() < 1e-3, "{t} -> {et} -> {back}");
        }
        assert!(s.to_et(-1.0, Some(&lsk)).is_err());
        assert!(s.to_et(3e10, Some(&lsk)).is_err());
        assert!(s.to_et(1.0, None).is_err(), "a TDT clock needs an LSK");
        assert!(
            Sclk::from_pool(&pool, -82)
                .unwrap_err()
                .to_string()
                .contains("SCLK01_N_FIELDS_82")
        );
    }

    proptest::proptest! {
        #[test]
        fn hostile_clocks_never_panic(
            moduli in proptest::collection::vec(-2.0f64..1e6, 1..4),
            parts in proptest::collection::vec((-1e9f64..1e12, -1e9f64..1e12), 1..4),
            coeffs in proptest::collection::vec((-1e9f64..1e12, -1e9f64..1e9, -10.0f64..1e6), 1..6),
            sys in 0i32..4,
            t in proptest::num::f64::ANY,
        ) {
            let list = |v: &[f64]| v.iter().map(|x| format!("{x:e}")).collect::<Vec<_>>().join(" ");
            let text = format!(
                "\\begindata\nSCLK01_TIME_SYSTEM_9 = {sys}\nSCLK01_N_FIELDS_9 = {}\nSCLK01_MODULI_9 = ( {} )\nSCLK01_OFFSETS_9 = ( {} )\nSCLK_PARTITION_START_9 = ( {} )\nSCLK_PARTITION_END_9 = ( {} )\nSCLK01_COEFFICIENTS_9 = ( {} )\n",
                moduli.len(),
                list(&moduli),
                list(&vec![0.0; moduli.len()]),
                list(&parts.iter().map(|p| p.0).collect::<Vec<_>>()),
                list(&parts.iter().map(|p| p.1).collect::<Vec<_>>()),
                list(&coeffs.iter().flat_map(|c| [c.0, c.1, c.2]).collect::<Vec<_>>()),
            );
            let mut pool = Pool::new();
            pool.load("h.tsc", text.as_bytes()).unwrap();
            if let Ok(s) = Sclk::from_pool(&pool, -9) {
                let _ = s.to_et(t, None);
                let _ = s.from_et(t, None);
            }
        }
    }

    #[test]
    fn ck_clock_rule() {
        assert_eq!(ck_clock(None, -82000), -82);
        assert_eq!(ck_clock(None, -76), -76);
        assert_eq!(ck_clock(None, -121000), -121);
        let mut pool = Pool::new();
        pool.load("fk", b"\\begindata\nCK_-82000_SCLK = -99\n")
            .unwrap();
        assert_eq!(ck_clock(Some(&pool), -82000), -99);
    }
}
