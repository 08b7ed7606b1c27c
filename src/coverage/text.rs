//! Text kernel assignments (LSK, SCLK, FK, PCK, metakernels): a small, tolerant reader
//! of the data blocks into a kernel pool, for the variables time conversion and naming
//! need.
//!
//! Syntax (NAIF *Kernel Required Reading*, "Text Kernel Specifications"): text before
//! the first `\begindata` is comment; lines that are exactly `\begindata`/`\begintext`
//! (blanks trimmed) switch blocks. In data blocks: `NAME = value`, `NAME = ( v1 v2 ... )`
//! (a vector may span lines), `NAME += ...` appends. Values are numbers (`1.5D3`),
//! quoted strings (`''` is a quote) or `@`-dates; commas separate like blanks. A
//! scalar takes the values left on its line.
//!
//! This is not the metakernel parser (`crate::metakernel` is lossless and strict about
//! CSPICE's line limits because it rewrites files); this one only reads values, and its
//! errors name the file and line.

use std::collections::HashMap;

use super::Error;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Num(f64),
    Str(String),
    /// An `@`-date, as written (without the `@`).
    Date(String),
}

/// One assignment, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    pub name: String,
    pub append: bool,
    pub values: Vec<Value>,
    pub line: usize,
}

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Date(String),
    Eq,
    PlusEq,
    Open,
    Close,
}

/// Parses the data blocks of a text kernel. `file` names it in errors.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Vec<Assignment>, Error> {
    let text = String::from_utf8_lossy(bytes);
    let mut toks: Vec<(Tok, usize)> = Vec::new();
    let mut data = false;
    let mut eols: Vec<usize> = Vec::new(); // index into toks where each data line ends
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end_matches('\r');
        let marker = line.trim_matches([' ', '\t']);
        if marker == "\\begindata" {
            data = true;
            continue;
        }
        if marker == "\\begintext" {
            data = false;
            continue;
        }
        if !data {
            continue;
        }
        tokenize(line, line_no, &mut toks);
        eols.push(toks.len());
    }
    let err = |line: usize, why: String| Error::TextKernel {
        file: file.into(),
        line,
        why,
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let (tok, line) = &toks[i];
        let line = *line;
        let Tok::Word(name) = tok else {
            return Err(err(
                line,
                format!("expected a variable name, found {tok:?}"),
            ));
        };
        let append = match toks.get(i + 1) {
            Some((Tok::Eq, _)) => false,
            Some((Tok::PlusEq, _)) => true,
            _ => return Err(err(line, format!("expected `=` or `+=` after `{name}`"))),
        };
        i += 2;
        let mut values = Vec::new();
        if matches!(toks.get(i), Some((Tok::Open, _))) {
            i += 1;
            loop {
                match toks.get(i) {
                    None => return Err(err(line, format!("`{name}`: vector not closed by `)`"))),
                    Some((Tok::Close, _)) => {
                        i += 1;
                        break;
                    }
                    Some((t, l)) => {
                        values.push(value(file, t, *l)?);
                        i += 1;
                    }
                }
            }
        } else {
            // A scalar: the values left on this line.
            let end = eols.iter().copied().find(|&e| e > i).unwrap_or(toks.len());
            if i >= end {
                return Err(err(line, format!("`{name}` has no value")));
            }
            while i < end {
                values.push(value(file, &toks[i].0, toks[i].1)?);
                i += 1;
            }
        }
        out.push(Assignment {
            name: name.clone(),
            append,
            values,
            line,
        });
    }
    Ok(out)
}

fn value(file: &str, t: &Tok, line: usize) -> Result<Value, Error> {
    match t {
        Tok::Str(s) => Ok(Value::Str(s.clone())),
        Tok::Date(s) => Ok(Value::Date(s.clone())),
        Tok::Word(w) => parse_number(w)
            .map(Value::Num)
            .ok_or_else(|| Error::TextKernel {
                file: file.into(),
                line,
                why: format!("`{w}` is not a number, string or @-date"),
            }),
        other => Err(Error::TextKernel {
            file: file.into(),
            line,
            why: format!("unexpected {other:?} among values"),
        }),
    }
}

