//! Leapseconds kernels and ET ↔ UTC, reproducing CSPICE's arithmetic step for step.
//!
//! An LSK (NAIF *Time Required Reading*, "The Leapseconds Kernel") defines
//! `DELTET/DELTA_T_A` (TDT − TAI, 32.184 s), `DELTET/K`, `DELTET/EB`, `DELTET/M`
//! (the periodic TDB − TDT term `K·sin(E)`, `E = M + EB·sin(M)`, `M = M0 + M1·t`) and
//! `DELTET/DELTA_AT` (pairs of TAI − UTC and the UTC epoch from which it holds).
//!
//! - [`Lsk::tdb_to_tai`] / [`Lsk::tai_to_tdb`] are `UNITIM` (three fixed-point
//!   iterations for TDB → TDT).
//! - [`Lsk::et2utc`] is `ET2UTC(ET, 'ISOC', PREC)`: TDB → TAI, split into whole and
//!   rounded fractional seconds, whole TAI seconds → calendar with `TTRANS`'s leap-second
//!   tables (23:59:60 inside a leap second; before the first table entry TAI − UTC is
//!   the first value minus one).
//! - [`Lsk::str2et`] is `STR2ET` for ISO UTC strings (`2031-07-02T10:14:00.5`,
//!   `2031-183T10:14`, date only), through `TTRANS('YMD', 'TDB')`.
//!
//! Invariant: the operations are performed in CSPICE's order, with the same libm
//! `sin`, so results agree bit for bit on the same platform (checked against SpiceyPy).

use super::Error;
use super::calendar::*;
pub use super::calendar::{formal_seconds, normalize_time};
use super::text::{Pool, Value};

/// The constants of a leapseconds kernel, with `TTRANS`'s derived tables.
#[derive(Clone, Debug, PartialEq)]
pub struct Lsk {
    /// The file the constants came from (for messages).
    pub file: String,
    pub delta_t_a: f64,
    pub k: f64,
    pub eb: f64,
    pub m: [f64; 2],
    /// (TAI − UTC, UTC formal seconds past J2000 from which it holds).
    pub delta_at: Vec<(f64, f64)>,
    taitab: Vec<f64>,
    daytab: Vec<i64>,
}

/// `RMAIND`: quotient and remainder with `0 <= rem < den`.
fn rmaind(num: f64, den: f64) -> (f64, f64) {
    let mut q = (num / den).trunc();
    let mut r = num - q * den;
    if r < 0.0 {
        q -= 1.0;
        r += den;
    }
    if r >= den {
        q += 1.0;
        r -= den;
    }
    (q, r)
}

/// `LSTLED`: the 1-based index of the last element <= x, 0 if none.
fn lstled(x: f64, a: &[f64]) -> usize {
    a.partition_point(|&v| v <= x)
}

fn lstlei(x: i64, a: &[i64]) -> usize {
    a.partition_point(|&v| v <= x)
}

