//! An in-process HTTP/1.1 server for tests, with per-path fault injection, and
//! a minimal blocking HTTP client to talk to it (or to Apache).
//!
//! [`HttpServer::start`] binds `127.0.0.1:0` and serves a directory tree from
//! plain std threads (one per connection, keep-alive supported). Files get
//! `Content-Length`, `ETag`, `Last-Modified` and `Accept-Ranges`; the server
//! honours `If-None-Match`, `If-Modified-Since`, `Range: bytes=N-` / `N-M`
//! (with `If-Range`) and `HEAD`. Directories get a listing page in Apache 2.4
//! FancyIndexing `<pre>` format (icons, `NameWidth` 23 with `..>` truncation,
//! `apr_strfsize` sizes, dates in UTC) and a request for a directory without
//! its trailing slash is redirected to it, as `mod_dir` does.
//!
//! Deviations from Apache, on purpose: the `ETag` is derived from the file's
//! *content* (and size), not inode+mtime, so a test that rewrites a file of the
//! same size within one mtime tick still sees a new validator; listing dates are
//! UTC rather than server-local time.
//!
//! Every request is recorded ([`RecordedRequest`]), and the server counts
//! requests being served at once ([`HttpServer::max_in_flight`]) and open
//! connections ([`HttpServer::max_connections`]).
//!
//! Faults ([`Fault`]) are keyed by exact request path (as sent, or
//! percent-decoded) and queued: each rule applies to the next `n` requests of
//! its path (or forever), then the next rule or normal service takes over. So
//! "503 twice, then a truncated body once, then normal" is three calls.
//!
//! [`HttpServer::require_basic_auth`] makes every request need HTTP Basic auth
//! (others get `401` with a challenge).
//!
//! Dropping the server stops it: the accept loop ends, every open connection is
//! shut down and every worker thread is joined.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::fs;
use std::hash::{DefaultHasher, Hasher};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime};

/// Something to do instead of (or to) the normal response for a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and a small HTML body. 429 and 503 carry
    /// `Retry-After: 0`.
    Status(u16),
    /// Send the normal headers (full `Content-Length`), then only the first
    /// `n` body bytes, then close the connection.
    Truncate(usize),
    /// Send the full body with `Content-Length` off by `delta`, then close.
    WrongLength(i64),
    /// Send the headers and the first `n` body bytes, then reset the
    /// connection: the client sees `ECONNRESET`, possibly before reading all
    /// `n` bytes (a plain close instead in the rare case where the request
    /// head arrived in several segments, see `read_head`).
    ResetAt(usize),
    /// Answer `200` with the full body even to a `Range` request.
    IgnoreRange,
    /// Send the headers, then the body `chunk` bytes at a time, sleeping
    /// `interval` before each chunk.
    Drip { chunk: usize, interval: Duration },
    /// `302 Found` to this `Location` (absolute URL or path).
    Redirect(String),
    /// `200` with these bytes instead of the file.
    Body(Vec<u8>),
    /// `200` with an empty body.
    Empty,
    /// Say nothing for this long (or until the server stops), then answer
    /// normally: a server that accepted the connection but hangs.
    Stall(Duration),
    /// Honour `Range`, but move the `Content-Range` offsets by this many bytes
    /// (the body is the bytes asked): a server that lies about what it sent.
    ShiftContentRange(i64),
    /// Honour `Range`, but claim this total size in `Content-Range`.
    ContentRangeTotal(u64),
    /// This status, headers and body (internal: the auth challenge).
    Reply(u16, Vec<(String, String)>, Vec<u8>),
    /// Hold the answer until every request of the gate has arrived (then answer
    /// normally): a server that answers only requests sent together.
    Together(Gate),
}

/// Requests that wait for each other ([`Fault::Together`]): each is held until
/// `expected` requests through the gate have arrived. One that waited past the
/// limit is answered normally and counted ([`Gate::late`]), so a client that sends
/// the requests one at a time fails its test instead of hanging it.
#[derive(Debug, Clone)]
pub struct Gate(Arc<GateState>);

#[derive(Debug)]
struct GateState {
    expected: usize,
    limit: Duration,
    arrived: Mutex<usize>,
    all_in: std::sync::Condvar,
    late: AtomicUsize,
}

impl PartialEq for Gate {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Gate {}

impl Gate {
    pub fn new(expected: usize, limit: Duration) -> Gate {
        Gate(Arc::new(GateState {
            expected,
            limit,
            arrived: Mutex::new(0),
            all_in: std::sync::Condvar::new(),
            late: AtomicUsize::new(0),
        }))
    }

    /// Requests that arrived through the gate.
    pub fn arrived(&self) -> usize {
        *lock(&self.0.arrived)
    }

