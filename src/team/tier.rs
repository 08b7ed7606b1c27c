//! One tier of the team store: an `object_store` backend under the layout's prefix,
//! and the few operations the team store needs from it, each bounded by a timeout.
//!
//! - `s3://bucket/prefix`: `AmazonS3` configured from the standard `AWS_*`
//!   variables (`AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, `AWS_SKIP_SIGNATURE` for
//!   anonymous read-only access, `AWS_CONDITIONAL_PUT=disabled` for stores without
//!   `If-None-Match`) and, without keys there, an AWS profile (`super::aws`), the
//!   prefix applied by `PrefixStore`.
//! - `http(s)://…`: `HttpStore`, read-only, with Basic auth when credentials are
//!   known for the origin (given in the spec, or netrc; `remote::auth`). A static
//!   server speaks no WebDAV, so a `seen/` directory is read from its autoindex page
//!   (Apache, nginx) through the listing parser; a mirror without listings still
//!   serves lookups by hash.
//! - `file:///dir` (or an absolute path): `LocalFileSystem`, read lock-free; a put is
//!   written to a staging file and linked into place without replacing (an atomic
//!   create), so a reader never sees part of an object.
//!
//! Every read is streamed into a staged temporary file in the home's `tmp/` while it
//! is hashed, under the idle timeout and the speed floor (`low_speed_limit`); an
//! object whose bytes do not hash to its name is an error here, never a result.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use url::Url;

use super::Error;
use super::layout::{self, Manifest};
use crate::remote::auth;
use crate::remote::fetch::SpeedFloor;
use crate::store::Sha256Hex;
use crate::store::fsio::{Staged, Stager};

/// Objects up to this size are published with one conditional PUT (read into
/// memory); larger ones with a multipart upload after a HEAD (same bytes: safe).
const SINGLE_PUT_MAX: u64 = 256 * 1024 * 1024;

/// Test seam: `KDB_TEST_TEAM_SINGLE_PUT_MAX` (bytes) lowers [`SINGLE_PUT_MAX`] so the
/// multipart path is exercised with small objects.
fn single_put_max() -> u64 {
    std::env::var("KDB_TEST_TEAM_SINGLE_PUT_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SINGLE_PUT_MAX)
}

/// Which engine a tier is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    S3,
    Http,
    Dir,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::S3 => "s3",
            Kind::Http => "http",
            Kind::Dir => "dir",
        }
    }
}

/// A configured tier, parsed (pure; no I/O).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// As configured (shown in messages).
    pub text: String,
    pub kind: Kind,
    /// `s3`: the bucket; `http`: the base URL (ending in `/`); `dir`: the directory.
    pub location: String,
    /// `s3`: the key prefix (no leading or trailing `/`), possibly empty.
    pub prefix: String,
}

impl Spec {
    /// Parses `s3://bucket[/prefix]`, `http(s)://host/path`, `file:///dir` or `/dir`.
    /// Userinfo in a URL (`https://user:pass@host/…`) becomes the client's credentials
    /// for that origin ([`crate::remote::auth`]); neither `text` nor `location` holds it.
    pub fn parse(text: &str) -> Result<Spec, Error> {
        let bad = |why: &str| Error::Spec {
            spec: auth::redact_text(text),
            why: why.to_owned(),
        };
        let t = text.trim();
        if t.starts_with('/') {
            return Ok(Spec {
                text: t.to_owned(),
                kind: Kind::Dir,
                location: t.trim_end_matches('/').to_owned(),
                prefix: String::new(),
            });
        }
        let url = Url::parse(t).map_err(|_| bad("expected s3://, https://, file:// or /path"))?;
        let url = auth::accept(url);
        let t = if auth::redact_text(t) == t {
            t
        } else {
            url.as_str()
        };
        match url.scheme() {
            "s3" => {
                let bucket = url.host_str().filter(|b| !b.is_empty());
                let bucket = bucket.ok_or_else(|| bad("no bucket"))?;
                Ok(Spec {
                    text: t.to_owned(),
                    kind: Kind::S3,
                    location: bucket.to_owned(),
                    prefix: url.path().trim_matches('/').to_owned(),
                })
            }
            "http" | "https" => {
                let mut base = url.clone();
                if !base.path().ends_with('/') {
                    base.set_path(&format!("{}/", base.path()));
                }
                Ok(Spec {
                    text: t.to_owned(),
                    kind: Kind::Http,
                    location: base.to_string(),
                    prefix: String::new(),
                })
            }
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|()| bad("not a local directory"))?;
                Ok(Spec {
                    text: t.to_owned(),
                    kind: Kind::Dir,
                    location: path.display().to_string().trim_end_matches('/').to_owned(),
                    prefix: String::new(),
                })
            }
            other => Err(bad(&format!("unsupported scheme `{other}`"))),
        }
    }
}

