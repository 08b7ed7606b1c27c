//! Issue 13 acceptance: the team store (DESIGN.md §6) between homes, against real
//! servers on loopback — moto's S3 server, the in-process HTTP server as the upstream
//! archive and as a read-only mirror, a shared directory — driving the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::common::http::HttpServer;
use crate::common::moto::Moto;
use crate::common::s3proxy::{Mode, Proxy};
use crate::common::*;

/// The kernels of the test metakernel: (path under kernels/, bytes).
fn kernels() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("lsk/a.tls", text_kernel(1)),
        ("spk/b.bsp", spk_bytes(2, 6000)),
        ("spk/c.bsp", spk_bytes(3, 9000)),
        (
            "fk/d.tf",
            b"KPL/FK\n\\begindata\nFRAME_X = 1\n\\begintext\n".to_vec(),
        ),
    ]
}

const MK: &str = "/pub/naif/M/kernels/mk/team.tm";

/// An upstream archive (in-process HTTP server) serving `kernels()` and `team.tm`.
fn archive() -> (tempfile::TempDir, HttpServer) {
    let dir = tempfile::Builder::new()
        .prefix("kdb-team-archive-")
        .tempdir()
        .unwrap();
    let base = dir.path().join("pub/naif/M/kernels");
    let mut entries = Vec::new();
    for (rel, bytes) in kernels() {
        write(&base.join(rel), &bytes);
        entries.push(format!("    '$KERNELS/{rel}'"));
    }
    write(
        &base.join("mk/team.tm"),
        format!(
            "KPL/MK\n\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'KERNELS' )\nKERNELS_TO_LOAD = (\n{}\n)\n\\begintext\n",
            entries.join("\n")
        )
        .as_bytes(),
    );
    let server = HttpServer::start(dir.path());
    (dir, server)
}

/// Requests for kernel files (not the metakernel, not directory listings).
fn kernel_requests(server: &HttpServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| {
            r.path.starts_with("/pub/naif/M/kernels/")
                && !r.path.ends_with('/')
                && !r.path.contains("/mk/")
        })
        .count()
}

/// `kdb get` of the test metakernel with the team store `store` and `env` vars.
fn get(
    home: &Env,
    server: &HttpServer,
    store: &str,
    env: &[(&str, String)],
    extra: &[&str],
) -> Output {
    let url = server.url(MK);
    let mut c = home.kdb();
    c.env("KDB_READ_TIMEOUT", "2")
        .env("KDB_CONNECT_TIMEOUT", "2")
        .env("KDB_TEAM_STORE", store);
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(["get", url.as_str(), "-y", "--mission", "M", "--json"])
        .args(extra)
        .output()
        .unwrap()
}