    /// Requests that waited past the limit for the others.
    pub fn late(&self) -> usize {
        self.0.late.load(Ordering::SeqCst)
    }

    fn pass(&self) {
        let g = &self.0;
        let mut n = lock(&g.arrived);
        *n += 1;
        g.all_in.notify_all();
        let (_n, wait) = g
            .all_in
            .wait_timeout_while(n, g.limit, |n| *n < g.expected)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if wait.timed_out() {
            g.late.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[derive(Debug)]
struct Rule {
    fault: Fault,
    /// Requests this rule still applies to; `None` is forever.
    remaining: Option<usize>,
}

/// A shared, cloneable handle on a server's fault table.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    rules: Arc<Mutex<HashMap<String, VecDeque<Rule>>>>,
}

impl Faults {
    /// Applies `fault` to every later request of `path` (after any rules
    /// already queued for it run out).
    pub fn always(&self, path: &str, fault: Fault) {
        self.push(path, fault, None);
    }

    /// Applies `fault` to the next `n` requests of `path` (after any rules
    /// already queued for it run out).
    pub fn first(&self, path: &str, n: usize, fault: Fault) {
        self.push(path, fault, Some(n));
    }

    /// Removes every rule of `path`.
    pub fn clear_path(&self, path: &str) {
        lock(&self.rules).remove(path);
    }

    /// Removes every rule.
    pub fn clear(&self) {
        lock(&self.rules).clear();
    }

    fn push(&self, path: &str, fault: Fault, remaining: Option<usize>) {
        if remaining == Some(0) {
            return;
        }
        lock(&self.rules)
            .entry(path.to_owned())
            .or_default()
            .push_back(Rule { fault, remaining });
    }

    /// The fault for this request, consuming one use of its rule.
    fn take(&self, raw_path: &str, decoded_path: &str) -> Option<Fault> {
        let mut rules = lock(&self.rules);
        let key = [raw_path, decoded_path]
            .into_iter()
            .find(|k| rules.contains_key(*k))?
            .to_owned();
        let queue = rules.get_mut(&key)?;
        let rule = queue.front_mut()?;
        let fault = rule.fault.clone();
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
            if *n == 0 {
                queue.pop_front();
            }
        }
        if queue.is_empty() {
            rules.remove(&key);
        }
        Some(fault)
    }
}

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target as sent, including any query string.
    pub target: String,
    /// The target's path, still percent-encoded, without the query.
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// Which connection carried it (counting from 0), to observe keep-alive.
    pub connection: u64,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }
}

struct Shared {
    doc_root: PathBuf,
    faults: Faults,
    log: Mutex<Vec<RecordedRequest>>,
    stopping: AtomicBool,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    connections: AtomicUsize,
    max_connections: AtomicUsize,
    next_connection: AtomicU64,
    /// Response body bytes written (never headers).
    body_bytes: AtomicU64,
    /// The same, per request path (as sent).
    body_bytes_by_path: Mutex<HashMap<String, u64>>,
    open: Mutex<HashMap<u64, TcpStream>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    /// The `Authorization` value every request must carry (`None`: no auth).
    auth: Mutex<Option<String>>,
}

/// The in-process test server; see the module docs.
pub struct HttpServer {
    addr: SocketAddr,
    base_url: String,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Serves `doc_root` on `127.0.0.1:<free port>`. Panics if it cannot bind.
    pub fn start(doc_root: &Path) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr of test server");
        let shared = Arc::new(Shared {
            doc_root: doc_root.to_path_buf(),
            faults: Faults::default(),
            log: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            max_connections: AtomicUsize::new(0),
            next_connection: AtomicU64::new(0),
            body_bytes: AtomicU64::new(0),
            body_bytes_by_path: Mutex::new(HashMap::new()),
            open: Mutex::new(HashMap::new()),
            workers: Mutex::new(Vec::new()),
            auth: Mutex::new(None),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("test-http-accept".into())
                .spawn(move || accept_loop(&listener, &shared))
                .expect("spawn accept thread")
        };
        HttpServer {
            addr,
            base_url: format!("http://{addr}"),
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The URL of `path` (already percent-encoded as needed; a missing
    /// leading `/` is added).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.base_url)
        } else {
            format!("{}/{path}", self.base_url)
        }
    }

    pub fn doc_root(&self) -> &Path {
        &self.shared.doc_root
    }

    /// A handle on the fault table that can be kept or sent to other threads.
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// Shorthand for `faults().always(path, fault)`.
    pub fn fault(&self, path: &str, fault: Fault) {
        self.shared.faults.always(path, fault);
    }

    /// Shorthand for `faults().first(path, n, fault)`.
    pub fn fault_first(&self, path: &str, n: usize, fault: Fault) {
        self.shared.faults.first(path, n, fault);
    }

    /// From now on every request must carry HTTP Basic auth for `user:password`;
    /// others get `401` with a `WWW-Authenticate` challenge.
    pub fn require_basic_auth(&self, user: &str, password: &str) {
        *lock(&self.shared.auth) = Some(format!(
            "Basic {}",
            base64(format!("{user}:{password}").as_bytes())
        ));
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log).clone()
    }

