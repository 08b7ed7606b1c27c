//! The network layer (`kdb::remote::fetch`) against the in-process fault-injecting
//! server: timeouts, retries, resume (in-process and across runs), body checks,
//! redirects, per-host concurrency, `file://`, and the write-path boundaries.
//!
//! Bounded memory is not asserted here (the test server holds whole files in
//! memory, so RSS in this process says nothing): kernels are streamed chunk by
//! chunk into the partial file and the hasher and only `kernel::HEAD_LEN` bytes
//! are kept; `bench/` measures peak RSS on a 1 GB download (about 7 MB when this
//! module was written, against `python3 -m http.server`).

// Fixture trees are written straight into temp dirs: not a kdb write path.
#![allow(clippy::disallowed_methods)]

use std::fs;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use kdb::remote::fetch::{
    Conditional, DownloadRequest, Downloaded, FetchConfig, FetchError, NoProgress, Progress,
    Validators, download_all, fetch_text,
};
use kdb::store::Sha256Hex;
use sha2::{Digest, Sha256};
use url::Url;

use crate::common::http::{self, Fault, HttpServer};
use crate::common::{spk_bytes, temp_entries, text_kernel, write};

/// Generous timeouts (a slow CI machine must not time out by accident) and a
/// near-zero backoff.
fn cfg() -> FetchConfig {
    FetchConfig {
        connect_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(10),
        attempts: 3,
        backoff_base: Duration::from_millis(1),
        jobs_per_host: 8,
        max_redirects: 5,
        ..FetchConfig::default()
    }
}

/// A document root served over HTTP and a home holding `tmp/` and `tmp/partial/`.
struct Site {
    root: tempfile::TempDir,
    server: HttpServer,
}

impl Site {
    fn new() -> Site {
        let root = tempfile::Builder::new()
            .prefix("kdb-fetch-")
            .tempdir()
            .unwrap();
        fs::create_dir_all(root.path().join("www")).unwrap();
        let server = HttpServer::start(&root.path().join("www"));
        Site { root, server }
    }

    /// Serves `bytes` at `/k/<name>`; returns the URL path.
    fn put(&self, name: &str, bytes: &[u8]) -> String {
        write(&self.root.path().join("www/k").join(name), bytes);
        format!("/k/{name}")
    }

    fn url(&self, path: &str) -> Url {
        Url::parse(&self.server.url(path)).unwrap()
    }

    fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    fn tmp(&self) -> PathBuf {
        self.home().join("tmp")
    }

    fn partial(&self) -> PathBuf {
        self.home().join("tmp").join("partial")
    }

    fn request(&self, path: &str) -> DownloadRequest {
        DownloadRequest {
            url: self.url(path),
            name: path.rsplit('/').next().unwrap().to_owned(),
            expected_size: None,
            expected_sha256: None,
            size_hint: None,
        }
    }

    fn download(
        &self,
        cfg: &FetchConfig,
        requests: &[DownloadRequest],
    ) -> Vec<Result<Downloaded, FetchError>> {
        download_all(cfg, &self.tmp(), &self.partial(), requests, &NoProgress)
    }

    fn download_one(
        &self,
        cfg: &FetchConfig,
        request: DownloadRequest,
    ) -> Result<Downloaded, FetchError> {
        self.download(cfg, &[request]).pop().unwrap()
    }

    /// Every file under the home, relative to it.
    fn home_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = walkdir::WalkDir::new(self.home())
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| !e.file_type().is_dir())
            .map(|e| e.path().strip_prefix(self.home()).unwrap().to_path_buf())
            .collect();
        files.sort();
        files
    }

    fn partial_files(&self) -> Vec<PathBuf> {
        self.home_files()
            .into_iter()
            .filter(|p| p.starts_with("tmp/partial"))
            .collect()
    }
}

fn sha_of(bytes: &[u8]) -> Sha256Hex {
    Sha256Hex::parse(&format!("{:x}", Sha256::digest(bytes))).unwrap()
}

/// The partial-download file name of a URL (documented: sha256 of the URL).
fn partial_key(url: &Url) -> String {
    format!("{:x}", Sha256::digest(url.as_str().as_bytes()))
}

fn staged_bytes(d: &Downloaded) -> Vec<u8> {
    fs::read(d.staged.path()).unwrap()
}

fn range_of(r: &http::RecordedRequest) -> Option<String> {
    r.header("range").map(str::to_owned)
}

// --- fetch_text -------------------------------------------------------------

