//! Self-tests of the in-process fault-injecting server (`common::http`): each
//! behaviour and each fault is observed with a raw `std::net` client, so that
//! download tests can trust what the server claims to do.

// Fixture trees are written straight into temp dirs: not a kdb write path.
#![allow(clippy::disallowed_methods)]

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use kdb::remote::listing::{Size, parse_listing};

use crate::common::http::{self, Fault, HttpServer, RawReply, raw_exchange};

const TIMEOUT: Duration = Duration::from_secs(10);

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 256) as u8).collect()
}

/// A doc root with `/k/de.bsp` (1000 bytes), `/k/a b.tls` (10 bytes) and an
/// empty directory `/k/sub/`.
fn tree() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("temp dir");
    let k = root.path().join("k");
    fs::create_dir_all(k.join("sub")).expect("mkdir");
    fs::write(k.join("de.bsp"), content(1000)).expect("write");
    fs::write(k.join("a b.tls"), content(10)).expect("write");
    root
}

fn exchange(server: &HttpServer, request: &str) -> RawReply {
    raw_exchange(server.addr(), request.as_bytes(), TIMEOUT)
}

fn get_raw(server: &HttpServer, path: &str, extra_headers: &str) -> RawReply {
    exchange(
        server,
        &format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra_headers}\r\n"),
    )
}

#[test]
fn serves_files_with_validators() {
    let root = tree();
    let server = HttpServer::start(root.path());
    let reply = http::get(&server.url("/k/de.bsp")).expect("GET");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, content(1000));
    assert_eq!(reply.header("content-length"), Some("1000"));
    assert_eq!(reply.header("accept-ranges"), Some("bytes"));
    let etag = reply.header("etag").expect("ETag");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let lm = reply.header("last-modified").expect("Last-Modified");
    assert!(lm.ends_with(" GMT"), "{lm}");

    let spaced = http::get(&server.url("/k/a%20b.tls")).expect("GET");
    assert_eq!((spaced.status, spaced.body), (200, content(10)));
}