/// What a conditional create did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Put {
    Created,
    /// The key was already there (the same bytes, by construction of the layout).
    Existed,
}

/// Timeouts of one tier, and the certificate authorities it trusts beside the
/// system's (the `ca_file` setting, PEM).
#[derive(Clone, Debug)]
pub struct Limits {
    pub ca_pem: Option<Arc<Vec<u8>>>,
    /// The `proxy` setting (unset: the environment's proxies).
    pub proxy: Option<String>,
    pub connect: Duration,
    /// Waiting for an answer or for the next chunk of a body.
    pub idle: Duration,
    /// The speed floor of an object read (bytes/s over `low_speed_time`; 0: none).
    pub low_speed_limit: u64,
    pub low_speed_time: Duration,
}

/// The credentials of an S3 tier whose environment has no keys: an AWS profile's
/// (with its region and endpoint where the environment sets none), else
/// object_store's providers ([`super::aws::source`]).
fn with_credentials(
    builder: object_store::aws::AmazonS3Builder,
    spec: &Spec,
) -> Result<object_store::aws::AmazonS3Builder, Error> {
    let var = |k: &str| std::env::var(k).ok();
    let source = super::aws::source(&var).map_err(|problem| Error::Credentials {
        tier: spec.text.clone(),
        problem,
    })?;
    let super::aws::Source::Profile(p) = source else {
        return Ok(builder);
    };
    tracing::debug!(profile = %p.name, "S3 credentials from the AWS profile");
    let mut builder = builder
        .with_access_key_id(p.key_id)
        .with_secret_access_key(p.secret);
    if let Some(token) = p.token {
        builder = builder.with_token(token);
    }
    let unset = |keys: &[&str]| keys.iter().all(|k| var(k).is_none());
    if let Some(region) = p.region
        && unset(&["AWS_REGION", "AWS_DEFAULT_REGION"])
    {
        builder = builder.with_region(region);
    }
    if let Some(endpoint) = p.endpoint
        && unset(&["AWS_ENDPOINT_URL", "AWS_ENDPOINT"])
    {
        // The user's own configuration names a plain-http endpoint: allowed.
        if endpoint.starts_with("http://") {
            builder = builder.with_allow_http(true);
        }
        builder = builder.with_endpoint(endpoint);
    }
    Ok(builder)
}

/// An opened tier.
pub struct Tier {
    pub spec: Spec,
    store: Arc<dyn ObjectStore>,
    /// The HTTP tier's listing client and base URL.
    http: Option<(reqwest::Client, Url)>,
    limits: Limits,
}

/// The client options of a tier (timeouts, the `ca_file` roots, the `proxy`
/// setting), and the same roots for the listing client of an HTTP tier.
fn client_options(
    limits: &Limits,
) -> Result<(object_store::ClientOptions, Vec<reqwest::Certificate>), object_store::Error> {
    let mut client = object_store::ClientOptions::new()
        .with_connect_timeout(limits.connect)
        // Bodies may be large: the idle timeout below bounds stalls instead.
        .with_timeout_disabled();
    let mut roots = Vec::new();
    if let Some(pem) = &limits.ca_pem {
        for cert in object_store::Certificate::from_pem_bundle(pem)? {
            client = client.with_root_certificate(cert);
        }
        roots = reqwest::Certificate::from_pem_bundle(pem).unwrap_or_default();
    }
    let no_proxy = std::env::var("NO_PROXY")
        .or_else(|_| std::env::var("no_proxy"))
        .unwrap_or_default();
    if let Some(proxy) = &limits.proxy {
        client = client
            .with_proxy_url(proxy.as_str())
            .with_proxy_excludes(no_proxy.as_str());
    }
    Ok((client, roots))
}

