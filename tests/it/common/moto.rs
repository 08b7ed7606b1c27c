//! moto's S3 server (PyPI `moto[server]`) on a free loopback port, started by the
//! test that needs it and killed on drop; and the Python next to it (with boto3, a
//! moto dependency) to look at or tamper with the bucket from outside kdb.
//!
//! Found as `$KDB_MOTO_SERVER`, else `.venv/bin/moto_server` (scripts/test.sh installs
//! it there), else `moto_server` on `PATH`. Missing: a visible SKIP, or a failure
//! under `KDB_REQUIRE_S3=1`.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub port: u16,
    python: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KDB_MOTO_SERVER").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p)).filter(|p| p.exists());
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    if venv.exists() {
        return Some(venv);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("moto_server"))
        .find(|p| p.exists())
}

impl Moto {
    /// Starts a server; `None` (after a SKIP line) when moto is not installed.
    pub fn start() -> Option<Moto> {
        let Some(server) = find() else {
            return super::missing(
                "KDB_REQUIRE_S3",
                "moto_server not found",
                "run scripts/test.sh or `pip install 'moto[server]'` into .venv",
            );
        };
        let python = server
            .parent()
            .map(|d| d.join("python3"))
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("python3"));
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::Builder::new()
            .prefix("kdb-moto-")
            .tempdir()
            .unwrap();
        let log = dir.path().join("moto.log");
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::options()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap(),
            )
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", server.display()));
        let moto = Moto {
            child,
            port,
            python,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(moto)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `AWS_*` variables that point kdb (object_store) at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// Runs Python with a boto3 client `s3` bound to this server; its stdout.
    pub fn py(&self, code: &str) -> String {
        String::from_utf8_lossy(&self.py_bytes(code)).into_owned()
    }

    fn py_bytes(&self, code: &str) -> Vec<u8> {
        let prelude = format!(
            "import boto3, sys\ns3 = boto3.client('s3', endpoint_url='{}', \
             aws_access_key_id='testing', aws_secret_access_key='testing', \
             region_name='us-east-1')\n",
            self.endpoint()
        );
        let out = Command::new(&self.python)
            .args(["-c", &format!("{prelude}{code}")])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    pub fn create_bucket(&self, bucket: &str) {
        self.py(&format!("s3.create_bucket(Bucket='{bucket}')"));
    }

    /// Every key in the bucket, sorted.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let out = self.py(&format!(
            "p = s3.get_paginator('list_objects_v2')\n\
             for page in p.paginate(Bucket='{bucket}'):\n\
             \x20   for o in page.get('Contents', []):\n\
             \x20       print(o['Key'])"
        ));
        let mut keys: Vec<String> = out.lines().map(str::to_owned).collect();
        keys.sort();
        keys
    }

    /// The bytes under `key`.
    pub fn object(&self, bucket: &str, key: &str) -> Vec<u8> {
        self.py_bytes(&format!(
            "sys.stdout.buffer.write(s3.get_object(Bucket='{bucket}', Key='{key}')['Body'].read())"
        ))
    }

    /// Puts `bytes` (given as a file) under `key`, overwriting: a tampered store.
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let f = tempfile::NamedTempFile::new().unwrap();
        #[allow(clippy::disallowed_methods)]
        std::fs::write(f.path(), bytes).unwrap();
        self.py(&format!(
            "s3.put_object(Bucket='{bucket}', Key='{key}', Body=open('{}', 'rb').read())",
            f.path().display()
        ));
    }

    /// Requests moto logged so far whose request line contains `needle`.
    pub fn logged(&self, needle: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(strip_ansi)
            .filter(|l| l.contains(needle))
            .count()
    }
}

/// The line without terminal colour sequences (`ESC [ … m`): some werkzeug versions
/// colour the request line of 3xx/4xx answers even into a file.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
