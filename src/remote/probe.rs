//! Remote coverage probes (issue 11): what binary kernels on a server cover, from a
//! few HTTP Range requests each, cached in the catalogue per URL.
//!
//! Probes run in rounds: every kernel still being read asks for its next range, all
//! asks of a round go out together (at most `jobs_per_host` at once per host), and
//! the answers are fed to the pure reader ([`coverage::probe::step`]). A kernel
//! whose first range comes back `304` to the validators of its cached row keeps that
//! row's coverage (one request, no body).
//!
//! Never a wrong coverage: whatever goes wrong — the server ignores `Range`
//! (the transfer is dropped unread), lies in `Content-Range`, answers `416`,
//! redirects to another host, changes the file between two requests (other total
//! size or ETag), needs more than [`MAX_REQUESTS`] requests or [`MAX_BYTES`] bytes,
//! or the records read are not a consistent DAF (a summary chain that loops, a
//! pointer past the end) — ends in [`Probed::Unknown`] with the reason, and the
//! caller downloads the whole file. A file name's `_YYYYMMDD_YYYYMMDD_` span is
//! never used, except as a hint in that reason.

use std::collections::HashMap;

use serde::Serialize;
use url::Url;

use super::fetch::{RangeAsk, RangeReply, Session, Validators};
use crate::coverage::index::IndexedKernel;
use crate::coverage::probe::{self as reader, FIRST, Sparse, Step};
use crate::db::{self, Catalogue, ProbeRow};

/// Range requests one kernel may cost before its coverage is "unknown".
pub const MAX_REQUESTS: u32 = 8;
/// Bytes one kernel's probe may transfer before its coverage is "unknown".
pub const MAX_BYTES: u64 = 256 << 10;
/// The caps when CK interval-level coverage is read too (`coverage --mk URL`); past
/// them a CK keeps its segment-level coverage.
pub const MAX_REQUESTS_INTERVALS: u32 = 32;
pub const MAX_BYTES_INTERVALS: u64 = 1 << 20;

/// What a probe learnt.
#[derive(Debug, Clone)]
pub enum Probed {
    /// A DAF kernel's segment descriptors.
    Daf(IndexedKernel),
    /// Not a DAF with time coverage (text kernel, DSK, EK, not a kernel).
    NotDaf { what: String },
    /// Coverage unknown: download the whole file.
    Unknown { reason: String },
}

/// One kernel's probe.
#[derive(Debug, Clone)]
pub struct Probe {
    pub outcome: Probed,
    /// Total size as the server reported it.
    pub size: Option<u64>,
    /// Range requests made.
    pub requests: u32,
    /// Body bytes received.
    pub bytes: u64,
    /// Answered from the catalogue after a `304`.
    pub cached: bool,
    validators: Validators,
}

/// Totals over a set of probes (plan output, benchmark).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProbeStats {
    pub probed: usize,
    pub requests: u64,
    pub bytes: u64,
    pub cached: usize,
    pub unknown: usize,
}

impl ProbeStats {
    pub fn of<'a>(probes: impl IntoIterator<Item = &'a Probe>) -> Self {
        let mut s = ProbeStats::default();
        for p in probes {
            s.probed += 1;
            s.requests += u64::from(p.requests);
            s.bytes += p.bytes;
            s.cached += usize::from(p.cached);
            s.unknown += usize::from(matches!(p.outcome, Probed::Unknown { .. }));
        }
        s
    }
}

/// The `_YYYYMMDD_YYYYMMDD_` (or `-`) span of a file name, shown as a hint only.
pub fn name_span_hint(name: &str) -> Option<String> {
    let b = name.as_bytes();
    (0..b.len()).find_map(|i| {
        let digits = |at: usize| {
            b.get(at..at + 8)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        };
        let sep = |at: usize| matches!(b.get(at), Some(b'_' | b'-'));
        (sep(i) && digits(i + 1) && sep(i + 9) && digits(i + 10))
            .then(|| format!("{}–{}", &name[i + 1..i + 9], &name[i + 10..i + 18]))
    })
}

enum State {
    /// Waiting for the first range.
    First {
        cached: Option<ProbeRow>,
    },
    Reading {
        src: Sparse,
        validators: Validators,
        next: (u64, u64),
    },
    Done(Probe),
}

struct Track {
    url: Url,
    name: String,
    /// Read CK interval-level coverage too.
    intervals: bool,
    requests: u32,
    bytes: u64,
    state: State,
}

impl Track {
    fn finish(&mut self, outcome: Probed, size: Option<u64>, validators: Validators, cached: bool) {
        if let Probed::Unknown { reason } = &outcome {
            tracing::debug!("probe of `{}`: coverage unknown: {reason}", self.url);
        }
        self.state = State::Done(Probe {
            outcome,
            size,
            requests: self.requests,
            bytes: self.bytes,
            cached,
            validators,
        });
    }

    fn unknown(&mut self, reason: String, size: Option<u64>) {
        let reason = match name_span_hint(&self.name) {
            Some(span) => format!("{reason} (the name suggests {span}; not used)"),
            None => reason,
        };
        self.finish(
            Probed::Unknown { reason },
            size,
            Validators::default(),
            false,
        );
    }

