//! Lines and tokens exactly as CSPICE's text-kernel reader sees them.
//!
//! This mirrors three CSPICE N0067 routines, verified against SpiceyPy's bundled CSPICE
//! (see `docs/metakernels.md`):
//!
//! - the line reader (`RDTEXT` with non-native line terminators enabled): every LF,
//!   every CR and every CRLF ends a line; a last line without a terminator is never read;
//! - `RDKER`: a line is read into a 132-byte buffer (80 bytes for the very first line),
//!   tabs become blanks, and the line is a `\begindata`/`\begintext` marker when what is
//!   left after trimming blanks equals the marker exactly (case-sensitive);
//! - `ZZRVAR`'s tokenizer: blanks, tabs, commas and parentheses separate tokens, `=` and
//!   `+=` are operators, a quote opens a string that `''` continues.
//!
//! Every position here is a byte offset into the original input, so the parser can keep
//! spans and the rewriter can splice bytes without re-rendering anything.

/// CSPICE reads data lines into a buffer of this many bytes and silently drops the rest.
pub(crate) const LINE_LIMIT: usize = 132;
/// `RDKNEW` reads the very first line into a shorter buffer.
pub(crate) const FIRST_LINE_LIMIT: usize = 80;

/// One physical line of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line {
    /// Offset of the first byte of the line.
    pub start: usize,
    /// Offset one past the last content byte (the terminator is not included).
    pub end: usize,
    /// Offset of the first byte of the next line (after the terminator).
    pub next: usize,
    /// 1-based line number as an editor counts them (CRLF is one line break).
    pub number: usize,
}

impl Line {
    /// Whether a line terminator follows the content. CSPICE never reads a last line
    /// that lacks one.
    pub fn terminated(&self) -> bool {
        self.next > self.end
    }
}

/// Splits `bytes` into lines at LF, CRLF and lone CR.
pub(crate) fn split_lines(bytes: &[u8]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(Line {
                    start,
                    end: i,
                    next: i + 1,
                    number: lines.len() + 1,
                });
                i += 1;
                start = i;
            }
            b'\r' => {
                let next = if bytes.get(i + 1) == Some(&b'\n') {
                    i + 2
                } else {
                    i + 1
                };
                lines.push(Line {
                    start,
                    end: i,
                    next,
                    number: lines.len() + 1,
                });
                i = next;
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < bytes.len() {
        lines.push(Line {
            start,
            end: bytes.len(),
            next: bytes.len(),
            number: lines.len() + 1,
        });
    }
    lines
}

/// Whether `b` is a blank in CSPICE's sense once tabs have been replaced by blanks.
pub(crate) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// What a line is to `RDKER`'s block switching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marker {
    BeginData,
    BeginText,
}

/// Returns the marker this line is, looking only at the first `limit` bytes as CSPICE
/// does.
pub(crate) fn marker(content: &[u8], limit: usize) -> Option<Marker> {
    let seen = &content[..content.len().min(limit)];
    let first = seen.iter().position(|&b| !is_blank(b))?;
    let last = seen.iter().rposition(|&b| !is_blank(b))?;
    match &seen[first..=last] {
        b"\\begindata" => Some(Marker::BeginData),
        b"\\begintext" => Some(Marker::BeginText),
        _ => None,
    }
}

/// The kind of a token on a data line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A quoted string; `closed` is false when the line ends inside it.
    Quoted {
        closed: bool,
    },
    /// Anything else that is not a separator: a number, a date, a name.
    Bare,
    LParen,
    RParen,
    Eq,
    PlusEq,
}

/// A token with its absolute byte range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b',' | b'(' | b')' | b'=' | b'\t')
}

