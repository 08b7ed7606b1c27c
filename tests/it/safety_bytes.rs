//! Issue 19, items 6, 8, 9 and 10: unverified or wrong bytes are never registered.
//!
//! Every test hashes the files it created outside the home (the served archive, a
//! bundle) before and after, checks that every object in the store is its content,
//! and, where kdb must refuse, that the catalogue holds nothing of the refused
//! acquisition.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::archive::Archive;
use crate::common::http::{Fault, HttpServer};
use crate::common::{Env, realdata, sha256, snapshot, spk_bytes, text_kernel, write};

fn get(env: &Env, server: &HttpServer, mk: &str, extra: &[&str]) -> Output {
    let url = server.url(mk);
    let mut args = vec!["get", url.as_str(), "-y", "--mission", "M"];
    args.extend_from_slice(extra);
    env.kdb()
        .env("KDB_READ_TIMEOUT", "2")
        .env("KDB_CONNECT_TIMEOUT", "2")
        .args(&args)
        .output()
        .unwrap()
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file in the object store hashes to its name.
fn assert_objects_are_their_content(env: &Env) {
    let objects = env.home().join("objects/sha256");
    if !objects.exists() {
        return;
    }
    for e in walkdir::WalkDir::new(&objects).min_depth(2) {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().is_file() && !name.starts_with(".kdb-tmp-") {
            assert_eq!(sha256(e.path()), name, "object `{}`", e.path().display());
        }
    }
}

/// Row counts of the catalogue tables a registration writes.
fn rows(env: &Env) -> BTreeMap<&'static str, i64> {
    if !env.home().join("kdb.sqlite").exists() {
        return BTreeMap::new();
    }
    ["kernels", "locations", "kernel_aliases", "metakernels"]
        .into_iter()
        .map(|t| (t, env.count(t)))
        .collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    if !dir.exists() {
        return Vec::new();
    }
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.file_type().is_dir())
        .map(|e| e.path().to_path_buf())
        .collect()
}

/// Puts `bytes` at the object path of `sha` (read-only), as a planted object.
fn plant(env: &Env, sha: &str, bytes: &[u8]) {
    let object = env.home().join("objects/sha256").join(&sha[..2]).join(sha);
    if object.exists() {
        std::fs::remove_file(&object).unwrap();
    }
    write(&object, bytes);
    std::fs::set_permissions(&object, std::fs::Permissions::from_mode(0o444)).unwrap();
}

// ------------------------------------------------------------------------ item 6

