//! The `--json` contract: every JSON-speaking command, run on one fixed fixture, prints
//! exactly the bytes recorded in `tests/it/snapshots/` (temp paths, times and inode
//! numbers filtered). Scripts are written against these shapes; a refactor that changes
//! one byte of them fails here.

use std::path::Path;

use crate::common::{self, Env};

/// Replaces what legitimately differs between runs: the temp directory, the checkout,
/// timestamps and stat numbers.
fn filtered(env: &Env, repo: &Path, text: &str) -> String {
    let mut s = text.replace(&env.root().display().to_string(), "[TMP]");
    s = s.replace(&repo.display().to_string(), "[REPO]");
    let patterns: &[(&str, &str)] = &[
        (
            r#""(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)""#,
            r#""[TIME]""#,
        ),
        (
            r#""(mtime|mtime_ns|ino|dev|acquired_at|hashed_at|first_seen|modified)": -?\d+"#,
            r#""$1": 0"#,
        ),
        // file:// validators are derived from the checkout's modification times.
        (
            r#""(etag|last_modified)": "(?:[^"\\]|\\.)*""#,
            r#""$1": "[VALIDATOR]""#,
        ),
    ];
    for (pat, rep) in patterns {
        s = regex::Regex::new(pat)
            .unwrap()
            .replace_all(&s, *rep)
            .into_owned();
    }
    s
}

#[test]
fn every_json_command_prints_the_recorded_bytes() {
    let env = Env::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The archive is copied under the temp dir: paths (and so where a rewritten
    // metakernel wraps its long PATH_VALUES) must not depend on the checkout's path.
    let archive = env.root().join("archive");
    for e in walkdir::WalkDir::new(repo.join("demo")) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(repo.join("demo")).unwrap();
            common::write(&archive.join(rel), &std::fs::read(e.path()).unwrap());
        }
    }
    let mk_url = format!(
        "file://{}/pub/naif/DEMO/kernels/mk/demo.tm",
        archive.display()
    );
    let mk_dir = format!("file://{}/pub/naif/DEMO/kernels/mk/", archive.display());

    // A scanned tree with one content under two names and one symlink.
    let tree = env.work("tree");
    common::write(&tree.join("spk/a.bsp"), &common::spk_bytes(1, 4000));
    common::write(&tree.join("spk/b.bsp"), &common::spk_bytes(1, 4000));
    common::write(&tree.join("lsk/naif0012.tls"), &common::text_kernel(7));
    common::symlink("../spk/a.bsp", &tree.join("link/c.bsp"));
    let tree_s = tree.display().to_string();

    let out_mk = env.work("out/demo_local.tm");
    let out_mk_s = out_mk.display().to_string();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("scan", vec!["scan", &tree_s, "--mission", "TREE", "--json"]),
        ("get_dry_run", vec!["get", &mk_url, "--dry-run", "--json"]),
        ("get", vec!["get", &mk_url, "-y", "--json"]),
        ("get_warm", vec!["get", &mk_url, "-y", "--json"]),
        ("update", vec!["update", "demo.tm", "-y", "--json"]),
        ("browse", vec!["browse", &mk_dir, "--json"]),
        ("mission_list", vec!["mission", "list", "--json"]),
        ("metakernels", vec!["metakernels", "--json"]),
        ("list", vec!["list", "demo.tm", "--json"]),
        ("check", vec!["check", "demo.tm", "--json"]),
        (
            "rewrite",
            vec!["rewrite", "demo.tm", "-o", &out_mk_s, "--json"],
        ),
        ("dedup_dry_run", vec!["dedup", "--json"]),
        ("aliases", vec!["aliases", "a.bsp", "--json"]),
        ("resolve", vec!["resolve", "naif0012.tls", "--json"]),
        ("stats", vec!["stats", "--json"]),
        ("duplicates", vec!["duplicates", "--json"]),
        ("config", vec!["config", "--json"]),
    ];
    let mut failures = Vec::new();
    for (name, args) in cases {
        let out = env.run(&args);
        let text = format!(
            "exit: {:?}\n{}",
            out.status.code(),
            filtered(&env, repo, &String::from_utf8_lossy(&out.stdout))
        );
        let file = repo
            .join("tests/it/snapshots/json")
            .join(format!("{name}.json"));
        if std::env::var_os("KDB_RECORD_JSON").is_some() {
            common::write(&file, text.as_bytes());
            continue;
        }
        let recorded = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("no recorded output `{}`: {e}", file.display()));
        if recorded != text {
            failures.push(format!("{name}: expected\n{recorded}\ngot\n{text}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
