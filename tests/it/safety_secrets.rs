//! Issue 19, "Secrets and resources": credentials never written down, bounded
//! memory and messages on hostile bundles and TOML, a speed floor on transfers,
//! validated settings, origin-bound redirects, `import --into` never replacing a
//! user's file, and user-facing outputs that follow the umask.
//!
//! Every test hashes the files it created outside the home (the served archive, the
//! user's files) and checks them intact afterwards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::http::{Fault, HttpServer};
use crate::common::{Env, sha256, write};

/// A copy of the demo archive shipped in `demo/` (served, never written by kdb).
struct Demo {
    dir: tempfile::TempDir,
}

impl Demo {
    fn new() -> Demo {
        let dir = tempfile::Builder::new()
            .prefix("kdb-demo-")
            .tempdir()
            .unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo");
        for e in walkdir::WalkDir::new(&src) {
            let e = e.unwrap();
            if e.file_type().is_file() {
                let rel = e.path().strip_prefix(&src).unwrap();
                write(&dir.path().join(rel), &std::fs::read(e.path()).unwrap());
            }
        }
        Demo { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }
}

const MK_PATH: &str = "/pub/naif/DEMO/kernels/mk/demo.tm";

/// Path → sha256 of every regular file under `dir` (symlinks not followed).
fn hashes(dir: &Path) -> BTreeMap<PathBuf, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), sha256(e.path())))
        .collect()
}

/// Every object of the home: path → (sha256 of its bytes, its name).
fn objects(env: &Env) -> Vec<(String, String)> {
    hashes(&env.home().join("objects"))
        .into_iter()
        .map(|(p, h)| (p.file_name().unwrap().to_string_lossy().into_owned(), h))
        .collect()
}

/// Each object holds the bytes its name says.
fn assert_objects_intact(env: &Env) {
    for (name, sha) in objects(env) {
        assert_eq!(name, sha, "object `{name}` does not hold its bytes");
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_code(out: &Output, code: i32, what: &str) {
    assert_eq!(out.status.code(), Some(code), "{what}:\n{}", text(out));
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            std::fs::read(e.path())
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        })
        .map(|e| e.path().to_path_buf())
        .collect()
}

/// Every text value of every table of the catalogue (a logical dump).
fn catalogue_dump(env: &Env) -> String {
    let conn = env.catalogue();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut dump = String::new();
    for t in tables {
        let mut st = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n {
                if let Ok(rusqlite::types::ValueRef::Text(s)) = row.get_ref(i) {
                    dump.push_str(&String::from_utf8_lossy(s));
                    dump.push('\n');
                }
            }
        }
    }
    dump
}

// ------------------------------------------------------------------ item 11

