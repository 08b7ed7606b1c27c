//! Fetching from SPICE archives: small documents into memory ([`fetch_text`]) and
//! kernels into staged temp files ([`download_all`]), over http(s) or from `file://`
//! mirrors.
//!
//! An async island: each entry point builds its own tokio runtime and returns plain
//! values, so callers stay synchronous (and keep their SQLite connection outside).
//! One `reqwest::Client` (rustls, no OpenSSL) per call reuses connections per host;
//! at most [`FetchConfig::jobs_per_host`] transfers run at once against one host.
//!
//! What every transfer guarantees:
//!
//! - **Timeouts.** Connect ([`FetchConfig::connect_timeout`]) and idle read
//!   ([`FetchConfig::read_timeout`], per chunk, and for the response head). A stalled
//!   socket is a [`FetchError::Timeout`] naming the URL; an unreachable or slow
//!   server is never reported as not found.
//! - **A speed floor.** A body averaging less than [`FetchConfig::low_speed_limit`]
//!   bytes/s over any window of [`FetchConfig::low_speed_time`] (a server dripping a
//!   byte now and then, which the idle timeout never catches) is a retryable
//!   [`FetchError::TooSlow`] naming the URL and the measured rate.
//! - **Retries** for connect errors, timeouts, too-slow transfers, resets,
//!   truncations, 408, 429 and 5xx: [`FetchConfig::attempts`] in total, exponential
//!   backoff with jitter, at least what `Retry-After` asks (capped at a minute).
//! - **Resume.** Kernel bytes go straight into `partial_dir/<sha256 of the URL>`;
//!   once a transfer passes 1 MiB, a `.json` sidecar records the ETag,
//!   Last-Modified and size they belong to. An interrupted transfer continues with
//!   `Range: bytes=N-` and `If-Range` — on the next attempt in this process, or in a
//!   later process (even after `SIGKILL`), which re-hashes the bytes held first. A
//!   `200` answer restarts from zero; a `206` that does not continue the bytes held
//!   (other start, ETag or size) is refused and the file fetched whole; resumed
//!   bytes whose result fails its checks are dropped and the file fetched whole.
//!   Partials are deleted on success and on non-retryable failure. Nothing outside
//!   `tmp_dir` and `partial_dir` is ever written, and no existing path other than a
//!   partial is opened for writing (`store::fsio` is the only writer).
//! - **Checked bodies.** Zero bytes, fewer bytes than `Content-Length`, more than
//!   expected, a size or SHA-256 other than the caller's, bytes that are not a
//!   kernel of the kind the name says (`kernel::detect`: an HTML error page served
//!   with 200 as `x.bsp`, a Git LFS pointer; `kernel::contradiction`: an LSK served
//!   as `x.bsp`), and a binary kernel whose DAF/DAS structure disagrees with its
//!   length (`integrity::daf::check`: a file cut short) fail the download. A body *longer* than
//!   its `Content-Length` cannot be seen at the HTTP layer (the connection is
//!   message-delimited by that header): only an expected size or hash catches it.
//! - **Redirects** are followed by hand: at most [`FetchConfig::max_redirects`],
//!   same origin (scheme, host, port) only, or `http://host` upgraded to
//!   `https://host` on the default ports; never from https to http. The final URL is
//!   returned.
//! - **Credentials** for an origin (from the command line, a team-store spec or
//!   netrc, [`super::auth`]) are sent as HTTP Basic auth; no URL carries them.
//! - **Bounded memory.** Kernels stream chunk by chunk into the file and the
//!   hasher; only the first [`kernel::HEAD_LEN`] bytes are kept for type detection
//!   (a 1 GiB download peaks below 8 MB RSS). Documents from [`fetch_text`] are
//!   capped at 64 MiB.
//!
//! Concurrency contract: two `download_all` calls sharing a `partial_dir` never
//! append to one partial (it is locked; the loser downloads into a private temp
//! file), but callers are expected to hold the home lock anyway.

mod http;
mod local;
mod partial;
mod range;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use url::Url;

use crate::integrity::Refusal;
use crate::store::fsio::{self, Staged};
use crate::store::{self, Sha256Hex};

use partial::Partial;
pub use range::{RangeAsk, RangeReply};

/// Network behaviour of one command.
#[derive(Clone, Debug)]
pub struct FetchConfig {
    /// Limit on establishing a connection.
    pub connect_timeout: Duration,
    /// Limit on waiting for the response head or for the next body chunk.
    pub read_timeout: Duration,
    /// Tries per request in total (at least one is made).
    pub attempts: u32,
    /// Backoff before the second attempt; doubled for each further one.
    pub backoff_base: Duration,
    /// Transfers in flight at once against one host.
    pub jobs_per_host: usize,
    /// Redirects followed per request.
    pub max_redirects: usize,
    /// Bytes per second a body must average over [`FetchConfig::low_speed_time`];
    /// slower is a retryable [`FetchError::TooSlow`] (0: no floor).
    pub low_speed_limit: u64,
    /// The window of the low-speed check.
    pub low_speed_time: Duration,
    /// Requests sent during the command, by kind (shared by every clone).
    pub requests: RequestCounter,
    /// A PEM file of certificate authorities trusted beside the system's (`ca_file`).
    pub ca_file: Option<std::path::PathBuf>,
    /// The `proxy` setting: every request through it (NO_PROXY still applies);
    /// unset, the environment's HTTP_PROXY / HTTPS_PROXY / ALL_PROXY are used.
    pub proxy: Option<String>,
    /// The command's one runtime and HTTP client (created on first use, shared by
    /// every clone): a session's listings and the downloads after them use the same
    /// connections, so a `get` does not open new ones for its kernels.
    pub network: Network,
    /// Mission mirrors and which host each mission's requests go to now (shared by
    /// every clone): see [`crate::remote::failover`].
    pub failover: crate::remote::failover::Failover,
}