#[test]
fn head_sends_headers_only() {
    let root = tree();
    let server = HttpServer::start(root.path());
    let raw = exchange(
        &server,
        "HEAD /k/de.bsp HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(raw.error.is_none(), "{:?}", raw.error);
    assert_eq!(raw.status(), Some(200));
    assert_eq!(raw.header("Content-Length").as_deref(), Some("1000"));
    assert!(raw.body().is_empty());
    assert_eq!(server.requests()[0].method, "HEAD");
}

#[test]
fn conditional_requests_and_changed_files() {
    let root = tree();
    let server = HttpServer::start(root.path());
    let first = http::get(&server.url("/k/de.bsp")).expect("GET");
    let etag = first.header("etag").expect("etag").to_owned();
    let lm = first.header("last-modified").expect("lm").to_owned();

    let inm = get_raw(&server, "/k/de.bsp", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(inm.status(), Some(304));
    assert!(inm.body().is_empty());
    assert_eq!(inm.header("ETag"), Some(etag.clone()));

    let ims = get_raw(
        &server,
        "/k/de.bsp",
        &format!("If-Modified-Since: {lm}\r\n"),
    );
    assert_eq!(ims.status(), Some(304));
    let old = get_raw(
        &server,
        "/k/de.bsp",
        "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
    );
    assert_eq!(old.status(), Some(200));

    // Same size, new content, possibly within the same mtime tick.
    let mut changed = content(1000);
    changed[0] ^= 0xff;
    fs::write(root.path().join("k/de.bsp"), &changed).expect("rewrite");
    let after = get_raw(&server, "/k/de.bsp", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(after.status(), Some(200));
    assert_eq!(after.body(), &changed[..]);
    assert_ne!(after.header("ETag"), Some(etag));
}

#[test]
fn ranges() {
    let root = tree();
    let server = HttpServer::start(root.path());
    let whole = content(1000);

    let open = get_raw(&server, "/k/de.bsp", "Range: bytes=600-\r\n");
    assert_eq!(open.status(), Some(206));
    assert_eq!(
        open.header("Content-Range").as_deref(),
        Some("bytes 600-999/1000")
    );
    assert_eq!(open.header("Content-Length").as_deref(), Some("400"));
    assert_eq!(open.body(), &whole[600..]);

    let closed = get_raw(&server, "/k/de.bsp", "Range: bytes=10-19\r\n");
    assert_eq!(closed.status(), Some(206));
    assert_eq!(closed.body(), &whole[10..20]);

    let beyond = get_raw(&server, "/k/de.bsp", "Range: bytes=1000-\r\n");
    assert_eq!(beyond.status(), Some(416));
    assert_eq!(
        beyond.header("Content-Range").as_deref(),
        Some("bytes */1000")
    );

    let etag = http::get(&server.url("/k/de.bsp"))
        .expect("GET")
        .header("etag")
        .expect("etag")
        .to_owned();
    let matching = get_raw(
        &server,
        "/k/de.bsp",
        &format!("Range: bytes=990-\r\nIf-Range: {etag}\r\n"),
    );
    assert_eq!(matching.status(), Some(206));
    let stale = get_raw(
        &server,
        "/k/de.bsp",
        "Range: bytes=990-\r\nIf-Range: \"stale\"\r\n",
    );
    assert_eq!(stale.status(), Some(200));
    assert_eq!(stale.body(), &whole[..]);
}

#[test]
fn status_fault_for_the_first_n_requests_then_normal() {
    let root = tree();
    let server = HttpServer::start(root.path());
    server.fault_first("/k/de.bsp", 2, Fault::Status(503));
    for _ in 0..2 {
        let r = get_raw(&server, "/k/de.bsp", "");
        assert_eq!(r.status(), Some(503));
        assert_eq!(r.header("Retry-After").as_deref(), Some("0"));
    }
    assert_eq!(get_raw(&server, "/k/de.bsp", "").status(), Some(200));
    // Other paths are unaffected.
    assert_eq!(server.hits("/k/a b.tls"), 0);
    assert_eq!(get_raw(&server, "/k/a%20b.tls", "").status(), Some(200));
}

#[test]
fn status_faults_forever() {
    let root = tree();
    let server = HttpServer::start(root.path());
    for (path, code) in [
        ("/k/de.bsp", 404),
        ("/k/a%20b.tls", 403),
        ("/gone", 410),
        ("/busy", 429),
    ] {
        server.fault(path, Fault::Status(code));
        for _ in 0..3 {
            let r = get_raw(&server, path, "");
            assert_eq!(r.status(), Some(code), "{path}");
            let retry_after = r.header("Retry-After");
            assert_eq!(retry_after.is_some(), code == 429, "{path}");
        }
    }
}

#[test]
fn faults_queue_per_path_and_match_decoded_paths() {
    let root = tree();
    let server = HttpServer::start(root.path());
    let faults = server.faults();
    // The handle works from another thread.
    thread::spawn(move || {
        faults.first("/k/a b.tls", 1, Fault::Status(500));
        faults.first("/k/a b.tls", 1, Fault::Truncate(3));
    })
    .join()
    .expect("configure faults");
    assert_eq!(get_raw(&server, "/k/a%20b.tls", "").status(), Some(500));
    let truncated = get_raw(&server, "/k/a%20b.tls", "");
    assert_eq!(truncated.body(), &content(10)[..3]);
    let normal = get_raw(&server, "/k/a%20b.tls", "");
    assert_eq!(normal.body(), &content(10)[..]);

    server.fault("/k/de.bsp", Fault::Empty);
    server.faults().clear();
    assert_eq!(get_raw(&server, "/k/de.bsp", "").body().len(), 1000);
}

#[test]
fn truncate_declares_full_length_then_closes() {
    let root = tree();
    let server = HttpServer::start(root.path());
    server.fault("/k/de.bsp", Fault::Truncate(100));
    let r = get_raw(&server, "/k/de.bsp", "");
    assert!(r.error.is_none(), "clean close expected: {:?}", r.error);
    assert_eq!(r.header("Content-Length").as_deref(), Some("1000"));
    assert_eq!(r.body(), &content(1000)[..100]);
    let err = http::get(&server.url("/k/de.bsp")).expect_err("short body");
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);

    // Applies to a ranged answer too.
    let ranged = get_raw(&server, "/k/de.bsp", "Range: bytes=500-\r\n");
    assert_eq!(ranged.status(), Some(206));
    assert_eq!(ranged.header("Content-Length").as_deref(), Some("500"));
    assert_eq!(ranged.body(), &content(1000)[500..600]);
}

#[test]
fn wrong_length_misdeclares_content_length() {
    let root = tree();
    let server = HttpServer::start(root.path());
    server.fault_first("/k/de.bsp", 1, Fault::WrongLength(10));
    let longer = get_raw(&server, "/k/de.bsp", "");
    assert_eq!(longer.header("Content-Length").as_deref(), Some("1010"));
    assert_eq!(longer.body(), &content(1000)[..]);

    server.fault_first("/k/de.bsp", 1, Fault::WrongLength(-10));
    let shorter = get_raw(&server, "/k/de.bsp", "");
    assert_eq!(shorter.header("Content-Length").as_deref(), Some("990"));
    assert_eq!(shorter.body(), &content(1000)[..]);
}

#[test]
fn reset_at_resets_the_connection() {
    let root = tree();
    let server = HttpServer::start(root.path());
    server.fault("/k/de.bsp", Fault::ResetAt(300));
    let r = get_raw(&server, "/k/de.bsp", "");
    let err = r.error.as_ref().expect("the connection must be reset");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    assert!(r.body().len() <= 300);
    assert_eq!(r.body(), &content(1000)[..r.body().len()]);
    assert_eq!(server.hits("/k/de.bsp"), 1);
}

#[test]
fn ignore_range_answers_200_with_everything() {
    let root = tree();
    let server = HttpServer::start(root.path());
    server.fault("/k/de.bsp", Fault::IgnoreRange);
    let r = get_raw(&server, "/k/de.bsp", "Range: bytes=600-\r\n");
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.header("Content-Range"), None);
    assert_eq!(r.body(), &content(1000)[..]);
}

#[test]
fn drip_is_slow_enough_to_trip_a_read_timeout() {
    let root = tree();
    let server = HttpServer::start(root.path());
    server.fault(
        "/k/a b.tls",
        Fault::Drip {
            chunk: 2,
            interval: Duration::from_millis(40),
        },
    );
    let started = Instant::now();
    let r = get_raw(&server, "/k/a%20b.tls", "");
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.body(), &content(10)[..]);
    assert!(started.elapsed() >= Duration::from_millis(5 * 40));

    server.faults().clear();
    server.fault(
        "/k/a b.tls",
        Fault::Drip {
            chunk: 1,
            interval: Duration::from_secs(2),
        },
    );
    let impatient = raw_exchange(
        server.addr(),
        b"GET /k/a%20b.tls HTTP/1.1\r\nHost: t\r\n\r\n",
        Duration::from_millis(100),
    );
    let err = impatient.error.as_ref().expect("read timeout");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    assert_eq!(impatient.status(), Some(200));
}