/// `get` of `http://alice:S3cret@host/…/demo.tm` against a server that requires
/// Basic auth: the credentials reach the server, and the password is nowhere —
/// not in the output (human or JSON), the catalogue, the lockfile, the bundle, the
/// team store's records or the ready tree. A later command takes the credentials
/// from netrc, never from what was written down.
#[test]
fn credentials_in_a_url_are_used_but_never_written_or_printed() {
    const PASSWORD: &str = "S3cret";
    let demo = Demo::new();
    let served = hashes(demo.root());
    let server = HttpServer::start(demo.root());
    server.require_basic_auth("alice", PASSWORD);
    let env = Env::new();
    let team_dir = env.work("team");
    std::fs::create_dir_all(&team_dir).unwrap();
    let team = team_dir.display().to_string();
    let with_creds =
        server
            .url(MK_PATH)
            .replacen("http://", &format!("http://alice:{PASSWORD}@"), 1);
    let no_netrc = env.root().join("no-netrc");

    // Without credentials the server refuses: the test server really checks.
    let out = env
        .kdb()
        .env("NETRC", &no_netrc)
        .args(["get", "-y", &server.url(MK_PATH)])
        .output()
        .unwrap();
    assert_code(&out, 6, "get without credentials");

    let mut printed = String::new();
    for args in [
        vec!["get", "--dry-run", &with_creds],
        vec!["get", "--dry-run", &with_creds, "--json"],
        vec!["get", "-y", &with_creds, "--json"],
        vec!["get", "-y", "--force", &with_creds],
    ] {
        let out = env
            .kdb()
            .env("NETRC", &no_netrc)
            .env("KDB_TEAM_STORE", &team)
            .args(&args)
            .output()
            .unwrap();
        assert_code(&out, 0, &format!("{args:?}"));
        printed.push_str(&text(&out));
    }
    assert!(
        server
            .requests()
            .iter()
            .filter(|r| r.header("authorization").is_some())
            .count()
            >= 5,
        "the credentials were not sent"
    );

    // Later processes have no command-line credentials: netrc supplies them
    // (`lock` revalidates against the server).
    let secrets = tempfile::tempdir().unwrap();
    let netrc = secrets.path().join("netrc");
    write(
        &netrc,
        format!("machine 127.0.0.1 login alice password {PASSWORD}\n").as_bytes(),
    );
    let lock = env.work("out/demo.kdb.lock");
    // Uncompressed, so that its members can be searched as bytes.
    let bundle = env.work("out/demo.tar");
    for args in [
        vec!["lock", "demo.tm", "-o", lock.to_str().unwrap()],
        vec!["export", "demo.tm", "-o", bundle.to_str().unwrap()],
        vec!["metakernels", "--json"],
        vec!["metakernels"],
        vec!["list", "demo.tm", "--json"],
        vec!["aliases", "demo_lsk_v01.tls", "--json"],
        vec!["mission", "list", "--json"],
    ] {
        let out = env
            .kdb()
            .env("NETRC", &netrc)
            .env("KDB_TEAM_STORE", &team)
            .args(&args)
            .output()
            .unwrap();
        assert_code(&out, 0, &format!("{args:?}"));
        printed.push_str(&text(&out));
    }
    assert!(lock.is_file() && bundle.is_file());
    assert!(
        hashes(&team_dir).len() > 4,
        "the team store got no records to check"
    );
    assert!(
        !printed.contains(PASSWORD),
        "the password was printed:\n{printed}"
    );
    assert!(printed.contains(&server.url(MK_PATH)), "{printed}");
    let dump = catalogue_dump(&env);
    assert!(dump.contains(&server.url(MK_PATH)), "{dump}");
    assert!(!dump.contains(PASSWORD), "the catalogue holds the password");
    assert_eq!(
        files_containing(env.root(), PASSWORD),
        Vec::<PathBuf>::new(),
        "files holding the password"
    );
    assert!(
        std::fs::read(&bundle)
            .unwrap()
            .windows(8)
            .any(|w| w == b"kdb.lock"),
        "the bundle is searchable"
    );
    // Imported elsewhere, it is clean too.
    let unpacked = env.work("unpacked");
    let out = env
        .kdb()
        .args(["import", bundle.to_str().unwrap(), "--into"])
        .arg(&unpacked)
        .arg("--json")
        .output()
        .unwrap();
    assert_code(&out, 0, "import");
    assert!(!text(&out).contains(PASSWORD));

    // A plain URL: netrc supplies the credentials.
    let out = env
        .kdb()
        .env("NETRC", &netrc)
        .args(["get", "-y", "--force", &server.url(MK_PATH)])
        .output()
        .unwrap();
    assert_code(&out, 0, "get with netrc");
    assert!(!text(&out).contains(PASSWORD));
    assert_eq!(hashes(demo.root()), served, "the served archive changed");
    assert_objects_intact(&env);
}

