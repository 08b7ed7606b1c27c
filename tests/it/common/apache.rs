//! A real Apache httpd on loopback, for listing-fidelity tests.
//!
//! [`Apache::start`] writes a minimal configuration into a temporary directory
//! (only `mod_mpm_event`, `mod_authz_core`, `mod_dir`, `mod_mime` and
//! `mod_autoindex`, loaded explicitly from Debian's module directory), starts
//! `/usr/sbin/apache2 -f <conf> -DFOREGROUND`, waits until the port accepts
//! connections (bounded), and stops it on drop (`apache2 -k stop`, which makes
//! the parent terminate its children, then `SIGKILL` if it outlives a bound).
//!
//! When the binary or its modules are missing, `start` prints a visible skip
//! message and returns `None` — unless `KDB_REQUIRE_APACHE=1`, in which case it
//! panics, so CI cannot silently skip. `KDB_APACHE_BIN` and
//! `KDB_APACHE_MODULES` override the Debian paths.
//!
//! Running as root: httpd refuses to serve as root, so the workers run as
//! `nobody:nogroup`, and `start` adds the world read (files) and read+search
//! (directories) permission bits under `doc_root`, and the search bit on its
//! ancestors inside the system temporary directory, where they are missing.

#![allow(dead_code)]
// Writes only its own configuration and logs, into its own temp dir: not a
// kdb write path, so the `store::fsio` chokepoint rule does not apply.
#![allow(clippy::disallowed_methods)]

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const DEFAULT_BIN: &str = "/usr/sbin/apache2";
const DEFAULT_MODULES: &str = "/usr/lib/apache2/modules";
const MODULES: &[(&str, &str)] = &[
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("dir_module", "mod_dir.so"),
    ("mime_module", "mod_mime.so"),
    ("autoindex_module", "mod_autoindex.so"),
];
const START_TIMEOUT: Duration = Duration::from_secs(15);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running httpd serving one directory; stopped on drop.
pub struct Apache {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub base_url: String,
    pub addr: SocketAddr,
    bin: PathBuf,
    conf: PathBuf,
    child: Option<Child>,
    // Dropped last: holds the configuration and logs.
    dir: tempfile::TempDir,
}

impl Apache {
    /// Serves `doc_root` with autoindex and the given `IndexOptions` arguments
    /// (empty: no `IndexOptions` line, i.e. Apache's plain list).
    pub fn start(doc_root: &Path, index_options: &str) -> Option<Apache> {
        Self::start_with(doc_root, index_options, "")
    }

    /// Like [`Apache::start`], with extra directives inside the `<Directory>`
    /// block (for example `AddIcon`, `AddDescription`, `IndexIgnore`).
    pub fn start_with(doc_root: &Path, index_options: &str, extra: &str) -> Option<Apache> {
        Self::try_start_with(doc_root, index_options, extra)
            .unwrap_or_else(|failure| panic!("apache httpd did not start:\n{failure}"))
    }

    /// Like [`Apache::start_with`], but a server that does not come up (for
    /// example because this httpd rejects one of the `IndexOptions`) is an
    /// `Err` with its diagnostics instead of a panic.
    pub fn try_start_with(
        doc_root: &Path,
        index_options: &str,
        extra: &str,
    ) -> Result<Option<Apache>, String> {
        Self::launch_configured(doc_root, index_options, extra, &Server::default())
    }

    /// Serves `doc_root` over HTTPS with the server certificate `cert`/`key`
    /// (`mod_ssl`), speaking HTTP/2 when `h2` (`mod_http2`, `Protocols h2
    /// http/1.1`) or HTTP/1.1 only; [`Apache::access_log`] has each request's
    /// protocol (`%H`) and path.
    pub fn start_tls(doc_root: &Path, cert: &Path, key: &Path, h2: bool) -> Option<Apache> {
        let server = Server {
            scheme: "https",
            lines: format!(
                "LoadModule ssl_module \"{m}/mod_ssl.so\"\n\
                 LoadModule http2_module \"{m}/mod_http2.so\"\n\
                 SSLEngine on\nSSLCertificateFile \"{}\"\nSSLCertificateKeyFile \"{}\"\n\
                 Protocols {}\n",
                cert.display(),
                key.display(),
                if h2 { "h2 http/1.1" } else { "http/1.1" },
                m = std::env::var("KDB_APACHE_MODULES").unwrap_or_else(|_| DEFAULT_MODULES.into()),
            ),
        };
        Self::launch_configured(doc_root, "", "", &server)
            .unwrap_or_else(|failure| panic!("apache httpd (TLS) did not start:\n{failure}"))
    }

