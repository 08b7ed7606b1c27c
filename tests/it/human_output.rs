//! The human output of every command (tables, messages, errors), pinned with insta
//! snapshots on one fixed fixture. Temp paths, times and the checkout are filtered;
//! times are replaced by placeholders of the same width so table borders stay put.

use std::path::Path;

use crate::common::{self, Env};

/// Copies the repository's offline demo archive into the test's temp dir, so every
/// path a table shows is under one prefix of fixed length.
fn demo_archive(env: &Env) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo");
    let dst = env.root().join("archive");
    for e in walkdir::WalkDir::new(&src) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(&src).unwrap();
            common::write(&dst.join(rel), &std::fs::read(e.path()).unwrap());
        }
    }
    format!("file://{}/pub/naif/DEMO/kernels/mk/", dst.display())
}

fn run(env: &Env, args: &[&str]) -> String {
    let out = env.kdb().env("COLUMNS", "200").args(args).output().unwrap();
    format!(
        "$ kdb {}\nexit: {:?}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn human_output_of_every_command() {
    let env = Env::new();
    let mk_dir = demo_archive(&env);
    let mk_url = format!("{mk_dir}demo.tm");
    let tree = env.work("tree");
    common::write(&tree.join("spk/a.bsp"), &common::spk_bytes(1, 4000));
    common::write(&tree.join("spk/b.bsp"), &common::spk_bytes(1, 4000));
    common::write(&tree.join("lsk/naif0012.tls"), &common::text_kernel(7));
    common::write(&tree.join("spk/page.bsp"), b"<html><body>404</body></html>");
    common::symlink("../spk/a.bsp", &tree.join("link/c.bsp"));
    let tree_s = tree.display().to_string();
    let out_mk = env.work("out/demo_local.tm").display().to_string();

    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("stats_without_catalogue", vec!["stats"]),
        ("scan", vec!["scan", &tree_s, "--mission", "TREE"]),
        ("get_without_terminal", vec!["get", &mk_url]),
        ("get_dry_run", vec!["get", &mk_url, "--dry-run"]),
        ("get", vec!["get", &mk_url, "-y"]),
        ("get_warm", vec!["get", &mk_url, "-y"]),
        ("update", vec!["update", "demo.tm", "-y"]),
        ("browse", vec!["browse", &mk_dir]),
        ("mission_list", vec!["mission", "list"]),
        ("metakernels", vec!["metakernels"]),
        ("list", vec!["list", "demo.tm"]),
        ("check", vec!["check", "demo.tm"]),
        ("rewrite", vec!["rewrite", "demo.tm", "-o", &out_mk]),
        ("dedup_dry_run", vec!["dedup"]),
        ("aliases", vec!["aliases", "a.bsp"]),
        ("resolve", vec!["resolve", "naif0012.tls"]),
        ("resolve_unknown", vec!["resolve", "nothing.bsp"]),
        ("stats", vec!["stats"]),
        ("duplicates", vec!["duplicates"]),
        ("dedup_execute", vec!["dedup", "--execute"]),
        ("config", vec!["config"]),
    ];
    let root = env.root().display().to_string();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/human");
    settings.set_prepend_module_to_snapshot(false);
    settings.add_filter(&regex::escape(&root), "[TMP]");
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "YYYY-MM-DDTHH:MM:SSZ");
    settings.add_filter(r"\d{4}-\d\d-\d\d \d\d:\d\d", "YYYY-MM-DD HH:MM");
    settings.add_filter(
        r"\(\d+(\.\d+)? [kMG]?B saved|saved \d+(\.\d+)? [kMG]?B",
        "$0",
    );
    settings.bind(|| {
        for (name, args) in cases {
            insta::assert_snapshot!(name, run(&env, &args));
        }
    });
}