    fn ask(&self) -> Option<RangeAsk> {
        match &self.state {
            State::First { cached } => Some(RangeAsk {
                url: self.url.clone(),
                offset: 0,
                len: FIRST,
                unless: cached.as_ref().map(|c| Validators {
                    etag: c.etag.clone(),
                    last_modified: c.last_modified.clone(),
                }),
            }),
            State::Reading { next, .. } => Some(RangeAsk {
                url: self.url.clone(),
                offset: next.0,
                len: next.1,
                unless: None,
            }),
            State::Done(_) => None,
        }
    }

    /// Feeds one answer; leaves the track done or with its next range.
    fn answer(&mut self, offset: u64, reply: Result<RangeReply, crate::remote::fetch::FetchError>) {
        self.requests += 1;
        let state = std::mem::replace(&mut self.state, State::First { cached: None });
        let reply = match reply {
            Ok(r) => r,
            Err(e) => return self.unknown(crate::error_chain(&e), None),
        };
        let (src, validators) = match (state, reply) {
            (State::First { cached: Some(row) }, RangeReply::NotModified) => {
                let validators = Validators {
                    etag: row.etag.clone(),
                    last_modified: row.last_modified.clone(),
                };
                return match cached_outcome(&row) {
                    Some(outcome) => self.finish(outcome, Some(row.size), validators, true),
                    None => self.unknown("unreadable cached probe".into(), Some(row.size)),
                };
            }
            (_, RangeReply::NotModified) => {
                return self.unknown("unexpected 304 to a range request".into(), None);
            }
            (_, RangeReply::Ignored { size }) => {
                return self.unknown(
                    "the server ignores Range requests (transfer dropped)".into(),
                    size,
                );
            }
            (_, RangeReply::Unsatisfiable) => {
                return self.unknown("the server refused the range (HTTP 416)".into(), None);
            }
            (State::Done(p), _) => {
                self.state = State::Done(p);
                return;
            }
            (
                State::First { .. },
                RangeReply::Bytes {
                    bytes,
                    total,
                    validators,
                },
            ) => {
                self.bytes += bytes.len() as u64;
                let mut src = Sparse::new(total);
                src.insert(offset, bytes);
                (src, validators)
            }
            (
                State::Reading {
                    mut src,
                    validators,
                    ..
                },
                RangeReply::Bytes {
                    bytes,
                    total,
                    validators: now,
                },
            ) => {
                self.bytes += bytes.len() as u64;
                let etag_changed = matches!((&validators.etag, &now.etag),
                    (Some(a), Some(b)) if !same_entity_tag(a, b));
                if total != src_len(&src) || etag_changed {
                    return self.unknown(
                        "the file changed between two range requests (size or ETag)".into(),
                        Some(total),
                    );
                }
                src.insert(offset, bytes);
                (src, validators)
            }
        };
        self.read_more(src, validators);
    }

    /// Reads what the bytes so far allow: done, or the next range to ask for (within
    /// the request and byte limits).
    fn read_more(&mut self, mut src: Sparse, validators: Validators) {
        let size = Some(src_len(&src));
        let step = if self.intervals {
            reader::step_with_intervals(&mut src, &self.name)
        } else {
            reader::step(&mut src, &self.name)
        };
        let (max_requests, max_bytes) = if self.intervals {
            (MAX_REQUESTS_INTERVALS, MAX_BYTES_INTERVALS)
        } else {
            (MAX_REQUESTS, MAX_BYTES)
        };
        match step {
            Step::Daf(k) => self.finish(Probed::Daf(k), size, validators, false),
            Step::NotDaf { what } => self.finish(Probed::NotDaf { what }, size, validators, false),
            Step::Failed(e) => self.unknown(crate::error_chain(&e), size),
            Step::Need(need) => {
                let next = reader::widen(need, src_len(&src));
                let over = if self.requests >= max_requests {
                    Some(format!("more than {max_requests} range requests needed"))
                } else if self.bytes.saturating_add(next.1) > max_bytes || next.1 == 0 {
                    Some(format!("more than {max_bytes} bytes of records needed"))
                } else {
                    None
                };
                if let Some(reason) = over {
                    // Reading CK intervals is a bonus: segment bounds stay true.
                    match self.intervals.then(|| reader::step(&mut src, &self.name)) {
                        Some(Step::Daf(k)) => self.finish(Probed::Daf(k), size, validators, false),
                        _ => self.unknown(reason, size),
                    }
                } else {
                    self.state = State::Reading {
                        src,
                        validators,
                        next,
                    };
                }
            }
        }
    }
}

fn src_len(src: &Sparse) -> u64 {
    use crate::coverage::ByteSource;
    src.len()
}

fn cached_outcome(row: &ProbeRow) -> Option<Probed> {
    match (&row.kind, &row.summary, &row.what) {
        (Some(_), Some(blob), _) => IndexedKernel::decode(blob).ok().map(Probed::Daf),
        (None, None, Some(what)) => Some(Probed::NotDaf { what: what.clone() }),
        _ => None,
    }
}

