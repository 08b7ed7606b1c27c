//! Numbers as CSPICE's `NPARSD` reads them in text kernels.
//!
//! The grammar was mapped by loading one-value kernels into CSPICE N0067 (see
//! `docs/metakernels.md`): an optional sign, then either `PI` in any case or a mantissa
//! `digits[.digits]` followed by an optional exponent `E|D|e|d [sign] [digits]`. Empty
//! parts default sensibly (`E5` is 1e5, `1e` is 1, `.e` is 1) but the token must hold a
//! digit or an exponent letter, and the value must be finite.

/// Parses a bare token as CSPICE would, or returns `None` when CSPICE signals
/// `SPICE(NUMBEREXPECTED)`.
pub(crate) fn parse(token: &str) -> Option<f64> {
    let bytes = token.as_bytes();
    let (sign, rest) = match bytes.first() {
        Some(b'+') => (1.0, &bytes[1..]),
        Some(b'-') => (-1.0, &bytes[1..]),
        _ => (1.0, bytes),
    };
    if rest.eq_ignore_ascii_case(b"pi") {
        return Some(sign * std::f64::consts::PI);
    }
    let mut i = 0;
    let int_start = i;
    while i < rest.len() && rest[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = &rest[int_start..i];
    let mut frac_digits: &[u8] = &[];
    if i < rest.len() && rest[i] == b'.' {
        i += 1;
        let s = i;
        while i < rest.len() && rest[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = &rest[s..i];
    }
    let mut exponent: Option<(bool, &[u8])> = None;
    if i < rest.len() && matches!(rest[i], b'e' | b'E' | b'd' | b'D') {
        i += 1;
        let negative = match rest.get(i) {
            Some(b'+') => {
                i += 1;
                false
            }
            Some(b'-') => {
                i += 1;
                true
            }
            _ => false,
        };
        let s = i;
        while i < rest.len() && rest[i].is_ascii_digit() {
            i += 1;
        }
        exponent = Some((negative, &rest[s..i]));
    }
    if i != rest.len() {
        return None;
    }
    let has_digit = !int_digits.is_empty() || !frac_digits.is_empty();
    if !has_digit && exponent.is_none() {
        return None;
    }
    let mut text = String::with_capacity(token.len() + 4);
    if has_digit {
        text.push_str(std::str::from_utf8(int_digits).ok()?);
        if text.is_empty() {
            text.push('0');
        }
        if !frac_digits.is_empty() {
            text.push('.');
            text.push_str(std::str::from_utf8(frac_digits).ok()?);
        }
    } else {
        text.push('1');
    }
    if let Some((negative, digits)) = exponent
        && !digits.is_empty()
    {
        text.push('e');
        if negative {
            text.push('-');
        }
        text.push_str(std::str::from_utf8(digits).ok()?);
    }
    let value: f64 = text.parse().ok()?;
    value.is_finite().then_some(sign * value)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accepts_what_cspice_accepts() {
        let cases = [
            ("1", 1.0),
            ("-2", -2.0),
            ("+1E5", 1e5),
            ("1.5D3", 1500.0),
            ("1.5d3", 1500.0),
            ("1.5e-3", 0.0015),
            ("1.5E+3", 1500.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("-.5", -0.5),
            ("+.5e1", 5.0),
            ("1e", 1.0),
            ("1e+", 1.0),
            ("e5", 1e5),
            ("D5", 1e5),
            ("1D", 1.0),
            ("00012", 12.0),
            ("1E0005", 1e5),
            ("1e-999", 0.0),
            ("1.0D+", 1.0),
            ("D", 1.0),
            ("E", 1.0),
            (".E5", 1e5),
            ("-.E5", -1e5),
            ("1d-", 1.0),
            ("0.", 0.0),
            ("1e308", 1e308),
            (".e", 1.0),
        ];
        for (text, want) in cases {
            let got = parse(text).unwrap_or_else(|| panic!("{text} rejected"));
            assert!((got - want).abs() <= want.abs() * 1e-12, "{text}: {got}");
        }
        for pi in ["PI", "pi", "Pi", "pI", "+pi"] {
            assert_eq!(parse(pi), Some(std::f64::consts::PI));
        }
        assert_eq!(parse("-PI"), Some(-std::f64::consts::PI));
    }

    #[test]
    fn rejects_what_cspice_rejects() {
        for text in [
            "1.2.3", "+", "-", ".", "0x10", "inf", "nan", "Infinity", "1_000", "2PI", "1.5q3",
            "1e5.5", "1..2", "1e999", "--1", "+-1", "1-", "1e+-5", "12abc", "1/2", "$", "#", "1F3",
            "PI2", "PIE", "2e308", ":", "1:2", "1h", "é", "",
        ] {
            assert_eq!(parse(text), None, "{text} accepted");
        }
    }
}
