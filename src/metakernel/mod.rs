//! SPICE metakernels (`.tm`): a lossless parser, the load list CSPICE's `FURNSH` would
//! build from it, and a minimal-edit rewriter.
//!
//! This module owns the text-kernel syntax and nothing else: it is pure (bytes in, values
//! out) apart from the thin [`read`] wrapper. CSPICE N0067 (as bundled by SpiceyPy) is the
//! reference; every rule below was observed by loading files into it
//! (`tests/cspice/oracle.py`; findings and limits in `docs/metakernels.md`). Positions
//! are 1-based lines (CRLF counts once) and 1-based byte columns.
//!
//! # Syntax rules
//!
//! - **Lines.** LF, CRLF and a lone CR each end a line. CSPICE never reads a last line
//!   that has no terminator, so it is ignored here too (warned when it matters).
//! - **Blocks.** Text before the first `\begindata` is comment. A line is a marker when,
//!   after trimming blanks and tabs on both sides, it is exactly `\begindata` or
//!   `\begintext` (case-sensitive; CSPICE looks at the first 132 bytes of a line, 80 for
//!   the first line). Markers switch between data and comment blocks; there may be any
//!   number of each and a file may end inside a data block. Everything else in a comment
//!   block, quoted paths and mid-line `\begindata` included, is ignored.
//! - **Data lines.** CSPICE reads the first 132 bytes of a data line and silently drops
//!   the rest, so non-blank text after column 132 is rejected. Blank lines are skipped,
//!   tabs are blanks, commas are blanks. Control characters and invalid UTF-8 are rejected
//!   in data blocks (CSPICE would, for instance, open a file name cut at a NUL).
//! - **Assignments.** `NAME = value`, `NAME = ( v1 v2 ... )`, `NAME += ...` for any name
//!   of at most 32 bytes (case-sensitive). The name, the operator and the first value (or
//!   `(`) must share a line. A vector then runs until its `)`, across lines and even across
//!   comment blocks; text after the `)` on its line is ignored (warned). A scalar takes
//!   every token left on its line. A vector left open at the end of the file keeps its
//!   values, but `FURNSH` is not told about that assignment (warned).
//! - **Values.** A variable holds strings or numbers, never both (`+=` included). Strings
//!   are quoted with `'`, `''` is a quote, `''` alone is an error. A string whose closing
//!   quote is missing runs to the last non-blank character of its line (warned; real PDS
//!   metakernels rely on it). Numbers follow `NPARSD` (`1.5D3`, `-2`, `+1E5`, `PI`);
//!   `@`-dates are kept but not validated.
//! - **`FURNSH` variables** (`KERNELS_TO_LOAD`, `PATH_SYMBOLS`, `PATH_VALUES`, exact upper
//!   case, strings only). A string longer than 80 bytes is rejected (CSPICE silently
//!   truncates it). In `KERNELS_TO_LOAD` and `PATH_VALUES` a string whose last non-blank
//!   character is `+` continues into the next string, across lines and assignments;
//!   `PATH_SYMBOLS` are never joined. Trailing blanks of a value are dropped, leading
//!   blanks kept. A joined file name, a joined path value and a substituted file name are
//!   limited to 255 bytes; a blank file name is an error.
//! - **Symbols.** `PATH_SYMBOLS` and `PATH_VALUES` pair by position and must be as many.
//!   Each `$` in an entry is replaced by the value of the longest symbol matching the bytes
//!   after it (case-sensitive and without a word boundary: with only `KERNELS` defined,
//!   `$KERNELS_DATA` is the value of `KERNELS` followed by `_DATA`, which is warned). A `$`
//!   followed by a name character that matches no symbol is an error, never a partial
//!   substitution.
//!
//! # Invariants
//!
//! - [`Metakernel::to_bytes`] returns the input byte for byte: the parse keeps the input
//!   and refers to it by [`Span`]s.
//! - The rewriter changes bytes only inside the string tokens it replaces (a long value
//!   becomes `+`-continued strings on new lines; a lone scalar value may become a
//!   parenthesised vector). Rewriting with the current values returns the input
//!   unchanged. Every rewrite is parsed back and checked to read as intended.

