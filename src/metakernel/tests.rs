//! Unit tests on byte inputs, one rule at a time. The expected behaviour of each was
//! observed in CSPICE N0067 (see `docs/metakernels.md`).

use super::*;

fn mk(text: &str) -> Metakernel {
    Metakernel::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn paths(text: &str) -> Vec<String> {
    mk(text)
        .entries()
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .into_iter()
        .map(|e| e.path)
        .collect()
}

fn parse_err(text: &str) -> ParseError {
    match Metakernel::parse(text.as_bytes()) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

fn entries_err(text: &str) -> ParseError {
    match mk(text).entries() {
        Ok(e) => panic!("accepted: {e:?}\n{text}"),
        Err(e) => e,
    }
}

fn kinds(m: &Metakernel) -> Vec<WarningKind> {
    m.warnings().into_iter().map(|w| w.kind).collect()
}

const H: &str = "KPL/MK\n\\begindata\n";

#[test]
fn plain_list_with_symbol() {
    let text = "KPL/MK\n\\begindata\nPATH_SYMBOLS = ( 'KERNELS' )\nPATH_VALUES = ( '..' )\nKERNELS_TO_LOAD = ( '$KERNELS/lsk/naif0012.tls'\n  '$KERNELS/spk/de440s.bsp' )\n\\begintext\n";
    let m = mk(text);
    let e = m.entries().unwrap();
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].raw, "$KERNELS/lsk/naif0012.tls");
    assert_eq!(e[0].path, "../lsk/naif0012.tls");
    assert_eq!((e[0].line, e[0].column), (5, 21));
    assert_eq!((e[1].line, e[1].column), (6, 3));
    assert_eq!(&text[e[1].spans[0].range()], "'$KERNELS/spk/de440s.bsp'");
    let ps = m.path_symbols();
    assert_eq!(ps.len(), 1);
    assert_eq!(
        (ps[0].name.as_str(), ps[0].value.as_str()),
        ("KERNELS", "..")
    );
    assert_eq!(&text[ps[0].value_spans[0].range()], "'..'");
    assert_eq!(&text[ps[0].name_span.range()], "'KERNELS'");
    assert!(kinds(&m).is_empty());
    assert_eq!(m.to_bytes(), text.as_bytes());
}

#[test]
fn plus_continuation_joins_strings() {
    let got = paths(&format!(
        "{H}KERNELS_TO_LOAD = ( 'ab+' 'cd' 'ef +' 'gh' ' ij+  ' 'kl' 'd++' 'e' '+' 'f' 'mn+' )\n"
    ));
    assert_eq!(got, ["abcd", "ef gh", " ijkl", "d+e", "f", "mn"]);
}

#[test]
fn continuation_spans_lines_and_assignments() {
    let text = format!(
        "{H}KERNELS_TO_LOAD = ( 'a+'\n   'b.bsp' )\nKERNELS_TO_LOAD += ( 'c+' )\nKERNELS_TO_LOAD += 'd'\n"
    );
    let m = mk(&text);
    let e = m.entries().unwrap();
    assert_eq!(
        e.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
        ["ab.bsp", "cd"]
    );
    assert_eq!(e[0].spans.len(), 2);
    assert_eq!(e[1].spans.len(), 2);
}

#[test]
fn path_values_join_but_path_symbols_do_not() {
    let got = paths(&format!(
        "{H}PATH_SYMBOLS = ( 'A+' 'B' )\nPATH_VALUES = ( 'd+' '/e' 'x' )\nKERNELS_TO_LOAD = ( '$A+/k.bsp' '$B/k.bsp' )\n"
    ));
    assert_eq!(got, ["d/e/k.bsp", "x/k.bsp"]);
}

#[test]
fn dangling_plus_on_the_last_entry_is_blank() {
    let e = entries_err(&format!("{H}KERNELS_TO_LOAD = ( 'a.tf' '+' )\n"));
    assert_eq!(e.kind, ParseErrorKind::BlankEntry);
    let e = entries_err(&format!("{H}KERNELS_TO_LOAD = ( 'a.tf' ' ' 'b.tf' )\n"));
    assert_eq!(e.kind, ParseErrorKind::BlankEntry);
}

#[test]
fn append_and_reassign() {
    let got = paths(&format!(
        "{H}KERNELS_TO_LOAD = ( 'a' )\nKERNELS_TO_LOAD += 'b'\nKERNELS_TO_LOAD = 'c'\nKERNELS_TO_LOAD += ( 'd', 'e', )\n"
    ));
    assert_eq!(got, ["c", "d", "e"]);
    let m = mk(&format!("{H}A+=1\nA += 2\n"));
    let ops: Vec<_> = m.variables().iter().map(|a| a.op).collect();
    assert_eq!(ops, [AssignOp::Append, AssignOp::Append]);
}