    /// The requests whose path (as sent or decoded) is `path`.
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        lock(&self.shared.log)
            .iter()
            .filter(|r| r.path == path || decode_path(&r.path).as_deref() == Some(path))
            .cloned()
            .collect()
    }

    /// How many requests `path` received.
    pub fn hits(&self, path: &str) -> usize {
        self.requests_to(path).len()
    }

    /// Requests being answered right now.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// The most requests that were being answered at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// The most connections that were open at the same time (idle keep-alive
    /// connections count).
    pub fn max_connections(&self) -> usize {
        self.shared.max_connections.load(Ordering::SeqCst)
    }

    /// Response body bytes sent so far (headers not counted).
    /// Response body bytes written for requests of `path` (as sent, no query).
    pub fn body_bytes_sent_to(&self, path: &str) -> u64 {
        lock(&self.shared.body_bytes_by_path)
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn body_bytes_sent(&self) -> u64 {
        self.shared.body_bytes.load(Ordering::SeqCst)
    }

    /// Forgets recorded requests and resets the concurrency maxima.
    pub fn reset_stats(&self) {
        lock(&self.shared.log).clear();
        lock(&self.shared.body_bytes_by_path).clear();
        self.shared.max_in_flight.store(
            self.shared.in_flight.load(Ordering::SeqCst),
            Ordering::SeqCst,
        );
        self.shared.max_connections.store(
            self.shared.connections.load(Ordering::SeqCst),
            Ordering::SeqCst,
        );
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept so it sees the flag.
        let _wake = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _joined = acceptor.join();
        }
        for stream in lock(&self.shared.open).values() {
            let _closed = stream.shutdown(Shutdown::Both);
        }
        let workers = std::mem::take(&mut *lock(&self.shared.workers));
        for worker in workers {
            let _joined = worker.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the server's state from others.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        // Headers and body are two writes: without this, Nagle holds the body back
        // until the client acknowledges the headers.
        let _ = stream.set_nodelay(true);
        let id = shared.next_connection.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.open).insert(id, clone);
        }
        let worker = {
            let shared = Arc::clone(shared);
            thread::Builder::new()
                .name(format!("test-http-conn-{id}"))
                .spawn(move || {
                    let open = shared.connections.fetch_add(1, Ordering::SeqCst) + 1;
                    shared.max_connections.fetch_max(open, Ordering::SeqCst);
                    let _ended = serve_connection(stream, id, &shared);
                    shared.connections.fetch_sub(1, Ordering::SeqCst);
                    lock(&shared.open).remove(&id);
                })
        };
        match worker {
            Ok(handle) => lock(&shared.workers).push(handle),
            Err(_) => {
                lock(&shared.open).remove(&id);
            }
        }
    }
}

struct Head {
    method: String,
    target: String,
    version: String,
    headers: Vec<(String, String)>,
}

const MAX_HEAD: usize = 64 * 1024;

/// Reads one request head. It is first *peeked*, so that a [`Fault::ResetAt`]
/// can leave it unread in the kernel buffer: closing a socket with unread
/// input makes Linux send RST instead of FIN, a real reset without
/// `SO_LINGER` (unstable in std). Returns the head and how many bytes of it are
/// still unconsumed, or `None` at a clean end of stream.
fn read_head(stream: &mut TcpStream) -> io::Result<Option<(Vec<u8>, usize)>> {
    let mut buf = vec![0u8; MAX_HEAD];
    let n = stream.peek(&mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if let Some(end) = find(&buf[..n], b"\r\n\r\n") {
        buf.truncate(end + 4);
        let len = buf.len();
        return Ok(Some((buf, len)));
    }
    // The head came in pieces: consume what is there, then byte by byte so
    // that nothing after the head (a pipelined request) is swallowed.
    let mut head = vec![0u8; n];
    stream.read_exact(&mut head)?;
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
        }
        match stream.read(&mut byte)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            _ => head.push(byte[0]),
        }
    }
    Ok(Some((head, 0)))
}

fn parse_head(bytes: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let target = request_line.next()?.to_owned();
    let version = request_line.next()?.to_owned();
    if method.is_empty() || !target.starts_with('/') || !version.starts_with("HTTP/1.") {
        return None;
    }
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Some(Head {
        method,
        target,
        version,
        headers,
    })
}