#[test]
fn fetch_text_returns_body_validators_and_sends_user_agent() {
    let site = Site::new();
    let path = site.put(
        "juice_ops.tm",
        b"KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( 'a.bsp' )\n",
    );
    let Conditional::Fetched(doc) = fetch_text(&cfg(), &site.url(&path), None).unwrap() else {
        panic!("expected a body");
    };
    assert_eq!(
        doc.bytes,
        fs::read(site.root.path().join("www").join(&path[1..])).unwrap()
    );
    assert_eq!(doc.size, doc.bytes.len() as u64);
    assert_eq!(doc.final_url, site.url(&path));
    assert!(doc.validators.etag.is_some() && doc.validators.last_modified.is_some());
    let requests = site.server.requests_to(&path);
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("user-agent"),
        Some(concat!("kdb/", env!("CARGO_PKG_VERSION")))
    );
}

#[test]
fn fetch_text_conditional_answers_not_modified() {
    let site = Site::new();
    let path = site.put("a.tm", b"KPL/MK\n");
    let Conditional::Fetched(doc) = fetch_text(&cfg(), &site.url(&path), None).unwrap() else {
        panic!("expected a body");
    };
    let again = fetch_text(&cfg(), &site.url(&path), Some(&doc.validators)).unwrap();
    assert!(matches!(again, Conditional::NotModified));
    let second = &site.server.requests_to(&path)[1];
    assert_eq!(
        second.header("if-none-match"),
        doc.validators.etag.as_deref()
    );
    // A changed document is fetched again despite the old validators.
    site.put("a.tm", b"KPL/MK\nchanged\n");
    let Conditional::Fetched(changed) =
        fetch_text(&cfg(), &site.url(&path), Some(&doc.validators)).unwrap()
    else {
        panic!("expected the new body");
    };
    assert_eq!(changed.bytes, b"KPL/MK\nchanged\n");
}

#[test]
fn fetch_text_retries_503_then_succeeds_and_follows_redirects() {
    let site = Site::new();
    let path = site.put("b.tm", b"KPL/MK\n");
    site.server.fault_first(&path, 2, Fault::Status(503));
    site.server
        .fault("/old/b.tm", Fault::Redirect(path.clone()));
    let Conditional::Fetched(doc) = fetch_text(&cfg(), &site.url("/old/b.tm"), None).unwrap()
    else {
        panic!("expected a body");
    };
    assert_eq!(doc.final_url, site.url(&path));
    assert_eq!(doc.bytes, b"KPL/MK\n");
    assert_eq!(site.server.hits(&path), 3);
}

#[test]
fn fetch_text_not_found_is_not_retried() {
    let site = Site::new();
    let err = fetch_text(&cfg(), &site.url("/k/missing.tm"), None).unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(!err.is_retryable());
    assert!(matches!(err, FetchError::NotFound { status: 404, .. }));
    assert_eq!(site.server.hits("/k/missing.tm"), 1);
    assert!(
        err.to_string()
            .contains(&format!("`{}`", site.url("/k/missing.tm"))),
        "{err}"
    );
}

// --- retries and status classification ----------------------------------------

#[test]
fn download_retries_503_twice_then_succeeds() {
    let site = Site::new();
    let bytes = spk_bytes(1, 20_000);
    let path = site.put("de.bsp", &bytes);
    site.server.fault_first(&path, 2, Fault::Status(503));
    let d = site.download_one(&cfg(), site.request(&path)).unwrap();
    assert_eq!(staged_bytes(&d), bytes);
    assert_eq!(d.staged.sha256(), &sha_of(&bytes));
    assert_eq!(site.server.hits(&path), 3);
    assert!(d.staged.path().starts_with(site.tmp()));
    assert!(
        site.partial_files().is_empty(),
        "{:?}",
        site.partial_files()
    );
}

#[test]
fn retryable_statuses_are_retried_until_attempts_run_out() {
    let site = Site::new();
    let path = site.put("de.bsp", &spk_bytes(2, 1000));
    for status in [408, 429, 500, 502] {
        site.server.reset_stats();
        site.server.fault_first(&path, 3, Fault::Status(status));
        let err = site.download_one(&cfg(), site.request(&path)).unwrap_err();
        assert!(
            matches!(err, FetchError::Http { status: s, .. } if s == status),
            "{err}"
        );
        assert!(err.is_retryable() && !err.is_not_found());
        assert_eq!(site.server.hits(&path), 3, "status {status}");
    }
    // 429 once: the next attempt succeeds.
    site.server.reset_stats();
    site.server.fault_first(&path, 1, Fault::Status(429));
    assert!(site.download_one(&cfg(), site.request(&path)).is_ok());
    assert_eq!(site.server.hits(&path), 2);
}

