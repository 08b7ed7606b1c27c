//! Listing fidelity against a real Apache httpd: for each `IndexOptions` style,
//! serve a tree of awkward names with `mod_autoindex` and check that
//! `parse_listing` returns exactly the names, directory flags, sizes (exact vs
//! approximate) and dates that the tree has.
//!
//! Skips with a visible message when apache2 is not installed, unless
//! `KDB_REQUIRE_APACHE=1`.

// Fixture trees are written straight into temp dirs: not a kdb write path.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::SystemTime;

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use kdb::remote::listing::{Listing, ListingEntry, Size, parse_listing};

use crate::common::apache::Apache;
use crate::common::http::{self, HttpServer, apr_strfsize};

/// A name Apache truncates at the default `NameWidth` (23).
fn long_name() -> String {
    format!("{}.bc", "k".repeat(57))
}

/// The fixture tree: names with spaces, `%`, `&`, `#`, `:`, `?`, `+`, quotes,
/// angle brackets, non-ASCII, a 60-character name, sizes on both sides of
/// Apache's 973-byte exact/rounded boundary, an empty file and a directory.
fn fixture_tree() -> tempfile::TempDir {
    let tree = tempfile::tempdir().expect("temp dir");
    let files: Vec<(String, usize)> = vec![
        ("a b.txt".into(), 5),
        ("pct%41.bsp".into(), 12_345),
        ("amp&hash#.tls".into(), 1),
        ("ünï€.tf".into(), 7),
        (long_name(), 3),
        ("exact_972.bsp".into(), 972),
        ("rounded_973.bsp".into(), 973),
        ("big.bsp".into(), 2_000_000),
        ("a:b.tls".into(), 11),
        ("q?x.tm".into(), 2),
        ("plus+.tf".into(), 4),
        ("lt<gt>\"q'.tm".into(), 6),
        ("empty.tls".into(), 0),
    ];
    for (name, len) in &files {
        let bytes: Vec<u8> = (0..*len).map(|i| (i % 251) as u8).collect();
        fs::write(tree.path().join(name), bytes).expect("write fixture file");
    }
    let sub = tree.path().join("sub dir");
    fs::create_dir(&sub).expect("mkdir");
    fs::write(sub.join("inner #1.bsp"), b"inner").expect("write inner");
    tree
}

/// What a listing of `dir` must contain, built from the file system: Apache
/// shows sizes below 973 bytes exactly and larger ones through
/// `apr_strfsize`, and dates (UTC here) to the minute.
fn expected(dir: &Path, sizes: bool, dates: bool) -> BTreeMap<String, ListingEntry> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().into_string().expect("UTF-8 fixture name");
        let meta = fs::metadata(entry.path()).expect("metadata");
        let size = (sizes && !meta.is_dir()).then(|| displayed_size(meta.len()));
        let modified = dates.then(|| minute(meta.modified().expect("mtime")));
        out.insert(
            name.clone(),
            ListingEntry {
                name,
                is_dir: meta.is_dir(),
                size,
                modified,
            },
        );
    }
    out
}

fn displayed_size(len: u64) -> Size {
    if len < 973 {
        return Size::Exact(len);
    }
    let shown = apr_strfsize(len);
    let (number, unit) = shown.trim().split_at(shown.trim().len() - 1);
    let power = " KMGTPE".find(unit).expect("apr_strfsize unit");
    let value: f64 = number.parse().expect("apr_strfsize number");
    Size::Approx((value * (1u64 << (10 * power)) as f64).round() as u64)
}

fn minute(t: SystemTime) -> NaiveDateTime {
    let utc: DateTime<Utc> = t.into();
    utc.naive_utc()
        .with_second(0)
        .and_then(|d| d.with_nanosecond(0))
        .expect("whole minute")
}

fn by_name(listing: &Listing) -> BTreeMap<String, ListingEntry> {
    let mut out = BTreeMap::new();
    for e in &listing.entries {
        let previous = out.insert(e.name.clone(), e.clone());
        assert!(previous.is_none(), "`{}` listed twice", e.name);
    }
    out
}