#[test]
fn redirect_body_and_empty() {
    let root = tree();
    let server = HttpServer::start(root.path());
    server.fault("/loop", Fault::Redirect("/loop".into()));
    server.fault(
        "/away",
        Fault::Redirect("http://elsewhere.invalid/k/de.bsp".into()),
    );
    let r = get_raw(&server, "/loop", "");
    assert_eq!(r.status(), Some(302));
    assert_eq!(r.header("Location").as_deref(), Some("/loop"));
    let r = get_raw(&server, "/away", "");
    assert_eq!(
        r.header("Location").as_deref(),
        Some("http://elsewhere.invalid/k/de.bsp")
    );

    let portal = b"<html><body>Please log in</body></html>".to_vec();
    server.fault("/k/de.bsp", Fault::Body(portal.clone()));
    let r = http::get(&server.url("/k/de.bsp")).expect("GET");
    assert_eq!((r.status, &r.body), (200, &portal));
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );

    server.fault("/k/a b.tls", Fault::Empty);
    let r = get_raw(&server, "/k/a%20b.tls", "");
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.header("Content-Length").as_deref(), Some("0"));
    assert!(r.body().is_empty());
}

#[test]
fn records_requests() {
    let root = tree();
    let server = HttpServer::start(root.path());
    get_raw(
        &server,
        "/k/de.bsp?x=1",
        "User-Agent: kdb/0.1\r\nRange: bytes=5-\r\n",
    );
    http::request("HEAD", &server.url("/k/a%20b.tls"), &[]).expect("HEAD");
    let log = server.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].target, "/k/de.bsp?x=1");
    assert_eq!(log[0].path, "/k/de.bsp");
    assert_eq!(log[0].header("user-agent"), Some("kdb/0.1"));
    assert_eq!(log[0].header("RANGE"), Some("bytes=5-"));
    assert_eq!(log[1].method, "HEAD");
    assert_eq!(server.requests_to("/k/a b.tls").len(), 1);
    assert_eq!(server.hits("/k/a%20b.tls"), 1);
    server.reset_stats();
    assert!(server.requests().is_empty());
}

