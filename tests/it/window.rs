//! Issue 11 acceptance: `kdb get MK --from/--to` — remote coverage probes over HTTP
//! Range against the in-process server (with hostile faults), CSPICE (SpiceyPy) as
//! the oracle that the windowed metakernel answers exactly like the full one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::common::http::{Fault, HttpServer};
use crate::common::*;

fn get(env: &Env, url: &str, extra: &[&str]) -> Output {
    let mut args = vec!["get", url, "-y", "--mission", "M", "--json"];
    args.extend_from_slice(extra);
    env.kdb()
        .env("KDB_READ_TIMEOUT", "5")
        .env("KDB_CONNECT_TIMEOUT", "5")
        .args(&args)
        .output()
        .unwrap()
}

fn get_ok(env: &Env, url: &str, extra: &[&str]) -> Value {
    let out = get(env, url, extra);
    assert!(
        out.status.success(),
        "kdb get {extra:?} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (name, decision, reason) of every entry of a windowed plan.
fn decisions(report: &Value) -> Vec<(String, String, String)> {
    report["plan"]["window"]["entries"]
        .as_array()
        .expect("a windowed plan")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["decision"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn decision_of<'a>(d: &'a [(String, String, String)], name: &str) -> &'a (String, String, String) {
    d.iter()
        .find(|e| e.0 == name)
        .unwrap_or_else(|| panic!("no entry {name}: {d:?}"))
}

fn url_path(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/".into(), |i| rest[i..].to_owned())
}

/// Asserts nothing but the home (and the config path) exists in the env's root.
fn nothing_outside_home(env: &Env) {
    for entry in std::fs::read_dir(env.root()).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(
            name == "home" || name == "config.toml",
            "kdb wrote `{}` outside its home",
            name.to_string_lossy()
        );
    }
}

// ---------------------------------------------------------------------------
// Hand-made DAF/SPK files (no CSPICE needed)
// ---------------------------------------------------------------------------

const REC: usize = 1024;

/// A little-endian DAF/SPK of `records` records whose first summary record is
/// `fward` (names at `fward + 1`), holding one segment per `(target, start, stop)`;
/// `next` is that summary record's NEXT pointer.
fn spk(segs: &[(i32, f64, f64)], fward: usize, next: usize, records: usize) -> Vec<u8> {
    let mut b = vec![0u8; records * REC];
    b[..8].copy_from_slice(b"DAF/SPK ");
    b[8..12].copy_from_slice(&2i32.to_le_bytes());
    b[12..16].copy_from_slice(&6i32.to_le_bytes());
    b[16..76].copy_from_slice(&[b' '; 60]);
    b[76..80].copy_from_slice(&(fward as i32).to_le_bytes());
    b[80..84].copy_from_slice(&(fward as i32).to_le_bytes());
    b[84..88].copy_from_slice(&((records * 128 + 1) as i32).to_le_bytes());
    b[88..96].copy_from_slice(b"LTL-IEEE");
    summary_record(&mut b, fward, segs, next);
    b
}

fn summary_record(b: &mut [u8], record: usize, segs: &[(i32, f64, f64)], next: usize) {
    let at = (record - 1) * REC;
    let put = |b: &mut [u8], i: usize, v: f64| {
        b[at + i * 8..at + i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    };
    put(b, 0, next as f64);
    put(b, 1, 0.0);
    put(b, 2, segs.len() as f64);
    for (k, (target, start, stop)) in segs.iter().enumerate() {
        let base = 3 + k * 5;
        put(b, base, *start);
        put(b, base + 1, *stop);
        let ints = [*target, 399, 1, 2, 1025, 1026];
        for (j, v) in ints.iter().enumerate() {
            let o = at + (base + 2) * 8 + j * 4;
            b[o..o + 4].copy_from_slice(&v.to_le_bytes());
        }
    }
    let names = record * REC;
    if names + REC <= b.len() {
        b[names..names + 40 * segs.len()].fill(b' ');
    }
}

/// `/M/kernels/...`: a text kernel, `in.bsp` (inside ET 0..500), `out.bsp` (outside)
/// and `faulty.bsp` (outside; its server or its records misbehave per case).
fn small_archive(faulty: &[u8]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let k = dir.path().join("M/kernels");
    write(&k.join("lsk/t.tls"), &text_kernel(1));
    write(&k.join("spk/in.bsp"), &spk(&[(-5, 0.0, 100.0)], 2, 0, 64));
    write(
        &k.join("spk/out.bsp"),
        &spk(&[(-5, 1000.0, 2000.0)], 2, 0, 64),
    );
    write(&k.join("spk/faulty.bsp"), faulty);
    write(
        &k.join("mk/m.tm"),
        b"KPL/MK\n\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'KERNELS' )\nKERNELS_TO_LOAD = (\n  '$KERNELS/lsk/t.tls'\n  '$KERNELS/spk/in.bsp'\n  '$KERNELS/spk/out.bsp'\n  '$KERNELS/spk/faulty.bsp'\n)\n\\begintext\n",
    );
    (dir, "/M/kernels/mk/m.tm".into())
}

const WINDOW: [&str; 4] = ["--from", "ET:0", "--to", "ET:500"];

#[test]
fn window_skips_kernels_without_segments_in_it() {
    // faulty.bsp behaves here: a comment area puts its summary record at 20.
    let (dir, mk) = small_archive(&spk(&[(-5, 1000.0, 2000.0)], 20, 0, 64));
    let server = HttpServer::start(dir.path());
    let env = Env::new();
    let r = get_ok(&env, &server.url(&mk), &WINDOW);
    let d = decisions(&r);
    assert_eq!(decision_of(&d, "t.tls").1, "taken");
    assert_eq!(decision_of(&d, "in.bsp").1, "taken");
    assert_eq!(decision_of(&d, "out.bsp").1, "skipped");
    assert_eq!(decision_of(&d, "faulty.bsp").1, "skipped", "{d:?}");
    let w = &r["plan"]["window"];
    assert_eq!(w["bytes_saved"], 2 * 64 * 1024);
    // FWARD = 2: one request; FWARD = 20: two.
    assert_eq!(w["probes"]["requests"], 4, "{w}");
    // Skipped kernels were never downloaded: only their probes' bytes left the server.
    for p in ["/M/kernels/spk/out.bsp", "/M/kernels/spk/faulty.bsp"] {
        let sent = server.body_bytes_sent_to(p);
        assert!(sent <= 3 * 1024, "{p}: {sent} bytes");
    }
    let local = std::fs::read_to_string(r["metakernel"].as_str().unwrap()).unwrap();
    assert!(
        local.contains("in.bsp") && !local.contains("out.bsp"),
        "{local}"
    );
    assert!(
        local.contains("kdb-window: {\"from\":\"ET:0\",\"to\":\"ET:500\"}"),
        "{local}"
    );
    assert_eq!(env.count("metakernel_windows"), 1);
    assert_eq!(env.count("probes"), 3);
    // A lock pins every served entry: refused for a windowed metakernel, clearly.
    let out = env.run(&["lock", &server.url(&mk)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("time window"));
    let out = env.run(&[
        "get",
        &server.url(&mk),
        "-y",
        "--from",
        "ET:0",
        "--to",
        "ET:1",
        "--lock",
        "x.lock",
    ]);
    assert_eq!(out.status.code(), Some(2));

    // A second probe costs one conditional request per kernel and no body bytes.
    server.reset_stats();
    let r = get_ok(
        &env,
        &server.url(&mk),
        &[&WINDOW[..], &["--dry-run"]].concat(),
    );
    let w = &r["plan"]["window"];
    assert_eq!(w["probes"]["cached"], 3, "{w}");
    assert_eq!(w["probes"]["requests"], 3, "{w}");
    for p in [
        "/M/kernels/spk/out.bsp",
        "/M/kernels/spk/faulty.bsp",
        "/M/kernels/spk/in.bsp",
    ] {
        assert_eq!(server.body_bytes_sent_to(p), 0, "{p}");
    }
    // A changed file is probed again, never answered from the cache.
    write(
        &dir.path().join("M/kernels/spk/out.bsp"),
        &spk(&[(-5, 200.0, 300.0)], 2, 0, 64),
    );
    let r = get_ok(
        &env,
        &server.url(&mk),
        &[&WINDOW[..], &["--dry-run"]].concat(),
    );
    assert_eq!(decision_of(&decisions(&r), "out.bsp").1, "taken");

    // --body: a body with no segment skips every SPK; the text kernel stays.
    let r = get_ok(
        &env,
        &server.url(&mk),
        &[&WINDOW[..], &["--body", "399", "--dry-run"]].concat(),
    );
    let d = decisions(&r);
    // No SPK has a segment for 399: one is kept anyway, so that CSPICE answers "no
    // data" as with the full metakernel rather than "no SPK loaded".
    let spks: Vec<_> = d.iter().filter(|e| e.0.ends_with(".bsp")).collect();
    let taken: Vec<_> = spks.iter().filter(|e| e.1 == "taken").collect();
    assert_eq!(taken.len(), 1, "{d:?}");
    assert!(taken[0].2.starts_with("kept:"), "{d:?}");
    assert_eq!(decision_of(&d, "t.tls").1, "taken");
    nothing_outside_home(&env);
}

#[test]
fn coverage_of_a_remote_metakernel_downloads_no_kernel() {
    let (dir, mk) = small_archive(&spk(&[(-5, 1000.0, 2000.0), (-7, 5.0, 6.0)], 20, 0, 64));
    let server = HttpServer::start(dir.path());
    let env = Env::new();
    let v = env.json(&["coverage", "--mk", &server.url(&mk)]);
    let kernels = v["kernels"].as_array().unwrap();
    let summary: Vec<(String, i64, f64, f64)> = kernels
        .iter()
        .flat_map(|k| {
            k["ids"].as_array().unwrap().iter().map(move |id| {
                (
                    k["name"].as_str().unwrap().to_owned(),
                    id["id"].as_i64().unwrap(),
                    id["windows"][0][0].as_f64().unwrap(),
                    id["windows"][0][1].as_f64().unwrap(),
                )
            })
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("in.bsp".to_owned(), -5, 0.0, 100.0),
            ("out.bsp".to_owned(), -5, 1000.0, 2000.0),
            ("faulty.bsp".to_owned(), -7, 5.0, 6.0),
            ("faulty.bsp".to_owned(), -5, 1000.0, 2000.0),
        ]
    );
    for p in ["in", "out", "faulty"] {
        let sent = server.body_bytes_sent_to(&format!("/M/kernels/spk/{p}.bsp"));
        assert!(sent <= 3 * 1024, "{p}: {sent} bytes");
    }
    assert_eq!(env.count("kernels"), 0);
    assert_eq!(env.count("probes"), 3);
    // `which` and `gaps` take the remote metakernel too.
    let w = env.json(&["which", &server.url(&mk), "--body", "-5", "--at", "ET:50"]);
    assert!(
        w["winner"]["file"].as_str().unwrap().ends_with("/in.bsp"),
        "{w}"
    );
    nothing_outside_home(&env);
}

#[test]
fn hostile_servers_end_in_a_download_or_a_clear_error() {
    // faulty.bsp lies outside the window: it is taken only when its coverage is unknown.
    let far = spk(&[(-5, 1000.0, 2000.0)], 20, 0, 64);
    let mut looping = spk(&[(-5, 1000.0, 2000.0)], 20, 40, 64);
    summary_record(&mut looping, 40, &[(-5, 1000.0, 2000.0)], 20);
    let mut huge = spk(&[(-5, 1000.0, 2000.0)], 2, 0, 64);
    huge[76..80].copy_from_slice(&10_000_000i32.to_le_bytes());
    let path = "/M/kernels/spk/faulty.bsp";
    type Setup = Box<dyn Fn(&HttpServer)>;
    let cases: Vec<(&str, Vec<u8>, Setup, &str)> = vec![
        (
            "range ignored",
            far.clone(),
            Box::new(|s: &HttpServer| s.fault_first(path, 1, Fault::IgnoreRange)),
            "ignores Range",
        ),
        (
            "content-range offsets lie",
            far.clone(),
            Box::new(|s: &HttpServer| s.fault_first(path, 1, Fault::ShiftContentRange(1024))),
            "Content-Range",
        ),
        (
            "content-range total lies (10 GB)",
            far.clone(),
            Box::new(|s: &HttpServer| {
                s.fault_first(path, 1, Fault::ContentRangeTotal(10 << 30));
            }),
            "changed between two range requests",
        ),
        (
            "416",
            far.clone(),
            Box::new(|s: &HttpServer| s.fault_first(path, 1, Fault::Status(416))),
            "416",
        ),
        (
            "summary chain loops across requests",
            looping,
            Box::new(|_: &HttpServer| {}),
            "loops",
        ),
        (
            "file record claims a 10 GB summary area",
            huge,
            Box::new(|_: &HttpServer| {}),
            "past the end",
        ),
    ];
    for (case, bytes, setup, why) in cases {
        let (dir, mk) = small_archive(&bytes);
        let server = HttpServer::start(dir.path());
        setup(&server);
        let env = Env::new();
        // A file whose records are broken is taken (its coverage is unknown), then
        // refused whole by the download's structure check (issue 19, item 8): the
        // get fails naming it and registers no metakernel.
        let broken = why == "loops" || why == "past the end";
        let r = if broken {
            let out = get(&env, &server.url(&mk), &WINDOW);
            assert_eq!(out.status.code(), Some(3), "{case}");
            let r: Value = serde_json::from_slice(&out.stdout).unwrap();
            let failed = r["failed"].to_string();
            assert!(
                failed.contains("faulty.bsp") && failed.contains("structure"),
                "{case}: {failed}"
            );
            assert_eq!(env.count("metakernels"), 0, "{case}");
            r
        } else {
            get_ok(&env, &server.url(&mk), &WINDOW)
        };
        let d = decisions(&r);
        let (_, decision, reason) = decision_of(&d, "faulty.bsp");
        assert_eq!(decision, "taken", "{case}: {reason}");
        assert!(
            reason.contains("coverage unknown") && reason.contains(why),
            "{case}: {reason}"
        );
        assert_eq!(decision_of(&d, "out.bsp").1, "skipped", "{case}");
        if broken {
            nothing_outside_home(&env);
            continue;
        }
        // Downloaded whole and listed.
        let local = std::fs::read_to_string(r["metakernel"].as_str().unwrap()).unwrap();
        assert!(local.contains("faulty.bsp"), "{case}: {local}");
        // Nothing cached for a probe that did not conclude.
        let cached: i64 = env
            .catalogue()
            .query_row(
                "SELECT COUNT(*) FROM probes WHERE url LIKE '%faulty.bsp'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(cached, 0, "{case}");
        nothing_outside_home(&env);
    }

    // A redirect to another host mid-probe: the probe gives up, the download is
    // refused too, and the get fails clearly with no metakernel written.
    let (dir, mk) = small_archive(&far);
    let server = HttpServer::start(dir.path());
    server.fault_first(path, 1, Fault::Stall(Duration::ZERO));
    let elsewhere = format!("http://127.0.0.2:{}{path}", server.addr().port());
    server.fault(path, Fault::Redirect(elsewhere));
    let env = Env::new();
    let out = get(&env, &server.url(&mk), &WINDOW);
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("refused redirect") || stdout.contains("refused redirect"),
        "{err}\n{stdout}"
    );
    assert_eq!(env.count("metakernels"), 0);
    assert_eq!(env.count("metakernel_windows"), 0);
    nothing_outside_home(&env);
}

// ---------------------------------------------------------------------------
// The synthetic archive written with SpiceyPy, CSPICE as the oracle
// ---------------------------------------------------------------------------

struct Synth {
    dir: tempfile::TempDir,
    weeks: Vec<[f64; 2]>,
    files: usize,
}

fn oracle_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cspice/window_oracle.py")
}

fn synth(py: &Path, real: &Path, weeks: usize) -> Synth {
    let dir = tempfile::tempdir().unwrap();
    let bepi = real.join("trees/esa_bepic_workshop/kernels");
    let out = Command::new(py)
        .arg(oracle_script())
        .arg("make")
        .arg(dir.path().join("M"))
        .arg(bepi.join("lsk/naif0012.tls"))
        .arg(bepi.join("sclk/bc_mpo_step_20200713.tsc"))
        .arg(weeks.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    Synth {
        dir,
        weeks: v["weeks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| [w[0].as_f64().unwrap(), w[1].as_f64().unwrap()])
            .collect(),
        files: v["files"].as_u64().unwrap() as usize,
    }
}

fn entries_of(mk: &str) -> usize {
    let text = std::fs::read_to_string(mk).unwrap();
    text.lines()
        .filter(|l| l.trim_start().starts_with("'$KERNELS/"))
        .count()
}

#[test]
fn windowed_get_answers_like_the_full_one_and_saves_bytes() {
    let Some(real) = realdata() else { return };
    let Some(py) = python() else { return };
    let s = synth(&py, &real, 40);
    let server = HttpServer::start(s.dir.path());
    let url = server.url("/M/kernels/mk/synth.tm");

    // The full get.
    let full_env = Env::new();
    let before = server.body_bytes_sent();
    let full = get_ok(&full_env, &url, &[]);
    let full_bytes = server.body_bytes_sent() - before;
    let full_mk = full["metakernel"].as_str().unwrap().to_owned();
    assert_eq!(full["plan"]["entries"].as_array().unwrap().len(), s.files);

    // One week (week 15: no overlap from its neighbours) transfers < 5 % of that.
    let week_env = Env::new();
    let [a, b] = s.weeks[15];
    let (from, to) = (format!("ET:{}", a + 3600.0), format!("ET:{}", b - 3600.0));
    server.reset_stats();
    let before = server.body_bytes_sent();
    let week = get_ok(&week_env, &url, &["--from", &from, "--to", &to]);
    let week_bytes = server.body_bytes_sent() - before;
    eprintln!(
        "full get: {full_bytes} bytes; one week: {week_bytes} bytes ({:.2} %)",
        week_bytes as f64 * 100.0 / full_bytes as f64
    );
    assert!(
        week_bytes * 100 < full_bytes * 5,
        "{week_bytes} of {full_bytes}"
    );
    // Probes of skipped kernels: < 1 % of their sizes (server's count, per path).
    let w = &week["plan"]["window"];
    let (mut probe_bytes, mut sizes) = (0u64, 0u64);
    for e in w["entries"].as_array().unwrap() {
        if e["decision"] == "skipped" {
            probe_bytes += server.body_bytes_sent_to(&url_path(e["url"].as_str().unwrap()));
            sizes += e["size"].as_u64().unwrap();
        }
    }
    eprintln!(
        "skipped kernels: {probe_bytes} probe bytes for {sizes} bytes ({:.3} %); {} range requests for {} probes",
        probe_bytes as f64 * 100.0 / sizes as f64,
        w["probes"]["requests"],
        w["probes"]["probed"]
    );
    assert!(w["skipped"].as_u64().unwrap() > 50, "{w}");
    assert!(probe_bytes * 100 < sizes, "{probe_bytes} of {sizes}");
    let requests = w["probes"]["requests"].as_u64().unwrap();
    let probed = w["probes"]["probed"].as_u64().unwrap();
    assert!(
        requests <= 3 * probed,
        "{requests} requests for {probed} probes"
    );

    // Same answers: a window across a CK gap week, an overlap and SPK/CK gaps, with
    // --pad 1h (light time), 500 random epochs, from an unrelated working directory.
    let win_env = Env::new();
    let win = get_ok(
        &win_env,
        &url,
        &[
            "--from",
            "2020-01-29T12:00:00",
            "--to",
            "2020-02-27T12:00:00",
            "--pad",
            "1h",
        ],
    );
    let win_mk = win["metakernel"].as_str().unwrap().to_owned();
    assert!(win["plan"]["window"]["skipped"].as_u64().unwrap() > 40);
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(&py)
        .current_dir(elsewhere.path())
        .arg(oracle_script())
        .args(["compare", &full_mk, &win_mk])
        .args(["2020-01-29T12:00:00", "2020-02-27T12:00:00", "500", "11"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("oracle: {v}");
    assert_eq!(v["mismatch_count"], 0, "{v}");
    assert_eq!(v["compared"], 3000);
    // The window crosses gaps: the "insufficient data" errors were compared too.
    assert!(v["errors"].as_u64().unwrap() > 10, "{v}");

    // `coverage --mk URL` (probes only, CK intervals included) equals the local
    // reader on the full get, at both levels.
    let seg = ["--level", "segment"];
    let remote = full_env.json(&[&["coverage", "--mk", url.as_str()][..], &seg[..]].concat());
    let local = full_env.json(&[&["coverage", "--mk", full_mk.as_str()][..], &seg[..]].concat());
    let ids = |v: &Value| -> Vec<(Value, Value)> {
        v["kernels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| (k["name"].clone(), k["ids"].clone()))
            .collect()
    };
    assert_eq!(ids(&remote), ids(&local));
    assert_eq!(ids(&remote).len(), s.files - 3);
    let remote = full_env.json(&["coverage", "--mk", url.as_str()]);
    let local = full_env.json(&["coverage", "--mk", full_mk.as_str()]);
    assert_eq!(ids(&remote), ids(&local));
    assert!(
        !remote.to_string().contains("\"level\""),
        "CK intervals were read"
    );

    // `update` keeps the window.
    let mk_file = s.dir.path().join("M/kernels/mk/synth.tm");
    let mut text = std::fs::read_to_string(&mk_file).unwrap();
    text.push_str("\n   (a new version)\n");
    write(&mk_file, text.as_bytes());
    let week_mk = week["metakernel"].as_str().unwrap().to_owned();
    let taken = entries_of(&week_mk);
    let out = week_env.run(&["update", "-y", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let items: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(items[0]["report"]["unchanged"], false, "{items}");
    assert_eq!(
        items[0]["report"]["plan"]["window"]["spec"]["from"],
        from.as_str(),
        "{items}"
    );
    assert_eq!(entries_of(&week_mk), taken);
    assert!(
        std::fs::read_to_string(&week_mk)
            .unwrap()
            .contains("kdb-window:")
    );

    // `get` without a window fetches the rest.
    let rest = get_ok(&week_env, &url, &[]);
    assert!(rest["plan"].get("window").is_none());
    assert_eq!(entries_of(&week_mk), s.files);
    assert_eq!(
        rest["downloaded"].as_u64().unwrap() as usize,
        s.files - taken
    );
    assert_eq!(week_env.count("metakernel_windows"), 0);
    nothing_outside_home(&week_env);
}

// ---------------------------------------------------------------------------
// Real archives (BepiColombo training tree, NAIF subset) served by Apache
// ---------------------------------------------------------------------------

const CASSINI_MK: &str = "KPL/MK\n\\begindata\nPATH_VALUES = ( '../../..' )\nPATH_SYMBOLS = ( 'NAIF' )\nKERNELS_TO_LOAD = (\n  '$NAIF/generic_kernels/lsk/naif0012.tls'\n  '$NAIF/generic_kernels/pck/pck00010.tpc'\n  '$NAIF/generic_kernels/pck/gm_de431.tpc'\n  '$NAIF/CASSINI/kernels/sclk/cas00167.tsc'\n  '$NAIF/CASSINI/kernels/fk/cas_v40.tf'\n  '$NAIF/generic_kernels/spk/planets/a_old_versions/de405s.bsp'\n  '$NAIF/generic_kernels/pck/a_old_versions/earth_031228_231229_predict.bpc'\n  '$NAIF/CASSINI/kernels/spk/130212AP_SK_13043_13058.bsp'\n  '$NAIF/CASSINI/kernels/spk/130220AP_SE_13043_13073.bsp'\n  '$NAIF/CASSINI/kernels/ck/13056_13057ra.bc'\n)\n\\begintext\n";

/// Windowed and full gets of `mk` through Apache; CSPICE answers compared.
fn real_case(
    apache: &crate::common::apache::Apache,
    py: &Path,
    mk: &str,
    window: [&str; 2],
    queries: &str,
    min_skipped: u64,
) {
    let url = apache.url(mk);
    let full_env = Env::new();
    let full = get_ok(&full_env, &url, &[]);
    let win_env = Env::new();
    let win = get_ok(
        &win_env,
        &url,
        &["--from", window[0], "--to", window[1], "--pad", "1h"],
    );
    let w = &win["plan"]["window"];
    eprintln!(
        "{mk}: {} taken, {} skipped, {} bytes not downloaded; {} range requests for {} probes, {} bytes",
        w["taken"],
        w["skipped"],
        w["bytes_saved"],
        w["probes"]["requests"],
        w["probes"]["probed"],
        w["probes"]["bytes"]
    );
    assert!(w["skipped"].as_u64().unwrap() >= min_skipped, "{w}");
    assert_eq!(w["probes"]["unknown"], 0, "{w}");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(py)
        .current_dir(elsewhere.path())
        .arg(oracle_script())
        .arg("compare")
        .arg(full["metakernel"].as_str().unwrap())
        .arg(win["metakernel"].as_str().unwrap())
        .args([window[0], window[1], "500", "5", queries])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("{mk}: oracle {v}");
    assert_eq!(v["mismatch_count"], 0, "{v}");
    assert!(v["compared"].as_u64().unwrap() >= 2500, "{v}");
    // Some answers are data, not only errors.
    assert!(
        v["errors"].as_u64().unwrap() < v["compared"].as_u64().unwrap() / 2,
        "{v}"
    );
}

#[test]
fn real_archives_over_apache_answer_like_the_full_get() {
    let Some(real) = realdata() else { return };
    let Some(py) = python() else { return };
    let doc = tempfile::tempdir().unwrap();
    for (from, to) in [
        ("trees/esa_bepic_workshop", "bepi"),
        ("trees/naif_server_subset/pub", "pub"),
    ] {
        let ok = Command::new("cp")
            .arg("-r")
            .arg(real.join(from))
            .arg(doc.path().join(to))
            .status()
            .unwrap();
        assert!(ok.success());
    }
    write(
        &doc.path()
            .join("pub/naif/CASSINI/kernels/mk/kdb_cassini.tm"),
        CASSINI_MK.as_bytes(),
    );
    let Some(apache) = crate::common::apache::Apache::start(doc.path(), "") else {
        return;
    };
    real_case(
        &apache,
        &py,
        "/bepi/kernels/mk/bc_training_class.tm",
        ["2027-06-10T00:00:00", "2027-06-12T00:00:00"],
        r#"{"spkezr": [["MPO", "MERCURY", "NONE"], ["MMO", "MERCURY", "NONE"], ["MPO", "EARTH", "LT+S"], ["MERCURY", "SUN", "NONE"]],
            "pxform": [["J2000", "MPO_SPACECRAFT"]], "ckgp": [[-121000, -121, "J2000"]]}"#,
        3,
    );
    // --body by a name only the mission's FK defines (MPO = -121): its SPK and the
    // chain of centres stay, the other spacecraft's SPK goes.
    let env = Env::new();
    let r = get_ok(
        &env,
        &apache.url("/bepi/kernels/mk/bc_training_class.tm"),
        &[
            "--from",
            "2027-06-10T00:00:00",
            "--to",
            "2027-06-12T00:00:00",
            "--body",
            "MPO",
            "--dry-run",
        ],
    );
    assert_eq!(r["plan"]["window"]["bodies"][0], -121, "{r}");
    let d = decisions(&r);
    assert_eq!(
        decision_of(&d, "bc_mpo_mlt_50037_20270609_20270614_v01.bsp").1,
        "taken"
    );
    assert_eq!(
        decision_of(&d, "de432s_20270609_20270614.bsp").1,
        "taken",
        "{d:?}"
    );
    assert_eq!(
        decision_of(&d, "bc_mmo_mlt_50038_20270609_20270614_v01.bsp").1,
        "skipped"
    );
    real_case(
        &apache,
        &py,
        "/pub/naif/CASSINI/kernels/mk/kdb_cassini.tm",
        ["2013-02-20T00:00:00", "2013-02-21T00:00:00"],
        r#"{"spkezr": [["CASSINI", "SATURN BARYCENTER", "NONE"], ["CASSINI", "EARTH", "LT+S"], ["SATURN", "SUN", "NONE"]],
            "pxform": [["J2000", "CASSINI_SC_COORD"], ["ITRF93", "J2000"]], "ckgp": [[-82000, -82, "J2000"]]}"#,
        1,
    );
}
