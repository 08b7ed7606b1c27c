//! Property tests over generated metakernels: random comments, variables, lists,
//! continuations, LF/CRLF/CR. Parsing never panics, `to_bytes` is the identity, rewriting
//! with unchanged values is the identity, and rewriting with new values changes bytes only
//! inside the replaced string tokens.

use proptest::prelude::*;

use super::{Metakernel, Span};

/// Characters for path-like string contents (quotes included, doubled when rendered).
const PATH_CHARS: &[char] = &[
    'a', 'b', 'Z', '0', '9', '_', '-', '.', '/', '/', ' ', '\'', '$', '+', 'é', '\\',
];

fn path_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PATH_CHARS), 1..max)
        .prop_map(|v| v.into_iter().collect::<String>())
        // Keep the generated files valid: no trailing blank or `+` on a final string.
        .prop_map(|s| format!("{}x", s.trim_end_matches([' ', '+'])))
}

fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// One string value, possibly split into several `+`-continued strings.
fn string_value() -> impl Strategy<Value = Vec<String>> {
    (path_text(30), 0usize..3).prop_map(|(s, splits)| {
        let chars: Vec<char> = s.chars().collect();
        let mut out = Vec::new();
        let mut start = 0;
        for k in 1..=splits {
            let cut = chars.len() * k / (splits + 1);
            if cut > start && cut < chars.len() {
                let piece: String = chars[start..cut].iter().collect();
                out.push(quoted(&format!("{piece}+")));
                start = cut;
            }
        }
        out.push(quoted(&chars[start..].iter().collect::<String>()));
        out
    })
}

fn number() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "1",
        "-2",
        "+1E5",
        "1.5D3",
        ".5",
        "5.",
        "pi",
        "1e-3",
        "@2000-01-01",
    ])
    .prop_map(str::to_owned)
}

#[derive(Debug, Clone)]
enum Item {
    Comment(Vec<String>),
    Assign {
        name: String,
        append: bool,
        /// Each value is one or more string tokens; numbers are one token.
        values: Vec<Vec<String>>,
        vector: bool,
        commas: bool,
        breaks: Vec<bool>,
        indent: String,
    },
    Blank,
}

fn comment() -> impl Strategy<Value = Item> {
    let line = prop::sample::select(vec![
        "Comment text with a 'quoted/path.bsp'",
        "   KERNELS_TO_LOAD = ( 'comment/only.bsp' )",
        "mid-line \\begindata is not a marker",
        "$KERNELS/ck/x.bc",
        "",
        "\t\ttabbed text",
        "a line longer than one hundred and thirty-two bytes is fine in a comment block, CSPICE never looks at it beyond the marker check ...",
    ])
    .prop_map(str::to_owned);
    prop::collection::vec(line, 0..4).prop_map(Item::Comment)
}

fn assignment() -> impl Strategy<Value = Item> {
    let name = prop::sample::select(vec![
        "KERNELS_TO_LOAD",
        "PATH_SYMBOLS",
        "PATH_VALUES",
        "SKD_VERSION",
        "BODY399_RADII",
        "kernels_to_load",
    ]);
    (
        name,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::sample::select(vec!["", "  ", "\t", "   \t "]),
        prop::collection::vec(string_value(), 1..4),
        prop::collection::vec(number(), 1..4),
        prop::collection::vec(any::<bool>(), 8),
    )
        .prop_map(
            |(name, append, vector, commas, indent, strings, numbers, breaks)| {
                let values = if name == "BODY399_RADII" {
                    numbers.into_iter().map(|n| vec![n]).collect()
                } else {
                    strings
                };
                Item::Assign {
                    name: name.to_owned(),
                    append,
                    vector: vector || values.len() > 1,
                    values,
                    commas,
                    breaks,
                    indent: indent.to_owned(),
                }
            },
        )
}