pub mod edit;
mod lex;
mod number;
mod resolve;
mod rewrite;

use std::collections::HashMap;
use std::fmt;

use lex::{Marker, TokenKind};

pub use rewrite::{RewriteError, only_tokens_changed};

/// A metakernel read from somewhere, with where it came from (a path or a URL) and
/// its entries in load order.
pub struct Loaded {
    pub origin: String,
    pub mk: Metakernel,
    pub entries: Vec<Entry>,
}

/// Longest string value CSPICE stores in its kernel pool; longer ones are truncated.
pub const MAX_STRING_LEN: usize = 80;
/// Bytes of a data line CSPICE reads; the rest of the line is dropped.
pub const MAX_LINE_LEN: usize = lex::LINE_LIMIT;
/// Longest file name or path value `FURNSH` accepts.
pub const MAX_PATH_LEN: usize = 255;
/// Longest variable name CSPICE accepts.
pub const MAX_NAME_LEN: usize = 32;

/// The variable `FURNSH` reads the load list from.
pub const KERNELS_TO_LOAD: &str = "KERNELS_TO_LOAD";
/// The variable naming the path symbols.
pub const PATH_SYMBOLS: &str = "PATH_SYMBOLS";
/// The variable holding the values of the path symbols.
pub const PATH_VALUES: &str = "PATH_VALUES";

/// A byte range `[start, end)` in the metakernel's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn range(self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

/// `=` or `+=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignOp {
    Assign,
    Append,
}

/// What a value is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueKind {
    /// A quoted string; [`Value::text`] is decoded (`''` → `'`, tab → blank).
    String,
    /// A number as CSPICE parses it.
    Number(f64),
    /// An `@`-date; [`Value::text`] is the token as written, `@` included.
    Date,
}

/// One value of an assignment.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: ValueKind,
    /// The decoded string, or the token as written for numbers and dates.
    pub text: String,
    /// The token, quotes included.
    pub span: Span,
    pub line: usize,
    pub column: usize,
}

/// One assignment in a data block, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub name: String,
    pub op: AssignOp,
    pub values: Vec<Value>,
    pub name_span: Span,
    /// Position of the name.
    pub line: usize,
    pub column: usize,
    /// Whether the values are in parentheses. A scalar assignment takes every token
    /// left on its line and nothing from the next lines.
    pub vector: bool,
    /// False when the file ended inside the vector. CSPICE keeps the values read so far
    /// but does not notify `FURNSH` of the assignment.
    pub closed: bool,
}

/// One kernel `FURNSH` would load, in load order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name as written, continuation joined, before symbol substitution.
    pub raw: String,
    /// The file name `FURNSH` opens, after symbol substitution.
    pub path: String,
    /// Position of the first string token of the entry.
    pub line: usize,
    pub column: usize,
    /// The string tokens the entry was joined from, quotes included.
    pub spans: Vec<Span>,
}

/// A `PATH_SYMBOLS` name paired with its `PATH_VALUES` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathSymbol {
    pub name: String,
    /// The value, continuation joined.
    pub value: String,
    /// The `PATH_SYMBOLS` string token.
    pub name_span: Span,
    /// The `PATH_VALUES` string tokens the value was joined from.
    pub value_spans: Vec<Span>,
    /// Position of the first value token.
    pub line: usize,
    pub column: usize,
}