#[test]
fn doubled_quotes_are_one_quote() {
    let got = paths(&format!("{H}KERNELS_TO_LOAD = ( 'it''s.tf' '''q''' )\n"));
    assert_eq!(got, ["it's.tf", "'q'"]);
}

#[test]
fn longest_symbol_wins_and_prefixes_substitute() {
    let text = format!(
        "{H}PATH_SYMBOLS = ( 'K' 'K_D' 'KERNELS' )\nPATH_VALUES = ( 'd' 'zz' 'kk' )\nKERNELS_TO_LOAD = ( '$K/x' '$K_D/x' '$KERNELS/x' '$KERNELSX' )\n"
    );
    assert_eq!(paths(&text), ["d/x", "zz/x", "kk/x", "kkX"]);
    let w = kinds(&mk(&text));
    assert_eq!(
        w,
        [WarningKind::PrefixSymbol {
            symbol: "KERNELS".into(),
            raw: "$KERNELSX".into()
        }]
    );
    // With only the short symbol, CSPICE substitutes it: there is no word boundary.
    assert_eq!(
        paths(&format!(
            "{H}PATH_SYMBOLS = 'K'\nPATH_VALUES = 'd'\nKERNELS_TO_LOAD = '$K_D/x'\n"
        )),
        ["d_D/x"]
    );
}

#[test]
fn three_symbols_and_several_dollars() {
    let text = format!(
        "{H}PATH_SYMBOLS = ( 'LSK' 'SPK' 'PCK' )\nPATH_VALUES = ( './lsk' './spk' './pck' )\nKERNELS_TO_LOAD = ( '$LSK/naif0008.tls' '$SPK/de405s.bsp' '$PCK/pck00008.tpc' '$LSK/$SPK' )\n"
    );
    assert_eq!(
        paths(&text),
        [
            "./lsk/naif0008.tls",
            "./spk/de405s.bsp",
            "./pck/pck00008.tpc",
            "./lsk/./spk"
        ]
    );
}

#[test]
fn substitution_rescans_inside_values_after_the_dollar() {
    // `KEEPER` resumes one byte after the `$`, inside the value it just inserted.
    let text = format!(
        "{H}PATH_SYMBOLS = ( 'A' 'B' )\nPATH_VALUES = ( 'd/$B' 'x.tf' )\nKERNELS_TO_LOAD = ( '$A' )\n"
    );
    assert_eq!(paths(&text), ["d/x.tf"]);
    let text = format!(
        "{H}PATH_SYMBOLS = ( 'A' 'B' )\nPATH_VALUES = ( '$B' 'x.tf' )\nKERNELS_TO_LOAD = ( 'd/$A' )\n"
    );
    assert_eq!(paths(&text), ["d/$B"]);
}

#[test]
fn symbols_are_case_sensitive() {
    let e = entries_err(&format!(
        "{H}PATH_SYMBOLS = 'K'\nPATH_VALUES = 'd'\nKERNELS_TO_LOAD = ( 'a' '$k/x.tf' )\n"
    ));
    assert_eq!(
        e.kind,
        ParseErrorKind::UndefinedSymbol {
            symbol: "k".into(),
            hint: Some("symbols are case-sensitive; did you mean `$K`?".into())
        }
    );
    assert_eq!((e.line, e.column), (5, 26));
    assert_eq!(
        paths(&format!(
            "{H}PATH_SYMBOLS = 'k'\nPATH_VALUES = 'd'\nKERNELS_TO_LOAD = '$k/x.tf'\n"
        )),
        ["d/x.tf"]
    );
}

#[test]
fn undefined_symbol_is_an_error_naming_it() {
    let e = entries_err(&format!(
        "{H}PATH_SYMBOLS = ( 'KERNELS' )\nPATH_VALUES = ( '..' )\nKERNELS_TO_LOAD = ( '$KERNELS/a.bsp'\n                    '$DATA/b.bsp' )\n"
    ));
    assert_eq!((e.line, e.column), (6, 22));
    assert_eq!(
        e.to_string(),
        "line 6, column 22: undefined path symbol `$DATA`"
    );
    let e = entries_err(&format!("{H}KERNELS_TO_LOAD = ( '$DATA/b.bsp' )\n"));
    assert!(e.to_string().contains("defines no PATH_SYMBOLS"), "{e}");
}

