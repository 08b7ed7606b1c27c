//! A fault-injecting HTTP proxy in front of moto, for team-store fault tests: S3
//! answers that moto cannot be made to give (403 on writes only, 500 on everything, a
//! server that accepts and then says nothing).
//!
//! One request per connection (the proxy answers `Connection: close`), so the client
//! reconnects for each; requests are forwarded byte for byte otherwise.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    Forward,
    /// `403 AccessDenied` to every PUT (read-only credentials); the rest forwarded.
    DenyPut,
    /// This status to every request.
    Status(u16),
    /// Accept, read the request, then say nothing for this long.
    Stall(Duration),
}

pub struct Proxy {
    port: u16,
    mode: Arc<Mutex<Mode>>,
    stop: Arc<AtomicBool>,
    puts: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl Proxy {
    pub fn start(upstream: u16, mode: Mode) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy {
            port,
            mode: Arc::new(Mutex::new(mode)),
            stop: Arc::new(AtomicBool::new(false)),
            puts: Arc::new(AtomicUsize::new(0)),
            requests: Arc::new(AtomicUsize::new(0)),
        };
        let (mode, stop, puts, requests) = (
            Arc::clone(&proxy.mode),
            Arc::clone(&proxy.stop),
            Arc::clone(&proxy.puts),
            Arc::clone(&proxy.requests),
        );
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let mode = mode.lock().unwrap().clone();
                let (puts, requests) = (Arc::clone(&puts), Arc::clone(&requests));
                thread::spawn(move || serve(conn, upstream, &mode, &puts, &requests));
            }
        });
        proxy
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn puts(&self) -> usize {
        self.puts.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees `stop`.
        TcpStream::connect(("127.0.0.1", self.port)).ok();
    }
}

/// Reads one request: the head (up to the blank line) and a `Content-Length` body.
fn read_request(conn: &mut TcpStream) -> Option<(String, Vec<u8>, Vec<u8>)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let method = text.split(' ').next().unwrap_or_default().to_owned();
    let len: usize = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).ok()?;
    Some((method, head, body))
}

fn answer(conn: &mut TcpStream, status: u16, code: &str) {
    let body = format!(
        "<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>{code}</Message></Error>"
    );
    let reason = match status {
        403 => "Forbidden",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let reply = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(reply.as_bytes()).ok();
}

fn serve(
    mut conn: TcpStream,
    upstream: u16,
    mode: &Mode,
    puts: &AtomicUsize,
    requests: &AtomicUsize,
) {
    let Some((method, head, body)) = read_request(&mut conn) else {
        return;
    };
    requests.fetch_add(1, Ordering::SeqCst);
    if method == "PUT" {
        puts.fetch_add(1, Ordering::SeqCst);
    }
    match mode {
        Mode::DenyPut if method == "PUT" => return answer(&mut conn, 403, "AccessDenied"),
        Mode::Status(s) => {
            return answer(
                &mut conn,
                *s,
                if *s == 403 {
                    "AccessDenied"
                } else {
                    "InternalError"
                },
            );
        }
        Mode::Stall(d) => {
            thread::sleep(*d);
            return;
        }
        _ => {}
    }
    // Forward with `Connection: close`, relay the whole answer, close.
    let text = String::from_utf8_lossy(&head);
    let mut forwarded = String::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return answer(&mut conn, 502, "BadGateway");
    };
    if up.write_all(forwarded.as_bytes()).is_err() || up.write_all(&body).is_err() {
        return;
    }
    let mut reply = Vec::new();
    up.read_to_end(&mut reply).ok();
    conn.write_all(&close_after(&reply)).ok();
}

/// The reply with its `Connection` header replaced by `Connection: close`, so the
/// client does not try to reuse the connection the proxy is about to close.
fn close_after(reply: &[u8]) -> Vec<u8> {
    let Some(end) = reply.windows(4).position(|w| w == b"\r\n\r\n") else {
        return reply.to_vec();
    };
    let head = String::from_utf8_lossy(&reply[..end]);
    let mut out = String::new();
    for line in head.split("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&reply[end + 4..]);
    bytes
}
