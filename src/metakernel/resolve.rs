//! What `FURNSH` makes of `KERNELS_TO_LOAD`, `PATH_SYMBOLS` and `PATH_VALUES`.
//!
//! Mirrors CSPICE N0067 `KEEPER`/`FURNSH`: `KERNELS_TO_LOAD` is read with `SEPOOL` and
//! `PATH_VALUES` with `STPOOL` (both join a string ending in `+` with the next one),
//! `PATH_SYMBOLS` with `GCPOOL` (never joined). Each `$` is then replaced, left to right,
//! by the longest symbol matching the bytes after it; the scan resumes one byte after the
//! `$`, inside the substituted value.

use super::{
    Entry, KERNELS_TO_LOAD, MAX_PATH_LEN, MAX_STRING_LEN, Metakernel, PATH_SYMBOLS, PATH_VALUES,
    ParseError, ParseErrorKind, PathSymbol, Span, Value, ValueKind, Warning, WarningKind, lex,
};

/// A continuation-joined string value with, for every byte, the input offset it came from.
#[derive(Debug, Clone)]
struct Joined {
    value: String,
    origin: Vec<usize>,
    spans: Vec<Span>,
    line: usize,
    column: usize,
}

/// Offsets in the input of the bytes of a decoded string token.
fn decoded_origins(bytes: &[u8], span: Span) -> Vec<usize> {
    lex::decode_string(&bytes[span.range()])
        .into_iter()
        .map(|(_, i)| span.start + i)
        .collect()
}

fn trim_blanks_end(s: &str) -> &str {
    s.trim_end_matches(' ')
}

fn join(
    mk: &Metakernel,
    name: &str,
    values: &[&Value],
    strict: bool,
) -> Result<Vec<Joined>, ParseError> {
    let mut out = Vec::new();
    let mut current: Option<Joined> = None;
    for v in values {
        if strict && v.text.len() > MAX_STRING_LEN {
            return Err(ParseError {
                line: v.line,
                column: v.column,
                kind: ParseErrorKind::StringTooLong {
                    name: name.to_owned(),
                    len: v.text.len(),
                },
            });
        }
        let origins = decoded_origins(mk.as_bytes(), v.span);
        let text = trim_blanks_end(&v.text);
        let j = current.get_or_insert_with(|| Joined {
            value: String::new(),
            origin: Vec::new(),
            spans: Vec::new(),
            line: v.line,
            column: v.column,
        });
        j.spans.push(v.span);
        if let Some(piece) = text.strip_suffix('+') {
            j.value.push_str(piece);
            j.origin.extend_from_slice(&origins[..piece.len()]);
        } else {
            j.value.push_str(text);
            j.origin.extend_from_slice(&origins[..text.len()]);
            if j.value.is_empty() {
                // A blank string has length 1 to Fortran's RTRIM, so `STPOOL` returns
                // one blank for it (and `FURNSH` substitutes that blank).
                j.value.push(' ');
                j.origin.push(v.span.start + 1);
            }
            out.extend(current.take());
        }
    }
    // A `+` on the very last string joins with nothing; `STPOOL`/`SEPOOL` still return
    // what was joined so far, possibly nothing.
    if let Some(mut j) = current {
        let len = trim_blanks_end(&j.value).len();
        j.value.truncate(len);
        j.origin.truncate(len);
        out.push(j);
    }
    Ok(out)
}

/// The string values of a `FURNSH` variable, or nothing when it is unset or numeric
/// (`FURNSH` ignores numeric ones).
fn string_values<'m>(mk: &'m Metakernel, name: &str) -> Option<Vec<&'m Value>> {
    let values = mk.values(name)?;
    if values.iter().any(|v| v.kind != ValueKind::String) || values.is_empty() {
        return None;
    }
    Some(values)
}

pub(super) fn path_symbols(mk: &Metakernel) -> Vec<PathSymbol> {
    let Some(symbols) = string_values(mk, PATH_SYMBOLS) else {
        return Vec::new();
    };
    let values = string_values(mk, PATH_VALUES)
        .map(|v| join(mk, PATH_VALUES, &v, false).unwrap_or_default())
        .unwrap_or_default();
    symbols
        .iter()
        .zip(values)
        .map(|(s, v)| PathSymbol {
            name: trim_blanks_end(&s.text).to_owned(),
            value: v.value,
            name_span: s.span,
            value_spans: v.spans,
            line: v.line,
            column: v.column,
        })
        .collect()
}

