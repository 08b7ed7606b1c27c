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
