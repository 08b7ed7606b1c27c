//! `file://` URLs: mission mirrors on NFS or PDS volumes. Same results and the same
//! staged write path as http(s); validators are synthesised from the file's size and
//! mtime (as Apache does), and a directory reads as an nginx-style `autoindex` page
//! so that the listing parser serves both.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::Url;

use super::http::MAX_TEXT_LEN;
use super::{Conditional, FetchError, Fetched, Meter, Validators};
use crate::kernel::HEAD_LEN;
use crate::store::fsio::{self, Staged};
use crate::store::{self};

/// What `href`s escape: everything but unreserved characters.
const HREF: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn path_of(url: &Url) -> Result<PathBuf, FetchError> {
    url.to_file_path().map_err(|()| FetchError::Unsupported {
        url: url.clone().into(),
    })
}

pub(super) fn open_error(url: &Url, path: &Path, e: io::Error) -> FetchError {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => FetchError::NotFound {
            url: url.clone().into(),
            status: 0,
        },
        io::ErrorKind::PermissionDenied => FetchError::Forbidden {
            url: url.clone().into(),
        },
        _ => store::Error::io("read", path, e).into(),
    }
}

pub(super) fn validators(meta: &fs::Metadata) -> Validators {
    let mtime = chrono::DateTime::from_timestamp(meta.mtime(), 0).unwrap_or_default();
    Validators {
        etag: Some(format!(
            "\"{:x}-{:x}\"",
            meta.size(),
            meta.mtime() * 1_000_000_000 + meta.mtime_nsec()
        )),
        last_modified: Some(mtime.format("%a, %d %b %Y %H:%M:%S GMT").to_string()),
    }
}

fn unchanged(now: &Validators, before: &Validators) -> bool {
    match (&before.etag, &before.last_modified) {
        (Some(etag), _) => now.etag.as_ref() == Some(etag),
        (None, Some(date)) => now.last_modified.as_ref() == Some(date),
        (None, None) => false,
    }
}

/// [`super::fetch_text`] for `file://`.
pub(super) fn fetch_text(
    url: &Url,
    conditional: Option<&Validators>,
) -> Result<Conditional, FetchError> {
    let path = path_of(url)?;
    let meta = fs::metadata(&path).map_err(|e| open_error(url, &path, e))?;
    let validators = validators(&meta);
    if conditional.is_some_and(|before| unchanged(&validators, before)) {
        return Ok(Conditional::NotModified);
    }
    let bytes = if meta.is_dir() {
        listing_page(url, &path)?.into_bytes()
    } else {
        if meta.len() > MAX_TEXT_LEN {
            return Err(FetchError::TooLong {
                url: url.clone().into(),
                limit: MAX_TEXT_LEN,
            });
        }
        let file = File::open(&path).map_err(|e| open_error(url, &path, e))?;
        let mut bytes = Vec::new();
        file.take(MAX_TEXT_LEN + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| store::Error::io("read", &path, e))?;
        if bytes.len() as u64 > MAX_TEXT_LEN {
            return Err(FetchError::TooLong {
                url: url.clone().into(),
                limit: MAX_TEXT_LEN,
            });
        }
        bytes
    };
    if bytes.is_empty() {
        return Err(FetchError::Empty {
            url: url.clone().into(),
        });
    }
    Ok(Conditional::Fetched(Fetched {
        size: bytes.len() as u64,
        bytes,
        final_url: url.clone(),
        validators,
    }))
}

/// [`super::Session::probe_all`] for `file://`: a stat, compared like a conditional request.
pub(super) fn probe(url: &Url, before: &Validators) -> Result<super::Probe, FetchError> {
    let path = path_of(url)?;
    let meta = fs::metadata(&path).map_err(|e| open_error(url, &path, e))?;
    let now = validators(&meta);
    if unchanged(&now, before) {
        return Ok(super::Probe::NotModified);
    }
    Ok(super::Probe::Modified {
        validators: now,
        size: Some(meta.len()),
    })
}

