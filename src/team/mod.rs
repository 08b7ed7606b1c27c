//! The team store (DESIGN.md §6): content-addressed tiers shared by many homes —
//! S3-API object storage, a read-only HTTP mirror of the same layout, a shared
//! directory — tried between the local store and the upstream archive.
//!
//! Contract:
//!
//! - **Lookup order** is local store → tiers in configured order → upstream. Callers
//!   ask only for what the local store lacks, so a local hit makes no request.
//! - **Every byte from a tier is hashed** while it is staged (in the home's `tmp/`)
//!   and compared with the object's name before anything else sees it; then the
//!   content is checked against what the caller knows (the locked hash and size, the
//!   listing's exact size, the kernel type the name implies). A mismatch is discarded
//!   with a warning and the next tier (then upstream) is tried: a poisoned or stale
//!   tier costs time, never correctness. `seen/` records are hints.
//! - **Writes are put-if-absent** and never overwrite or delete; "already exists" is
//!   success. Only content already durable in the local store is published.
//! - **A failing tier warns once** per command and is skipped for the rest of it;
//!   publishing failures never fail the command that downloaded the bytes.
//!
//! An async island like `remote::fetch`: [`Team`] owns its own tokio runtime and
//! every public function is blocking, so callers keep SQLite outside it.

pub mod aws;
mod layout;
mod tier;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use url::Url;

pub use layout::{MANIFEST, Manifest, SeenRecord, object_key, seen_key, seen_prefix, url_digest};
pub use tier::{Kind, Put, Spec};

use crate::kernel::{self, Detection};
use crate::remote::fetch::{self, DownloadRequest, Downloaded, FetchConfig, Validators, in_order};
use crate::store::Sha256Hex;
use crate::store::fsio::Staged;
use tier::{Limits, Tier};

/// How a command uses the team store.
#[derive(Debug, Clone, Default)]
pub struct TeamOptions {
    /// Tiers in lookup order (`s3://…`, `https://…`, `file://…` or `/dir`); empty
    /// means no team store (`--no-team`, or none configured).
    pub stores: Vec<String>,
    /// Never fall through to the upstream archive (`--no-upstream`).
    pub no_upstream: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid team store `{spec}`: {why}")]
    Spec { spec: String, why: String },
    /// The `ca_file` setting names a file kdb cannot read.
    #[error("cannot use the CA file `{path}` (setting `ca_file`, KDB_CA_FILE): {why}")]
    CaFile { path: String, why: String },
    #[error("cannot set up team store `{tier}`")]
    Setup {
        tier: String,
        #[source]
        source: object_store::Error,
    },
    /// No credentials for an S3 tier (`aws::source`).
    #[error("team store `{tier}`: {problem}")]
    Credentials { tier: String, problem: aws::Problem },
    #[error("failed to start the team-store runtime")]
    Runtime(#[source] std::io::Error),
    #[error("team store `{tier}`: request for `{key}` failed")]
    Request {
        tier: String,
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("team store `{tier}`: cannot list `{key}`")]
    Listing {
        tier: String,
        key: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("team store `{tier}`: listing `{key}` answered HTTP {status}")]
    ListingStatus {
        tier: String,
        key: String,
        status: u16,
    },
    #[error(
        "team store `{tier}`: `{key}` too slow ({rate:.0} bytes/s, the floor is {limit}: low_speed_limit)"
    )]
    TooSlow {
        tier: String,
        key: String,
        rate: f64,
        limit: u64,
    },
    #[error("team store `{tier}`: nothing for {:.1} s on `{key}`", .after.as_secs_f64())]
    Timeout {
        tier: String,
        key: String,
        after: Duration,
    },
    #[error("team store `{tier}` holds other bytes under `{key}` (sha256 {actual}, {len} bytes)")]
    WrongBytes {
        tier: String,
        key: String,
        actual: Sha256Hex,
        len: u64,
    },
    #[error("team store `{tier}`: `{key}` is not the content of `{name}`: {why}")]
    NotThisContent {
        tier: String,
        key: String,
        name: String,
        why: String,
    },
    #[error("team store `{tier}`: `kdb-store.json` is not a kdb store manifest")]
    BadManifest { tier: String },
    #[error("team store `{tier}` is read-only")]
    ReadOnly { tier: String },
    #[error("`{name}` is in no team store (`{url}`); --no-upstream forbids the archive")]
    Missing { name: String, url: String },
    #[error(transparent)]
    Local(#[from] crate::store::Error),
}