/// A runtime and an HTTP client shared by the clones of one [`FetchConfig`].
#[derive(Clone, Debug, Default)]
pub struct Network(Arc<std::sync::OnceLock<(tokio::runtime::Runtime, reqwest::Client)>>);

impl FetchConfig {
    /// The command's runtime and client ([`FetchConfig::network`]).
    fn net(&self) -> Result<&(tokio::runtime::Runtime, reqwest::Client), FetchError> {
        if let Some(net) = self.network.0.get() {
            return Ok(net);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("kdb-fetch")
            // File work (opening partials, flushing) runs on blocking threads. Without a
            // bound, 3,000 queued downloads opened their partials on ~300 threads at
            // once, all contending for one directory's lock: 12 s instead of 1 s.
            .max_blocking_threads(BLOCKING_THREADS)
            .build()
            .map_err(|e| FetchError::setup("start the network runtime", e))?;
        let client = http::client(self)?;
        // Another thread may have won: its pair is kept, this one dropped.
        let _ = self.network.0.set((runtime, client));
        self.network.0.get().ok_or_else(|| {
            FetchError::setup("start the network runtime", std::io::Error::other("lost"))
        })
    }
}

/// What a request to a server is for, as counted in [`Requests`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A small document fetched whole: a metakernel, a text kernel read for times.
    Document,
    /// A directory's listing page.
    Listing,
    /// A conditional `GET` asking whether a held kernel changed.
    Revalidate,
    /// A conditional `HEAD`.
    Probe,
    /// A byte range of a kernel (coverage probes).
    Range,
    /// A kernel's body (a resumed one included).
    Download,
}

/// Counts the requests of one command, by [`Kind`]: every attempt and every
/// redirect hop counts, as the server sees them. Clones share the counts.
#[derive(Clone, Debug, Default)]
pub struct RequestCounter(Arc<[std::sync::atomic::AtomicU64; 6]>);

impl RequestCounter {
    pub fn count(&self, kind: Kind) {
        self.0[kind as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn snapshot(&self) -> Requests {
        let n = |k: Kind| self.0[k as usize].load(std::sync::atomic::Ordering::Relaxed);
        let by_kind = [
            Kind::Document,
            Kind::Listing,
            Kind::Revalidate,
            Kind::Probe,
            Kind::Range,
            Kind::Download,
        ];
        Requests {
            total: by_kind.iter().map(|&k| n(k)).sum(),
            document: n(Kind::Document),
            listing: n(Kind::Listing),
            revalidate: n(Kind::Revalidate),
            probe: n(Kind::Probe),
            range: n(Kind::Range),
            download: n(Kind::Download),
        }
    }
}

/// Requests sent to archive servers (HTTP and HTTPS; `file://` sends none), by kind
/// ([`Kind`]), in the `--json` report of `get`, `update` and `outdated`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Requests {
    pub total: u64,
    pub document: u64,
    pub listing: u64,
    pub revalidate: u64,
    pub probe: u64,
    pub range: u64,
    pub download: u64,
}

impl Requests {
    /// The requests sent since `before` (an earlier snapshot of the same counter).
    pub fn since(self, before: Requests) -> Requests {
        Requests {
            total: self.total - before.total,
            document: self.document - before.document,
            listing: self.listing - before.listing,
            revalidate: self.revalidate - before.revalidate,
            probe: self.probe - before.probe,
            range: self.range - before.range,
            download: self.download - before.download,
        }
    }
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
            attempts: 3,
            backoff_base: Duration::from_millis(500),
            // ESA limits connections per client; NAIF copes with more.
            jobs_per_host: 8,
            max_redirects: 5,
            low_speed_limit: 1000,
            low_speed_time: Duration::from_secs(60),
            requests: RequestCounter::default(),
            ca_file: None,
            proxy: None,
            network: Network::default(),
            failover: Default::default(),
        }
    }
}

/// A speed floor over a stream of bytes: counted per window of `window`; a window
/// that ends averaging below `limit` bytes/s is too slow (`limit` 0: never). Used by
/// every HTTP body here and by the team store's reads.
#[derive(Debug)]
pub struct SpeedFloor {
    limit: u64,
    window: Duration,
    start: tokio::time::Instant,
    bytes: u64,
}

