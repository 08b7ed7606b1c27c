//! The proleptic Gregorian calendar as CSPICE counts it, and the UTC time forms kdb
//! reads: day numbers, `@`-dates of text kernels (formal seconds past J2000, no leap
//! seconds) and the forms users copy from SPICE tools. Pure; imports nothing of kdb.
//! [`super::time`] builds the leapsecond arithmetic on it; [`super::text`] reads
//! `@`-dates with it.

pub(super) const SPD: f64 = 86400.0;

pub(super) const HALFD: f64 = 43200.0;

/// Day number (days past 1 Jan 1 AD, proleptic Gregorian) of 1 Jan 2000.
pub(super) const DN2000: i64 = 730119;

pub(super) const DPJAN0: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

pub(super) const DPBEGL: [i64; 12] = [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335];

pub(super) const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

pub(super) fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days past 1 Jan 1 AD of a Gregorian date (month 1..12; day may overflow the month).
pub(super) fn day_number(year: i64, month: i64, day: i64) -> i64 {
    let (mut year, mut doffst) = (year, 0);
    if year <= 0 {
        let (q, r) = rmaini(year, 400);
        year = r;
        let mut q = q;
        if year == 0 {
            year += 400;
            q -= 1;
        }
        doffst = q * 146097;
    }
    let m = (month - 1) as usize;
    let extra = if m >= 2 && is_leap(year) { 1 } else { 0 };
    (year - 1) * 365 + (year - 1) / 4 - (year - 1) / 100
        + (year - 1) / 400
        + DPJAN0[m]
        + extra
        + day
        - 1
        + doffst
}

pub(super) fn rmaini(num: i64, den: i64) -> (i64, i64) {
    let mut q = num / den;
    let mut r = num - q * den;
    if r < 0 {
        q -= 1;
        r += den;
    }
    (q, r)
}

/// Seconds past J2000 of a formal UTC calendar date (no leap seconds): what an
/// `@`-date in a text kernel stands for. Accepts `1972-JAN-1`, `2021-06-08/10:40:42.01`,
/// `2000-01-01T12:00:00`, `2031-183T10:14`.
pub fn formal_seconds(date: &str) -> Option<f64> {
    let (ymd, hms, _) = parse_iso_parts(date)?;
    let dn = day_number(ymd.0, ymd.1, ymd.2);
    let secs = hms.0 as f64 * 3600.0 + hms.1 as f64 * 60.0 + hms.2;
    Some((dn - DN2000) as f64 * SPD - HALFD + secs)
}

pub(super) const EXPECTED: &str = "expected a UTC time such as 2031-07-02T10:14:00, 2031 JUL 02 10:14 \
                        or 2031-183T10:14";

/// The time forms users copy from SPICE tools and other software, rewritten to the
/// ISO form [`parse_iso_parts`] reads: a UTC designator (`Z`, `UTC`, `+00:00`) is
/// dropped; `2027 JUN 10 12:00`, `JUN 10, 2027 12:00`, `10 JUN 2027`, `2027-161 // 12:00`
/// (day of year, as CSPICE writes it) and `2027-06-10 12:00:00.5` become
/// `YYYY-MON-DDThh:mm:ss`. Another time zone is refused (SPICE works in UTC).
pub fn normalize_time(input: &str) -> Result<String, &'static str> {
    let spaced = input.replace("//", " ").replace(',', " ");
    let mut s = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    for suffix in ["UTC", "utc", "Z", "z", "+00:00", "+0000", "+00", "-00:00"] {
        if let Some(rest) = s.strip_suffix(suffix) {
            s = rest.trim_end().to_owned();
            break;
        }
    }
    // A zone offset after a time of day: `12:00:00+02:00`, `12:00-05`.
    if let Some(i) = s.rfind(['+', '-'])
        && s[..i].contains(':')
        && s[i + 1..].bytes().all(|c| c.is_ascii_digit() || c == b':')
        && !s[i + 1..].is_empty()
    {
        return Err("only UTC times are accepted (drop the zone offset, or give it as `Z`)");
    }
    if parse_iso_parts(&s).is_some() {
        return Ok(s);
    }
    let tokens: Vec<&str> = s.split_whitespace().collect();
    let is_num = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    let month = |t: &str| {
        MONTHS
            .iter()
            .position(|m| t.len() >= 3 && m.eq_ignore_ascii_case(&t[..3]))
            .map(|i| MONTHS[i])
    };
    let (date, rest): (String, &[&str]) = match tokens.as_slice() {
        [y, m, d, rest @ ..] if is_num(y) && y.len() >= 4 && is_num(d) && month(m).is_some() => {
            (format!("{y}-{}-{d}", month(m).unwrap_or_default()), rest)
        }
        [m, d, y, rest @ ..] if is_num(y) && y.len() >= 4 && is_num(d) && month(m).is_some() => {
            (format!("{y}-{}-{d}", month(m).unwrap_or_default()), rest)
        }
        [d, m, y, rest @ ..] if is_num(y) && y.len() >= 4 && is_num(d) && month(m).is_some() => {
            (format!("{y}-{}-{d}", month(m).unwrap_or_default()), rest)
        }
        _ => return Err(EXPECTED),
    };
    let out = match rest {
        [] => date,
        [time] => format!("{date}T{time}"),
        _ => return Err("unexpected text after the time of day"),
    };
    parse_iso_parts(&out).map(|_| out).ok_or(EXPECTED)
}

