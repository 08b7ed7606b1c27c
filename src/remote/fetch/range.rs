//! Byte-range reads for coverage probes (issue 11): `Range: bytes=S-E` over http(s),
//! a seek over `file://`.
//!
//! What a range read guarantees, whatever the server does:
//!
//! - **Exactly the bytes asked, or a refusal.** A `206` is accepted only when its
//!   `Content-Range` is `bytes S-E/T` with `S` the offset asked, `E` the last byte
//!   asked (or `T − 1` when the file ends first) and a numeric `T`; its body must be
//!   exactly `E − S + 1` bytes (more is refused as soon as it is seen, fewer is a
//!   truncation). Anything else is [`FetchError::Protocol`].
//! - **A server that ignores `Range`** (`200` with the whole file) is answered with
//!   [`RangeReply::Ignored`]; the body is never read — the response is dropped at
//!   once, which closes the connection after at most what was already in flight.
//! - `416` is [`RangeReply::Unsatisfiable`]; `304` (the validators sent still match)
//!   is [`RangeReply::NotModified`].
//! - Redirects, retries and timeouts are those of every request (`http.rs`): same
//!   host only, never from https to http.

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

use super::http::{
    Failure, Pace, backoff, next_chunk, parse_content_range_full, send, status_failure, validators,
};
use super::{FetchConfig, FetchError, Validators};

/// One range to read: `len` bytes at `offset`, conditionally on `unless` (then a
/// `304` answers "unchanged").
#[derive(Clone, Debug)]
pub struct RangeAsk {
    pub url: Url,
    pub offset: u64,
    pub len: u64,
    pub unless: Option<Validators>,
}

/// The answer to a [`RangeAsk`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeReply {
    /// The bytes asked (fewer only when the file ends first) and the file's total size.
    Bytes {
        bytes: Vec<u8>,
        total: u64,
        validators: Validators,
    },
    /// `304`: the representation still matches the validators sent.
    NotModified,
    /// `200`: the server ignores `Range`; the transfer was dropped unread.
    Ignored { size: Option<u64> },
    /// `416`.
    Unsatisfiable,
}

/// Whether a `Content-Range` of (S, E, T) answers exactly `len` bytes at `offset`.
pub(super) fn range_matches(offset: u64, len: u64, (s, e, t): (u64, u64, u64)) -> bool {
    let want_end = offset.saturating_add(len).min(t).saturating_sub(1);
    len > 0 && s == offset && offset < t && e == want_end
}

/// [`RangeAsk`] over http(s), retried like every request.
pub(super) async fn read_range(
    client: &reqwest::Client,
    cfg: &FetchConfig,
    ask: &RangeAsk,
) -> Result<RangeReply, FetchError> {
    let mut headers = HeaderMap::new();
    let last = ask.offset.saturating_add(ask.len.max(1)) - 1;
    let range = HeaderValue::from_str(&format!("bytes={}-{last}", ask.offset))
        .map_err(|_| protocol(&ask.url, "range not expressible"))?;
    headers.insert(header::RANGE, range);
    if let Some(v) = &ask.unless {
        super::http::conditional_headers(&mut headers, v);
    }
    let mut n = 1;
    loop {
        match read_range_once(client, cfg, ask, &headers).await {
            Ok(reply) => return Ok(reply),
            Err(Failure { error, retry_after }) if error.is_retryable() && n < cfg.attempts => {
                tokio::time::sleep(backoff(cfg, n, retry_after)).await;
                n += 1;
            }
            Err(failure) => return Err(failure.error),
        }
    }
}

fn protocol(url: &Url, reason: &'static str) -> FetchError {
    FetchError::Protocol {
        url: url.clone().into(),
        reason,
    }
}

