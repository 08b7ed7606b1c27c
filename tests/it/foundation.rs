//! Issue 2 acceptance: scan, aliases, resolve, dedup, locking, impostors, CLI contract.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use crate::common::*;

/// Two identical files under different names in two mission trees plus a symlink
/// with a third name.
fn three_names(env: &Env) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let bytes = spk_bytes(1, 50_000);
    let a = env.work("juice/kernels/spk/jup365.bsp");
    let b = env.work("mex/kernels/spk/jup365_19900101_20500101.bsp");
    let c = env.work("juice/kernels/spk/jupiter_latest.bsp");
    write(&a, &bytes);
    write(&b, &bytes);
    symlink("jup365.bsp", &c);
    (a, b, c)
}

#[test]
fn aliases_by_any_name_or_prefix_list_every_name_and_location() {
    let env = Env::new();
    let (a, b, c) = three_names(&env);
    env.ok(&[
        "scan",
        env.work("juice").to_str().unwrap(),
        "--mission",
        "JUICE",
    ]);
    env.ok(&[
        "scan",
        env.work("mex").to_str().unwrap(),
        "--mission",
        "MEX",
    ]);
    assert_eq!(env.count("kernels"), 1);
    let sha = sha256(&a);
    for q in [
        "jup365.bsp",
        "jup365_19900101_20500101.bsp",
        "jupiter_latest.bsp",
        &sha[..6],
    ] {
        let j = env.json(&["aliases", q]);
        assert_eq!(j["sha256"], sha.as_str(), "query {q}");
        let mut names: Vec<&str> = j["aliases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "jup365.bsp",
                "jup365_19900101_20500101.bsp",
                "jupiter_latest.bsp"
            ],
            "query {q}"
        );
        let locs: Vec<(&str, &str)> = j["locations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["path"].as_str().unwrap(), l["kind"].as_str().unwrap()))
            .collect();
        assert!(locs.contains(&(a.to_str().unwrap(), "file")), "{locs:?}");
        assert!(locs.contains(&(b.to_str().unwrap(), "file")), "{locs:?}");
        assert!(locs.contains(&(c.to_str().unwrap(), "symlink")), "{locs:?}");
        assert_eq!(j["kernel_type"], "spk");
        assert_eq!(j["size"], 51_024);
    }
    // The symlink never changed the target's mission or row.
    let target = env.json(&["resolve", "jup365.bsp"]);
    assert_eq!(target["path"], a.to_str().unwrap());
    assert_eq!(target["mission"], "JUICE");
    let unknown = env.run(&["aliases", "nope.bsp"]);
    assert_eq!(unknown.status.code(), Some(1));
    let unknown = env.run(&["aliases", "abcdef0123"]);
    assert_eq!(unknown.status.code(), Some(1));
}

#[test]
fn rescan_rehashes_nothing_then_exactly_the_modified_file() {
    let env = Env::new();
    for i in 0..5 {
        write(&env.work(&format!("t/spk/k{i}.bsp")), &spk_bytes(i, 10_000));
    }
    let dir = env.work("t");
    let first = env.json(&["scan", dir.to_str().unwrap()]);
    assert_eq!(first["hashed"], 5);
    let second = env.json(&["scan", dir.to_str().unwrap()]);
    assert_eq!(second["hashed"], 0);
    assert_eq!(second["unchanged"], 5);
    let changed = env.work("t/spk/k3.bsp");
    let before = sha256(&changed);
    write(&changed, &spk_bytes(99, 10_000));
    let third = env.json(&["scan", dir.to_str().unwrap()]);
    assert_eq!(third["hashed"], 1);
    assert_eq!(third["changed"], 1);
    assert_eq!(third["unchanged"], 4);
    let now = env.json(&["resolve", "k3.bsp"]);
    assert_eq!(now["sha256"], sha256(&changed));
    assert_ne!(now["sha256"], before);
    // The old content keeps its alias trail.
    let old = env.json(&["aliases", &before[..8]]);
    assert_eq!(old["canonical"], "k3.bsp");
}