fn fetch_listing(url: &str) -> (String, Listing) {
    let reply = http::get(url).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(reply.status, 200, "GET {url}:\n{}", reply.text());
    let page = reply.text();
    let listing = parse_listing(&page);
    (page, listing)
}

/// Icons and alt texts as in Debian's `autoindex.conf`, plus a description
/// that looks like a size and a date, to tempt the parser.
const ICONS: &str = r#"DefaultIcon /icons/unknown.gif
AddIcon /icons/back.gif ..
AddIcon /icons/folder.gif ^^DIRECTORY^^
AddIcon /icons/blank.gif ^^BLANKICON^^
AddIconByType (TXT,/icons/text.gif) text/*
AddAlt "[DIR]" ^^DIRECTORY^^
AddDescription "12K 2020-01-01 00:00 leap <b>seconds</b>" *.tls"#;

struct Style {
    options: &'static str,
    extra: &'static str,
    sizes: bool,
    dates: bool,
}

const STYLES: &[Style] = &[
    Style {
        options: "FancyIndexing",
        extra: "",
        sizes: true,
        dates: true,
    },
    Style {
        options: "FancyIndexing",
        extra: ICONS,
        sizes: true,
        dates: true,
    },
    Style {
        options: "FancyIndexing HTMLTable",
        extra: ICONS,
        sizes: true,
        dates: true,
    },
    Style {
        options: "FancyIndexing HTMLTable XHTML SuppressColumnSorting",
        extra: ICONS,
        sizes: true,
        dates: true,
    },
    Style {
        options: "",
        extra: "",
        sizes: false,
        dates: false,
    },
    Style {
        options: "",
        extra: ICONS,
        sizes: false,
        dates: false,
    },
    Style {
        options: "FancyIndexing FoldersFirst NameWidth=* SuppressDescription",
        extra: ICONS,
        sizes: true,
        dates: true,
    },
    Style {
        options: "FancyIndexing NameWidth=8 DescriptionWidth=*",
        extra: ICONS,
        sizes: true,
        dates: true,
    },
    Style {
        options: "FancyIndexing SuppressSize",
        extra: ICONS,
        sizes: false,
        dates: true,
    },
    Style {
        options: "FancyIndexing SuppressLastModified",
        extra: ICONS,
        sizes: true,
        dates: false,
    },
    Style {
        options: "FancyIndexing SuppressSize SuppressLastModified SuppressColumnSorting",
        extra: ICONS,
        sizes: false,
        dates: false,
    },
    Style {
        options: "FancyIndexing HTMLTable SuppressSize",
        extra: ICONS,
        sizes: false,
        dates: true,
    },
    Style {
        options: "FancyIndexing IconsAreLinks VersionSort IgnoreCase Charset=UTF-8",
        extra: ICONS,
        sizes: true,
        dates: true,
    },
    Style {
        options: "FancyIndexing HTMLTable IconsAreLinks SuppressHTMLPreamble",
        extra: ICONS,
        sizes: true,
        dates: true,
    },
];

#[test]
fn every_index_options_style_parses_exactly() {
    let tree = fixture_tree();
    for style in STYLES {
        let Some(apache) = Apache::start_with(tree.path(), style.options, style.extra) else {
            return;
        };
        let context = format!(
            "IndexOptions {:?} (icons: {})",
            style.options,
            !style.extra.is_empty()
        );
        for (url_path, dir) in [
            ("/", tree.path().to_path_buf()),
            ("/sub%20dir/", tree.path().join("sub dir")),
        ] {
            let (page, listing) = fetch_listing(&apache.url(url_path));
            assert_eq!(
                by_name(&listing),
                expected(&dir, style.sizes, style.dates),
                "{context}, {url_path}; page:\n{page}"
            );
        }
    }
}

#[test]
fn long_names_are_truncated_on_the_page_but_not_in_the_listing() {
    let tree = fixture_tree();
    let Some(apache) = Apache::start_with(tree.path(), "FancyIndexing", ICONS) else {
        return;
    };
    let (page, listing) = fetch_listing(&apache.url("/"));
    assert!(
        page.contains("..&gt;</a>") && !page.contains(&format!(">{}</a>", long_name())),
        "expected Apache to truncate the long name:\n{page}"
    );
    assert!(listing.get(&long_name()).is_some(), "{listing:#?}");
}

#[test]
fn folders_first_puts_directories_first() {
    let tree = fixture_tree();
    let Some(apache) = Apache::start_with(tree.path(), "FancyIndexing FoldersFirst", "") else {
        return;
    };
    let (_, listing) = fetch_listing(&apache.url("/"));
    assert_eq!(listing.entries[0].name, "sub dir");
    assert!(listing.entries[0].is_dir);
    assert!(listing.entries[1..].iter().all(|e| !e.is_dir));
}

/// `IndexOptions ByteSize` prints exact byte counts, but only in httpd builds
/// that have it (it is not in Debian's 2.4.x): when the option is rejected the
/// test says so and checks nothing else.
#[test]
fn byte_size_gives_exact_sizes_where_supported() {
    let tree = fixture_tree();
    let apache = match Apache::try_start_with(tree.path(), "FancyIndexing ByteSize", "") {
        Ok(Some(apache)) => apache,
        Ok(None) => return,
        Err(failure) => {
            assert!(
                failure.contains("Invalid directory indexing option"),
                "unexpected failure: {failure}"
            );
            eprintln!("SKIPPED: this httpd does not support `IndexOptions ByteSize`");
            return;
        }
    };
    let (page, listing) = fetch_listing(&apache.url("/"));
    for e in listing.entries.iter().filter(|e| !e.is_dir) {
        let len = fs::metadata(tree.path().join(&e.name)).expect("meta").len();
        assert_eq!(e.size, Some(Size::Exact(len)), "{}; page:\n{page}", e.name);
    }
}

/// The in-process test server's listing page must parse to the same listing
/// as Apache's for the same tree (both print UTC dates here).
#[test]
fn in_process_server_listing_matches_apache() {
    let tree = fixture_tree();
    let Some(apache) = Apache::start_with(tree.path(), "FancyIndexing", ICONS) else {
        return;
    };
    let server = HttpServer::start(tree.path());
    for url_path in ["/", "/sub%20dir/"] {
        let (apache_page, from_apache) = fetch_listing(&apache.url(url_path));
        let (ours_page, from_ours) = fetch_listing(&server.url(url_path));
        assert_eq!(
            from_ours, from_apache,
            "{url_path}\napache:\n{apache_page}\nours:\n{ours_page}"
        );
    }
}

/// Every directory of the real NAIF archive subset, served by Apache the way
/// naif.jpl.nasa.gov is (FancyIndexing with icons).
#[test]
fn realdata_naif_tree_through_apache() {
    let Some(root) = crate::common::realdata() else {
        return;
    };
    let root = root.join("trees/naif_server_subset");
    assert!(root.is_dir(), "`{}` is missing", root.display());
    let Some(apache) = Apache::start_with(&root, "FancyIndexing", ICONS) else {
        return;
    };
    let mut dirs = vec![(String::from("/"), root.clone())];
    let mut checked = 0;
    while let Some((url_path, dir)) = dirs.pop() {
        let (page, listing) = fetch_listing(&apache.url(&url_path));
        assert_eq!(
            by_name(&listing),
            expected(&dir, true, true),
            "{url_path}; page:\n{page}"
        );
        for e in listing.entries.iter().filter(|e| e.is_dir) {
            dirs.push((format!("{url_path}{}/", e.name), dir.join(&e.name)));
        }
        for e in listing.entries.iter().filter(|e| !e.is_dir) {
            let len = fs::metadata(dir.join(&e.name)).expect("meta").len();
            let shown = e.size.expect("size").bytes();
            assert!(
                shown.abs_diff(len) * 100 <= len.max(1) * 6,
                "{url_path}{}: listed {shown}, actual {len}",
                e.name
            );
            checked += 1;
        }
    }
    assert!(checked >= 16, "only {checked} files seen");
}