/// A parsed ISO-like date: ((year, month, day), (hour, minute, second), day-of-year form).
pub(super) type DateParts = ((i64, i64, i64), (i64, i64, f64), bool);

/// Splits `YYYY-MM-DD`, `YYYY-MON-DD` or `YYYY-DDD`, then optional `T`, `/` or blank and
/// `HH[:MM[:SS[.fff]]]`. Day-of-year dates come back as month 1, day DDD.
pub(super) fn parse_iso_parts(s: &str) -> Option<DateParts> {
    let s = s.trim();
    let b = s.as_bytes();
    // The date/time separator sits between two digits (month names contain a 'T').
    let sep = (1..b.len().saturating_sub(1)).find(|&i| {
        matches!(b[i], b'T' | b't' | b'/' | b' ')
            && b[i - 1].is_ascii_digit()
            && b[i + 1].is_ascii_digit()
    });
    let (date, time) = match sep {
        Some(i) => (&s[..i], Some(s[i + 1..].trim())),
        None => (s, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let ytxt = parts.first()?;
    if !(4..=6).contains(&ytxt.len()) || !ytxt.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let year: i64 = ytxt.parse().ok()?;
    let num = |t: &str| -> Option<i64> {
        if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (month, day, doy) = match parts.len() {
        2 => (1, num(parts[1])?, true),
        3 => {
            let month = match num(parts[1]) {
                Some(m) => m,
                None => MONTHS
                    .iter()
                    .position(|m| m.eq_ignore_ascii_case(parts[1]))
                    .map(|i| i as i64 + 1)?,
            };
            (month, num(parts[2])?, false)
        }
        _ => return None,
    };
    let (mut h, mut m, mut sec) = (0, 0, 0.0);
    if let Some(t) = time {
        let fields: Vec<&str> = t.split(':').collect();
        if fields.len() > 3 {
            return None;
        }
        h = num(fields[0])?;
        if let Some(mm) = fields.get(1) {
            m = num(mm)?;
        }
        if let Some(ss) = fields.get(2) {
            if !ss.starts_with(|c: char| c.is_ascii_digit())
                || !ss.bytes().all(|c| c.is_ascii_digit() || c == b'.')
            {
                return None;
            }
            sec = ss.parse().ok()?;
        }
    }
    Some(((year, month, day), (h, m, sec), doy))
}

pub(super) fn table(year: i64) -> &'static [i64; 12] {
    if is_leap(year) { &DPBEGL } else { &DPJAN0 }
}

/// Day number → (year, month, day), `TTRANS`'s 400/100/4/1-year decomposition.
pub(super) fn calendar(daynum: i64) -> (i64, i64, i64) {
    let mut yr400 = daynum / 146097;
    let mut rem = daynum - yr400 * 146097;
    if rem < 0 {
        yr400 -= 1;
        rem += 146097;
    }
    let yr100 = (rem / 36524).min(3);
    rem -= yr100 * 36524;
    let yr4 = (rem / 1461).min(24);
    rem -= yr4 * 1461;
    let yr1 = (rem / 365).min(3);
    rem -= yr1 * 365;
    let dofyr = rem + 1;
    let year = yr400 * 400 + yr100 * 100 + yr4 * 4 + yr1 + 1;
    let t = table(year);
    let month = t.partition_point(|&d| d < dofyr) as i64;
    let day = dofyr - t[month as usize - 1];
    (year, month, day)
}