fn ok_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Warning lines about the team store on stderr.
fn team_warnings(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.starts_with("warning:") && l.contains("team store"))
        .map(str::to_owned)
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The home holds exactly the archive's bytes at every tree entry, and every object
/// hashes to its name.
fn assert_home_right(home: &Env, archive: &Path) {
    assert_catalogue_matches_disk(home);
    let tree: Vec<PathBuf> = walkdir::WalkDir::new(home.home().join("missions/M"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.file_type().is_dir())
        .map(|e| e.into_path())
        .collect();
    for (rel, bytes) in kernels() {
        let hits: Vec<&PathBuf> = tree
            .iter()
            .filter(|p| p.ends_with(Path::new("pub/naif/M/kernels").join(rel)))
            .collect();
        assert_eq!(hits.len(), 1, "{rel} laid out once");
        assert_eq!(
            sha256(hits[0]),
            hex(&bytes),
            "{rel} has the archive's bytes"
        );
        assert_eq!(
            std::fs::read(archive.join("pub/naif/M/kernels").join(rel)).unwrap(),
            bytes
        );
    }
    for e in walkdir::WalkDir::new(home.home().join("objects/sha256"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        assert_eq!(
            sha256(e.path()),
            e.file_name().to_string_lossy(),
            "object `{}` is its content",
            e.path().display()
        );
    }
}

fn metakernel_rows(home: &Env) -> i64 {
    rusqlite::Connection::open(home.home().join("kdb.sqlite"))
        .and_then(|c| c.query_row("SELECT COUNT(*) FROM metakernels", [], |r| r.get(0)))
        .unwrap_or(0)
}

/// The sha256 of a URL's text (the `seen/` directory of its records).
fn url_digest(url: &str) -> String {
    hex(url.as_bytes())
}

fn object_key(bytes: &[u8]) -> String {
    let h = hex(bytes);
    format!("objects/sha256/{}/{h}", &h[..2])
}

/// A `seen/` record time newer than any written so far.
fn now_stamp() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%S%.9fZ").to_string()
}

#[test]
fn a_second_home_sharing_only_the_s3_store_sends_no_kernel_request_upstream() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("team");
    let (dir, server) = archive();
    let store = "s3://team/kdb";
    let a = Env::new();
    let r = ok_json(&get(&a, &server, store, &moto.env(), &[]));
    assert_eq!(r["downloaded"], 4);
    assert_eq!(r["from_team"], 0);
    assert_eq!(r["published"], 5, "four kernels and the metakernel");
    assert_eq!(kernel_requests(&server), 4);
    let keys = moto.keys("team");
    assert!(keys.contains(&"kdb/kdb-store.json".to_owned()), "{keys:?}");
    for (rel, bytes) in kernels() {
        let key = format!("kdb/{}", object_key(&bytes));
        assert!(keys.contains(&key), "{key} in {keys:?}");
        assert_eq!(moto.object("team", &key), bytes, "{rel} stored right");
        let url = server.url(&format!("/pub/naif/M/kernels/{rel}"));
        let prefix = format!("kdb/seen/{}/", url_digest(&url));
        assert_eq!(
            keys.iter().filter(|k| k.starts_with(&prefix)).count(),
            1,
            "one seen record for {url}"
        );
    }
    let b = Env::new();
    server.reset_stats();
    let object_gets = moto.logged("\"GET /team/kdb/objects/");
    let r = ok_json(&get(&b, &server, store, &moto.env(), &[]));
    assert_eq!(
        moto.logged("\"GET /team/kdb/objects/") - object_gets,
        4,
        "a team hit is one object GET (plus one LIST of its seen/ prefix)"
    );
    assert_eq!(
        kernel_requests(&server),
        0,
        "no kernel request upstream: {:?}",
        server
            .requests()
            .iter()
            .map(|r| &r.path)
            .collect::<Vec<_>>()
    );
    assert_eq!(r["from_team"], 4);
    assert!(r["metakernel"].is_string());
    assert_home_right(&b, dir.path());
    // B published nothing new: the store already held everything.
    assert_eq!(r["published"], 0);
}

#[test]
fn a_directory_tier_and_a_read_only_http_mirror_of_it_serve_other_homes() {
    let (dir, server) = archive();
    let team = tempfile::Builder::new()
        .prefix("kdb-team-dir-")
        .tempdir()
        .unwrap();
    let store = format!("file://{}", team.path().display());
    let a = Env::new();
    ok_json(&get(&a, &server, &store, &[], &[]));
    assert!(team.path().join("kdb-store.json").is_file());
    for (_, bytes) in kernels() {
        assert_eq!(
            std::fs::read(team.path().join(object_key(&bytes))).unwrap(),
            bytes
        );
    }
    // B: the same directory.
    let b = Env::new();
    server.reset_stats();
    let r = ok_json(&get(&b, &server, &store, &[], &[]));
    assert_eq!(kernel_requests(&server), 0);
    assert_eq!(r["from_team"], 4);
    assert_home_right(&b, dir.path());
    // C: the directory served read-only over HTTP (with autoindex listings).
    let mirror = HttpServer::start(team.path());
    let c = Env::new();
    server.reset_stats();
    let r = ok_json(&get(&c, &server, &mirror.url("/"), &[], &[]));
    assert_eq!(kernel_requests(&server), 0);
    assert_eq!(r["from_team"], 4);
    assert_home_right(&c, dir.path());
    // A team hit over HTTP is one listing of its `seen/` directory and one object GET.
    let object_gets = mirror
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/objects/"))
        .count();
    assert_eq!(object_gets, 4, "one GET per kernel");
    assert!(mirror.requests().iter().all(|r| r.method != "PUT"));
}