#[test]
fn a_dollar_without_a_name_is_literal() {
    let text =
        format!("{H}PATH_SYMBOLS = 'A'\nPATH_VALUES = 'd'\nKERNELS_TO_LOAD = ( 'a.tf$' '$/x' )\n");
    assert_eq!(paths(&text), ["a.tf$", "$/x"]);
    assert!(matches!(
        kinds(&mk(&text))[0],
        WarningKind::LiteralDollar { .. }
    ));
}

#[test]
fn symbol_and_value_counts_must_match() {
    let e = entries_err(&format!(
        "{H}PATH_SYMBOLS = ( 'A' 'B' )\nPATH_VALUES = ( 'd' )\nKERNELS_TO_LOAD = '$A/x'\n"
    ));
    assert_eq!(
        e.kind,
        ParseErrorKind::PathMismatch {
            symbols: 2,
            values: 1
        }
    );
    assert_eq!(e.line, 3);
    let e = entries_err(&format!(
        "{H}PATH_SYMBOLS = ( 'A' )\nKERNELS_TO_LOAD = '$A/x'\n"
    ));
    assert_eq!(
        e.kind,
        ParseErrorKind::PathMismatch {
            symbols: 1,
            values: 0
        }
    );
    // A dangling `+` on the last path value still counts, as an empty value, and a blank
    // value is one blank (`STPOOL` returns RTRIM's length 1 for it).
    let text = format!(
        "{H}PATH_SYMBOLS = ( 'A' 'B' 'C' )\nPATH_VALUES = ( 'd' ' ' '+' )\nKERNELS_TO_LOAD = ( '$A/x' 'a$B.tf' '$C/a.tf' )\n"
    );
    assert_eq!(paths(&text), ["d/x", "a .tf", "/a.tf"]);
    // The counts are checked even without a load list.
    entries_err(&format!(
        "{H}PATH_SYMBOLS = ( 'A' 'B' )\nPATH_VALUES = 'x'\n"
    ));
}

#[test]
fn numeric_furnsh_variables_are_ignored() {
    let text = format!("{H}PATH_SYMBOLS = ( 1 )\nKERNELS_TO_LOAD = ( 'a.tf' )\n");
    assert_eq!(paths(&text), ["a.tf"]);
    assert!(kinds(&mk(&text)).contains(&WarningKind::NotStrings {
        name: "PATH_SYMBOLS".into()
    }));
    assert!(paths(&format!("{H}KERNELS_TO_LOAD = ( 1 2 )\n")).is_empty());
}

#[test]
fn variable_names_are_case_sensitive() {
    let text = format!("{H}kernels_to_load = ( 'a.tf' )\n");
    let m = mk(&text);
    assert!(m.entries().unwrap().is_empty());
    assert_eq!(
        kinds(&m),
        [WarningKind::CaseMismatch {
            name: "kernels_to_load".into(),
            expected: "KERNELS_TO_LOAD"
        }]
    );
    assert_eq!(m.values("kernels_to_load").unwrap()[0].text, "a.tf");
}

#[test]
fn trailing_comma_and_commas_as_blanks() {
    assert_eq!(
        paths(&format!("{H}KERNELS_TO_LOAD = ( 'a', 'b',\n 'c', )\n")),
        ["a", "b", "c"]
    );
    assert_eq!(
        paths(&format!("{H}KERNELS_TO_LOAD = ('a''b','c')\n")),
        ["a'b", "c"]
    );
}

#[test]
fn crlf_and_cr_are_line_breaks() {
    let text = "KPL/MK\r\n\\begindata\r\nKERNELS_TO_LOAD = ( 'a'\r\n 'b' )\r\n\\begintext\r\n";
    let m = mk(text);
    assert_eq!(m.to_bytes(), text.as_bytes());
    let e = m.entries().unwrap();
    assert_eq!((e[1].line, e[1].column), (4, 2));
    assert_eq!(
        paths("KPL/MK\r\\begindata\rKERNELS_TO_LOAD = ( 'a'\r'b' )\r"),
        ["a", "b"]
    );
    // A lone CR inside a line breaks it, as in CSPICE.
    assert_eq!(paths(&format!("{H}KERNELS_TO_LOAD = 'a'\rB = 5\n")), ["a"]);
}

#[test]
fn comment_text_is_ignored_even_when_it_looks_like_data() {
    let text = "KPL/MK\nThe kernels are listed after \\begindata below:\n   KERNELS_TO_LOAD = ( 'comment.bsp' )\n\\begindata x\n\\BEGINDATA\n\\begindata\nKERNELS_TO_LOAD = ( 'real.bsp' )\n\\begintext\nKERNELS_TO_LOAD = ( 'after.bsp' )\n'$KERNELS/also/ignored.bc'\n  \\begintext\n";
    assert_eq!(paths(text), ["real.bsp"]);
}