impl SpeedFloor {
    /// A floor whose first window starts now.
    pub fn new(limit: u64, window: Duration) -> SpeedFloor {
        SpeedFloor {
            limit,
            window: window.max(Duration::from_millis(1)),
            start: tokio::time::Instant::now(),
            bytes: 0,
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// When the current window ends (never without a floor): wait for the next chunk
    /// no longer than this, then [`SpeedFloor::judge`].
    pub fn deadline(&self) -> Option<tokio::time::Instant> {
        (self.limit > 0).then(|| self.start + self.window)
    }

    /// `n` more bytes arrived.
    pub fn count(&mut self, n: u64) {
        self.bytes = self.bytes.saturating_add(n);
    }

    /// When a window has ended: `Some((rate, elapsed))` if it averaged below the
    /// floor, else `None` and a new window starts. `None` within a window.
    pub fn judge(&mut self) -> Option<(f64, Duration)> {
        let now = tokio::time::Instant::now();
        let elapsed = now.saturating_duration_since(self.start);
        if self.limit == 0 || elapsed < self.window {
            return None;
        }
        let rate = self.bytes as f64 / elapsed.as_secs_f64();
        if rate < self.limit as f64 {
            return Some((rate, elapsed));
        }
        self.start = now;
        self.bytes = 0;
        None
    }
}

/// HTTP cache validators of a representation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A small document held in memory.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    /// The URL after redirects.
    pub final_url: Url,
    pub validators: Validators,
    pub size: u64,
}

#[derive(Clone, Debug)]
pub enum Conditional {
    Fetched(Fetched),
    /// The validators sent still match (HTTP 304).
    NotModified,
}

/// The answer to a conditional `HEAD` ([`Session::probe_all`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// HTTP 304: the validators sent still match.
    NotModified,
    /// HTTP 200: the representation changed (or the server ignores validators).
    Modified {
        validators: Validators,
        size: Option<u64>,
    },
}

/// One kernel to download.
#[derive(Clone, Debug)]
pub struct DownloadRequest {
    pub url: Url,
    /// The kernel file name as referenced, for type checks and messages.
    pub name: String,
    /// A size the transfer must have exactly (a check).
    pub expected_size: Option<u64>,
    pub expected_sha256: Option<Sha256Hex>,
    /// A size the server's listing gave (a hint for progress, never a check).
    pub size_hint: Option<u64>,
}

/// A verified kernel in a temp file, not yet visible anywhere.
#[derive(Debug)]
pub struct Downloaded {
    /// Index of the request this answers.
    pub request_index: usize,
    /// The URL after redirects.
    pub final_url: Url,
    /// The mission mirror that served the bytes, when the primary did not
    /// ([`crate::remote::failover`]).
    pub served_by: Option<Url>,
    /// The bytes, in a temp file under `tmp_dir`; persist or drop it.
    pub staged: Staged,
    pub validators: Validators,
}

/// Progress of [`download_all`], reported from the calling thread.
pub trait Progress: Sync {
    /// Once, before any transfer: files to deliver and the bytes expected (known
    /// sizes only; a request sharing its URL with an earlier one adds no bytes).
    fn total(&self, _files: u64, _bytes: u64) {}
    /// Bytes newly received (or found in a resumable partial). Bytes fetched again
    /// after a restart are not reported twice.
    fn bytes(&self, _n: u64) {}
    /// A transfer with no size known up front learnt it (`Content-Length`, a local
    /// file's size): the expected total grows by `n`.
    fn grow(&self, _n: u64) {}
    /// One request finished, successfully or not.
    fn file_done(&self) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// Why a fetch failed. Clone, so that requests sharing one transfer can each
/// carry its error; URLs are boxed to keep `Result`s small.
#[derive(Clone, Debug, thiserror::Error)]
pub enum FetchError {
    /// `status` is the HTTP status, 0 for a `file://` URL naming no file.
    #[error("`{url}` not found{}", http_status(*status))]
    NotFound { url: Box<Url>, status: u16 },
    #[error("access to `{url}` is forbidden (HTTP 403)")]
    Forbidden { url: Box<Url> },
    /// The server's certificate is not signed by an authority kdb trusts.
    #[error(
        "cannot trust the certificate of `{host}`: no trusted authority signed it. Trust your \
         institution's CA with SSL_CERT_FILE=/path/ca.pem, SSL_CERT_DIR=/path/certs, or \
         `kdb config set ca_file /path/ca.pem` (KDB_CA_FILE)"
    )]
    Untrusted { host: String },
    /// The `proxy` setting is not a proxy URL.
    #[error("cannot use the proxy `{proxy}` (setting `proxy`, KDB_PROXY)")]
    Proxy { proxy: String },
    /// The `ca_file` setting names a file kdb cannot use.
    #[error("cannot use the CA file `{path}` (setting `ca_file`, KDB_CA_FILE): {why}")]
    CaFile { path: String, why: String },
    #[error("timed out {phase} `{url}` (nothing for {:.1} s)", .after.as_secs_f64())]
    Timeout {
        url: Box<Url>,
        /// `connecting to`, `waiting for a response from` or `reading`.
        phase: &'static str,
        after: Duration,
        #[source]
        source: Option<Arc<reqwest::Error>>,
    },
    #[error("cannot reach `{url}`")]
    Unreachable {
        url: Box<Url>,
        #[source]
        source: Arc<reqwest::Error>,
    },
    #[error("HTTP {status} from `{url}`")]
    Http { url: Box<Url>, status: u16 },
    #[error(
        "transfer of `{url}` too slow: {rate:.0} bytes/s over the last {:.1} s (the floor is {limit} bytes/s: low_speed_limit, low_speed_time)",
        .window.as_secs_f64()
    )]
    TooSlow {
        url: Box<Url>,
        /// The measured rate, bytes per second.
        rate: f64,
        limit: u64,
        window: Duration,
    },
    #[error("transfer of `{url}` interrupted after {got} bytes")]
    Interrupted {
        url: Box<Url>,
        got: u64,
        #[source]
        source: Arc<reqwest::Error>,
    },
    #[error("download of `{url}` stopped by Ctrl-C (a partial body is kept and resumes)")]
    Cancelled { url: Box<Url> },
    #[error("truncated download of `{url}`: expected {expected} bytes, got {got}")]
    Truncated {
        url: Box<Url>,
        expected: u64,
        got: u64,
        #[source]
        source: Option<Arc<reqwest::Error>>,
    },
    #[error(
        "`{url}` arrived with {got} bytes, but the server's listing says {listed} \
         (a transfer cut short?)"
    )]
    ListingDisagrees {
        url: Box<Url>,
        listed: String,
        got: u64,
    },
    #[error("`{url}` is longer than expected (more than {limit} bytes)")]
    TooLong { url: Box<Url>, limit: u64 },
    #[error("`{url}` is empty (zero bytes)")]
    Empty { url: Box<Url> },
    #[error("`{url}` is not a kernel: {reason}")]
    NotAKernel { url: Box<Url>, reason: &'static str },
    #[error("refusing `{url}`: its bytes are {what}")]
    WrongType { url: Box<Url>, what: String },
    #[error("refusing `{url}`: broken binary kernel structure: {defect}")]
    BadStructure { url: Box<Url>, defect: String },
    #[error("hash mismatch for `{url}`: expected {expected}, got {actual}")]
    HashMismatch {
        url: Box<Url>,
        expected: Sha256Hex,
        actual: Sha256Hex,
    },
    #[error("redirect loop or more than {max} redirects from `{url}`")]
    RedirectLoop { url: Box<Url>, max: usize },
    #[error(
        "refused redirect from `{from}` to `{to}` (another origin: scheme, host and port must stay, except an upgrade to https)"
    )]
    RedirectRefused { from: Box<Url>, to: Box<Url> },
    #[error("unusable response from `{url}`: {reason}")]
    Protocol { url: Box<Url>, reason: &'static str },
    #[error("unsupported URL `{url}` (only http, https and local file URLs)")]
    Unsupported { url: Box<Url> },
    #[error("failed to {what}")]
    Setup {
        what: &'static str,
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Io(Arc<store::Error>),
}

impl From<store::Error> for FetchError {
    fn from(e: store::Error) -> Self {
        FetchError::Io(Arc::new(e))
    }
}

impl FetchError {
    /// The server says the resource does not exist (404, 410; a missing file for
    /// `file://`). Never true for timeouts or unreachable servers.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FetchError::NotFound { .. })
    }

    /// Worth another attempt: connect errors, timeouts, resets, truncation, 408,
    /// 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Timeout { .. }
            | FetchError::TooSlow { .. }
            | FetchError::Unreachable { .. }
            | FetchError::Interrupted { .. }
            | FetchError::Truncated { .. } => true,
            FetchError::Http { status, .. } => {
                matches!(status, 408 | 429) || (500..600).contains(status)
            }
            _ => false,
        }
    }

    fn setup(what: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        FetchError::Setup {
            what,
            source: Arc::new(e),
        }
    }
}