pub(super) fn entries(mk: &Metakernel) -> Result<Vec<Entry>, ParseError> {
    entries_with_warnings(mk).map(|(e, _)| e)
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `PATH_SYMBOLS` paired with the joined `PATH_VALUES`, checked as CSPICE checks them
/// (same count, lengths within limits); `None` when the file defines no symbols.
fn symbol_table(mk: &Metakernel) -> Result<Option<Vec<(String, String)>>, ParseError> {
    let Some(names) = string_values(mk, PATH_SYMBOLS) else {
        return Ok(None);
    };
    for s in &names {
        if s.text.len() > MAX_STRING_LEN {
            return Err(ParseError {
                line: s.line,
                column: s.column,
                kind: ParseErrorKind::StringTooLong {
                    name: PATH_SYMBOLS.to_owned(),
                    len: s.text.len(),
                },
            });
        }
    }
    let values = match string_values(mk, PATH_VALUES) {
        Some(v) => join(mk, PATH_VALUES, &v, true)?,
        None => Vec::new(),
    };
    if values.len() != names.len() {
        let at = mk
            .variables()
            .iter()
            .rfind(|a| a.name == PATH_SYMBOLS)
            .map_or((1, 1), |a| (a.line, a.column));
        return Err(ParseError {
            line: at.0,
            column: at.1,
            kind: ParseErrorKind::PathMismatch {
                symbols: names.len(),
                values: values.len(),
            },
        });
    }
    for v in &values {
        if v.value.len() > MAX_PATH_LEN {
            return Err(ParseError {
                line: v.line,
                column: v.column,
                kind: ParseErrorKind::PathValueTooLong { len: v.value.len() },
            });
        }
    }
    Ok(Some(
        names
            .iter()
            .zip(values)
            .map(|(n, v)| (trim_blanks_end(&n.text).to_owned(), v.value))
            .collect(),
    ))
}

/// Whether the file completed an assignment of one of `FURNSH`'s variables.
fn furnsh_acts(mk: &Metakernel) -> bool {
    mk.variables().iter().any(|a| {
        a.closed && [KERNELS_TO_LOAD, PATH_SYMBOLS, PATH_VALUES].contains(&a.name.as_str())
    })
}

/// The symbol `rest` (the bytes after a `$`) starts with: the longest wins, and
/// among equal lengths the first one (`KEEPER`), as in CSPICE.
fn longest_symbol(symbols: &[(String, String)], rest: &[u8]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (k, (name, _)) in symbols.iter().enumerate() {
        let n = name.as_bytes();
        if !n.is_empty() && rest.starts_with(n) && best.is_none_or(|b| n.len() > symbols[b].0.len())
        {
            best = Some(k);
        }
    }
    best
}

/// What to say about `$symbol` that no PATH_SYMBOL names.
fn undefined_symbol_hint(
    symbols: &[(String, String)],
    has_symbols: bool,
    symbol: &str,
) -> Option<String> {
    if !has_symbols {
        return Some("the metakernel defines no PATH_SYMBOLS".to_owned());
    }
    symbols
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(symbol))
        .map(|(n, _)| format!("symbols are case-sensitive; did you mean `${n}`?"))
}

pub(super) fn entries_with_warnings(
    mk: &Metakernel,
) -> Result<(Vec<Entry>, Vec<Warning>), ParseError> {
    let mut warnings = Vec::new();
    // `FURNSH` acts only when the file assigned one of its variables; an assignment the
    // file ended inside of does not count (`LDPOOL` does not notify watchers of it), but
    // its values are in the pool all the same.
    if !furnsh_acts(mk) {
        return Ok((Vec::new(), warnings));
    }
    let found = symbol_table(mk)?;
    let has_symbols = found.is_some();
    let symbols = found.unwrap_or_default();
    let list = match string_values(mk, KERNELS_TO_LOAD) {
        Some(v) => join(mk, KERNELS_TO_LOAD, &v, true)?,
        None => Vec::new(),
    };
    let mut entries = Vec::with_capacity(list.len());
    for j in list {
        let at = |offset: usize, kind: ParseErrorKind| {
            let (line, column) = mk.position(offset);
            ParseError { line, column, kind }
        };
        let first = j.spans[0].start;
        if j.value.len() > MAX_PATH_LEN {
            return Err(at(
                first,
                ParseErrorKind::EntryTooLong { len: j.value.len() },
            ));
        }
        if j.value.trim_matches(' ').is_empty() {
            return Err(at(first, ParseErrorKind::BlankEntry));
        }
        let mut path = j.value.clone().into_bytes();
        let mut origin = j.origin.clone();
        let mut start = 0;
        while let Some(d) = path[start..]
            .iter()
            .position(|&b| b == b'$')
            .map(|i| i + start)
        {
            match longest_symbol(&symbols, &path[d + 1..]) {
                Some(k) => {
                    let (name, value) = &symbols[k];
                    let after = d + 1 + name.len();
                    if path.get(after).is_some_and(|&b| is_name_byte(b)) {
                        warnings.push(warning(
                            mk,
                            origin[d],
                            WarningKind::PrefixSymbol {
                                symbol: name.clone(),
                                raw: j.value.clone(),
                            },
                        ));
                    }
                    path.splice(d..after, value.bytes());
                    origin.splice(d..after, std::iter::repeat_n(origin[d], value.len()));
                    if path.len() > MAX_PATH_LEN {
                        return Err(at(first, ParseErrorKind::EntryTooLong { len: path.len() }));
                    }
                }
                None => {
                    let name_len = path[d + 1..]
                        .iter()
                        .take_while(|&&b| is_name_byte(b))
                        .count();
                    if name_len == 0 {
                        warnings.push(warning(
                            mk,
                            origin[d],
                            WarningKind::LiteralDollar {
                                raw: j.value.clone(),
                            },
                        ));
                    } else {
                        let symbol =
                            String::from_utf8_lossy(&path[d + 1..d + 1 + name_len]).into_owned();
                        let hint = undefined_symbol_hint(&symbols, has_symbols, &symbol);
                        return Err(at(
                            origin[d],
                            ParseErrorKind::UndefinedSymbol { symbol, hint },
                        ));
                    }
                }
            }
            start = d + 1;
        }
        // Values and names are UTF-8 and `$` is ASCII, so every splice kept boundaries.
        let path = String::from_utf8(path)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        if path.contains('\\') {
            warnings.push(warning(
                mk,
                first,
                WarningKind::Backslash { path: path.clone() },
            ));
        }
        entries.push(Entry {
            raw: j.value,
            path,
            line: j.line,
            column: j.column,
            spans: j.spans,
        });
    }
    Ok((entries, warnings))
}

fn warning(mk: &Metakernel, offset: usize, kind: WarningKind) -> Warning {
    let (line, column) = mk.position(offset);
    Warning { line, column, kind }
}
