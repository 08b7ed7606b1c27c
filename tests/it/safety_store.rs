//! Issue 19, items 1–5 and 7: the store and the user's files under `scan --archive`,
//! `prune`, `reset` and `get`, reached from new angles (DESIGN.md §3, invariants 8–10).
//! Every test hashes every file it created outside the home before and after, and
//! checks every object hashes to its name.
#![allow(clippy::disallowed_methods)] // the tests move and link directories as a user would

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

fn demo_url() -> String {
    let mk = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/pub/naif/DEMO/kernels/mk/demo.tm");
    format!("file://{}", mk.display())
}

/// The real binary with an explicit home spelling.
fn kdb_at(env: &Env, home: &Path) -> Command {
    let mut c = env.kdb();
    c.env("KDB_HOME", home);
    c
}

fn run_at(env: &Env, home: &Path, args: &[&str]) -> Output {
    kdb_at(env, home).args(args).output().unwrap()
}

fn ok_at(env: &Env, home: &Path, args: &[&str]) -> String {
    let out = run_at(env, home, args);
    assert!(
        out.status.success(),
        "kdb {args:?} (home {}) failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
        home.display(),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Path → sha256 of the bytes read through it (links followed), for every file
/// and link under `dir`; a path that cannot be read maps to `None`.
fn user_bytes(dir: &Path) -> BTreeMap<PathBuf, Option<String>> {
    snapshot(dir)
        .into_iter()
        .map(|(p, (_, _, sha))| (p, sha))
        .collect()
}

/// Every object is a regular read-only file whose bytes hash to its name.
fn assert_objects_whole(home: &Path) {
    let objects = home.join("objects/sha256");
    let Ok(shards) = std::fs::read_dir(&objects) else {
        return;
    };
    for shard in shards {
        for e in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            assert!(
                meta.file_type().is_file(),
                "object `{}` is not a regular file",
                p.display()
            );
            let name = p.file_name().unwrap().to_str().unwrap();
            if name.starts_with(".kdb-tmp-") {
                continue;
            }
            assert_eq!(sha256(&p), name, "object `{}` lost its bytes", p.display());
        }
    }
}

/// A structurally valid little-endian DAF/SPK (file record, one empty summary
/// record, FTP string) followed by `len` bytes derived from `seed`.
fn valid_spk(seed: u64, len: usize) -> Vec<u8> {
    let mut v = spk_bytes(seed, 1024 + len);
    v[76..80].copy_from_slice(&2u32.to_le_bytes()); // FWARD
    v[80..84].copy_from_slice(&2u32.to_le_bytes()); // BWARD
    v[84..88].copy_from_slice(&3u32.to_le_bytes()); // FREE
    v[699..727].copy_from_slice(b"FTPSTR:\r:\n:\r\n:\r\x00:\x81:\x10\xce:ENDFTP");
    v[1024..2048].fill(0); // NEXT = PREV = NSUM = 0.0
    v
}

fn kernel_tree(root: &Path, n: u64) {
    for i in 0..n {
        write(
            &root.join(format!("spk/k{i}.bsp")),
            &valid_spk(7000 + i, 4000),
        );
    }
}

/// The one entry named `name` under `dir` (links not followed).
fn find(dir: &Path, name: &str) -> PathBuf {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_name() == name)
        .unwrap_or_else(|| panic!("no `{name}` under `{}`", dir.display()))
        .path()
        .to_path_buf()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Item 1: a home reached through a symlink, and a scan through a symlinked parent,
/// leave the store alone: no object becomes a link, `verify --deep` stays clean.
#[test]
fn scan_archive_through_a_second_spelling_of_the_home_keeps_every_object() {
    let env = Env::new();
    let u = env.work("u");
    let real_home = u.join("data/kdb");
    ok_at(&env, &real_home, &["get", "-y", "-q", &demo_url()]);
    let n_objects = snapshot(&real_home.join("objects")).len();
    assert!(n_objects >= 3);
    kernel_tree(&u.join("mine"), 3);
    let mine_before = user_bytes(&u.join("mine"));

    // KDB_HOME spelled through a symlink.
    symlink(&real_home, &u.join("kdb"));
    let link_home = u.join("kdb");
    ok_at(
        &env,
        &link_home,
        &["scan", u.to_str().unwrap(), "--archive", "-q"],
    );
    assert_objects_whole(&real_home);
    // The scan through a symlinked parent of the home.
    let alias = env.work("ualias");
    symlink(&u, &alias);
    ok_at(
        &env,
        &real_home,
        &["scan", alias.to_str().unwrap(), "--archive", "-q"],
    );
    assert_objects_whole(&real_home);
    let out = run_at(&env, &real_home, &["verify", "--deep"]);
    assert!(
        out.status.success(),
        "verify --deep after the scans: {}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    // The user's own files were archived and still read their bytes.
    assert_eq!(user_bytes(&u.join("mine")), mine_before);
    assert!(
        std::fs::symlink_metadata(u.join("mine/spk/k0.bsp"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// Item 1: scanning a directory that contains the home drops none of the home's rows.
#[test]
fn scanning_a_directory_that_holds_the_home_forgets_nothing() {
    let env = Env::new();
    let u2 = env.work("u2");
    let home = u2.join("kdb");
    ok_at(&env, &home, &["get", "-y", "-q", &demo_url()]);
    let rows = |home: &Path| -> i64 {
        rusqlite::Connection::open(home.join("kdb.sqlite"))
            .unwrap()
            .query_row("SELECT COUNT(*) FROM locations", [], |r| r.get(0))
            .unwrap()
    };
    let before = rows(&home);
    let out = ok_at(&env, &home, &["scan", u2.to_str().unwrap(), "--json"]);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["removed"], 0, "{j}");
    assert_eq!(rows(&home), before);
    // Scanning the store itself is refused.
    let out = run_at(
        &env,
        &home,
        &["scan", home.join("objects").to_str().unwrap(), "--archive"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_objects_whole(&home);
    ok_at(&env, &home, &["verify", "--deep"]);
}

/// Item 2: a file the user keeps inside the home is never pruned.
#[test]
fn prune_never_deletes_a_users_file_inside_the_home() {
    let env = Env::new();
    let home = env.home();
    let mine = home.join("spice/k.bsp");
    write(&mine, &valid_spk(11, 5000));
    let sha = sha256(&mine);
    env.ok(&["scan", home.join("spice").to_str().unwrap()]);
    env.ok(&["prune", "--execute"]);
    env.ok(&["prune", "--execute"]);
    assert_eq!(
        sha256(&mine),
        sha,
        "prune deleted or changed the user's file"
    );
    // Archived inside the home: the link and its object stay too.
    env.ok(&["scan", home.join("spice").to_str().unwrap(), "--archive"]);
    env.ok(&["prune", "--execute"]);
    assert_eq!(sha256(&mine), sha);
    assert_objects_whole(&home);
}

/// Item 3: a scanned directory briefly absent (an unplugged disk), then two prunes:
/// nothing is lost; and `reset` then `prune` keeps every archived object.
#[test]
fn a_briefly_absent_directory_or_a_reset_loses_no_archived_kernel() {
    let env = Env::new();
    let ext = env.work("ext");
    kernel_tree(&ext.join("spice"), 4);
    let before = user_bytes(&ext);
    env.ok(&["scan", ext.join("spice").to_str().unwrap(), "--archive"]);
    assert_eq!(user_bytes(&ext), before);
    let away = env.work("ext.away");
    std::fs::rename(&ext, &away).unwrap();
    env.ok(&["prune", "--execute"]);
    env.ok(&["prune", "--execute"]);
    std::fs::rename(&away, &ext).unwrap();
    assert_eq!(
        user_bytes(&ext),
        before,
        "the archived links dangle after the disk came back"
    );
    assert_objects_whole(&env.home());

    env.ok(&["reset", "-y"]);
    let j = env.json(&["prune", "--execute"]);
    assert_eq!(j["removed"].as_array().unwrap().len(), 0, "{j}");
    assert_eq!(j["strays"].as_array().unwrap().len(), 4, "{j}");
    assert_eq!(
        user_bytes(&ext),
        before,
        "reset + prune lost archived kernels"
    );
    assert_objects_whole(&env.home());
}

/// Found by the random sequences (seed 1796311765829666817): a content archived by
/// `scan --archive`, then `reset`, then acquired again by a `get` whose metakernel is
/// removed. The `get` found the object in the store without a row; it must not make it
/// an ordinary object that `prune` reclaims once nothing references it (the user's
/// archived link points at it), so it is pinned under `found in the store`.
#[test]
fn an_archived_content_found_again_after_a_reset_is_kept() {
    let env = Env::new();
    let mine = env.work("b/x/dup.bsp");
    let bytes = valid_spk(7001, 4000);
    write(&mine, &bytes);
    let before = user_bytes(&env.work("b"));
    let url = generated_archive(&env, &bytes);
    env.ok(&["scan", env.work("b").to_str().unwrap(), "--archive", "-q"]);
    env.ok(&["reset", "-y"]);
    env.ok(&["get", "-y", "-q", &url]);
    let pins = env.json(&["pins"]);
    let labels: Vec<&str> = pins
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["label"].as_str())
        .collect();
    assert_eq!(labels, ["found in the store"], "{pins}");
    env.ok(&["metakernels", "--remove", "gen.tm"]);
    env.ok(&["prune", "--execute", "-q"]);
    assert_eq!(
        user_bytes(&env.work("b")),
        before,
        "prune reclaimed the object an archived link points at"
    );
    assert_objects_whole(&env.home());
}

/// Found by the random sequences (seed 1796312530430895597): `dedup` replaced a copy
/// in one directory by a symbolic link to the copy in another, so the first read
/// nothing while the second was away (an unplugged disk). Symbolic links now point
/// into the store: the content is archived first and every copy links to the object.
#[test]
fn dedup_links_survive_the_other_directory_going_away() {
    let env = Env::new();
    let (a, b) = (env.work("a"), env.work("b"));
    let bytes = valid_spk(7001, 4000);
    write(&a.join("spk/k1.bsp"), &bytes);
    write(&b.join("x/dup.bsp"), &bytes);
    write(&a.join("fk/f.tf"), &text_kernel(5));
    write(&b.join("fk/f.tf"), &text_kernel(5));
    let (before_a, before_b) = (user_bytes(&a), user_bytes(&b));
    env.ok(&["scan", a.to_str().unwrap(), "-q"]);
    env.ok(&["scan", b.to_str().unwrap(), "-q"]);
    let j = env.json(&["dedup", "--execute"]);
    assert_eq!(j["replaced"], 2, "{j}");
    assert_eq!(j["bytes_saved"], bytes.len(), "{j}");
    let away = env.work("a.away");
    std::fs::rename(&a, &away).unwrap();
    assert_eq!(
        user_bytes(&b),
        before_b,
        "b's copy read through a's directory"
    );
    env.ok(&["prune", "--execute", "-q"]);
    env.ok(&["scan", b.to_str().unwrap(), "-q"]);
    env.ok(&["prune", "--execute", "-q"]);
    assert_eq!(user_bytes(&b), before_b);
    std::fs::rename(&away, &a).unwrap();
    assert_eq!(user_bytes(&a), before_a);
    // Text kernels (which users edit) are not linked across directories.
    assert!(
        std::fs::symlink_metadata(b.join("fk/f.tf"))
            .unwrap()
            .is_file()
    );
    assert_objects_whole(&env.home());
}

/// Item 4: symlinked `missions/<M>`, `objects/`, a shard and `tmp/` are refused with a
/// clear error; nothing is written or deleted through them.
#[test]
fn symlinked_directories_inside_the_home_are_refused() {
    for which in ["missions/DEMO", "objects", "shard", "tmp"] {
        let env = Env::new();
        let home = env.home();
        env.ok(&["get", "-y", "-q", &demo_url()]);
        let victim = env.work("victim");
        write(&victim.join("precious.txt"), b"the user's own file\n");
        let real = match which {
            "shard" => {
                let shards = home.join("objects/sha256");
                std::fs::read_dir(&shards)
                    .unwrap()
                    .next()
                    .unwrap()
                    .unwrap()
                    .path()
            }
            w => home.join(w),
        };
        // Move the real directory's content to the victim and link it there.
        let moved = env.work("moved");
        std::fs::rename(&real, &moved).unwrap();
        symlink(&victim, &real);
        let victim_before = user_bytes(&victim);
        for args in [
            vec!["get", "-y", "--force", "-q", &demo_url()],
            vec!["prune", "--execute"],
            vec!["metakernels", "--remove", "demo.tm"],
        ] {
            if args[0] == "metakernels" {
                // Unregister, then prune: the removed metakernel's tree is not followed.
                let _ = env.run(&args);
                let out = env.run(&["prune", "--execute"]);
                assert_eq!(out.status.code(), Some(2), "{which}: {}", stderr(&out));
                continue;
            }
            let out = env.run(&args);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{which}: {args:?} was not refused: {}",
                stderr(&out)
            );
            assert!(
                stderr(&out).contains("symbolic link"),
                "{which}: {}",
                stderr(&out)
            );
        }
        assert_eq!(
            user_bytes(&victim),
            victim_before,
            "{which}: victim changed"
        );
    }
}

/// Item 4: a kdb link in a mission tree replaced by a hand-edited file is kept.
#[test]
fn prune_keeps_a_file_that_replaced_a_kdb_link() {
    let env = Env::new();
    env.ok(&["get", "-y", "-q", &demo_url()]);
    let tls = find(&env.home().join("missions/DEMO"), "demo_lsk_v01.tls");
    assert!(
        std::fs::symlink_metadata(&tls)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let edited = b"KPL/LSK\n\\begindata\nDELTET/DELTA_T_A = 32.184\n\\begintext\nmy notes\n";
    std::fs::remove_file(&tls).unwrap();
    write(&tls, edited);
    let sha = sha256(&tls);
    env.ok(&["metakernels", "--remove", "demo.tm"]);
    let out = env.run(&["prune", "--execute"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(sha256(&tls), sha, "prune deleted the hand-edited file");
    assert_objects_whole(&env.home());
}

/// Item 5: `scan --archive` leaves metakernels and text kernels editable files, and
/// no `fix:` line of `verify` suggests deleting an object.
#[test]
fn scan_archive_never_links_files_users_edit() {
    let env = Env::new();
    let dir = env.work("insitu");
    write(
        &dir.join("insitu.tm"),
        b"KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( 'k.bsp' )\n\\begintext\n",
    );
    write(&dir.join("naif.tls"), &text_kernel(3));
    write(&dir.join("k.bsp"), &valid_spk(5, 6000));
    let before = user_bytes(&dir);
    env.ok(&["scan", dir.to_str().unwrap(), "--archive"]);
    assert_eq!(user_bytes(&dir), before);
    for name in ["insitu.tm", "naif.tls"] {
        let m = std::fs::symlink_metadata(dir.join(name)).unwrap();
        assert!(m.file_type().is_file(), "{name} was archived as a link");
    }
    assert!(
        std::fs::symlink_metadata(dir.join("k.bsp"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // Damage the object behind k.bsp: verify names it, but never suggests `rm`.
    let object = std::fs::read_link(dir.join("k.bsp")).unwrap();
    let mut perms = std::fs::metadata(&object).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    std::fs::set_permissions(&object, perms).unwrap();
    let mut bytes = std::fs::read(&object).unwrap();
    bytes[2000] ^= 0xff;
    write(&object, &bytes);
    let out = env.run(&["verify", "--deep", "--json"]);
    assert!(!out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = j["findings"].as_array().unwrap();
    assert!(!findings.is_empty(), "{j}");
    for f in findings {
        let fix = f["fix"].as_str().unwrap();
        assert!(!fix.contains("rm "), "a fix suggests deleting: {fix}");
    }
    // A good copy archived again puts the right bytes back; the damaged ones are set aside.
    let good = env.work("good/k.bsp");
    write(&good, &valid_spk(5, 6000));
    env.ok(&[
        "scan",
        good.parent().unwrap().to_str().unwrap(),
        "--archive",
    ]);
    assert_eq!(
        sha256(&dir.join("k.bsp")),
        before[&dir.join("k.bsp")].clone().unwrap()
    );
    assert_objects_whole(&env.home());
    assert_eq!(
        std::fs::read_dir(env.home().join("quarantine"))
            .unwrap()
            .count(),
        1
    );
}

/// Item 7: a hard-linked inode is copied into the store, never adopted.
#[test]
fn scan_archive_copies_a_hard_linked_file() {
    use std::os::unix::fs::MetadataExt;
    let env = Env::new();
    let data = env.work("data/k.bsp");
    let backup = env.work("backup/k.bsp");
    write(&data, &valid_spk(9, 8000));
    #[allow(clippy::disallowed_methods)]
    std::fs::hard_link(&data, &backup).unwrap();
    let mode = std::fs::metadata(&backup).unwrap().mode();
    let sha = sha256(&backup);
    env.ok(&[
        "scan",
        data.parent().unwrap().to_str().unwrap(),
        "--archive",
    ]);
    let object = std::fs::read_link(&data).unwrap();
    let (o, b) = (
        std::fs::metadata(&object).unwrap(),
        std::fs::metadata(&backup).unwrap(),
    );
    assert_ne!(
        o.ino(),
        b.ino(),
        "the store adopted the user's hard-linked inode"
    );
    assert_eq!(b.mode(), mode, "the user's backup changed mode");
    assert_eq!(sha256(&backup), sha);
    assert_eq!(sha256(&data), sha);
    assert_objects_whole(&env.home());
}

/// A small generated archive served over `file://`: `mk/gen.tm` loading three SPKs
/// (one of them byte-identical to a user's file) and an LSK.
fn generated_archive(env: &Env, user_dup: &[u8]) -> String {
    let root = env.work("archive/GEN/kernels");
    write(&root.join("spk/g0.bsp"), &valid_spk(9100, 3000));
    write(&root.join("spk/g1.bsp"), &valid_spk(9101, 3000));
    write(&root.join("spk/dup.bsp"), user_dup);
    write(&root.join("lsk/g.tls"), &text_kernel(91));
    write(
        &root.join("mk/gen.tm"),
        b"KPL/MK\n\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'K' )\n\
          KERNELS_TO_LOAD = ( '$K/lsk/g.tls' '$K/spk/g0.bsp' '$K/spk/g1.bsp' '$K/spk/dup.bsp' )\n\
          \\begintext\n",
    );
    format!("file://{}", root.join("mk/gen.tm").display())
}

/// Acceptance 2: random sequences of acquisitions, scans, dedups, prunes, resets,
/// removals, directory renames and homes reached through a symlink. After every step
/// each user file whose directory is in place reads the bytes it was created with
/// (archived or deduplicated into links, never lost), and every object hashes to its
/// name. The seed is printed; `KDB_SAFETY_SEED` replays one.
#[test]
fn random_command_sequences_never_lose_a_users_bytes() {
    let seed = std::env::var("KDB_SAFETY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Rng::from_time().1);
    eprintln!("safety property seed {seed} (KDB_SAFETY_SEED={seed} replays it)");
    let mut rng = Rng::new(seed);
    for sequence in 0..10 {
        let env = Env::new();
        let real_home = env.work("h/kdb");
        let link_parent = env.work("hl");
        symlink(env.work("h"), &link_parent);
        let homes = [real_home.clone(), link_parent.join("kdb")];
        let dirs = [env.work("a"), env.work("b")];
        kernel_tree(&dirs[0], 3);
        write(
            &dirs[0].join("notes.tm"),
            b"KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( 'spk/k0.bsp' )\n",
        );
        write(&dirs[0].join("lsk/l.tls"), &text_kernel(17));
        write(&dirs[1].join("x/dup.bsp"), &valid_spk(7001, 4000));
        write(&dirs[1].join("x/own.bsp"), &valid_spk(5555, 2500));
        let expected: Vec<BTreeMap<PathBuf, Option<String>>> =
            dirs.iter().map(|d| user_bytes(d)).collect();
        let urls = [demo_url(), generated_archive(&env, &valid_spk(7001, 4000))];
        let mut away = [false, false];
        let mut log = Vec::new();
        for _step in 0..16 {
            let home = &homes[rng.below(2) as usize];
            let d = rng.below(2) as usize;
            let url = &urls[rng.below(2) as usize];
            let dir = dirs[d].to_str().unwrap().to_owned();
            let args: Vec<String> = match rng.below(9) {
                0 => vec!["get".into(), "-y".into(), "-q".into(), url.clone()],
                1 => vec![
                    "get".into(),
                    "-y".into(),
                    "-q".into(),
                    "--force".into(),
                    url.clone(),
                ],
                2 => vec!["scan".into(), dir, "-q".into()],
                3 => vec!["scan".into(), dir, "--archive".into(), "-q".into()],
                4 => vec!["dedup".into(), "--execute".into(), "-q".into()],
                5 => vec!["prune".into(), "--execute".into(), "-q".into()],
                6 => vec!["reset".into(), "-y".into()],
                7 => {
                    let name = if rng.below(2) == 0 {
                        "demo.tm"
                    } else {
                        "gen.tm"
                    };
                    vec!["metakernels".into(), "--remove".into(), name.into()]
                }
                _ => {
                    // A directory renamed away (an unplugged disk) or brought back.
                    let gone = env.work(&format!(
                        "{}.away",
                        dirs[d].file_name().unwrap().to_str().unwrap()
                    ));
                    if away[d] {
                        std::fs::rename(&gone, &dirs[d]).unwrap();
                    } else {
                        std::fs::rename(&dirs[d], &gone).unwrap();
                    }
                    away[d] = !away[d];
                    log.push(format!("rename {} (away: {})", dirs[d].display(), away[d]));
                    continue;
                }
            };
            if args[0] == "scan" && away[d] {
                continue;
            }
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = run_at(&env, home, &argv);
            log.push(format!(
                "{argv:?} at {} -> {:?}",
                home.display(),
                out.status.code()
            ));
            let code = out.status.code();
            assert!(
                matches!(code, Some(0..=5)),
                "seed {seed}, sequence {sequence}: internal failure\n{}\n{}",
                log.join("\n"),
                stderr(&out)
            );
            for (i, dir) in dirs.iter().enumerate() {
                if away[i] {
                    continue;
                }
                assert_eq!(
                    user_bytes(dir),
                    expected[i],
                    "seed {seed}, sequence {sequence}: a user's file changed or was lost\n{}",
                    log.join("\n")
                );
            }
            assert_objects_whole(&real_home);
        }
        // Everything brought back: every user file reads its bytes.
        for (i, dir) in dirs.iter().enumerate() {
            if away[i] {
                let gone = env.work(&format!(
                    "{}.away",
                    dir.file_name().unwrap().to_str().unwrap()
                ));
                std::fs::rename(&gone, dir).unwrap();
            }
            assert_eq!(
                user_bytes(dir),
                expected[i],
                "seed {seed}\n{}",
                log.join("\n")
            );
        }
    }
}