fn dup_tree(env: &Env) -> std::path::PathBuf {
    let root = env.work("d");
    let a = spk_bytes(7, 30_000);
    let b = text_kernel(3);
    write(&root.join("m1/spk/a.bsp"), &a);
    write(&root.join("m2/spk/a_copy.bsp"), &a);
    write(&root.join("m3/spk/a.bsp"), &a);
    write(&root.join("m1/lsk/b.tls"), &b);
    write(&root.join("m2/lsk/b.tls"), &b);
    write(&root.join("m1/spk/unique.bsp"), &spk_bytes(8, 1000));
    root
}

#[test]
fn dedup_dry_run_changes_nothing_and_execute_keeps_every_path_readable() {
    let env = Env::new();
    let root = dup_tree(&env);
    env.ok(&["scan", root.to_str().unwrap()]);
    let before = snapshot(&root);
    let plan = env.json(&["dedup"]);
    assert_eq!(plan["executed"], false);
    assert_eq!(
        snapshot(&root),
        before,
        "dry run changed a byte or an inode"
    );
    let a_size = 31_024u64;
    let b_size = text_kernel(3).len() as u64;
    // The three copies of `a` link to its object (the first copy's inode became it);
    // the text kernel `b`, which users edit, is never replaced by a symbolic link.
    assert_eq!(plan["plan"]["bytes_saved"], 2 * a_size);

    let done = env.json(&["dedup", "--execute"]);
    assert_eq!(done["replaced"], 3);
    assert_eq!(done["bytes_saved"], 2 * a_size);
    let after = snapshot(&root);
    assert_eq!(before.len(), after.len());
    for (path, (_, _, sha)) in &before {
        assert_eq!(
            &after[path].2,
            sha,
            "`{}` reads different bytes",
            path.display()
        );
    }
    let links = after.values().filter(|(link, _, _)| *link).count();
    assert_eq!(links, 3, "every binary copy is now a link");
    assert_catalogue_matches_disk(&env);
    // Physical bytes now count the binary content once.
    let stats = env.json(&["stats"]);
    assert_eq!(stats["physical_bytes"], a_size + 2 * b_size + 2024);
    let dups = env.json(&["duplicates"]);
    assert_eq!(dups["groups"].as_array().unwrap().len(), 1, "{dups}");
}

#[test]
fn dedup_hardlink_mode_shares_inodes() {
    let env = Env::new();
    let root = dup_tree(&env);
    env.ok(&["scan", root.to_str().unwrap()]);
    let before = snapshot(&root);
    let done = env.json(&["dedup", "--execute", "--link", "hardlink"]);
    assert_eq!(done["replaced"], 3);
    let after = snapshot(&root);
    for (path, (_, _, sha)) in &before {
        assert_eq!(&after[path].2, sha);
        assert!(!after[path].0, "hardlink mode made a symlink");
    }
    assert_eq!(
        after[&root.join("m1/spk/a.bsp")].1,
        after[&root.join("m3/spk/a.bsp")].1
    );
    assert_catalogue_matches_disk(&env);
}