/// Whether two ETags name the same version, compared weakly (RFC 9110 §8.8.3.2):
/// Apache marks the ETag of a file modified in the last second weak (`W/"…"`) and the
/// same file's next answer strong, which is no change.
fn same_entity_tag(a: &str, b: &str) -> bool {
    let opaque = |t: &str| t.strip_prefix("W/").unwrap_or(t).to_owned();
    opaque(a) == opaque(b)
}

/// Probes every `(url, name)`, in order (segment descriptors only). Reads the
/// cache; writes nothing (the rows to cache are [`cache_rows`]).
pub fn probe_all(
    session: &Session,
    cat: &Catalogue,
    items: &[(Url, String)],
) -> Result<Vec<Probe>, db::Error> {
    probe_all_with(session, cat, items, false)
}

/// Whether a cached kernel lacks CK intervals it could have.
fn lacks_intervals(row: &ProbeRow) -> bool {
    matches!(cached_outcome(row), Some(Probed::Daf(k)) if k.segments.iter().any(|s| {
        s.intervals.is_none() && k.kind == crate::coverage::KernelKind::Ck
            && matches!(s.data_type, 1 | 2 | 3 | 5 | 6)
    }))
}

/// [`probe_all`], with CK interval-level coverage when `intervals`.
pub fn probe_all_with(
    session: &Session,
    cat: &Catalogue,
    items: &[(Url, String)],
    intervals: bool,
) -> Result<Vec<Probe>, db::Error> {
    let urls: Vec<&str> = items.iter().map(|(u, _)| u.as_str()).collect();
    let mut cache = cat.probes_of(&urls)?;
    let mut tracks: Vec<Track> = items
        .iter()
        .map(|(url, name)| Track {
            url: url.clone(),
            name: name.clone(),
            intervals,
            requests: 0,
            bytes: 0,
            state: State::First {
                cached: cache
                    .remove(url.as_str())
                    .filter(|r| r.etag.is_some() || r.last_modified.is_some())
                    .filter(|r| !(intervals && lacks_intervals(r))),
            },
        })
        .collect();
    loop {
        let pending: Vec<(usize, RangeAsk)> = tracks
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.ask().map(|a| (i, a)))
            .collect();
        if pending.is_empty() {
            break;
        }
        let asks: Vec<RangeAsk> = pending.iter().map(|(_, a)| a.clone()).collect();
        for ((i, ask), reply) in pending.into_iter().zip(session.read_ranges(&asks)) {
            tracks[i].answer(ask.offset, reply);
        }
    }
    Ok(tracks
        .into_iter()
        .map(|t| match t.state {
            State::Done(p) => p,
            _ => unreachable!("every track ends done"),
        })
        .collect())
}

/// The cache rows for fresh, conclusive probes of files the server gave validators.
pub fn cache_rows(items: &[(Url, String)], probes: &[Probe]) -> Vec<ProbeRow> {
    let now = db::now();
    items
        .iter()
        .zip(probes)
        .filter(|(_, p)| {
            !p.cached && (p.validators.etag.is_some() || p.validators.last_modified.is_some())
        })
        .filter_map(|((url, _), p)| {
            let (kind, summary, what) = match &p.outcome {
                Probed::Daf(k) => (Some(k.kind.as_str().to_owned()), Some(k.encode()), None),
                Probed::NotDaf { what } => (None, None, Some(what.clone())),
                Probed::Unknown { .. } => return None,
            };
            Some(ProbeRow {
                url: url.to_string(),
                etag: p.validators.etag.clone(),
                last_modified: p.validators.last_modified.clone(),
                size: p.size?,
                kind,
                summary,
                what,
                probed_at: now,
            })
        })
        .collect()
}

/// Probes of held kernels keyed by URL, for callers that look them up.
pub fn by_url(items: &[(Url, String)], probes: Vec<Probe>) -> HashMap<String, Probe> {
    items
        .iter()
        .map(|(u, _)| u.to_string())
        .zip(probes)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weak_then_strong_etag_is_the_same_version() {
        assert!(same_entity_tag("W/\"5f-61a\"", "\"5f-61a\""));
        assert!(same_entity_tag("\"5f-61a\"", "\"5f-61a\""));
        assert!(!same_entity_tag("W/\"5f-61a\"", "\"5f-61b\""));
    }

    #[test]
    fn name_spans_are_hints() {
        assert_eq!(
            name_span_hint("bc_mpo_fcp_00094_20181020_20250101_v01.bsp").as_deref(),
            Some("20181020–20250101")
        );
        assert_eq!(
            name_span_hint("solo_ANC_soc-sc-fof-ck_20180930-21000101_V02.bc").as_deref(),
            Some("20180930–21000101")
        );
        assert_eq!(name_span_hint("de440s.bsp"), None);
        assert_eq!(name_span_hint("x_2018093_20250101_v.bsp"), None);
    }
}
