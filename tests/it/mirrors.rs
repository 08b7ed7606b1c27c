//! Issue 23 §4: mission mirrors with failover. A mission's server that refuses,
//! answers 5xx or times out hands its requests to the next mirror for the rest of
//! the command (one line says so); the metakernel keeps the server's names, the
//! catalogue records which mirror served each kernel, and a mirror's bytes are held
//! to the content already known for a URL.

use std::path::Path;
use std::time::Duration;

use crate::common::archive::Archive;
use crate::common::http::{Fault, HttpServer};
use crate::common::*;

/// Three kernels in two directories and `m.tm` listing them; every file published
/// long ago (as a mirror that keeps dates shows them too).
fn archive() -> Archive {
    let ar = Archive::new();
    let rels = ["spk/a.bsp", "spk/b.bsp", "ck/c.bsp"];
    for (i, rel) in rels.iter().enumerate() {
        ar.kernel(rel, &spk_bytes(700 + i as u64, 2_000 + 100 * i));
    }
    ar.mk("m.tm", &rels);
    published_long_ago(ar.root());
    ar
}

/// Dates every file under `dir` (and the directories) to 2020-01-01.
fn published_long_ago(dir: &Path) {
    let ok = std::process::Command::new("find")
        .arg(dir)
        .args(["-exec", "touch", "-d", "2020-01-01 00:00:00", "{}", "+"])
        .status()
        .unwrap()
        .success();
    assert!(ok, "touch {}", dir.display());
}

/// A copy of `ar`'s tree, dates kept (`cp -a`), under a new document root.
fn mirror_of(ar: &Archive) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(ar.root().join("pub"))
        .arg(root.path())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    root
}

/// An http base URL on a loopback port nothing listens on.
fn closed_port_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/pub/naif/")
}