#[test]
fn a_planted_object_is_quarantined_and_replaced_by_get_get_force_and_import() {
    let ar = Archive::new();
    let lsk = text_kernel(61);
    ar.kernel("lsk/a.tls", &lsk);
    ar.kernel("spk/b.bsp", &spk_bytes(61, 4000));
    let mk = ar.mk("m.tm", &["lsk/a.tls", "spk/b.bsp"]);
    let served = snapshot(ar.root());
    let server = HttpServer::start(ar.root());
    let lsk_sha = sha256(&ar.root().join("pub/naif/M/kernels/lsk/a.tls"));
    let planted: &[u8] = b"KPL/LSK\n\\begindata\nDELTET/DELTA_T_A = 99.0\n\\begintext\n";

    // get: the planted object is not trusted.
    let env = Env::new();
    plant(&env, &lsk_sha, planted);
    let out = get(&env, &server, &mk, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_objects_are_their_content(&env);
    let quarantined = files_under(&env.home().join("quarantine"));
    assert_eq!(quarantined.len(), 1, "{quarantined:?}\n{}", describe(&out));
    assert_eq!(
        std::fs::read(&quarantined[0]).unwrap(),
        planted,
        "kept, not deleted"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("quarantine"),
        "{}",
        describe(&out)
    );
    // The ready metakernel's LSK entry reads the served bytes.
    let link = env
        .home()
        .join("missions/M")
        .join(format!("127.0.0.1_{}", server.addr().port()))
        .join("pub/naif/M/kernels/lsk/a.tls");
    assert_eq!(std::fs::read(&link).unwrap(), lsk);

    // get --force after another plant: replaced again, both planted copies kept.
    plant(
        &env,
        &lsk_sha,
        b"KPL/LSK\n\\begindata\nX = 2\n\\begintext\n",
    );
    let out = get(&env, &server, &mk, &["--force"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_objects_are_their_content(&env);
    assert_eq!(files_under(&env.home().join("quarantine")).len(), 2);
    assert_eq!(std::fs::read(&link).unwrap(), lsk);
    // The warm path trusts the re-recorded object without quarantining anything.
    let out = get(&env, &server, &mk, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(files_under(&env.home().join("quarantine")).len(), 2);

    // import: a bundle's verified member replaces a planted object.
    let bundle = env.root().join("work/m.tar");
    std::fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    let url = server.url(&mk);
    env.ok(&["export", &url, "-o", bundle.to_str().unwrap()]);
    let bundle_sha = sha256(&bundle);
    let fresh = Env::new();
    plant(&fresh, &lsk_sha, planted);
    let out = fresh.run(&["import", bundle.to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_objects_are_their_content(&fresh);
    let quarantined = files_under(&fresh.home().join("quarantine"));
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(std::fs::read(&quarantined[0]).unwrap(), planted);

    assert_eq!(sha256(&bundle), bundle_sha, "the bundle is untouched");
    assert_eq!(
        snapshot(ar.root()),
        served,
        "the served archive is untouched"
    );
}

// ------------------------------------------------------------------------ item 8

/// A real kernel from the shared data, or `None` (the case is skipped).
fn real(rel: &str) -> Option<Vec<u8>> {
    let root = realdata()?;
    std::fs::read(root.join(rel)).ok()
}

/// A synthetic SPK whose summary record 2 points back at itself.
fn looping_daf() -> Vec<u8> {
    let mut v = spk_bytes(82, 4000);
    v[1024..1032].copy_from_slice(&2f64.to_le_bytes());
    v
}

/// One served kernel `get` must refuse.
struct Case {
    what: &'static str,
    /// Served under this name, with these bytes.
    rel: &'static str,
    bytes: Option<Vec<u8>>,
    /// Served instead of the file (the file's size is what the listing says).
    fault: Option<Fault>,
    /// Stderr must mention this.
    says: &'static str,
}

#[test]
fn truncated_mislabelled_or_short_kernels_are_refused_by_get() {
    let head = |bytes: Option<Vec<u8>>, n: usize| bytes.map(|b| b[..n].to_vec());
    let spk_short = real("kernels/naif-pds4-bundler/spk/mro_psp60.bsp").map(|b| {
        let n = b.len() - 5_000;
        b[..n].to_vec()
    });
    let lsk = text_kernel(83);
    let cases = vec![
        Case {
            what: "DSK cut at 40,000 B",
            rel: "dsk/phobos.bds",
            bytes: head(
                real("kernels/spiceypy_test_kernels/phobos_lores.bds"),
                40_000,
            ),
            fault: None,
            says: "structure",
        },
        Case {
            what: "binary PCK cut at 100,000 B",
            rel: "pck/moon.bpc",
            bytes: head(
                real("kernels/naif-pds4-bundler/pck/lunar_de403s_pa_v0.bpc"),
                100_000,
            ),
            fault: None,
            says: "structure",
        },
        Case {
            what: "CK cut at 20,000 B",
            rel: "ck/mro.bc",
            bytes: head(
                real("kernels/naif-pds4-bundler/ck/mro_sc_psp_210705_210717p.bc"),
                20_000,
            ),
            fault: None,
            says: "structure",
        },
        Case {
            what: "SPK short by 5 kB",
            rel: "spk/mro.bsp",
            bytes: spk_short,
            fault: None,
            says: "structure",
        },
        Case {
            what: "DAF whose summary chain loops",
            rel: "spk/loop.bsp",
            bytes: Some(looping_daf()),
            fault: None,
            says: "loops",
        },
        Case {
            what: "LSK served as .bsp",
            rel: "spk/lsk.bsp",
            bytes: Some(text_kernel(84)),
            fault: None,
            says: "text LSK kernel under the binary kernel name",
        },
        Case {
            what: "SPK served as .tls",
            rel: "lsk/spk.tls",
            bytes: Some(spk_bytes(85, 3000)),
            fault: None,
            says: "binary SPK kernel under the text kernel name",
        },
        Case {
            what: "a 1,699-byte LSK sent with Content-Length: 100",
            rel: "lsk/cl.tls",
            bytes: Some(pad_to(&lsk, 1_699)),
            fault: Some(Fault::WrongLength(100 - 1_699)),
            says: "listing says",
        },
        Case {
            what: "an LSK whose connection closed after 700 bytes",
            rel: "lsk/cut.tls",
            bytes: Some(pad_to(&lsk, 1_699)),
            fault: Some(Fault::Body(pad_to(&lsk, 1_699)[..700].to_vec())),
            says: "listing says",
        },
    ];
    // Every case runs; the failures are listed together.
    let mut failed = Vec::new();
    for case in cases {
        let Some(bytes) = case.bytes.clone() else {
            continue;
        };
        let what = case.what;
        let run =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| refused_case(&case, &bytes)));
        if let Err(e) = run {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failed.push(format!("{what}: {msg}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

/// One case of the table: served, refused by `get` (exit 3, naming why), nothing of
/// it registered, the store and the archive intact.
fn refused_case(case: &Case, bytes: &[u8]) {
    let ar = Archive::new();
    ar.kernel("lsk/good.tls", &text_kernel(80));
    ar.kernel(case.rel, bytes);
    let mk = ar.mk("m.tm", &["lsk/good.tls", case.rel]);
    let served = snapshot(ar.root());
    let server = HttpServer::start(ar.root());
    if let Some(fault) = case.fault.clone() {
        server.fault(&Archive::url_path(case.rel), fault);
    }
    let env = Env::new();
    let out = get(&env, &server, &mk, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(case.says), "{}", describe(&out));
    // Nothing of the refused kernel is registered, and no metakernel.
    let name = case.rel.rsplit('/').next().unwrap();
    let registered: i64 = env
        .catalogue()
        .query_row(
            "SELECT COUNT(*) FROM kernel_aliases WHERE filename = ?1",
            [name],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(registered, 0, "`{name}` registered");
    assert_eq!(env.count("metakernels"), 0);
    assert_objects_are_their_content(&env);
    assert_eq!(snapshot(ar.root()), served, "archive changed");
}

/// A bundle whose lock agrees with a kernel cut short (a hostile or damaged bundle:
/// the hashes match, the structure does not) is refused whole by `import`.
#[test]
fn import_refuses_a_bundle_member_cut_short() {
    let ar = Archive::new();
    ar.kernel("lsk/a.tls", &text_kernel(86));
    let whole = spk_bytes(86, 9_000);
    ar.kernel("spk/b.bsp", &whole);
    let mk = ar.mk("m.tm", &["lsk/a.tls", "spk/b.bsp"]);
    let served = snapshot(ar.root());
    let server = HttpServer::start(ar.root());
    let env = Env::new();
    let out = get(&env, &server, &mk, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let good = env.root().join("work/good.tar");
    std::fs::create_dir_all(good.parent().unwrap()).unwrap();
    env.ok(&["export", &server.url(&mk), "-o", good.to_str().unwrap()]);

    // The same bundle with the SPK cut to 4,000 bytes and the lock saying so.
    let short = &whole[..4_000];
    let (old_sha, new_sha) = (
        format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&whole)),
        format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(short)),
    );
    let mut rebuilt = tar::Builder::new(Vec::new());
    let bytes = std::fs::read(&good).unwrap();
    let mut archive = tar::Archive::new(&bytes[..]);
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let path = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        let (path, data) = if path == "kdb.lock" {
            let text = String::from_utf8(data)
                .unwrap()
                .replace(&old_sha, &new_sha)
                .replace(
                    &format!("size = {}", whole.len()),
                    &format!("size = {}", short.len()),
                );
            (path, text.into_bytes())
        } else if path == format!("kernels/{old_sha}") {
            (format!("kernels/{new_sha}"), short.to_vec())
        } else {
            (path, data)
        };
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        rebuilt.append_data(&mut h, &path, &data[..]).unwrap();
    }
    let bad = env.root().join("work/bad.tar");
    write(&bad, &rebuilt.into_inner().unwrap());
    let (good_sha, bad_sha) = (sha256(&good), sha256(&bad));

    let fresh = Env::new();
    let out = fresh.run(&["import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("structure"),
        "{}",
        describe(&out)
    );
    assert!(rows(&fresh).values().all(|&n| n == 0), "{:?}", rows(&fresh));
    assert!(files_under(&fresh.home().join("objects")).is_empty());
    assert!(files_under(&fresh.home().join("missions")).is_empty());
    // The good bundle still imports.
    let out = fresh.run(&["import", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_objects_are_their_content(&fresh);
    assert_eq!((sha256(&good), sha256(&bad)), (good_sha, bad_sha));
    assert_eq!(
        snapshot(ar.root()),
        served,
        "the served archive is untouched"
    );
}

/// `bytes` padded with comment lines to exactly `n` bytes (a text kernel).
fn pad_to(bytes: &[u8], n: usize) -> Vec<u8> {
    let mut v = bytes.to_vec();
    while v.len() < n {
        v.push(if v.len() % 64 == 63 { b'\n' } else { b' ' });
    }
    v.truncate(n);
    v
}

#[test]
fn verify_deep_reports_binary_kernels_cut_short() {
    let Some(whole) = real("kernels/naif-pds4-bundler/spk/mro_psp60.bsp") else {
        return;
    };
    let env = Env::new();
    let dir = env.work("scanned");
    let cut = dir.join("mro_psp60.bsp");
    write(&cut, &whole[..whole.len() - 5_000]);
    let before = sha256(&cut);
    env.ok(&["scan", dir.to_str().unwrap()]);
    let out = env.run(&["verify", "--deep", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = j["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f.to_string().contains("bad_structure")
                && f.to_string().contains("past the end")),
        "{j}"
    );
    assert_eq!(sha256(&cut), before, "the user's file is untouched");
    assert_objects_are_their_content(&env);
}

// ------------------------------------------------------------------------ item 9

#[test]
fn a_metakernel_listing_another_registered_metakernel_or_itself_is_refused() {
    let ar = Archive::new();
    ar.kernel("lsk/a.tls", &text_kernel(91));
    let demo = ar.mk("demo.tm", &["lsk/a.tls"]);
    // steal.tm sits beside demo.tm and lists it: its entry's local path is demo's
    // ready `.tm`.
    let steal = ar.mk_text(
        "steal.tm",
        "KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( '../lsk/a.tls' 'demo.tm' )\n\\begintext\n",
    );
    let selfish = ar.mk_text(
        "self.tm",
        "KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( '../lsk/a.tls' 'self.tm' )\n\\begintext\n",
    );
    let served = snapshot(ar.root());
    let server = HttpServer::start(ar.root());
    let env = Env::new();
    let out = get(&env, &server, &demo, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let j = env.json(&["metakernels"]);
    let ready = PathBuf::from(
        j.to_string()
            .split("\"local_path\":\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a local path"),
    );
    let ready_bytes = std::fs::read(&ready).unwrap();
    let home_before = snapshot(&env.home().join("missions"));
    let rows_before = rows(&env);

    for mk in [&steal, &selfish] {
        let out = get(&env, &server, mk, &[]);
        assert_eq!(out.status.code(), Some(2), "{mk}: {}", describe(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("nothing was written"),
            "{}",
            describe(&out)
        );
        assert_eq!(rows(&env), rows_before, "{mk}: catalogue changed");
        assert_eq!(snapshot(&env.home().join("missions")), home_before, "{mk}");
    }
    assert!(!std::fs::symlink_metadata(&ready).unwrap().is_symlink());
    assert_eq!(std::fs::read(&ready).unwrap(), ready_bytes);
    // verify is clean and prune keeps the registered metakernel's file.
    env.ok(&["verify"]);
    env.ok(&["prune", "--execute"]);
    assert_eq!(std::fs::read(&ready).unwrap(), ready_bytes);
    env.ok(&["prune", "--execute"]);
    assert_objects_are_their_content(&env);
    assert_eq!(snapshot(ar.root()), served);
}

#[test]
fn prune_never_removes_a_registered_metakernels_file() {
    // A home where a kernel row was recorded at a registered metakernel's path (what
    // a `steal.tm` left before the refusal existed): prune forgets the row, keeps
    // the file.
    let ar = Archive::new();
    ar.kernel("lsk/a.tls", &text_kernel(92));
    let demo = ar.mk("demo.tm", &["lsk/a.tls"]);
    let server = HttpServer::start(ar.root());
    let env = Env::new();
    let out = get(&env, &server, &demo, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let conn = env.catalogue();
    let ready: String = conn
        .query_row("SELECT local_path FROM metakernels", [], |r| r.get(0))
        .unwrap();
    let bytes = std::fs::read(&ready).unwrap();
    // Record the ready file as a location of an unreferenced content.
    let orphan = spk_bytes(93, 2000);
    let orphan_path = env.work("orphan.bsp");
    write(&orphan_path, &orphan);
    let orphan_sha = sha256(&orphan_path);
    let meta = std::fs::metadata(&ready).unwrap();
    conn.execute(
        "INSERT INTO kernels (sha256, canonical, kernel_type, size, first_seen)
         VALUES (?1, 'demo.tm', 'mk', ?2, '2026-01-01T00:00:00Z')",
        rusqlite::params![orphan_sha, meta.len() as i64],
    )
    .unwrap();
    {
        use std::os::unix::fs::MetadataExt;
        conn.execute(
            "INSERT OR REPLACE INTO locations
             (path, filename, sha256, mission, source_url, kind, link_target, dev, ino, size, mtime_ns, hashed_at)
             VALUES (?1, 'demo.tm', ?2, 'M', NULL, 'file', NULL, ?3, ?4, ?5, ?6, '2026-01-01T00:00:00Z')",
            rusqlite::params![
                ready,
                orphan_sha,
                meta.dev() as i64,
                meta.ino() as i64,
                meta.len() as i64,
                meta.mtime() * 1_000_000_000 + meta.mtime_nsec()
            ],
        )
        .unwrap();
    }
    drop(conn);
    let out = env.run(&["prune", "--execute"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(std::fs::read(&ready).unwrap(), bytes, "registered .tm kept");
    let out = env.run(&["prune", "--execute"]);
    assert!(
        out.status.success(),
        "later prunes work: {}",
        describe(&out)
    );
    assert_eq!(sha256(&orphan_path), orphan_sha);
    assert_objects_are_their_content(&env);
}

// ----------------------------------------------------------------------- item 10

#[test]
fn an_entry_naming_a_directory_is_refused_at_planning() {
    let ar = Archive::new();
    ar.kernel("lsk/a.tls", &text_kernel(101));
    let cases = [
        ("dotdot.tm", "'../lsk/a.tls' '..'"),
        ("slash.tm", "'../lsk/a.tls' '../lsk/'"),
        ("parent.tm", "'../lsk/a.tls' '../lsk'"),
    ];
    let mks: Vec<String> = cases
        .iter()
        .map(|(name, entries)| {
            ar.mk_text(
                name,
                &format!("KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( {entries} )\n\\begintext\n"),
            )
        })
        .collect();
    let good = ar.mk_text(
        "good.tm",
        "KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( '../lsk/a.tls' )\n\\begintext\n",
    );
    // `../lsk` alone: no other entry lies under it, but once `good.tm` is laid out its
    // local path is a directory of the mission tree.
    let onto_dir = ar.mk_text(
        "onto_dir.tm",
        "KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( '../lsk' )\n\\begintext\n",
    );
    let served = snapshot(ar.root());
    let server = HttpServer::start(ar.root());
    for mk in &mks {
        let env = Env::new();
        let out = get(&env, &server, mk, &[]);
        assert_eq!(out.status.code(), Some(2), "{mk}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("nothing was written"), "{mk}: {stderr}");
        assert!(
            rows(&env).values().all(|&n| n == 0),
            "{mk}: {:?}",
            rows(&env)
        );
        assert!(files_under(&env.home().join("objects")).is_empty(), "{mk}");
        assert!(files_under(&env.home().join("missions")).is_empty(), "{mk}");
    }

    // An entry whose local path is a directory another metakernel's tree created.
    let env = Env::new();
    let out = get(&env, &server, &good, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let rows_before = rows(&env);
    let tree_before = snapshot(&env.home().join("missions"));
    let objects_before = snapshot(&env.home().join("objects"));
    let out = get(&env, &server, &onto_dir, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is a directory"),
        "{}",
        describe(&out)
    );
    assert_eq!(rows(&env), rows_before);
    assert_eq!(snapshot(&env.home().join("missions")), tree_before);
    assert_eq!(snapshot(&env.home().join("objects")), objects_before);
    assert_objects_are_their_content(&env);
    assert_eq!(snapshot(ar.root()), served);
}
