//! A private certificate authority and a server certificate for 127.0.0.1, made with
//! the `openssl` command, for HTTPS tests (Apache with `mod_ssl`).

#![allow(dead_code)]
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Tls {
    dir: tempfile::TempDir,
    /// The CA's certificate (PEM).
    pub ca: PathBuf,
    /// A directory holding the CA under its subject-hash name (`openssl rehash`), as
    /// `SSL_CERT_DIR` wants it.
    pub ca_dir: PathBuf,
    /// The server's certificate (for `127.0.0.1` and `localhost`) and key.
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Tls {
    pub fn new() -> Tls {
        let dir = tempfile::Builder::new()
            .prefix("kdb-tls-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=kdb test CA",
            ],
        );
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        );
        std::fs::write(
            d.join("san.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "san.ext",
            ],
        );
        let ca_dir = d.join("certs");
        std::fs::create_dir(&ca_dir).unwrap();
        std::fs::copy(d.join("ca.pem"), ca_dir.join("ca.pem")).unwrap();
        openssl(d, &["rehash", ca_dir.to_str().unwrap()]);
        // httpd's workers run as nobody when the tests run as root.
        for f in ["server.pem", "server.key"] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(d.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        Tls {
            ca: d.join("ca.pem"),
            ca_dir,
            cert: d.join("server.pem"),
            key: d.join("server.key"),
            dir,
        }
    }
}