fn render(items: &[Item], eol: &str, header: bool, trailing_text: bool) -> String {
    let mut out = String::new();
    if header {
        out.push_str("KPL/MK");
        out.push_str(eol);
    }
    let mut in_data = false;
    for item in items {
        match item {
            Item::Comment(lines) => {
                if in_data {
                    out.push_str("\\begintext");
                    out.push_str(eol);
                    in_data = false;
                }
                for l in lines {
                    out.push_str(l);
                    out.push_str(eol);
                }
            }
            Item::Blank => out.push_str(eol),
            Item::Assign {
                name,
                append,
                values,
                vector,
                commas,
                breaks,
                indent,
            } => {
                if !in_data {
                    out.push_str(" \\begindata ");
                    out.push_str(eol);
                    in_data = true;
                }
                let op = if *append { "+=" } else { "=" };
                let sep = if *commas { ", " } else { " " };
                let tokens: Vec<&String> = values.iter().flatten().collect();
                let vector = *vector || tokens.len() > 1;
                let mut line = format!("{indent}{name} {op} ");
                if vector {
                    line.push_str("( ");
                }
                for (k, t) in tokens.iter().enumerate() {
                    if k > 0 {
                        let too_long = line.len() + sep.len() + t.len() + 4 > super::MAX_LINE_LEN;
                        if too_long || breaks[k % breaks.len()] {
                            out.push_str(line.trim_end());
                            out.push_str(eol);
                            line = format!("{indent}    ");
                        } else {
                            line.push_str(sep);
                        }
                    }
                    line.push_str(t);
                }
                if vector {
                    line.push_str(if *commas { ", )" } else { " )" });
                }
                out.push_str(&line);
                out.push_str(eol);
            }
        }
    }
    if trailing_text {
        out.push_str("\\begintext");
        out.push_str(eol);
        out.push_str("the end");
    }
    out
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        2 => comment(),
        4 => assignment(),
        1 => Just(Item::Blank),
    ]
}

fn metakernel() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(item(), 0..10),
        prop::sample::select(vec!["\n", "\r\n", "\r"]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(items, eol, header, trailing)| render(&items, eol, header, trailing))
}

/// A metakernel that certainly defines path symbols (as many values as symbols, the
/// values possibly continued), somewhere among other items.
fn metakernel_with_symbols() -> impl Strategy<Value = String> {
    let names = prop::collection::vec(
        prop::sample::select(vec!["KERNELS", "KERNELS_DATA", "K", "DATA", "k"]),
        1..4,
    );
    (
        prop::collection::vec(item(), 0..8),
        names,
        prop::collection::vec(string_value(), 4),
        any::<prop::sample::Index>(),
        prop::sample::select(vec!["\n", "\r\n", "\r"]),
        any::<bool>(),
        prop::collection::vec((any::<prop::sample::Index>(), string_value()), 0..5),
    )
        .prop_map(|(mut items, names, values, at, eol, breaks, files)| {
            let n = names.len();
            // Entries using the symbols; `$` is dropped from the generated file part so
            // that the list resolves.
            let entries: Vec<Vec<String>> = files
                .into_iter()
                .map(|(k, tokens)| {
                    let mut tokens: Vec<String> =
                        tokens.into_iter().map(|t| t.replace('$', "_")).collect();
                    let symbol = names[k.index(n)];
                    tokens[0] = format!("'${symbol}/{}", &tokens[0][1..]);
                    tokens
                })
                .collect();
            let list = Item::Assign {
                name: "KERNELS_TO_LOAD".into(),
                append: true,
                vector: true,
                values: entries,
                commas: breaks,
                breaks: vec![true, false, true, true, false, false, true, false],
                indent: "  ".into(),
            };
            let symbols = Item::Assign {
                name: "PATH_SYMBOLS".into(),
                append: false,
                values: names.into_iter().map(|s| vec![quoted(s)]).collect(),
                vector: true,
                commas: false,
                breaks: vec![breaks; 8],
                indent: "   ".into(),
            };
            let values = Item::Assign {
                name: "PATH_VALUES".into(),
                append: false,
                values: values.into_iter().take(n).collect(),
                vector: true,
                commas: true,
                breaks: vec![!breaks; 8],
                indent: String::new(),
            };
            let at = at.index(items.len() + 1);
            items.splice(at..at, [symbols, values]);
            if let Item::Assign { values, .. } = &list
                && !values.is_empty()
            {
                items.push(list);
            }
            render(&items, eol, true, false)
        })
}