/// The directory as nginx `autoindex` renders it (exact sizes, UTC dates).
fn listing_page(url: &Url, dir: &Path) -> Result<String, FetchError> {
    let entries = fs::read_dir(dir).map_err(|e| open_error(url, dir, e))?;
    let mut rows: Vec<(String, bool, u64, i64)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| open_error(url, dir, e))?;
        // A name that is not UTF-8 cannot be referenced from a metakernel anyway.
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // Follows links, as a web server would: a mirror may be a tree of links.
        let Ok(meta) = fs::metadata(entry.path()) else {
            continue;
        };
        rows.push((name, meta.is_dir(), meta.size(), meta.mtime()));
    }
    rows.sort();
    let title = escape_html(url.path());
    let mut page = format!(
        "<html>\n<head><title>Index of {title}</title></head>\n<body>\n<h1>Index of {title}</h1><hr><pre><a href=\"../\">../</a>\n"
    );
    for (name, is_dir, size, mtime) in rows {
        let slash = if is_dir { "/" } else { "" };
        let href = utf8_percent_encode(&name, HREF);
        let date = chrono::DateTime::from_timestamp(mtime, 0)
            .unwrap_or_default()
            .format("%d-%b-%Y %H:%M");
        let size = if is_dir {
            "-".to_owned()
        } else {
            size.to_string()
        };
        let _infallible = writeln!(
            page,
            "<a href=\"{href}{slash}\">{}{slash}</a> {date} {size:>19}",
            escape_html(&name)
        );
    }
    page.push_str("</pre><hr></body>\n</html>\n");
    Ok(page)
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Copies a local file into a staged temp file in `tmp_dir` (blocking).
pub(super) fn download(
    url: &Url,
    tmp_dir: &Path,
    limit: Option<u64>,
    meter: &mut Meter,
) -> Result<(Staged, Vec<u8>, Validators), FetchError> {
    let path = path_of(url)?;
    let file = File::open(&path).map_err(|e| open_error(url, &path, e))?;
    let meta = file
        .metadata()
        .map_err(|e| store::Error::io("stat", &path, e))?;
    if meta.is_dir() {
        return Err(FetchError::NotAKernel {
            url: url.clone().into(),
            reason: "a directory",
        });
    }
    let too_long = |limit| FetchError::TooLong {
        url: url.clone().into(),
        limit,
    };
    if let Some(limit) = limit
        && meta.len() > limit
    {
        return Err(too_long(limit));
    }
    meter.learnt_size(meta.len());
    let mut reader = Capture {
        inner: file,
        head: Vec::new(),
        read: 0,
        limit,
    };
    let mut done = 0;
    let staged = fsio::stage(tmp_dir, &mut reader, &mut |n| {
        done += n;
        meter.at(done);
    });
    let staged = match staged {
        Ok(staged) => staged,
        Err(_) if limit.is_some_and(|l| reader.read > l) => {
            return Err(too_long(limit.unwrap_or_default()));
        }
        Err(e) => return Err(FetchError::Io(Arc::new(e))),
    };
    if staged.len() < meta.len() {
        return Err(FetchError::Truncated {
            url: url.clone().into(),
            expected: meta.len(),
            got: staged.len(),
            source: None,
        });
    }
    Ok((staged, reader.head, validators(&meta)))
}

/// Keeps the first [`HEAD_LEN`] bytes read and stops past `limit`.
struct Capture {
    inner: File,
    head: Vec<u8>,
    read: u64,
    limit: Option<u64>,
}

impl Read for Capture {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.head.len() < HEAD_LEN {
            let take = (HEAD_LEN - self.head.len()).min(n);
            self.head.extend_from_slice(&buf[..take]);
        }
        self.read += n as u64;
        if self.limit.is_some_and(|l| self.read > l) {
            return Err(io::Error::other("longer than expected"));
        }
        Ok(n)
    }
}