impl Error {
    /// The tier answered, but this one content is unusable: try the next tier, keep
    /// using this one for other contents.
    fn is_poison(&self) -> bool {
        matches!(
            self,
            Error::WrongBytes { .. } | Error::NotThisContent { .. }
        )
    }
}

/// One content a command needs: by URL (through `seen/`), by hash, or both.
#[derive(Debug, Clone)]
pub struct Want {
    pub url: Option<Url>,
    /// The file name as referenced (type checks, messages).
    pub name: String,
    /// The content must be exactly this (a lockfile's pin).
    pub sha256: Option<Sha256Hex>,
    /// The content must have exactly this size (a pin, or a listing's exact size).
    pub size: Option<u64>,
}

/// A content found in a tier: verified bytes in a staged file.
#[derive(Debug)]
pub struct Found {
    pub staged: Staged,
    pub tier: String,
}

/// A local content to publish.
#[derive(Debug, Clone)]
pub struct Publish {
    /// The upstream URL it was downloaded from (a `seen/` record), if any.
    pub url: Option<String>,
    pub sha256: Sha256Hex,
    /// The durable local object.
    pub path: PathBuf,
    pub size: u64,
    pub validators: Validators,
}

/// What a publish did, over every writable tier.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PublishReport {
    /// Writable tiers published to.
    pub tiers: usize,
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    /// Objects the tier already held.
    pub present: usize,
    pub records: usize,
    pub failed: usize,
}

/// One tier's state as `kdb team status` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct TierStatus {
    pub store: String,
    pub kind: Kind,
    pub reachable: bool,
    /// The manifest's layout version (`None`: no manifest yet, or unreachable).
    pub layout: Option<u32>,
    /// Write access, tested by a conditional create of the manifest.
    pub writable: bool,
    pub error: Option<String>,
}

/// The opened tiers of one command, with their runtime.
pub struct Team {
    runtime: tokio::runtime::Runtime,
    tiers: Vec<Tier>,
    /// Tiers that could not even be set up (a missing directory): reported by
    /// `status`, warned about once, never used.
    broken: Vec<(Spec, String)>,
    no_upstream: bool,
    jobs: usize,
    idle: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Tiers that failed (unreachable, timed out, server errors): skipped from then on.
    down: HashSet<usize>,
    /// Tiers that refused a write: not published to again.
    refused: HashSet<usize>,
    warnings: Vec<String>,
    /// Objects uploaded by every publish of this command.
    uploaded: usize,
}