/// A directory page fetched as a document, parsed.
fn listing_page(
    answer: Result<Conditional, FetchError>,
) -> Result<super::listing::Listing, FetchError> {
    answer.map(|c| match c {
        Conditional::Fetched(f) => {
            super::listing::parse_listing(&String::from_utf8_lossy(&f.bytes))
        }
        Conditional::NotModified => super::listing::parse_listing(""),
    })
}

/// Fetches a small document (metakernel, listing page) into memory, with
/// `If-None-Match` / `If-Modified-Since` from `conditional`, retrying as the module
/// docs say. A directory `file://` URL yields an nginx-style listing page.
pub fn fetch_text(
    cfg: &FetchConfig,
    url: &Url,
    conditional: Option<&Validators>,
) -> Result<Conditional, FetchError> {
    Session::new(cfg).fetch_text(url, conditional)
}

/// Several small fetches sharing one runtime and one HTTP client (connections are
/// reused, TLS is set up once). Both are created on the first `http(s)` request.
pub struct Session {
    cfg: FetchConfig,
}

impl Session {
    pub fn new(cfg: &FetchConfig) -> Self {
        Session { cfg: cfg.clone() }
    }

    pub fn config(&self) -> &FetchConfig {
        &self.cfg
    }

    /// The command's runtime and client, created on first use.
    fn net(&self) -> Result<&(tokio::runtime::Runtime, reqwest::Client), FetchError> {
        self.cfg.net()
    }

    /// [`fetch_text`] through this session.
    pub fn fetch_text(
        &self,
        url: &Url,
        conditional: Option<&Validators>,
    ) -> Result<Conditional, FetchError> {
        self.fetch_text_as(Kind::Document, url, conditional)
    }

    fn fetch_text_as(
        &self,
        kind: Kind,
        url: &Url,
        conditional: Option<&Validators>,
    ) -> Result<Conditional, FetchError> {
        match url.scheme() {
            "file" => local::fetch_text(url, conditional),
            "http" | "https" => {
                let (runtime, client) = self.net()?;
                runtime.block_on(http::fetch_text(client, &self.cfg, kind, url, conditional))
            }
            _ => Err(FetchError::Unsupported {
                url: url.clone().into(),
            }),
        }
    }