#[test]
fn client_errors_are_classified_and_not_retried() {
    let site = Site::new();
    let path = site.put("de.bsp", &spk_bytes(3, 1000));
    type Expected = fn(&FetchError) -> bool;
    let cases: [(u16, Expected); 4] = [
        (404, |e| {
            matches!(e, FetchError::NotFound { status: 404, .. })
        }),
        (410, |e| {
            matches!(e, FetchError::NotFound { status: 410, .. })
        }),
        (403, |e| matches!(e, FetchError::Forbidden { .. })),
        (400, |e| matches!(e, FetchError::Http { status: 400, .. })),
    ];
    for (status, expected) in cases {
        site.server.reset_stats();
        site.server.fault_first(&path, 1, Fault::Status(status));
        let err = site.download_one(&cfg(), site.request(&path)).unwrap_err();
        assert!(expected(&err), "{status}: {err:?}");
        assert!(!err.is_retryable());
        assert_eq!(err.is_not_found(), status == 404 || status == 410);
        assert_eq!(site.server.hits(&path), 1, "status {status} was retried");
    }
    assert!(site.partial_files().is_empty());
    assert!(temp_entries(&site.home()).is_empty());
}

#[test]
fn unreachable_server_is_reported_as_unreachable_not_missing() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = Url::parse(&format!("http://127.0.0.1:{port}/k/de.bsp")).unwrap();
    let home = tempfile::tempdir().unwrap();
    let request = DownloadRequest {
        url: url.clone(),
        name: "de.bsp".into(),
        expected_size: None,
        expected_sha256: None,
        size_hint: None,
    };
    let cfg = FetchConfig {
        attempts: 2,
        ..cfg()
    };
    let err = download_all(
        &cfg,
        &home.path().join("tmp"),
        &home.path().join("partial"),
        &[request],
        &NoProgress,
    )
    .pop()
    .unwrap()
    .unwrap_err();
    assert!(matches!(err, FetchError::Unreachable { .. }), "{err:?}");
    assert!(err.is_retryable() && !err.is_not_found());
    assert!(err.to_string().contains(url.as_str()), "{err}");
    let err = fetch_text(&cfg, &url, None).unwrap_err();
    assert!(matches!(err, FetchError::Unreachable { .. }), "{err:?}");
}