/// Something CSPICE accepts that probably does not do what the author meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub column: usize,
    pub kind: WarningKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningKind {
    /// The first line is not `KPL/MK`.
    NoHeader,
    /// A file name contains `\`, which CSPICE on Unix keeps as a literal character.
    Backslash { path: String },
    /// A symbol was substituted although a name character follows it.
    PrefixSymbol { symbol: String, raw: String },
    /// A `$` not followed by a name is kept as is.
    LiteralDollar { raw: String },
    /// Text after a vector's `)` on the same line, which CSPICE ignores.
    IgnoredAfterParen,
    /// A string without its closing quote, which CSPICE reads up to the last non-blank
    /// character of the token.
    UnterminatedString,
    /// The file ends inside a vector.
    UnclosedVector { name: String },
    /// The last line has no line terminator, so CSPICE never reads it.
    UnterminatedLastLine,
    /// A string longer than CSPICE keeps, in a variable `FURNSH` does not use.
    LongString { name: String, len: usize },
    /// A variable whose name differs from a `FURNSH` variable only by case.
    CaseMismatch {
        name: String,
        expected: &'static str,
    },
    /// A `FURNSH` variable holding numbers, which `FURNSH` ignores.
    NotStrings { name: String },
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoHeader => write!(f, "no `KPL/MK` header on the first line"),
            Self::Backslash { path } => write!(
                f,
                "`{path}` contains `\\`, which CSPICE on Unix keeps as part of the name"
            ),
            Self::PrefixSymbol { symbol, raw } => write!(
                f,
                "`${symbol}` is substituted in `{raw}` although a name character follows it"
            ),
            Self::LiteralDollar { raw } => {
                write!(f, "`$` without a symbol name is kept as is in `{raw}`")
            }
            Self::IgnoredAfterParen => write!(f, "text after `)` on this line is ignored"),
            Self::UnterminatedString => write!(
                f,
                "the string has no closing `'`; CSPICE reads it up to its last non-blank character"
            ),
            Self::UnclosedVector { name } => write!(
                f,
                "the file ends before the `)` closing `{name}`; FURNSH does not see this assignment"
            ),
            Self::UnterminatedLastLine => write!(
                f,
                "the last line has no line terminator and is ignored by CSPICE"
            ),
            Self::LongString { name, len } => write!(
                f,
                "a `{name}` string has {len} bytes; CSPICE keeps only the first {MAX_STRING_LEN}"
            ),
            Self::CaseMismatch { name, expected } => write!(
                f,
                "`{name}` is ignored by FURNSH: variable names are case-sensitive (`{expected}`)"
            ),
            Self::NotStrings { name } => {
                write!(f, "`{name}` holds numbers and is ignored by FURNSH")
            }
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.kind
        )
    }
}

/// A metakernel CSPICE would reject, or that `kdb` refuses because CSPICE would read it
/// differently from how it looks.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub kind: ParseErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error(
        "expected `NAME = value` or `NAME += value` with the first value or `(` on the same line, found `{found}`"
    )]
    BadAssignment { found: String },
    #[error("expected `=` or `+=` after the variable name, found `{found}`")]
    ExpectedOperator { found: String },
    #[error("expected a variable name of at most {MAX_NAME_LEN} bytes, found {len} bytes")]
    NameTooLong { len: usize },
    #[error("expected a value or `(` after the operator, found `{found}`")]
    ExpectedValue { found: String },
    #[error("expected a quoted string (`{name}` holds strings), found `{found}`")]
    ExpectedString { name: String, found: String },
    #[error("expected a number or an `@`-date (`{name}` holds numbers), found `{found}`")]
    ExpectedNumber { name: String, found: String },
    #[error("expected at least one character between the quotes")]
    EmptyString,
    #[error("expected a number such as `1.5D3`, found `{found}`")]
    BadNumber { found: String },
    #[error("expected a date after `@`")]
    BadDate,
    #[error("expected at least one value for `{name}`")]
    NoValues { name: String },
    #[error(
        "expected at most {MAX_LINE_LEN} bytes on a data line, found text after column {MAX_LINE_LEN} (CSPICE ignores it)"
    )]
    LineTooLong,
    #[error("expected printable text in a data block, found control character 0x{byte:02x}")]
    ControlCharacter { byte: u8 },
    #[error("expected UTF-8 text in a data block")]
    InvalidUtf8,
    #[error(
        "expected a `{name}` string of at most {MAX_STRING_LEN} bytes, found {len} bytes (CSPICE would truncate it)"
    )]
    StringTooLong { name: String, len: usize },
    #[error("expected a file name of at most {MAX_PATH_LEN} bytes, found {len} bytes")]
    EntryTooLong { len: usize },
    #[error("expected a path value of at most {MAX_PATH_LEN} bytes, found {len} bytes")]
    PathValueTooLong { len: usize },
    #[error("expected a file name, found a blank string")]
    BlankEntry,
    #[error(
        "expected as many PATH_VALUES as PATH_SYMBOLS, found {symbols} symbols and {values} values"
    )]
    PathMismatch { symbols: usize, values: usize },
    #[error("undefined path symbol `${symbol}`{}", hint_text(hint))]
    UndefinedSymbol {
        symbol: String,
        hint: Option<String>,
    },
}