    /// A directory's listing page, parsed (a 304 cannot happen: no validators sent).
    pub fn fetch_listing(&self, dir: &Url) -> Result<super::listing::Listing, FetchError> {
        let page = match self.fetch_text_as(Kind::Listing, dir, None)? {
            Conditional::Fetched(f) => String::from_utf8_lossy(&f.bytes).into_owned(),
            Conditional::NotModified => String::new(),
        };
        Ok(super::listing::parse_listing(&page))
    }

    /// Several directories' listing pages at once (at most `jobs_per_host` in flight),
    /// parsed, answers in order: a `get` over eight directories waits one round trip
    /// for them, not eight.
    pub fn fetch_listings(&self, dirs: &[Url]) -> Vec<Result<super::listing::Listing, FetchError>> {
        self.run_in_order(
            dirs,
            |dir| {
                (dir.scheme() != "http" && dir.scheme() != "https").then(|| self.fetch_listing(dir))
            },
            |client, cfg, dir| async move {
                listing_page(http::fetch_text(client, cfg, Kind::Listing, dir, None).await)
            },
        )
    }

    /// A small document and several directories' listings, all in flight together
    /// (a warm `get` asks for the metakernel and the listings its previous copy
    /// names at once: one round trip for all).
    pub fn fetch_text_and_listings(
        &self,
        url: &Url,
        dirs: &[Url],
    ) -> (
        Result<Conditional, FetchError>,
        Vec<Result<super::listing::Listing, FetchError>>,
    ) {
        let remote = |u: &Url| matches!(u.scheme(), "http" | "https");
        let Ok((runtime, client)) = self.net() else {
            return (self.fetch_text(url, None), self.fetch_listings(dirs));
        };
        if !remote(url) || dirs.iter().any(|d| !remote(d)) {
            return (self.fetch_text(url, None), self.fetch_listings(dirs));
        }
        let cfg = &self.cfg;
        runtime.block_on(async {
            use futures_util::StreamExt;
            let listings = futures_util::stream::iter(dirs.iter().map(|d| async move {
                listing_page(http::fetch_text(client, cfg, Kind::Listing, d, None).await)
            }))
            // The document holds one of the host's connections.
            .buffered(cfg.jobs_per_host.saturating_sub(1).max(1))
            .collect::<Vec<_>>();
            futures_util::future::join(
                http::fetch_text(client, cfg, Kind::Document, url, None),
                listings,
            )
            .await
        })
    }

    /// Conditional `HEAD` requests for several URLs at once (at most `jobs_per_host`
    /// in flight), answers in order. No body is transferred.
    pub fn probe_all(&self, items: &[(Url, Validators)]) -> Vec<Result<Probe, FetchError>> {
        self.run_in_order(
            items,
            |(url, v)| match url.scheme() {
                "http" | "https" => None,
                "file" => Some(local::probe(url, v)),
                _ => Some(Err(FetchError::Unsupported {
                    url: url.clone().into(),
                })),
            },
            |client, cfg, (url, v)| http::probe(client, cfg, url, v),
        )
    }

    /// Byte-range reads for several URLs at once (at most `jobs_per_host` in flight),
    /// answers in order ([`RangeReply`]; coverage probes, issue 11).
    pub fn read_ranges(&self, asks: &[RangeAsk]) -> Vec<Result<RangeReply, FetchError>> {
        self.run_in_order(
            asks,
            |a| match a.url.scheme() {
                "http" | "https" => None,
                "file" => Some(range::read_range_local(a)),
                _ => Some(Err(FetchError::Unsupported {
                    url: a.url.clone().into(),
                })),
            },
            range::read_range,
        )
    }

    /// Conditional requests for several URLs at once (at most `jobs_per_host` in
    /// flight), answers in order. A body larger than a small document is not read:
    /// it comes back as [`FetchError::TooLong`], which still says "changed".
    pub fn revalidate_all(
        &self,
        items: &[(Url, Validators)],
    ) -> Vec<Result<Conditional, FetchError>> {
        self.run_in_order(
            items,
            |(url, v)| {
                (url.scheme() != "http" && url.scheme() != "https")
                    .then(|| self.fetch_text_as(Kind::Revalidate, url, Some(v)))
            },
            |client, cfg, (url, v)| http::fetch_text(client, cfg, Kind::Revalidate, url, Some(v)),
        )
    }

    /// The one way a session runs a set of requests: an item `local` can answer (a
    /// `file://` URL, an unsupported scheme) is answered at once; the others go over
    /// HTTP on the session's runtime and client, at most `jobs_per_host` in flight.
    /// Answers come back in the items' order.
    fn run_in_order<'a, I, T, Fut>(
        &'a self,
        items: &'a [I],
        local: impl Fn(&I) -> Option<Result<T, FetchError>>,
        remote: impl Fn(&'a reqwest::Client, &'a FetchConfig, &'a I) -> Fut,
    ) -> Vec<Result<T, FetchError>>
    where
        Fut: std::future::Future<Output = Result<T, FetchError>>,
    {
        let mut out: Vec<Option<Result<T, FetchError>>> = items.iter().map(local).collect();
        let pending: Vec<usize> = (0..items.len()).filter(|&i| out[i].is_none()).collect();
        if !pending.is_empty() {
            match self.net() {
                Ok((runtime, client)) => {
                    let answers = in_order(
                        runtime,
                        self.cfg.jobs_per_host,
                        pending
                            .iter()
                            .map(|&i| remote(client, &self.cfg, &items[i])),
                    );
                    for (i, a) in pending.iter().zip(answers) {
                        out[*i] = Some(a);
                    }
                }
                Err(e) => {
                    for i in pending {
                        out[i] = Some(Err(e.clone()));
                    }
                }
            }
        }
        out.into_iter()
            .map(|o| o.unwrap_or_else(|| unreachable!("every item answered")))
            .collect()
    }
}

