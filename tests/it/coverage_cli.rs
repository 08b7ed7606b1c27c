//! Issue 9 through the real binary: `kdb coverage`, `which`, `gaps`, `reindex` and the
//! coverage index, on the real kernels of `$KDB_REALDATA`, CSPICE (SpiceyPy) the oracle.
//!
//! 1. `coverage --json` per-ID windows equal `spkcov`/`pckcov` (bit for bit) and
//!    `ckcov` (ticks, both levels, bit for bit) for every binary DAF of the collection,
//!    answered from the index (the collection is scanned into a temp home first).
//! 2. `--time utc` bounds equal `et2utc(et, 'ISOC', 3)`.
//! 3. `which` over ≥ 1,000 random (body, epoch) pairs on real metakernel trees equals
//!    the file behind `spksfs`'s handle; "no coverage" agrees.
//! 4. `gaps` equals SpiceyPy's `wncomd` of the union (built with `wninsd`), clipped to
//!    `[from, to]`: CSPICE's `wncomd` returns a whole gap reaching past `to` when the
//!    span lies inside one gap, which `kdb gaps` clips (documented in docs/cli.md).
//! 5. Hostile files give exit 2 naming the file, no panic; the index is used (a second
//!    call reads no kernel byte, `KDB_DEBUG_READS`) and backfill works for contents
//!    registered before the index existed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::common::{Env, Rng, python, realdata};

fn oracle(py: &Path, jobs: &[Value]) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cspice/coverage_oracle.py");
    let mut child = Command::new(py)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the oracle");
    let input = serde_json::to_vec(jobs).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("oracle JSON")
}

fn bits(x: f64) -> i64 {
    i64::from_ne_bytes(x.to_ne_bytes())
}

fn unbits(v: &Value) -> f64 {
    f64::from_ne_bytes(v.as_i64().expect("bits").to_ne_bytes())
}

/// (relative path, kind) of the manifest's binary DAF kernels.
fn dafs(real: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(real.join("manifest.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let kind = *f.get(4)?;
            let k = if kind.starts_with("SPK (binary)") {
                "spk"
            } else if kind.starts_with("CK (binary)") {
                "ck"
            } else if kind == "binary PCK" {
                "pck"
            } else {
                return None;
            };
            Some((f[0].to_string(), k.to_string()))
        })
        .collect()
}

/// A temp home with the whole collection registered (scan reads, never writes, it).
fn scanned(real: &Path) -> Env {
    let env = Env::new();
    let out = env.run(&["scan", real.to_str().unwrap()]);
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env
}

fn windows_of(ids: &Value) -> BTreeMap<i64, Vec<f64>> {
    ids.as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let w = i["windows"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|p| p.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
                .collect();
            (i["id"].as_i64().unwrap(), w)
        })
        .collect()
}

#[test]
fn coverage_json_equals_spkcov_ckcov_pckcov_from_the_index() {
    let Some(real) = realdata() else { return };
    let Some(py) = python() else { return };
    let env = scanned(&real);
    let files = dafs(&real);
    let jobs: Vec<Value> = files
        .iter()
        .map(
            |(rel, kind)| json!({"op": "daf", "file": real.join(rel), "kind": kind, "kernels": []}),
        )
        .collect();
    let answers = oracle(&py, &jobs);
    let (mut compared, mut refused) = (0, 0);
    for ((rel, kind), a) in files.iter().zip(&answers) {
        let path = real.join(rel);
        let p = path.to_str().unwrap();
        if a.get("error").is_some() {
            let out = env.run(&["coverage", p, "--time", "sclk", "--json"]);
            assert_eq!(out.status.code(), Some(2), "{rel}: CSPICE refused it: {a}");
            assert!(String::from_utf8_lossy(&out.stderr).contains(p), "{rel}");
            refused += 1;
            continue;
        }
        let levels: &[&str] = if kind == "ck" {
            &["segment", "interval"]
        } else {
            &["segment"]
        };
        for level in levels {
            let out = env.run(&["coverage", p, "--time", "sclk", "--level", level, "--json"]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "{rel}: {stderr}");
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            let k = &v["kernels"][0];
            assert_eq!(k["type"], kind.as_str(), "{rel}");
            assert_eq!(
                k["sha256"].as_str().map(str::len),
                Some(64),
                "{rel}: not from the index"
            );
            let ours = windows_of(&k["ids"]);
            let key = match (kind.as_str(), *level) {
                ("ck", "segment") => "seg",
                ("ck", _) => "int",
                _ => "cov",
            };
            let theirs: BTreeMap<i64, Vec<f64>> = a["ids"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(id, c)| {
                    let w = c[key].as_array().unwrap().iter().map(unbits).collect();
                    (id.parse().unwrap(), w)
                })
                .collect();
            let ours_bits: BTreeMap<i64, Vec<i64>> = ours
                .iter()
                .map(|(k, w)| (*k, w.iter().map(|x| bits(*x)).collect()))
                .collect();
            let theirs_bits: BTreeMap<i64, Vec<i64>> = theirs
                .iter()
                .map(|(k, w)| (*k, w.iter().map(|x| bits(*x)).collect()))
                .collect();
            assert_eq!(ours_bits, theirs_bits, "{rel} level {level}");
            compared += 1;
        }
    }
    eprintln!(
        "coverage CLI: {compared} (file, level) pairs equal CSPICE, {refused} refused by both"
    );
    assert!(compared >= 20, "only {compared} comparisons");
}