/// A team store spec with a password: the HTTP tier gets the credentials (it is
/// reachable behind Basic auth), and neither `team status` (human, JSON), `config`
/// nor the warnings of an unreachable tier print the password.
#[test]
fn a_team_store_password_is_never_printed() {
    const PASSWORD: &str = "T3amPass";
    let mirror = tempfile::tempdir().unwrap();
    write(&mirror.path().join("kdb/README"), b"team mirror\n");
    let before = hashes(mirror.path());
    let server = HttpServer::start(mirror.path());
    server.require_basic_auth("bob", PASSWORD);
    let env = Env::new();
    let reachable = server
        .url("/kdb/")
        .replacen("http://", &format!("http://bob:{PASSWORD}@"), 1);
    // A closed port: the tier fails and is warned about.
    let dead = format!("http://bob:{PASSWORD}@127.0.0.1:1/kdb/");
    let stores = format!("{reachable} {dead}");
    let mut printed = String::new();
    for args in [
        vec!["team", "status", "--json"],
        vec!["team", "status"],
        vec!["config"],
        vec!["config", "--json"],
    ] {
        let out = env
            .kdb()
            .env("KDB_TEAM_STORE", &stores)
            .env("KDB_CONNECT_TIMEOUT", "2")
            .env("KDB_READ_TIMEOUT", "2")
            .args(&args)
            .output()
            .unwrap();
        printed.push_str(&text(&out));
        if args == ["team", "status", "--json"] {
            let j: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
            let tiers = j["tiers"].as_array().or(j.as_array()).cloned();
            let tiers = tiers.unwrap_or_else(|| panic!("no tiers in {j}"));
            assert_eq!(tiers[0]["reachable"], true, "credentials not sent: {j}");
            assert_eq!(tiers[1]["reachable"], false, "{j}");
        }
    }
    // A get with the dead tier first: its warning names it.
    let demo = Demo::new();
    let archive = HttpServer::start(demo.root());
    let out = env
        .kdb()
        .env("KDB_TEAM_STORE", &dead)
        .env("KDB_CONNECT_TIMEOUT", "2")
        .args(["get", "-y", &archive.url(MK_PATH)])
        .output()
        .unwrap();
    assert_code(&out, 0, "get with a dead tier");
    assert!(text(&out).contains("warning"), "{}", text(&out));
    printed.push_str(&text(&out));
    // A malformed spec is named in the error, without its password.
    let out = env
        .kdb()
        .env("KDB_TEAM_STORE", format!("ftp://bob:{PASSWORD}@host/kdb/"))
        .args(["team", "status"])
        .output()
        .unwrap();
    assert_code(&out, 2, "unsupported team store scheme");
    printed.push_str(&text(&out));
    assert!(
        !printed.contains(PASSWORD),
        "the password was printed:\n{printed}"
    );
    assert!(printed.contains("127.0.0.1:1/kdb/"), "{printed}");
    assert_eq!(
        files_containing(env.root(), PASSWORD),
        Vec::<PathBuf>::new()
    );
    assert_eq!(hashes(mirror.path()), before);
}

// ------------------------------------------------------------------ item 13

/// Runs `cmd`, killing it after `limit`: a process that never ends fails the test
/// instead of hanging the suite (a watchdog, not a timing assertion).
fn output_within(mut cmd: std::process::Command, limit: std::time::Duration) -> Output {
    use std::process::Stdio;
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        tx.send(child.wait_with_output().unwrap()).ok();
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out,
        Err(_) => {
            std::process::Command::new("kill")
                .args(["-9", &id.to_string()])
                .status()
                .ok();
            panic!("kdb was still running after {limit:?}: no progress deadline");
        }
    }
}