/// Downloads all requests in parallel (at most `cfg.jobs_per_host` in flight per
/// host), each streamed into a temp file in `tmp_dir` (same filesystem as the
/// store) through a resumable partial in `partial_dir`, hashed while streaming and
/// checked. Returns one result per request, in order. Requests with the same URL
/// are fetched once; each gets its own staged file (a copy) and its own checks.
pub fn download_all(
    cfg: &FetchConfig,
    tmp_dir: &Path,
    partial_dir: &Path,
    requests: &[DownloadRequest],
    progress: &dyn Progress,
) -> Vec<Result<Downloaded, FetchError>> {
    let groups = group_by_url(requests);
    let expected_bytes = groups.iter().filter_map(|g| g.known_size()).sum();
    progress.total(requests.len() as u64, expected_bytes);
    if requests.is_empty() {
        return Vec::new();
    }
    let setup = start(cfg, tmp_dir, partial_dir);
    let (runtime, client) = match setup {
        Ok(parts) => parts,
        Err(e) => {
            return requests
                .iter()
                .map(|_| {
                    progress.file_done();
                    Err(e.clone())
                })
                .collect();
        }
    };
    let ctx = Arc::new(Context {
        cfg: cfg.clone(),
        client: client.clone(),
        tmp_dir: tmp_dir.to_path_buf(),
        partial_dir: partial_dir.to_path_buf(),
    });
    let mut hosts: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut results: Vec<Option<Result<Downloaded, FetchError>>> =
        requests.iter().map(|_| None).collect();
    crate::interrupt::arm();
    runtime.block_on(async {
        let (tx, mut rx) = unbounded_channel();
        let mut tasks = Vec::with_capacity(groups.len());
        for group in groups {
            let indexes: Vec<usize> = group.members.clone();
            let permits = Arc::clone(
                hosts
                    .entry(host_key(&group.url))
                    .or_insert_with(|| Arc::new(Semaphore::new(cfg.jobs_per_host.max(1)))),
            );
            let members: Vec<(usize, DownloadRequest)> = group
                .members
                .iter()
                .map(|&i| (i, requests[i].clone()))
                .collect();
            let meter = Meter {
                tx: tx.clone(),
                reported: 0,
                sized: group.known_size().is_some(),
            };
            let url = group.url.clone();
            let task = tokio::spawn(run_group(
                Arc::clone(&ctx),
                group.url,
                group.expect,
                members,
                permits,
                meter,
            ));
            tasks.push((task, url, indexes));
        }
        drop(tx);
        report_progress(&mut rx, progress, &tasks).await;
        for (task, url, indexes) in tasks {
            match task.await {
                Ok(done) => {
                    for (i, result) in done {
                        results[i] = Some(result);
                    }
                }
                Err(e) if e.is_cancelled() => {
                    for i in indexes {
                        results[i] = Some(Err(FetchError::Cancelled {
                            url: url.clone().into(),
                        }));
                    }
                }
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
    });
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(FetchError::setup(
                    "finish a download",
                    std::io::Error::other("task ended without a result"),
                ))
            })
        })
        .collect()
}

/// Forwards the transfers' events to `progress` until every task has dropped its
/// sender, or until Ctrl-C: then the transfers in flight are aborted (their partials
/// stay for a `Range` resume) and the finished ones are returned as usual.
async fn report_progress<T>(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    progress: &dyn Progress,
    tasks: &[(tokio::task::JoinHandle<T>, Url, Vec<usize>)],
) {
    let mut tick = tokio::time::interval(INTERRUPT_POLL);
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Some(Event::Bytes(n)) => progress.bytes(n),
                Some(Event::Grow(n)) => progress.grow(n),
                Some(Event::FileDone) => progress.file_done(),
                None => return,
            },
            _ = tick.tick() => {
                if crate::interrupt::requested() {
                    for (task, _, _) in tasks {
                        task.abort();
                    }
                    return;
                }
            }
        }
    }
}

/// How often the download loop looks for a Ctrl-C ([`crate::interrupt`]).
const INTERRUPT_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Blocking threads of the download runtime: enough to overlap file work with the
/// network, few enough not to thrash directory locks.
const BLOCKING_THREADS: usize = 16;

/// Creates the directories, the runtime and the client of one `download_all`.
fn start<'a>(
    cfg: &'a FetchConfig,
    tmp_dir: &Path,
    partial_dir: &Path,
) -> Result<&'a (tokio::runtime::Runtime, reqwest::Client), FetchError> {
    fsio::create_dir_all(tmp_dir)
        .and_then(|()| fsio::create_dir_all(partial_dir))
        .map_err(|e| FetchError::setup("prepare the download directories", e))?;
    cfg.net()
}

/// What every task shares.
struct Context {
    cfg: FetchConfig,
    client: reqwest::Client,
    tmp_dir: PathBuf,
    partial_dir: PathBuf,
}

/// The checks a transfer applies while it runs (the size bound, resume on a short
/// body) and after it (kind, hash).
#[derive(Clone, Debug)]
struct Expect {
    name: String,
    size: Option<u64>,
    sha256: Option<Sha256Hex>,
}