#[test]
fn poisoned_truncated_and_lying_team_objects_are_refused_and_fetched_upstream() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("team");
    let (dir, server) = archive();
    let store = "s3://team/p";
    ok_json(&get(&Env::new(), &server, store, &moto.env(), &[]));
    let k = kernels();
    // b.bsp: other bytes of the same length under its name.
    let mut wrong = k[1].1.clone();
    let last = wrong.len() - 1;
    wrong[last] ^= 0xff;
    moto.put("team", &format!("p/{}", object_key(&k[1].1)), &wrong);
    // c.bsp: truncated.
    moto.put(
        "team",
        &format!("p/{}", object_key(&k[2].1)),
        &k[2].1[..k[2].1.len() / 2],
    );
    // a.tls: a newer seen record pointing its URL at d.tf's (intact) object.
    let a_url = server.url("/pub/naif/M/kernels/lsk/a.tls");
    let lie = format!(
        "p/seen/{}/{}-{}.json",
        url_digest(&a_url),
        now_stamp(),
        hex(&k[3].1)
    );
    moto.put("team", &lie, b"{}");
    let b = Env::new();
    server.reset_stats();
    let out = get(&b, &server, store, &moto.env(), &[]);
    let r = ok_json(&out);
    let warnings = team_warnings(&out);
    assert_eq!(
        warnings.len(),
        3,
        "one warning per refused object: {warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .filter(|w| w.contains("holds other bytes"))
            .count()
            == 2,
        "{warnings:?}"
    );
    assert!(warnings.iter().any(|w| w.contains("a.tls")), "{warnings:?}");
    assert_eq!(r["from_team"], 1, "only d.tf was usable");
    assert_eq!(kernel_requests(&server), 3, "a, b and c fetched upstream");
    assert_home_right(&b, dir.path());
    // Clients never overwrite: the bad object is still there (an operator's job).
    assert_eq!(
        moto.object("team", &format!("p/{}", object_key(&k[1].1))),
        wrong
    );
}