#[test]
fn coverage_utc_equals_et2utc() {
    let Some(real) = realdata() else { return };
    let Some(py) = python() else { return };
    let env = Env::new();
    let lsk = real.join("trees/esa_bepic_workshop/kernels/lsk/naif0012.tls");
    let spks: Vec<PathBuf> = dafs(&real)
        .into_iter()
        .filter(|(_, k)| k != "ck")
        .map(|(rel, _)| real.join(rel))
        .take(40)
        .collect();
    let mut ets = Vec::new();
    let mut utcs = Vec::new();
    for f in &spks {
        let (fs, ls) = (f.to_str().unwrap(), lsk.to_str().unwrap());
        let et = env.run(&["coverage", ls, fs, "--json"]);
        if et.status.code() != Some(0) {
            continue; // hostile or refused files are test 5's
        }
        let utc: Value =
            serde_json::from_str(&env.ok(&["coverage", ls, fs, "--time", "utc", "--json"]))
                .unwrap();
        let et: Value = serde_json::from_slice(&et.stdout).unwrap();
        for (a, b) in et["kernels"][0]["ids"]
            .as_array()
            .unwrap()
            .iter()
            .zip(utc["kernels"][0]["ids"].as_array().unwrap())
        {
            for (x, y) in a["windows"]
                .as_array()
                .unwrap()
                .iter()
                .zip(b["windows"].as_array().unwrap())
            {
                for i in 0..2 {
                    ets.push(bits(x[i].as_f64().unwrap()));
                    utcs.push(y[i].as_str().unwrap().to_string());
                }
            }
        }
    }
    assert!(ets.len() >= 50, "only {} bounds", ets.len());
    let a = oracle(
        &py,
        &[json!({"op": "et2utc", "kernels": [lsk], "ets": ets})],
    );
    let theirs: Vec<String> = serde_json::from_value(a[0]["utc"].clone()).unwrap();
    assert_eq!(utcs, theirs);
    eprintln!(
        "coverage --time utc: {} bounds equal et2utc ISOC 3",
        utcs.len()
    );
}

/// Real metakernel trees whose entries all resolve (MANIFEST §2).
const TREES: &[&str] = &[
    "trees/esa_bepic_workshop/kernels/mk/bc_training_class.tm",
    "trees/npb_mars2020_spice/spice_kernels/mk/m2020_v02.tm",
    "trees/naif_lessons_jorbit/Lessons/data/insitu_sensing/scvel.tm",
];