/// Checks that `out` is `orig` with each span in `spans` replaced by one or more quoted
/// strings separated by a line break and blanks, and nothing else changed.
pub(crate) fn assert_only_tokens_changed(orig: &[u8], out: &[u8], spans: &[Span]) {
    let mut spans = spans.to_vec();
    spans.sort();
    assert!(
        super::rewrite::only_tokens_changed(orig, out, &spans),
        "bytes outside the replaced tokens changed:\n{}\n---\n{}",
        String::from_utf8_lossy(orig),
        String::from_utf8_lossy(out)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(mk) = Metakernel::parse(&bytes) {
            prop_assert_eq!(mk.to_bytes(), bytes);
            let _ = mk.entries();
            let _ = mk.warnings();
        }
    }

    #[test]
    fn parse_never_panics_on_near_metakernels(
        text in metakernel(),
        cut in any::<prop::sample::Index>(),
        junk in prop::collection::vec(any::<u8>(), 0..4),
    ) {
        let mut bytes = text.into_bytes();
        let at = cut.index(bytes.len() + 1);
        bytes.splice(at..at, junk);
        if let Ok(mk) = Metakernel::parse(&bytes) {
            prop_assert_eq!(mk.to_bytes(), bytes);
            let _ = mk.entries();
            let _ = mk.rewrite_entries(|e| Some(format!("/x/{}", e.path.len())));
        }
    }

    #[test]
    fn generated_metakernels_round_trip(text in metakernel()) {
        let mk = Metakernel::parse(text.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(mk.to_bytes(), text.as_bytes());
        let same: Vec<(String, String)> = mk
            .path_symbols()
            .into_iter()
            .map(|s| (s.name, s.value))
            .collect();
        let unique = {
            let mut names: Vec<_> = same.iter().map(|(n, _)| n).collect();
            names.sort();
            names.windows(2).all(|w| w[0] != w[1])
        };
        if unique {
            prop_assert_eq!(mk.rewrite_path_values(&same).unwrap(), text.as_bytes());
        }
        if mk.entries().is_ok() {
            prop_assert_eq!(mk.rewrite_entries(|_| None).unwrap(), text.as_bytes());
        }
    }

    #[test]
    fn rewrite_changes_only_path_value_tokens(
        text in metakernel_with_symbols(),
        value in path_text(120),
        pick in any::<prop::sample::Index>(),
    ) {
        let mk = Metakernel::parse(text.as_bytes()).unwrap();
        let symbols = mk.path_symbols();
        prop_assume!(!symbols.is_empty());
        let target = &symbols[pick.index(symbols.len())];
        let new = vec![(target.name.clone(), value.clone())];
        if let Ok(out) = mk.rewrite_path_values(&new) {
            let spans: Vec<Span> = symbols
                .iter()
                .filter(|s| s.name == target.name && s.value != value)
                .flat_map(|s| s.value_spans.clone())
                .collect();
            assert_only_tokens_changed(text.as_bytes(), &out, &spans);
            let again = Metakernel::parse(&out).unwrap();
            for s in again.path_symbols().iter().filter(|s| s.name == target.name) {
                prop_assert_eq!(&s.value, &value);
            }
            if mk.entries().is_ok() {
                prop_assert!(again.entries().is_ok());
            }
        }
    }

    #[test]
    fn rewrite_entries_changes_only_entry_tokens(
        text in metakernel_with_symbols(),
        prefix in path_text(100),
    ) {
        let prefix = prefix.replace('$', "_");
        let mk = Metakernel::parse(text.as_bytes()).unwrap();
        let Ok(entries) = mk.entries() else { return Ok(()) };
        let f = |e: &super::Entry| Some(format!("{prefix}/{}", e.raw.len()));
        if let Ok(out) = mk.rewrite_entries(f) {
            let spans: Vec<Span> = entries
                .iter()
                .filter(|e| f(e).as_deref() != Some(e.raw.as_str()))
                .flat_map(|e| e.spans.clone())
                .collect();
            assert_only_tokens_changed(text.as_bytes(), &out, &spans);
            let again = Metakernel::parse(&out).unwrap().entries().unwrap();
            prop_assert_eq!(again.len(), entries.len());
            for (a, e) in again.iter().zip(&entries) {
                prop_assert_eq!(Some(a.raw.clone()), f(e));
            }
        }
    }
}

#[test]
fn the_diff_checker_can_fail() {
    let orig = b"A = ( 'x' )\n";
    let span = [Span { start: 6, end: 9 }];
    assert_only_tokens_changed(orig, b"A = ( 'long+'\n      'y' )\n", &span);
    let bad = std::panic::catch_unwind(|| {
        assert_only_tokens_changed(orig, b"A = ( 'y' ) \n", &span);
    });
    assert!(bad.is_err());
    let bad = std::panic::catch_unwind(|| {
        assert_only_tokens_changed(orig, b"B = ( 'y' )\n", &span);
    });
    assert!(bad.is_err());
}
