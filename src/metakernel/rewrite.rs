//! Minimal-edit rewriting of `PATH_VALUES` and `KERNELS_TO_LOAD` strings.
//!
//! Only the string tokens being replaced change; every other byte (comments, other
//! variables, order, blanks, line terminators) is copied through. A value that does not
//! fit CSPICE's limits (80 bytes per string, 132 bytes per line) is split into several
//! strings joined by `+` continuation, each on a new line aligned under the original
//! token and ended with the line terminator that line already uses; a scalar assignment
//! cannot span lines, so its strings stay on one line or, when it holds just this value,
//! are wrapped in `( ... )`. The result is parsed back and checked to read as intended,
//! with the same assignments, before it is returned.

use std::collections::HashMap;

use super::{Entry, MAX_LINE_LEN, MAX_PATH_LEN, MAX_STRING_LEN, Metakernel, ParseError, Span, lex};

/// A rewrite that could not be made without changing what CSPICE reads.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RewriteError {
    #[error("unknown path symbol `{symbol}`: PATH_SYMBOLS does not define it")]
    UnknownSymbol { symbol: String },
    #[error("two different values given for path symbol `{symbol}`")]
    Conflict { symbol: String },
    #[error("cannot write `{value}` as a metakernel string: {reason}")]
    Unrepresentable { value: String, reason: &'static str },
    #[error("the metakernel does not resolve, so its entries cannot be rewritten")]
    Unresolved {
        #[source]
        source: ParseError,
    },
    #[error("the rewritten metakernel would not load")]
    Invalid {
        #[source]
        source: ParseError,
    },
    #[error("the rewrite would change the assignments of the metakernel")]
    Structure,
    #[error("the rewritten metakernel reads `{got}` where `{want}` was written")]
    Mismatch { want: String, got: String },
}

/// One joined value to write over the string tokens that currently hold it.
struct Job {
    spans: Vec<Span>,
    value: String,
}

pub(super) fn path_values(
    mk: &Metakernel,
    new_values: &[(String, String)],
) -> Result<Vec<u8>, RewriteError> {
    let symbols = mk.path_symbols();
    let mut expected: Vec<(String, String)> = Vec::new();
    for (symbol, value) in new_values {
        if !symbols.iter().any(|s| &s.name == symbol) {
            return Err(RewriteError::UnknownSymbol {
                symbol: symbol.clone(),
            });
        }
        match expected.iter().find(|(s, _)| s == symbol) {
            Some((_, v)) if v != value => {
                return Err(RewriteError::Conflict {
                    symbol: symbol.clone(),
                });
            }
            Some(_) => {}
            None => expected.push((symbol.clone(), value.clone())),
        }
    }
    let mut jobs = Vec::new();
    for s in &symbols {
        if let Some((_, value)) = expected.iter().find(|(name, _)| name == &s.name)
            && &s.value != value
        {
            jobs.push(Job {
                spans: s.value_spans.clone(),
                value: value.clone(),
            });
        }
    }
    if jobs.is_empty() {
        return Ok(mk.to_bytes());
    }
    let out = render(mk, jobs)?;
    let new = verify(mk, &out)?;
    let got = new.path_symbols();
    for (symbol, want) in expected {
        for s in got.iter().filter(|s| s.name == symbol) {
            if s.value != want {
                return Err(RewriteError::Mismatch {
                    want,
                    got: s.value.clone(),
                });
            }
        }
    }
    Ok(out)
}

pub(super) fn entries(
    mk: &Metakernel,
    f: impl Fn(&Entry) -> Option<String>,
) -> Result<Vec<u8>, RewriteError> {
    let entries = mk
        .entries()
        .map_err(|source| RewriteError::Unresolved { source })?;
    let mut jobs = Vec::new();
    let mut expected = Vec::with_capacity(entries.len());
    for e in &entries {
        match f(e) {
            Some(new) if new != e.raw => {
                jobs.push(Job {
                    spans: e.spans.clone(),
                    value: new.clone(),
                });
                expected.push(new);
            }
            _ => expected.push(e.raw.clone()),
        }
    }
    if jobs.is_empty() {
        return Ok(mk.to_bytes());
    }
    let out = render(mk, jobs)?;
    let new = verify(mk, &out)?;
    let got = new
        .entries()
        .map_err(|source| RewriteError::Invalid { source })?;
    if got.len() != expected.len() {
        return Err(RewriteError::Structure);
    }
    for (want, got) in expected.into_iter().zip(got.iter().map(|e| &e.raw)) {
        if &want != got {
            return Err(RewriteError::Mismatch {
                want,
                got: got.clone(),
            });
        }
    }
    Ok(out)
}