/// A server dripping a byte every 200 ms never trips the idle timeout; the speed
/// floor (1000 B/s over a 1 s window here) fails the transfer after its retries,
/// with the network exit code, naming the URL and the rate; nothing is registered.
#[test]
fn a_dripping_server_fails_the_speed_floor() {
    let demo = Demo::new();
    let served = hashes(demo.root());
    let server = HttpServer::start(demo.root());
    let drip = Fault::Drip {
        chunk: 1,
        interval: std::time::Duration::from_millis(200),
    };
    server.fault(MK_PATH, drip.clone());
    let env = Env::new();
    let slow = |args: &[&str]| {
        let mut cmd = env.kdb();
        cmd.env("KDB_LOW_SPEED_LIMIT", "1000")
            .env("KDB_LOW_SPEED_TIME", "1")
            .args(args);
        output_within(cmd, std::time::Duration::from_secs(60))
    };
    let url = server.url(MK_PATH);
    let out = slow(&["get", "-y", &url]);
    assert_code(&out, 6, "dripped metakernel");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&url) && err.contains("too slow"), "{err}");
    assert!(err.contains("bytes/s"), "{err}");
    assert!(
        server.hits(MK_PATH) >= 2,
        "the slow transfer was not retried"
    );

    // A dripping kernel: the transfer fails the same way, the kernel is not registered.
    server.faults().clear();
    let kernel = "/pub/naif/DEMO/kernels/pck/demo_pck_v01.tpc";
    server.fault(kernel, drip);
    let out = slow(&["get", "-y", &url, "--json"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains(&server.url(kernel)), "{}", text(&out));
    assert!(text(&out).contains("too slow"), "{}", text(&out));
    let registered: i64 = env
        .catalogue()
        .query_row(
            "SELECT COUNT(*) FROM locations WHERE path LIKE '%demo_pck_v01.tpc'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(registered, 0);
    assert_eq!(hashes(demo.root()), served);
    assert_objects_intact(&env);
}

// ------------------------------------------------------------------ item 14

/// Numeric settings are range-checked when read: an overflowing timeout or job
/// count is a usage error naming the setting and its range, never a panic.
#[test]
fn numeric_settings_out_of_range_are_refused_with_their_range() {
    let demo = Demo::new();
    let served = hashes(demo.root());
    let server = HttpServer::start(demo.root());
    let env = Env::new();
    for (var, key, range) in [
        ("KDB_READ_TIMEOUT", "read_timeout", "from 0 to 86400"),
        ("KDB_CONNECT_TIMEOUT", "connect_timeout", "from 0 to 86400"),
        ("KDB_LOCK_TIMEOUT", "lock_timeout", "from 0 to 604800"),
        ("KDB_JOBS", "jobs", "from 1 to 256"),
        ("KDB_LOW_SPEED_TIME", "low_speed_time", "from 1 to 86400"),
    ] {
        for value in ["18446744073709551615", "99999999999999999999999"] {
            let out = env
                .kdb()
                .env(var, value)
                .args(["get", "-y", &server.url(MK_PATH)])
                .output()
                .unwrap();
            assert_code(&out, 2, &format!("{var}={value}"));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(key) && err.contains(range), "{var}: {err}");
            assert!(!err.contains("internal error"), "{err}");
        }
    }
    let out = env.run(&[
        "get",
        "-y",
        "-j",
        "18446744073709551615",
        &server.url(MK_PATH),
    ]);
    assert_code(&out, 2, "-j out of range");
    let out = env.run(&["config", "set", "read_timeout", "18446744073709551615"]);
    assert_code(&out, 2, "config set");
    assert!(!env.root().join("config.toml").exists());
    assert!(!env.home().join("kdb.sqlite").exists(), "nothing ran");
    assert_eq!(hashes(demo.root()), served);
}

/// An origin is scheme + host + port: a redirect to another port of the same host
/// is refused (the other port is never asked), as one to another host is.
#[test]
fn a_redirect_to_another_port_is_refused() {
    let demo = Demo::new();
    let served = hashes(demo.root());
    let server = HttpServer::start(demo.root());
    let other = HttpServer::start(demo.root());
    server.fault(MK_PATH, Fault::Redirect(other.url(MK_PATH)));
    let env = Env::new();
    let out = env
        .kdb()
        .args(["get", "-y", &server.url(MK_PATH)])
        .output()
        .unwrap();
    assert_code(&out, 6, "cross-port redirect");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused redirect"), "{err}");
    assert_eq!(other.requests().len(), 0, "the other port was asked");
    // The same origin is still followed.
    server.faults().clear();
    server.fault("/moved.tm", Fault::Redirect(MK_PATH.into()));
    let out = env
        .kdb()
        .args(["get", "-y", "--mission", "DEMO", &server.url("/moved.tm")])
        .output()
        .unwrap();
    assert_code(&out, 0, "same-origin redirect");
    assert_eq!(hashes(demo.root()), served);
    assert_objects_intact(&env);
}