/// A Fortran-style number: `1`, `-2.5`, `1.5D3`, `.5e-2`.
pub fn parse_number(w: &str) -> Option<f64> {
    let first = w.chars().next()?;
    if !(first.is_ascii_digit() || matches!(first, '+' | '-' | '.')) {
        return None;
    }
    let s: String = w
        .chars()
        .map(|c| if matches!(c, 'D' | 'd') { 'E' } else { c })
        .collect();
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn tokenize(line: &str, line_no: usize, out: &mut Vec<(Tok, usize)>) {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b',' => i += 1,
            b'(' => {
                out.push((Tok::Open, line_no));
                i += 1;
            }
            b')' => {
                out.push((Tok::Close, line_no));
                i += 1;
            }
            b'=' => {
                out.push((Tok::Eq, line_no));
                i += 1;
            }
            b'+' if b.get(i + 1) == Some(&b'=') => {
                out.push((Tok::PlusEq, line_no));
                i += 2;
            }
            b'\'' => {
                let mut s = Vec::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => {
                            // Unterminated: CSPICE takes the rest of the line (trailing
                            // blanks dropped); real FKs rely on it.
                            while s.last().is_some_and(|c| *c == b' ' || *c == b'\t') {
                                s.pop();
                            }
                            break;
                        }
                        Some(b'\'') if b.get(i + 1) == Some(&b'\'') => {
                            s.push(b'\'');
                            i += 2;
                        }
                        Some(b'\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push((Tok::Str(String::from_utf8_lossy(&s).into_owned()), line_no));
            }
            _ => {
                let start = i;
                while i < b.len()
                    && !matches!(b[i], b' ' | b'\t' | b',' | b'(' | b')' | b'=' | b'\'')
                {
                    if b[i] == b'+' && b.get(i + 1) == Some(&b'=') {
                        break;
                    }
                    i += 1;
                }
                let w = String::from_utf8_lossy(&b[start..i]).into_owned();
                if let Some(d) = w.strip_prefix('@') {
                    out.push((Tok::Date(d.to_string()), line_no));
                } else {
                    out.push((Tok::Word(w), line_no));
                }
            }
        }
    }
}

/// A kernel pool: variables from text kernels in load order (`=` replaces, `+=`
/// appends), each remembering the file that last set it.
#[derive(Clone, Debug, Default)]
pub struct Pool {
    vars: HashMap<String, (Vec<Value>, String)>,
}

impl Pool {
    pub fn new() -> Self {
        Pool::default()
    }

