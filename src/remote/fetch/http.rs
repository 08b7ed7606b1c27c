//! The HTTP side: one `reqwest::Client`, redirects followed (and vetted) by hand,
//! credentials sent to their origin, response classification, retries with backoff,
//! bodies streamed chunk by chunk under an idle-read timeout and a speed floor.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::sync::Semaphore;
use url::Url;

use super::partial::{Partial, Sidecar};
use super::{
    Conditional, Expect, FetchConfig, FetchError, Fetched, Kind, Meter, Validators, check_content,
};
use crate::remote::auth;
use crate::store;

/// Sent with every request.
pub(super) const USER_AGENT: &str = concat!("kdb/", env!("CARGO_PKG_VERSION"));

/// The longest `Retry-After` honoured; a server asking for more gets this.
pub(super) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The longest backoff between two attempts, whatever `backoff_base` says.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Largest document [`fetch_text`] keeps in memory.
pub(super) const MAX_TEXT_LEN: u64 = 64 << 20;

/// A failed attempt: the error and the server's `Retry-After`, if any.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) error: FetchError,
    pub(super) retry_after: Option<Duration>,
}

impl From<FetchError> for Failure {
    fn from(error: FetchError) -> Self {
        Failure {
            error,
            retry_after: None,
        }
    }
}

impl From<store::Error> for Failure {
    fn from(error: store::Error) -> Self {
        FetchError::from(error).into()
    }
}

pub(super) fn client(cfg: &FetchConfig) -> Result<reqwest::Client, FetchError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        // Followed by hand in `send`, so that every hop is vetted.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(cfg.connect_timeout)
        .pool_max_idle_per_host(cfg.jobs_per_host.max(1));
    for cert in ca_certificates(cfg)? {
        builder = builder.add_root_certificate(cert);
    }
    if let Some(proxy) = &cfg.proxy {
        builder = builder.proxy(
            reqwest::Proxy::all(proxy)
                .map_err(|_| FetchError::Proxy {
                    proxy: auth::redact_text(proxy),
                })?
                .no_proxy(reqwest::NoProxy::from_env()),
        );
    }
    builder
        .build()
        .map_err(|e| FetchError::setup("create the HTTP client", e))
}