/// Requests sharing one URL.
struct Group {
    url: Url,
    members: Vec<usize>,
    expect: Expect,
    /// The listing's size, when every member agrees on it.
    hint: Option<u64>,
}

impl Group {
    /// The size the transfer should have, for progress: the checked size, else the hint.
    fn known_size(&self) -> Option<u64> {
        self.expect.size.or(self.hint)
    }
}

/// Groups requests by URL, in order of first appearance. The transfer checks what
/// all members agree on; each member is checked on its own afterwards.
fn group_by_url(requests: &[DownloadRequest]) -> Vec<Group> {
    let mut index: HashMap<&Url, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        if let Some(&g) = index.get(&request.url) {
            let group = &mut groups[g];
            group.members.push(i);
            if group.expect.size != request.expected_size {
                group.expect.size = None;
            }
            if group.expect.sha256 != request.expected_sha256 {
                group.expect.sha256 = None;
            }
            if group.hint != request.size_hint {
                group.hint = None;
            }
        } else {
            index.insert(&request.url, groups.len());
            groups.push(Group {
                url: request.url.clone(),
                members: vec![i],
                expect: Expect {
                    name: request.name.clone(),
                    size: request.expected_size,
                    sha256: request.expected_sha256.clone(),
                },
                hint: request.size_hint,
            });
        }
    }
    groups
}

/// The concurrency bucket of a URL: scheme-independent host and port.
fn host_key(url: &Url) -> String {
    match url.host_str() {
        Some(host) => format!("{host}:{}", url.port_or_known_default().unwrap_or(0)),
        None => url.scheme().to_owned(),
    }
}

enum Event {
    Bytes(u64),
    Grow(u64),
    FileDone,
}

/// Reports a transfer's position as byte increments, never counting a byte twice.
struct Meter {
    tx: UnboundedSender<Event>,
    reported: u64,
    /// The transfer's size was part of the announced total.
    sized: bool,
}

impl Meter {
    /// The transfer learnt its total size: announce it once, unless it was known.
    fn learnt_size(&mut self, total: u64) {
        if !self.sized {
            self.sized = true;
            self.tx.send(Event::Grow(total)).ok();
        }
    }

    fn at(&mut self, position: u64) {
        if position > self.reported {
            // The receiver outlives every task; a send cannot fail.
            self.tx.send(Event::Bytes(position - self.reported)).ok();
            self.reported = position;
        }
    }

    fn file_done(&self) {
        self.tx.send(Event::FileDone).ok();
    }
}

/// What one transfer produced.
struct Transfer {
    staged: Staged,
    head: Vec<u8>,
    final_url: Url,
    served_by: Option<Url>,
    validators: Validators,
}

async fn run_group(
    ctx: Arc<Context>,
    url: Url,
    expect: Expect,
    members: Vec<(usize, DownloadRequest)>,
    permits: Arc<Semaphore>,
    mut meter: Meter,
) -> Vec<(usize, Result<Downloaded, FetchError>)> {
    let transfer = match url.scheme() {
        "http" | "https" => transfer_http(&ctx, &url, &expect, &permits, &mut meter).await,
        "file" => {
            let ctx = Arc::clone(&ctx);
            let task_url = url.clone();
            let limit = expect.size;
            let permit = permits.acquire_owned().await;
            let local = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let result = local::download(&task_url, &ctx.tmp_dir, limit, &mut meter);
                (result, meter)
            });
            match local.await {
                Ok((result, returned)) => {
                    meter = returned;
                    result.map(|(staged, head, validators)| Transfer {
                        staged,
                        head,
                        final_url: url.clone(),
                        served_by: None,
                        validators,
                    })
                }
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        _ => Err(FetchError::Unsupported {
            url: url.clone().into(),
        }),
    };
    let results = deliver(&ctx.tmp_dir, transfer, members);
    for (_, result) in &results {
        if let Ok(d) = result {
            tracing::info!(url = %url, bytes = d.staged.len(), "download complete");
        }
        meter.file_done();
    }
    results
}