impl Team {
    /// Opens the configured tiers (no request is made).
    pub fn open(opts: &TeamOptions, net: &FetchConfig) -> Result<Team, Error> {
        let ca_pem = match &net.ca_file {
            Some(path) if !opts.stores.is_empty() => {
                Some(std::sync::Arc::new(std::fs::read(path).map_err(|e| {
                    Error::CaFile {
                        path: path.display().to_string(),
                        why: e.to_string(),
                    }
                })?))
            }
            _ => None,
        };
        let limits = Limits {
            ca_pem,
            proxy: net.proxy.clone(),
            connect: net.connect_timeout,
            idle: net.read_timeout,
            low_speed_limit: net.low_speed_limit,
            low_speed_time: net.low_speed_time,
        };
        let specs = opts
            .stores
            .iter()
            .map(|s| Spec::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        let mut tiers = Vec::new();
        let mut broken = Vec::new();
        let mut state = State::default();
        for spec in specs {
            match Tier::open(spec.clone(), limits.clone()) {
                Ok(t) => tiers.push(t),
                Err(e) => {
                    let why = brief(&e);
                    state
                        .warnings
                        .push(format!("{why}; not using it for this command"));
                    broken.push((spec, why));
                }
            }
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kdb-team")
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        Ok(Team {
            runtime,
            tiers,
            broken,
            no_upstream: opts.no_upstream,
            jobs: net.jobs_per_host.max(1),
            idle: net.read_timeout,
            state: Mutex::new(state),
        })
    }

    /// No usable tier.
    pub fn is_empty(&self) -> bool {
        self.tiers.is_empty()
    }

    pub fn no_upstream(&self) -> bool {
        self.no_upstream
    }

    /// The warnings gathered so far (each failing tier once), emptied.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut self.state().warnings)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn warn(&self, message: String) {
        let mut state = self.state();
        if !state.warnings.contains(&message) {
            state.warnings.push(message);
        }
    }

    /// A tier failed: warn once, skip it from now on.
    fn fail(&self, i: usize, e: &Error) {
        let mut state = self.state();
        if state.down.insert(i) {
            state.warnings.push(format!(
                "{}; not using it for the rest of this command",
                brief(e)
            ));
        }
    }

    fn is_down(&self, i: usize) -> bool {
        self.state().down.contains(&i)
    }

    /// Looks every want up in the tiers, in order; hits are verified and staged in
    /// `tmp`. One answer per want, in order.
    pub fn find_all(&self, wants: &[Want], tmp: &Path) -> Vec<Option<Found>> {
        if self.tiers.is_empty() || wants.is_empty() {
            return wants.iter().map(|_| None).collect();
        }
        in_order(
            &self.runtime,
            self.jobs,
            wants.iter().map(|w| self.find(w, tmp)),
        )
    }

    async fn find(&self, want: &Want, tmp: &Path) -> Option<Found> {
        match self.lookup(want, tmp).await {
            Lookup::Found(f) => Some(f),
            Lookup::Poisoned | Lookup::Missing => None,
        }
    }

    async fn lookup(&self, want: &Want, tmp: &Path) -> Lookup {
        let mut poisoned = false;
        for (i, tier) in self.tiers.iter().enumerate() {
            if self.is_down(i) {
                continue;
            }
            match find_in(tier, want, tmp).await {
                Ok(Some(staged)) => {
                    return Lookup::Found(Found {
                        staged,
                        tier: tier.name().to_owned(),
                    });
                }
                Ok(None) => {}
                Err(e) if e.is_poison() => {
                    poisoned = true;
                    self.warn(format!("{}; not used", brief(&e)));
                }
                Err(e) => self.fail(i, &e),
            }
        }
        if poisoned {
            Lookup::Poisoned
        } else {
            Lookup::Missing
        }
    }

    /// The first tier that may be written (not read-only, not failed, not refused).
    fn writable(&self) -> Option<usize> {
        let state = self.state();
        (0..self.tiers.len()).find(|i| {
            !self.tiers[*i].read_only() && !state.down.contains(i) && !state.refused.contains(i)
        })
    }

    /// Claims the upstream download of each URL in the first writable tier (a
    /// put-if-absent of `claims/<sha256 of URL>/<10-minute window>`): `true` where this
    /// process should download it — it won the claim, or there is nothing to claim in.
    /// Homes racing for one metakernel so split the archive's work between them.
    ///
    /// `owner` names the claiming home (host and home directory): a claim this home
    /// made in an earlier run (a retry after a failure) counts as its own, so a retry
    /// never waits for itself.
    pub fn claim_all(&self, urls: &[&Url], owner: &str) -> Vec<bool> {
        let Some(i) = self.writable() else {
            return urls.iter().map(|_| true).collect();
        };
        let tier = &self.tiers[i];
        let window = chrono::Utc::now().timestamp() / 600;
        let body = serde_json::json!({ "owner": owner, "pid": std::process::id() });
        let answers: Vec<Result<bool, Error>> =
            in_order(
                &self.runtime,
                self.jobs,
                urls.iter().map(|u| {
                    let key = layout::claim_key(u.as_str(), window);
                    let body = body.to_string().into_bytes();
                    async move {
                        match tier.put_bytes(&key, body).await? {
                            Put::Created => Ok(true),
                            Put::Existed => Ok(claim_owner(&tier.read_small(&key).await?)
                                .is_some_and(|o| o == owner)),
                        }
                    }
                }),
            );
        answers
            .into_iter()
            .map(|a| match a {
                Ok(mine) => mine,
                Err(e) => {
                    self.refuse(i, &e);
                    true
                }
            })
            .collect()
    }

    /// Waits for contents other homes claimed to appear (polling with backoff), as
    /// long as some arrive at least every `max(2 × read timeout, 10 s)`. Returns what
    /// was found; a poisoned answer stops the wait for that content.
    fn wait_for(&self, wants: &[Want], mut pending: Vec<usize>, tmp: &Path) -> Vec<(usize, Found)> {
        let patience = (self.idle * 2).max(Duration::from_secs(10));
        let mut last_progress = std::time::Instant::now();
        let mut pause = Duration::from_millis(200);
        let mut got = Vec::new();
        while !pending.is_empty() && last_progress.elapsed() < patience && !self.is_empty() {
            // Polling a remote store: nothing to wait on locally.
            std::thread::sleep(pause);
            let answers: Vec<Lookup> = in_order(
                &self.runtime,
                self.jobs,
                pending.iter().map(|&i| self.lookup(&wants[i], tmp)),
            );
            let before = pending.len();
            let mut still = Vec::new();
            for (i, answer) in pending.into_iter().zip(answers) {
                match answer {
                    Lookup::Found(f) => got.push((i, f)),
                    Lookup::Poisoned => {}
                    Lookup::Missing => still.push(i),
                }
            }
            if still.len() < before {
                last_progress = std::time::Instant::now();
                pause = Duration::from_millis(200);
            } else {
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            pending = still;
            if (0..self.tiers.len()).all(|i| self.is_down(i)) {
                break;
            }
        }
        got
    }

    /// Objects newly uploaded by this command so far.
    pub fn uploaded(&self) -> usize {
        self.state().uploaded
    }

    /// A small document (a metakernel) by URL, from the first tier that has it.
    pub fn find_document(&self, url: &Url, tmp: &Path) -> Result<Option<Vec<u8>>, Error> {
        let name = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or_default()
            .to_owned();
        let want = Want {
            url: Some(url.clone()),
            name,
            sha256: None,
            size: None,
        };
        let found = self.runtime.block_on(self.find(&want, tmp));
        match found {
            None => Ok(None),
            Some(f) => std::fs::read(f.staged.path())
                .map(Some)
                .map_err(|e| crate::store::Error::io("read", f.staged.path(), e).into()),
        }
    }

    /// Publishes durable local contents to every writable tier (objects first, then
    /// their `seen/` records). Failures are warnings, counted in the report.
    pub fn publish(&self, items: &[Publish]) -> PublishReport {
        let mut report = PublishReport::default();
        if items.is_empty() {
            return report;
        }
        for (i, tier) in self.tiers.iter().enumerate() {
            if tier.read_only() || self.is_down(i) || self.state().refused.contains(&i) {
                continue;
            }
            report.tiers += 1;
            let manifest = serde_json::to_vec_pretty(&Manifest::current()).unwrap_or_default();
            if let Err(e) = self
                .runtime
                .block_on(tier.put_bytes(layout::MANIFEST, manifest))
            {
                self.refuse(i, &e);
                report.failed += items.len();
                continue;
            }
            let results: Vec<Result<(Put, bool), Error>> = in_order(
                &self.runtime,
                self.jobs,
                items.iter().map(|it| publish_one(tier, it)),
            );
            for (it, r) in items.iter().zip(results) {
                match r {
                    Ok((put, record)) => {
                        if put == Put::Created {
                            report.uploaded += 1;
                            report.uploaded_bytes += it.size;
                        } else {
                            report.present += 1;
                        }
                        report.records += usize::from(record);
                    }
                    Err(e) => {
                        report.failed += 1;
                        self.refuse(i, &e);
                    }
                }
            }
        }
        self.state().uploaded += report.uploaded;
        report
    }

    /// A write failed: warn once per tier, publish nothing more there.
    fn refuse(&self, i: usize, e: &Error) {
        let mut state = self.state();
        if state.refused.insert(i) {
            state
                .warnings
                .push(format!("cannot publish to the team store: {}", brief(e)));
        }
    }

    /// Reachability, layout and write access of every tier.
    pub fn status(&self) -> Vec<TierStatus> {
        let mut out: Vec<TierStatus> = self
            .tiers
            .iter()
            .map(|tier| self.runtime.block_on(status_of(tier)))
            .collect();
        out.extend(self.broken.iter().map(|(spec, why)| TierStatus {
            store: spec.text.clone(),
            kind: spec.kind,
            reachable: false,
            layout: None,
            writable: false,
            error: Some(why.clone()),
        }));
        out
    }
}

/// One tier's status: GET the manifest, then a conditional create of it (write
/// access: created or "already exists" means the credentials may write).
async fn status_of(tier: &Tier) -> TierStatus {
    let mut s = TierStatus {
        store: tier.name().to_owned(),
        kind: tier.spec.kind,
        reachable: false,
        layout: None,
        writable: false,
        error: None,
    };
    match tier.manifest().await {
        Ok(m) => {
            s.reachable = true;
            s.layout = m.map(|m| m.layout);
        }
        Err(Error::BadManifest { .. }) => s.reachable = true,
        Err(e) => {
            s.error = Some(brief(&e));
            return s;
        }
    }
    if !tier.read_only() {
        let manifest = serde_json::to_vec_pretty(&Manifest::current()).unwrap_or_default();
        match tier.put_bytes(layout::MANIFEST, manifest).await {
            Ok(put) => {
                s.writable = true;
                if put == Put::Created {
                    s.layout = Some(layout::LAYOUT_VERSION);
                }
            }
            Err(e) => s.error = Some(brief(&e)),
        }
    }
    s
}

/// Publishes one object, then (when it came from a URL) its `seen/` record.
async fn publish_one(tier: &Tier, it: &Publish) -> Result<(Put, bool), Error> {
    let put = tier.put_object(&it.sha256, &it.path, it.size).await?;
    let Some(url) = &it.url else {
        return Ok((put, false));
    };
    // One record per change, not per publisher: skip it when the newest already says so.
    if put == Put::Existed && tier.seen(url).await?.as_ref() == Some(&it.sha256) {
        return Ok((put, false));
    }
    let now = chrono::Utc::now();
    let record = SeenRecord {
        url: url.clone(),
        sha256: it.sha256.to_string(),
        size: it.size,
        etag: it.validators.etag.clone(),
        last_modified: it.validators.last_modified.clone(),
        seen_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let body = serde_json::to_vec_pretty(&record).unwrap_or_default();
    let key = layout::seen_key(url, &layout::seen_time(now), &it.sha256);
    tier.put_bytes(&key, body).await?;
    Ok((put, true))
}

/// Looks one want up in one tier: the hash (pinned, else the newest `seen/` record
/// of the URL), then the object, verified.
async fn find_in(tier: &Tier, want: &Want, tmp: &Path) -> Result<Option<Staged>, Error> {
    let sha = match (&want.sha256, &want.url) {
        (Some(sha), _) => sha.clone(),
        (None, Some(url)) => match tier.seen(url.as_str()).await? {
            Some(sha) => sha,
            None => return Ok(None),
        },
        (None, None) => return Ok(None),
    };
    let Some(staged) = tier.fetch(&sha, tmp, want.size).await? else {
        return Ok(None);
    };
    let refuse = |why: String| Error::NotThisContent {
        tier: tier.name().to_owned(),
        key: layout::object_key(&sha),
        name: want.name.clone(),
        why,
    };
    if let Some(size) = want.size
        && size != staged.len()
    {
        return Err(refuse(format!(
            "{} bytes where {size} are expected",
            staged.len()
        )));
    }
    if staged.is_empty() {
        return Err(refuse("empty".into()));
    }
    let head = tier::head_of(&staged)?;
    match kernel::detect(&head, &want.name, staged.len()) {
        Detection::NotKernel(reason) => return Err(refuse(reason.to_owned())),
        // A `seen/` record pointing a URL at another kind of kernel (an SPK served
        // as `naif0012.tls`): the hash is right, the hint is not.
        Detection::Kernel { kernel_type, .. } => {
            if let Some(named) = kernel::KernelType::from_extension(&want.name)
                && named != kernel_type
                && !matches!(
                    kernel_type,
                    kernel::KernelType::Daf | kernel::KernelType::Das
                )
            {
                return Err(refuse(format!(
                    "the name says {}, the bytes are {}",
                    named.as_str(),
                    kernel_type.as_str()
                )));
            }
        }
        _ => {}
    }
    Ok(Some(staged))
}

/// An error and its causes on one line, each cause only when it adds something:
/// `object_store` errors repeat their source in their own message, and a plain chain
/// would print the same HTTP failure four times.
fn brief(error: &(dyn std::error::Error + 'static)) -> String {
    let mut s = error.to_string();
    let mut cur = error.source();
    while let Some(e) = cur {
        let text = e.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = e.source();
    }
    s
}

/// The `owner` of a claim's body, if it has one.
fn claim_owner(body: &Option<Vec<u8>>) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body.as_deref()?).ok()?;
    v.get("owner")?.as_str().map(str::to_owned)
}

/// Who claims downloads for the home whose staging directory is `tmp_dir`.
fn owner(tmp_dir: &Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let host = host.trim();
    format!("{host}:{}", tmp_dir.display())
}

/// What a lookup over every tier found.
enum Lookup {
    Found(Found),
    /// A tier answered with bytes that are not the content (warned about).
    Poisoned,
    Missing,
}

/// Where each request of a download came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Team,
    /// From the archive, already published to the writable tiers.
    Upstream,
}

/// Why a request of [`download_all`] failed.
#[derive(Debug)]
pub enum Failed {
    Upstream(fetch::FetchError),
    Team(Error),
}

/// `fetch::download_all` with the team tiers in front: each request is looked up in
/// the tiers first (its listing size, when exact, must match). The rest, unless
/// `--no-upstream` (then [`Error::Missing`]), are claimed in the first writable tier:
/// this home downloads what it claimed and publishes it at once (verified bytes,
/// content-addressed: safe before the local commit), then waits for what other homes
/// claimed, and downloads itself whatever did not appear.
pub fn download_all(
    team: &Team,
    cfg: &FetchConfig,
    tmp_dir: &Path,
    partial_dir: &Path,
    requests: &[DownloadRequest],
    progress: &dyn fetch::Progress,
) -> Vec<Result<(Downloaded, Origin), Failed>> {
    let wants: Vec<Want> = requests
        .iter()
        .map(|r| Want {
            url: Some(r.url.clone()),
            name: r.name.clone(),
            sha256: r.expected_sha256.clone(),
            size: r.expected_size.or(r.size_hint),
        })
        .collect();
    let found = team.find_all(&wants, tmp_dir);
    let mut out: Vec<Option<Result<(Downloaded, Origin), Failed>>> = Vec::new();
    let mut missing = Vec::new();
    for (i, (req, hit)) in requests.iter().zip(found).enumerate() {
        match hit {
            Some(f) => out.push(Some(Ok(from_team(i, req, f)))),
            None if team.no_upstream => out.push(Some(Err(Failed::Team(Error::Missing {
                name: req.name.clone(),
                url: req.url.to_string(),
            })))),
            None => {
                out.push(None);
                missing.push(i);
            }
        }
    }
    if !missing.is_empty() {
        let urls: Vec<&Url> = missing.iter().map(|&i| &requests[i].url).collect();
        let claims = if team.is_empty() {
            vec![true; urls.len()]
        } else {
            team.claim_all(&urls, &owner(tmp_dir))
        };
        let (mine, theirs): (Vec<_>, Vec<_>) = missing
            .into_iter()
            .zip(claims)
            .partition(|&(_, claimed)| claimed);
        let (mine, theirs): (Vec<usize>, Vec<usize>) = (
            mine.into_iter().map(|(i, _)| i).collect(),
            theirs.into_iter().map(|(i, _)| i).collect(),
        );
        let fetch = |indices: &[usize], out: &mut Vec<_>| {
            upstream(
                team,
                cfg,
                tmp_dir,
                partial_dir,
                requests,
                indices,
                progress,
                out,
            )
        };
        fetch(&mine, &mut out);
        if !theirs.is_empty() {
            tracing::info!(
                kernels = theirs.len(),
                "waiting for kernels other homes are downloading"
            );
        }
        let waited = team.wait_for(&wants, theirs.clone(), tmp_dir);
        for (i, f) in waited {
            out[i] = Some(Ok(from_team(i, &requests[i], f)));
        }
        let rest: Vec<usize> = theirs.into_iter().filter(|&i| out[i].is_none()).collect();
        fetch(&rest, &mut out);
    }
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| unreachable!("every request answered")))
        .collect()
}