/// `env.kdb()` run through a wrapper (`prlimit …`, `sh -c 'umask …'`): the same
/// environment, the wrapper's words, then the kdb binary and `args`.
fn wrapped(env: &Env, wrapper: &[&str], args: &[&str]) -> Output {
    let base = env.kdb();
    let mut c = std::process::Command::new(wrapper[0]);
    c.env_clear();
    for (k, v) in base.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    c.args(&wrapper[1..])
        .arg(base.get_program())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// Runs `kdb args` under umask `mask`.
fn with_umask(env: &Env, mask: &str, args: &[&str]) -> Output {
    let script = format!("umask {mask} && exec \"$0\" \"$@\"");
    wrapped(env, &["sh", "-c", &script], args)
}

/// The demo metakernel acquired from `file://` (no server), its lockfile and bundle
/// exported into `work/out`.
fn acquired_demo(env: &Env, demo: &Demo) -> (PathBuf, PathBuf) {
    let url = format!(
        "file://{}",
        demo.root()
            .join("pub/naif/DEMO/kernels/mk/demo.tm")
            .display()
    );
    env.ok(&["get", "-y", &url]);
    let lock = env.work("out/demo.kdb.lock");
    let bundle = env.work("out/demo.tar.zst");
    env.ok(&["lock", "demo.tm", "-o", lock.to_str().unwrap()]);
    env.ok(&["export", "demo.tm", "-o", bundle.to_str().unwrap()]);
    (lock, bundle)
}

// ------------------------------------------------------------------ item 12

/// A GNU long-name header block claiming `size` bytes.
fn long_name_header(size: u64) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..13].copy_from_slice(b"././@LongLink");
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'L';
    h[257..265].copy_from_slice(b"ustar  \0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A ~100 KB zstd bundle whose first header is a 3 GB GNU long name (its bytes are
/// there: one compressed frame of 1 MiB repeated), then an ordinary header.
fn long_name_bomb() -> Vec<u8> {
    const GIB3: u64 = 3 << 30;
    let mut out = zstd::bulk::compress(&long_name_header(GIB3), 1).unwrap();
    let frame = zstd::bulk::compress(&vec![b'a'; 1 << 20], 19).unwrap();
    for _ in 0..(GIB3 >> 20) {
        out.extend_from_slice(&frame);
    }
    out
}

/// `import` of a 100 KB bundle holding a 3 GB GNU long name fails at once with a
/// clear, short error, under an address-space limit of 1.5 GB that a valid import
/// stays within (the tar crate would read the name into memory whole).
#[test]
fn a_huge_extension_header_is_refused_before_it_is_read() {
    let demo = Demo::new();
    let env = Env::new();
    let (_lock, good) = acquired_demo(&env, &demo);
    let bomb = env.work("in/bomb.tar.zst");
    write(&bomb, &long_name_bomb());
    assert!(std::fs::metadata(&bomb).unwrap().len() < 512 << 10);
    let user = hashes(&env.root().join("work"));
    let limit = ["prlimit", "--as=1610612736", "--"];
    // The limit leaves room for a normal import.
    let into = env.work("good-tree");
    let out = wrapped(
        &env,
        &limit,
        &[
            "import",
            good.to_str().unwrap(),
            "--into",
            into.to_str().unwrap(),
        ],
    );
    assert_code(&out, 0, "valid import under the memory limit");
    let out = wrapped(&env, &limit, &["import", bomb.to_str().unwrap()]);
    assert_code(&out, 2, "long-name bomb");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("extension header of 3221225472 bytes"),
        "{err}"
    );
    assert!(err.len() < 2000, "a {} byte error", err.len());
    for (path, sha) in &user {
        assert_eq!(&sha256(path), sha, "{} changed", path.display());
    }
    assert_objects_intact(&env);
}