/// Parses the rewritten bytes, checks the assignments are the same ones and, when the
/// original resolved, that the new one does.
fn verify(old: &Metakernel, out: &[u8]) -> Result<Metakernel, RewriteError> {
    let new = Metakernel::parse(out).map_err(|source| RewriteError::Invalid { source })?;
    let shape = |mk: &Metakernel| -> Vec<(String, super::AssignOp, bool)> {
        mk.variables()
            .iter()
            .map(|a| (a.name.clone(), a.op, a.closed))
            .collect()
    };
    if shape(old) != shape(&new) {
        return Err(RewriteError::Structure);
    }
    if old.entries().is_ok() {
        new.entries()
            .map_err(|source| RewriteError::Invalid { source })?;
    }
    Ok(new)
}

fn check_value(value: &str) -> Result<(), RewriteError> {
    let fail = |reason| {
        Err(RewriteError::Unrepresentable {
            value: value.to_owned(),
            reason,
        })
    };
    if value.is_empty() {
        return fail("it is empty");
    }
    if value.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return fail("it contains a control character");
    }
    if value.ends_with(' ') {
        return fail("CSPICE drops trailing blanks");
    }
    if value.ends_with('+') {
        return fail("CSPICE reads a trailing `+` as a continuation mark");
    }
    if value.len() > MAX_PATH_LEN {
        return fail("CSPICE limits file names and paths to 255 bytes");
    }
    Ok(())
}

fn encoded_len(c: char) -> usize {
    if c == '\'' { 2 } else { c.len_utf8() }
}