    /// The access log so far: one `PROTOCOL PATH` line per request.
    pub fn access_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    fn launch_configured(
        doc_root: &Path,
        index_options: &str,
        extra: &str,
        server: &Server,
    ) -> Result<Option<Apache>, String> {
        let bin =
            std::env::var_os("KDB_APACHE_BIN").map_or_else(|| DEFAULT_BIN.into(), PathBuf::from);
        let modules = std::env::var_os("KDB_APACHE_MODULES")
            .map_or_else(|| DEFAULT_MODULES.into(), PathBuf::from);
        let missing: Vec<PathBuf> = std::iter::once(bin.clone())
            .chain(MODULES.iter().map(|(_, file)| modules.join(file)))
            .filter(|p| !p.is_file())
            .collect();
        if !missing.is_empty() {
            let why = format!(
                "Apache httpd is not installed (missing {})",
                missing
                    .iter()
                    .map(|p| format!("`{}`", p.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if std::env::var("KDB_REQUIRE_APACHE").as_deref() == Ok("1") {
                panic!("{why}, and KDB_REQUIRE_APACHE=1");
            }
            eprintln!(
                "SKIPPED: {why}; install the `apache2` package (or set KDB_REQUIRE_APACHE=1 to make this a failure)"
            );
            return Ok(None);
        }

        let doc_root = fs::canonicalize(doc_root)
            .unwrap_or_else(|e| panic!("doc root `{}`: {e}", doc_root.display()));
        let running_as_root = fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        if running_as_root {
            open_up_for_others(&doc_root)
                .unwrap_or_else(|e| panic!("making `{}` readable: {e}", doc_root.display()));
        }

        // Picking a free port and handing it over is racy; retry on a clash.
        let mut last_failure = String::new();
        for _attempt in 0..5 {
            let dir = tempfile::Builder::new()
                .prefix("kdb-apache-")
                .tempdir()
                .expect("temp dir for apache");
            let addr = free_port();
            let conf = dir.path().join("httpd.conf");
            let mut config = config(
                dir.path(),
                &modules,
                addr,
                &doc_root,
                index_options,
                extra,
                running_as_root,
            );
            config.push_str(&server.lines);
            config.push_str(&format!(
                "CustomLog \"{}/access.log\" \"%H %U\"\n",
                dir.path().display()
            ));
            fs::write(&conf, config).expect("write httpd.conf");
            match launch(&bin, &conf, dir.path(), addr) {
                Ok(child) => {
                    return Ok(Some(Apache {
                        base_url: format!("{}://{addr}", server.scheme),
                        addr,
                        bin,
                        conf,
                        child: Some(child),
                        dir,
                    }));
                }
                Err(failure) => {
                    let clash = failure.contains("Address already in use");
                    last_failure = failure;
                    if !clash {
                        break;
                    }
                }
            }
        }
        Err(last_failure)
    }

    /// The URL of `path` (percent-encoded by the caller; a missing leading
    /// `/` is added).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.base_url)
        } else {
            format!("{}/{path}", self.base_url)
        }
    }

    /// The server's error log so far (for assertion messages).
    pub fn error_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _stop_status = Command::new(&self.bin)
            .arg("-f")
            .arg(&self.conf)
            .args(["-k", "stop"])
            .env("APACHE_RUN_DIR", self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _killed = child.kill();
        let _reaped = child.wait();
    }
}

/// Server-level configuration beyond the plain HTTP one.
struct Server {
    scheme: &'static str,
    lines: String,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            scheme: "http",
            lines: String::new(),
        }
    }
}

fn free_port() -> SocketAddr {
    let probe = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    probe.local_addr().expect("local_addr")
}