fn serve_connection(mut stream: TcpStream, id: u64, shared: &Shared) -> io::Result<()> {
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return Ok(());
        }
        let Some((bytes, unconsumed)) = read_head(&mut stream)? else {
            return Ok(());
        };
        let Some(head) = parse_head(&bytes) else {
            if unconsumed > 0 {
                stream.read_exact(&mut vec![0u8; unconsumed])?;
            }
            let reply = Reply::status_page(400);
            send(&mut stream, &reply, false, Delivery::Normal, shared)?;
            return Ok(());
        };
        let path = head
            .target
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .to_owned();
        lock(&shared.log).push(RecordedRequest {
            method: head.method.clone(),
            target: head.target.clone(),
            path: path.clone(),
            headers: head.headers.clone(),
            connection: id,
        });
        let in_flight = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(in_flight, Ordering::SeqCst);
        RELEASED.with(|r| r.set(false));
        let result = answer(&mut stream, &head, &path, unconsumed, shared);
        if !RELEASED.with(|r| r.replace(false)) {
            shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        if !result? {
            return Ok(());
        }
    }
}

/// Answers one request; `Ok(false)` when the connection must close.
fn answer(
    stream: &mut TcpStream,
    head: &Head,
    path: &str,
    unconsumed: usize,
    shared: &Shared,
) -> io::Result<bool> {
    let decoded = decode_path(path);
    let required = lock(&shared.auth).clone();
    let fault = match required {
        Some(value) if header_value(&head.headers, "authorization") != Some(value.as_str()) => {
            let mut reply = Reply::status_page(401);
            reply.headers.push((
                "WWW-Authenticate".into(),
                "Basic realm=\"kdb-tests\"".into(),
            ));
            Some(Fault::Reply(reply.status, reply.headers, reply.body))
        }
        _ => shared.faults.take(path, decoded.as_deref().unwrap_or(path)),
    };

    if let Some(Fault::ResetAt(n)) = fault {
        // Leave the request unread so that dropping the socket sends RST.
        let reply = normal_reply(head, path, decoded.as_deref(), shared, true);
        return send(stream, &reply, is_head(head), Delivery::Reset(n), shared).map(|()| false);
    }
    if unconsumed > 0 {
        stream.read_exact(&mut vec![0u8; unconsumed])?;
    }
    let body_len: usize = header_value(&head.headers, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if body_len > 0 {
        io::copy(
            &mut Read::by_ref(stream).take(body_len as u64),
            &mut io::sink(),
        )?;
    }
    let keep_alive = head.version == "HTTP/1.1"
        && !header_value(&head.headers, "connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));

    if let Some(Fault::Stall(d)) = &fault
        && !pause(*d, &shared.stopping)
    {
        return Ok(false);
    }
    if let Some(Fault::Together(gate)) = &fault {
        gate.pass();
    }
    let (reply, delivery) = match fault {
        None | Some(Fault::Stall(_)) | Some(Fault::Together(_)) => (
            normal_reply(head, path, decoded.as_deref(), shared, true),
            Delivery::Normal,
        ),
        Some(Fault::Status(code)) => (Reply::status_page(code), Delivery::Normal),
        Some(Fault::Redirect(location)) => {
            let mut reply = Reply::status_page(302);
            reply.headers.push(("Location".into(), location));
            (reply, Delivery::Normal)
        }
        Some(Fault::Body(bytes)) => (Reply::ok_bytes(bytes), Delivery::Normal),
        Some(Fault::Reply(status, headers, body)) => (
            Reply {
                status,
                headers,
                body,
            },
            Delivery::Normal,
        ),
        Some(Fault::Empty) => (Reply::ok_bytes(Vec::new()), Delivery::Normal),
        Some(Fault::IgnoreRange) => (
            normal_reply(head, path, decoded.as_deref(), shared, false),
            Delivery::Normal,
        ),
        Some(Fault::Truncate(n)) => (
            normal_reply(head, path, decoded.as_deref(), shared, true),
            Delivery::Truncate(n),
        ),
        Some(Fault::WrongLength(delta)) => (
            normal_reply(head, path, decoded.as_deref(), shared, true),
            Delivery::WrongLength(delta),
        ),
        Some(Fault::Drip { chunk, interval }) => (
            normal_reply(head, path, decoded.as_deref(), shared, true),
            Delivery::Drip { chunk, interval },
        ),
        Some(Fault::ShiftContentRange(shift)) => {
            let mut reply = normal_reply(head, path, decoded.as_deref(), shared, true);
            lie_content_range(&mut reply, |s, e, t| {
                (
                    s.saturating_add_signed(shift),
                    e.saturating_add_signed(shift),
                    t,
                )
            });
            (reply, Delivery::Normal)
        }
        Some(Fault::ContentRangeTotal(total)) => {
            let mut reply = normal_reply(head, path, decoded.as_deref(), shared, true);
            lie_content_range(&mut reply, |s, e, _| (s, e, total));
            (reply, Delivery::Normal)
        }
        Some(Fault::ResetAt(_)) => unreachable!("handled above"),
    };
    let keep_alive = keep_alive && matches!(delivery, Delivery::Normal | Delivery::Drip { .. });
    let result = send(stream, &reply, is_head(head), delivery, shared);
    let sent = LAST_SENT.with(std::cell::Cell::take);
    *lock(&shared.body_bytes_by_path)
        .entry(path.to_owned())
        .or_default() += sent;
    result?;
    Ok(keep_alive)
}

/// Rewrites a `206`'s `Content-Range: bytes S-E/T` through `f`.
fn lie_content_range(reply: &mut Reply, f: impl Fn(u64, u64, u64) -> (u64, u64, u64)) {
    for (name, value) in &mut reply.headers {
        if name.eq_ignore_ascii_case("content-range")
            && let Some((range, total)) = value.trim_start_matches("bytes ").split_once('/')
            && let Some((s, e)) = range.split_once('-')
            && let (Ok(s), Ok(e), Ok(t)) = (s.parse(), e.parse(), total.parse())
        {
            let (s, e, t) = f(s, e, t);
            *value = format!("bytes {s}-{e}/{t}");
        }
    }
}

fn is_head(head: &Head) -> bool {
    head.method == "HEAD"
}

#[derive(Debug, Clone, Copy)]
enum Delivery {
    Normal,
    Truncate(usize),
    WrongLength(i64),
    Reset(usize),
    Drip { chunk: usize, interval: Duration },
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn status_page(status: u16) -> Reply {
        let reason = reason(status);
        let body = format!(
            "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>{status} {reason}</title>\n</head><body>\n<h1>{reason}</h1>\n</body></html>\n"
        )
        .into_bytes();
        let mut headers = vec![(
            "Content-Type".to_owned(),
            "text/html; charset=iso-8859-1".to_owned(),
        )];
        if status == 429 || status == 503 {
            headers.push(("Retry-After".into(), "0".into()));
        }
        Reply {
            status,
            headers,
            body,
        }
    }

    fn ok_bytes(body: Vec<u8>) -> Reply {
        let looks_html = body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b == b'<');
        let content_type = if looks_html {
            "text/html; charset=UTF-8"
        } else {
            "application/octet-stream"
        };
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
        }
    }
}

