//! Shared test environment: a temp home, the real `kdb` binary, kernel fixtures.
#![allow(dead_code)]

pub mod apache;
pub mod archive;
pub mod http;
pub mod moto;
pub mod proxy;
pub mod s3proxy;
pub mod tls;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

/// A temp directory holding a kdb home, a config file path and a work area.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env {
            dir: tempfile::Builder::new()
                .prefix("kdb-it-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    pub fn work(&self, rel: &str) -> PathBuf {
        let p = self.root().join("work").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        p
    }

    pub fn catalogue(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.home().join("kdb.sqlite")).unwrap()
    }

    /// The real binary with this env's home and config, nothing from the user's.
    pub fn kdb(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kdb"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.root())
            .env("KDB_HOME", self.home())
            .env("KDB_CONFIG", self.root().join("config.toml"))
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null());
        c
    }

    /// Runs kdb with `args`, returning the output (any exit code).
    pub fn run(&self, args: &[&str]) -> Output {
        self.kdb().args(args).output().unwrap()
    }

    /// Runs kdb with `args` and these environment variables (any exit code).
    pub fn run_env(&self, args: &[&str], vars: &[(&str, &dyn AsRef<std::ffi::OsStr>)]) -> Output {
        let mut c = self.kdb();
        c.args(args);
        for (k, v) in vars {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    /// [`Env::run_env`], asserting exit 0; returns stdout.
    pub fn ok_env(&self, args: &[&str], vars: &[(&str, &dyn AsRef<std::ffi::OsStr>)]) -> String {
        Self::succeeded(args, self.run_env(args, vars))
    }

    /// Runs kdb and asserts exit 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        Self::succeeded(args, self.run(args))
    }

    fn succeeded(args: &[&str], out: Output) -> String {
        assert!(
            out.status.success(),
            "kdb {args:?} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_str(&self.ok(&a)).unwrap()
    }

    pub fn count(&self, table: &str) -> i64 {
        self.catalogue()
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }
}

/// A synthetic, structurally valid DAF/SPK of `1024 + len` bytes whose contents
/// differ by `seed` (see [`daf_bytes`]).
pub fn spk_bytes(seed: u64, len: usize) -> Vec<u8> {
    daf_bytes(b"DAF/SPK ", seed, len)
}

/// A structurally valid DAF (what `kdb`'s structure check accepts): a file record
/// (id word, ND=2, NI=6, FWARD=BWARD=2, FREE just past the bytes, LTL-IEEE, the FTP
/// string), then summary record 2 with NSUM=0 (its control words, then its unused
/// bytes and everything after it filled with deterministic bytes derived from
/// `seed`). `1024 + len` bytes long (`len` at least 24: the control words; the last
/// record may be partial, as in real archives).
pub fn daf_bytes(id: &[u8; 8], seed: u64, len: usize) -> Vec<u8> {
    const FTP: &[u8; 28] = b"FTPSTR:\r:\n:\r\n:\r\x00:\x81:\x10\xce:ENDFTP";
    let total = 1024 + len.max(24);
    let mut v = vec![b' '; 1024];
    v[..8].copy_from_slice(id);
    v[8..12].copy_from_slice(&2u32.to_le_bytes());
    v[12..16].copy_from_slice(&6u32.to_le_bytes());
    v[16..76].copy_from_slice(&[b' '; 60]);
    v[76..80].copy_from_slice(&2u32.to_le_bytes());
    v[80..84].copy_from_slice(&2u32.to_le_bytes());
    let free = (total / 8 + 1) as u32;
    v[84..88].copy_from_slice(&free.to_le_bytes());
    v[88..96].copy_from_slice(b"LTL-IEEE");
    v[96..699].fill(0);
    v[699..727].copy_from_slice(FTP);
    v[727..].fill(0);
    // Summary record 2: NEXT = PREV = NSUM = 0.
    v.extend_from_slice(&[0u8; 24]);
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    v.extend((v.len()..total).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    v
}

/// A text kernel (LSK-shaped) that differs by `seed`.
pub fn text_kernel(seed: u64) -> Vec<u8> {
    format!("KPL/LSK\n\nseed {seed}\n\\begindata\nDELTET/DELTA_T_A = 32.184\n\\begintext\n")
        .into_bytes()
}

pub fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    #[allow(clippy::disallowed_methods)]
    std::fs::write(path, bytes).unwrap();
}

#[allow(clippy::disallowed_methods)]
pub fn symlink(target: impl AsRef<Path>, link: &Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

pub fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    format!("{:x}", Sha256::digest(&bytes))
}

/// Every non-directory entry under `dir` → (is_symlink, inode, sha256 of bytes read).
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (bool, u64, Option<String>)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).follow_links(false) {
        let e = e.unwrap();
        if e.file_type().is_dir() {
            continue;
        }
        let meta = std::fs::symlink_metadata(e.path()).unwrap();
        let sha = std::fs::read(e.path())
            .ok()
            .map(|b| format!("{:x}", Sha256::digest(&b)));
        out.insert(
            e.path().to_path_buf(),
            (meta.file_type().is_symlink(), meta.ino(), sha),
        );
    }
    out
}