fn config(
    dir: &Path,
    modules: &Path,
    addr: SocketAddr,
    doc_root: &Path,
    index_options: &str,
    extra: &str,
    running_as_root: bool,
) -> String {
    let d = dir.display();
    let mut c = String::new();
    c.push_str(&format!(
        "ServerRoot \"{d}\"\nListen {addr}\nServerName 127.0.0.1\n"
    ));
    for (name, file) in MODULES {
        c.push_str(&format!(
            "LoadModule {name} \"{}\"\n",
            modules.join(file).display()
        ));
    }
    if running_as_root {
        c.push_str("User nobody\nGroup nogroup\n");
    }
    let mime_types = if Path::new("/etc/mime.types").is_file() {
        PathBuf::from("/etc/mime.types")
    } else {
        let empty = dir.join("mime.types");
        fs::write(&empty, "").expect("write mime.types");
        empty
    };
    c.push_str(&format!(
        "PidFile \"{d}/httpd.pid\"\nErrorLog \"{d}/error.log\"\nLogLevel warn\n\
         DefaultRuntimeDir \"{d}\"\nMutex file:{d} default\n\
         TypesConfig \"{}\"\n\
         StartServers 1\nServerLimit 2\nThreadsPerChild 4\nMaxRequestWorkers 8\n\
         MinSpareThreads 1\nMaxSpareThreads 8\n\
         KeepAlive Off\n",
        mime_types.display()
    ));
    c.push_str(&format!(
        "DocumentRoot \"{root}\"\n<Directory \"{root}\">\n  Options +Indexes\n  AllowOverride None\n  Require all granted\n  DirectoryIndex disabled\n",
        root = doc_root.display()
    ));
    if !index_options.trim().is_empty() {
        c.push_str(&format!("  IndexOptions {index_options}\n"));
    }
    for line in extra.lines() {
        c.push_str(&format!("  {line}\n"));
    }
    c.push_str("</Directory>\n");
    c
}

/// Starts httpd and waits (bounded) until `addr` accepts connections. On
/// failure returns the diagnostics: exit status, stderr, error log.
fn launch(bin: &Path, conf: &Path, dir: &Path, addr: SocketAddr) -> Result<Child, String> {
    let stderr_path = dir.join("stderr.log");
    let stderr = fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(bin)
        .arg("-f")
        .arg(conf)
        .arg("-DFOREGROUND")
        // Debian's apache2 expects its envvars; point them into the temp dir.
        .env("APACHE_RUN_DIR", dir)
        .env("APACHE_LOCK_DIR", dir)
        .env("APACHE_LOG_DIR", dir)
        .env("APACHE_PID_FILE", dir.join("httpd.pid"))
        // Listing dates are printed in local time; make them UTC.
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("spawning `{}`: {e}", bin.display()))?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(child);
        }
        let diagnostics = || {
            format!(
                "stderr:\n{}\nerror.log:\n{}",
                fs::read_to_string(&stderr_path).unwrap_or_default(),
                fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            )
        };
        match child.try_wait() {
            Ok(Some(status)) => {
                return Err(format!("httpd exited with {status}\n{}", diagnostics()));
            }
            Err(e) => return Err(format!("waiting for httpd: {e}")),
            Ok(None) => {}
        }
        if Instant::now() >= deadline {
            let _killed = child.kill();
            let _reaped = child.wait();
            return Err(format!(
                "httpd did not accept connections on {addr} within {START_TIMEOUT:?}\n{}",
                diagnostics()
            ));
        }
        // Bounded polling: a refused connect returns at once.
        thread::sleep(Duration::from_millis(20));
    }
}

/// Adds `o+r` to files and `o+rx` to directories under `root`, and `o+x` to
/// ancestors of `root` inside the system temporary directory, so that the
/// unprivileged httpd workers can read the tree.
fn open_up_for_others(root: &Path) -> io::Result<()> {
    let temp = fs::canonicalize(std::env::temp_dir())?;
    for ancestor in root.ancestors().skip(1) {
        if !ancestor.starts_with(&temp) || ancestor == temp {
            break;
        }
        add_mode(ancestor, 0o001)?;
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        add_mode(&dir, 0o005)?;
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                add_mode(&entry.path(), 0o004)?;
            }
        }
    }
    Ok(())
}

fn add_mode(path: &Path, bits: u32) -> io::Result<()> {
    let meta = fs::metadata(path)?;
    let mode = meta.permissions().mode();
    if mode & bits == bits {
        return Ok(());
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode | bits))
}
