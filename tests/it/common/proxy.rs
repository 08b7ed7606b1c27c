//! tinyproxy on loopback, for proxy tests: its own configuration (optional Basic
//! auth) and log in a temp dir, stopped on drop. Missing tinyproxy skips the test with
//! a visible message, unless `KDB_REQUIRE_PROXY=1` (CI), which makes it a failure.

#![allow(dead_code)]
#![allow(clippy::disallowed_methods)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Tinyproxy {
    dir: tempfile::TempDir,
    child: Child,
    pub port: u16,
}

impl Tinyproxy {
    /// Starts tinyproxy; `auth` is `(user, password)` for `BasicAuth`.
    pub fn start(auth: Option<(&str, &str)>) -> Option<Tinyproxy> {
        let bin = "/usr/bin/tinyproxy";
        if !std::path::Path::new(bin).is_file() {
            let why = "tinyproxy is not installed (the `tinyproxy` package)";
            if std::env::var("KDB_REQUIRE_PROXY").as_deref() == Ok("1") {
                panic!("{why}, and KDB_REQUIRE_PROXY=1");
            }
            eprintln!("SKIPPED: {why}");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("kdb-proxy-")
            .tempdir()
            .unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            // The proxy drops to nobody and writes its log here.
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.path().display();
        let mut conf = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{d}/tinyproxy.log\"\n\
             LogLevel Info\nMaxClients 64\nPidFile \"{d}/tinyproxy.pid\"\n"
        );
        let root = std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false);
        if root {
            conf.push_str("User nobody\nGroup nogroup\n");
        }
        if let Some((user, password)) = auth {
            conf.push_str(&format!("BasicAuth {user} {password}\n"));
        }
        std::fs::write(dir.path().join("tinyproxy.conf"), conf).unwrap();
        let child = Command::new(bin)
            .arg("-d")
            .arg("-c")
            .arg(dir.path().join("tinyproxy.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn tinyproxy");
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tinyproxy did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Tinyproxy { dir, child, port })
    }

    /// `http://127.0.0.1:PORT` (with `user:password@` when given).
    pub fn url(&self, auth: Option<(&str, &str)>) -> String {
        match auth {
            Some((u, p)) => format!("http://{u}:{p}@127.0.0.1:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// The proxy's log so far (one `Request (…): METHOD TARGET` line per request).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tinyproxy.log")).unwrap_or_default()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}