#[test]
fn stalled_socket_is_abandoned_with_a_timeout_naming_the_url() {
    let site = Site::new();
    let path = site.put("slow.bsp", &spk_bytes(4, 1000));
    let drip = Fault::Drip {
        chunk: 1,
        interval: Duration::from_secs(2),
    };
    site.server.fault(&path, drip);
    let cfg = FetchConfig {
        read_timeout: Duration::from_millis(300),
        attempts: 2,
        ..cfg()
    };
    let err = site.download_one(&cfg, site.request(&path)).unwrap_err();
    assert!(matches!(err, FetchError::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable() && !err.is_not_found());
    let message = err.to_string();
    assert!(message.starts_with("timed out"), "{message}");
    assert!(
        message.contains(&format!("`{}`", site.url(&path))),
        "{message}"
    );
    assert_eq!(site.server.hits(&path), 2);
    assert!(temp_entries(&site.home()).is_empty());

    let err = fetch_text(&cfg, &site.url(&path), None).unwrap_err();
    assert!(matches!(err, FetchError::Timeout { .. }), "{err:?}");
}

// --- resume -------------------------------------------------------------------

#[test]
fn truncated_transfer_resumes_with_range_and_if_range() {
    let site = Site::new();
    let bytes = spk_bytes(5, 300_000);
    let path = site.put("big.bsp", &bytes);
    site.server.fault_first(&path, 1, Fault::Truncate(100_000));
    let d = site.download_one(&cfg(), site.request(&path)).unwrap();
    assert_eq!(d.staged.sha256(), &sha_of(&bytes));
    assert_eq!(d.staged.len(), bytes.len() as u64);
    let requests = site.server.requests_to(&path);
    assert_eq!(requests.len(), 2);
    assert_eq!(range_of(&requests[0]), None);
    assert_eq!(range_of(&requests[1]).as_deref(), Some("bytes=100000-"));
    assert_eq!(requests[1].header("if-range"), d.validators.etag.as_deref());
    assert!(site.partial_files().is_empty());
}

#[test]
fn reset_mid_stream_resumes_and_the_hash_is_right() {
    let site = Site::new();
    let bytes = spk_bytes(6, 2_000_000);
    let path = site.put("reset.bsp", &bytes);
    site.server.fault_first(&path, 1, Fault::ResetAt(1_000_000));
    let d = site.download_one(&cfg(), site.request(&path)).unwrap();
    assert_eq!(d.staged.sha256(), &sha_of(&bytes));
    assert_eq!(staged_bytes(&d), bytes);
    let requests = site.server.requests_to(&path);
    assert_eq!(requests.len(), 2);
    // A reset may discard bytes the kernel had buffered; whatever arrived is
    // continued, never re-requested.
    if let Some(range) = range_of(&requests[1]) {
        let start: u64 = range["bytes=".len()..range.len() - 1].parse().unwrap();
        assert!(start > 0 && start <= 1_000_000, "{range}");
    }
}

#[test]
fn server_ignoring_range_restarts_cleanly_from_zero() {
    let site = Site::new();
    let bytes = spk_bytes(7, 300_000);
    let path = site.put("norange.bsp", &bytes);
    site.server.fault_first(&path, 1, Fault::Truncate(50_000));
    site.server.fault_first(&path, 1, Fault::IgnoreRange);
    let d = site.download_one(&cfg(), site.request(&path)).unwrap();
    assert_eq!(staged_bytes(&d), bytes);
    let requests = site.server.requests_to(&path);
    assert_eq!(requests.len(), 2);
    assert_eq!(range_of(&requests[1]).as_deref(), Some("bytes=50000-"));
}

#[test]
fn an_interrupted_run_leaves_a_partial_that_the_next_run_continues() {
    let site = Site::new();
    // Past the size from which transfers are made resumable across runs (1 MiB).
    let bytes = spk_bytes(8, 1_500_000);
    let path = site.put("later.bsp", &bytes);
    let url = site.url(&path);
    site.server.fault(&path, Fault::Truncate(1_200_000));
    let cfg = FetchConfig {
        attempts: 1,
        ..cfg()
    };
    let err = site.download_one(&cfg, site.request(&path)).unwrap_err();
    assert!(
        matches!(err, FetchError::Truncated { expected, got: 1_200_000, .. }
            if expected == bytes.len() as u64),
        "{err:?}"
    );
    let key = partial_key(&url);
    let partial = site.partial().join(&key);
    assert_eq!(fs::read(&partial).unwrap(), bytes[..1_200_000]);
    assert!(site.partial().join(format!("{key}.json")).is_file());
    assert!(temp_entries(&site.home()).is_empty());

    // A later run (a new runtime, a new client: as a new process would).
    site.server.faults().clear();
    site.server.reset_stats();
    let d = site.download_one(&cfg, site.request(&path)).unwrap();
    assert_eq!(staged_bytes(&d), bytes);
    let requests = site.server.requests_to(&path);
    assert_eq!(requests.len(), 1);
    assert_eq!(range_of(&requests[0]).as_deref(), Some("bytes=1200000-"));
    assert_eq!(requests[0].header("if-range"), d.validators.etag.as_deref());
    assert!(
        site.partial_files().is_empty(),
        "{:?}",
        site.partial_files()
    );
}

#[test]
fn a_partial_of_an_older_version_is_not_spliced_onto_the_new_one() {
    let site = Site::new();
    let old = spk_bytes(9, 1_500_000);
    let path = site.put("changing.bsp", &old);
    site.server.fault(&path, Fault::Truncate(1_200_000));
    let cfg = FetchConfig {
        attempts: 1,
        ..cfg()
    };
    assert!(site.download_one(&cfg, site.request(&path)).is_err());
    site.server.faults().clear();
    let new = spk_bytes(10, 1_500_000);
    site.put("changing.bsp", &new);
    site.server.reset_stats();
    let d = site.download_one(&cfg, site.request(&path)).unwrap();
    assert_eq!(staged_bytes(&d), new);
    // The stale ETag in If-Range made the server send the whole new file.
    let requests = site.server.requests_to(&path);
    assert_eq!(range_of(&requests[0]).as_deref(), Some("bytes=1200000-"));
}

#[test]
fn corrupt_partial_bytes_are_dropped_when_the_result_fails_its_checks() {
    let site = Site::new();
    let bytes = spk_bytes(11, 100_000);
    let path = site.put("corrupt.bsp", &bytes);
    let url = site.url(&path);
    let etag = http::get(url.as_str())
        .unwrap()
        .header("etag")
        .unwrap()
        .to_owned();
    // A partial whose sidecar vouches for the current ETag but whose bytes are
    // garbage (a disk that lost writes).
    let key = partial_key(&url);
    write(&site.partial().join(&key), &vec![0u8; 30_000]);
    let sidecar = serde_json::json!({
        "url": url.as_str(), "etag": etag, "last_modified": null, "size": 100_000
    });
    write(
        &site.partial().join(format!("{key}.json")),
        sidecar.to_string().as_bytes(),
    );
    site.server.reset_stats();
    let mut request = site.request(&path);
    request.expected_sha256 = Some(sha_of(&bytes));
    let d = site.download_one(&cfg(), request).unwrap();
    assert_eq!(staged_bytes(&d), bytes);
    let requests = site.server.requests_to(&path);
    assert_eq!(requests.len(), 2);
    assert_eq!(range_of(&requests[0]).as_deref(), Some("bytes=30000-"));
    assert_eq!(range_of(&requests[1]), None);
}

#[test]
fn a_symlink_planted_at_the_partial_path_is_never_written_through() {
    let site = Site::new();
    let bytes = spk_bytes(12, 50_000);
    let path = site.put("victim.bsp", &bytes);
    let victim = site.root.path().join("precious.bsp");
    write(&victim, b"precious bytes");
    let link = site.partial().join(partial_key(&site.url(&path)));
    crate::common::symlink(&victim, &link);
    let d = site.download_one(&cfg(), site.request(&path)).unwrap();
    assert_eq!(staged_bytes(&d), bytes);
    assert_eq!(fs::read(&victim).unwrap(), b"precious bytes");
}

#[test]
fn a_partial_locked_by_another_process_is_left_alone() {
    let site = Site::new();
    let bytes = spk_bytes(13, 50_000);
    let path = site.put("locked.bsp", &bytes);
    let partial = site.partial().join(partial_key(&site.url(&path)));
    write(&partial, b"another run's bytes");
    let holder = fs::OpenOptions::new().read(true).open(&partial).unwrap();
    holder.lock().unwrap();
    let d = site.download_one(&cfg(), site.request(&path)).unwrap();
    assert_eq!(staged_bytes(&d), bytes);
    assert_eq!(fs::read(&partial).unwrap(), b"another run's bytes");
    drop(d);
    assert!(temp_entries(&site.home()).is_empty());
    drop(holder);
}

// --- body checks ----------------------------------------------------------------

#[test]
fn truncated_bodies_fail_after_retries_and_leave_no_temp_file() {
    let site = Site::new();
    let path = site.put("short.bsp", &spk_bytes(14, 10_000));
    site.server.fault(&path, Fault::Truncate(3_000));
    let err = site.download_one(&cfg(), site.request(&path)).unwrap_err();
    assert!(matches!(err, FetchError::Truncated { .. }), "{err:?}");
    assert!(err.to_string().contains("truncated"), "{err}");
    assert_eq!(site.server.hits(&path), 3);
    assert!(temp_entries(&site.home()).is_empty());
    // Too short to be worth resuming in a later run: nothing is left.
    assert!(site.home_files().is_empty(), "{:?}", site.home_files());
}

#[test]
fn content_length_mismatches_are_caught() {
    let site = Site::new();
    let bytes = spk_bytes(15, 10_000);
    let path = site.put("cl.bsp", &bytes);
    // Content-Length larger than the body.
    site.server.fault(&path, Fault::WrongLength(100));
    let err = site.download_one(&cfg(), site.request(&path)).unwrap_err();
    assert!(
        matches!(err, FetchError::Truncated { expected, .. } if expected == bytes.len() as u64 + 100),
        "{err:?}"
    );
    // Content-Length smaller than the body: only the expected size reveals it.
    site.server.faults().clear();
    site.server.fault(&path, Fault::WrongLength(-100));
    let mut request = site.request(&path);
    request.expected_size = Some(bytes.len() as u64);
    let err = site.download_one(&cfg(), request.clone()).unwrap_err();
    assert!(
        matches!(err, FetchError::Truncated { expected, got, .. }
            if expected == bytes.len() as u64 && got == expected - 100),
        "{err:?}"
    );
    // Once only: the missing tail is fetched with a range.
    site.server.faults().clear();
    fs::remove_dir_all(site.partial()).unwrap();
    site.server.fault_first(&path, 1, Fault::WrongLength(-100));
    let d = site.download_one(&cfg(), request).unwrap();
    assert_eq!(staged_bytes(&d), bytes);
}

#[test]
fn empty_html_and_lfs_bodies_are_not_kernels() {
    let site = Site::new();
    let path = site.put("x.bsp", &spk_bytes(16, 1000));
    site.server.fault_first(&path, 1, Fault::Empty);
    let err = site.download_one(&cfg(), site.request(&path)).unwrap_err();
    assert!(matches!(err, FetchError::Empty { .. }), "{err:?}");

    let html = b"<!DOCTYPE html><html><body><h1>Service maintenance</h1></body></html>".to_vec();
    site.server.fault_first(&path, 1, Fault::Body(html));
    let err = site.download_one(&cfg(), site.request(&path)).unwrap_err();
    assert!(matches!(err, FetchError::NotAKernel { .. }), "{err:?}");
    assert!(err.to_string().contains("not a kernel"), "{err}");

    let lfs = b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 1000\n".to_vec();
    site.server.fault_first(&path, 1, Fault::Body(lfs));
    let err = site.download_one(&cfg(), site.request(&path)).unwrap_err();
    assert!(matches!(err, FetchError::NotAKernel { reason, .. } if reason.contains("LFS")));

    // None of them was retried, and nothing is left behind.
    assert_eq!(site.server.hits(&path), 3);
    assert!(site.home_files().is_empty(), "{:?}", site.home_files());
}

#[test]
fn expected_size_and_hash_are_checked() {
    let site = Site::new();
    let bytes = spk_bytes(17, 5000);
    let path = site.put("check.bsp", &bytes);
    let mut request = site.request(&path);
    request.expected_sha256 = Some(sha_of(b"something else"));
    let err = site.download_one(&cfg(), request).unwrap_err();
    assert!(matches!(err, FetchError::HashMismatch { .. }), "{err:?}");
    assert_eq!(site.server.hits(&path), 1);

    let mut request = site.request(&path);
    request.expected_size = Some(bytes.len() as u64 - 1);
    let err = site.download_one(&cfg(), request).unwrap_err();
    assert!(matches!(err, FetchError::TooLong { .. }), "{err:?}");
    assert!(site.home_files().is_empty(), "{:?}", site.home_files());

    let mut request = site.request(&path);
    request.expected_size = Some(bytes.len() as u64);
    request.expected_sha256 = Some(sha_of(&bytes));
    assert!(site.download_one(&cfg(), request).is_ok());
}

// --- redirects ------------------------------------------------------------------

#[test]
fn redirects_are_followed_and_the_final_url_recorded() {
    let site = Site::new();
    let bytes = spk_bytes(18, 1000);
    let path = site.put("moved.bsp", &bytes);
    for i in 1..5 {
        site.server
            .fault(&format!("/r{i}"), Fault::Redirect(format!("/r{}", i + 1)));
    }
    site.server
        .fault("/r5", Fault::Redirect(site.server.url(&path)));
    let mut request = site.request("/r1");
    request.name = "moved.bsp".into();
    let d = site.download_one(&cfg(), request).unwrap();
    assert_eq!(d.final_url, site.url(&path));
    assert_eq!(staged_bytes(&d), bytes);
}

#[test]
fn redirect_loops_and_chains_past_the_limit_fail() {
    let site = Site::new();
    site.server.fault("/loop", Fault::Redirect("/loop".into()));
    let mut request = site.request("/loop");
    request.name = "loop.bsp".into();
    let err = site.download_one(&cfg(), request).unwrap_err();
    assert!(matches!(err, FetchError::RedirectLoop { .. }), "{err:?}");

    let path = site.put("far.bsp", &spk_bytes(19, 1000));
    for i in 1..6 {
        site.server
            .fault(&format!("/c{i}"), Fault::Redirect(format!("/c{}", i + 1)));
    }
    site.server.fault("/c6", Fault::Redirect(path.clone()));
    let mut request = site.request("/c1");
    request.name = "far.bsp".into();
    let err = site.download_one(&cfg(), request.clone()).unwrap_err();
    assert!(
        matches!(err, FetchError::RedirectLoop { max: 5, .. }),
        "{err:?}"
    );
    assert_eq!(site.server.hits(&path), 0);
    let six = FetchConfig {
        max_redirects: 6,
        ..cfg()
    };
    assert!(site.download_one(&six, request).is_ok());
}

#[test]
fn redirect_to_another_host_is_refused_before_any_request_to_it() {
    let site = Site::new();
    let path = site.put("here.bsp", &spk_bytes(20, 1000));
    // Same server, other host name: the request must not be made.
    let elsewhere = format!("http://localhost:{}{path}", site.server.addr().port());
    site.server
        .fault("/k/away.bsp", Fault::Redirect(elsewhere.clone()));
    let err = site
        .download_one(&cfg(), site.request("/k/away.bsp"))
        .unwrap_err();
    match &err {
        FetchError::RedirectRefused { from, to } => {
            assert_eq!(**from, site.url("/k/away.bsp"));
            assert_eq!(to.as_str(), elsewhere);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(site.server.hits(&path), 0);
    let err = fetch_text(&cfg(), &site.url("/k/away.bsp"), None).unwrap_err();
    assert!(matches!(err, FetchError::RedirectRefused { .. }), "{err:?}");
    assert!(site.home_files().is_empty());
}

// --- batches ------------------------------------------------------------------------

#[test]
fn the_same_url_twice_is_fetched_once_and_delivered_twice() {
    let site = Site::new();
    let bytes = spk_bytes(21, 40_000);
    let path = site.put("twice.bsp", &bytes);
    let other = site.put("other.bsp", &spk_bytes(22, 1000));
    let requests = [
        site.request(&path),
        site.request(&other),
        site.request(&path),
    ];
    let results = site.download(&cfg(), &requests);
    assert_eq!(site.server.hits(&path), 1);
    let got: Vec<&Downloaded> = results.iter().map(|r| r.as_ref().unwrap()).collect();
    assert_eq!(
        got.iter().map(|d| d.request_index).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_ne!(got[0].staged.path(), got[2].staged.path());
    assert_eq!(staged_bytes(got[0]), bytes);
    assert_eq!(staged_bytes(got[2]), bytes);
    assert_eq!(got[0].staged.sha256(), got[2].staged.sha256());
}

#[test]
fn per_host_concurrency_is_bounded() {
    let site = Site::new();
    let mut requests = Vec::new();
    for i in 0..12 {
        let path = site.put(&format!("k{i}.bsp"), &spk_bytes(100 + i, 4000));
        // Slow enough that unbounded transfers would overlap.
        site.server.fault(
            &path,
            Fault::Drip {
                chunk: 2048,
                interval: Duration::from_millis(20),
            },
        );
        requests.push(site.request(&path));
    }
    let cfg = FetchConfig {
        jobs_per_host: 3,
        ..cfg()
    };
    let results = site.download(&cfg, &requests);
    assert!(results.iter().all(Result::is_ok));
    assert!(
        site.server.max_in_flight() <= 3,
        "{} transfers at once",
        site.server.max_in_flight()
    );
    // Connections are reused: fewer connections than requests.
    let connections: std::collections::BTreeSet<u64> = site
        .server
        .requests()
        .iter()
        .map(|r| r.connection)
        .collect();
    assert!(connections.len() < requests.len(), "{connections:?}");
}

#[derive(Default)]
struct Recorder {
    total: Mutex<Option<(u64, u64)>>,
    bytes: Mutex<u64>,
    done: Mutex<u64>,
}

impl Progress for Recorder {
    fn total(&self, files: u64, bytes: u64) {
        *self.total.lock().unwrap() = Some((files, bytes));
    }
    fn bytes(&self, n: u64) {
        *self.bytes.lock().unwrap() += n;
    }
    fn file_done(&self) {
        *self.done.lock().unwrap() += 1;
    }
}

#[test]
fn progress_counts_files_and_each_byte_once() {
    let site = Site::new();
    let a = spk_bytes(23, 100_000);
    let b = text_kernel(1);
    let pa = site.put("a.bsp", &a);
    let pb = site.put("b.tls", &b);
    site.server.fault_first(&pa, 1, Fault::Truncate(30_000));
    site.server.fault_first(&pa, 1, Fault::IgnoreRange);
    let mut ra = site.request(&pa);
    ra.expected_size = Some(a.len() as u64);
    let requests = [ra, site.request(&pb), site.request("/k/missing.bsp")];
    let recorder = Recorder::default();
    let results = download_all(&cfg(), &site.tmp(), &site.partial(), &requests, &recorder);
    assert!(results[0].is_ok() && results[1].is_ok() && results[2].is_err());
    assert_eq!(*recorder.total.lock().unwrap(), Some((3, a.len() as u64)));
    assert_eq!(*recorder.bytes.lock().unwrap(), (a.len() + b.len()) as u64);
    assert_eq!(*recorder.done.lock().unwrap(), 3);
}

// --- file:// ------------------------------------------------------------------------

#[test]
fn file_urls_work_for_documents_listings_and_kernels() {
    let site = Site::new();
    let bytes = spk_bytes(24, 30_000);
    site.put("mirror.bsp", &bytes);
    site.put("a b.tls", &text_kernel(2));
    let dir = site.root.path().join("www/k");
    let file_url = |name: &str| Url::from_file_path(dir.join(name)).unwrap();

    let results = site.download(
        &cfg(),
        &[
            DownloadRequest {
                url: file_url("mirror.bsp"),
                name: "mirror.bsp".into(),
                expected_size: Some(bytes.len() as u64),
                expected_sha256: Some(sha_of(&bytes)),
                size_hint: None,
            },
            DownloadRequest {
                url: file_url("gone.bsp"),
                name: "gone.bsp".into(),
                expected_size: None,
                expected_sha256: None,
                size_hint: None,
            },
        ],
    );
    let d = results[0].as_ref().unwrap();
    assert_eq!(staged_bytes(d), bytes);
    assert!(d.staged.path().starts_with(site.tmp()));
    assert!(d.validators.etag.is_some());
    let err = results[1].as_ref().unwrap_err();
    assert!(err.is_not_found(), "{err:?}");

    let Conditional::Fetched(doc) = fetch_text(&cfg(), &file_url("a b.tls"), None).unwrap() else {
        panic!("expected a body");
    };
    assert_eq!(doc.bytes, text_kernel(2));
    let again = fetch_text(&cfg(), &file_url("a b.tls"), Some(&doc.validators)).unwrap();
    assert!(matches!(again, Conditional::NotModified));

    let dir_url = Url::from_directory_path(&dir).unwrap();
    let Conditional::Fetched(page) = fetch_text(&cfg(), &dir_url, None).unwrap() else {
        panic!("expected a listing");
    };
    let listing = kdb::remote::listing::parse_listing(&String::from_utf8(page.bytes).unwrap());
    let mirror = listing.get("mirror.bsp").expect("mirror.bsp listed");
    assert_eq!(
        mirror.size,
        Some(kdb::remote::listing::Size::Exact(bytes.len() as u64))
    );
    assert!(listing.get("a b.tls").is_some());

    let err = fetch_text(&cfg(), &file_url("nope.tm"), None).unwrap_err();
    assert!(err.is_not_found());
}

#[test]
fn file_url_serving_an_html_page_as_a_kernel_is_refused() {
    let site = Site::new();
    site.put("page.bsp", b"<html><body>moved</body></html>");
    let url = Url::from_file_path(site.root.path().join("www/k/page.bsp")).unwrap();
    let err = site
        .download_one(
            &cfg(),
            DownloadRequest {
                url,
                name: "page.bsp".into(),
                expected_size: None,
                expected_sha256: None,
                size_hint: None,
            },
        )
        .unwrap_err();
    assert!(matches!(err, FetchError::NotAKernel { .. }), "{err:?}");
    assert!(site.home_files().is_empty(), "{:?}", site.home_files());
}

#[test]
fn unsupported_schemes_are_refused() {
    let url = Url::parse("ftp://naif.jpl.nasa.gov/pub/naif/x.bsp").unwrap();
    let err = fetch_text(&cfg(), &url, None).unwrap_err();
    assert!(matches!(err, FetchError::Unsupported { .. }), "{err:?}");
    let validators = Validators::default();
    assert!(fetch_text(&cfg(), &url, Some(&validators)).is_err());
}

#[test]
fn downloads_write_only_into_tmp_and_partial_dirs() {
    let site = Site::new();
    let good = site.put("good.bsp", &spk_bytes(25, 20_000));
    let short = site.put("short.bsp", &spk_bytes(26, 20_000));
    site.server.fault(&short, Fault::Truncate(5_000));
    let before = crate::common::snapshot(site.root.path());
    let results = site.download(&cfg(), &[site.request(&good), site.request(&short)]);
    assert!(results[0].is_ok() && results[1].is_err());
    let after = crate::common::snapshot(site.root.path());
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        assert!(
            path.starts_with(site.tmp()),
            "`{}` written outside tmp/",
            path.display()
        );
    }
    for (path, state) in &before {
        assert_eq!(after.get(path), Some(state), "`{}` changed", path.display());
    }
    drop(results);
    // Dropping the results removes the staged files: nothing but the partial.
    assert_eq!(site.home_files(), site.partial_files());
}

#[test]
fn connect_timeout_is_a_timeout_not_unreachable() {
    // A listener that never accepts: once its accept queue is full, Linux drops
    // further SYNs, so a new connection hangs in the handshake.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    let mut full = false;
    for _ in 0..8192 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(stream) => held.push(stream),
            Err(e) => {
                full = e.kind() == std::io::ErrorKind::TimedOut;
                break;
            }
        }
    }
    if !full {
        eprintln!("SKIP: could not fill the accept queue (file descriptor limit?)");
        return;
    }
    let url = Url::parse(&format!("http://{addr}/k/de.bsp")).unwrap();
    let cfg = FetchConfig {
        connect_timeout: Duration::from_millis(300),
        attempts: 1,
        ..cfg()
    };
    let err = fetch_text(&cfg, &url, None).unwrap_err();
    assert!(
        matches!(
            err,
            FetchError::Timeout {
                phase: "connecting to",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable() && !err.is_not_found());
    drop((held, listener));
}
