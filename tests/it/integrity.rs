//! Issue 10 acceptance: `verify`, `verify --checksums`, `prune` (property test),
//! the chaos suite, disk full, and `outdated` against the in-process fault server.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::archive::Archive;
use crate::common::http::{Fault, HttpServer};
use crate::common::*;

// ------------------------------------------------------------------ helpers

fn tree_path(env: &Env, server: &HttpServer, rel: &str) -> PathBuf {
    let a = server.addr();
    env.home()
        .join("missions/M")
        .join(format!("{}_{}", a.ip(), a.port()))
        .join("pub/naif/M/kernels")
        .join(rel)
}

fn net_env(env: &Env) -> std::process::Command {
    let mut c = env.kdb();
    c.env("KDB_READ_TIMEOUT", "1")
        .env("KDB_CONNECT_TIMEOUT", "1");
    c
}

fn run_net(env: &Env, args: &[&str]) -> Output {
    net_env(env).args(args).output().unwrap()
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(out)))
}

fn object_path(env: &Env, sha: &str) -> PathBuf {
    env.home().join("objects/sha256").join(&sha[..2]).join(sha)
}

/// (path, sha256, kind) of every catalogue location.
fn locations(env: &Env) -> Vec<(String, String, String)> {
    let conn = env.catalogue();
    let mut st = conn
        .prepare("SELECT path, sha256, kind FROM locations ORDER BY path")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[allow(clippy::disallowed_methods)]
fn open_rw(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .read(true)
        .open(path)
        .unwrap()
}

/// Serves the Cassini subset and the BepiColombo workshop tree (real kernels).
fn real_doc_root(real: &Path) -> tempfile::TempDir {
    let doc = tempfile::tempdir().unwrap();
    let naif = real.join("trees/naif_server_subset/pub/naif");
    for sub in ["ck", "fk", "ik", "pck", "sclk", "spk"] {
        symlink(
            naif.join("CASSINI/kernels").join(sub),
            &doc.path().join("pub/naif/CASSINI/kernels").join(sub),
        );
    }
    symlink(
        naif.join("generic_kernels"),
        &doc.path().join("pub/naif/generic_kernels"),
    );
    symlink(
        real.join("trees/esa_bepic_workshop"),
        &doc.path().join("esa"),
    );
    write(
        &doc.path().join("pub/naif/CASSINI/kernels/mk/cassini_subset.tm"),
        b"KPL/MK\n\\begindata\nPATH_VALUES = ( '..' '../../../generic_kernels' )\nPATH_SYMBOLS = ( 'KERNELS' 'GENERIC' )\nKERNELS_TO_LOAD = (\n '$GENERIC/lsk/naif0012.tls'\n '$GENERIC/pck/pck00010.tpc'\n '$KERNELS/fk/cas_v40.tf'\n '$KERNELS/sclk/cas00167.tsc'\n '$KERNELS/pck/cpck05Mar2004.tpc'\n '$KERNELS/ik/cas_iss_v10.ti'\n '$KERNELS/spk/130212AP_SK_13043_13058.bsp'\n '$KERNELS/spk/130220AP_SE_13043_13073.bsp'\n '$KERNELS/ck/13056_13057ra.bc'\n)\n\\begintext\n",
    );
    doc
}

/// A DAF/SPK whose first summary record number points past the end of the file.
fn daf_chain_past_eof() -> Vec<u8> {
    let mut f = vec![0u8; 3 * 1024];
    f[..8].copy_from_slice(b"DAF/SPK ");
    f[8..12].copy_from_slice(&2i32.to_le_bytes());
    f[12..16].copy_from_slice(&6i32.to_le_bytes());
    f[76..80].copy_from_slice(&9i32.to_le_bytes());
    f[80..84].copy_from_slice(&9i32.to_le_bytes());
    f[88..96].copy_from_slice(b"LTL-IEEE");
    f[699..727].copy_from_slice(kdb::integrity::daf::FTPSTR);
    f
}

/// `spk_bytes` made structurally sane: one empty summary record (FWARD = BWARD = 2).
fn sane_spk(seed: u64, len: usize) -> Vec<u8> {
    let mut f = spk_bytes(seed, len.max(1024));
    f[76..80].copy_from_slice(&2i32.to_le_bytes());
    f[80..84].copy_from_slice(&2i32.to_le_bytes());
    f[1024..1048].fill(0);
    f
}

fn findings(j: &serde_json::Value) -> BTreeSet<(String, String)> {
    j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["problem"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

// ------------------------------------------------------------------ acceptance 1

#[test]
fn verify_deep_finds_each_injected_fault_and_nothing_else() {
    let Some(real) = realdata() else { return };
    let doc = real_doc_root(&real);
    let server = HttpServer::start(doc.path());
    let env = Env::new();
    for (url, mission) in [
        (
            server.url("/pub/naif/CASSINI/kernels/mk/cassini_subset.tm"),
            "CASSINI",
        ),
        (
            server.url("/esa/kernels/mk/bc_training_class.tm"),
            "BEPICOLOMBO",
        ),
    ] {
        env.ok(&["get", &url, "-y", "--mission", mission]);
    }
    // A clean store: no finding, quick or deep (no false positives).
    for args in [
        &["verify", "--json"][..],
        &["verify", "--deep", "--json", "--strict"],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let j = json_of(&out);
        assert_eq!(j["findings"].as_array().unwrap().len(), 0, "{j}");
        assert!(j["checked"].as_u64().unwrap() > 26, "{j}");
    }

    // Pick four distinct contents behind mission-tree links.
    let rows = locations(&env);
    let links: Vec<&(String, String, String)> = rows.iter().filter(|r| r.2 == "symlink").collect();
    let mut shas: Vec<&str> = Vec::new();
    let mut chosen = Vec::new();
    for r in &links {
        let size = std::fs::metadata(&r.0).unwrap().len();
        if size > 4096 && !shas.contains(&r.1.as_str()) {
            shas.push(&r.1);
            chosen.push(*r);
        }
    }
    assert!(chosen.len() >= 5, "need five distinct contents");
    let (a, b, c, d, e) = (chosen[0], chosen[1], chosen[2], chosen[3], chosen[4]);
    let rows_of = |sha: &str| -> Vec<String> {
        rows.iter()
            .filter(|r| r.1 == sha)
            .map(|r| r.0.clone())
            .collect()
    };
    let mut expected = BTreeSet::new();

    // 1. A flipped byte in an object (as root, despite 0444).
    {
        use std::io::{Read, Seek, SeekFrom, Write};
        let obj = object_path(&env, &a.1);
        let mut f = open_rw(&obj);
        let mut byte = [0u8; 1];
        f.seek(SeekFrom::Start(2000)).unwrap();
        f.read_exact(&mut byte).unwrap();
        f.seek(SeekFrom::Start(2000)).unwrap();
        f.write_all(&[byte[0] ^ 0x01]).unwrap();
        for p in rows_of(&a.1) {
            expected.insert((p, "hash_mismatch".to_owned()));
        }
    }
    // 2. A truncated object.
    {
        let obj = object_path(&env, &b.1);
        let len = std::fs::metadata(&obj).unwrap().len();
        open_rw(&obj).set_len(len - 100).unwrap();
        for p in rows_of(&b.1) {
            expected.insert((p, "size_mismatch".to_owned()));
        }
    }
    // 3. A link re-pointed at another object.
    std::fs::remove_file(&c.0).unwrap();
    symlink(object_path(&env, &d.1), Path::new(&c.0));
    expected.insert((c.0.clone(), "wrong_link".to_owned()));
    // 4. A location deleted behind kdb's back (also a metakernel entry).
    std::fs::remove_file(&e.0).unwrap();
    expected.insert((e.0.clone(), "missing".to_owned()));
    expected.insert((e.0.clone(), "unresolved_entry".to_owned()));
    // 5. An HTML page planted in the store.
    let planted = env
        .home()
        .join("objects/sha256/ab")
        .join(format!("ab{}", "0".repeat(62)));
    write(
        &planted,
        b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>\n",
    );
    expected.insert((planted.display().to_string(), "impostor".to_owned()));
    // 6. A DAF whose summary chain points past EOF, registered by scan.
    let bad = env.work("baddaf/bad.bsp");
    write(&bad, &daf_chain_past_eof());
    env.ok(&["scan", bad.parent().unwrap().to_str().unwrap()]);
    expected.insert((bad.display().to_string(), "bad_structure".to_owned()));

    let out = env.run(&["verify", "--deep", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let j = json_of(&out);
    assert_eq!(findings(&j), expected, "{j:#}");
    for f in j["findings"].as_array().unwrap() {
        assert!(
            !f["fix"].as_str().unwrap().is_empty() && !f["detail"].as_str().unwrap().is_empty()
        );
    }
    // Quick mode sees the stat-level faults, and verify changed nothing.
    let before = snapshot(&env.home());
    let out = env.run(&["verify", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let quick = findings(&json_of(&out));
    assert!(
        quick.contains(&(c.0.clone(), "wrong_link".to_owned())),
        "{quick:?}"
    );
    assert!(
        quick.contains(&(e.0.clone(), "missing".to_owned())),
        "{quick:?}"
    );
    assert_eq!(before, snapshot(&env.home()), "verify changed the home");
}

// ------------------------------------------------------------------ acceptance 2

/// Builds `<tmp>/<bundle>/<row path>` from the real files whose MD5 a table lists.
fn tree_from_table(real: &Path, table: &str, root: &Path) -> (usize, Vec<PathBuf>) {
    let manifest = std::fs::read_to_string(real.join("manifest.tsv")).unwrap();
    let mut by_md5: HashMap<String, String> = HashMap::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        by_md5
            .entry(cols[3].to_owned())
            .or_insert_with(|| cols[0].to_owned());
    }
    let text = std::fs::read_to_string(real.join(table)).unwrap();
    let mut rows = 0;
    let mut placed = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(md5), Some(path)) = (it.next(), it.next()) else {
            continue;
        };
        rows += 1;
        if let Some(src) = by_md5.get(md5) {
            let dest = root.join(path);
            write(&dest, &std::fs::read(real.join(src)).unwrap());
            placed.push(dest);
        }
    }
    (rows, placed)
}

#[test]
fn verify_checksums_reports_the_altered_file_and_the_absent_ones() {
    let Some(real) = realdata() else { return };
    for (table, bundle) in [
        (
            "checksums/em16_spice/miscellaneous/checksum/checksum_v004.tab",
            "em16_spice",
        ),
        (
            "checksums/insight_spice/miscellaneous/checksum/checksum_v008.tab",
            "insight_spice",
        ),
        ("checksums/mslsp_1000/index/checksum.tab", "mslsp_1000"),
    ] {
        let env = Env::new();
        let root = env.work(bundle);
        let (rows, placed) = tree_from_table(&real, table, &root);
        assert!(
            !placed.is_empty(),
            "{table}: no listed file in the real data"
        );
        // Alter the first placed file by one byte (when there are several).
        let altered = (placed.len() > 1).then(|| {
            let p = &placed[0];
            let mut bytes = std::fs::read(p).unwrap();
            let i = bytes.len() / 2;
            bytes[i] ^= 0x20;
            write(p, &bytes);
            p.clone()
        });
        env.ok(&["scan", root.to_str().unwrap()]);
        let table_path = real.join(table);
        let out = env.run(&[
            "verify",
            "--checksums",
            table_path.to_str().unwrap(),
            "--json",
        ]);
        let j = json_of(&out);
        let c = &j["checksums"];
        let rel = |p: &PathBuf| p.strip_prefix(&root).unwrap().display().to_string();
        let mismatched: Vec<String> = serde_json::from_value(c["mismatched"].clone()).unwrap();
        let not_held: Vec<String> = serde_json::from_value(c["not_held"].clone()).unwrap();
        assert_eq!(
            mismatched,
            altered.iter().map(rel).collect::<Vec<_>>(),
            "{table}: {j:#}"
        );
        assert_eq!(
            c["matched"].as_u64().unwrap() as usize,
            placed.len() - mismatched.len(),
            "{table}: {j:#}"
        );
        assert_eq!(not_held.len(), rows - placed.len(), "{table}");
        let held: BTreeSet<String> = placed.iter().map(rel).collect();
        assert!(not_held.iter().all(|p| !held.contains(p)), "{table}");
        assert_eq!(
            out.status.code(),
            Some(if altered.is_some() { 3 } else { 0 }),
            "{}",
            describe(&out)
        );
        if let Some(p) = &altered {
            assert_eq!(
                findings(&j),
                BTreeSet::from([(p.display().to_string(), "checksum_mismatch".to_owned())])
            );
        }
    }
}

// ------------------------------------------------------------------ acceptance 3

#[derive(Debug, Clone)]
enum Op {
    Get(usize),
    Scan(bool),
    Remove(usize),
    PinMk(usize),
    PinKernel(usize),
    Unpin(usize),
    Prune(usize),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        3 => (0..3usize).prop_map(Op::Get),
        1 => any::<bool>().prop_map(Op::Scan),
        2 => (0..3usize).prop_map(Op::Remove),
        1 => (0..3usize).prop_map(Op::PinMk),
        1 => (0..5usize).prop_map(Op::PinKernel),
        1 => (0..8usize).prop_map(Op::Unpin),
        3 => (0..3usize).prop_map(Op::Prune),
    ]
}

const KERNELS: [&str; 5] = [
    "spk/a.bsp",
    "spk/b.bsp",
    "fk/shared.tf",
    "ck/c.bc",
    "spk/d.bsp",
];
const MKS: [(&str, &[usize]); 3] = [
    ("one.tm", &[0, 1, 2]),
    ("two.tm", &[3, 2]),
    ("three.tm", &[4, 1]),
];

struct World {
    ar: Archive,
    server: HttpServer,
    scan_dir: PathBuf,
    _scan_tmp: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let ar = Archive::new();
        for (i, k) in KERNELS.iter().enumerate() {
            if k.ends_with(".tf") {
                ar.kernel(k, &text_kernel(i as u64));
            } else {
                ar.kernel(k, &sane_spk(i as u64, 3000 + 500 * i));
            }
        }
        for (name, ks) in MKS {
            let rels: Vec<&str> = ks.iter().map(|&k| KERNELS[k]).collect();
            ar.mk(name, &rels);
        }
        let tmp = tempfile::tempdir().unwrap();
        let scan_dir = tmp.path().join("mine");
        write(
            &scan_dir.join("a_copy.bsp"),
            &std::fs::read(ar.path(KERNELS[0])).unwrap(),
        );
        write(&scan_dir.join("own.bsp"), &sane_spk(99, 2500));
        let server = HttpServer::start(ar.root());
        World {
            ar,
            server,
            scan_dir,
            _scan_tmp: tmp,
        }
    }

    fn sha(&self, k: usize) -> String {
        sha256(&self.ar.path(KERNELS[k]))
    }
}

/// Regular files of the store and mission trees (not the catalogue, not `tmp/`,
/// which the lock-taking sweep cleans): path → (dev, ino, size).
fn files(home: &Path) -> BTreeMap<PathBuf, (u64, u64, u64)> {
    let mut out = store_files(&home.join("objects"));
    out.extend(store_files(&home.join("missions")));
    out
}

fn store_files(dir: &Path) -> BTreeMap<PathBuf, (u64, u64, u64)> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let m = e.metadata().unwrap();
            (e.path().to_path_buf(), (m.dev(), m.ino(), m.len()))
        })
        .collect()
}