#[test]
fn keep_alive_serves_several_requests_per_connection() {
    let root = tree();
    let server = HttpServer::start(root.path());
    let mut stream = TcpStream::connect(server.addr()).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    for path in ["/k/a%20b.tls", "/k/de.bsp"] {
        write!(stream, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").expect("write");
        let (status, body) = read_one_response(&mut stream);
        assert_eq!(status, 200);
        assert!(!body.is_empty());
    }
    let log = server.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].connection, log[1].connection);
}

/// Reads one response delimited by `Content-Length` from a kept-alive stream.
fn read_one_response(stream: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("head byte");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("content-length");
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).expect("body");
    (status, body)
}

#[test]
fn counts_requests_in_flight() {
    let root = tree();
    let server = HttpServer::start(root.path());
    server.fault(
        "/k/a b.tls",
        Fault::Drip {
            chunk: 1,
            interval: Duration::from_millis(100),
        },
    );
    let addr = server.addr();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(move || {
                raw_exchange(
                    addr,
                    b"GET /k/a%20b.tls HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                    TIMEOUT,
                )
            })
        })
        .collect();
    let deadline = Instant::now() + TIMEOUT;
    while server.in_flight() < 4 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    for client in clients {
        let reply = client.join().expect("client");
        assert_eq!(reply.body(), &content(10)[..]);
    }
    assert_eq!(server.max_in_flight(), 4);
    assert!(server.max_connections() >= 4);
    assert_eq!(server.in_flight(), 0);
}

#[test]
fn directories_get_an_apache_style_listing() {
    let root = tree();
    let server = HttpServer::start(root.path());
    let page = http::get(&server.url("/k/")).expect("GET listing");
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(text.contains("<title>Index of /k</title>"), "{text}");
    assert!(text.contains("<a href=\"?C=N;O=D\">Name</a>"), "{text}");
    assert!(text.contains(">Parent Directory</a>"), "{text}");
    let listing = parse_listing(&text);
    let summary: Vec<(&str, bool, Option<Size>)> = listing
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.is_dir, e.size))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("a b.tls", false, Some(Size::Exact(10))),
            ("de.bsp", false, Some(Size::Approx(1024))),
            ("sub", true, None),
        ]
    );
    assert!(listing.entries.iter().all(|e| e.modified.is_some()));

    let bare = get_raw(&server, "/k", "");
    assert_eq!(bare.status(), Some(301));
    assert_eq!(bare.header("Location").as_deref(), Some("/k/"));
    assert_eq!(get_raw(&server, "/k/de.bsp/", "").status(), Some(404));
}

#[test]
fn never_serves_outside_the_doc_root() {
    let outer = tempfile::tempdir().expect("temp");
    let root = outer.path().join("www");
    fs::create_dir(&root).expect("mkdir");
    fs::write(outer.path().join("secret.txt"), b"secret").expect("write");
    let server = HttpServer::start(&root);
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/a/../../secret.txt",
        "/..%2fsecret.txt",
    ] {
        let r = get_raw(&server, path, "");
        assert_eq!(r.status(), Some(404), "{path}");
        assert!(!r.body().windows(6).any(|w| w == b"secret"), "{path}");
    }
}

#[test]
fn bad_requests_get_400() {
    let root = tree();
    let server = HttpServer::start(root.path());
    let r = exchange(&server, "NONSENSE\r\n\r\n");
    assert_eq!(r.status(), Some(400));
}

#[test]
fn dropping_the_server_stops_it_even_mid_drip() {
    let root = tree();
    let server = HttpServer::start(root.path());
    server.fault(
        "/k/de.bsp",
        Fault::Drip {
            chunk: 1,
            interval: Duration::from_secs(60),
        },
    );
    let addr = server.addr();
    let client = thread::spawn(move || {
        raw_exchange(
            addr,
            b"GET /k/de.bsp HTTP/1.1\r\nHost: t\r\n\r\n",
            Duration::from_secs(120),
        )
    });
    let deadline = Instant::now() + TIMEOUT;
    while server.in_flight() == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(30));
    let reply = client.join().expect("client");
    assert!(reply.body().len() < 1000);
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

#[test]
fn url_building() {
    let root = tree();
    let server = HttpServer::start(root.path());
    assert_eq!(server.url("/k/"), format!("{}/k/", server.base_url()));
    assert_eq!(server.url("k/"), format!("{}/k/", server.base_url()));
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(server.doc_root(), Path::new(root.path()));
}