impl Lsk {
    /// Reads an LSK's bytes.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Lsk, Error> {
        let mut pool = Pool::new();
        pool.load(file, bytes)?;
        Lsk::from_pool(&pool)
    }

    /// Takes the `DELTET/*` variables from a pool (the last loaded LSK wins, as in CSPICE).
    pub fn from_pool(pool: &Pool) -> Result<Lsk, Error> {
        let file = pool
            .source("DELTET/DELTA_AT")
            .unwrap_or("the loaded kernels")
            .to_string();
        let missing = |name: &str| Error::Missing {
            what: "leapseconds kernel",
            why: format!("`{name}` is not defined by any loaded text kernel"),
        };
        let scalar = |name: &str| -> Result<f64, Error> {
            let v = pool.numbers(name)?.ok_or_else(|| missing(name))?;
            v.first().copied().ok_or_else(|| missing(name))
        };
        let delta_t_a = scalar("DELTET/DELTA_T_A")?;
        let k = scalar("DELTET/K")?;
        let eb = scalar("DELTET/EB")?;
        let m = pool
            .numbers("DELTET/M")?
            .ok_or_else(|| missing("DELTET/M"))?;
        if m.len() < 2 {
            return Err(Error::KernelVariable {
                file,
                name: "DELTET/M".into(),
                why: "needs two values".into(),
            });
        }
        let raw = pool
            .get("DELTET/DELTA_AT")
            .ok_or_else(|| missing("DELTET/DELTA_AT"))?;
        let bad = |why: String| Error::KernelVariable {
            file: file.clone(),
            name: "DELTET/DELTA_AT".into(),
            why,
        };
        if raw.is_empty() || raw.len() % 2 != 0 {
            return Err(bad(format!("has {} values, not pairs", raw.len())));
        }
        let mut delta_at = Vec::new();
        for pair in raw.chunks(2) {
            let dt = match &pair[0] {
                Value::Num(x) => *x,
                other => {
                    return Err(bad(format!(
                        "holds {other:?} where a count of seconds is expected"
                    )));
                }
            };
            let epoch = match &pair[1] {
                Value::Num(x) => *x,
                Value::Date(d) => {
                    formal_seconds(d).ok_or_else(|| bad(format!("has the unreadable date @{d}")))?
                }
                Value::Str(s) => {
                    return Err(bad(format!(
                        "holds the string '{s}' where a date is expected"
                    )));
                }
            };
            delta_at.push((dt, epoch));
        }
        // TTRANS's tables: TAI at the start of the day before each change and at the
        // start of the day it takes effect, and their day numbers.
        let mut taitab = Vec::with_capacity(2 * delta_at.len());
        let mut daytab = Vec::with_capacity(2 * delta_at.len());
        let mut lastdt = delta_at[0].0 - 1.0;
        for &(dt, formal) in &delta_at {
            taitab.push(formal - SPD + lastdt);
            taitab.push(formal + dt);
            let daynum = ((formal + HALFD) / SPD) as i64 + DN2000;
            daytab.push(daynum - 1);
            daytab.push(daynum);
            lastdt = dt;
        }
        if taitab
            .windows(2)
            .any(|w| w[0].is_nan() || w[1].is_nan() || w[0] >= w[1])
        {
            return Err(bad(
                "epochs are not in increasing order (CSPICE: BADLEAPSECONDS)".into(),
            ));
        }
        Ok(Lsk {
            file,
            delta_t_a,
            k,
            eb,
            m: [m[0], m[1]],
            delta_at,
            taitab,
            daytab,
        })
    }

    fn periodic(&self, t: f64) -> f64 {
        let m = self.m;
        self.k * (m[0] + m[1] * t + self.eb * (m[0] + m[1] * t).sin()).sin()
    }

    /// `UNITIM(TDT, 'TDT', 'TDB')`.
    pub fn tdt_to_tdb(&self, tdt: f64) -> f64 {
        tdt + self.periodic(tdt)
    }

    /// `UNITIM(TDB, 'TDB', 'TDT')`.
    pub fn tdb_to_tdt(&self, tdb: f64) -> f64 {
        let mut tdt = tdb;
        for _ in 0..3 {
            tdt = tdb - self.periodic(tdt);
        }
        tdt
    }

    /// `UNITIM(ET, 'TDB', 'TAI')`.
    pub fn tdb_to_tai(&self, et: f64) -> f64 {
        self.tdb_to_tdt(et) - self.delta_t_a
    }

    /// `UNITIM(TAI, 'TAI', 'TDB')`.
    pub fn tai_to_tdb(&self, tai: f64) -> f64 {
        let tdt = tai + self.delta_t_a;
        self.tdt_to_tdb(tdt)
    }

    /// TAI seconds → (day number, seconds into that day), `TTRANS` from TAI.
    fn tai_to_day(&self, tai: f64) -> (i64, f64) {
        let (tt, dt) = (&self.taitab, &self.daytab);
        let p = lstled(tai, tt);
        if p % 2 == 1 {
            (dt[p - 1], tai - tt[p - 1])
        } else {
            let p = p.max(1);
            let (days, secs) = rmaind(tai - tt[p - 1], SPD);
            (days as i64 + dt[p - 1], secs)
        }
    }

    /// (day number, seconds) → TAI (the inverse, for a day number and any seconds).
    fn day_to_tai(&self, daynum: i64, secs: f64) -> f64 {
        let p = lstlei(daynum, &self.daytab).max(1);
        let secs = secs + (daynum - self.daytab[p - 1]) as f64 * SPD;
        self.taitab[p - 1] + secs
    }

    /// `TTRANS`'s normalisation for non-formal systems: seconds outside `[0, 86399]`
    /// are carried into the day number through TAI.
    fn normalise(&self, daynum: i64, secs: f64) -> (i64, f64) {
        if !(0.0..=SPD - 1.0).contains(&secs) {
            self.tai_to_day(self.day_to_tai(daynum, secs))
        } else {
            (daynum, secs)
        }
    }

    /// `ET2UTC(ET, 'ISOC', PREC)`: `2031-07-02T10:14:00.000`. `prec` is clamped to 0..=14.
    pub fn et2utc(&self, et: f64, prec: u32) -> Result<String, Error> {
        // About ±30 million years: far beyond any kernel, and no day-number overflow.
        if !et.is_finite() || et.abs() > 1e15 {
            return Err(Error::BadTime {
                input: et.to_string(),
                why: "not a number of seconds within ±1e15 of J2000".into(),
            });
        }
        let prec = prec.min(14);
        let tai = self.tdb_to_tai(et);
        let mut whlsec = tai.trunc();
        if tai < 0.0 && tai != whlsec {
            whlsec -= 1.0;
        }
        let scale = 10f64.powi(prec as i32).round();
        let mut frcsec = (scale * (tai - whlsec)).round();
        if frcsec == scale {
            whlsec += 1.0;
            frcsec = 0.0;
        }
        let (daynum, secs) = self.tai_to_day(whlsec);
        let (daynum, secs) = self.normalise(daynum, secs);
        let (year, month, day) = calendar(daynum);
        let exsecs = (secs - SPD + 1.0).max(0.0);
        let (hours, rest) = rmaind(secs - exsecs, 3600.0);
        let (mins, s) = rmaind(rest, 60.0);
        let s = s + exsecs;
        if year <= 0 {
            return Err(Error::BadTime {
                input: et.to_string(),
                why: format!(
                    "the year is {} B.C.; ISO format has no B.C. years",
                    1 - year
                ),
            });
        }
        let mut out = format!(
            "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            hours.round() as i64,
            mins.round() as i64,
            s.round() as i64
        );
        if prec > 0 {
            out.push_str(&format!(
                ".{:0width$}",
                frcsec as u64,
                width = prec as usize
            ));
        }
        Ok(out)
    }

    /// `STR2ET` for an ISO UTC string: `YYYY-MM-DDThh:mm:ss[.fff]`, `YYYY-DDDThh:mm:ss`,
    /// `YYYY-MM-DD` (blank instead of `T` accepted). `23:59:60` is accepted only inside a
    /// leap second of this LSK.
    pub fn str2et(&self, input: &str) -> Result<f64, Error> {
        let bad = |why: &str| Error::BadTime {
            input: input.to_string(),
            why: why.to_string(),
        };
        let normal = normalize_time(input).map_err(bad)?;
        let ((year, month, day), (h, m, s), doy_form) = parse_iso_parts(&normal)
            .ok_or_else(|| bad("expected ISO UTC, e.g. 2031-07-02T10:14:00"))?;
        if !(1..=12).contains(&month) {
            return Err(bad("month out of range"));
        }
        let days_in = if doy_form {
            if is_leap(year) { 366 } else { 365 }
        } else {
            let next = if month == 12 {
                365 + i64::from(is_leap(year))
            } else {
                table(year)[month as usize]
            };
            next - table(year)[month as usize - 1]
        };
        if !(1..=days_in).contains(&day) {
            return Err(bad("day out of range"));
        }
        if !(0..=23).contains(&h) || !(0..=59).contains(&m) || !(0.0..61.0).contains(&s) {
            return Err(bad("time of day out of range"));
        }
        let daynum = day_number(year, month, day);
        if s >= 60.0 {
            let leap_day = self.daytab.iter().step_by(2).any(|&d| d == daynum)
                && self.day_length(daynum) > SPD;
            if !(leap_day && h == 23 && m == 59) {
                return Err(bad("seconds 60 and above exist only in a leap second"));
            }
        }
        let secs = h as f64 * 3600.0 + m as f64 * 60.0 + s;
        let (daynum, secs) = self.normalise(daynum, secs);
        Ok(self.tai_to_tdb(self.day_to_tai(daynum, secs)))
    }

    fn day_length(&self, daynum: i64) -> f64 {
        let p = lstlei(daynum, &self.daytab);
        if p % 2 == 1 && p < self.taitab.len() {
            self.taitab[p] - self.taitab[p - 1]
        } else {
            SPD
        }
    }

    /// `DELTET(EPOCH, 'ET')`: ET − UTC at an ET epoch.
    pub fn delta_et(&self, et: f64) -> f64 {
        let mut leaps = self.delta_at[0].0 - 1.0;
        for &(dt, epoch) in &self.delta_at {
            if et > epoch {
                let aet = (epoch + self.delta_t_a + dt).round();
                let ma = self.m[0] + self.m[1] * aet;
                let ea = ma + self.eb * ma.sin();
                let ettai = self.k * ea.sin();
                if et >= epoch + self.delta_t_a + dt + ettai {
                    leaps = dt;
                }
            }
        }
        let aet = et.round();
        let ma = self.m[0] + self.m[1] * aet;
        let ea = ma + self.eb * ma.sin();
        self.delta_t_a + leaps + self.k * ea.sin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAIF0012: &[u8] = b"\\begindata
DELTET/DELTA_T_A       =   32.184
DELTET/K               =    1.657D-3
DELTET/EB              =    1.671D-2
DELTET/M               = (  6.239996D0   1.99096871D-7 )
DELTET/DELTA_AT        = ( 10,   @1972-JAN-1
                           11,   @1972-JUL-1
                           12,   @1973-JAN-1
                           13,   @1974-JAN-1
                           14,   @1975-JAN-1
                           15,   @1976-JAN-1
                           16,   @1977-JAN-1
                           17,   @1978-JAN-1
                           18,   @1979-JAN-1
                           19,   @1980-JAN-1
                           20,   @1981-JUL-1
                           21,   @1982-JUL-1
                           22,   @1983-JUL-1
                           23,   @1985-JUL-1
                           24,   @1988-JAN-1
                           25,   @1990-JAN-1
                           26,   @1991-JAN-1
                           27,   @1992-JUL-1
                           28,   @1993-JUL-1
                           29,   @1994-JUL-1
                           30,   @1996-JAN-1
                           31,   @1997-JUL-1
                           32,   @1999-JAN-1
                           33,   @2006-JAN-1
                           34,   @2009-JAN-1
                           35,   @2012-JUL-1
                           36,   @2015-JUL-1
                           37,   @2017-JAN-1 )
";

    fn lsk() -> Lsk {
        Lsk::parse("naif0012.tls", NAIF0012).unwrap()
    }

    /// The forms users copy, against CSPICE's `str2et` with naif0012.tls (SpiceyPy 6).
    #[test]
    fn time_forms_users_copy_match_cspice() {
        let l = lsk();
        let noon = 865900869.1846842;
        for t in [
            "2027-06-10T12:00:00",
            "2027-06-10T12:00:00Z",
            "2027-06-10T12:00:00.000+00:00",
            "2027-06-10 12:00:00 UTC",
            "2027 JUN 10 12:00",
            "2027-JUN-10 12:00",
            "JUN 10, 2027 12:00:00",
            "2027-161T12:00:00",
            "2027-161 // 12:00:00",
            "2027-161T12:00:00Z",
        ] {
            assert_eq!(l.str2et(t).unwrap(), noon, "{t}");
        }
        assert_eq!(l.str2et("10 JUN 2027").unwrap(), 865857669.1846969);
        assert_eq!(
            l.str2et("2016-12-31T23:59:60.5Z").unwrap(),
            536500868.6839298
        );
        for bad in [
            "2027-06-10T12:00:00+02:00",
            "2027 161 12:00",
            "tomorrow",
            "2027 JUN 10 12:00 extra",
        ] {
            assert!(l.str2et(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn calendar_round_trips() {
        for dn in [
            0,
            1,
            59,
            365,
            730119,
            730119 + 59,
            730119 + 366,
            -1,
            -146097,
            800000,
        ] {
            let (y, m, d) = calendar(dn);
            assert_eq!(day_number(y, m, d), dn, "{dn} -> {y}-{m}-{d}");
        }
        assert_eq!(calendar(DN2000), (2000, 1, 1));
    }

    #[test]
    fn known_values() {
        let l = lsk();
        // J2000 epoch: ET 0 is 2000-01-01T11:58:55.816 UTC (every SPICE tutorial).
        assert_eq!(l.et2utc(0.0, 3).unwrap(), "2000-01-01T11:58:55.816");
        let et = l.str2et("2000-01-01T11:58:55.816").unwrap();
        assert!(et.abs() < 1e-3, "{et}");
        // The leap second at the end of 2016.
        let et = l.str2et("2016-12-31T23:59:60.5").unwrap();
        assert_eq!(l.et2utc(et, 3).unwrap(), "2016-12-31T23:59:60.500");
        assert!(l.str2et("2016-12-30T23:59:60").is_err());
        assert_eq!(
            l.et2utc(l.str2et("2017-01-01").unwrap(), 0).unwrap(),
            "2017-01-01T00:00:00"
        );
        assert_eq!(
            l.str2et("2017-001T00:00").unwrap(),
            l.str2et("2017-01-01T00:00:00").unwrap()
        );
        assert!(l.str2et("2017-02-29").is_err());
        assert!(l.str2et("yesterday").is_err());
        // Before 1972: TAI - UTC = 9 s.
        assert_eq!(
            l.et2utc(l.str2et("1950-06-01T12:00:00").unwrap(), 3)
                .unwrap(),
            "1950-06-01T12:00:00.000"
        );
    }

    #[test]
    fn delta_et_matches_the_j2000_value() {
        // DELTET at ET 0: 32 leap seconds + 32.184 + K sin E.
        let d = lsk().delta_et(0.0);
        assert!((d - 64.1839).abs() < 1e-3, "{d}");
    }

    proptest::proptest! {
        #[test]
        fn conversions_never_panic(et in proptest::num::f64::ANY, s in "\\PC{0,40}", y in 0i64..2_000_000) {
            let l = lsk();
            let _ = l.et2utc(et, 3);
            let _ = l.str2et(&s);
            let _ = l.str2et(&format!("{y}-02-29T23:59:60.999"));
            let _ = formal_seconds(&s);
        }
    }

    #[test]
    fn missing_variables_are_named() {
        let e = Lsk::parse("x.tls", b"\\begindata\nDELTET/K = 1\n").unwrap_err();
        assert!(e.to_string().contains("DELTET/DELTA_T_A"), "{e}");
    }
}