/// The contents every root needs, and the paths holding them before the prune.
fn root_paths(
    env: &Env,
    w: &World,
    registered: &BTreeSet<usize>,
    pins: &BTreeMap<String, Vec<String>>,
) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for &m in registered {
        for &k in MKS[m].1 {
            out.push((tree_path(env, &w.server, KERNELS[k]), w.sha(k)));
        }
    }
    let pinned: BTreeSet<&String> = pins.values().flatten().collect();
    if !env.home().join("kdb.sqlite").exists() {
        return out;
    }
    for (path, sha, _) in locations(env) {
        let p = PathBuf::from(&path);
        let outside = !p.starts_with(env.home());
        if (pinned.contains(&sha) || outside) && p.exists() && sha256(&p) == sha {
            out.push((p, sha));
        }
    }
    out
}

fn apply(
    env: &Env,
    w: &World,
    op: &Op,
    registered: &mut BTreeSet<usize>,
    pins: &mut BTreeMap<String, Vec<String>>,
) {
    match op {
        Op::Get(m) => {
            let url = w
                .server
                .url(&format!("/pub/naif/M/kernels/mk/{}", MKS[*m].0));
            env.ok(&["get", &url, "-y", "--mission", "M", "-q"]);
            registered.insert(*m);
        }
        Op::Scan(archive) => {
            let dir = w.scan_dir.to_str().unwrap();
            if *archive {
                env.ok(&["scan", dir, "--archive", "-q"]);
            } else {
                env.ok(&["scan", dir, "-q"]);
            }
        }
        Op::Remove(m) => {
            let out = env.run(&["metakernels", "--remove", MKS[*m].0]);
            assert_eq!(
                out.status.success(),
                registered.remove(m),
                "{}",
                describe(&out)
            );
        }
        Op::PinMk(m) => {
            let out = env.run(&["pin", MKS[*m].0]);
            if registered.contains(m) {
                assert!(out.status.success(), "{}", describe(&out));
                pins.insert(
                    MKS[*m].0.to_owned(),
                    MKS[*m].1.iter().map(|&k| w.sha(k)).collect(),
                );
            }
        }
        Op::PinKernel(k) => {
            let name = KERNELS[*k].rsplit('/').next().unwrap();
            if env.run(&["pin", name]).status.success() {
                pins.insert(name.to_owned(), vec![w.sha(*k)]);
            }
        }
        Op::Unpin(i) => {
            if let Some(label) = pins.keys().nth(*i % 8).cloned() {
                env.ok(&["unpin", &label]);
                pins.remove(&label);
            }
        }
        Op::Prune(keep) => {
            let roots = root_paths(env, w, registered, pins);
            let before = files(&env.home());
            let keep = keep.to_string();
            let j = env.json(&["prune", "--execute", "--keep-versions", &keep]);
            let after = files(&env.home());
            for (p, sha) in &roots {
                assert!(
                    p.exists(),
                    "prune removed root content at `{}`: {j:#}",
                    p.display()
                );
                assert_eq!(&sha256(p), sha, "`{}`", p.display());
            }
            let mut freed = 0;
            let mut seen = BTreeSet::new();
            let live: BTreeSet<(u64, u64)> = after.values().map(|v| (v.0, v.1)).collect();
            for (dev, ino, size) in before.values() {
                if !live.contains(&(*dev, *ino)) && seen.insert((*dev, *ino)) {
                    freed += size;
                }
            }
            assert_eq!(j["bytes_freed"].as_u64().unwrap(), freed, "{j:#}");
            assert_catalogue_matches_disk(env);
        }
    }
}