/// The SPKs a metakernel loads (load order) and their per-ID ET windows.
fn mk_spks(env: &Env, mk: &str) -> Vec<(String, BTreeMap<i64, Vec<f64>>)> {
    let v: Value = serde_json::from_str(&env.ok(&["coverage", "--mk", mk, "--json"])).unwrap();
    v["kernels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["type"] == "spk")
        .map(|k| {
            (
                k["file"].as_str().unwrap().to_string(),
                windows_of(&k["ids"]),
            )
        })
        .collect()
}

#[test]
fn which_equals_spksfs_on_real_trees() {
    let Some(real) = realdata() else { return };
    let Some(py) = python() else { return };
    let env = scanned(&real);
    let (mut rng, seed) = Rng::from_time();
    eprintln!("which_equals_spksfs_on_real_trees: seed {seed}");
    let (mut total, mut covered) = (0, 0);
    for mk in TREES {
        let mk = real.join(mk);
        let mk = mk.to_str().unwrap();
        let spks = mk_spks(&env, mk);
        let bounds: Vec<(i64, f64, f64)> = spks
            .iter()
            .flat_map(|(_, ids)| {
                ids.iter()
                    .flat_map(|(id, w)| w.chunks(2).map(move |c| (*id, c[0], c[1])))
            })
            .collect();
        assert!(!bounds.is_empty(), "{mk}: no SPK windows");
        let mut queries = Vec::new();
        let mut ours = Vec::new();
        for i in 0..340 {
            let (id, a, b) = bounds[rng.below(bounds.len() as u64) as usize];
            let u = rng.below(1 << 20) as f64 / f64::from(1 << 20);
            let t = match i % 5 {
                0 => a,
                1 => b,
                2 => a - 1.0 - u * 86_400.0,
                _ => a + (b - a) * u,
            };
            // A value that prints and parses exactly.
            let t = (t * 2.0).round() / 2.0;
            let t = t.clamp(a.min(t), f64::MAX);
            let out = env.run(&[
                "which",
                mk,
                "--body",
                &id.to_string(),
                "--at",
                &format!("ET:{t}"),
                "--json",
            ]);
            assert!(
                matches!(out.status.code(), Some(0 | 1)),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            ours.push(v["winner"]["file"].as_str().map(str::to_string));
            queries.push(json!([id, bits(t)]));
        }
        let files: Vec<&str> = spks.iter().map(|(f, _)| f.as_str()).collect();
        let a = oracle(
            &py,
            &[json!({"op": "spksfs", "kernels": files, "queries": queries})],
        );
        for (h, o) in a[0]["hits"].as_array().unwrap().iter().zip(&ours) {
            let theirs = h["file"].as_str().map(str::to_string);
            assert_eq!(o, &theirs, "{mk}");
            covered += usize::from(theirs.is_some());
            total += 1;
        }
    }
    eprintln!("which: {total} (body, epoch) pairs equal spksfs, {covered} covered");
    assert!(total >= 1000 && covered > total / 2 && covered < total);
}

#[test]
fn gaps_equal_wncomd_of_the_union_clipped() {
    let Some(real) = realdata() else { return };
    let Some(py) = python() else { return };
    let env = scanned(&real);
    let (mut rng, seed) = Rng::from_time();
    eprintln!("gaps_equal_wncomd_of_the_union_clipped: seed {seed}");
    let mut jobs = Vec::new();
    let mut ours = Vec::new();
    for mk in TREES {
        let mk = real.join(mk);
        let mk = mk.to_str().unwrap();
        let spks = mk_spks(&env, mk);
        let mut union: BTreeMap<i64, Vec<[f64; 2]>> = BTreeMap::new();
        for (_, ids) in &spks {
            for (id, w) in ids {
                union
                    .entry(*id)
                    .or_default()
                    .extend(w.chunks(2).map(|c| [c[0], c[1]]));
            }
        }
        let ids: Vec<i64> = union.keys().copied().collect();
        for _ in 0..30 {
            let id = ids[rng.below(ids.len() as u64) as usize];
            let ivs = &union[&id];
            let lo = ivs.iter().map(|i| i[0]).fold(f64::INFINITY, f64::min);
            let hi = ivs.iter().map(|i| i[1]).fold(f64::NEG_INFINITY, f64::max);
            let span = (hi - lo).max(1.0);
            let pick = |r: &mut Rng| {
                ((lo - span * 0.2 + span * 1.4 * (r.below(1 << 20) as f64 / f64::from(1 << 20)))
                    * 2.0)
                    .round()
                    / 2.0
            };
            let (mut a, mut b) = (pick(&mut rng), pick(&mut rng));
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            let v = env.json(&[
                "gaps",
                mk,
                "--body",
                &id.to_string(),
                "--from",
                &format!("ET:{a}"),
                "--to",
                &format!("ET:{b}"),
            ]);
            assert_eq!(v["id"].as_i64(), Some(id));
            let g: Vec<[f64; 2]> = serde_json::from_value(v["gaps"].clone()).unwrap();
            ours.push((a, b, g));
            jobs.push(json!({"op": "wncomd", "window": ivs, "left": a, "right": b}));
        }
    }
    for ((a, b, g), r) in ours.iter().zip(oracle(&py, &jobs)) {
        let want: Vec<[f64; 2]> = serde_json::from_value(r["result"].clone()).unwrap();
        let clipped: Vec<[f64; 2]> = want
            .iter()
            .map(|iv| [iv[0].max(*a), iv[1].min(*b)])
            .filter(|iv| iv[0] <= iv[1])
            .collect();
        assert_eq!(g, &clipped, "[{a}, {b}]");
    }
    eprintln!("gaps: {} windows equal wncomd (clipped)", ours.len());
}

fn assert_exit2_naming(out: &Output, file: &Path, case: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{case}: {err}");
    assert!(err.contains(file.to_str().unwrap()), "{case}: {err}");
    assert!(!err.contains("panicked"), "{case}: {err}");
}

#[test]
fn hostile_files_exit_2_naming_the_file() {
    let Some(real) = realdata() else { return };
    let env = Env::new();
    let spk = std::fs::read(
        real.join("trees/esa_bepic_workshop/kernels/spk/de432s_20270609_20270614.bsp"),
    )
    .unwrap();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "html.bsp",
            b"<!DOCTYPE html><html><body>404</body></html>".to_vec(),
        ),
        ("text.bsp", b"KPL/FK\n\\begindata\nX = 1\n".to_vec()),
        ("empty.bsp", Vec::new()),
    ];
    for rec in [1usize, 2, 3] {
        cases.push((
            "truncated.bsp",
            spk[..(rec * 1024 - 1).min(spk.len())].to_vec(),
        ));
    }
    let mut ndni = spk.clone();
    ndni[8..12].copy_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
    cases.push(("ndni.bsp", ndni));
    // FWARD (word 77 of the file record) past the end of the file.
    let mut past = spk.clone();
    past[76..80].copy_from_slice(&1_000_000i32.to_le_bytes());
    cases.push(("past_eof.bsp", past));
    // The first summary record's NEXT pointing to itself: a loop.
    let fward = i32::from_le_bytes(spk[76..80].try_into().unwrap()) as usize;
    let mut looped = spk.clone();
    let at = (fward - 1) * 1024;
    looped[at..at + 8].copy_from_slice(&(fward as f64).to_le_bytes());
    cases.push(("loop.bsp", looped));
    for (i, (name, bytes)) in cases.iter().enumerate() {
        let path = env.work(&format!("{i}/{name}"));
        crate::common::write(&path, bytes);
        let out = env.run(&["coverage", path.to_str().unwrap(), "--json"]);
        assert_exit2_naming(&out, &path, name);
    }
    // A registered hostile file: the refusal is stored, and still named.
    let dir = env.work("reg");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("loop.bsp");
    crate::common::write(&bad, &cases.last().unwrap().1);
    env.run(&["scan", dir.to_str().unwrap()]);
    let out = env.run(&["coverage", bad.to_str().unwrap(), "--json"]);
    assert_exit2_naming(&out, &bad, "registered loop");
    // A CK without its SCLK: ticks, with a note naming what is missing (issue 20;
    // it used to fail the whole command).
    let ck = real.join("trees/esa_bepic_workshop/kernels/ck/bc_mpo_sc_slt_50028_20270609_20270614_s20200713_v01.bc");
    if ck.is_file() {
        let out = env.run(&["coverage", ck.to_str().unwrap(), "--json"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let note = j["kernels"][0]["note"].as_str().unwrap_or_default();
        assert!(note.contains("SCLK") && note.contains("ticks"), "{j}");
    }
}

fn reads(out: &Output) -> u64 {
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("bytes of binary kernels"))
        .unwrap_or_else(|| panic!("no read count in {err}"));
    line.split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap()
}

#[test]
fn the_index_is_used_and_backfilled() {
    let Some(real) = realdata() else { return };
    let env = Env::new();
    let tree = env.work("bepic");
    let src = real.join("trees/esa_bepic_workshop");
    let cp = Command::new("cp")
        .arg("-r")
        .arg(&src)
        .arg(&tree)
        .status()
        .unwrap();
    assert!(cp.success());
    env.ok(&["scan", tree.to_str().unwrap()]);
    let mk = tree.join("kernels/mk/bc_training_class.tm");
    let mk = mk.to_str().unwrap();
    let run = |env: &Env| {
        let out = env
            .kdb()
            .env("KDB_DEBUG_READS", "1")
            .args(["coverage", "--mk", mk, "--json"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let first = run(&env);
    assert_eq!(reads(&first), 0, "scan indexed every kernel");
    let n = env.count("coverage");
    assert!(n >= 5, "{n} index rows");
    // Contents registered before the index existed: no rows, schema version 3.
    {
        let c = env.catalogue();
        c.execute_batch("DROP TABLE coverage; PRAGMA user_version = 3;")
            .unwrap();
    }
    let second = run(&env);
    assert!(reads(&second) > 0, "backfill reads the kernels once");
    assert_eq!(
        second.stdout, first.stdout,
        "backfilled answers equal indexed ones"
    );
    assert_eq!(env.count("coverage"), n);
    let third = run(&env);
    assert_eq!(reads(&third), 0, "the index answers");
    assert_eq!(third.stdout, first.stdout);
    // `kdb reindex` rebuilds every entry.
    let v = env.json(&["reindex"]);
    assert!(v["indexed"].as_u64().unwrap() >= 5, "{v}");
    assert_eq!(reads(&run(&env)), 0);
}

#[test]
fn get_indexes_what_it_downloads() {
    let Some(real) = realdata() else { return };
    let env = Env::new();
    let tree = env.work("mirror");
    let cp = Command::new("cp")
        .arg("-r")
        .arg(real.join("trees/esa_bepic_workshop"))
        .arg(&tree)
        .status()
        .unwrap();
    assert!(cp.success());
    let url = format!(
        "file://{}",
        tree.join("kernels/mk/bc_training_class.tm").display()
    );
    env.ok(&["get", &url, "-y"]);
    // 7 SPKs and 2 CKs: one row each, with a summary.
    let rows: i64 = env
        .catalogue()
        .query_row(
            "SELECT count(*) FROM coverage WHERE summary IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 9);
    let out = env
        .kdb()
        .env("KDB_DEBUG_READS", "1")
        .args([
            "coverage",
            "--mk",
            "bc_training_class.tm",
            "--time",
            "utc",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(reads(&out), 0);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kernels"].as_array().unwrap().len(), 9);
}

/// The JSON contract's keys are always there: `merged` is `null` without `--merge`.
#[test]
fn coverage_json_always_has_kernels_and_merged() {
    let env = Env::new();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let url = format!(
        "file://{}/demo/pub/naif/DEMO/kernels/mk/demo.tm",
        repo.display()
    );
    env.ok(&["get", &url, "-y"]);
    let v = env.json(&["coverage", "--mk", "demo.tm"]);
    assert!(v["kernels"].is_array(), "{v}");
    assert!(
        v.get("merged").is_some_and(serde_json::Value::is_null),
        "{v}"
    );
    let m = env.json(&["coverage", "--mk", "demo.tm", "--merge"]);
    assert!(m["merged"].is_array(), "{m}");
}

/// Issue 22, defects 1, 2 and 4: `coverage`, `which` and `gaps` take the metakernel as
/// `--mk` and the body or frame as an argument alike (the older forms stay); human
/// output prints UTC (`--time et` on request) while JSON keeps ET seconds; and
/// `coverage ID --mk MK` lists only the kernels with data for ID (`--all-kernels`
/// lists the others too).
#[test]
fn the_three_questions_take_the_same_forms_and_people_read_utc() {
    let Some(real) = realdata() else { return };
    let env = scanned(&real);
    let mk = real.join(TREES[0]);
    let mk = mk.to_str().unwrap();
    let all: Value = serde_json::from_str(&env.ok(&["coverage", "--mk", mk, "--json"])).unwrap();
    let first_of = |kind: &str| -> (i64, f64, f64) {
        let k = all["kernels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["type"] == kind && !k["ids"].as_array().unwrap().is_empty())
            .unwrap_or_else(|| panic!("no {kind} with data in {mk}"));
        let (id, w) = windows_of(&k["ids"]).into_iter().next().unwrap();
        (id, w[0], w[1])
    };
    let utc = regex::Regex::new(r"gap \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d").unwrap();
    let seconds = regex::Regex::new(r"gap -?\d+\.\d{6} \.\. ").unwrap();
    for (kind, flag) in [("spk", "--body"), ("ck", "--frame")] {
        let (id, a, b) = first_of(kind);
        let id = id.to_string();
        let at = format!("ET:{}", (a + b) / 2.0);
        let old = env.json(&["which", mk, flag, &id, "--at", &at]);
        assert!(old["winner"].is_object(), "{kind}: {old}");
        for new in [
            env.json(&["which", &id, "--at", &at, "--mk", mk]),
            env.json(&["which", "--mk", mk, flag, &id, "--at", &at]),
        ] {
            assert_eq!(new, old, "{kind}: `which ID --mk MK` differs");
        }
        let (from, to) = (
            format!("ET:{}", a - 86_400.0),
            format!("ET:{}", b + 86_400.0),
        );
        let old = env.json(&["gaps", mk, flag, &id, "--from", &from, "--to", &to]);
        let new = env.json(&["gaps", &id, "--from", &from, "--to", &to, "--mk", mk]);
        assert_eq!(new, old, "{kind}: `gaps ID --mk MK` differs");
        // JSON keeps ET seconds; people read UTC unless they ask for ET.
        assert!(old["gaps"][0][0].is_f64(), "{old}");
        let human = env.ok(&["gaps", &id, "--from", &from, "--to", &to, "--mk", mk]);
        assert!(utc.is_match(&human), "{kind}: gaps not in UTC:\n{human}");
        let et = env.ok(&[
            "gaps", &id, "--from", &from, "--to", &to, "--mk", mk, "--time", "et",
        ]);
        assert!(
            seconds.is_match(&et),
            "{kind}: --time et not in seconds:\n{et}"
        );
    }
    // A kernel with no data for the ID is not listed unless asked for.
    let (id, _, _) = first_of("spk");
    let id = id.to_string();
    let only: Value =
        serde_json::from_str(&env.ok(&["coverage", &id, "--mk", mk, "--json"])).unwrap();
    let every: Value =
        serde_json::from_str(&env.ok(&["coverage", &id, "--mk", mk, "--all-kernels", "--json"]))
            .unwrap();
    let n = |v: &Value| v["kernels"].as_array().unwrap().len();
    assert!(
        n(&only) > 0 && n(&only) < n(&every),
        "{} vs {}",
        n(&only),
        n(&every)
    );
    assert_eq!(n(&every), n(&all));
    for k in only["kernels"].as_array().unwrap() {
        assert!(
            !k["ids"].as_array().unwrap().is_empty(),
            "listed without data: {k}"
        );
    }
    // Human coverage prints UTC by default (the metakernel loads an LSK).
    let human = env.ok(&["coverage", &id, "--mk", mk]);
    assert!(
        regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} \.\. ")
            .unwrap()
            .is_match(&human),
        "coverage not in UTC:\n{human}"
    );
}

/// Issue 22, defect 3: help text points only to documents users have.
#[test]
fn help_points_to_shipped_docs_only() {
    let env = Env::new();
    for args in [
        vec!["--help"],
        vec!["team", "--help"],
        vec!["team", "warm", "--help"],
        vec!["get", "--help"],
        vec!["coverage", "--help"],
    ] {
        let out = env.ok(&args);
        assert!(
            !out.contains("DESIGN.md"),
            "{args:?} names DESIGN.md:\n{out}"
        );
        assert!(!out.contains('§'), "{args:?} cites a section sign:\n{out}");
    }
    assert!(env.ok(&["team", "--help"]).contains("docs/team.md"));
}

/// An empty answer says why in human output (it printed nothing, exit 0): no binary
/// kernel loaded, or none with data for the ID asked. JSON keeps `"kernels": []`.
#[test]
fn an_empty_coverage_answer_says_why() {
    let env = Env::new();
    let dir = env.work("mk");
    use crate::common::{spk_bytes, text_kernel, write};
    write(&dir.join("l.tls"), &text_kernel(1));
    write(&dir.join("a.bsp"), &spk_bytes(7, 4000));
    let mk = |name: &str, entries: &[&str]| {
        let list: Vec<String> = entries
            .iter()
            .map(|e| format!("'{}'", dir.join(e).display()))
            .collect();
        let path = dir.join(name);
        write(
            &path,
            format!(
                "KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( {} )\n\\begintext\n",
                list.join(" ")
            )
            .as_bytes(),
        );
        path.display().to_string()
    };
    let text_only = mk("text.tm", &["l.tls"]);
    let with_spk = mk("spk.tm", &["l.tls", "a.bsp"]);
    let out = env.ok(&["coverage", "--mk", &text_only]);
    assert!(out.contains("no binary kernel"), "{out}");
    let out = env.ok(&["coverage", "12345", "--mk", &with_spk]);
    assert!(
        out.contains("none of the 1 binary kernels has data for 12345"),
        "{out}"
    );
    let j = env.json(&["coverage", "12345", "--mk", &with_spk]);
    assert_eq!(j["kernels"], json!([]), "{j}");
}