/// The response the server gives without faults (`honour_range == false` is
/// [`Fault::IgnoreRange`]).
fn normal_reply(
    head: &Head,
    raw_path: &str,
    decoded: Option<&str>,
    shared: &Shared,
    honour_range: bool,
) -> Reply {
    if head.method != "GET" && head.method != "HEAD" {
        let mut reply = Reply::status_page(405);
        reply.headers.push(("Allow".into(), "GET, HEAD".into()));
        return reply;
    }
    let Some(fs_path) = decoded.and_then(|d| resolve(&shared.doc_root, d)) else {
        return Reply::status_page(404);
    };
    let Ok(meta) = fs::metadata(&fs_path) else {
        return Reply::status_page(404);
    };
    if meta.is_dir() {
        if !raw_path.ends_with('/') {
            let mut reply = Reply::status_page(301);
            reply
                .headers
                .push(("Location".into(), format!("{raw_path}/")));
            return reply;
        }
        return match listing_page(&fs_path, decoded.unwrap_or("/")) {
            Ok(html) => Reply {
                status: 200,
                headers: vec![("Content-Type".into(), "text/html;charset=UTF-8".into())],
                body: html.into_bytes(),
            },
            Err(_) => Reply::status_page(403),
        };
    }
    if raw_path.ends_with('/') {
        return Reply::status_page(404);
    }
    let Ok(body) = fs::read(&fs_path) else {
        return Reply::status_page(403);
    };
    file_reply(head, body, meta.modified().ok(), honour_range)
}