fn quote(piece: &str, continued: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(piece.len() + 3);
    out.push(b'\'');
    for c in piece.chars() {
        if c == '\'' {
            out.extend_from_slice(b"''");
        } else {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    if continued {
        out.push(b'+');
    }
    out.push(b'\'');
    out
}

/// The longest prefix of `rest` (in chars) that fits `max_bytes` decoded and
/// `max_encoded` encoded bytes, leaving at least `keep` chars.
fn take(rest: &str, max_bytes: usize, max_encoded: usize, keep: usize) -> usize {
    let total = rest.chars().count();
    let mut bytes = 0;
    let mut encoded = 0;
    let mut end = 0;
    for (n, c) in rest.chars().enumerate() {
        if n + keep >= total
            || bytes + c.len_utf8() > max_bytes
            || encoded + encoded_len(c) > max_encoded
        {
            break;
        }
        bytes += c.len_utf8();
        encoded += encoded_len(c);
        end += c.len_utf8();
    }
    end
}

/// One token to replace, in file order.
struct Slot {
    span: Span,
    job: usize,
    last: bool,
}

/// Every token of every job, in file order.
fn slots_in_file_order(jobs: &[Job]) -> Vec<Slot> {
    let mut slots: Vec<Slot> = jobs
        .iter()
        .enumerate()
        .flat_map(|(k, j)| {
            let n = j.spans.len();
            j.spans.iter().enumerate().map(move |(i, &span)| Slot {
                span,
                job: k,
                last: i + 1 == n,
            })
        })
        .collect();
    slots.sort_by_key(|s| s.span.start);
    slots
}

/// Tokens of scalar assignments (by start offset), and whether each is its
/// assignment's only value.
fn scalar_tokens(mk: &Metakernel) -> HashMap<usize, bool> {
    mk.variables()
        .iter()
        .filter(|a| !a.vector)
        .flat_map(|a| {
            let alone = a.values.len() == 1;
            a.values.iter().map(move |v| (v.span.start, alone))
        })
        .collect()
}

/// Writes the output: the input with each job's tokens replaced.
///
/// Tokens are visited in file order while tracking the column the output has reached,
/// so several replaced tokens on one line lay out correctly. Every token of a job but the
/// last keeps one string ending in the `+` mark; the last token becomes as many strings as
/// needed, continued on new lines aligned under where it starts.
/// Writes `r` as strings continued with `+` over as many lines as it needs, the
/// continuation lines starting with `indent`; `col` is where the first string starts
/// and `after` the room the rest of its line needs.
fn write_continued(
    out: &mut Vec<u8>,
    mut r: &str,
    mut col: usize,
    after: usize,
    indent: &[u8],
    eol: &[u8],
) -> Result<(), &'static str> {
    loop {
        let encoded: usize = r.chars().map(encoded_len).sum();
        if r.len() <= MAX_STRING_LEN && col + 2 + encoded + after <= MAX_LINE_LEN {
            out.extend(quote(r, false));
            return Ok(());
        }
        let room = MAX_LINE_LEN.saturating_sub(col + 3);
        let n = take(r, MAX_STRING_LEN - 1, room, 1);
        if n == 0 && col == indent.len() {
            return Err("its line leaves no room for a continued string");
        }
        out.extend(quote(&r[..n], true));
        out.extend_from_slice(eol);
        out.extend_from_slice(indent);
        r = &r[n..];
        col = indent.len();
    }
}

fn render(mk: &Metakernel, jobs: Vec<Job>) -> Result<Vec<u8>, RewriteError> {
    let bytes = mk.as_bytes();
    let lines = mk.lines();
    for j in &jobs {
        check_value(&j.value)?;
    }
    let slots = slots_in_file_order(&jobs);
    let scalars = scalar_tokens(mk);
    let mut rest: Vec<&str> = jobs.iter().map(|j| j.value.as_str()).collect();
    let mut out = Vec::with_capacity(bytes.len() + 256);
    let mut at = 0;
    for (k, slot) in slots.iter().enumerate() {
        let value = &jobs[slot.job].value;
        let fail = |reason| RewriteError::Unrepresentable {
            value: value.clone(),
            reason,
        };
        out.extend_from_slice(&bytes[at..slot.span.start]);
        at = slot.span.end;
        let line = lines[lines
            .partition_point(|l| l.start <= slot.span.start)
            .saturating_sub(1)];
        let tail = &bytes[slot.span.end..line.end];
        // An unclosed string swallows the separators after it; closing it must not turn
        // them into structure.
        if !lex::is_closed_string(&bytes[slot.span.range()])
            && tail.iter().any(|b| matches!(b, b'(' | b')' | b'='))
        {
            return Err(fail(
                "its string is not closed and `(`, `)` or `=` follows it",
            ));
        }
        // Room the rest of the line needs: up to the next replaced token (which can shrink
        // to `'+'`), or to the last non-blank byte.
        let after = match slots.get(k + 1) {
            Some(next) if next.span.start < line.end => next.span.start - slot.span.end + 3,
            _ => tail
                .iter()
                .rposition(|&b| !lex::is_blank(b))
                .map_or(0, |i| i + 1),
        };
        let line_start = out
            .iter()
            .rposition(|&b| b == b'\n' || b == b'\r')
            .map_or(0, |i| i + 1);
        let col = out.len() - line_start;
        let r = rest[slot.job];
        if !slot.last {
            let room = MAX_LINE_LEN.saturating_sub(col + after + 3);
            let n = take(r, MAX_STRING_LEN - 1, room, 1);
            out.extend(quote(&r[..n], true));
            rest[slot.job] = &r[n..];
            continue;
        }
        // Continuation lines start under the token, keeping tabs so the alignment holds
        // in an editor, or at the line's own indentation when that leaves too little room.
        let scalar = scalars.get(&slot.span.start).copied();
        let mut wrap = false;
        if let Some(alone) = scalar {
            // A scalar assignment ends with its line: its strings stay on that line, or,
            // when it is the only value, the value becomes a parenthesised vector.
            if let Some(strings) = one_line(r, MAX_LINE_LEN.saturating_sub(col + after)) {
                out.extend(strings);
                rest[slot.job] = "";
                continue;
            }
            if !alone {
                return Err(fail("a scalar assignment cannot continue on the next line"));
            }
            wrap = true;
            out.extend_from_slice(b"( ");
        }
        let line_start_col = if wrap { col + 2 } else { col };
        let prefix: Vec<u8> = out[line_start..]
            .iter()
            .map(|&b| if b == b'\t' { b'\t' } else { b' ' })
            .collect();
        let indent: Vec<u8> = if line_start_col + 3 + 20 <= MAX_LINE_LEN {
            prefix
        } else {
            out[line_start..]
                .iter()
                .copied()
                .take_while(|&b| lex::is_blank(b))
                .collect()
        };
        let after = if wrap { after + 2 } else { after };
        let eol: &[u8] = if line.next > line.end {
            &bytes[line.end..line.next]
        } else {
            b"\n"
        };
        write_continued(&mut out, r, line_start_col, after, &indent, eol).map_err(fail)?;
        if wrap {
            out.extend_from_slice(b" )");
        }
        rest[slot.job] = "";
    }
    out.extend_from_slice(&bytes[at..]);
    Ok(out)
}

/// `value` as `+`-continued strings separated by blanks on one line, if they fit in
/// `room` bytes.
fn one_line(value: &str, room: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut r = value;
    loop {
        if r.len() <= MAX_STRING_LEN {
            out.extend(quote(r, false));
            break;
        }
        let n = take(r, MAX_STRING_LEN - 1, usize::MAX, 1);
        out.extend(quote(&r[..n], true));
        out.push(b' ');
        r = &r[n..];
    }
    (out.len() <= room).then_some(out)
}

/// Whether `out` is `orig` with each span in `spans` (sorted, non-overlapping)
/// replaced by one or more quoted strings separated by line breaks and blanks, and
/// nothing else changed: the minimal-edit property the rewriter promises, used by the
/// property and conformance tests to check it.
pub fn only_tokens_changed(orig: &[u8], out: &[u8], spans: &[Span]) -> bool {
    let mut spans = spans.to_vec();
    spans.sort();
    matches_from(orig, out, &spans, 0, 0)
}

/// Whether `out[p..]` is `orig[o..]` with `spans` replaced (backtracking over where each
/// replacement ends).
fn matches_from(orig: &[u8], out: &[u8], spans: &[Span], o: usize, p: usize) -> bool {
    let Some((s, rest)) = spans.split_first() else {
        return out.get(p..) == orig.get(o..);
    };
    let same = &orig[o..s.start];
    if out.get(p..p + same.len()) != Some(same) {
        return false;
    }
    let p = p + same.len();
    // The strings may be wrapped in `( ... )` (a scalar made a vector).
    strings_then(orig, out, rest, s.end, p, false)
        || (out[p..].starts_with(b"( ") && strings_then(orig, out, rest, s.end, p + 2, true))
}

/// One or more quoted strings separated by a line break and blanks, then the rest.
fn strings_then(
    orig: &[u8],
    out: &[u8],
    rest: &[Span],
    o: usize,
    mut p: usize,
    wrapped: bool,
) -> bool {
    loop {
        if out.get(p) != Some(&b'\'') {
            return false;
        }
        p += 1;
        loop {
            match out.get(p) {
                None | Some(b'\n') | Some(b'\r') => return false,
                Some(b'\'') if out.get(p + 1) == Some(&b'\'') => p += 2,
                Some(b'\'') => {
                    p += 1;
                    break;
                }
                Some(_) => p += 1,
            }
        }
        let done = if wrapped {
            out[p..].starts_with(b" )") && matches_from(orig, out, rest, o, p + 2)
        } else {
            matches_from(orig, out, rest, o, p)
        };
        if done {
            return true;
        }
        let mut q = p;
        if out.get(q) == Some(&b'\r') {
            q += 1;
        }
        if out.get(q) == Some(&b'\n') {
            q += 1;
        }
        if q == p {
            // Strings of a scalar stay on one line, separated by one blank.
            if out.get(q) != Some(&b' ') {
                return false;
            }
        }
        while out.get(q).is_some_and(|&b| b == b' ' || b == b'\t') {
            q += 1;
        }
        p = q;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_respects_limits_and_keeps_a_tail() {
        assert_eq!(take("abcdef", 79, 3, 1), 3);
        assert_eq!(take("abc", 79, 100, 1), 2);
        assert_eq!(take("a'b", 79, 2, 1), 1);
        assert_eq!(take("é", 79, 100, 0), 2);
        assert_eq!(take("éa", 1, 100, 0), 0);
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote("it's", false), b"'it''s'");
        assert_eq!(quote("", true), b"'+'");
    }
}