    /// Parses `bytes` and loads its assignments.
    pub fn load(&mut self, file: &str, bytes: &[u8]) -> Result<(), Error> {
        for a in parse(file, bytes)? {
            let entry = self
                .vars
                .entry(a.name)
                .or_insert_with(|| (Vec::new(), file.to_string()));
            if !a.append {
                entry.0.clear();
            }
            entry.0.extend(a.values);
            entry.1 = file.to_string();
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&[Value]> {
        self.vars.get(name).map(|(v, _)| v.as_slice())
    }

    /// The file that last set `name`.
    pub fn source(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|(_, f)| f.as_str())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    /// Numeric values of `name`; `None` when absent, an error when not all numbers.
    /// `@`-dates count as numbers, as in CSPICE's pool: seconds past J2000 of the formal
    /// (leap-second-free) calendar.
    pub fn numbers(&self, name: &str) -> Result<Option<Vec<f64>>, Error> {
        let Some(vals) = self.get(name) else {
            return Ok(None);
        };
        vals.iter()
            .map(|v| match v {
                Value::Num(x) => Ok(*x),
                Value::Date(d) => {
                    super::calendar::formal_seconds(d).ok_or_else(|| Error::KernelVariable {
                        file: self.source(name).unwrap_or("?").to_string(),
                        name: name.to_string(),
                        why: format!("holds the unreadable date @{d}"),
                    })
                }
                other => Err(Error::KernelVariable {
                    file: self.source(name).unwrap_or("?").to_string(),
                    name: name.to_string(),
                    why: format!("holds {other:?} where a number is expected"),
                }),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// String values of `name` (numbers and dates are skipped).
    pub fn strings(&self, name: &str) -> Option<Vec<&str>> {
        self.get(name).map(|vals| {
            vals.iter()
                .filter_map(|v| match v {
                    Value::Str(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lsk_like_data() {
        let t = b"KPL/LSK\ncomment = 1\n\\begindata\nDELTET/DELTA_T_A = 32.184\nDELTET/M = ( 6.239996D0 1.99096871D-7 )\nDELTET/DELTA_AT = ( 10, @1972-JAN-1\n 11, @1972-JUL-1 )\n\\begintext\nX = 2\n\\begindata\nNAME = 'it''s'\nB += ( 1 )\n";
        let a = parse("t.tls", t).unwrap();
        assert_eq!(a[0].name, "DELTET/DELTA_T_A");
        assert_eq!(a[0].values, vec![Value::Num(32.184)]);
        assert_eq!(
            a[1].values,
            vec![Value::Num(6.239996), Value::Num(1.99096871e-7)]
        );
        assert_eq!(
            a[2].values,
            vec![
                Value::Num(10.0),
                Value::Date("1972-JAN-1".into()),
                Value::Num(11.0),
                Value::Date("1972-JUL-1".into())
            ]
        );
        // A scalar takes the rest of its line: `B` is a value token that is not a number.
        assert!(parse("t", b"\\begindata\nA = 1 B += ( 1 )\n").is_err());
        assert_eq!(a.len(), 5);
        assert_eq!(a[3].values, vec![Value::Str("it's".into())]);
        assert!(a[4].append);
    }

    #[test]
    fn pool_appends_and_replaces() {
        let mut p = Pool::new();
        p.load("a", b"\\begindata\nX = ( 1 2 )\nX += 3\nS = 'a'\n")
            .unwrap();
        assert_eq!(p.numbers("X").unwrap().unwrap(), vec![1.0, 2.0, 3.0]);
        p.load("b", b"\\begindata\nX = 4\n").unwrap();
        assert_eq!(p.numbers("X").unwrap().unwrap(), vec![4.0]);
        assert_eq!(p.source("X"), Some("b"));
        assert!(p.numbers("S").is_err());
    }

    proptest::proptest! {
        /// Any bytes: parsing never panics, and a pool built from them feeds the LSK and
        /// SCLK readers without panicking either.
        #[test]
        fn any_text_is_safe(body in "(\\\\begindata|\\\\begintext|[A-Z_0-9/+=()',@ .:-]|\\n|\\PC){0,400}") {
            let bytes = format!("\\begindata\n{body}");
            let _ = parse("p.tk", bytes.as_bytes());
            let mut pool = Pool::new();
            if pool.load("p.tk", bytes.as_bytes()).is_ok() {
                let _ = crate::coverage::time::Lsk::from_pool(&pool);
                let _ = crate::coverage::sclk::Sclk::from_pool(&pool, -82);
                let _ = crate::coverage::names::frames(Some(&pool));
                let _ = crate::coverage::names::bodies(Some(&pool));
            }
        }
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse("k.tsc", b"\\begindata\nA = ( 1 2\n").unwrap_err();
        assert!(e.to_string().contains("`k.tsc` line 2"), "{e}");
        let a = parse("k.tsc", b"\\begindata\nA = 'x  \n").unwrap();
        assert_eq!(
            a[0].values,
            vec![Value::Str("x".into())],
            "an open string runs to the line end"
        );
    }
}