/// The certificates of the `ca_file` setting (none when unset).
pub(super) fn ca_certificates(cfg: &FetchConfig) -> Result<Vec<reqwest::Certificate>, FetchError> {
    let Some(path) = &cfg.ca_file else {
        return Ok(Vec::new());
    };
    let pem = std::fs::read(path).map_err(|e| FetchError::CaFile {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| FetchError::CaFile {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    if certs.is_empty() {
        return Err(FetchError::CaFile {
            path: path.display().to_string(),
            why: "it holds no PEM certificate".into(),
        });
    }
    Ok(certs)
}

/// How long to wait before attempt `attempt + 1`: exponential from
/// `backoff_base` with ±50 % jitter, at least what `Retry-After` asked (capped).
pub(super) fn backoff(cfg: &FetchConfig, attempt: u32, retry_after: Option<Duration>) -> Duration {
    use std::hash::BuildHasher;
    let exp = cfg
        .backoff_base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    // Randomly keyed per call: enough jitter to spread clients, no RNG dependency.
    let random = std::hash::RandomState::new().hash_one(attempt);
    let fraction = (random >> 11) as f64 / (1u64 << 53) as f64;
    let jittered = exp.mul_f64(0.5 + fraction);
    jittered.max(retry_after.map_or(Duration::ZERO, |r| r.min(MAX_RETRY_AFTER)))
}

/// `Retry-After` as delta-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds.min(MAX_RETRY_AFTER.as_secs())));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = at.signed_duration_since(chrono::Utc::now());
    Some(
        delta
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

pub(super) fn validators(headers: &HeaderMap) -> Validators {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    Validators {
        etag: text(header::ETAG),
        last_modified: text(header::LAST_MODIFIED),
    }
}

/// A response whose headers arrived, after any redirects.
pub(super) struct Sent {
    pub(super) response: reqwest::Response,
    /// The URL after redirects, in the primary's form when a mirror answered.
    pub(super) final_url: Url,
    /// The mirror URL that answered, when one did ([`crate::remote::failover`]).
    pub(super) served_by: Option<Url>,
}

/// A redirect may only stay on the same origin (scheme, host and port), or upgrade
/// `http://host` to `https://host` on the default ports; it never leaves https.
fn vet_redirect(from: &Url, to: &Url) -> Result<(), FetchError> {
    let same_host = from.host_str() == to.host_str() && to.host_str().is_some();
    let same_origin = from.scheme() == to.scheme()
        && matches!(to.scheme(), "http" | "https")
        && from.port_or_known_default() == to.port_or_known_default();
    let upgrade = from.scheme() == "http"
        && to.scheme() == "https"
        && from.port().is_none()
        && to.port().is_none();
    if same_host && (same_origin || upgrade) {
        Ok(())
    } else {
        Err(FetchError::RedirectRefused {
            from: from.clone().into(),
            to: to.clone().into(),
        })
    }
}

/// GETs `url` with `headers`, following at most `max_redirects` vetted redirects.
pub(super) async fn send(
    client: &reqwest::Client,
    cfg: &FetchConfig,
    kind: Kind,
    url: &Url,
    headers: &HeaderMap,
) -> Result<Sent, Failure> {
    send_with(client, cfg, kind, reqwest::Method::GET, url, headers).await
}

/// [`send`] with another method (`HEAD` for probes). A URL of a mission with
/// mirrors goes to the host its requests use now; a host that refuses, times out or
/// answers 5xx moves them to the next mirror for the rest of the command, and this
/// request is asked again there (not counted as an attempt).
async fn send_with(
    client: &reqwest::Client,
    cfg: &FetchConfig,
    kind: Kind,
    method: reqwest::Method,
    url: &Url,
    headers: &HeaderMap,
) -> Result<Sent, Failure> {
    loop {
        let target = cfg.failover.target(url);
        let result = send_to(client, cfg, kind, method.clone(), &target.url, headers).await;
        let why = match &result {
            Err(failure) if host_failed(&failure.error) => Some(failure.error.to_string()),
            Ok(sent) if sent.response.status().is_server_error() => {
                Some(format!("HTTP {}", sent.response.status()))
            }
            _ => None,
        };
        if let Some(why) = why
            && cfg.failover.has_next(&target)
        {
            if let Some(moved) = cfg.failover.failed(&target) {
                cfg.failover.announce(&moved, &why);
            }
            continue;
        }
        return result.map(|mut sent| {
            if target.is_mirror() {
                let primary = cfg.failover.to_primary(&target, &sent.final_url);
                sent.served_by = Some(std::mem::replace(&mut sent.final_url, primary));
            }
            sent
        });
    }
}

/// A failure that says the host is not serving (as opposed to this file's fault).
fn host_failed(e: &FetchError) -> bool {
    match e {
        FetchError::Unreachable { .. } | FetchError::Timeout { .. } => true,
        FetchError::Interrupted { got, .. } => *got == 0,
        _ => false,
    }
}

/// [`send_with`] to exactly `url`, following vetted redirects.
async fn send_to(
    client: &reqwest::Client,
    cfg: &FetchConfig,
    kind: Kind,
    method: reqwest::Method,
    url: &Url,
    headers: &HeaderMap,
) -> Result<Sent, Failure> {
    let mut current = url.clone();
    let mut visited = vec![url.clone()];
    loop {
        cfg.requests.count(kind);
        let mut request = client
            .request(method.clone(), current.clone())
            .headers(headers.clone());
        // Redirects stay on the origin (or upgrade it to https): the first URL's
        // credentials may follow.
        if let Some(value) = auth::authorization(&current).or_else(|| auth::authorization(url)) {
            request = request.header(header::AUTHORIZATION, value);
        }
        let request = request.send();
        let wait = cfg.connect_timeout.saturating_add(cfg.read_timeout);
        let response = match tokio::time::timeout(wait, request).await {
            Err(_elapsed) => {
                return Err(FetchError::Timeout {
                    url: current.into(),
                    phase: "waiting for a response from",
                    after: cfg.read_timeout,
                    source: None,
                }
                .into());
            }
            Ok(Err(e)) => return Err(classify_send_error(&current, cfg, e).into()),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
            return Ok(Sent {
                response,
                final_url: current,
                served_by: None,
            });
        }
        let next = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| current.join(location).ok())
            .ok_or_else(|| FetchError::Protocol {
                url: current.clone().into(),
                reason: "redirect without a usable `Location`",
            })?;
        vet_redirect(&current, &next)?;
        // Userinfo in a `Location` is the server's, never used nor recorded.
        let next = auth::without_userinfo(&next);
        if visited.len() > cfg.max_redirects || visited.contains(&next) {
            return Err(FetchError::RedirectLoop {
                url: url.clone().into(),
                max: cfg.max_redirects,
            }
            .into());
        }
        visited.push(next.clone());
        current = next;
    }
}

fn classify_send_error(url: &Url, cfg: &FetchConfig, e: reqwest::Error) -> FetchError {
    let url: Box<Url> = url.clone().into();
    if e.is_timeout() {
        let (phase, after) = if e.is_connect() {
            ("connecting to", cfg.connect_timeout)
        } else {
            ("waiting for a response from", cfg.read_timeout)
        };
        FetchError::Timeout {
            url,
            phase,
            after,
            source: Some(Arc::new(e)),
        }
    } else if untrusted(&e) {
        FetchError::Untrusted {
            host: url.host_str().unwrap_or_default().to_owned(),
        }
    } else if e.is_connect() {
        FetchError::Unreachable {
            url,
            source: Arc::new(e),
        }
    } else {
        FetchError::Interrupted {
            url,
            got: 0,
            source: Arc::new(e),
        }
    }
}

/// The TLS handshake failed because no trusted authority signed the server's
/// certificate (rustls: `UnknownIssuer`).
fn untrusted(e: &reqwest::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = format!("{err:?}");
        if text.contains("UnknownIssuer") {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The error for a final status other than the ones the caller handles.
pub(super) fn status_failure(url: &Url, response: &reqwest::Response) -> Failure {
    let status = response.status().as_u16();
    let error = match status {
        404 | 410 => FetchError::NotFound {
            url: url.clone().into(),
            status,
        },
        403 => FetchError::Forbidden {
            url: url.clone().into(),
        },
        _ => FetchError::Http {
            url: url.clone().into(),
            status,
        },
    };
    Failure {
        error,
        retry_after: retry_after(response.headers()),
    }
}

/// The speed floor of one response body ([`super::SpeedFloor`]) as a fetch error.
pub(super) struct Pace(super::SpeedFloor);

impl Pace {
    /// A pace starting now.
    pub(super) fn new(cfg: &FetchConfig) -> Pace {
        Pace(super::SpeedFloor::new(
            cfg.low_speed_limit,
            cfg.low_speed_time,
        ))
    }

    fn deadline(&self) -> Option<tokio::time::Instant> {
        self.0.deadline()
    }

    /// Counts `n` bytes, then checks the window.
    fn add(&mut self, n: usize, url: &Url) -> Result<(), FetchError> {
        self.0.count(n as u64);
        self.check(url)
    }

    fn check(&mut self, url: &Url) -> Result<(), FetchError> {
        match self.0.judge() {
            None => Ok(()),
            Some((rate, window)) => Err(FetchError::TooSlow {
                url: url.clone().into(),
                rate,
                limit: self.0.limit(),
                window,
            }),
        }
    }
}

/// The next body chunk, within the idle-read timeout and above the speed floor
/// (`pace`). `got` and `total` (bytes of the whole file so far and expected)
/// describe an interruption.
pub(super) async fn next_chunk(
    response: &mut reqwest::Response,
    url: &Url,
    cfg: &FetchConfig,
    pace: &mut Pace,
    got: u64,
    total: Option<u64>,
) -> Result<Option<impl Deref<Target = [u8]> + use<>>, FetchError> {
    let timeout = |source| FetchError::Timeout {
        url: url.clone().into(),
        phase: "reading",
        after: cfg.read_timeout,
        source,
    };
    let idle_deadline = tokio::time::Instant::now() + cfg.read_timeout;
    loop {
        let deadline = pace
            .deadline()
            .map_or(idle_deadline, |d| d.min(idle_deadline));
        // `chunk` is cancel-safe: a deadline in the middle loses no bytes.
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Err(_elapsed) if tokio::time::Instant::now() >= idle_deadline => {
                return Err(timeout(None));
            }
            Err(_elapsed) => pace.check(url)?,
            // The end of the body: a transfer that completed is never too slow.
            Ok(Ok(None)) => return Ok(None),
            Ok(Ok(Some(chunk))) => {
                pace.add(chunk.len(), url)?;
                return Ok(Some(chunk));
            }
            Ok(Err(e)) if e.is_timeout() => return Err(timeout(Some(Arc::new(e)))),
            Ok(Err(e)) => {
                return Err(match total {
                    Some(expected) => FetchError::Truncated {
                        url: url.clone().into(),
                        expected,
                        got,
                        source: Some(Arc::new(e)),
                    },
                    None => FetchError::Interrupted {
                        url: url.clone().into(),
                        got,
                        source: Arc::new(e),
                    },
                });
            }
        }
    }
}

/// [`super::fetch_text`] for http(s).
pub(super) async fn fetch_text(
    client: &reqwest::Client,
    cfg: &FetchConfig,
    kind: Kind,
    url: &Url,
    conditional: Option<&Validators>,
) -> Result<Conditional, FetchError> {
    let mut headers = HeaderMap::new();
    if let Some(v) = conditional {
        let value = |s: &Option<String>| s.as_deref().and_then(|s| HeaderValue::from_str(s).ok());
        if let Some(etag) = value(&v.etag) {
            headers.insert(header::IF_NONE_MATCH, etag);
        }
        if let Some(date) = value(&v.last_modified) {
            headers.insert(header::IF_MODIFIED_SINCE, date);
        }
    }
    let conditional = !headers.is_empty();
    let mut n = 1;
    loop {
        match fetch_text_once(client, cfg, kind, url, &headers, conditional).await {
            Ok(value) => return Ok(value),
            Err(Failure { error, retry_after }) if error.is_retryable() && n < cfg.attempts => {
                tracing::debug!(attempt = n, "retrying: {}", crate::error_chain(&error));
                tokio::time::sleep(backoff(cfg, n, retry_after)).await;
                n += 1;
            }
            Err(failure) => return Err(failure.error),
        }
    }
}

async fn fetch_text_once(
    client: &reqwest::Client,
    cfg: &FetchConfig,
    kind: Kind,
    url: &Url,
    headers: &HeaderMap,
    conditional: bool,
) -> Result<Conditional, Failure> {
    let Sent {
        mut response,
        final_url,
        ..
    } = send(client, cfg, kind, url, headers).await?;
    match response.status() {
        StatusCode::NOT_MODIFIED if conditional => return Ok(Conditional::NotModified),
        StatusCode::OK => {}
        _ => return Err(status_failure(url, &response)),
    }
    let validators = validators(response.headers());
    let declared = response.content_length();
    let too_long = || FetchError::TooLong {
        url: url.clone().into(),
        limit: MAX_TEXT_LEN,
    };
    if declared.is_some_and(|n| n > MAX_TEXT_LEN) {
        return Err(too_long().into());
    }
    let capacity = usize::try_from(declared.unwrap_or(0)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    let mut pace = Pace::new(cfg);
    while let Some(chunk) = next_chunk(
        &mut response,
        url,
        cfg,
        &mut pace,
        bytes.len() as u64,
        declared,
    )
    .await?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > MAX_TEXT_LEN {
            return Err(too_long().into());
        }
    }
    let size = bytes.len() as u64;
    if let Some(expected) = declared
        && size < expected
    {
        return Err(FetchError::Truncated {
            url: url.clone().into(),
            expected,
            got: size,
            source: None,
        }
        .into());
    }
    if bytes.is_empty() {
        return Err(FetchError::Empty {
            url: url.clone().into(),
        }
        .into());
    }
    Ok(Conditional::Fetched(Fetched {
        bytes,
        final_url,
        validators,
        size,
    }))
}

/// [`super::Session::probe_all`] for http(s): a conditional `HEAD` (no body is
/// ever transferred), retried like every request.
pub(super) async fn probe(
    client: &reqwest::Client,
    cfg: &FetchConfig,
    url: &Url,
    before: &Validators,
) -> Result<super::Probe, FetchError> {
    let mut headers = HeaderMap::new();
    conditional_headers(&mut headers, before);
    let mut n = 1;
    loop {
        let attempt = async {
            let sent = send_with(
                client,
                cfg,
                Kind::Probe,
                reqwest::Method::HEAD,
                url,
                &headers,
            )
            .await?;
            match sent.response.status() {
                StatusCode::NOT_MODIFIED => Ok(super::Probe::NotModified),
                StatusCode::OK => Ok(super::Probe::Modified {
                    validators: validators(sent.response.headers()),
                    size: sent.response.content_length(),
                }),
                _ => Err(status_failure(url, &sent.response)),
            }
        };
        match attempt.await {
            Ok(p) => return Ok(p),
            Err(Failure { error, retry_after }) if error.is_retryable() && n < cfg.attempts => {
                tokio::time::sleep(backoff(cfg, n, retry_after)).await;
                n += 1;
            }
            Err(failure) => return Err(failure.error),
        }
    }
}

/// Downloads `url` into `partial`, resuming and retrying, each attempt under one of
/// the host's `permits`; on success the bytes have passed [`check_content`] against
/// `expect`. Returns the final URL, the mirror that served it (if one did) and the
/// validators. On failure the caller decides what becomes of the partial.
pub(super) async fn download(
    client: &reqwest::Client,
    cfg: &FetchConfig,
    url: &Url,
    expect: &Expect,
    permits: &Semaphore,
    partial: &mut Partial,
    meter: &mut Meter,
) -> Result<Served, FetchError> {
    let mut n = 1;
    loop {
        let outcome = {
            let _permit = permits.acquire().await;
            download_once(client, cfg, url, expect, partial, meter).await
        };
        let mut restarted = false;
        let failure = match outcome {
            // A mirror's bytes that fail are named by the mirror's URL.
            Ok(done) => match check_content(
                done.served_by.as_ref().unwrap_or(url),
                &expect.name,
                expect.size,
                expect.sha256.as_ref(),
                &super::Body {
                    path: partial.path(),
                    len: partial.len(),
                    sha256: &partial.sha256(),
                },
                partial.head(),
            ) {
                Ok(()) => return Ok(done),
                // Bytes continued from an earlier response (maybe another run's)
                // are suspect when the whole fails its checks: start over.
                Err(error) if !error.is_retryable() && partial.resumed() => {
                    partial.reset()?;
                    restarted = true;
                    Failure::from(error)
                }
                Err(error) => Failure::from(error),
            },
            Err(failure) => failure,
        };
        let retry = failure.error.is_retryable() || restarted;
        if !retry || n >= cfg.attempts {
            return Err(failure.error);
        }
        tracing::debug!(
            attempt = n,
            "retrying: {}",
            crate::error_chain(&failure.error)
        );
        tokio::time::sleep(backoff(cfg, n, failure.retry_after)).await;
        n += 1;
    }
}

async fn download_once(
    client: &reqwest::Client,
    cfg: &FetchConfig,
    url: &Url,
    expect: &Expect,
    partial: &mut Partial,
    meter: &mut Meter,
) -> Result<Served, Failure> {
    let mut may_resume = true;
    let (mut response, final_url, served_by, total) = loop {
        let mut headers = HeaderMap::new();
        let resume = if may_resume {
            partial.resume_point()
        } else {
            None
        };
        if resume.is_none() && partial.len() > 0 {
            partial.reset()?;
        }
        if let Some((offset, validator)) = &resume {
            let range = HeaderValue::from_str(&format!("bytes={offset}-"));
            let if_range = HeaderValue::from_str(validator);
            if let (Ok(range), Ok(if_range)) = (range, if_range) {
                headers.insert(header::RANGE, range);
                headers.insert(header::IF_RANGE, if_range);
            } else {
                may_resume = false;
                continue;
            }
        }
        let Sent {
            response,
            final_url,
            served_by,
        } = send(client, cfg, Kind::Download, url, &headers).await?;
        let got = validators(response.headers());
        match (response.status(), &resume) {
            (StatusCode::PARTIAL_CONTENT, Some((offset, _))) => {
                match usable_range(&response, *offset, partial.meta(), &got) {
                    Some(total) => {
                        partial.mark_resumed();
                        let meta = Sidecar {
                            size: Some(total),
                            ..partial.meta().clone()
                        };
                        partial.record(meta)?;
                        break (response, final_url, served_by, Some(total));
                    }
                    None => may_resume = false,
                }
            }
            (StatusCode::RANGE_NOT_SATISFIABLE, Some(_)) => may_resume = false,
            (StatusCode::OK, _) => {
                // A full answer (a server ignoring `Range`, or a changed file):
                // start over from zero.
                if partial.len() > 0 {
                    partial.reset()?;
                }
                let total = response.content_length();
                partial.record(Sidecar {
                    url: url.to_string(),
                    etag: got.etag,
                    last_modified: got.last_modified,
                    size: total,
                })?;
                break (response, final_url, served_by, total);
            }
            _ => return Err(status_failure(url, &response)),
        }
    };
    let validators = partial.meta().validators();
    if let Some(total) = total {
        meter.learnt_size(total);
    }
    let limit = expect.size.into_iter().chain(total).min();
    let mut pace = Pace::new(cfg);
    while let Some(chunk) =
        next_chunk(&mut response, url, cfg, &mut pace, partial.len(), total).await?
    {
        partial.append(&chunk)?;
        meter.at(partial.len());
        if let Some(limit) = limit
            && partial.len() > limit
        {
            return Err(FetchError::TooLong {
                url: url.clone().into(),
                limit,
            }
            .into());
        }
    }
    if let Some(expected) = total
        && partial.len() < expected
    {
        return Err(FetchError::Truncated {
            url: url.clone().into(),
            expected,
            got: partial.len(),
            source: None,
        }
        .into());
    }
    Ok(Served {
        final_url,
        served_by,
        validators,
    })
}

/// What a finished [`download`] was answered by.
pub(super) struct Served {
    /// The URL after redirects (in the primary's form).
    pub(super) final_url: Url,
    /// The mirror URL that served the last attempt, when one did.
    pub(super) served_by: Option<Url>,
    pub(super) validators: Validators,
}

/// For a `206` answer to `Range: bytes={offset}-`: the total size, if the answer
/// continues exactly the bytes held (same start, same representation).
fn usable_range(
    response: &reqwest::Response,
    offset: u64,
    held: &Sidecar,
    got: &Validators,
) -> Option<u64> {
    let value = response
        .headers()
        .get(header::CONTENT_RANGE)?
        .to_str()
        .ok()?;
    let (start, total) = parse_content_range(value)?;
    let same_etag = match (&held.etag, &got.etag) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    let same_size = held.size.is_none_or(|size| size == total);
    (start == offset && same_etag && same_size).then_some(total)
}

/// `bytes S-E/T` → (S, E, T), strictly.
pub(super) fn parse_content_range_full(value: &str) -> Option<(u64, u64, u64)> {
    let spec = value.trim().strip_prefix("bytes ")?;
    let (range, total) = spec.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    let total: u64 = total.trim().parse().ok()?;
    (start <= end && end < total).then_some((start, end, total))
}

/// `bytes START-END/TOTAL` → (START, TOTAL).
fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    parse_content_range_full(value).map(|(start, _, total)| (start, total))
}

/// `If-None-Match` and `If-Modified-Since` from the validators recorded earlier (a
/// value no header can carry is left out).
pub(super) fn conditional_headers(headers: &mut HeaderMap, before: &Validators) {
    let value = |s: &Option<String>| s.as_deref().and_then(|s| HeaderValue::from_str(s).ok());
    if let Some(etag) = value(&before.etag) {
        headers.insert(header::IF_NONE_MATCH, etag);
    }
    if let Some(date) = value(&before.last_modified) {
        headers.insert(header::IF_MODIFIED_SINCE, date);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_forms() {
        assert_eq!(parse_content_range("bytes 10-99/100"), Some((10, 100)));
        assert_eq!(parse_content_range("bytes 10-99/*"), None);
        assert_eq!(parse_content_range("bytes */100"), None);
        assert_eq!(parse_content_range("bytes 10-100/100"), None);
    }

    #[test]
    fn redirects_stay_on_host_and_never_downgrade() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(vet_redirect(&u("http://a/x"), &u("https://a/y")).is_ok());
        assert!(vet_redirect(&u("https://a/x"), &u("https://a/y")).is_ok());
        assert!(vet_redirect(&u("https://a/x"), &u("http://a/y")).is_err());
        assert!(vet_redirect(&u("http://a/x"), &u("http://b/x")).is_err());
        assert!(vet_redirect(&u("http://a/x"), &u("file:///etc/passwd")).is_err());
        // An origin is scheme + host + port.
        assert!(vet_redirect(&u("http://a:8000/x"), &u("http://a:8000/y")).is_ok());
        assert!(vet_redirect(&u("http://a:8000/x"), &u("http://a:8001/x")).is_err());
        assert!(vet_redirect(&u("http://a/x"), &u("http://a:8080/x")).is_err());
        assert!(vet_redirect(&u("http://a:8000/x"), &u("https://a:8443/x")).is_err());
    }

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        let cfg = FetchConfig {
            backoff_base: Duration::from_millis(100),
            ..FetchConfig::default()
        };
        for attempt in 1..5 {
            let d = backoff(&cfg, attempt, None);
            let exp = 100u64 << (attempt - 1);
            assert!(d >= Duration::from_millis(exp / 2), "{d:?}");
            assert!(d <= Duration::from_millis(exp * 3 / 2), "{d:?}");
        }
        let d = backoff(&cfg, 1, Some(Duration::from_secs(5)));
        assert!(d >= Duration::from_secs(5));
        let d = backoff(&cfg, 1, Some(Duration::from_secs(3600)));
        assert!(d <= MAX_RETRY_AFTER.max(MAX_BACKOFF));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("99999"));
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }
}