async fn read_range_once(
    client: &reqwest::Client,
    cfg: &FetchConfig,
    ask: &RangeAsk,
    headers: &HeaderMap,
) -> Result<RangeReply, Failure> {
    let sent = send(client, cfg, super::Kind::Range, &ask.url, headers).await?;
    let mut response = sent.response;
    let url = sent.final_url;
    match response.status() {
        StatusCode::NOT_MODIFIED => return Ok(RangeReply::NotModified),
        StatusCode::OK => {
            let size = response.content_length();
            drop(response);
            return Ok(RangeReply::Ignored { size });
        }
        StatusCode::RANGE_NOT_SATISFIABLE => return Ok(RangeReply::Unsatisfiable),
        StatusCode::PARTIAL_CONTENT => {}
        _ => return Err(status_failure(&url, &response)),
    }
    let (s, e, t) = response
        .headers()
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_content_range_full)
        .ok_or_else(|| protocol(&url, "206 without a usable `Content-Range`"))?;
    if !range_matches(ask.offset, ask.len, (s, e, t)) {
        return Err(protocol(&url, "`Content-Range` does not match the range asked").into());
    }
    let want = e - s + 1;
    if response.content_length().is_some_and(|n| n != want) {
        return Err(protocol(&url, "`Content-Length` disagrees with `Content-Range`").into());
    }
    let got_validators = validators(response.headers());
    let mut bytes = Vec::with_capacity(usize::try_from(want).unwrap_or(0).min(1 << 20));
    let mut pace = Pace::new(cfg);
    while let Some(chunk) = next_chunk(
        &mut response,
        &url,
        cfg,
        &mut pace,
        bytes.len() as u64,
        Some(want),
    )
    .await
    .map_err(Failure::from)?
    {
        if bytes.len() as u64 + chunk.len() as u64 > want {
            return Err(protocol(&url, "more bytes than `Content-Range` announced").into());
        }
        bytes.extend_from_slice(&chunk);
    }
    if (bytes.len() as u64) < want {
        return Err(FetchError::Truncated {
            url: url.into(),
            expected: want,
            got: bytes.len() as u64,
            source: None,
        }
        .into());
    }
    Ok(RangeReply::Bytes {
        bytes,
        total: t,
        validators: got_validators,
    })
}

/// [`RangeAsk`] over `file://`: the validators are the ones `file://` fetches use.
pub(super) fn read_range_local(ask: &RangeAsk) -> Result<RangeReply, FetchError> {
    use std::io::{Read, Seek, SeekFrom};
    let path = ask
        .url
        .to_file_path()
        .map_err(|()| FetchError::Unsupported {
            url: ask.url.clone().into(),
        })?;
    let io = |e: std::io::Error| super::local::open_error(&ask.url, &path, e);
    let mut file = std::fs::File::open(&path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    let now = super::local::validators(&meta);
    if ask.unless.as_ref() == Some(&now) {
        return Ok(RangeReply::NotModified);
    }
    let total = meta.len();
    if ask.offset >= total || ask.len == 0 {
        return Ok(RangeReply::Unsatisfiable);
    }
    let n = ask.len.min(total - ask.offset);
    let mut bytes = vec![0u8; usize::try_from(n).unwrap_or(0)];
    file.seek(SeekFrom::Start(ask.offset)).map_err(io)?;
    file.read_exact(&mut bytes).map_err(io)?;
    Ok(RangeReply::Bytes {
        bytes,
        total,
        validators: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_is_checked_strictly() {
        assert_eq!(
            parse_content_range_full("bytes 0-4095/10000"),
            Some((0, 4095, 10000))
        );
        assert_eq!(parse_content_range_full("bytes 0-4095/*"), None);
        assert_eq!(parse_content_range_full("bytes 10-5/100"), None);
        assert_eq!(parse_content_range_full("bytes 0-100/100"), None);
        // Exactly what was asked.
        assert!(range_matches(0, 4096, (0, 4095, 10000)));
        // The file ends first: the answer stops at its last byte.
        assert!(range_matches(0, 4096, (0, 2047, 2048)));
        // Wrong start, short end, long end, end inconsistent with the total.
        assert!(!range_matches(0, 4096, (1, 4096, 10000)));
        assert!(!range_matches(0, 4096, (0, 1023, 10000)));
        assert!(!range_matches(0, 4096, (0, 8191, 10000)));
        assert!(!range_matches(0, 4096, (0, 2047, 4096)));
        assert!(!range_matches(0, 0, (0, 0, 10)));
    }
}
