//! Issue 23: the network as users have it (requests in flight together, counted).

use std::time::Duration;

use crate::common::archive::Archive;
use crate::common::http::{Fault, Gate, HttpServer};
use crate::common::*;

/// Eight directories of a NAIF-style archive, one SPK each, and the metakernel
/// listing them; returns (archive, metakernel URL path, the directories' URL paths).
fn eight_directories() -> (Archive, String, Vec<String>) {
    let ar = Archive::new();
    let rels: Vec<String> = (0..8).map(|i| format!("d{i}/k{i}.bsp")).collect();
    for (i, rel) in rels.iter().enumerate() {
        ar.kernel(rel, &spk_bytes(4_000 + i as u64, 3_000));
    }
    let mk = ar.mk(
        "eight.tm",
        &rels.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let dirs = (0..8)
        .map(|i| Archive::url_path(&format!("d{i}/")))
        .collect();
    (ar, mk, dirs)
}

/// A gate the eight listings must pass together.
fn gate_listings(server: &HttpServer, dirs: &[String]) -> Gate {
    let gate = Gate::new(dirs.len(), Duration::from_secs(5));
    server.faults().clear();
    for d in dirs {
        server.fault(d, Fault::Together(gate.clone()));
    }
    gate
}

/// §1: `get` asks for every directory listing it needs at once, cold and warm. The
/// server holds each listing until all eight have arrived: asked one at a time,
/// each would wait out the gate's limit (counted as late).
#[test]
fn get_asks_for_every_listing_at_once() {
    let env = Env::new();
    let (ar, mk, dirs) = eight_directories();
    let server = HttpServer::start(ar.root());
    let url = server.url(&mk);

    let gate = gate_listings(&server, &dirs);
    let j = env.json(&["get", "-y", &url, "--mission", "E"]);
    assert_eq!(j["downloaded"], 8, "{j}");
    assert_eq!(gate.arrived(), 8, "cold: listings asked {}", gate.arrived());
    assert_eq!(
        gate.late(),
        0,
        "cold: the listings were asked one after another"
    );

    // Warm, the listings the kernels held came from are asked beside the metakernel,
    // which holds one of the host's connections: nine connections let all eight
    // listings be in flight with it.
    let gate = gate_listings(&server, &dirs);
    let j = env.json(&["get", "-y", &url, "--mission", "E", "-j", "9"]);
    assert_eq!(j["downloaded"], 0, "{j}");
    assert_eq!(gate.arrived(), 8, "warm: listings asked {}", gate.arrived());
    assert_eq!(
        gate.late(),
        0,
        "warm: the listings were asked one after another"
    );
}

/// Sets a file's modification time to 2020-01-01 (a kernel published long before it
/// was fetched).
fn published_long_ago(path: &std::path::Path) {
    let ok = std::process::Command::new("touch")
        .args(["-d", "2020-01-01 00:00:00"])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "touch {}", path.display());
}