#[test]
fn no_upstream_takes_everything_from_the_team_store_or_fails_fast() {
    let (_dir, server) = archive();
    let team = tempfile::Builder::new()
        .prefix("kdb-team-dir-")
        .tempdir()
        .unwrap();
    let store = team.path().display().to_string();
    ok_json(&get(&Env::new(), &server, &store, &[], &[]));
    // B: metakernel and kernels from the team store; not one request upstream.
    let b = Env::new();
    server.reset_stats();
    let r = ok_json(&get(&b, &server, &store, &[], &["--no-upstream"]));
    assert_eq!(server.requests().len(), 0, "{:?}", server.requests());
    assert_eq!(r["from_team"], 4);
    assert_eq!(metakernel_rows(&b), 1);
    // C: an empty team store: fails, registers nothing, asks upstream nothing.
    let empty = tempfile::tempdir().unwrap();
    let c = Env::new();
    server.reset_stats();
    let out = get(
        &c,
        &server,
        &empty.path().display().to_string(),
        &[],
        &["--no-upstream"],
    );
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no team store"), "{}", stderr(&out));
    assert_eq!(server.requests().len(), 0);
    assert_eq!(metakernel_rows(&c), 0);
    // --no-team with --no-upstream is refused as a usage error.
    let out = get(&c, &server, &store, &[], &["--no-upstream", "--no-team"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn restore_takes_locked_contents_from_the_team_store_by_hash() {
    let (dir, server) = archive();
    let team = tempfile::Builder::new()
        .prefix("kdb-team-dir-")
        .tempdir()
        .unwrap();
    let store = team.path().display().to_string();
    let a = Env::new();
    let lockfile = a.work("team.kdb.lock");
    ok_json(&get(
        &a,
        &server,
        &store,
        &[],
        &["--lock", lockfile.to_str().unwrap()],
    ));
    let b = Env::new();
    server.reset_stats();
    let out = b
        .kdb()
        .env("KDB_TEAM_STORE", &store)
        .args([
            "restore",
            lockfile.to_str().unwrap(),
            "--no-upstream",
            "--json",
        ])
        .output()
        .unwrap();
    let r = ok_json(&out);
    assert_eq!(server.requests().len(), 0);
    assert_eq!(
        r["fetched"].as_array().unwrap().len(),
        5,
        "mk and 4 kernels"
    );
    assert!(r["metakernel"].is_string());
    assert_home_right(&b, dir.path());
}

#[test]
fn a_failing_team_store_costs_one_warning_and_get_falls_back_upstream() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("team");
    let (dir, server) = archive();
    let proxy = Proxy::start(moto.port, Mode::Forward);
    let mut env = moto.env();
    env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL", proxy.endpoint()));
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cases: Vec<(&str, Option<Mode>, String)> = vec![
        ("down", None, format!("http://127.0.0.1:{closed}/team/")),
        ("500s", Some(Mode::Status(500)), "s3://team/f".into()),
        (
            "slow",
            Some(Mode::Stall(Duration::from_secs(20))),
            "s3://team/f".into(),
        ),
    ];
    for (case, mode, store) in cases {
        if let Some(m) = mode {
            proxy.set(m);
        }
        let home = Env::new();
        server.reset_stats();
        let mut env = env.clone();
        env.push(("KDB_READ_TIMEOUT", "1".into()));
        let out = get(&home, &server, &store, &env, &[]);
        let r = ok_json(&out);
        let warnings = team_warnings(&out);
        assert_eq!(
            warnings.len(),
            1,
            "{case}: exactly one warning: {}",
            stderr(&out)
        );
        assert_eq!(r["from_team"], 0, "{case}");
        assert_eq!(kernel_requests(&server), 4, "{case}");
        assert_home_right(&home, dir.path());
        // --no-upstream: fails (no fallback), registers nothing.
        let home = Env::new();
        server.reset_stats();
        let out = get(&home, &server, &store, &env, &["--no-upstream"]);
        assert!(!out.status.success(), "{case}");
        assert_eq!(metakernel_rows(&home), 0, "{case}");
        assert_eq!(server.requests().len(), 0, "{case}");
    }
    // 403 on push (read-only credentials): the get succeeds, one warning, no object.
    proxy.set(Mode::DenyPut);
    let home = Env::new();
    let out = get(&home, &server, "s3://team/ro", &env, &[]);
    let r = ok_json(&out);
    assert_eq!(r["published"], 0);
    let warnings = team_warnings(&out);
    assert_eq!(warnings.len(), 1, "{}", stderr(&out));
    assert!(warnings[0].contains("cannot publish"), "{warnings:?}");
    assert!(proxy.puts() >= 1);
    assert!(moto.keys("team").iter().all(|k| !k.starts_with("ro/")));
}

#[test]
fn kill_9_during_a_push_leaves_no_partial_object_and_the_next_push_completes() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("team");
    let home = Env::new();
    // Twenty 1.5 MB kernels, registered by a scan.
    let src = home.work("kernels");
    for i in 0..20u64 {
        write(
            &src.join(format!("k{i}.bsp")),
            &spk_bytes(100 + i, 1_500_000),
        );
    }
    home.ok(&["scan", src.to_str().unwrap(), "--mission", "M"]);
    let push = |home: &Env| {
        let mut c = home.kdb();
        c.env("KDB_TEAM_STORE", "s3://team/k");
        for (k, v) in moto.env() {
            c.env(k, v);
        }
        c.args(["team", "push", "--all", "--json"]);
        c
    };
    let mut child = push(&home)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill once the first upload reached the server (or the push ended).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while moto.logged("PUT /team/k/objects") == 0
        && child.try_wait().unwrap().is_none()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let running = child.try_wait().unwrap().is_none();
    child.kill().ok();
    let status = child.wait().unwrap();
    {
        use std::os::unix::process::ExitStatusExt;
        assert!(
            running && status.signal() == Some(9),
            "the kill must land during the push ({status:?})"
        );
    }
    let objects = |keys: &[String]| -> Vec<String> {
        keys.iter()
            .filter(|k| k.starts_with("k/objects/"))
            .cloned()
            .collect()
    };
    let before = objects(&moto.keys("team"));
    for key in &before {
        let bytes = moto.object("team", key);
        assert_eq!(
            key.rsplit('/').next().unwrap(),
            hex(&bytes),
            "a visible object is whole"
        );
    }
    eprintln!(
        "kill -9 landed with {} of 20 objects published",
        before.len()
    );
    let out = push(&home).output().unwrap();
    let r = ok_json(&out);
    assert_eq!(r["failed"], 0);
    let after = objects(&moto.keys("team"));
    assert_eq!(after.len(), 20);
    assert_eq!(r["present"].as_u64().unwrap() as usize, before.len());
}

#[test]
fn eight_homes_racing_into_an_empty_team_store_all_succeed() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("team");
    let (dir, server) = archive();
    let homes: Vec<Env> = (0..8).map(|_| Env::new()).collect();
    let url = server.url(MK);
    let children: Vec<std::process::Child> = homes
        .iter()
        .map(|h| {
            let mut c: Command = h.kdb();
            c.env("KDB_TEAM_STORE", "s3://team/race");
            for (k, v) in moto.env() {
                c.env(k, v);
            }
            c.args(["get", url.as_str(), "-y", "--mission", "M", "--json", "-v"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut outputs = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        ok_json(&out);
        outputs.push(stderr(&out));
    }
    for h in &homes {
        assert_home_right(h, dir.path());
    }
    let keys = moto.keys("team");
    for (rel, bytes) in kernels() {
        let key = format!("race/{}", object_key(&bytes));
        assert_eq!(keys.iter().filter(|k| **k == key).count(), 1, "{rel}");
        assert_eq!(moto.object("team", &key), bytes, "{rel}");
    }
    assert!(
        outputs
            .iter()
            .any(|e| e.contains("other homes are downloading")),
        "some home waited for another's claim"
    );
    let per_kernel = kernel_requests(&server) as f64 / kernels().len() as f64;
    eprintln!("race: {per_kernel:.2} upstream downloads per kernel (8 homes)");
    // Claims split the archive's work: each kernel is downloaded by the home that
    // claimed it (more only when a claimant stalls past the wait, 60 s here).
    assert!(
        per_kernel <= 2.0,
        "{per_kernel} upstream downloads per kernel"
    );
}

#[test]
fn a_home_on_a_network_filesystem_is_refused_with_the_documented_message() {
    let env = Env::new();
    for args in [
        &["stats"][..],
        &["get", "http://127.0.0.1:9/x.tm", "-y"][..],
    ] {
        let out = env
            .kdb()
            .env("KDB_TEST_HOME_FSTYPE", "nfs")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let e = stderr(&out);
        assert!(e.contains("is on a network filesystem (nfs)"), "{e}");
        assert!(e.contains("team store"), "{e}");
    }
    assert!(!env.home().join("kdb.sqlite").exists());
    // Without the seam, the temp home (a local disk) is accepted.
    let empty = env.work("empty/x");
    let empty = empty.parent().unwrap();
    env.ok(&["scan", empty.to_str().unwrap()]);
    assert!(env.home().join("kdb.sqlite").exists());
}

#[test]
fn warm_push_and_status_fill_a_team_store_that_no_upstream_homes_then_use() {
    let (dir, server) = archive();
    let team = tempfile::Builder::new()
        .prefix("kdb-team-dir-")
        .tempdir()
        .unwrap();
    let store = team.path().display().to_string();
    let url = server.url(MK);
    // A home that got the metakernel without the team store pushes it afterwards.
    let a = Env::new();
    ok_json(&get(&a, &server, &store, &[], &["--no-team"]));
    assert!(
        !team.path().join("kdb-store.json").exists(),
        "--no-team writes nothing"
    );
    // A tier that cannot be set up (a directory that does not exist) is a failed
    // push, not a success that uploaded nothing.
    let missing = team.path().join("absent").display().to_string();
    let out = a
        .kdb()
        .env("KDB_TEAM_STORE", &missing)
        .args(["team", "push", "team.tm", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(!team.path().join("absent").exists());
    let out = a
        .kdb()
        .env("KDB_TEAM_STORE", &store)
        .args(["team", "push", "team.tm", "--json"])
        .output()
        .unwrap();
    let r = ok_json(&out);
    assert_eq!(r["contents"], 5);
    assert_eq!(r["uploaded"], 5);
    assert_eq!(r["failed"], 0);
    // Pushing again uploads nothing and writes no duplicate record.
    let r = ok_json(
        &a.kdb()
            .env("KDB_TEAM_STORE", &store)
            .args(["team", "push", "team.tm", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(
        (r["uploaded"].as_u64(), r["present"].as_u64()),
        (Some(0), Some(5))
    );
    assert_eq!(r["records"], 0);
    let b = Env::new();
    server.reset_stats();
    ok_json(&get(&b, &server, &store, &[], &["--no-upstream"]));
    assert_eq!(server.requests().len(), 0);
    assert_home_right(&b, dir.path());

    // `team warm` into a second, empty store: one upstream fetch, then all of it there.
    let team2 = tempfile::tempdir().unwrap();
    let store2 = team2.path().display().to_string();
    let w = Env::new();
    let r = ok_json(
        &w.kdb()
            .env("KDB_TEAM_STORE", &store2)
            .args([
                "team",
                "warm",
                url.as_str(),
                "-y",
                "--mission",
                "M",
                "--json",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(r["get"]["published"], 5);
    assert_eq!(r["push"]["failed"], 0);
    let c = Env::new();
    server.reset_stats();
    ok_json(&get(&c, &server, &store2, &[], &["--no-upstream"]));
    assert_eq!(server.requests().len(), 0);

    // status: the directory is reachable and writable, an HTTP mirror read-only, a
    // missing directory unreachable (exit 6).
    let mirror = HttpServer::start(team.path());
    let missing = team.path().join("no-such-dir");
    let stores = format!("{store}, {}, {}", mirror.url("/"), missing.display());
    let out = w
        .kdb()
        .env("KDB_TEAM_STORE", &stores)
        .args(["team", "status", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |i: usize| {
        (
            s[i]["kind"].as_str().unwrap().to_owned(),
            s[i]["reachable"].as_bool().unwrap(),
            s[i]["writable"].as_bool().unwrap(),
            s[i]["layout"].as_u64(),
        )
    };
    assert_eq!(row(0), ("dir".into(), true, true, Some(1)));
    assert_eq!(row(1), ("http".into(), true, false, Some(1)));
    assert_eq!(row(2), ("dir".into(), false, false, None));
    // Without any store configured, the team commands say how to configure one.
    let out = w.run(&["team", "status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("KDB_TEAM_STORE"), "{}", stderr(&out));
}

#[test]
fn update_no_upstream_follows_the_team_store() {
    let (dir, server) = archive();
    let team = tempfile::Builder::new()
        .prefix("kdb-team-dir-")
        .tempdir()
        .unwrap();
    let store = team.path().display().to_string();
    let a = Env::new();
    ok_json(&get(&a, &server, &store, &[], &[]));
    let b = Env::new();
    ok_json(&get(&b, &server, &store, &[], &["--no-upstream"]));
    let update = |home: &Env, extra: &[&str]| {
        let mut c = home.kdb();
        c.env("KDB_TEAM_STORE", &store)
            .args(["update", "team.tm", "-y", "--json"])
            .args(extra);
        c.output().unwrap()
    };
    server.reset_stats();
    let r = ok_json(&update(&b, &["--no-upstream"]));
    assert_eq!(r[0]["report"]["unchanged"], true);
    assert_eq!(server.requests().len(), 0);
    // Upstream publishes a new kernel in the metakernel; A updates (and publishes).
    let base = dir.path().join("pub/naif/M/kernels");
    write(&base.join("spk/e.bsp"), &spk_bytes(9, 3000));
    let mk = std::fs::read_to_string(base.join("mk/team.tm")).unwrap();
    write(
        &base.join("mk/team.tm"),
        mk.replace(
            "'$KERNELS/fk/d.tf'",
            "'$KERNELS/fk/d.tf'\n    '$KERNELS/spk/e.bsp'",
        )
        .as_bytes(),
    );
    let r = ok_json(&update(&a, &[]));
    assert_eq!(r[0]["report"]["downloaded"], 1);
    // B follows through the team store alone.
    server.reset_stats();
    let r = ok_json(&update(&b, &["--no-upstream"]));
    assert_eq!(r[0]["report"]["unchanged"], false);
    assert_eq!(r[0]["report"]["from_team"], 1);
    assert_eq!(server.requests().len(), 0);
    let tree = b.home().join("missions/M");
    let e = walkdir::WalkDir::new(&tree)
        .into_iter()
        .filter_map(Result::ok)
        .find(|x| x.file_name() == "e.bsp")
        .expect("e.bsp laid out");
    assert_eq!(sha256(e.path()), hex(&spk_bytes(9, 3000)));
}

#[test]
fn large_objects_go_up_as_multipart_uploads_after_a_head() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("team");
    let home = Env::new();
    let src = home.work("big");
    let bytes = spk_bytes(77, 6_000_000);
    write(&src.join("big.bsp"), &bytes);
    home.ok(&["scan", src.to_str().unwrap(), "--mission", "M"]);
    let push = || {
        let mut c = home.kdb();
        c.env("KDB_TEAM_STORE", "s3://team/m")
            .env("KDB_TEST_TEAM_SINGLE_PUT_MAX", "1000000");
        for (k, v) in moto.env() {
            c.env(k, v);
        }
        ok_json(
            &c.args(["team", "push", "--all", "--json"])
                .output()
                .unwrap(),
        )
    };
    let r = push();
    assert_eq!(
        (r["uploaded"].as_u64(), r["failed"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(
        moto.logged("?uploads") >= 1,
        "a multipart upload was started"
    );
    assert_eq!(
        moto.object("team", &format!("m/{}", object_key(&bytes))),
        bytes
    );
    let r = push();
    assert_eq!(
        (r["uploaded"].as_u64(), r["present"].as_u64()),
        (Some(0), Some(1))
    );
}

#[test]
fn a_store_without_conditional_put_is_written_head_then_put() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("team");
    let (dir, server) = archive();
    let mut env = moto.env();
    // object_store then answers `NotImplemented` to a put-if-absent.
    env.push(("AWS_CONDITIONAL_PUT", "disabled".into()));
    let r = ok_json(&get(&Env::new(), &server, "s3://team/h", &env, &[]));
    assert_eq!(r["published"], 5);
    let heads = moto.logged("\"HEAD /team/h/objects/");
    assert!(heads >= 4, "HEAD before each PUT ({heads})");
    assert_eq!(moto.logged("\" 412 "), 0, "no conditional request was sent");
    let b = Env::new();
    server.reset_stats();
    let r = ok_json(&get(&b, &server, "s3://team/h", &env, &[]));
    assert_eq!(r["from_team"], 4);
    assert_eq!(kernel_requests(&server), 0);
    assert_home_right(&b, dir.path());
}

#[test]
fn a_retry_after_a_failed_get_does_not_wait_for_its_own_claims() {
    let (dir, server) = archive();
    let team = tempfile::Builder::new()
        .prefix("kdb-team-dir-")
        .tempdir()
        .unwrap();
    let store = team.path().display().to_string();
    let home = Env::new();
    // b.bsp fails upstream (404): the get fails, its claim stays.
    server.fault(
        "/pub/naif/M/kernels/spk/b.bsp",
        crate::common::http::Fault::Status(404),
    );
    let out = get(&home, &server, &store, &[], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(team.path().join("claims").is_dir());
    server.faults().clear();
    // The retry (same home, same claim window) downloads b.bsp itself at once, without
    // waiting for "another home"; what arrived in the failed run was committed then
    // (issue 20), so nothing else is fetched, from the team store or upstream.
    server.reset_stats();
    let out = get(&home, &server, &store, &[], &["-v"]);
    let r = ok_json(&out);
    assert_eq!(r["from_team"], 0);
    assert_eq!(r["downloaded"], 1);
    // One download; what arrived before costs at most a conditional request (304).
    assert!(server.body_bytes_sent_to("/pub/naif/M/kernels/spk/b.bsp") > 0);
    assert!(kernel_requests(&server) <= 4);
    assert!(
        !stderr(&out).contains("other homes are downloading"),
        "the retry waited for its own claim: {}",
        stderr(&out)
    );
    assert_home_right(&home, dir.path());
}

/// Issue 23 §2: a team tier served over HTTPS by a private CA is trusted through
/// `ca_file` (KDB_CA_FILE), as archives are; without it the tier is refused with a
/// warning and get falls back to the archive.
#[test]
fn an_https_tier_signed_by_the_users_ca_is_trusted_through_ca_file() {
    use crate::common::apache::Apache;
    use crate::common::tls::Tls;
    let (dir, server) = archive();
    let team = tempfile::Builder::new()
        .prefix("kdb-team-dir-")
        .tempdir()
        .unwrap();
    ok_json(&get(
        &Env::new(),
        &server,
        &format!("file://{}", team.path().display()),
        &[],
        &[],
    ));
    let tls = Tls::new();
    let Some(mirror) = Apache::start_tls(team.path(), &tls.cert, &tls.key, true) else {
        return;
    };
    let store = mirror.url("/");

    let untrusting = Env::new();
    server.reset_stats();
    let out = get(&untrusting, &server, &store, &[], &[]);
    let r = ok_json(&out);
    assert_eq!(r["from_team"], 0, "{r}");
    assert_eq!(kernel_requests(&server), 4);

    let trusting = Env::new();
    server.reset_stats();
    let r = ok_json(&get(
        &trusting,
        &server,
        &store,
        &[("KDB_CA_FILE", tls.ca.display().to_string())],
        &[],
    ));
    assert_eq!(r["from_team"], 4, "{r}");
    assert_eq!(kernel_requests(&server), 0);
    assert_home_right(&trusting, dir.path());
    assert!(
        mirror.access_log().contains("/objects/"),
        "{}",
        mirror.access_log()
    );
}

/// Issue 23 §3: the `proxy` setting carries the team store's S3 requests too (the
/// proxy's own log names the S3 endpoint).
#[test]
fn an_s3_team_store_goes_through_the_proxy_setting() {
    use crate::common::proxy::Tinyproxy;
    let Some(tinyproxy) = Tinyproxy::start(None) else {
        return;
    };
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("team");
    let (_dir, server) = archive();
    let mut vars = moto.env();
    vars.push(("KDB_PROXY", tinyproxy.url(None)));
    let out = get(&Env::new(), &server, "s3://team/p", &vars, &[]);
    ok_json(&out);
    // The tier was asked (lookups, claims, uploads): what reached the bucket went
    // through the proxy.
    assert!(!moto.keys("team").is_empty(), "{}", stderr(&out));
    let to_s3 = format!("127.0.0.1:{}", moto.port);
    assert!(
        tinyproxy
            .log()
            .lines()
            .any(|l| l.contains("Request") && l.contains(&to_s3)),
        "no S3 request through the proxy:\n{}",
        tinyproxy.log()
    );
}

/// Issue 23 §5: with no `AWS_*` keys in the environment, an S3 team store takes its
/// credentials from the AWS profile (`AWS_PROFILE`, `~/.aws/credentials`) and its
/// region and endpoint from `~/.aws/config`, as the AWS CLI does; with neither a
/// profile nor the instance metadata allowed, the tier is one warning naming what to
/// set. Nothing leaves loopback: the metadata endpoints and any proxy point at a closed
/// loopback port.
#[test]
fn an_s3_team_store_takes_credentials_region_and_endpoint_from_an_aws_profile() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("team");
    let (dir, server) = archive();
    // The signatures a store sees: an endpoint that records every request.
    let spy_root = tempfile::tempdir().unwrap();
    let spy = HttpServer::start(spy_root.path());
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let run = |home: &Env, profile: Option<&str>| {
        write(
            &home.root().join(".aws/credentials"),
            b"[kdbteam]\naws_access_key_id = PROFILEKEY\naws_secret_access_key = secret\n\
              [spy]\naws_access_key_id = SPYKEY\naws_secret_access_key = secret\n",
        );
        write(
            &home.root().join(".aws/config"),
            format!(
                "[profile kdbteam]\nregion = us-east-1\nendpoint_url = {}\n\
                 [profile spy]\nregion = eu-north-1\nendpoint_url = {}\n",
                moto.endpoint(),
                spy.url("/")
            )
            .as_bytes(),
        );
        let mut env: Vec<(&str, String)> = vec![
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_METADATA_ENDPOINT", closed.clone()),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", closed.clone()),
            ("HTTPS_PROXY", closed.clone()),
            ("HTTP_PROXY", closed.clone()),
            ("NO_PROXY", "127.0.0.1,localhost".into()),
        ];
        if let Some(p) = profile {
            env.push(("AWS_PROFILE", p.into()));
        }
        get(home, &server, "s3://team/prof", &env, &[])
    };

    // No profile named and no [default]: one warning saying what to set; upstream serves.
    let home = Env::new();
    let out = run(&home, None);
    let r = ok_json(&out);
    assert_eq!(r["published"], 0, "{r}");
    let warnings = team_warnings(&out);
    assert_eq!(warnings.len(), 1, "{}", stderr(&out));
    assert!(
        warnings[0].contains("no AWS credentials") && warnings[0].contains("AWS_PROFILE"),
        "{warnings:?}"
    );
    assert!(moto.keys("team").iter().all(|k| !k.starts_with("prof/")));

    // The profile: its keys sign, its config's endpoint and region are used.
    let out = run(&home, Some("kdbteam"));
    let r = ok_json(&out);
    assert!(team_warnings(&out).is_empty(), "{}", stderr(&out));
    assert!(r["published"].as_u64().unwrap() > 0, "{r}");
    let published: Vec<String> = moto
        .keys("team")
        .into_iter()
        .filter(|k| k.starts_with("prof/"))
        .collect();
    assert!(!published.is_empty());
    assert_home_right(&home, dir.path());

    // Which keys and region signed: the spy profile's endpoint records them.
    let home = Env::new();
    let _ = run(&home, Some("spy"));
    let signed: Vec<String> = spy
        .requests()
        .iter()
        .filter_map(|q| q.header("authorization").map(str::to_owned))
        .collect();
    assert!(
        !signed.is_empty(),
        "no request reached the profile's endpoint"
    );
    assert!(
        signed
            .iter()
            .all(|a| a.contains("Credential=SPYKEY/") && a.contains("/eu-north-1/s3/aws4_request")),
        "{signed:?}"
    );
}