async fn transfer_http(
    ctx: &Context,
    url: &Url,
    expect: &Expect,
    permits: &Semaphore,
    meter: &mut Meter,
) -> Result<Transfer, FetchError> {
    let opened = {
        let (partial_dir, tmp_dir, url) =
            (ctx.partial_dir.clone(), ctx.tmp_dir.clone(), url.clone());
        // Re-hashing a large partial is blocking work.
        tokio::task::spawn_blocking(move || Partial::open(&partial_dir, &tmp_dir, &url)).await
    };
    let mut partial = match opened {
        Ok(result) => result?,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    meter.at(partial.len());
    let outcome = http::download(
        &ctx.client,
        &ctx.cfg,
        url,
        expect,
        permits,
        &mut partial,
        meter,
    )
    .await;
    match outcome {
        Ok(http::Served {
            final_url,
            served_by,
            validators,
        }) => {
            let tmp_dir = ctx.tmp_dir.clone();
            let finished = tokio::task::spawn_blocking(move || partial.finish(&tmp_dir)).await;
            let (staged, head) = match finished {
                Ok(result) => result?,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            Ok(Transfer {
                staged,
                head,
                final_url,
                served_by,
                validators,
            })
        }
        Err(e) => {
            if e.is_retryable() {
                partial.keep();
            } else {
                partial.discard();
            }
            Err(e)
        }
    }
}

/// Checks the transfer against each member's own expectations and hands out the
/// staged file: the last member that passes gets it, earlier ones get copies.
fn deliver(
    tmp_dir: &Path,
    transfer: Result<Transfer, FetchError>,
    members: Vec<(usize, DownloadRequest)>,
) -> Vec<(usize, Result<Downloaded, FetchError>)> {
    let Transfer {
        staged,
        head,
        final_url,
        served_by,
        validators,
    } = match transfer {
        Ok(t) => t,
        Err(e) => {
            return members
                .into_iter()
                .map(|(i, _)| (i, Err(e.clone())))
                .collect();
        }
    };
    let checks: Vec<Result<(), FetchError>> = members
        .iter()
        .map(|(_, request)| {
            check_content(
                &request.url,
                &request.name,
                request.expected_size,
                request.expected_sha256.as_ref(),
                &Body {
                    path: staged.path(),
                    len: staged.len(),
                    sha256: staged.sha256(),
                },
                &head,
            )
        })
        .collect();
    let last_ok = checks.iter().rposition(Result::is_ok);
    let mut original = Some(staged);
    let mut results = Vec::with_capacity(members.len());
    for (k, ((i, _), check)) in members.into_iter().zip(checks).enumerate() {
        let staged = check.and_then(|()| match original.take() {
            Some(staged) if Some(k) == last_ok => Ok(staged),
            Some(staged) => {
                let copy = copy_staged(tmp_dir, &staged);
                original = Some(staged);
                copy
            }
            None => Err(FetchError::setup(
                "deliver a download",
                std::io::Error::other("staged file already handed out"),
            )),
        });
        let result = staged.map(|staged| Downloaded {
            request_index: i,
            final_url: final_url.clone(),
            served_by: served_by.clone(),
            staged,
            validators: validators.clone(),
        });
        results.push((i, result));
    }
    results
}

/// An independent copy of staged bytes (re-hashed, so the copy is verified too).
fn copy_staged(tmp_dir: &Path, staged: &Staged) -> Result<Staged, FetchError> {
    let path = staged.path();
    let mut source = File::open(path).map_err(|e| store::Error::io("open", path, e))?;
    let copy = fsio::stage(tmp_dir, &mut source, &mut |_| {})?;
    copy.verify(
        &path.display().to_string(),
        Some(staged.len()),
        Some(staged.sha256()),
    )?;
    Ok(copy)
}

/// The download error for bytes at `path`, fetched from `url`, that the kernel
/// gate refused ([`crate::integrity::refusal`]).
pub fn refusal_error(url: Url, path: &Path, refusal: Refusal) -> FetchError {
    let url = Box::new(url);
    match refusal {
        Refusal::NotKernel(reason) => FetchError::NotAKernel { url, reason },
        Refusal::WrongType(what) => FetchError::WrongType { url, what },
        Refusal::Structure(d) => FetchError::BadStructure {
            url,
            defect: d.to_string(),
        },
        Refusal::Io(e) => store::Error::io("read", path, e).into(),
    }
}

/// A received body: the file holding it, its length and hash.
struct Body<'a> {
    path: &'a Path,
    len: u64,
    sha256: &'a Sha256Hex,
}

/// The checks every delivered body passes: not empty, a kernel of the format its
/// name promises, the size and hash the caller expects, and — for a binary kernel —
/// a DAF/DAS structure that agrees with its length ([`crate::integrity::daf`]).
fn check_content(
    url: &Url,
    name: &str,
    expected_size: Option<u64>,
    expected_sha256: Option<&Sha256Hex>,
    body: &Body<'_>,
    head: &[u8],
) -> Result<(), FetchError> {
    let (len, sha256) = (body.len, body.sha256);
    let url = || url.clone();
    if len == 0 {
        return Err(FetchError::Empty { url: url().into() });
    }
    let refused = |r: Refusal| refusal_error(url(), body.path, r);
    let detection = crate::integrity::kind_refusal(head, name, len).map_err(refused)?;
    if let Some(expected) = expected_size {
        if len < expected {
            return Err(FetchError::Truncated {
                url: url().into(),
                expected,
                got: len,
                source: None,
            });
        }
        if len > expected {
            return Err(FetchError::TooLong {
                url: url().into(),
                limit: expected,
            });
        }
    }
    if let Some(expected) = expected_sha256
        && expected != sha256
    {
        return Err(FetchError::HashMismatch {
            url: url().into(),
            expected: expected.clone(),
            actual: sha256.clone(),
        });
    }
    let path = body.path;
    let file = File::open(path).map_err(|e| store::Error::io("open", path, e))?;
    crate::integrity::structure_refusal(&file, &detection, len).map_err(refused)
}

/// ` (HTTP 404)` for a server's answer; nothing for a local file (status 0).
fn http_status(status: u16) -> String {
    if status == 0 {
        String::new()
    } else {
        format!(" (HTTP {status})")
    }
}
/// Runs `requests` on `runtime`, at most `jobs` in flight, and returns their answers
/// in the requests' order: the one way kdb runs a set of network requests (a
/// [`Session`]'s HTTP requests, the team store's lookups, claims and uploads).
pub fn in_order<F: std::future::Future>(
    runtime: &tokio::runtime::Runtime,
    jobs: usize,
    requests: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    use futures_util::StreamExt;
    runtime.block_on(
        futures_util::stream::iter(requests)
            .buffered(jobs.max(1))
            .collect(),
    )
}