fn file_reply(
    head: &Head,
    body: Vec<u8>,
    modified: Option<SystemTime>,
    honour_range: bool,
) -> Reply {
    let etag = etag(&body);
    let last_modified = modified.map(http_date);
    let mut headers = vec![
        (
            "Content-Type".to_owned(),
            "application/octet-stream".to_owned(),
        ),
        ("ETag".to_owned(), etag.clone()),
        ("Accept-Ranges".to_owned(), "bytes".to_owned()),
    ];
    if let Some(lm) = &last_modified {
        headers.push(("Last-Modified".into(), lm.clone()));
    }

    let not_modified = match header_value(&head.headers, "if-none-match") {
        Some(inm) => inm
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.trim_start_matches("W/") == etag),
        None => match (header_value(&head.headers, "if-modified-since"), modified) {
            (Some(ims), Some(mtime)) => {
                parse_http_date(ims).is_some_and(|since| unix_seconds(mtime) <= since)
            }
            _ => false,
        },
    };
    if not_modified {
        return Reply {
            status: 304,
            headers: headers
                .into_iter()
                .filter(|(n, _)| n != "Content-Type")
                .collect(),
            body: Vec::new(),
        };
    }

    let range = header_value(&head.headers, "range").filter(|_| honour_range);
    let if_range_ok = header_value(&head.headers, "if-range").is_none_or(|v| {
        if v.starts_with('"') {
            v == etag
        } else {
            last_modified.as_deref() == Some(v)
        }
    });
    if let Some(range) = range.filter(|_| if_range_ok) {
        let total = body.len() as u64;
        match parse_range(range, total) {
            Some(Ok((start, end))) => {
                headers.push((
                    "Content-Range".into(),
                    format!("bytes {start}-{end}/{total}"),
                ));
                let slice = body[start as usize..=end as usize].to_vec();
                return Reply {
                    status: 206,
                    headers,
                    body: slice,
                };
            }
            Some(Err(())) => {
                let mut reply = Reply::status_page(416);
                reply
                    .headers
                    .push(("Content-Range".into(), format!("bytes */{total}")));
                return reply;
            }
            None => {}
        }
    }
    Reply {
        status: 200,
        headers,
        body,
    }
}

/// `bytes=N-` or `bytes=N-M` (one range). `None`: not a form we serve, so the
/// whole file is sent; `Some(Err)`: unsatisfiable.
fn parse_range(value: &str, total: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: Option<u64> = match end.trim() {
        "" => None,
        e => Some(e.parse().ok()?),
    };
    if start >= total || end.is_some_and(|e| e < start) {
        return Some(Err(()));
    }
    let last = end.map_or(total - 1, |e| e.min(total - 1));
    Some(Ok((start, last)))
}