#[test]
fn markers_may_be_indented_and_followed_by_blanks() {
    let text = "KPL/MK\n \t\\begindata \t\nKERNELS_TO_LOAD = 'a'\n\t\\begintext   \nKERNELS_TO_LOAD = 'x'\n";
    assert_eq!(paths(text), ["a"]);
    assert_eq!(paths("\\begindata\nKERNELS_TO_LOAD = 'a'\n"), ["a"]);
}

#[test]
fn several_data_blocks_and_no_closing_begintext() {
    let text = "KPL/MK\n\\begindata\nSKD_VERSION = 'v1'\n\\begintext\ntext\n\\begindata\nKERNELS_TO_LOAD = ( 'a'\n\\begintext\nin between\n\\begindata\n 'b' )\n\\begintext\nmore\n\\begindata\nKERNELS_TO_LOAD += 'c'\n";
    assert_eq!(paths(text), ["a", "b", "c"]);
}

#[test]
fn a_last_line_without_terminator_is_not_read() {
    let text = format!("{H}KERNELS_TO_LOAD = 'a'\nKERNELS_TO_LOAD += 'b'");
    let m = mk(&text);
    assert_eq!(paths(&text), ["a"]);
    assert_eq!(kinds(&m), [WarningKind::UnterminatedLastLine]);
    assert_eq!(m.to_bytes(), text.as_bytes());
    // Not worth a warning in a comment block, nor for a last `\begintext`.
    assert!(kinds(&mk("KPL/MK\n\\begindata\nA = 1\n\\begintext\nthe end")).is_empty());
    assert!(kinds(&mk("KPL/MK\n\\begindata\nA = 1\n\\begintext")).is_empty());
}

#[test]
fn missing_header_is_a_warning() {
    let m = mk("\\begindata\nKERNELS_TO_LOAD = 'a'\n");
    assert_eq!(kinds(&m), [WarningKind::NoHeader]);
}

#[test]
fn tabs_are_blanks_inside_and_outside_strings() {
    let m = mk(&format!("{H}\tA\t=\t(\t'x\ty'\t)\n"));
    assert_eq!(m.values("A").unwrap()[0].text, "x y");
}

#[test]
fn other_variables_and_value_kinds_are_kept() {
    let m = mk(&format!(
        "{H}SKD_VERSION = 'v461_20250101_001'\nBODY10_GM = 1.32712440041D+11\nLANDING_TIME = @2021-02-18T20:55:00\nMIXED = ( 1, -2, +1E5, .5, pi )\nKERNELS_TO_LOAD = 'a'\n"
    ));
    let names: Vec<_> = m.variables().iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "SKD_VERSION",
            "BODY10_GM",
            "LANDING_TIME",
            "MIXED",
            "KERNELS_TO_LOAD"
        ]
    );
    assert_eq!(
        m.values("BODY10_GM").unwrap()[0].kind,
        ValueKind::Number(1.32712440041e11)
    );
    assert_eq!(m.values("LANDING_TIME").unwrap()[0].kind, ValueKind::Date);
    assert_eq!(m.values("MIXED").unwrap().len(), 5);
}

#[test]
fn a_scalar_takes_the_rest_of_its_line_and_text_after_paren_is_ignored() {
    assert_eq!(
        paths(&format!("{H}KERNELS_TO_LOAD = 'a' 'b'\n")),
        ["a", "b"]
    );
    let text = format!("{H}KERNELS_TO_LOAD = ( 'a' ) B = 'y'\n");
    let m = mk(&text);
    assert_eq!(paths(&text), ["a"]);
    assert!(m.values("B").is_none());
    assert_eq!(kinds(&m), [WarningKind::IgnoredAfterParen]);
}

#[test]
fn long_absolute_paths_with_continuation() {
    let dir = format!("/{}", "d".repeat(150));
    let (a, b) = dir.split_at(75);
    let text = format!(
        "{H}PATH_SYMBOLS = 'K'\nPATH_VALUES = ( '{a}+'\n '{b}' )\nKERNELS_TO_LOAD = '$K/{}.bsp'\n",
        "f".repeat(60)
    );
    let got = paths(&text);
    assert_eq!(got[0].len(), 151 + 1 + 60 + 4);
    assert!(got[0].starts_with(&dir));
}

