//! Issue 20: wrong answers and rough edges a new user meets. One regression test per
//! item, each failing before its fix.

use crate::common::archive::Archive;
use crate::common::*;
use crate::metakernel_cli::oracle;

/// Item 4: a metakernel written on Windows (`$KERNELS\naif.tls`, CRLF) rewritten for
/// this machine loads in CSPICE from any directory.
#[test]
fn rewrite_of_a_windows_metakernel_with_path_symbols_loads_in_cspice() {
    let env = Env::new();
    let dir = env.work("course");
    write(&dir.join("kernels/naif.tls"), &text_kernel(1));
    write(
        &dir.join("kernels/sub/gm.tpc"),
        b"KPL/PCK\r\n\\begindata\r\nBODY399_GM = ( 398600.0 )\r\n\\begintext\r\n",
    );
    write(
        &dir.join("ex.tm"),
        b"KPL/MK\r\n\\begindata\r\n    PATH_VALUES = ( 'kernels' )\r\n    PATH_SYMBOLS = ( 'KERNELS' )\r\n    \
          KERNELS_TO_LOAD = (\r\n        '$KERNELS\\naif.tls',\r\n        '$KERNELS\\sub\\gm.tpc'\r\n    )\r\n\\begintext\r\n",
    );
    env.ok(&["scan", dir.join("kernels").to_str().unwrap()]);
    let out = env.work("mine/ex.tm");
    let j = env.json(&[
        "rewrite",
        dir.join("ex.tm").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(j["unresolved"].as_array().unwrap().len(), 0, "{j}");
    let text = std::fs::read_to_string(&out).unwrap();
    let data = text
        .split("\\begindata")
        .nth(1)
        .and_then(|d| d.split("\\begintext").next())
        .unwrap();
    assert!(!data.contains('\\'), "entries keep back-slashes:\n{text}");
    assert!(text.contains("\r\n"), "line endings changed");
    if let Some(py) = python() {
        let cwd = env.work("elsewhere");
        std::fs::create_dir_all(&cwd).unwrap();
        let res = oracle(&py, &[(out.clone(), cwd)]);
        let loaded = res[0]["furnsh"]["loaded"]
            .as_array()
            .unwrap_or_else(|| panic!("CSPICE did not load the rewritten metakernel: {}", res[0]));
        assert_eq!(loaded.len(), 2, "{}", res[0]);
    }
    // The real one from a course (sgn_assignment1): every entry that resolves is
    // written with `/`.
    if let Some(real) = realdata() {
        let tree = real.join("trees/sgn_assignment1");
        env.ok(&["scan", tree.join("kernels").to_str().unwrap()]);
        let out = env.work("sgn/ex02.tm");
        // `de432s.bsp` is not in the tree: exit 3, one unresolved entry, file written.
        let res = env.run(&[
            "rewrite",
            tree.join("ex02.tm").to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(res.status.code(), Some(3));
        let text = std::fs::read_to_string(&out).unwrap();
        let data: String = text
            .split("\\begindata")
            .nth(1)
            .unwrap()
            .split("\\begintext")
            .next()
            .unwrap()
            .to_owned();
        assert!(!data.contains('\\'), "{data}");
        assert!(data.contains("naif0012.tls"), "{data}");
    }
}

/// Item 6: built-in frame names map to the class IDs binary PCK segments carry
/// (ITRF93 → 3000), both ways, in `which` and `coverage`.
#[test]
fn builtin_frame_names_are_understood_both_ways() {
    let Some(real) = realdata() else {
        return;
    };
    let env = Env::new();
    let dir = real.join("trees/esa_smart1_amiextractor/data/kernels");
    let bpc = dir.join("EARTH_000101_070708_070416.BPC");
    let mk = env.work("earth.tm");
    write(
        &mk,
        format!(
            "KPL/MK\n\\begindata\nPATH_VALUES = ( '{}' )\nPATH_SYMBOLS = ( 'K' )\n\
             KERNELS_TO_LOAD = ( '$K/NAIF0008.TLS' '$K/EARTH_000101_070708_070416.BPC' )\n\\begintext\n",
            dir.display()
        )
        .as_bytes(),
    );
    let mk = mk.to_str().unwrap();
    let by_name = env.json(&[
        "which",
        mk,
        "--frame",
        "ITRF93",
        "--at",
        "2005-01-01T00:00:00",
    ]);
    let by_id = env.json(&[
        "which",
        mk,
        "--frame",
        "3000",
        "--at",
        "2005-01-01T00:00:00",
    ]);
    assert_eq!(by_name, by_id);
    assert!(
        by_name
            .to_string()
            .contains("EARTH_000101_070708_070416.BPC"),
        "{by_name}"
    );
    let j = env.json(&["coverage", "ITRF93", "-f", bpc.to_str().unwrap()]);
    let ids = &j["kernels"][0]["ids"];
    assert_eq!(ids[0]["id"], 3000, "{j}");
    assert_eq!(ids[0]["name"], "ITRF93", "{j}");
}

/// Item 10: the time forms users copy from SPICE tools and other software are
/// accepted by every command; an inverted window is refused by `coverage` as by `gaps`.
#[test]
fn time_forms_from_spice_tools_are_accepted_and_inverted_windows_refused() {
    let Some(real) = realdata() else {
        return;
    };
    let env = Env::new();
    let dir = real.join("trees/esa_smart1_amiextractor/data/kernels");
    let lsk = dir.join("NAIF0008.TLS");
    let bpc = dir.join("EARTH_000101_070708_070416.BPC");
    let (lsk, bpc) = (lsk.to_str().unwrap(), bpc.to_str().unwrap());
    let base = env.json(&[
        "coverage",
        "3000",
        "-f",
        lsk,
        "-f",
        bpc,
        "--from",
        "2005-01-01T00:00:00",
        "--to",
        "2005-06-10T12:00:00",
    ]);
    for (from, to) in [
        ("2005-01-01T00:00:00Z", "2005-06-10T12:00:00Z"),
        ("2005 JAN 01 00:00", "2005 JUN 10 12:00:00 UTC"),
        ("JAN 1, 2005", "2005-161T12:00:00"),
        ("2005-001 // 00:00:00", "2005-161 // 12:00"),
    ] {
        let j = env.json(&[
            "coverage", "3000", "-f", lsk, "-f", bpc, "--from", from, "--to", to,
        ]);
        assert_eq!(j, base, "{from} .. {to}");
    }
    let out = env.run(&[
        "coverage",
        "3000",
        "-f",
        lsk,
        "-f",
        bpc,
        "--from",
        "2000-01-01",
        "--to",
        "1999-01-01",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("is after"));
    let out = env.run(&[
        "coverage",
        "3000",
        "-f",
        lsk,
        "-f",
        bpc,
        "--from",
        "2005-01-01T00:00+02:00",
        "--to",
        "2006-01-01",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only UTC"));
}

/// Item 7: the window plan converts a CK's ticks with the clock CSPICE uses
/// (`CK_-121001_SCLK = -121999` in BepiColombo's FK), not the one its ID implies.
/// CSPICE and `kdb coverage` put that CK at 2020-10-12T00:04:40.579 – 17:45:07.824.
#[test]
fn windowed_get_uses_the_ck_clock_the_fk_names() {
    let Some(real) = realdata() else {
        return;
    };
    let env = Env::new();
    let url = format!(
        "file://{}",
        real.join("trees/esa_bepic_workshop/kernels/mk/bc_training_class.tm")
            .display()
    );
    let decision = |from: &str| -> (String, String) {
        let j = env.json(&[
            "get",
            &url,
            "--from",
            from,
            "--to",
            "2020-10-22T18:00:00",
            "--dry-run",
        ]);
        let k = j["plan"]["window"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == "bc_mpo_sc_fmp_Venus1SwingbyMTP_00001_f20181127_v01.bc")
            .unwrap_or_else(|| panic!("{j}"))
            .clone();
        (
            k["decision"].as_str().unwrap().to_owned(),
            k["reason"].as_str().unwrap().to_owned(),
        )
    };
    // The CK ends at 17:45:07.824: a window from 17:45:08.5 has no segment of it
    // (the wrong clock put its end at 17:45:09).
    let (_, reason) = decision("2020-10-22T17:45:08.5");
    assert!(
        reason.contains(
            "no segment in the window (covers 2020-10-12T00:04:41 – 2020-10-22T17:45:08)"
        ),
        "{reason}"
    );
    let (d, reason) = decision("2020-10-22T17:45:07");
    assert_eq!(d, "taken");
    assert!(reason.contains("in the window"), "{reason}");
}

/// Item 15: after `reset`, `reindex --store` re-registers every object by its hash and
/// the mission-tree links naming them; `resolve` works again, prune keeps everything,
/// and a planted object that does not hash to its name is set aside, not adopted.
#[test]
fn reindex_store_re_adopts_the_store_after_a_reset() {
    let env = Env::new();
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("demo/pub/naif/DEMO/kernels/mk/demo.tm");
    env.ok(&["get", "-y", "-q", &format!("file://{}", demo.display())]);
    let archived = env.work("mine/k.bsp");
    write(&archived, &spk_bytes(77, 3000));
    let sha = sha256(&archived);
    env.ok(&[
        "scan",
        archived.parent().unwrap().to_str().unwrap(),
        "--archive",
    ]);
    let before = env.count("kernels");
    let resolved = env.ok(&["resolve", "demo_lsk_v01.tls"]);
    // A planted object under a name that is not its hash.
    let fake = "ab".repeat(32);
    write(
        &env.home().join(format!("objects/sha256/ab/{fake}")),
        b"not these bytes",
    );

    env.ok(&["reset", "-y"]);
    let j = env.json(&["reindex", "--store"]);
    assert_eq!(j["adopted"], before, "{j}");
    assert_eq!(j["quarantined"].as_array().unwrap().len(), 1, "{j}");
    assert_eq!(env.count("kernels"), before);
    assert_eq!(env.ok(&["resolve", "demo_lsk_v01.tls"]), resolved);
    let p = env.json(&["prune", "--execute"]);
    assert_eq!(p["removed"].as_array().unwrap().len(), 0, "{p}");
    assert_eq!(sha256(&archived), sha, "the archived link lost its object");
    assert!(
        !env.home()
            .join(format!("objects/sha256/ab/{fake}"))
            .exists()
    );
    // Running it again adopts nothing new.
    let again = env.json(&["reindex", "--store"]);
    assert_eq!(again["adopted"], 0, "{again}");
    assert_eq!(again["known"], before, "{again}");
}

/// Item 8: one rule for ambiguous names — say so, list the candidates, exit 2 — for
/// `resolve` of a name two contents carry and for every command given a metakernel
/// name two acquisitions share; `--mission`, a URL or the local path picks one.
#[test]
fn ambiguous_names_are_refused_with_their_candidates() {
    let env = Env::new();
    let a = env.work("a/cpck05Mar2004.tpc");
    let b = env.work("b/cpck05Mar2004.tpc");
    write(&a, &text_kernel(1));
    write(&b, &text_kernel(2));
    env.ok(&[
        "scan",
        a.parent().unwrap().to_str().unwrap(),
        "--mission",
        "A",
    ]);
    env.ok(&[
        "scan",
        b.parent().unwrap().to_str().unwrap(),
        "--mission",
        "B",
    ]);
    let out = env.run(&["resolve", "cpck05Mar2004.tpc"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&sha256(&a)[..12]) && err.contains(&sha256(&b)[..12]),
        "{err}"
    );
    let j = env.json(&["resolve", "cpck05Mar2004.tpc", "--mission", "B"]);
    assert_eq!(j["path"], b.to_str().unwrap());

    // The same metakernel name acquired from two archives.
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/pub");
    let copy = env.work("mirror");
    let ok = std::process::Command::new("cp")
        .arg("-r")
        .arg(&demo)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(ok.success());
    let url1 = format!("file://{}/naif/DEMO/kernels/mk/demo.tm", demo.display());
    let url2 = format!("file://{}/naif/DEMO/kernels/mk/demo.tm", copy.display());
    env.ok(&["get", "-y", "-q", &url1]);
    env.ok(&["get", "-y", "-q", &url2, "--mission", "DEMO2"]);
    for args in [
        vec!["list", "demo.tm"],
        vec!["check", "demo.tm"],
        vec!["lock", "demo.tm", "-o", "/dev/null"],
        vec![
            "which",
            "demo.tm",
            "--body",
            "399",
            "--at",
            "2020-01-01T00:00:00",
        ],
        vec!["pin", "demo.tm"],
        vec!["metakernels", "--remove", "demo.tm"],
    ] {
        let out = env.run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&url1) && err.contains(&url2),
            "{args:?}: {err}"
        );
    }
    env.ok(&["list", &url2]);
    assert_eq!(env.count("pins"), 0);
}

/// (what, args, exit code, texts that must appear, texts that must not).
type Case<'a> = (&'a str, Vec<String>, i32, Vec<&'a str>, Vec<&'a str>);

/// Items 13/14: messages a new user meets, one row per case: (what, args, expected
/// exit code, text that must appear on stdout+stderr, text that must not).
#[test]
fn messages_name_files_count_right_and_say_things_once() {
    use crate::common::http::HttpServer;
    let env = Env::new();
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/pub");
    // A metakernel whose last line is `\begintext` without a terminator, and one
    // whose last data line has none.
    let quiet = env.work("q/quiet.tm");
    write(
        &quiet,
        b"KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( 'a.tls' )\n\\begintext",
    );
    let lossy = env.work("q/lossy.tm");
    write(
        &lossy,
        b"KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( 'a.tls' )\nKERNELS_TO_LOAD += 'b.tls'",
    );
    write(
        &env.work("web/index.html"),
        b"<!DOCTYPE html><html><body>listing</body></html>",
    );
    write(&env.work("web/k.tls"), &text_kernel(5));
    let one = env.work("one/mk/one.tm");
    write(
        &one,
        b"KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( '../lsk/a.tls' )\n\\begintext\n",
    );
    write(&env.work("one/lsk/a.tls"), &text_kernel(6));
    let ck = realdata().map(|r| {
        r.join("trees/esa_bepic_workshop/kernels/ck/bc_mpo_sc_slt_50028_20270609_20270614_s20200713_v01.bc")
    });
    let readme = env.work("README.md");
    write(&readme, b"# KPL notes\nnot a bundle\n");
    let fake_lock = env.work("x.kdb.lock");
    write(&fake_lock, b"# kdb lockfile: the exact bytes\nschema = 1\n");
    let binary = env.work("b2.tar");
    write(&binary, &[0xff, 0xfe, 0x00, 0x81, 0x12, 0x9c, 0x00]);
    let tarball = env.work("real.tar");
    let mut header = vec![0u8; 1024];
    header[..5].copy_from_slice(b"a.tls");
    header[257..263].copy_from_slice(b"ustar\0");
    write(&tarball, &header);
    let server = format!("file://{}/naif/", demo.display());
    let one_url = format!("file://{}", one.display());
    let mut cases: Vec<Case> = vec![
        (
            "warning names its file",
            vec!["list".into(), lossy.display().to_string()],
            0,
            vec!["lossy.tm: line 4"],
            vec![],
        ),
        (
            "a last \\begintext is not worth a warning",
            vec!["list".into(), quiet.display().to_string()],
            0,
            vec!["1 entry in"],
            vec!["warning"],
        ),
        (
            "one kernel is singular",
            vec![
                "get".into(),
                "-y".into(),
                one_url.clone(),
                "--mission".into(),
                "ONE".into(),
            ],
            0,
            vec!["downloaded 1 kernel (", "1 entry in place"],
            vec!["1 kernels", "1 entries"],
        ),
        (
            "scan ignores HTML that is not named like a kernel",
            vec!["scan".into(), env.work("web").display().to_string()],
            0,
            vec![],
            vec!["index.html"],
        ),
        (
            "a short hex argument",
            vec!["aliases".into(), "678e3".into()],
            1,
            vec!["a hash prefix needs at least 6 hex digits"],
            vec![],
        ),
        (
            "a server that is not a URL",
            vec![
                "mission".into(),
                "add".into(),
                "X".into(),
                "--server".into(),
                "foo".into(),
            ],
            2,
            vec!["`foo` is not a server"],
            vec!["relative URL without a base"],
        ),
        (
            "mission add",
            vec![
                "mission".into(),
                "add".into(),
                "DEMO".into(),
                "--server".into(),
                server.clone(),
            ],
            0,
            vec!["added mission DEMO"],
            vec![],
        ),
        (
            "mission add again",
            vec![
                "mission".into(),
                "add".into(),
                "DEMO".into(),
                "--server".into(),
                server.clone(),
            ],
            0,
            vec!["already configured"],
            vec!["added"],
        ),
        (
            "import of a file that is not a bundle",
            vec!["import".into(), readme.display().to_string()],
            2,
            vec!["is not a kdb bundle"],
            vec!["KPL", "member header"],
        ),
        (
            "import of a lockfile points to restore",
            vec!["import".into(), fake_lock.display().to_string()],
            2,
            vec!["looks like a lockfile: `kdb restore"],
            vec![],
        ),
        (
            "restore of a binary file",
            vec!["restore".into(), binary.display().to_string()],
            2,
            vec!["is not a kdb lockfile"],
            vec!["valid UTF-8"],
        ),
        (
            "restore of a bundle points to import",
            vec!["restore".into(), tarball.display().to_string()],
            2,
            vec!["is a bundle, not a lockfile: bring it in with `kdb import"],
            vec![],
        ),
        (
            "help names every variable",
            vec!["--help".into()],
            0,
            vec!["KDB_TEAM_STORE", "KDB_LOG", "Global options"],
            vec![],
        ),
        (
            "command help keeps global options apart",
            vec!["scan".into(), "--help".into()],
            0,
            vec!["Global options:"],
            vec![],
        ),
    ];
    if let Some(r) = realdata() {
        // `list` labels its covers column with what it shows (TDB days, not UTC).
        let spk = r.join("trees/npb_mars2020_spice/spice_kernels/spk/m2020_edl_v01.bsp");
        let dir = env.work("cov");
        write(&dir.join("spk/edl.bsp"), &std::fs::read(&spk).unwrap());
        write(&dir.join("spk/edl_copy.bsp"), &std::fs::read(&spk).unwrap());
        write(
            &dir.join("mk/cov.tm"),
            b"KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( '../spk/edl.bsp' )\n\\begintext\n",
        );
        env.ok(&["scan", &dir.display().to_string(), "--mission", "COV"]);
        cases.push((
            "list labels the covers column and counts one alias",
            vec!["list".into(), dir.join("mk/cov.tm").display().to_string()],
            0,
            vec!["covers (IDs, TDB days)", "(+1 alias)"],
            vec!["1 aliases"],
        ));
    }
    if let Some(ck) = &ck {
        cases.push((
            "a CK without its SCLK falls back to ticks",
            vec!["coverage".into(), "-f".into(), ck.display().to_string()],
            0,
            vec![
                "note: no SCLK kernel loaded",
                "bounds are encoded SCLK ticks",
                "57489432951604",
            ],
            vec![],
        ));
    }
    for (what, args, code, want, never) in &cases {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = env.run(&argv);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(*code), "{what}: {args:?}\n{text}");
        for w in want {
            assert!(text.contains(w), "{what}: `{w}` missing\n{text}");
        }
        for n in never {
            assert!(!text.contains(n), "{what}: `{n}` present\n{text}");
        }
    }

    // A server that went away: `outdated` says so once per host, with the count.
    let ar = env.work("srv");
    write(&ar.join("mk/s.tm"), b"KPL/MK\n\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'K' )\nKERNELS_TO_LOAD = ( '$K/lsk/a.tls' '$K/lsk/b.tls' '$K/lsk/c.tls' )\n\\begintext\n");
    for (i, n) in ["a", "b", "c"].iter().enumerate() {
        write(
            &ar.join(format!("lsk/{n}.tls")),
            &text_kernel(100 + i as u64),
        );
    }
    let server = HttpServer::start(&ar);
    env.ok(&["get", "-y", "-q", &server.url("/mk/s.tm"), "--mission", "S"]);
    drop(server);
    let out = env.run(&["outdated"]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(text.matches("Connection refused").count(), 1, "{text}");
    assert!(
        text.contains("4 checks could not reach 127.0.0.1:"),
        "{text}"
    );
}

/// Items 12/13: one exit-code map, `-o -` writes to stdout, and with `--json` an error
/// is also a JSON object on stdout.
#[test]
fn exit_codes_follow_one_map_and_json_errors_are_json() {
    use crate::common::http::HttpServer;
    let env = Env::new();
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("demo/pub/naif/DEMO/kernels/mk/demo.tm");
    let url = format!("file://{}", demo.display());
    env.ok(&["get", "-y", "-q", &url]);
    let dir = env.work("an_existing_dir");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    let mk = demo.to_str().unwrap();
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["rewrite", mk, "-o", "/proc/kdb-test/x.tm"], 2),
        (vec!["rewrite", mk, "-o", d], 2),
        (vec!["lock", "demo.tm", "-o", d], 2),
        (vec!["export", "demo.tm", "-o", d], 2),
        (vec!["scan", "/nonexistent/kdb"], 1),
        (vec!["list", "/nonexistent/kdb.tm"], 1),
    ];
    for (args, code) in &cases {
        let out = env.run(args);
        assert_eq!(
            out.status.code(),
            Some(*code),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // --json errors: a JSON object on stdout, with the class and the exit code.
    for (args, class, code) in [
        (
            vec!["resolve", "no_such_kernel.bsp", "--json"],
            "not_found",
            1,
        ),
        (vec!["rewrite", mk, "-o", d, "--json"], "usage", 2),
        (vec!["scan", "--no-such-flag", "--json"], "usage", 2),
    ] {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let j: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {:?}", out.stdout));
        assert_eq!(j["error"]["class"], class, "{j}");
        assert_eq!(j["error"]["exit_code"], code, "{j}");
        assert!(!j["error"]["message"].as_str().unwrap().is_empty());
    }
    // `-o -`: the lock and the bundle on stdout, nothing written.
    let before = std::fs::read_dir(env.root()).unwrap().count();
    let out = env.run(&["lock", "demo.tm", "-o", "-"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("demo_lsk_v01.tls") && text.contains("sha256"),
        "{text}"
    );
    let out = env.run(&["export", "demo.tm", "-o", "-"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.len() > 4096, "no bundle on stdout");
    assert!(!env.root().join("-").exists());
    assert_eq!(std::fs::read_dir(env.root()).unwrap().count(), before);
    // A metakernel the server no longer serves: `outdated` exits 4 like `update`.
    let ar = env.work("srv");
    write(
        &ar.join("mk/s.tm"),
        b"KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( '../lsk/a.tls' )\n\\begintext\n",
    );
    write(&ar.join("lsk/a.tls"), &text_kernel(300));
    let server = HttpServer::start(&ar);
    env.ok(&["get", "-y", "-q", &server.url("/mk/s.tm"), "--mission", "S"]);
    std::fs::remove_file(ar.join("mk/s.tm")).unwrap();
    assert_eq!(env.run(&["outdated", "s.tm"]).status.code(), Some(4));
    assert_eq!(env.run(&["update", "s.tm", "-y"]).status.code(), Some(4));
}

/// Items 1 and 12: what is not a metakernel is refused (exit 2) and nothing is
/// registered; a local path is taken as a file; a missing file is "not found".
#[test]
fn non_metakernels_are_refused_and_local_paths_are_files() {
    use crate::common::http::HttpServer;
    let env = Env::new();
    let kernels =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/pub/naif/DEMO/kernels");
    let demo_root = kernels
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    let server = HttpServer::start(demo_root);
    let spk = env.work("x/k.bsp");
    write(&spk, &spk_bytes(3, 3000));
    let empty = env.work("x/empty.tm");
    write(&empty, b"");
    let cases: Vec<Vec<String>> = vec![
        vec![
            "get".into(),
            "-y".into(),
            format!("file://{}/mk/", kernels.display()),
        ],
        vec![
            "get".into(),
            "-y".into(),
            server.url("/naif/DEMO/kernels/mk/"),
        ],
        vec![
            "get".into(),
            "-y".into(),
            server.url("/naif/DEMO/kernels/mk"),
        ],
        vec![
            "get".into(),
            "-y".into(),
            format!("file://{}/lsk/demo_lsk_v01.tls", kernels.display()),
        ],
        vec![
            "get".into(),
            "-y".into(),
            "--mission".into(),
            "X".into(),
            format!("file://{}", spk.display()),
        ],
        vec![
            "rewrite".into(),
            spk.display().to_string(),
            "-o".into(),
            env.work("out/x.tm").display().to_string(),
        ],
        vec!["list".into(), spk.display().to_string()],
        vec![
            "list".into(),
            kernels.join("lsk/demo_lsk_v01.tls").display().to_string(),
        ],
        vec!["list".into(), empty.display().to_string()],
    ];
    for args in &cases {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = env.run(&argv);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("not a metakernel") || err.contains("is a directory"),
            "{args:?}: {err}"
        );
    }
    assert!(!env.work("out/x.tm").exists());
    if env.home().join("kdb.sqlite").exists() {
        assert_eq!(env.count("metakernels"), 0);
    }
    // A local path, absolute or relative, is a file; a missing one is "not found".
    let mk = kernels.join("mk/demo.tm");
    env.ok(&["get", "-y", "-q", mk.to_str().unwrap()]);
    assert_eq!(env.count("metakernels"), 1);
    let out = env.run(&["get", "-y", "file:///nonexistent/kdb/x.tm"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no metakernel at `/nonexistent/kdb/x.tm`"),
        "{err}"
    );
    assert!(!err.contains("HTTP"), "{err}");
    let out = env.run(&["get", "-y", "/nonexistent/kdb/y.tm"]);
    assert_eq!(out.status.code(), Some(1));
}

/// Item 11: config — negative values are validated (not taken for flags), the file
/// written is named, an overriding variable is pointed out, and unknown keys in the
/// file are reported instead of silently ignored.
#[test]
fn config_says_what_it_wrote_what_overrides_it_and_what_it_ignores() {
    let env = Env::new();
    let out = env.run(&["config", "set", "read_timeout", "-5"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("read_timeout") && !err.contains("unexpected argument"),
        "{err}"
    );
    // KDB_HOME is set by the test environment: `config set home` says it wins.
    let out = env.run(&["config", "set", "home", env.work("h2").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("config.toml"), "{err}");
    assert!(err.contains("KDB_HOME is set: it overrides"), "{err}");
    // A typo in the file is named, with the known keys.
    let cfg = env.root().join("config.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("job = 3\n");
    write(&cfg, text.as_bytes());
    let out = env.run(&["config", "get", "jobs"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown key `job`") && err.contains("known keys: home"),
        "{err}"
    );
}

/// Item 5: `coverage --mk URL` resolves the metakernel's entries as `get` does
/// (BepiColombo's `PATH_VALUES = ( '../kernels' )`), over HTTP and over `file://`.
#[test]
fn coverage_of_a_served_metakernel_resolves_entries_like_get() {
    use crate::common::http::HttpServer;
    let Some(real) = realdata() else {
        return;
    };
    let env = Env::new();
    let root = real.join("trees/esa_bepic_workshop");
    let server = HttpServer::start(&root);
    let http = server.url("/kernels/mk/bc_training_class.tm");
    let file = format!(
        "file://{}",
        root.join("kernels/mk/bc_training_class.tm").display()
    );
    let names = |j: &serde_json::Value| -> Vec<String> {
        j["kernels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let by_http = env.json(&["coverage", "-121", "--mk", &http]);
    let by_file = env.json(&["coverage", "-121", "--mk", &file]);
    assert!(
        names(&by_http).contains(&"bc_mpo_mlt_50037_20270609_20270614_v01.bsp".to_owned()),
        "{by_http}"
    );
    assert_eq!(names(&by_http), names(&by_file));
    let windows = |j: &serde_json::Value| -> Vec<serde_json::Value> {
        j["kernels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["ids"].clone())
            .collect()
    };
    assert_eq!(windows(&by_http), windows(&by_file));
    // The same answers as the local copy a `get` leaves.
    env.ok(&["get", "-y", "-q", &http, "--mission", "BEPI"]);
    let local = env.json(&["coverage", "-121", "--mk", "bc_training_class.tm"]);
    assert_eq!(windows(&local), windows(&by_http));
}

/// Item 9: a moved home keeps working — rows, mission-tree links and the ready
/// metakernel follow it, nothing is downloaded again, CSPICE loads the metakernel.
#[test]
fn a_moved_home_keeps_working_without_downloading_again() {
    use crate::common::http::HttpServer;
    let env = Env::new();
    let demo_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo");
    let server = HttpServer::start(&demo_root);
    let url = server.url("/pub/naif/DEMO/kernels/mk/demo.tm");
    let old = env.work("h2");
    let run_at = |home: &std::path::Path, args: &[&str]| {
        env.kdb().env("KDB_HOME", home).args(args).output().unwrap()
    };
    let out = run_at(&old, &["get", "-y", "-q", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = env.work("h2new");
    #[allow(clippy::disallowed_methods)] // the user moves the home
    std::fs::rename(&old, &new).unwrap();
    // A read-only command first: it re-roots the home, then answers.
    let out = run_at(&new, &["resolve", "demo_lsk_v01.tls"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("h2new"));
    let out = run_at(&new, &["verify"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    server.reset_stats();
    let out = run_at(&new, &["get", "-y", &url, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["downloaded"], 0, "{j}");
    let mk = j["metakernel"].as_str().unwrap().to_owned();
    assert!(mk.contains("h2new"), "{mk}");
    let text = std::fs::read_to_string(&mk).unwrap();
    assert!(!text.contains("/h2/"), "{text}");
    if let Some(py) = python() {
        let cwd = env.work("elsewhere");
        std::fs::create_dir_all(&cwd).unwrap();
        let res = oracle(&py, &[(std::path::PathBuf::from(&mk), cwd)]);
        assert_eq!(
            res[0]["furnsh"]["loaded"].as_array().map(Vec::len),
            Some(4),
            "{}",
            res[0]
        );
    }
    // Another spelling of the same home (a symlink to it) changes nothing.
    let alias = env.work("alias");
    symlink(&new, &alias);
    let out = run_at(&alias, &["verify"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("moved"));
}

/// Item 3: `outdated` and `update` agree — a kernel changed upstream under an unchanged
/// metakernel is downloaded by `update`; where the server gives no listing to tell
/// (a same-size change), a conditional request decides, for `get` too.
#[test]
fn outdated_and_update_agree_on_a_changed_kernel() {
    use crate::common::http::{Fault, HttpServer};
    let env = Env::new();
    let ar = env.work("srv");
    write(
        &ar.join("mk/u.tm"),
        b"KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( '../ik/a.ti' '../ik/b.ti' )\n\\begintext\n",
    );
    write(&ar.join("ik/a.ti"), &text_kernel(1));
    write(&ar.join("ik/b.ti"), &text_kernel(2));
    let server = HttpServer::start(&ar);
    let url = server.url("/mk/u.tm");
    env.ok(&["get", "-y", "-q", &url, "--mission", "U"]);
    // a.ti changes upstream (other size); the metakernel does not.
    let mut changed = text_kernel(1);
    changed.extend_from_slice(b"one more comment line\n");
    write(&ar.join("ik/a.ti"), &changed);
    let j = env.json(&["outdated"]);
    let status = |j: &serde_json::Value, name: &str| {
        j["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .map(|i| i["status"].as_str().unwrap().to_owned())
    };
    assert_eq!(status(&j, "a.ti").as_deref(), Some("changed"), "{j}");
    let u = env.json(&["update", "u.tm", "-y"]);
    assert_eq!(u[0]["report"]["downloaded"], 1, "{u}");
    assert_eq!(u[0]["report"]["unchanged"], false, "{u}");
    let held = env.json(&["resolve", "a.ti"]);
    assert_eq!(
        sha256(std::path::Path::new(held["path"].as_str().unwrap())),
        sha256(&ar.join("ik/a.ti"))
    );
    // Now nothing changed: update says so and downloads nothing.
    let u = env.json(&["update", "u.tm", "-y"]);
    assert_eq!(u[0]["report"]["downloaded"], 0, "{u}");
    assert_eq!(u[0]["report"]["unchanged"], true, "{u}");
    // No listing (the server refuses directory pages) and a same-size change of b.ti:
    // a conditional request sees it; `get` fetches the new bytes.
    server.fault("/ik/", Fault::Status(403));
    let mut same_size = text_kernel(2);
    let n = same_size.len();
    same_size[n - 2] = b'X';
    write(&ar.join("ik/b.ti"), &same_size);
    let j = env.json(&["get", "-y", &url, "--mission", "U"]);
    assert_eq!(j["downloaded"], 1, "{j}");
    let held = env.json(&["resolve", "b.ti"]);
    assert_eq!(
        sha256(std::path::Path::new(held["path"].as_str().unwrap())),
        sha256(&ar.join("ik/b.ti"))
    );
}

/// Item 2 (failure part): after a `get` that failed on one kernel, the kernels that
/// arrived are committed (objects and download records, no metakernel), and the rerun
/// downloads only what had not arrived (counted at the server).
#[test]
fn a_rerun_after_a_failed_get_fetches_only_what_did_not_arrive() {
    use crate::common::http::{Fault, HttpServer};
    let env = Env::new();
    let ar = Archive::new();
    let rels = ar.spks(&["a", "b", "c", "d"], 500, |_| 20_000);
    let mk = ar.mk("r.tm", &rels.iter().map(String::as_str).collect::<Vec<_>>());
    let server = HttpServer::start(ar.root());
    let url = server.url(&mk);
    let spk = |n: &str| Archive::url_path(&format!("spk/{n}.bsp"));
    server.fault(&spk("d"), Fault::Status(404));
    let out = env.run(&["get", "-y", "-q", &url, "--mission", "R"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        env.count("metakernels"),
        0,
        "a failed get registered its metakernel"
    );
    server.faults().clear_path(&spk("d"));
    server.reset_stats();
    let j = env.json(&["get", "-y", &url, "--mission", "R"]);
    assert_eq!(j["downloaded"], 1, "{j}");
    // At most a conditional request (304, no body) for what had arrived.
    for n in ["a", "b", "c"] {
        assert_eq!(
            server.body_bytes_sent_to(&spk(n)),
            0,
            "{n}.bsp fetched again"
        );
    }
    assert!(server.body_bytes_sent_to(&spk("d")) > 0);
    assert_eq!(env.count("metakernels"), 1);
}

/// Item 2: `get --allow-missing` writes the metakernel without the kernels the server
/// no longer has and names them; without the flag the failure points to it.
#[test]
fn allow_missing_writes_the_metakernel_without_what_the_server_lost() {
    use crate::common::http::{Fault, HttpServer};
    let env = Env::new();
    let ar = Archive::new();
    ar.spks(&["a", "b", "c", "d"], 700, |_| 5_000);
    let mk = ar.mk_text(
        "m.tm",
        "KPL/MK\n\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'K' )\n\
         KERNELS_TO_LOAD = ( '$K/spk/a.bsp',\n '$K/spk/b.bsp',\n '$K/spk/c.bsp',\n \
         '$K/spk/d.bsp',\n '$K/spk/a.bsp' )\n\\begintext\n",
    );
    let server = HttpServer::start(ar.root());
    let url = server.url(&mk);
    let spk = |n: &str| Archive::url_path(&format!("spk/{n}.bsp"));
    server.fault(&spk("b"), Fault::Status(404));
    server.fault(&spk("d"), Fault::Status(410));
    let out = env.run(&["get", "-y", &url, "--mission", "M"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("`--allow-missing`"), "{err}");
    assert_eq!(env.count("metakernels"), 0);

    let out = env.run(&["get", "-y", "--allow-missing", &url, "--mission", "M"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            "the server no longer has 2 kernels; the metakernel leaves them out: b.bsp, d.bsp"
        ),
        "{err}"
    );
    let j = env.json(&["get", "-y", "--allow-missing", &url, "--mission", "M"]);
    let left: Vec<&str> = j["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["b.bsp", "d.bsp"], "{j}");
    let local = std::path::PathBuf::from(j["metakernel"].as_str().unwrap());
    let listed = env.json(&["list", &local.display().to_string()]);
    let entries: Vec<&str> = listed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["file_name"].as_str().unwrap())
        .collect();
    assert_eq!(entries, ["a.bsp", "c.bsp", "a.bsp"], "{listed}");
    let text = std::fs::read_to_string(&local).unwrap();
    assert!(
        text.contains("b.bsp, d.bsp"),
        "the metakernel does not say what it left out:\n{text}"
    );
    if let Some(py) = python() {
        let got = crate::metakernel_cli::oracle(&py, &[(local.clone(), env.root().to_path_buf())]);
        assert_eq!(got[0]["furnsh"]["ok"], true, "{got:?}");
        assert_eq!(
            got[0]["furnsh"]["loaded"].as_array().map(Vec::len),
            Some(3),
            "{got:?}"
        );
    }
}

/// Item 2: Ctrl-C during `get` commits the kernels that finished, prints what
/// happened and exits 130; the rerun downloads only the unfinished kernel, resuming
/// its partial body with `Range`.
#[test]
fn ctrl_c_commits_what_arrived_and_the_rerun_resumes_the_rest() {
    use crate::common::http::{Fault, HttpServer};
    use std::io::BufRead;
    let env = Env::new();
    let ar = Archive::new();
    // A body becomes resumable across runs once 1 MiB of it has arrived.
    let len = |n: &str| if n == "big" { 3_000_000 } else { 8_000 };
    let rels = ar.spks(&["a", "b", "c", "big"], 900, len);
    let mk = ar.mk("i.tm", &rels.iter().map(String::as_str).collect::<Vec<_>>());
    let server = HttpServer::start(ar.root());
    let url = server.url(&mk);
    let spk = |n: &str| Archive::url_path(&format!("spk/{n}.bsp"));
    server.fault(
        &spk("big"),
        Fault::Drip {
            chunk: 64 * 1024,
            interval: std::time::Duration::from_millis(50),
        },
    );
    let mut child = env
        .kdb()
        .args(["get", "-y", &url, "--mission", "I"])
        .env("KDB_LOG", "kdb=info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The three small kernels are complete (the client says so) ...
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let mut done = 0;
        for line in std::io::BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if line.contains("download complete") {
                done += 1;
                if done == 3 {
                    let _ = tx.send(());
                }
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("the small kernels never completed");
    // ... and the big one has a resumable partial body on disk (its sidecar, written
    // once 1 MiB has arrived, names the validators a `Range` request needs).
    let partial = env.home().join("tmp/partial");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let resumable = || {
        std::fs::read_dir(&partial)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".json"))
    };
    while !resumable() {
        assert!(
            std::time::Instant::now() < deadline,
            "no resumable partial appeared"
        );
        std::thread::yield_now();
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted: 3 kernels that arrived are kept"),
        "{err}"
    );
    assert!(err.contains("Run the same command again"), "{err}");
    assert_eq!(env.count("metakernels"), 0);
    assert_eq!(
        env.count("kernels"),
        3,
        "the finished kernels were not committed"
    );
    assert!(resumable(), "the partial body was not kept");

    server.faults().clear_path(&spk("big"));
    // The dripping answer ends when the server next writes to the closed connection.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while server.in_flight() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never noticed the close"
        );
        std::thread::yield_now();
    }
    server.reset_stats();
    let j = env.json(&["get", "-y", &url, "--mission", "I"]);
    assert_eq!(j["downloaded"], 1, "{j}");
    for n in ["a", "b", "c"] {
        assert_eq!(
            server.body_bytes_sent_to(&spk(n)),
            0,
            "{n}.bsp fetched again"
        );
    }
    let big = server.requests_to(&spk("big"));
    assert!(
        big.iter().any(|r| r
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("range") && v.starts_with("bytes="))),
        "the partial body was not resumed: {:?}",
        big.iter().map(|r| &r.headers).collect::<Vec<_>>()
    );
    let sent = server.body_bytes_sent_to(&spk("big"));
    assert!(
        sent <= 3_000_000 - (1 << 20),
        "{sent} bytes sent: {:?}",
        big.iter().map(|r| &r.headers).collect::<Vec<_>>()
    );
    let held = env.json(&["resolve", "big.bsp"]);
    assert_eq!(
        sha256(std::path::Path::new(held["path"].as_str().unwrap())),
        sha256(&ar.path("spk/big.bsp"))
    );
}