/// A 400 KB one-line config file or lockfile that does not parse gives an error of
/// a few hundred bytes, not 400 KB: the offending line is shortened.
#[test]
fn a_huge_toml_line_gives_a_short_error() {
    let env = Env::new();
    let long = "a".repeat(400_000);
    let config = env.root().join("config.toml");
    write(&config, format!("jobs = 1 {long}\n").as_bytes());
    let out = env.run(&["config"]);
    assert_code(&out, 2, "huge config line");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("config.toml"), "{err}");
    assert!(err.len() < 4000, "a {} byte error", err.len());
    write(&config, format!("jobs = \"{long}\"\n").as_bytes());
    let before = sha256(&config);
    let out = env.run(&["config"]);
    assert_code(&out, 2, "huge config value");
    assert!(out.stderr.len() < 4000, "a {} byte error", out.stderr.len());
    assert_eq!(sha256(&config), before, "the config file changed");
    std::fs::remove_file(&config).unwrap();

    let lock = env.work("big.kdb.lock");
    write(&lock, format!("schema = 1 {long}\n").as_bytes());
    let bad_url = env.work("url.kdb.lock");
    let text = format!(
        "schema = 1\nkdb_version = \"0.1.0\"\ncreated = \"2026-01-01T00:00:00Z\"\n\
         [metakernel]\nname = \"m.tm\"\nsource_url = \"{long}:x\"\nsha256 = \"{}\"\nsize = 1\n",
        "0".repeat(64)
    );
    write(&bad_url, text.as_bytes());
    let user = hashes(&env.root().join("work"));
    for path in [&lock, &bad_url] {
        let out = env.run(&["restore", path.to_str().unwrap(), "--offline"]);
        assert_code(&out, 2, "huge lockfile line");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(".kdb.lock"), "{err}");
        assert!(err.len() < 4000, "a {} byte error", err.len());
    }
    assert_eq!(hashes(&env.root().join("work")), user);
}

// ------------------------------------------------------------------ item 14

/// `import --into DIR` never replaces a user's regular file at a layout path: exit
/// 2 naming it, nothing written; a file already holding the bytes, and kdb's own
/// links, are fine.
#[test]
fn import_into_never_replaces_a_users_file() {
    let demo = Demo::new();
    let env = Env::new();
    let (_lock, bundle) = acquired_demo(&env, &demo);
    let bundle = bundle.to_str().unwrap().to_owned();
    // Where the layout puts the LSK.
    let probe = env.work("probe");
    env.ok(&["import", &bundle, "--into", probe.to_str().unwrap()]);
    let rel = walkdir::WalkDir::new(&probe)
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_name() == "demo_lsk_v01.tls")
        .map(|e| e.path().strip_prefix(&probe).unwrap().to_path_buf())
        .expect("the LSK is laid out");

    let into = env.work("tree");
    let mine = into.join(&rel);
    write(&mine, b"my own notes, not a kernel\n");
    let before = crate::common::snapshot(&into);
    let user = hashes(&env.root().join("work"));
    let out = env.run(&["import", &bundle, "--into", into.to_str().unwrap()]);
    assert_code(&out, 2, "import over a user's file");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&mine.display().to_string()), "{err}");
    assert_eq!(
        crate::common::snapshot(&into),
        before,
        "the tree was written"
    );
    assert_eq!(hashes(&env.root().join("work")), user);

    // The same bytes already there: accepted (re-import is idempotent).
    let lsk = demo
        .root()
        .join("pub/naif/DEMO/kernels/lsk/demo_lsk_v01.tls");
    write(&mine, &std::fs::read(&lsk).unwrap());
    env.ok(&["import", &bundle, "--into", into.to_str().unwrap()]);
    env.ok(&["import", &bundle, "--into", into.to_str().unwrap()]);
    assert_objects_intact(&env);
}