#[test]
fn length_limits() {
    // 80 bytes per string in the FURNSH variables.
    let s = "a".repeat(81);
    let e = entries_err(&format!("{H}KERNELS_TO_LOAD = '{s}'\n"));
    assert_eq!(
        e.kind,
        ParseErrorKind::StringTooLong {
            name: "KERNELS_TO_LOAD".into(),
            len: 81
        }
    );
    assert_eq!(
        paths(&format!("{H}KERNELS_TO_LOAD = '{}'\n", &s[..80])).len(),
        1
    );
    // Elsewhere it is only a warning.
    let m = mk(&format!("{H}NOTE = '{s}'\n"));
    assert!(matches!(
        kinds(&m)[0],
        WarningKind::LongString { len: 81, .. }
    ));
    // 255 bytes per joined file name, path value and substituted name.
    let name = |n: usize| {
        let s = "q".repeat(n);
        let parts: Vec<String> = s
            .as_bytes()
            .chunks(70)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        let last = parts.len() - 1;
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if i < last {
                    format!("'{p}+'")
                } else {
                    format!("'{p}'")
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        paths(&format!("{H}KERNELS_TO_LOAD = ( {} )\n", name(255)))[0].len(),
        255
    );
    let e = entries_err(&format!("{H}KERNELS_TO_LOAD = ( {} )\n", name(256)));
    assert_eq!(e.kind, ParseErrorKind::EntryTooLong { len: 256 });
    let e = entries_err(&format!(
        "{H}PATH_SYMBOLS = 'A'\nPATH_VALUES = ( {} )\nKERNELS_TO_LOAD = 'x'\n",
        name(256)
    ));
    assert_eq!(e.kind, ParseErrorKind::PathValueTooLong { len: 256 });
    let ok = format!(
        "{H}PATH_SYMBOLS = 'A'\nPATH_VALUES = ( {} )\nKERNELS_TO_LOAD = '$A/zzzz'\n",
        name(250)
    );
    assert_eq!(paths(&ok)[0].len(), 255);
    let e = entries_err(&ok.replace("zzzz", "zzzzz"));
    assert_eq!(e.kind, ParseErrorKind::EntryTooLong { len: 256 });
}

#[test]
fn data_lines_longer_than_132_bytes_are_rejected() {
    let pre = "KERNELS_TO_LOAD = ( 'a.tf'";
    let ok = format!("{H}{pre}{})\n", " ".repeat(131 - pre.len()));
    assert_eq!(paths(&ok), ["a.tf"]);
    let bad = format!("{H}{pre}{})\n", " ".repeat(132 - pre.len()));
    let e = parse_err(&bad);
    assert_eq!(
        (e.line, e.column, e.kind),
        (3, 133, ParseErrorKind::LineTooLong)
    );
    // Blanks past column 132 are harmless, and comment lines have no limit.
    assert_eq!(
        paths(&format!("{H}KERNELS_TO_LOAD = 'a'{}\n", " ".repeat(200))),
        ["a"]
    );
    assert_eq!(
        paths(&format!(
            "KPL/MK\n{}\n\\begindata\nKERNELS_TO_LOAD = 'a'\n",
            "c".repeat(5000)
        )),
        ["a"]
    );
}

#[test]
fn control_characters_and_bad_utf8_in_data_are_rejected() {
    let e = parse_err(&format!("{H}KERNELS_TO_LOAD = 'a\0b'\n"));
    assert_eq!(
        (e.line, e.column, e.kind),
        (3, 21, ParseErrorKind::ControlCharacter { byte: 0 })
    );
    parse_err(&format!("{H}A = 'a\x01b'\n"));
    parse_err(&format!("{H}\x0b\\begintext\n"));
    let mut bytes = format!("{H}A = 'a").into_bytes();
    bytes.extend_from_slice(b"\xe9'\n");
    let e = Metakernel::parse(&bytes).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::InvalidUtf8);
    // Comments may hold anything.
    let mut bytes = b"KPL/MK\n\x00\xff\x01\n".to_vec();
    bytes.extend_from_slice(H.as_bytes());
    bytes.extend_from_slice("A = 'é'\n".as_bytes());
    assert_eq!(
        Metakernel::parse(&bytes).unwrap().values("A").unwrap()[0].text,
        "é"
    );
}