fn hint_text(hint: &Option<String>) -> String {
    match hint {
        Some(h) => format!(" ({h})"),
        None => String::new(),
    }
}

/// A parsed metakernel. It keeps the input bytes; everything else refers to them by span.
#[derive(Debug, Clone)]
pub struct Metakernel {
    bytes: Vec<u8>,
    lines: Vec<lex::Line>,
    assignments: Vec<Assignment>,
    warnings: Vec<Warning>,
}

impl Metakernel {
    /// Parses a metakernel (any text kernel, in fact) as CSPICE's `LDPOOL` reads it.
    pub fn parse(bytes: &[u8]) -> Result<Metakernel, ParseError> {
        let lines = lex::split_lines(bytes);
        let (assignments, warnings) = Parser::new(bytes, &lines).run()?;
        Ok(Metakernel {
            bytes: bytes.to_vec(),
            lines,
            assignments,
            warnings,
        })
    }

    /// The input, byte for byte.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    /// The input, byte for byte.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Every assignment of every variable, in file order.
    pub fn variables(&self) -> &[Assignment] {
        &self.assignments
    }

    /// The values `name` ends up with after every `=` and `+=`, or `None` when the file
    /// never assigns it.
    pub fn values(&self, name: &str) -> Option<Vec<&Value>> {
        let mut found = false;
        let mut values = Vec::new();
        for a in self.assignments.iter().filter(|a| a.name == name) {
            found = true;
            if a.op == AssignOp::Assign {
                values.clear();
            }
            values.extend(a.values.iter());
        }
        found.then_some(values)
    }

    /// `PATH_SYMBOLS` paired by position with the continuation-joined `PATH_VALUES`.
    /// Unpaired trailing symbols or values are left out; [`Metakernel::entries`] reports
    /// the mismatch.
    pub fn path_symbols(&self) -> Vec<PathSymbol> {
        resolve::path_symbols(self)
    }

    /// The file names `FURNSH` would load, in order, after `=`/`+=`, continuation and
    /// symbol substitution.
    pub fn entries(&self) -> Result<Vec<Entry>, ParseError> {
        resolve::entries(self)
    }

    /// Replaces the `PATH_VALUES` of the given symbols, changing nothing else.
    pub fn rewrite_path_values(
        &self,
        new_values: &[(String, String)],
    ) -> Result<Vec<u8>, RewriteError> {
        rewrite::path_values(self, new_values)
    }

    /// Replaces the strings of the entries for which `f` returns a new file name
    /// (written as is: a `$` in it is still substituted by CSPICE), changing nothing
    /// else. Meant for metakernels without `PATH_SYMBOLS` that list relative paths.
    pub fn rewrite_entries(
        &self,
        f: impl Fn(&Entry) -> Option<String>,
    ) -> Result<Vec<u8>, RewriteError> {
        rewrite::entries(self, f)
    }