/// Lockfiles, bundles, `rewrite` output and ready metakernels follow the umask
/// (0666 & !umask) as other tools' outputs do; objects stay 0444.
#[test]
fn user_facing_outputs_follow_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let demo = Demo::new();
    let served = hashes(demo.root());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let url = format!(
        "file://{}",
        demo.root()
            .join("pub/naif/DEMO/kernels/mk/demo.tm")
            .display()
    );
    for (mask, want) in [("022", 0o644), ("002", 0o664)] {
        let env = Env::new();
        let out = with_umask(&env, mask, &["get", "-y", &url, "--json"]);
        assert_code(&out, 0, "get");
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ready = PathBuf::from(j["metakernel"].as_str().unwrap());
        let lock = env.work(&format!("out{mask}/demo.kdb.lock"));
        let bundle = env.work(&format!("out{mask}/demo.tar"));
        let rewritten = env.work(&format!("out{mask}/rw.tm"));
        for args in [
            vec!["lock", "demo.tm", "-o", lock.to_str().unwrap()],
            vec!["export", "demo.tm", "-o", bundle.to_str().unwrap()],
            vec!["rewrite", "demo.tm", "-o", rewritten.to_str().unwrap()],
        ] {
            assert_code(&with_umask(&env, mask, &args), 0, &format!("{args:?}"));
        }
        for p in [&ready, &lock, &bundle, &rewritten] {
            assert_eq!(mode(p), want, "{} under umask {mask}", p.display());
        }
        for (path, _) in hashes(&env.home().join("objects")) {
            assert_eq!(mode(&path), 0o444, "{}", path.display());
        }
        assert_objects_intact(&env);
    }
    assert_eq!(hashes(demo.root()), served);
}

/// A team-store mirror that drips its objects: the speed floor abandons the tier
/// (a warning names it and the rate) and the archive serves the kernels.
#[test]
fn a_dripping_team_store_is_abandoned_for_the_archive() {
    let demo = Demo::new();
    let served = hashes(demo.root());
    let archive = HttpServer::start(demo.root());
    let team = tempfile::tempdir().unwrap();
    // A fills the team directory; B reads it over HTTP once to learn the object paths.
    let a = Env::new();
    let out = a
        .kdb()
        .env("KDB_TEAM_STORE", team.path())
        .args(["get", "-y", &archive.url(MK_PATH)])
        .output()
        .unwrap();
    assert_code(&out, 0, "filling the team store");
    let mirror = HttpServer::start(team.path());
    let b = Env::new();
    let out = b
        .kdb()
        .env("KDB_TEAM_STORE", mirror.url("/"))
        .args(["get", "-y", &archive.url(MK_PATH)])
        .output()
        .unwrap();
    assert_code(&out, 0, "reading the team store");
    let objects: Vec<String> = mirror
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/objects/"))
        .map(|r| r.path.clone())
        .collect();
    assert!(!objects.is_empty(), "the team store served nothing");
    let team_files = hashes(team.path());
    for path in &objects {
        mirror.fault(
            path,
            Fault::Drip {
                chunk: 1,
                interval: std::time::Duration::from_millis(200),
            },
        );
    }
    let c = Env::new();
    let mut cmd = c.kdb();
    cmd.env("KDB_TEAM_STORE", mirror.url("/"))
        .env("KDB_LOW_SPEED_LIMIT", "1000")
        .env("KDB_LOW_SPEED_TIME", "1")
        .args(["get", "-y", &archive.url(MK_PATH)]);
    let out = output_within(cmd, std::time::Duration::from_secs(60));
    assert_code(&out, 0, "get past a dripping team store");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("too slow") && err.contains("bytes/s"), "{err}");
    assert_eq!(hashes(team.path()), team_files);
    assert_eq!(hashes(demo.root()), served);
    assert_objects_intact(&c);
}