fn from_team(i: usize, req: &DownloadRequest, f: Found) -> (Downloaded, Origin) {
    (
        Downloaded {
            request_index: i,
            final_url: req.url.clone(),
            served_by: None,
            staged: f.staged,
            validators: Validators::default(),
        },
        Origin::Team,
    )
}

/// Downloads `which` of `requests` from the archive into `out`, and publishes what
/// arrived to the writable tiers.
#[allow(clippy::too_many_arguments)]
fn upstream(
    team: &Team,
    cfg: &FetchConfig,
    tmp_dir: &Path,
    partial_dir: &Path,
    requests: &[DownloadRequest],
    which: &[usize],
    progress: &dyn fetch::Progress,
    out: &mut [Option<Result<(Downloaded, Origin), Failed>>],
) {
    if which.is_empty() {
        return;
    }
    let batch: Vec<DownloadRequest> = which.iter().map(|&i| requests[i].clone()).collect();
    let results = fetch::download_all(cfg, tmp_dir, partial_dir, &batch, progress);
    let mut items = Vec::new();
    for (&i, r) in which.iter().zip(results) {
        if let Ok(d) = &r {
            items.push(Publish {
                url: Some(requests[i].url.to_string()),
                sha256: d.staged.sha256().clone(),
                path: d.staged.path().to_path_buf(),
                size: d.staged.len(),
                validators: d.validators.clone(),
            });
        }
        out[i] = Some(
            r.map(|mut d| {
                d.request_index = i;
                (d, Origin::Upstream)
            })
            .map_err(Failed::Upstream),
        );
    }
    if !team.is_empty() {
        team.publish(&items);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("inner failed")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: inner failed")]
    struct Repeats(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("top")]
    struct Top(#[source] Inner);

    #[test]
    fn brief_drops_causes_the_message_already_says() {
        assert_eq!(brief(&Repeats(Inner)), "outer: inner failed");
        assert_eq!(brief(&Top(Inner)), "top: inner failed");
    }

    #[test]
    fn a_claim_names_its_owner() {
        let body = br#"{"owner": "node7:/home/u/.local/share/kdb/tmp", "pid": 12}"#.to_vec();
        assert_eq!(
            claim_owner(&Some(body)).as_deref(),
            Some("node7:/home/u/.local/share/kdb/tmp")
        );
        assert_eq!(claim_owner(&Some(b"not json".to_vec())), None);
        assert_eq!(claim_owner(&None), None);
        assert!(owner(Path::new("/h/tmp")).ends_with(":/h/tmp"));
    }
}