/// Tokenizes one data line (already cut to [`LINE_LIMIT`]) the way `ZZRVAR` does.
///
/// `base` is the offset of `line[0]` in the input. The state machine is `ZZRVAR`'s: a
/// quote outside a string opens one; inside, quotes toggle a parity flag and the string
/// ends at the first separator or ordinary character seen at even parity (so `'a''b'` is
/// one string and `'a'b` is a string followed by a bare token). An `=` preceded directly
/// by `+` becomes the `+=` operator, taking the `+` from the token before it.
pub(crate) fn tokenize(line: &[u8], base: usize) -> Vec<Token> {
    // Inclusive ends, as in the Fortran, converted on the way out.
    let mut toks: Vec<(TokenKind, usize, usize)> = Vec::new();
    let mut even = true;
    let mut in_token = false;
    let mut in_quote = false;
    let mut in_sep = true;
    for (i, &c) in line.iter().enumerate() {
        if is_separator(c) {
            if in_token || (in_quote && even) {
                in_quote = false;
                in_token = false;
                in_sep = true;
            }
            if in_sep {
                match c {
                    b'=' => {
                        toks.push((TokenKind::Eq, i, i));
                        if i > 0 && line[i - 1] == b'+' {
                            let n = toks.len();
                            toks[n - 1] = (TokenKind::PlusEq, i - 1, i);
                            if n >= 2 {
                                let (_, b, e) = toks[n - 2];
                                if b == e {
                                    toks.remove(n - 2);
                                } else {
                                    toks[n - 2].2 -= 1;
                                }
                            }
                        }
                    }
                    b')' => toks.push((TokenKind::RParen, i, i)),
                    b'(' => toks.push((TokenKind::LParen, i, i)),
                    _ => {}
                }
            }
        } else if c == b'\'' {
            even = !even;
            if !in_quote {
                in_sep = false;
                in_token = false;
                in_quote = true;
                toks.push((TokenKind::Quoted { closed: false }, i, i));
            }
            if let Some(last) = toks.last_mut() {
                last.2 = i;
            }
        } else {
            if in_sep || (in_quote && even) {
                in_quote = false;
                in_sep = false;
                in_token = true;
                toks.push((TokenKind::Bare, i, i));
            }
            if let Some(last) = toks.last_mut() {
                last.2 = i;
            }
        }
    }
    toks.into_iter()
        .map(|(kind, b, e)| {
            let kind = match kind {
                TokenKind::Quoted { .. } => TokenKind::Quoted {
                    closed: is_closed_string(&line[b..=e]),
                },
                other => other,
            };
            Token {
                kind,
                start: base + b,
                end: base + e + 1,
            }
        })
        .collect()
}