impl Tier {
    /// Builds the backend (no request is made).
    pub fn open(spec: Spec, limits: Limits) -> Result<Tier, Error> {
        let setup = |source: object_store::Error| Error::Setup {
            tier: spec.text.clone(),
            source,
        };
        let (client, roots) = client_options(&limits).map_err(setup)?;
        let retry = object_store::RetryConfig {
            backoff: object_store::BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
                base: 2.0,
            },
            max_retries: 1,
            retry_timeout: limits.idle,
        };
        let mut http = None;
        let store: Arc<dyn ObjectStore> = match spec.kind {
            Kind::S3 => {
                // As `AmazonS3Builder::from_env`, but on top of our client options (so
                // `AWS_ALLOW_HTTP` and friends still apply).
                let mut builder = object_store::aws::AmazonS3Builder::new()
                    .with_client_options(client)
                    .with_retry(retry);
                for (key, value) in std::env::vars() {
                    if key.starts_with("AWS_")
                        && let Ok(k) = key
                            .to_ascii_lowercase()
                            .parse::<object_store::aws::AmazonS3ConfigKey>()
                    {
                        builder = builder.with_config(k, value);
                    }
                }
                builder = with_credentials(builder, &spec)?;
                let s3 = builder
                    .with_bucket_name(&spec.location)
                    .build()
                    .map_err(setup)?;
                if spec.prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(object_store::prefix::PrefixStore::new(
                        s3,
                        spec.prefix.as_str(),
                    ))
                }
            }
            Kind::Http => {
                let base = Url::parse(&spec.location).map_err(|_| Error::Spec {
                    spec: spec.text.clone(),
                    why: "invalid URL".into(),
                })?;
                let mut headers = reqwest::header::HeaderMap::new();
                if let Some(value) = auth::authorization(&base)
                    .and_then(|v| reqwest::header::HeaderValue::from_str(&v).ok())
                {
                    headers.insert(reqwest::header::AUTHORIZATION, value);
                }
                let store = object_store::http::HttpBuilder::new()
                    .with_url(base.as_str())
                    .with_client_options(
                        client
                            .with_allow_http(true)
                            .with_default_headers(headers.clone()),
                    )
                    .with_retry(retry)
                    .build()
                    .map_err(setup)?;
                let mut lister = reqwest::Client::builder();
                for cert in roots {
                    lister = lister.add_root_certificate(cert);
                }
                if let Some(proxy) = limits
                    .proxy
                    .as_deref()
                    .and_then(|p| reqwest::Proxy::all(p).ok())
                {
                    lister = lister.proxy(proxy.no_proxy(reqwest::NoProxy::from_env()));
                }
                let lister = lister
                    .default_headers(headers)
                    .connect_timeout(limits.connect)
                    .read_timeout(limits.idle)
                    .build()
                    .map_err(|source| Error::Listing {
                        tier: spec.text.clone(),
                        key: String::new(),
                        source,
                    })?;
                http = Some((lister, base));
                Arc::new(store)
            }
            Kind::Dir => Arc::new(
                object_store::local::LocalFileSystem::new_with_prefix(&spec.location)
                    .map_err(setup)?,
            ),
        };
        Ok(Tier {
            spec,
            store,
            http,
            limits,
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.text
    }

    /// Read-only by nature (an HTTP mirror).
    pub fn read_only(&self) -> bool {
        self.spec.kind == Kind::Http
    }

    fn request_error(&self, key: &str, source: object_store::Error) -> Error {
        Error::Request {
            tier: self.spec.text.clone(),
            key: key.to_owned(),
            source,
        }
    }

    fn timeout(&self, key: &str) -> Error {
        Error::Timeout {
            tier: self.spec.text.clone(),
            key: key.to_owned(),
            after: self.limits.idle,
        }
    }

    /// Runs `fut` within the idle timeout.
    async fn bounded<T>(
        &self,
        key: &str,
        fut: impl Future<Output = object_store::Result<T>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout(self.limits.idle, fut).await {
            Ok(r) => r.map_err(|e| self.request_error(key, e)),
            Err(_) => Err(self.timeout(key)),
        }
    }

    /// The content the newest `seen/` record of `url` names, if any.
    pub async fn seen(&self, url: &str) -> Result<Option<Sha256Hex>, Error> {
        let prefix = layout::seen_prefix(url);
        if let Some((client, base)) = &self.http {
            return self.seen_http(client, base, &prefix).await;
        }
        let key = Key::from(prefix.as_str());
        let listing = async {
            let mut names = Vec::new();
            let mut items = self.store.list(Some(&key));
            while let Some(item) = items.next().await {
                match item {
                    Ok(meta) => names.push(meta.location.to_string()),
                    Err(object_store::Error::NotFound { .. }) => break,
                    Err(e) => return Err(e),
                }
            }
            Ok(names)
        };
        let names = self.bounded(&prefix, listing).await?;
        Ok(layout::newest(names.iter().map(String::as_str)))
    }

    async fn seen_http(
        &self,
        client: &reqwest::Client,
        base: &Url,
        prefix: &str,
    ) -> Result<Option<Sha256Hex>, Error> {
        let listing_error = |source| Error::Listing {
            tier: self.spec.text.clone(),
            key: prefix.to_owned(),
            source,
        };
        let url = base.join(prefix).map_err(|_| Error::Spec {
            spec: self.spec.text.clone(),
            why: "invalid URL".into(),
        })?;
        let fetch = async {
            let resp = client.get(url).send().await?;
            let status = resp.status().as_u16();
            let body = resp.text().await?;
            Ok::<_, reqwest::Error>((status, body))
        };
        let (status, page) = match tokio::time::timeout(self.limits.idle, fetch).await {
            Ok(r) => r.map_err(listing_error)?,
            Err(_) => return Err(self.timeout(prefix)),
        };
        match status {
            404 | 410 => Ok(None),
            200 => {
                let listing = crate::remote::listing::parse_listing(&page);
                Ok(layout::newest(
                    listing
                        .entries
                        .iter()
                        .filter(|e| !e.is_dir)
                        .map(|e| e.name.as_str()),
                ))
            }
            status => Err(Error::ListingStatus {
                tier: self.spec.text.clone(),
                key: prefix.to_owned(),
                status,
            }),
        }
    }

    /// Streams the object `sha` into a staged file in `tmp`, checking that its bytes
    /// hash to its name; `None` when the tier does not hold it. A body longer than
    /// `limit` (a known size) is cut off and refused: a hostile tier cannot fill the
    /// disk.
    pub async fn fetch(
        &self,
        sha: &Sha256Hex,
        tmp: &Path,
        limit: Option<u64>,
    ) -> Result<Option<Staged>, Error> {
        let key = layout::object_key(sha);
        let got = match self
            .bounded(&key, self.store.get(&Key::from(key.as_str())))
            .await
        {
            Ok(got) => got,
            Err(Error::Request {
                source: object_store::Error::NotFound { .. },
                ..
            }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut stager = Stager::new(tmp)?;
        let mut stream = got.into_stream();
        let mut floor = SpeedFloor::new(self.limits.low_speed_limit, self.limits.low_speed_time);
        loop {
            let idle = tokio::time::Instant::now() + self.limits.idle;
            let deadline = floor.deadline().map_or(idle, |d| d.min(idle));
            let next = tokio::time::timeout_at(deadline, stream.next()).await;
            if let Ok(Some(Ok(chunk))) = &next {
                floor.count(chunk.len() as u64);
            }
            // A body that ended is never judged too slow.
            if !matches!(next, Ok(None))
                && let Some((rate, _)) = floor.judge()
            {
                return Err(Error::TooSlow {
                    tier: self.spec.text.clone(),
                    key,
                    rate,
                    limit: floor.limit(),
                });
            }
            match next {
                Err(_) if tokio::time::Instant::now() < idle => {}
                Ok(Some(Ok(chunk))) => {
                    stager.push(&chunk)?;
                    if limit.is_some_and(|l| stager.len() > l) {
                        let len = stager.len();
                        return Err(Error::WrongBytes {
                            tier: self.spec.text.clone(),
                            key,
                            actual: stager.finish().sha256().clone(),
                            len,
                        });
                    }
                }
                Ok(Some(Err(e))) => return Err(self.request_error(&key, e)),
                Ok(None) => break,
                Err(_) => return Err(self.timeout(&key)),
            }
        }
        let staged = stager.finish();
        if staged.sha256() != sha {
            return Err(Error::WrongBytes {
                tier: self.spec.text.clone(),
                key,
                actual: staged.sha256().clone(),
                len: staged.len(),
            });
        }
        Ok(Some(staged))
    }

    /// Reads a small key whole (`None` when absent).
    pub async fn read_small(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let get = async {
            match self.store.get(&Key::from(key)).await {
                Ok(got) => got.bytes().await.map(|b| Some(b.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        };
        self.bounded(key, get).await
    }

    /// The manifest, when the store has one.
    pub async fn manifest(&self) -> Result<Option<Manifest>, Error> {
        let Some(bytes) = self.read_small(layout::MANIFEST).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| Error::BadManifest {
                tier: self.spec.text.clone(),
            })
    }

    /// Creates `key` with `bytes` unless it exists: `If-None-Match: *`, or HEAD then
    /// PUT where the store has no conditional PUT (safe: a key names its bytes).
    pub async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<Put, Error> {
        if self.read_only() {
            return Err(Error::ReadOnly {
                tier: self.spec.text.clone(),
            });
        }
        let k = Key::from(key);
        let payload = PutPayload::from(bytes);
        let create = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let budget = self.limits.idle * 4;
        let put = tokio::time::timeout(
            budget,
            self.store.put_opts(&k, payload.clone(), create.clone()),
        );
        match put.await {
            Err(_) => Err(self.timeout(key)),
            Ok(Ok(_)) => Ok(Put::Created),
            Ok(Err(object_store::Error::AlreadyExists { .. })) => Ok(Put::Existed),
            Ok(Err(object_store::Error::NotImplemented)) => {
                if self.exists(key).await? {
                    return Ok(Put::Existed);
                }
                self.bounded(key, self.store.put(&k, payload)).await?;
                Ok(Put::Created)
            }
            Ok(Err(e)) => Err(self.request_error(key, e)),
        }
    }

    /// HEAD: whether `key` exists.
    pub async fn exists(&self, key: &str) -> Result<bool, Error> {
        let head = async {
            match self.store.head(&Key::from(key)).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        };
        self.bounded(key, head).await
    }

    /// Publishes the local object at `path` (holding `sha`, `len` bytes) unless the
    /// tier has it. Up to [`SINGLE_PUT_MAX`]: one conditional PUT; beyond: HEAD, then a
    /// multipart upload (invisible until completed, so never partial).
    pub async fn put_object(&self, sha: &Sha256Hex, path: &Path, len: u64) -> Result<Put, Error> {
        let key = layout::object_key(sha);
        if len <= single_put_max() {
            let bytes =
                std::fs::read(path).map_err(|e| crate::store::Error::io("read", path, e))?;
            // The local object is immutable, but check: never publish other bytes.
            let (actual, _) = crate::store::hash::hash_reader(&mut bytes.as_slice())
                .map_err(|e| crate::store::Error::io("hash", path, e))?;
            if &actual != sha {
                return Err(Error::Local(crate::store::Error::HashMismatch {
                    name: path.display().to_string(),
                    expected: sha.to_string(),
                    actual: actual.to_string(),
                }));
            }
            return self.put_bytes(&key, bytes).await;
        }
        if self.read_only() {
            return Err(Error::ReadOnly {
                tier: self.spec.text.clone(),
            });
        }
        if self.exists(&key).await? {
            return Ok(Put::Existed);
        }
        self.put_multipart(&key, path).await?;
        Ok(Put::Created)
    }

    async fn put_multipart(&self, key: &str, path: &Path) -> Result<(), Error> {
        use std::io::Read;
        let k = Key::from(key);
        let upload = self.bounded(key, self.store.put_multipart(&k)).await?;
        let mut writer = object_store::WriteMultipart::new(upload);
        let mut file =
            std::fs::File::open(path).map_err(|e| crate::store::Error::io("open", path, e))?;
        let mut buf = vec![0u8; 8 * 1024 * 1024];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| crate::store::Error::io("read", path, e))?;
            if n == 0 {
                break;
            }
            self.bounded(key, writer.wait_for_capacity(4)).await?;
            writer.write(&buf[..n]);
        }
        self.bounded(key, writer.finish()).await?;
        Ok(())
    }
}

/// The first [`crate::kernel::HEAD_LEN`] bytes of a staged file (type detection).
pub fn head_of(staged: &Staged) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let mut head = Vec::with_capacity(crate::kernel::HEAD_LEN);
    std::fs::File::open(staged.path())
        .and_then(|f| {
            f.take(crate::kernel::HEAD_LEN as u64)
                .read_to_end(&mut head)
        })
        .map_err(|e| crate::store::Error::io("read", staged.path(), e))?;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_by_scheme() {
        let s = Spec::parse("s3://team-bucket/kdb/store/").unwrap();
        assert_eq!(
            (s.kind, s.location.as_str(), s.prefix.as_str()),
            (Kind::S3, "team-bucket", "kdb/store")
        );
        let s = Spec::parse("s3://b").unwrap();
        assert_eq!((s.location.as_str(), s.prefix.as_str()), ("b", ""));
        let s = Spec::parse("https://mirror.example/kdb").unwrap();
        assert_eq!(
            (s.kind, s.location.as_str()),
            (Kind::Http, "https://mirror.example/kdb/")
        );
        let s = Spec::parse("file:///mnt/team/").unwrap();
        assert_eq!((s.kind, s.location.as_str()), (Kind::Dir, "/mnt/team"));
        let s = Spec::parse("/cvmfs/kdb").unwrap();
        assert_eq!((s.kind, s.location.as_str()), (Kind::Dir, "/cvmfs/kdb"));
        for bad in ["ftp://x/y", "relative/dir", "s3:///nobucket", ""] {
            assert!(Spec::parse(bad).is_err(), "{bad}");
        }
    }
}