#[test]
fn dedup_skips_edited_victim_and_never_deletes_when_kept_copy_vanished() {
    let env = Env::new();
    let root = dup_tree(&env);
    env.ok(&["scan", root.to_str().unwrap()]);
    // Edited after the scan: must be left alone.
    let edited = root.join("m2/spk/a_copy.bsp");
    write(&edited, &spk_bytes(1234, 30_000));
    let edited_sha = sha256(&edited);
    let out = env.run(&["dedup", "--execute", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "partial: a replacement was skipped"
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let skipped = j["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["path"], edited.to_str().unwrap());
    assert!(skipped[0]["reason"].as_str().unwrap().contains("changed"));
    assert!(
        !std::fs::symlink_metadata(&edited)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(sha256(&edited), edited_sha);

    // Fresh tree: the copy whose bytes were to become the kept object (the first of
    // the group; `keep` is the object in the store it would be archived into) is
    // deleted before execution.
    let env = Env::new();
    let root = dup_tree(&env);
    env.ok(&["scan", root.to_str().unwrap()]);
    let plan = env.json(&["dedup"]);
    let keep = plan["plan"]["groups"][0]["keep"].as_str().unwrap();
    assert!(keep.starts_with(env.home().to_str().unwrap()), "{plan}");
    let mut victims: Vec<String> = plan["plan"]["groups"][0]["replace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    std::fs::remove_file(victims.remove(0)).unwrap();
    let before = snapshot(&root);
    let out = env.run(&["dedup", "--execute", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let after = snapshot(&root);
    for v in &victims {
        let p = Path::new(v);
        assert!(after.contains_key(p), "victim `{v}` was deleted");
        assert_eq!(after[p], before[p], "victim `{v}` was touched");
        assert!(after[p].2.is_some(), "victim `{v}` dangles");
    }
    assert_eq!(after.len(), before.len());
}

/// Invariant 1: replacing the bytes behind a name whose path is a link to a shared
/// object never writes into the object; eight parallel replacements of eight aliases
/// leave the shared object and each other alias intact.
#[test]
fn replacing_a_linked_name_never_writes_through_the_link() {
    use kdb::store::{Home, fsio};
    let env = Env::new();
    let shared = spk_bytes(42, 100_000);
    for i in 0..8 {
        write(&env.work(&format!("tree/spk/alias{i}.bsp")), &shared);
    }
    env.ok(&["scan", env.work("tree").to_str().unwrap(), "--archive"]);
    let object = Home::new(env.home()).object_path(
        &kdb::store::Sha256Hex::parse(&sha256(&env.work("tree/spk/alias0.bsp"))).unwrap(),
    );
    assert!(
        std::fs::symlink_metadata(env.work("tree/spk/alias0.bsp"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let object_sha = sha256(&object);

    std::thread::scope(|s| {
        for i in 0..8 {
            let path = env.work(&format!("tree/spk/alias{i}.bsp"));
            s.spawn(move || {
                let new = spk_bytes(1000 + i, 100_000);
                let mut reader = new.as_slice();
                let staged = fsio::stage(path.parent().unwrap(), &mut reader, &mut |_| {}).unwrap();
                staged.persist(&path, true).unwrap();
            });
        }
    });
    assert_eq!(
        sha256(&object),
        object_sha,
        "the shared object was written through a link"
    );
    for i in 0..8u64 {
        let path = env.work(&format!("tree/spk/alias{i}.bsp"));
        assert!(
            !std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            spk_bytes(1000 + i, 100_000),
            "alias{i} has another's bytes"
        );
    }
}

/// Two processes at once on one home: both finish; the second says it waits.
#[test]
fn concurrent_processes_wait_for_the_lock_and_both_succeed() {
    let env = Env::new();
    let root = dup_tree(&env);
    std::fs::create_dir_all(env.home()).unwrap();
    // Hold the lock ourselves so both processes must wait, then release it.
    #[allow(clippy::disallowed_methods)]
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(env.home().join(".lock"))
        .unwrap();
    lock.lock().unwrap();
    let spawn = |args: &[&str]| {
        env.kdb()
            .args(args)
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut scan = spawn(&["scan", root.to_str().unwrap()]);
    let mut dedup = spawn(&["dedup", "--execute"]);
    let mut readers = Vec::new();
    for child in [&mut scan, &mut dedup] {
        let mut r = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(
            line.contains("waiting for lock"),
            "expected a wait notice, got {line:?}"
        );
        readers.push(r);
    }
    lock.unlock().unwrap();
    for child in [scan, dedup] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{:?}", out);
    }
    assert_catalogue_matches_disk(&env);
    assert_eq!(env.count("kernels"), 3);
}

#[test]
fn impostors_named_bsp_are_not_kernels() {
    let env = Env::new();
    write(
        &env.work("t/html.bsp"),
        b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>\n",
    );
    write(
        &env.work("t/lfs.bsp"),
        b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 12345\n",
    );
    write(&env.work("t/empty.bsp"), b"");
    write(&env.work("t/real.bsp"), &spk_bytes(5, 100));
    let j = env.json(&["scan", env.work("t").to_str().unwrap()]);
    let skipped = j["skipped"].as_array().unwrap();
    let reason = |name: &str| {
        skipped
            .iter()
            .find(|s| s["path"].as_str().unwrap().ends_with(name))
            .map(|s| s["reason"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("{name} not reported"))
    };
    assert!(reason("html.bsp").contains("HTML"));
    assert!(reason("lfs.bsp").contains("LFS"));
    assert!(reason("empty.bsp").contains("empty"));
    assert_eq!(env.count("kernels"), 1);
    assert_eq!(env.count("locations"), 1);
    assert_eq!(env.run(&["resolve", "html.bsp"]).status.code(), Some(1));
}

#[test]
fn byte_order_is_recorded_for_both_endiannesses() {
    let env = Env::new();
    write(&env.work("t/le.bsp"), &spk_bytes(1, 10));
    let mut be = daf_bytes(b"DAF/CK  ", 2, 10);
    be[88..96].copy_from_slice(b"BIG-IEEE");
    write(&env.work("t/be.bc"), &be);
    env.ok(&["scan", env.work("t").to_str().unwrap()]);
    assert_eq!(env.json(&["aliases", "le.bsp"])["byte_order"], "LTL-IEEE");
    let ck = env.json(&["aliases", "be.bc"]);
    assert_eq!(ck["byte_order"], "BIG-IEEE");
    assert_eq!(ck["kernel_type"], "ck");
}

#[test]
fn resolve_is_exact_prefers_real_name_and_mission_and_warns_on_fallback() {
    let env = Env::new();
    write(
        &env.work("juice/kernels/ck/juice_sc_v01.bc"),
        &daf_bytes(b"DAF/CK  ", 1, 100),
    );
    write(
        &env.work("juice/kernels/mk/juice_sc_v02.tm"),
        b"KPL/MK\n\\begindata\n",
    );
    let shared = spk_bytes(9, 100);
    write(&env.work("mex/kernels/spk/de440s.bsp"), &shared);
    write(&env.work("juice/kernels/spk/de440s_copy.bsp"), &shared);
    env.ok(&[
        "scan",
        env.work("juice").to_str().unwrap(),
        "--mission",
        "JUICE",
    ]);
    env.ok(&[
        "scan",
        env.work("mex").to_str().unwrap(),
        "--mission",
        "MEX",
    ]);
    // Exact names only: v02.bc does not resolve to v01.bc, nor .bsp to .tm.
    assert_eq!(
        env.run(&["resolve", "juice_sc_v02.bc"]).status.code(),
        Some(1)
    );
    assert_eq!(
        env.run(&["resolve", "juice_sc_v02.bsp"]).status.code(),
        Some(1)
    );
    assert_eq!(env.run(&["resolve", "juice_sc"]).status.code(), Some(1));
    // A file actually named NAME wins over a byte-identical file of the preferred mission.
    let out = env.run(&["resolve", "de440s.bsp", "--mission", "JUICE"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        env.work("mex/kernels/spk/de440s.bsp").to_str().unwrap()
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("warning"),
        "fallback must warn"
    );
    let same = env.run(&["resolve", "de440s.bsp", "--mission", "MEX"]);
    assert!(
        same.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
    // A file modified since it was hashed is not "present".
    write(&env.work("mex/kernels/spk/de440s.bsp"), &spk_bytes(10, 100));
    let stale = env.json(&["resolve", "de440s.bsp", "--mission", "MEX"]);
    assert_eq!(stale["matched_by"], "alias");
    assert_eq!(
        stale["path"],
        env.work("juice/kernels/spk/de440s_copy.bsp")
            .to_str()
            .unwrap()
    );
}

#[test]
fn cli_contract_no_catalogue_no_terminal_and_config() {
    let env = Env::new();
    let out = env.run(&["stats"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no catalogue") && err.contains("kdb scan"),
        "{err}"
    );
    assert!(!err.contains("panicked") && !err.contains("backtrace"));

    write(&env.work("t/a.bsp"), &spk_bytes(1, 10));
    env.ok(&["scan", env.work("t").to_str().unwrap()]);
    let out = env.run(&["reset"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert!(env.home().join("kdb.sqlite").exists());
    let out = env.run(&["aliases"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no argument without a terminal is an error"
    );
    env.ok(&["reset", "-y"]);
    assert!(!env.home().join("kdb.sqlite").exists());
    assert!(
        env.work("t/a.bsp").exists(),
        "reset never deletes kernel files"
    );

    env.ok(&["config", "set", "lock_timeout", "7"]);
    assert_eq!(env.ok(&["config", "get", "lock_timeout"]).trim(), "7");
    let cfg = env.json(&["config"]);
    assert_eq!(cfg["lock_timeout"]["source"], "config");
    assert_eq!(cfg["home"]["source"], "env");
    assert_eq!(
        env.run(&["config", "set", "lock_timeout", "soon"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(env.run(&["config", "get", "colour"]).status.code(), Some(2));
}

#[test]
fn archive_keeps_same_named_different_files_apart_and_readable() {
    let env = Env::new();
    let a = env.work("t/m1/spk/de.bsp");
    let b = env.work("t/m2/spk/de.bsp");
    write(&a, &spk_bytes(1, 3000));
    write(&b, &spk_bytes(2, 3000));
    let (sa, sb) = (sha256(&a), sha256(&b));
    let j = env.json(&["scan", env.work("t").to_str().unwrap(), "--archive"]);
    assert_eq!(j["archived"], 2);
    for (p, sha) in [(&a, &sa), (&b, &sb)] {
        let target = std::fs::read_link(p).unwrap();
        assert!(
            target.starts_with(env.home().join("objects")),
            "{}",
            target.display()
        );
        assert!(target.ends_with(sha.as_str()));
        assert_eq!(
            &sha256(p),
            sha,
            "`{}` no longer reads its bytes",
            p.display()
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o444
        );
    }
    assert_catalogue_matches_disk(&env);
    // Rescanning the archived tree changes nothing and re-hashes nothing.
    let again = env.json(&["scan", env.work("t").to_str().unwrap()]);
    assert_eq!(again["hashed"], 0);
}

/// On a terminal (a pty from util-linux `script`), `aliases` without an argument offers
/// the contents known under several names, most-aliased first.
#[test]
fn aliases_without_argument_offers_a_picker_on_a_terminal() {
    let env = Env::new();
    let bytes = spk_bytes(3, 100);
    for n in ["one.bsp", "two.bsp", "three.bsp"] {
        write(&env.work(&format!("t/a/{n}")), &bytes);
    }
    write(&env.work("t/b/x.bc"), &daf_bytes(b"DAF/CK  ", 4, 10));
    write(&env.work("t/b/y.bc"), &daf_bytes(b"DAF/CK  ", 4, 10));
    env.ok(&["scan", env.work("t").to_str().unwrap()]);
    let cmd = format!("{} aliases", env!("CARGO_BIN_EXE_kdb"));
    let mut child = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("KDB_HOME", env.home())
        .env("KDB_CONFIG", env.root().join("config.toml"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"1\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text
        .find("one.bsp")
        .or(text.find("three.bsp"))
        .expect("picker lists the 3-name content");
    let second = text.find("x.bc").expect("picker lists the 2-name content");
    assert!(first < second, "most-aliased first:\n{text}");
    assert!(
        text.contains(&sha256(&env.work("t/a/one.bsp"))),
        "the chosen content is shown:\n{text}"
    );
}