    /// Things CSPICE accepts that are probably mistakes, in file order.
    pub fn warnings(&self) -> Vec<Warning> {
        let mut all = self.warnings.clone();
        if let Ok((_, more)) = resolve::entries_with_warnings(self) {
            all.extend(more);
        }
        all.sort_by_key(|w| (w.line, w.column));
        all
    }

    /// 1-based line and byte column of a byte offset.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        position(&self.lines, offset)
    }

    pub(crate) fn lines(&self) -> &[lex::Line] {
        &self.lines
    }
}

fn position(lines: &[lex::Line], offset: usize) -> (usize, usize) {
    let idx = lines
        .partition_point(|l| l.start <= offset)
        .saturating_sub(1);
    match lines.get(idx) {
        Some(l) => (l.number, offset - l.start + 1),
        None => (1, offset + 1),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueType {
    String,
    Number,
}

/// Reads assignments the way `ZZRVAR` does, one data line at a time.
struct Parser<'a> {
    bytes: &'a [u8],
    lines: &'a [lex::Line],
    next_line: usize,
    in_data: bool,
    warnings: Vec<Warning>,
}

impl<'a> Parser<'a> {
    fn new(bytes: &'a [u8], lines: &'a [lex::Line]) -> Self {
        // `RDKNEW` reads the first line only to see whether it is `\begindata`.
        let in_data = lines.first().is_some_and(|l| {
            l.terminated()
                && lex::marker(&bytes[l.start..l.end], lex::FIRST_LINE_LIMIT)
                    == Some(Marker::BeginData)
        });
        Parser {
            bytes,
            lines,
            next_line: 1,
            in_data,
            warnings: Vec::new(),
        }
    }

    fn error(&self, offset: usize, kind: ParseErrorKind) -> ParseError {
        let (line, column) = position(self.lines, offset);
        ParseError { line, column, kind }
    }

    fn warn(&mut self, offset: usize, kind: WarningKind) {
        let (line, column) = position(self.lines, offset);
        self.warnings.push(Warning { line, column, kind });
    }

    fn text(&self, span: (usize, usize)) -> String {
        String::from_utf8_lossy(&self.bytes[span.0..span.1]).into_owned()
    }

    fn found(&self, tok: &lex::Token) -> String {
        let mut s = self.text((tok.start, tok.end));
        if s.len() > 40 {
            let cut = (0..=40).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
            s.truncate(cut);
            s.push('…');
        }
        s
    }

    /// The next non-blank data line, as `RDKDAT` returns it, or `None` at the end.
    fn next_data_line(&mut self) -> Result<Option<lex::Line>, ParseError> {
        while let Some(&line) = self.lines.get(self.next_line) {
            self.next_line += 1;
            let content = &self.bytes[line.start..line.end];
            if !line.terminated() {
                // Only data CSPICE would have read is lost: a last `\begintext` (or a
                // comment line) without a terminator changes nothing.
                let relevant = self.in_data && lex::marker(content, MAX_LINE_LEN).is_none();
                if relevant && !content.iter().all(|&b| lex::is_blank(b)) {
                    self.warn(line.start, WarningKind::UnterminatedLastLine);
                }
                return Ok(None);
            }
            match lex::marker(content, MAX_LINE_LEN) {
                Some(Marker::BeginData) => {
                    self.in_data = true;
                    continue;
                }
                Some(Marker::BeginText) => {
                    self.in_data = false;
                    continue;
                }
                None => {}
            }
            if !self.in_data {
                continue;
            }
            let seen = &content[..content.len().min(MAX_LINE_LEN)];
            if let Some(i) = content[seen.len()..]
                .iter()
                .position(|&b| !lex::is_blank(b))
            {
                return Err(self.error(line.start + seen.len() + i, ParseErrorKind::LineTooLong));
            }
            if seen.iter().all(|&b| lex::is_blank(b)) {
                continue;
            }
            if let Some(i) = seen
                .iter()
                .position(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
            {
                return Err(self.error(
                    line.start + i,
                    ParseErrorKind::ControlCharacter { byte: seen[i] },
                ));
            }
            if let Err(e) = std::str::from_utf8(seen) {
                return Err(self.error(line.start + e.valid_up_to(), ParseErrorKind::InvalidUtf8));
            }
            return Ok(Some(line));
        }
        Ok(None)
    }

    fn tokens(&self, line: lex::Line) -> Vec<lex::Token> {
        let end = line.end.min(line.start + MAX_LINE_LEN);
        lex::tokenize(&self.bytes[line.start..end], line.start)
    }

    fn run(mut self) -> Result<(Vec<Assignment>, Vec<Warning>), ParseError> {
        self.check_header();
        let mut types: HashMap<String, ValueType> = HashMap::new();
        let mut assignments = Vec::new();
        while let Some(line) = self.next_data_line()? {
            let toks = self.tokens(line);
            let first = self.bytes[line.start..line.end]
                .iter()
                .position(|&b| !lex::is_blank(b))
                .unwrap_or(0);
            if toks.len() < 3 {
                let found = self
                    .text((line.start + first, line.end))
                    .trim_end()
                    .to_owned();
                return Err(self.error(line.start + first, ParseErrorKind::BadAssignment { found }));
            }
            let name_tok = toks[0];
            let name = self.text((name_tok.start, name_tok.end));
            if name.len() > MAX_NAME_LEN {
                return Err(self.error(
                    name_tok.start,
                    ParseErrorKind::NameTooLong { len: name.len() },
                ));
            }
            let op = match toks[1].kind {
                TokenKind::Eq => AssignOp::Assign,
                TokenKind::PlusEq => AssignOp::Append,
                _ => {
                    let found = self.found(&toks[1]);
                    return Err(
                        self.error(toks[1].start, ParseErrorKind::ExpectedOperator { found })
                    );
                }
            };
            let mut vtype = match op {
                AssignOp::Assign => None,
                AssignOp::Append => types.get(&name).copied(),
            };
            let vector = toks[2].kind == TokenKind::LParen;
            let mut pending: Vec<lex::Token> = toks[if vector { 3 } else { 2 }..].to_vec();
            let mut values = Vec::new();
            let mut closed = false;
            let mut last_offset = toks[1].start;
            loop {
                for (k, tok) in pending.iter().enumerate() {
                    if tok.kind == TokenKind::RParen {
                        closed = true;
                        last_offset = tok.start;
                        if let Some(after) = pending.get(k + 1) {
                            self.warn(after.start, WarningKind::IgnoredAfterParen);
                        }
                        break;
                    }
                    values.push(self.value(tok, &name, &mut vtype)?);
                    if matches!(tok.kind, TokenKind::Quoted { closed: false }) {
                        self.warn(tok.start, WarningKind::UnterminatedString);
                    }
                    last_offset = tok.start;
                }
                if closed || !vector {
                    closed = true;
                    break;
                }
                match self.next_data_line()? {
                    Some(next) => pending = self.tokens(next),
                    None => break,
                }
            }
            if values.is_empty() {
                return Err(self.error(last_offset, ParseErrorKind::NoValues { name }));
            }
            if !closed {
                self.warn(
                    name_tok.start,
                    WarningKind::UnclosedVector { name: name.clone() },
                );
            }
            if let Some(t) = vtype {
                types.insert(name.clone(), t);
            }
            let (l, c) = position(self.lines, name_tok.start);
            self.check_furnsh_variable(&name, &values, name_tok.start);
            assignments.push(Assignment {
                name,
                op,
                values,
                name_span: Span {
                    start: name_tok.start,
                    end: name_tok.end,
                },
                line: l,
                column: c,
                vector,
                closed,
            });
        }
        Ok((assignments, self.warnings))
    }

    fn check_header(&mut self) {
        let first = self
            .lines
            .first()
            .map(|l| &self.bytes[l.start..l.end])
            .unwrap_or_default();
        let trimmed: Vec<u8> = first
            .iter()
            .copied()
            .skip_while(|&b| lex::is_blank(b))
            .collect();
        if !trimmed.starts_with(b"KPL/MK") {
            self.warnings.push(Warning {
                line: 1,
                column: 1,
                kind: WarningKind::NoHeader,
            });
        }
    }

    fn check_furnsh_variable(&mut self, name: &str, values: &[Value], offset: usize) {
        let furnsh = [KERNELS_TO_LOAD, PATH_SYMBOLS, PATH_VALUES];
        if let Some(expected) = furnsh
            .iter()
            .find(|v| **v != name && v.eq_ignore_ascii_case(name))
        {
            self.warn(
                offset,
                WarningKind::CaseMismatch {
                    name: name.to_owned(),
                    expected,
                },
            );
        }
        let is_furnsh = furnsh.contains(&name);
        for v in values {
            if is_furnsh && v.kind != ValueKind::String {
                self.warn(
                    offset,
                    WarningKind::NotStrings {
                        name: name.to_owned(),
                    },
                );
                break;
            }
            if !is_furnsh && v.kind == ValueKind::String && v.text.len() > MAX_STRING_LEN {
                self.warn(
                    v.span.start,
                    WarningKind::LongString {
                        name: name.to_owned(),
                        len: v.text.len(),
                    },
                );
            }
        }
    }

    fn value(
        &self,
        tok: &lex::Token,
        name: &str,
        vtype: &mut Option<ValueType>,
    ) -> Result<Value, ParseError> {
        let ty = match *vtype {
            Some(t) => t,
            None => match tok.kind {
                TokenKind::Quoted { .. } => ValueType::String,
                TokenKind::Bare => ValueType::Number,
                _ => {
                    let found = self.found(tok);
                    return Err(self.error(tok.start, ParseErrorKind::ExpectedValue { found }));
                }
            },
        };
        *vtype = Some(ty);
        let raw = &self.bytes[tok.start..tok.end];
        let span = Span {
            start: tok.start,
            end: tok.end,
        };
        let (line, column) = position(self.lines, tok.start);
        match ty {
            ValueType::String => {
                let TokenKind::Quoted { .. } = tok.kind else {
                    let found = self.found(tok);
                    return Err(self.error(
                        tok.start,
                        ParseErrorKind::ExpectedString {
                            name: name.to_owned(),
                            found,
                        },
                    ));
                };
                // `ZZRVAR` checks emptiness before anything else, so `'x` (one character
                // after an unclosed quote) is "empty" to CSPICE as well.
                if raw.len() <= 2 {
                    return Err(self.error(tok.start, ParseErrorKind::EmptyString));
                }
                let decoded = lex::decode_string(raw)
                    .into_iter()
                    .map(|(b, _)| b)
                    .collect();
                let text = String::from_utf8(decoded)
                    .map_err(|_| self.error(tok.start, ParseErrorKind::InvalidUtf8))?;
                Ok(Value {
                    kind: ValueKind::String,
                    text,
                    span,
                    line,
                    column,
                })
            }
            ValueType::Number => {
                if tok.kind != TokenKind::Bare {
                    let found = self.found(tok);
                    return Err(self.error(
                        tok.start,
                        ParseErrorKind::ExpectedNumber {
                            name: name.to_owned(),
                            found,
                        },
                    ));
                }
                let text = self.text((tok.start, tok.end));
                let kind = if text.starts_with('@') {
                    if text.len() == 1 {
                        return Err(self.error(tok.start, ParseErrorKind::BadDate));
                    }
                    ValueKind::Date
                } else {
                    match number::parse(&text) {
                        Some(v) => ValueKind::Number(v),
                        None => {
                            let found = self.found(tok);
                            return Err(self.error(tok.start, ParseErrorKind::BadNumber { found }));
                        }
                    }
                };
                Ok(Value {
                    kind,
                    text,
                    span,
                    line,
                    column,
                })
            }
        }
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