#[test]
fn syntax_errors_name_line_column_and_what_was_expected() {
    let cases: &[(&str, (usize, usize), &str)] = &[
        ("A =\n'x'\n", (3, 1), "expected `NAME = value`"),
        ("A 'x'\n", (3, 1), "expected `NAME = value`"),
        ("A 'x' 'y'\n", (3, 3), "expected `=` or `+=`"),
        ("A + = 1\n", (3, 3), "expected `=` or `+=`"),
        ("A = ( )\n", (3, 7), "expected at least one value for `A`"),
        ("A = )\n", (3, 5), "expected at least one value"),
        ("A = ''\n", (3, 5), "expected at least one character"),
        ("A = 'x\n", (3, 5), "expected at least one character"),
        ("A = ( 'x' 1 )\n", (3, 11), "expected a quoted string"),
        ("A = 'x';\n", (3, 8), "expected a quoted string"),
        ("A = ( 1 'x' )\n", (3, 9), "expected a number"),
        ("A = 1\nA += 'x'\n", (4, 6), "expected a number"),
        (
            "A = ( 1.2.3 )\n",
            (3, 7),
            "expected a number such as `1.5D3`, found `1.2.3`",
        ),
        ("A = ( @ )\n", (3, 7), "expected a date"),
        ("A = = 1\n", (3, 5), "expected a value or `(`"),
        ("# comment\n", (3, 1), "expected `NAME = value`"),
    ];
    for (body, (line, column), what) in cases {
        let e = parse_err(&format!("{H}{body}"));
        assert_eq!((e.line, e.column), (*line, *column), "{body}: {e}");
        assert!(e.to_string().contains(what), "{body}: {e}");
        assert!(
            e.to_string()
                .starts_with(&format!("line {line}, column {column}: "))
        );
    }
    let e = parse_err(&format!("{H}{} = 1\n", "A".repeat(33)));
    assert_eq!(e.kind, ParseErrorKind::NameTooLong { len: 33 });
    mk(&format!("{H}{} = 1\n", "A".repeat(32)));
}

#[test]
fn an_unterminated_string_runs_to_its_last_non_blank_character() {
    // Real PDS metakernels (NPB's clps_v01.tm, dart_v01.tm) have these; CSPICE loads them.
    let text = format!("{H}KERNELS_TO_LOAD = ( 'a.tf'\n  'b.tf  \n 'c, d.tf\t\n 'e.tf' )\n");
    let m = mk(&text);
    assert_eq!(paths(&text), ["a.tf", "b.tf", "c, d.tf", "e.tf"]);
    let w: Vec<_> = m
        .warnings()
        .into_iter()
        .map(|w| (w.line, w.column, w.kind))
        .collect();
    assert_eq!(
        w,
        [
            (4, 3, WarningKind::UnterminatedString),
            (5, 2, WarningKind::UnterminatedString)
        ]
    );
    // Inside the open string a `)` is just a separator: the vector goes on.
    assert_eq!(
        paths(&format!("{H}KERNELS_TO_LOAD = ( 'a.tf )\n'b.tf' )\n")),
        ["a.tf", "b.tf"]
    );
}

#[test]
fn a_vector_left_open_at_the_end_keeps_its_values() {
    // CSPICE keeps the values but does not tell FURNSH about the assignment, so FURNSH
    // uses them only when another of its variables was assigned.
    let text = format!("{H}KERNELS_TO_LOAD = ( 'a'\n'b'\n");
    let m = mk(&text);
    assert!(paths(&text).is_empty());
    assert_eq!(m.values(KERNELS_TO_LOAD).unwrap().len(), 2);
    assert_eq!(
        paths(&format!(
            "{H}KERNELS_TO_LOAD = 'x'\nKERNELS_TO_LOAD += ( 'a'\n'b'\n"
        )),
        ["x", "a", "b"]
    );
    assert!(paths(&format!("{H}PATH_SYMBOLS = ( 'X'\n")).is_empty());
    assert_eq!(
        kinds(&m),
        [WarningKind::UnclosedVector {
            name: "KERNELS_TO_LOAD".into()
        }]
    );
    // CSPICE gets into an inconsistent state on an empty one; refuse it.
    parse_err(&format!("{H}A = (\n"));
}

#[test]
fn backslash_paths_are_warned() {
    let text = format!(
        "{H}PATH_SYMBOLS = 'K'\nPATH_VALUES = 'C:\\kernels'\nKERNELS_TO_LOAD = '$K\\lsk\\naif0012.tls'\n"
    );
    let m = mk(&text);
    assert_eq!(paths(&text), ["C:\\kernels\\lsk\\naif0012.tls"]);
    assert!(matches!(kinds(&m)[0], WarningKind::Backslash { .. }));
}

#[test]
fn empty_and_comment_only_files_have_no_entries() {
    assert!(paths("").is_empty());
    assert!(paths("KPL/MK\nno data here\n").is_empty());
    assert!(paths("KPL/MK\n\\begindata\n").is_empty());
}

// ---- rewriter ----

fn rewrite(text: &str, values: &[(&str, &str)]) -> String {
    let values: Vec<(String, String)> = values
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let out = mk(text)
        .rewrite_path_values(&values)
        .unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8(out).unwrap()
}