/// A string token is closed when it has at least two quotes at its ends and every quote
/// in between is doubled.
pub(crate) fn is_closed_string(tok: &[u8]) -> bool {
    if tok.len() < 2 || tok[0] != b'\'' || tok[tok.len() - 1] != b'\'' {
        return false;
    }
    let inner = &tok[1..tok.len() - 1];
    let mut i = 0;
    while i < inner.len() {
        if inner[i] == b'\'' {
            if inner.get(i + 1) != Some(&b'\'') {
                return false;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    true
}

/// Decodes a string token the way `ZZRVAR` copies it into the pool: `''` becomes `'`,
/// tabs become blanks (`RDKER` replaces them before `ZZRVAR` sees the line), and an
/// unclosed string runs to the token's last byte. Each decoded byte comes with its offset
/// in `tok`.
pub(crate) fn decode_string(tok: &[u8]) -> Vec<(u8, usize)> {
    let last = tok.len().saturating_sub(1);
    let end = if last > 0 && tok[last] == b'\'' {
        last
    } else {
        last + 1
    };
    let mut out = Vec::with_capacity(tok.len());
    let mut j = 1;
    while j < end {
        if tok[j] == b'\'' {
            j += 1;
        }
        if let Some(&b) = tok.get(j) {
            out.push((if b == b'\t' { b' ' } else { b }, j));
        }
        j += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(line: &str) -> Vec<(TokenKind, &str)> {
        tokenize(line.as_bytes(), 0)
            .into_iter()
            .map(|t| (t.kind, &line[t.start..t.end]))
            .collect()
    }

    const CLOSED: TokenKind = TokenKind::Quoted { closed: true };

    #[test]
    fn lines_split_at_lf_crlf_and_cr() {
        let lines = split_lines(b"a\nb\r\nc\rd");
        let spans: Vec<_> = lines.iter().map(|l| (l.start, l.end, l.next)).collect();
        assert_eq!(spans, vec![(0, 1, 2), (2, 3, 5), (5, 6, 7), (7, 8, 8)]);
        assert!(lines[2].terminated());
        assert!(!lines[3].terminated());
        assert_eq!(lines[3].number, 4);
        assert!(split_lines(b"").is_empty());
        assert_eq!(split_lines(b"\n\n").len(), 2);
    }

    #[test]
    fn markers_allow_surrounding_blanks_and_tabs_only() {
        assert_eq!(marker(b"\\begindata", 132), Some(Marker::BeginData));
        assert_eq!(marker(b" \t\\begintext \t ", 132), Some(Marker::BeginText));
        assert_eq!(marker(b"\\BEGINDATA", 132), None);
        assert_eq!(marker(b"\\begindata x", 132), None);
        assert_eq!(marker(b"x \\begindata", 132), None);
        assert_eq!(marker(b"\x0b\\begindata", 132), None);
        // CSPICE never sees what lies past its buffer.
        let mut long = b"\\begindata".to_vec();
        long.extend(std::iter::repeat_n(b' ', 130));
        long.push(b'x');
        assert_eq!(marker(&long, 132), Some(Marker::BeginData));
        assert_eq!(marker(&long[..75], 80), Some(Marker::BeginData));
    }

    #[test]
    fn tokenizer_follows_zzrvar() {
        assert_eq!(
            kinds("A = ( 'x', 1 )"),
            vec![
                (TokenKind::Bare, "A"),
                (TokenKind::Eq, "="),
                (TokenKind::LParen, "("),
                (CLOSED, "'x'"),
                (TokenKind::Bare, "1"),
                (TokenKind::RParen, ")"),
            ]
        );
        assert_eq!(
            kinds("A+='it''s'"),
            vec![
                (TokenKind::Bare, "A"),
                (TokenKind::PlusEq, "+="),
                (CLOSED, "'it''s'"),
            ]
        );
        assert_eq!(
            kinds("A += 1"),
            vec![
                (TokenKind::Bare, "A"),
                (TokenKind::PlusEq, "+="),
                (TokenKind::Bare, "1")
            ]
        );
        assert_eq!(
            kinds("A + = 1")[1..3],
            [(TokenKind::Bare, "+"), (TokenKind::Eq, "=")]
        );
        assert_eq!(
            kinds("'a b'c'd"),
            vec![
                (CLOSED, "'a b'"),
                (TokenKind::Bare, "c"),
                (TokenKind::Quoted { closed: false }, "'d"),
            ]
        );
        assert_eq!(kinds("'a = (b)'"), vec![(CLOSED, "'a = (b)'")]);
        assert_eq!(kinds("''")[0], (CLOSED, "''"));
        assert_eq!(
            kinds("'abc   ")[0],
            (TokenKind::Quoted { closed: false }, "'abc")
        );
    }

    fn decoded(tok: &[u8]) -> Vec<u8> {
        decode_string(tok).into_iter().map(|(b, _)| b).collect()
    }

    #[test]
    fn strings_decode_doubled_quotes_and_tabs() {
        assert_eq!(decoded(b"'it''s'"), b"it's");
        assert_eq!(decoded(b"'a\tb'"), b"a b");
        assert_eq!(decoded(b"''''"), b"'");
        assert_eq!(decoded(b"'ab'''"), b"ab'");
        assert_eq!(decode_string(b"'a''b'"), [(b'a', 1), (b'\'', 3), (b'b', 4)]);
        // Unclosed strings run to the end of the token, as in CSPICE.
        assert_eq!(decoded(b"'abc"), b"abc");
        assert_eq!(decoded(b"'a, b"), b"a, b");
        assert_eq!(decoded(b"'ab''"), b"ab'");
    }
}