fn send(
    stream: &mut TcpStream,
    reply: &Reply,
    head_only: bool,
    delivery: Delivery,
    shared: &Shared,
) -> io::Result<()> {
    let body_len = reply.body.len();
    let declared = match delivery {
        Delivery::WrongLength(delta) => {
            let len = i64::try_from(body_len).unwrap_or(i64::MAX);
            len.saturating_add(delta).max(0).to_string()
        }
        _ => body_len.to_string(),
    };
    let closes = !matches!(delivery, Delivery::Normal | Delivery::Drip { .. });
    let mut out = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    let _ = write!(
        out,
        "Date: {}\r\nServer: kdb-test\r\n",
        http_date(SystemTime::now())
    );
    for (name, value) in &reply.headers {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    if reply.status != 304 {
        let _ = write!(out, "Content-Length: {declared}\r\n");
    }
    if closes {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    stream.write_all(out.as_bytes())?;
    let body: &[u8] = if head_only || reply.status == 304 {
        &[]
    } else {
        &reply.body
    };
    let counted = match delivery {
        Delivery::Truncate(n) | Delivery::Reset(n) => n.min(body.len()),
        _ => body.len(),
    } as u64;
    shared.body_bytes.fetch_add(counted, Ordering::SeqCst);
    LAST_SENT.with(|c| c.set(counted));
    match delivery {
        Delivery::Normal | Delivery::WrongLength(_) => stream.write_all(body)?,
        Delivery::Truncate(n) => {
            stream.write_all(&body[..n.min(body.len())])?;
            stream.flush()?;
            stream.shutdown(Shutdown::Both)?;
        }
        Delivery::Reset(n) => {
            stream.write_all(&body[..n.min(body.len())])?;
            stream.flush()?;
            // Returning drops the socket with the request still unread: RST.
        }
        Delivery::Drip { chunk, interval } => {
            let pieces: Vec<&[u8]> = body.chunks(chunk.max(1)).collect();
            for (i, piece) in pieces.iter().enumerate() {
                // The delay is the fault itself, not a synchronisation guess.
                if !pause(interval, &shared.stopping) {
                    return Ok(());
                }
                if i + 1 == pieces.len() {
                    // The request stops being in flight before its last bytes can
                    // reach the client, so a client that starts its next request
                    // on receipt is never counted twice.
                    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                    RELEASED.with(|r| r.set(true));
                }
                stream.write_all(piece)?;
                stream.flush()?;
            }
        }
    }
    stream.flush()?;
    if let Delivery::WrongLength(_) = delivery {
        stream.shutdown(Shutdown::Write)?;
    }
    Ok(())
}

thread_local! {
    /// Body bytes the last `send` on this thread counted (per-path accounting).
    static LAST_SENT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// Set when a response already left the in-flight count (see `send`).
    static RELEASED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Sleeps for `total` in short slices; `false` if the server began stopping.
fn pause(total: Duration, stopping: &AtomicBool) -> bool {
    let deadline = std::time::Instant::now() + total;
    loop {
        if stopping.load(Ordering::SeqCst) {
            return false;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return true;
        }
        thread::sleep(left.min(Duration::from_millis(10)));
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        410 => "Gone",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// Content-derived, so that rewriting a file always changes it (see module
/// docs).
/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

fn etag(body: &[u8]) -> String {
    let mut h = DefaultHasher::new();
    h.write(body);
    format!("\"{:x}-{:016x}\"", body.len(), h.finish())
}

fn unix_seconds(t: SystemTime) -> i64 {
    chrono::DateTime::<chrono::Utc>::from(t).timestamp()
}

fn http_date(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

fn parse_http_date(s: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(s.trim(), "%a, %d %b %Y %H:%M:%S GMT")
        .ok()
        .map(|dt| dt.and_utc().timestamp())
}

/// Percent-decodes a request path; `None` if it is not UTF-8.
fn decode_path(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Maps a decoded request path into `doc_root`, refusing anything that could
/// leave it.
fn resolve(doc_root: &Path, decoded: &str) -> Option<PathBuf> {
    let mut out = doc_root.to_path_buf();
    for segment in decoded.split('/').filter(|s| !s.is_empty() && *s != ".") {
        if segment == ".." || segment.contains(['\\', '\0']) {
            return None;
        }
        out.push(segment);
    }
    Some(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

// ---------------------------------------------------------------------------
// Apache 2.4 FancyIndexing listing, as Debian's default `autoindex.conf`
// renders it (icons on, `NameWidth` 23, Description column empty).

/// `apr_strfsize`: bytes below 973, else one decimal below 10 units, else a
/// rounded integer, in powers of 1024.
pub fn apr_strfsize(size: u64) -> String {
    if size < 973 {
        return format!("{size:>3} ");
    }
    let units = b"KMGTPE";
    let mut size = size;
    let mut unit = 0;
    loop {
        let remain = size & 1023;
        size >>= 10;
        if size >= 973 {
            unit += 1;
            continue;
        }
        let u = units[unit] as char;
        if size < 9 || (size == 9 && remain < 973) {
            let mut tenths = (remain * 5 + 256) / 512;
            if tenths >= 10 {
                size += 1;
                tenths = 0;
            }
            return format!("{size}.{tenths}{u}");
        }
        if remain >= 512 {
            size += 1;
        }
        return format!("{size:>3}{u}");
    }
}

/// Apache's `ap_os_escape_path` for one name (lower-case hex), with the `./`
/// prefix it adds when a `:` could be read as a URL scheme.
fn escape_name(name: &str) -> String {
    let mut out = String::new();
    for &b in name.as_bytes() {
        if b.is_ascii_alphanumeric() || b"$-_.+!*'(),:@&=~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02x}");
        }
    }
    if out.contains(':') {
        out.insert_str(0, "./");
    }
    out
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn listing_page(dir: &Path, decoded_path: &str) -> io::Result<String> {
    const NAME_WIDTH: usize = 23;
    let mut entries: Vec<(String, bool, u64, SystemTime)> = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let meta = fs::metadata(entry.path())?;
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        entries.push((name, meta.is_dir(), meta.len(), modified));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    let title_path = decoded_path.trim_end_matches('/');
    let title = escape_html(if title_path.is_empty() {
        "/"
    } else {
        title_path
    });
    let mut html = format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\" \"http://www.w3.org/TR/html4/strict.dtd\">\n<html>\n <head>\n  <title>Index of {title}</title>\n </head>\n <body>\n<h1>Index of {title}</h1>\n"
    );
    html.push_str(
        "<pre><img src=\"/icons/blank.gif\" alt=\"Icon \"> <a href=\"?C=N;O=D\">Name</a>                    <a href=\"?C=M;O=A\">Last modified</a>      <a href=\"?C=S;O=A\">Size</a>  <a href=\"?C=D;O=A\">Description</a><hr>",
    );
    if !title_path.is_empty() {
        let parent = match title_path.rfind('/') {
            Some(i) => &title_path[..=i],
            None => "/",
        };
        let parent_href: String = parent
            .split('/')
            .map(escape_name_segment)
            .collect::<Vec<_>>()
            .join("/");
        let _ = writeln!(
            html,
            "<img src=\"/icons/back.gif\" alt=\"[PARENTDIR]\"> <a href=\"{}\">Parent Directory</a>                             -   ",
            escape_html(&parent_href)
        );
    }
    for (name, is_dir, len, modified) in entries {
        let shown = if is_dir {
            format!("{name}/")
        } else {
            name.clone()
        };
        let (text, width) = if shown.len() > NAME_WIDTH {
            let mut cut = NAME_WIDTH - 3;
            while !shown.is_char_boundary(cut) {
                cut -= 1;
            }
            (format!("{}..&gt;", escape_html(&shown[..cut])), NAME_WIDTH)
        } else {
            (escape_html(&shown), shown.len())
        };
        let mut href = escape_name(&name);
        if is_dir {
            href.push('/');
        }
        let (icon, alt) = if is_dir {
            ("folder.gif", "[DIR]")
        } else {
            ("unknown.gif", "[   ]")
        };
        let date = chrono::DateTime::<chrono::Utc>::from(modified).format("%Y-%m-%d %H:%M");
        let size = if is_dir {
            "  - ".to_owned()
        } else {
            apr_strfsize(len)
        };
        let _ = writeln!(
            html,
            "<img src=\"/icons/{icon}\" alt=\"{alt}\"> <a href=\"{}\">{text}</a>{:pad$} {date}  {size}  ",
            escape_html(&href),
            "",
            pad = NAME_WIDTH - width,
        );
    }
    html.push_str("<hr></pre>\n</body></html>\n");
    Ok(html)
}

fn escape_name_segment(segment: &str) -> String {
    let escaped = escape_name(segment);
    escaped.strip_prefix("./").unwrap_or(&escaped).to_owned()
}

// ---------------------------------------------------------------------------
// A minimal blocking HTTP/1.1 client (`Connection: close`), enough to fetch
// listing pages and inspect replies in tests without new dependencies.

/// A complete reply.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET url`.
pub fn get(url: &str) -> io::Result<HttpResponse> {
    request("GET", url, &[])
}

/// Sends one request with `Connection: close` and reads the whole reply. A
/// body shorter than its `Content-Length` is an `UnexpectedEof` error;
/// chunked bodies are decoded. Only `http://host[:port]/path` URLs.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> io::Result<HttpResponse> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "only http:// URLs"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: kdb-tests\r\nConnection: close\r\n"
    );
    for (name, value) in headers {
        let _ = write!(req, "{name}: {value}\r\n");
    }
    req.push_str("\r\n");
    let target = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
    let raw = raw_exchange(target, req.as_bytes(), Duration::from_secs(30));
    if let Some(e) = raw.error {
        return Err(e);
    }
    parse_response(&raw.bytes, method == "HEAD")
}

/// What a raw exchange produced: every byte read, and the error that ended
/// reading, if it was not a clean end of stream.
#[derive(Debug)]
pub struct RawReply {
    pub bytes: Vec<u8>,
    pub error: Option<io::Error>,
}

impl RawReply {
    /// The bytes after the end of the head, or all bytes if no head ended.
    pub fn body(&self) -> &[u8] {
        match find(&self.bytes, b"\r\n\r\n") {
            Some(i) => &self.bytes[i + 4..],
            None => &[],
        }
    }

    /// The head as text (up to the blank line).
    pub fn head(&self) -> String {
        let end = find(&self.bytes, b"\r\n\r\n").unwrap_or(self.bytes.len());
        String::from_utf8_lossy(&self.bytes[..end]).into_owned()
    }

    /// The status code, if a status line arrived.
    pub fn status(&self) -> Option<u16> {
        self.head().split(' ').nth(1)?.parse().ok()
    }

    /// The first value of header `name` in the head.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head().split("\r\n").skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// Writes `request` to `addr` and reads until end of stream, an error, or
/// `read_timeout` without data.
pub fn raw_exchange(addr: SocketAddr, request: &[u8], read_timeout: Duration) -> RawReply {
    let mut bytes = Vec::new();
    let error = (|| {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(read_timeout))?;
        stream.write_all(request)?;
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    })()
    .err();
    RawReply { bytes, error }
}

fn parse_response(bytes: &[u8], head_only: bool) -> io::Result<HttpResponse> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let end = find(bytes, b"\r\n\r\n").ok_or_else(|| bad("no end of head"))?;
    let head = std::str::from_utf8(&bytes[..end]).map_err(|_| bad("head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let raw_body = &bytes[end + 4..];
    let body = if head_only || status == 304 || status == 204 {
        Vec::new()
    } else if header_value(&headers, "transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(raw_body).ok_or_else(|| bad("bad chunked body"))?
    } else if let Some(len) = header_value(&headers, "content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad Content-Length"))?;
        if raw_body.len() < len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("body has {} of {len} bytes", raw_body.len()),
            ));
        }
        raw_body[..len].to_vec()
    } else {
        raw_body.to_vec()
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(raw, b"\r\n")?;
        let size_text = std::str::from_utf8(&raw[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}