const JUICE: &str = "KPL/MK\r\n\r\n   Comments 'with' a quote and $KERNELS.\r\n\r\n\\begindata\r\n\r\n  PATH_VALUES       = ( '..'      )\r\n  PATH_SYMBOLS      = ( 'KERNELS' )\r\n  SKD_VERSION = 'v1'\r\n  KERNELS_TO_LOAD   = ( '$KERNELS/ck/a.bc'\r\n                        '$KERNELS/lsk/naif0012.tls' )\r\n\r\n\\begintext\r\n";

#[test]
fn rewrite_with_unchanged_values_is_identity() {
    assert_eq!(rewrite(JUICE, &[("KERNELS", "..")]), JUICE);
    assert_eq!(rewrite(JUICE, &[]), JUICE);
    let m = mk(JUICE);
    assert_eq!(m.rewrite_entries(|_| None).unwrap(), JUICE.as_bytes());
    assert_eq!(
        m.rewrite_entries(|e| Some(e.raw.clone())).unwrap(),
        JUICE.as_bytes()
    );
}

#[test]
fn rewrite_changes_only_the_value_token() {
    let out = rewrite(JUICE, &[("KERNELS", "/data/juice/kernels")]);
    assert_eq!(
        out,
        JUICE.replace("( '..'      )", "( '/data/juice/kernels'      )")
    );
    let e = mk(&out).entries().unwrap();
    assert_eq!(e[1].path, "/data/juice/kernels/lsk/naif0012.tls");
}

#[test]
fn rewrite_doubles_embedded_quotes() {
    let out = rewrite(JUICE, &[("KERNELS", "/data/it's")]);
    assert!(out.contains("( '/data/it''s'      )"), "{out}");
    assert_eq!(mk(&out).path_symbols()[0].value, "/data/it's");
}

#[test]
fn rewrite_splits_long_values_with_continuation() {
    let long = format!(
        "/home/user/{}/kernels",
        "very_long_directory_name_".repeat(8)
    );
    assert!(long.len() > 200);
    let out = rewrite(JUICE, &[("KERNELS", &long)]);
    let m = mk(&out);
    assert_eq!(m.path_symbols()[0].value, long);
    let e = m.entries();
    assert!(
        matches!(
            e,
            Err(ParseError {
                kind: ParseErrorKind::EntryTooLong { .. },
                ..
            })
        ) || e.is_ok()
    );
    // The continuation strings sit on their own CRLF lines, aligned under the first one.
    let start = out.find("PATH_VALUES").unwrap();
    let block: Vec<&str> = out[start..].split("\r\n").take(4).collect();
    assert!(block[0].ends_with("+'"), "{block:?}");
    assert!(
        block[1].starts_with("                        '"),
        "{block:?}"
    );
    for line in out.split("\r\n") {
        assert!(line.len() <= MAX_LINE_LEN, "{line}");
    }
    for v in m.values("PATH_VALUES").unwrap() {
        assert!(v.text.len() <= MAX_STRING_LEN);
    }
    // Outside the replaced token nothing moved.
    let at = JUICE.find("'..'").unwrap();
    assert!(out.starts_with(&JUICE[..at]));
    assert!(out.ends_with(&JUICE[at + 4..]));
}

#[test]
fn rewrite_that_would_not_load_is_refused() {
    let long = format!("/{}", "d".repeat(240));
    let values = vec![("KERNELS".to_string(), long)];
    let e = mk(JUICE).rewrite_path_values(&values).unwrap_err();
    assert!(
        matches!(&e, RewriteError::Invalid { source } if matches!(source.kind, ParseErrorKind::EntryTooLong { .. })),
        "{e}"
    );
    let e = mk(JUICE)
        .rewrite_path_values(&[("NOPE".into(), "x".into())])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown path symbol `NOPE`: PATH_SYMBOLS does not define it"
    );
    for bad in ["", "a\nb", "a\tb", "trailing ", "plus+", &"x".repeat(256)] {
        let e = mk(JUICE)
            .rewrite_path_values(&[("KERNELS".into(), bad.into())])
            .unwrap_err();
        assert!(
            matches!(e, RewriteError::Unrepresentable { .. }),
            "{bad}: {e}"
        );
    }
}