#[test]
fn prune_never_deletes_content_reachable_from_a_root() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new(Config {
        cases: 24,
        max_shrink_iters: 20,
        ..Config::default()
    });
    let started = Instant::now();
    runner
        .run(&proptest::collection::vec(op(), 1..12), |ops| {
            if started.elapsed() > Duration::from_secs(50) {
                return Ok(()); // bounded: the remaining cases are skipped
            }
            let w = World::new();
            let env = Env::new();
            let mut registered = BTreeSet::new();
            let mut pins = BTreeMap::new();
            for op in ops.iter().chain(std::iter::once(&Op::Prune(0))) {
                apply(&env, &w, op, &mut registered, &mut pins);
            }
            prop_assert!(temp_entries(&env.home()).is_empty());
            Ok(())
        })
        .unwrap();
}

#[test]
fn prune_removes_unreferenced_content_and_reports_exact_bytes() {
    let w = World::new();
    let env = Env::new();
    for (name, _) in MKS {
        env.ok(&[
            "get",
            &w.server.url(&format!("/pub/naif/M/kernels/mk/{name}")),
            "-y",
            "--mission",
            "M",
            "-q",
        ]);
    }
    // Dry run: nothing to remove while every metakernel is registered.
    let j = env.json(&["prune"]);
    assert_eq!(j["removed"].as_array().unwrap().len(), 0, "{j:#}");
    // Exact name only: a prefix removes nothing.
    assert_eq!(
        env.run(&["metakernels", "--remove", "thr"]).status.code(),
        Some(1)
    );
    env.ok(&["metakernels", "--remove", "three.tm"]);
    env.ok(&["pin", "b.bsp"]);
    let before = snapshot(&env.home());
    let dry = env.json(&["prune"]);
    assert_eq!(before, snapshot(&env.home()), "a dry run changed the home");
    // d.bsp is only in three.tm: its object and tree link go; b.bsp is pinned and in one.tm.
    let d_obj = object_path(&env, &w.sha(4));
    let tm = tree_path(&env, &w.server, "mk/three.tm");
    let d_size = std::fs::metadata(&d_obj).unwrap().len() + std::fs::metadata(&tm).unwrap().len();
    assert_eq!(dry["bytes_freed"].as_u64().unwrap(), d_size, "{dry:#}");
    let j = env.json(&["prune", "--execute"]);
    assert_eq!(j["bytes_freed"].as_u64().unwrap(), d_size, "{j:#}");
    assert!(!d_obj.exists());
    assert!(!tree_path(&env, &w.server, KERNELS[4]).exists());
    assert!(!tm.exists());
    assert!(object_path(&env, &w.sha(1)).exists());
    let pins = env.json(&["pins"]);
    assert_eq!(pins.as_array().unwrap().len(), 1, "{pins:#}");
    env.ok(&["unpin", "b.bsp"]);
    let out = env.run(&["verify", "--deep", "--strict", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

// ------------------------------------------------------------------ acceptance 6

#[test]
fn outdated_tells_unchanged_changed_gone_and_unreachable_without_bodies() {
    let ar = Archive::new();
    for (i, k) in [
        "spk/same.bsp",
        "spk/changed.bsp",
        "spk/gone.bsp",
        "spk/slow.bsp",
    ]
    .iter()
    .enumerate()
    {
        ar.kernel(k, &sane_spk(i as u64, 50_000));
    }
    let mk = ar.mk(
        "m.tm",
        &[
            "spk/same.bsp",
            "spk/changed.bsp",
            "spk/gone.bsp",
            "spk/slow.bsp",
        ],
    );
    let server = HttpServer::start(ar.root());
    let env = Env::new();
    let out = run_net(
        &env,
        &["get", &server.url(&mk), "-y", "--mission", "M", "-q"],
    );
    assert!(out.status.success(), "{}", describe(&out));

    // Everything unchanged: 304s only, no kernel body byte (the directory's listing
    // is the one body: it settles what it can, here nothing, as every kernel was
    // written in the minute it was fetched).
    let kernels =
        ["same", "changed", "gone", "slow"].map(|n| Archive::url_path(&format!("spk/{n}.bsp")));
    let no_kernel_body = |server: &HttpServer| {
        for k in &kernels {
            assert_eq!(
                server.body_bytes_sent_to(k),
                0,
                "outdated transferred the body of {k}"
            );
        }
        assert!(
            server
                .requests()
                .iter()
                .all(|r| r.method == "HEAD" || r.path.ends_with('/')),
            "a GET of a file: {:?}",
            server.requests()
        );
    };
    server.reset_stats();
    let out = run_net(&env, &["outdated", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let j = json_of(&out);
    assert_eq!(j["checked"], 5, "{j:#}");
    assert!(
        j["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "unchanged"),
        "{j:#}"
    );
    no_kernel_body(&server);
    // One HEAD per kernel and the metakernel, one listing.
    assert_eq!(j["requests"]["probe"], 5, "{j:#}");
    assert_eq!(j["requests"]["listing"], 1, "{j:#}");
    assert_eq!(server.requests().len(), 6);

    ar.kernel("spk/changed.bsp", &sane_spk(77, 50_001));
    std::fs::remove_file(ar.path("spk/gone.bsp")).unwrap();
    server.fault(
        "/pub/naif/M/kernels/spk/slow.bsp",
        Fault::Stall(Duration::from_secs(60)),
    );
    server.reset_stats();
    let out = run_net(&env, &["outdated", "--json"]);
    assert_eq!(out.status.code(), Some(6), "{}", describe(&out));
    let j = json_of(&out);
    let status: BTreeMap<String, String> = j["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect: BTreeMap<String, String> = [
        ("m.tm", "unchanged"),
        ("same.bsp", "unchanged"),
        ("changed.bsp", "changed"),
        ("gone.bsp", "gone"),
        ("slow.bsp", "unreachable"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(status, expect, "{j:#}");
    no_kernel_body(&server);
    let out = run_net(&env, &["outdated", "--offline-ok", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

// ------------------------------------------------------------------ acceptance 5

/// A size-limited tmpfs mounted for one test, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "SKIP: cannot mount a tmpfs for the disk-full test ({}); run as root",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the filesystem of `dir` until writes fail, then gives `headroom` bytes back.
fn fill(dir: &Path, headroom: u64) -> PathBuf {
    use std::io::Write;
    let p = dir.join("filler");
    #[allow(clippy::disallowed_methods)]
    let mut f = std::fs::File::create(&p).unwrap();
    let chunk = vec![0u8; 4096];
    let mut len = 0u64;
    while f.write_all(&chunk).is_ok() {
        len += 4096;
    }
    f.set_len(len.saturating_sub(headroom)).unwrap();
    let _ = f.sync_all();
    p
}

fn assert_failed_on_enospc(out: &Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "{what} succeeded on a full disk: {}",
        describe(out)
    );
    assert!(
        err.contains("No space left on device") || err.contains("disk is full"),
        "{what}: no ENOSPC in the message: {err}"
    );
    assert!(
        err.contains('`'),
        "{what}: the message names no path: {err}"
    );
}

#[test]
fn disk_full_fails_cleanly_and_keeps_the_previous_state() {
    let Some(fs) = Tmpfs::mount("4m") else { return };
    let ar = Archive::new();
    ar.kernel("spk/small.bsp", &sane_spk(1, 20_000));
    ar.kernel("spk/big.bsp", &sane_spk(2, 3_000_000));
    let small = ar.mk("small.tm", &["spk/small.bsp"]);
    let big = ar.mk("big.tm", &["spk/small.bsp", "spk/big.bsp"]);
    let server = HttpServer::start(ar.root());
    let env = Env::new();
    let home = fs.path().join("home");
    let kdb = |args: &[&str]| {
        env.kdb()
            .env("KDB_HOME", &home)
            .env("KDB_READ_TIMEOUT", "2")
            .args(args)
            .output()
            .unwrap()
    };
    let out = kdb(&["get", &server.url(&small), "-y", "--mission", "M", "-q"]);
    assert!(out.status.success(), "{}", describe(&out));
    let outside = env.work("mine");
    write(&outside.join("big2.bsp"), &sane_spk(3, 2_000_000));
    let state = |label: &str| {
        let snap = snapshot(&home);
        let outside_snap = snapshot(&outside);
        let check = kdb(&["verify", "--deep", "--json"]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "{label}: {}",
            describe(&check)
        );
        (snap, outside_snap)
    };
    let before = state("before");
    let url_big = server.url(&big);
    // get and scan --archive need megabytes of data: a little headroom lets the
    // catalogue open, the data write hits ENOSPC. dedup and prune write almost no
    // data: they run on a completely full disk, where the catalogue cannot even map
    // its shared memory.
    let cases: [(&str, Vec<&str>, u64); 4] = [
        (
            "get",
            vec!["get", &url_big, "-y", "--mission", "M", "-q"],
            256 << 10,
        ),
        (
            "scan --archive",
            vec!["scan", outside.to_str().unwrap(), "--archive", "-q"],
            256 << 10,
        ),
        ("dedup --execute", vec!["dedup", "--execute", "-q"], 0),
        ("prune --execute", vec!["prune", "--execute", "-q"], 0),
    ];
    let strip =
        |m: &BTreeMap<PathBuf, (bool, u64, Option<String>)>| -> BTreeMap<PathBuf, Option<String>> {
            m.iter()
                .filter(|(p, _)| {
                    let name = p.file_name().unwrap().to_string_lossy();
                    !name.starts_with(".kdb-tmp-")
                        && !name.starts_with("kdb.sqlite")
                        && !p.starts_with(home.join("tmp"))
                })
                .map(|(p, v)| (p.clone(), v.2.clone()))
                .collect()
        };
    for (what, args, headroom) in &cases {
        let filler = fill(fs.path(), *headroom);
        let out = kdb(args);
        std::fs::remove_file(&filler).unwrap();
        eprintln!("{what} on a full disk: {}", describe(&out));
        assert_failed_on_enospc(&out, what);
        // The previous state is intact (temp files aside: the next command sweeps them).
        let after = state(what);
        assert_eq!(strip(&before.0), strip(&after.0), "{what} changed the home");
        assert_eq!(
            strip(&before.1),
            strip(&after.1),
            "{what} changed files outside the home"
        );
    }
}

// ------------------------------------------------------------------ acceptance 4

/// The invariant checker of the chaos suite.
fn check_invariants(
    env: &Env,
    w: &World,
    outside_before: &BTreeMap<PathBuf, String>,
    round: usize,
) {
    // The next command sweeps temp files: a dry-run prune takes the lock and sweeps.
    let out = env.run(&["prune", "-q"]);
    assert!(out.status.success(), "round {round}: {}", describe(&out));
    assert!(
        temp_entries(&env.home()).is_empty(),
        "round {round}: temp files survived the next command"
    );
    assert_catalogue_matches_disk(env);
    let conn = env.catalogue();
    let names: Vec<String> = conn
        .prepare("SELECT name FROM metakernels")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for name in names {
        let (_, ks) = MKS.iter().find(|(n, _)| *n == name).unwrap();
        for &k in *ks {
            let p = tree_path(env, &w.server, KERNELS[k]);
            assert!(
                p.exists(),
                "round {round}: entry `{}` of {name} does not resolve",
                p.display()
            );
            assert_eq!(sha256(&p), w.sha(k), "round {round}: `{}`", p.display());
        }
    }
    // Nothing outside the home changed: each file reads the same bytes (scan
    // --archive may have turned it into a link to the store), and the archive is intact.
    for (p, sha) in outside_before {
        assert_eq!(
            &sha256(p),
            sha,
            "round {round}: `{}` changed outside the home",
            p.display()
        );
    }
}

#[test]
fn chaos_eight_processes_with_kill_9() {
    let secs: u64 = std::env::var("KDB_CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let (mut rng, seed) = Rng::from_time();
    eprintln!("chaos seed {seed}, budget {secs} s");
    let w = World::new();
    for i in 0..6 {
        write(
            &w.scan_dir.join(format!("extra{i}.bsp")),
            &sane_spk(200 + i, 200_000),
        );
    }
    let env = Env::new();
    let mut outside: BTreeMap<PathBuf, String> = BTreeMap::new();
    for dir in [w.scan_dir.as_path(), w.ar.root()] {
        for e in walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(Result::ok)
        {
            if e.file_type().is_file() {
                outside.insert(e.path().to_path_buf(), sha256(e.path()));
            }
        }
    }
    let started = Instant::now();
    let (mut rounds, mut attempts, mut landed) = (0usize, 0usize, 0usize);
    while started.elapsed() < Duration::from_secs(secs) || rounds < 5 {
        // Transient server faults on a random kernel.
        let k = KERNELS[rng.below(KERNELS.len() as u64) as usize];
        w.server
            .fault_first(&format!("/pub/naif/M/kernels/{k}"), 1, Fault::Status(503));
        let mut children = Vec::new();
        for _ in 0..8 {
            let mk = MKS[rng.below(3) as usize].0;
            let url = w.server.url(&format!("/pub/naif/M/kernels/mk/{mk}"));
            let dir = w.scan_dir.to_str().unwrap().to_owned();
            let args: Vec<String> = match rng.below(7) {
                0 | 1 => vec![
                    "get".into(),
                    url,
                    "-y".into(),
                    "--mission".into(),
                    "M".into(),
                ],
                2 => vec!["update".into(), "--all".into(), "-y".into()],
                3 => vec!["scan".into(), dir, "--archive".into()],
                4 => vec!["dedup".into(), "--execute".into()],
                5 => vec!["prune".into(), "--execute".into()],
                _ => vec!["verify".into()],
            };
            let child = net_env(&env)
                .args(&args)
                .arg("-q")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            children.push(child);
        }
        // Random kill instants (the fault itself, not synchronisation).
        std::thread::sleep(Duration::from_millis(rng.below(400)));
        for c in children.iter_mut() {
            if rng.below(2) == 0 {
                attempts += 1;
                if c.try_wait().unwrap().is_none() && c.kill().is_ok() {
                    landed += 1;
                }
            }
            if rng.below(4) == 0 {
                std::thread::sleep(Duration::from_millis(rng.below(60)));
            }
        }
        for mut c in children {
            c.wait().unwrap();
        }
        w.server.faults().clear();
        rounds += 1;
        check_invariants(&env, &w, &outside, rounds);
    }
    eprintln!("chaos: {rounds} rounds, {landed} of {attempts} kills landed on a running kdb");
    assert!(rounds >= 5);
    assert!(
        landed >= rounds,
        "only {landed} kills landed in {rounds} rounds"
    );
}

/// No false positives from the structural check on any real DAF/DAS in the collection
/// (big- and little-endian, pre-N0046 files without a format field, DSKs, trimmed
/// NPB stand-ins); Git LFS pointers and other impostors are not DAFs at all.
#[test]
fn daf_structure_check_accepts_every_real_binary_kernel() {
    let Some(real) = realdata() else { return };
    let mut checked = 0;
    let mut bad = Vec::new();
    for e in walkdir::WalkDir::new(&real)
        .into_iter()
        .filter_map(Result::ok)
    {
        if !e.file_type().is_file() {
            continue;
        }
        let bytes = std::fs::read(e.path()).unwrap();
        let id = String::from_utf8_lossy(&bytes[..bytes.len().min(8)]).into_owned();
        if !(id.starts_with("DAF/") || id.starts_with("DAS/") || id.starts_with("NAIF/DA")) {
            continue;
        }
        checked += 1;
        if let Err(err) = kdb::integrity::daf::check(&bytes[..], bytes.len() as u64) {
            bad.push(format!("{}: {err:?}", e.path().display()));
        }
    }
    eprintln!("checked {checked} real DAF/DAS files");
    assert!(checked > 20, "only {checked} binary kernels found");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