/// Every `.kdb-tmp-*` entry under `dir`.
pub fn temp_entries(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".kdb-tmp-"))
        .map(|e| e.path().to_path_buf())
        .collect()
}

/// Asserts every catalogue location reads bytes hashing to its recorded content.
pub fn assert_catalogue_matches_disk(env: &Env) {
    let conn = env.catalogue();
    // A kill before the first migration committed leaves an empty catalogue.
    let Ok(mut st) = conn.prepare("SELECT path, sha256 FROM locations") else {
        return;
    };
    let rows: Vec<(String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (path, sha) in rows {
        let p = Path::new(&path);
        assert!(p.exists(), "catalogue points at missing `{path}`");
        assert_eq!(sha256(p), sha, "`{path}` does not hold its recorded bytes");
    }
}

/// Small deterministic PRNG for fault-injection tests (seed printed by callers).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub fn from_time() -> (Self, u64) {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        (Rng::new(seed), seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Whether `KDB_REQUIRE_<what>=1`: a missing oracle or data set is then a failure,
/// not a skip (`.ci/run` sets them, so CI cannot pass by testing nothing).
pub fn required(var: &str) -> bool {
    std::env::var(var).as_deref() == Ok("1")
}

/// Gives up on a test whose oracle or data is missing: `None` with a visible SKIP line,
/// or a panic naming `require_var` when that variable is `1`.
fn missing<T>(require_var: &str, why: &str, fix: &str) -> Option<T> {
    if required(require_var) {
        panic!("{why}, and {require_var}=1 makes this a failure; {fix}");
    }
    eprintln!("SKIP: {why}; {fix} (or set {require_var}=1 to make this a failure)");
    None
}

/// A path from the environment; relative values are taken from the package root.
fn env_path(var: &str) -> Option<PathBuf> {
    let value = std::env::var_os(var).filter(|v| !v.is_empty())?;
    Some(Path::new(env!("CARGO_MANIFEST_DIR")).join(value))
}

/// The real-data folder (`KDB_REALDATA`, see /work/shared/realdata/MANIFEST.md).
/// Missing: a SKIP line and `None`, or a panic under `KDB_REQUIRE_REALDATA=1`.
pub fn realdata() -> Option<PathBuf> {
    const FIX: &str = "set KDB_REALDATA to the real-data folder";
    match env_path("KDB_REALDATA") {
        Some(p) if p.is_dir() => Some(p),
        Some(p) => missing(
            "KDB_REQUIRE_REALDATA",
            &format!("KDB_REALDATA=`{}` is not a directory", p.display()),
            FIX,
        ),
        None => missing("KDB_REQUIRE_REALDATA", "KDB_REALDATA is not set", FIX),
    }
}

/// The Python with SpiceyPy that runs the CSPICE oracle (`tests/cspice/oracle.py`):
/// `KDB_PYTHON`, else `.venv/bin/python`, and only if it imports `spiceypy`.
/// Missing: a SKIP line and `None`, or a panic under `KDB_REQUIRE_CSPICE=1`.
pub fn python() -> Option<PathBuf> {
    const FIX: &str = "set KDB_PYTHON to a Python with SpiceyPy, or run scripts/test.sh \
                       (python3 -m venv .venv && .venv/bin/pip install spiceypy)";
    let p = env_path("KDB_PYTHON")
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"));
    let imports = Command::new(&p)
        .args(["-c", "import spiceypy"])
        .stdin(std::process::Stdio::null())
        .output();
    match imports {
        Ok(out) if out.status.success() => Some(p),
        Ok(out) => missing(
            "KDB_REQUIRE_CSPICE",
            &format!(
                "`{}` cannot import spiceypy ({})",
                p.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            FIX,
        ),
        Err(e) => missing(
            "KDB_REQUIRE_CSPICE",
            &format!("no Python at `{}` ({e})", p.display()),
            FIX,
        ),
    }
}

/// Asserts that at least `min_percent` of `attempts` kills landed mid-operation: a
/// kill that always lands after the work finished proves nothing about crashes.
pub fn assert_kills_landed(what: &str, landed: usize, attempts: usize, min_percent: usize) {
    eprintln!("{what}: {landed} of {attempts} kills landed mid-operation");
    assert!(
        landed * 100 >= attempts * min_percent,
        "{what}: only {landed} of {attempts} kills landed mid-operation (need {min_percent} %); \
         the kill timing no longer exercises a crash"
    );
}

/// Asserts kdb refused a hostile input as a usage error (exit 2, "refusing ...").
pub fn assert_refused(out: &Output, case: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{case}: {err}");
    assert!(err.contains("refusing"), "{case}: {err}");
}