#[test]
fn rewrite_of_a_continued_value_fills_its_tokens() {
    let text = format!(
        "{H}PATH_SYMBOLS = ( 'A' 'B' )\nPATH_VALUES = ( '/first/half+'\n                '/second' 'b' )\nKERNELS_TO_LOAD = ( '$A/x' '$B/y' )\n"
    );
    let out = rewrite(&text, &[("A", "/new/path/to/kernels")]);
    let m = mk(&out);
    assert_eq!(m.path_symbols()[0].value, "/new/path/to/kernels");
    assert_eq!(m.path_symbols()[1].value, "b");
    assert_eq!(m.entries().unwrap()[0].path, "/new/path/to/kernels/x");
    let out = rewrite(&text, &[("A", "z")]);
    assert_eq!(mk(&out).path_symbols()[0].value, "z");
    assert!(out.contains("( '+'\n                'z' 'b' )"), "{out}");
}

#[test]
fn rewrite_entries_replaces_literal_paths() {
    let text = "KPL/MK\r\n\\begindata\r\nKERNELS_TO_LOAD = ( 'kernels\\lsk\\naif0008.tls',\r\n\t'kernels/spk/de405s.bsp' )\r\n";
    let m = mk(text);
    let out = m
        .rewrite_entries(|e| {
            (!e.path.starts_with('/')).then(|| format!("/abs/{}", e.path.replace('\\', "/")))
        })
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        out,
        "KPL/MK\r\n\\begindata\r\nKERNELS_TO_LOAD = ( '/abs/kernels/lsk/naif0008.tls',\r\n\t'/abs/kernels/spk/de405s.bsp' )\r\n"
    );
    let long = format!("/{}/x.bsp", "p".repeat(200));
    let out = m.rewrite_entries(|_| Some(long.clone())).unwrap();
    let got: Vec<_> = mk(std::str::from_utf8(&out).unwrap())
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(got, [long.clone(), long]);
}

#[test]
fn rewrite_closes_unterminated_strings_when_that_keeps_the_structure() {
    let text = format!("{H}KERNELS_TO_LOAD = ( 'a.tf'\n  'b.tf  \n 'c.tf' )\n");
    let out = mk(&text)
        .rewrite_entries(|e| Some(format!("/x/{}", e.raw)))
        .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("{H}KERNELS_TO_LOAD = ( '/x/a.tf'\n  '/x/b.tf'  \n '/x/c.tf' )\n")
    );
    let text = format!("{H}KERNELS_TO_LOAD = ( 'a.tf )\n'b.tf' )\n");
    let e = mk(&text)
        .rewrite_entries(|e| Some(format!("/x/{}", e.raw)))
        .unwrap_err();
    assert!(matches!(e, RewriteError::Unrepresentable { .. }), "{e}");
}

#[test]
fn rewrite_lays_out_several_tokens_on_one_line() {
    let text = format!(
        "{H}PATH_SYMBOLS = ( 'K', 'K_DATA', 'SUB' )\nPATH_VALUES  = ( 'kernels', 'kernels/data', 'fk' )\nKERNELS_TO_LOAD = ( '$K_DATA/data.tf' '$K/$SUB/x.tf' )\n"
    );
    let base = format!("/tmp/{}", "l".repeat(120));
    let m = mk(&text);
    let new: Vec<(String, String)> = m
        .path_symbols()
        .iter()
        .filter(|s| s.name != "SUB")
        .map(|s| (s.name.clone(), format!("{base}/{}", s.value)))
        .collect();
    let out = m.rewrite_path_values(&new).unwrap();
    let again = mk(std::str::from_utf8(&out).unwrap());
    let got: Vec<_> = again
        .path_symbols()
        .into_iter()
        .map(|s| (s.name, s.value))
        .collect();
    assert_eq!(got[..2], new[..]);
    assert_eq!(got[2].1, "fk");
    assert_eq!(
        again.entries().unwrap()[0].path,
        format!("{base}/kernels/data/data.tf")
    );
}

#[test]
fn rewrite_entries_refuses_an_unresolved_metakernel() {
    let m = mk(&format!("{H}KERNELS_TO_LOAD = '$X/a'\n"));
    let e = m.rewrite_entries(|_| Some("b".into())).unwrap_err();
    assert!(matches!(e, RewriteError::Unresolved { .. }));
}

#[test]
fn rewrite_with_a_repeated_symbol_edits_each_value_once() {
    let text = format!(
        "{H}PATH_SYMBOLS = ( 'A' 'A' )\nPATH_VALUES = ( 'x' 'y' )\nKERNELS_TO_LOAD = '$A/k'\n"
    );
    let out = rewrite(&text, &[("A", "/new")]);
    assert_eq!(out, text.replace("'x' 'y'", "'/new' '/new'"));
    let e = mk(&text)
        .rewrite_path_values(&[("A".into(), "1".into()), ("A".into(), "2".into())])
        .unwrap_err();
    assert_eq!(e, RewriteError::Conflict { symbol: "A".into() });
}