/// Every URL path of the tree under `root` (directories with their slash).
fn every_path(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_owned();
            if p.is_dir() {
                out.push(format!("/{rel}/"));
                walk(root, &p, out);
            } else {
                out.push(format!("/{rel}"));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

/// Lines of `stderr` that say the requests moved to a mirror.
fn failover_lines(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.contains("using mirror"))
        .map(str::to_owned)
        .collect()
}

/// Adds mission M on `primary` with `mirror`, then gets `m.tm`: every kernel
/// arrives from the mirror, with one line saying so, and is recorded as served by
/// it, while the metakernel and local paths keep the primary's names.
fn get_through_the_mirror(env: &Env, primary: &str, mirror: &HttpServer, vars: &[(&str, &str)]) {
    let vars: Vec<(&str, &dyn AsRef<std::ffi::OsStr>)> = vars
        .iter()
        .map(|(k, v)| (*k, v as &dyn AsRef<std::ffi::OsStr>))
        .collect();
    let mirror_base = mirror.url("/pub/naif/");
    // Adding works while only the mirror answers.
    let out = env.run_env(
        &[
            "mission",
            "add",
            "M",
            "--server",
            primary,
            "--mirror",
            &mirror_base,
        ],
        &vars,
    );
    assert!(
        out.status.success(),
        "mission add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(failover_lines(&out.stderr).len(), 1, "{out:?}");
    let list = env.json(&["mission", "list"]);
    assert_eq!(
        list["missions"][0]["mirrors"][0],
        mirror_base.as_str(),
        "{list}"
    );

    let out = env.run_env(&["get", "-y", "m.tm", "--mission", "M", "--json"], &vars);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "get: {stderr}");
    let lines = failover_lines(&out.stderr);
    assert_eq!(lines.len(), 1, "one line says the requests moved: {stderr}");
    assert!(lines[0].contains(&mirror_base), "{}", lines[0]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["downloaded"], 3, "{j}");
    let served = j["served_by"].as_object().expect("served_by");
    assert_eq!(served.len(), 3, "{j}");
    for (url, by) in served {
        assert!(url.starts_with(primary), "{url}");
        let by = by.as_str().unwrap();
        assert!(by.starts_with(&mirror_base), "{by}");
        assert_eq!(&url[primary.len()..], &by[mirror_base.len()..]);
    }
    // The metakernel names the primary's tree, never the mirror's.
    let local = std::fs::read_to_string(j["metakernel"].as_str().unwrap()).unwrap();
    let mirror_port = mirror.addr().port().to_string();
    assert!(!local.contains(&mirror_port), "{local}");
    let a = env.json(&["aliases", "a.bsp"]);
    let by = a["served_by"].as_object().unwrap_or_else(|| panic!("{a}"));
    assert!(
        by.values()
            .all(|v| v.as_str().unwrap().starts_with(&mirror_base)),
        "{a}"
    );
}

#[test]
fn a_server_that_refuses_connections_hands_its_requests_to_the_mirror() {
    let ar = archive();
    let root = mirror_of(&ar);
    let mirror = HttpServer::start(root.path());
    let env = Env::new();
    get_through_the_mirror(&env, &closed_port_base(), &mirror, &[]);
}

#[test]
fn a_server_answering_503_hands_its_requests_to_the_mirror() {
    let ar = archive();
    let primary = HttpServer::start(ar.root());
    for path in every_path(ar.root()) {
        primary.fault(&path, Fault::Status(503));
    }
    let root = mirror_of(&ar);
    let mirror = HttpServer::start(root.path());
    let env = Env::new();
    get_through_the_mirror(&env, &primary.url("/pub/naif/"), &mirror, &[]);
    // Each command asked the primary once, then only the mirror.
    assert_eq!(primary.requests().len(), 2, "{:?}", primary.requests());
}

#[test]
fn a_server_slower_than_the_timeout_hands_its_requests_to_the_mirror() {
    let ar = archive();
    let primary = HttpServer::start(ar.root());
    for path in every_path(ar.root()) {
        primary.fault(&path, Fault::Stall(Duration::from_secs(60)));
    }
    let root = mirror_of(&ar);
    let mirror = HttpServer::start(root.path());
    let env = Env::new();
    get_through_the_mirror(
        &env,
        &primary.url("/pub/naif/"),
        &mirror,
        &[("KDB_READ_TIMEOUT", "1"), ("KDB_CONNECT_TIMEOUT", "1")],
    );
}

/// A mirror serving one wrong byte of a kernel whose content is known (fetched
/// before, its listing unchanged since) is refused, named by the mirror's URL, and
/// nothing of it is registered.
#[test]
fn a_mirror_serving_a_wrong_byte_of_a_known_kernel_is_refused() {
    let ar = archive();
    let root = mirror_of(&ar);
    let mirror = HttpServer::start(root.path());
    let env = Env::new();
    let primary = HttpServer::start(ar.root());
    let primary_base = primary.url("/pub/naif/");
    env.ok(&[
        "mission",
        "add",
        "M",
        "--server",
        &primary_base,
        "--mirror",
        &mirror.url("/pub/naif/"),
    ]);
    let j = env.json(&["get", "-y", "m.tm", "--mission", "M"]);
    assert_eq!(j["downloaded"], 3, "{j}");
    assert!(j.get("served_by").is_none(), "{j}");

    // The mirror's copy of b.bsp differs by one byte, same size and date.
    let bad = root.path().join("pub/naif/M/kernels/spk/b.bsp");
    let mut bytes = std::fs::read(&bad).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 0x55;
    write(&bad, &bytes);
    published_long_ago(root.path());
    let wrong_sha = sha256(&bad);
    drop(primary);

    let out = env.run(&["get", "-y", "m.tm", "--mission", "M", "--force", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed = j["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{j}");
    assert_eq!(failed[0]["name"], "b.bsp", "{j}");
    assert!(
        failed[0]["error"]
            .to_string()
            .contains(&mirror.url("/pub/naif/M/kernels/spk/b.bsp")),
        "the error names the mirror's URL: {j}"
    );
    let found = env.run(&["aliases", &wrong_sha[..16]]);
    assert!(!found.status.success(), "the wrong bytes were registered");
    assert_eq!(
        env.count(&format!("kernels WHERE sha256 = '{wrong_sha}'")),
        0
    );
}

/// `mission mirror add|remove` change the mirrors later; adding checks the mirror
/// holds the mission.
#[test]
fn mirrors_are_added_and_removed_later() {
    let ar = archive();
    let primary = HttpServer::start(ar.root());
    let root = mirror_of(&ar);
    let mirror = HttpServer::start(root.path());
    let empty = tempfile::tempdir().unwrap();
    let elsewhere = HttpServer::start(empty.path());
    let env = Env::new();
    env.ok(&[
        "mission",
        "add",
        "M",
        "--server",
        &primary.url("/pub/naif/"),
    ]);
    let mirror_base = mirror.url("/pub/naif/");
    env.ok(&["mission", "mirror", "add", "M", &mirror_base]);
    let out = env.run(&[
        "mission",
        "mirror",
        "add",
        "M",
        &elsewhere.url("/pub/naif/"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a mirror without the mission: {out:?}"
    );
    let list = env.json(&["mission", "list"]);
    assert_eq!(
        list["missions"][0]["mirrors"],
        serde_json::json!([mirror_base])
    );
    let text = env.ok(&["mission", "list"]);
    assert!(text.contains(&mirror_base), "{text}");
    env.ok(&["mission", "mirror", "remove", "M", &mirror_base]);
    let list = env.json(&["mission", "list"]);
    assert_eq!(list["missions"][0]["mirrors"], serde_json::json!([]));
}