/// §1: `outdated` decides from directory listings: one request per directory (all at
/// once) and the metakernel's conditional `HEAD`; a kernel whose listing entry
/// changed is `changed` without a request of its own.
#[test]
fn outdated_asks_one_listing_per_directory_and_nothing_per_settled_kernel() {
    let env = Env::new();
    let (ar, mk, dirs) = eight_directories();
    for i in 0..8 {
        published_long_ago(&ar.path(&format!("d{i}/k{i}.bsp")));
    }
    let server = HttpServer::start(ar.root());
    let url = server.url(&mk);
    env.json(&["get", "-y", &url, "--mission", "E"]);

    let gate = gate_listings(&server, &dirs);
    server.reset_stats();
    let j = env.json(&["outdated"]);
    assert_eq!(j["checked"], 9, "{j}");
    assert_eq!(j["changed"], 0, "{j}");
    let r = &j["requests"];
    assert_eq!((&r["listing"], &r["probe"]), (&8.into(), &1.into()), "{r}");
    assert_eq!(r["total"], 9, "{r}");
    assert_eq!(gate.late(), 0, "the listings were asked one after another");
    assert!(
        server
            .requests()
            .iter()
            .all(|q| q.path.ends_with('/') || q.path == mk),
        "a request for a kernel: {:?}",
        server
            .requests()
            .iter()
            .map(|q| &q.path)
            .collect::<Vec<_>>()
    );

    // A republished kernel (three times the size): its listing says so.
    ar.kernel("d3/k3.bsp", &spk_bytes(99, 9_000));
    let gate = gate_listings(&server, &dirs);
    let j = env.json(&["outdated"]);
    assert_eq!(j["changed"], 1, "{j}");
    let changed: Vec<&str> = j["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "changed")
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(changed, ["k3.bsp"], "{j}");
    assert_eq!(j["requests"]["total"], 9, "{j}");
    assert_eq!(gate.late(), 0);
}

/// §2: HTTPS archives. An untrusted certificate is one short error naming the host
/// and the three ways to trust a CA (network exit code); each way then works; HTTP/2
/// is spoken where the server offers it (ALPN, seen in Apache's `%H`), HTTP/1.1
/// where it does not.
#[test]
fn https_archives_trust_the_users_ca_three_ways_and_speak_http2() {
    use crate::common::apache::Apache;
    use crate::common::tls::Tls;
    let tls = Tls::new();
    let ar = Archive::new();
    let rels = ar.spks(&["a", "b"], 31, |_| 4_000);
    let mk = ar.mk("t.tm", &rels.iter().map(String::as_str).collect::<Vec<_>>());
    let Some(h2) = Apache::start_tls(ar.root(), &tls.cert, &tls.key, true) else {
        return;
    };
    let url = h2.url(&mk);

    let env = Env::new();
    let out = env.run(&["get", "-y", &url, "--mission", "T"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    for needle in ["127.0.0.1", "SSL_CERT_FILE", "SSL_CERT_DIR", "ca_file"] {
        assert!(err.contains(needle), "{needle} missing: {err}");
    }
    assert!(err.lines().count() <= 3, "not short: {err}");
    assert_eq!(env.count("metakernels"), 0);

    let trusted_by: [(&str, &std::path::Path); 3] = [
        ("SSL_CERT_FILE", &tls.ca),
        ("SSL_CERT_DIR", &tls.ca_dir),
        ("KDB_CA_FILE", &tls.ca),
    ];
    for (var, path) in trusted_by {
        Env::new().ok_env(&["get", "-y", &url, "--mission", "T"], &[(var, &path)]);
    }
    let log = h2.access_log();
    assert!(log.lines().any(|l| l.starts_with("HTTP/2.0 ")), "{log}");
    assert!(!log.lines().any(|l| l.starts_with("HTTP/1.1 ")), "{log}");

    // The config file's `ca_file`, against a server without h2.
    let h1 = Apache::start_tls(ar.root(), &tls.cert, &tls.key, false).unwrap();
    let env = Env::new();
    let set = env.run(&["config", "set", "ca_file", tls.ca.to_str().unwrap()]);
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let j = env.json(&["get", "-y", &h1.url(&mk), "--mission", "T"]);
    assert_eq!(j["downloaded"], 2, "{j}");
    let log = h1.access_log();
    assert!(log.lines().all(|l| l.starts_with("HTTP/1.1 ")), "{log}");

    // A CA file that is not one is a usage error naming it.
    let out = Env::new().run_env(
        &["get", "-y", &url, "--mission", "T"],
        &[("KDB_CA_FILE", &ar.path("spk/a.bsp"))],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("a.bsp") && err.contains("ca_file"), "{err}");
}

/// §3: proxies. HTTPS archives go through the proxy by CONNECT (`HTTPS_PROXY` and
/// `https_proxy`), plain HTTP by `ALL_PROXY`; the `proxy` setting overrides the
/// environment; proxy credentials come from the URL and never show in output.
#[test]
fn proxies_carry_every_archive_request_and_keep_their_password() {
    use crate::common::apache::Apache;
    use crate::common::proxy::Tinyproxy;
    use crate::common::tls::Tls;
    let Some(proxy) = Tinyproxy::start(None) else {
        return;
    };
    let tls = Tls::new();
    let ar = Archive::new();
    let rels = ar.spks(&["a", "b"], 51, |_| 4_000);
    let mk = ar.mk("p.tm", &rels.iter().map(String::as_str).collect::<Vec<_>>());
    let https = Apache::start_tls(ar.root(), &tls.cert, &tls.key, true).unwrap();
    let https_port = https.addr.port();
    let get = |url: &str| ["get", "-y", url, "--mission", "P"].map(str::to_owned);
    let through = proxy.url(None);
    for var in ["HTTPS_PROXY", "https_proxy"] {
        let args = get(&https.url(&mk));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Env::new().ok_env(&args, &[("SSL_CERT_FILE", &tls.ca), (var, &through)]);
    }
    let connects = proxy
        .log()
        .lines()
        .filter(|l| l.contains(&format!("CONNECT 127.0.0.1:{https_port}")))
        .count();
    assert!(
        connects >= 2,
        "no CONNECT through the proxy:\n{}",
        proxy.log()
    );

    // Plain HTTP through ALL_PROXY.
    let plain = HttpServer::start(ar.root());
    let plain_get = get(&plain.url(&mk));
    let plain_get: Vec<&str> = plain_get.iter().map(String::as_str).collect();
    Env::new().ok_env(&plain_get, &[("ALL_PROXY", &through)]);
    let target = format!("GET {}", plain.url("/"));
    assert!(
        proxy.log().contains(&target),
        "{target} not proxied:\n{}",
        proxy.log()
    );

    // The setting wins over an environment proxy that goes nowhere.
    Env::new().ok_env(
        &plain_get,
        &[
            ("HTTP_PROXY", &"http://127.0.0.1:1"),
            ("KDB_PROXY", &through),
        ],
    );

    // Credentials from the URL; the password shows nowhere.
    let auth = Some(("kdbuser", "pr0xy-s3cret"));
    let Some(guarded) = Tinyproxy::start(auth) else {
        return;
    };
    let env = Env::new();
    let denied = env.run_env(&plain_get, &[("KDB_PROXY", &guarded.url(None))]);
    assert_ne!(denied.status.code(), Some(0));
    for args in [
        vec![
            "get",
            "-y",
            &plain.url(&mk),
            "--mission",
            "P",
            "--json",
            "-vv",
        ],
        vec!["config", "--json"],
        vec!["config"],
    ] {
        let out = env.run_env(&args, &[("KDB_PROXY", &guarded.url(auth))]);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for stream in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(stream);
            assert!(
                !text.contains("pr0xy-s3cret"),
                "{args:?} shows the password:\n{text}"
            );
        }
    }
    assert!(guarded.log().contains(&target), "{}", guarded.log());
}
