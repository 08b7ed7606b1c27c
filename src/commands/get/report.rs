//! What `get` reports: the plan shown before anything is downloaded (`--dry-run`, the
//! confirmation), and the report of what was done, failed or left out.

use super::*;

#[derive(Debug, Serialize, Clone)]
pub struct PlanEntry {
    pub name: String,
    pub url: String,
    pub local_path: String,
    pub status: EntryStatus,
    pub size: Option<u64>,
    /// Other names the catalogue knows this content under (present entries).
    pub other_names: u64,
}

report_status! {
    /// What the plan does with one entry.
    pub enum EntryStatus {
        /// Held locally with the bytes the server has: only linked into the tree.
        Present => "present",
        /// To download.
        Download => "download",
    }
}

#[derive(Debug, Serialize, Clone)]
pub struct GetPlan {
    pub metakernel_url: String,
    pub mission: String,
    pub entries: Vec<PlanEntry>,
    /// Distinct URLs to download.
    pub to_download: usize,
    /// A windowed get: every entry's decision (taken/skipped, why) and the bytes saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<window::WindowView>,
}

#[derive(Debug, Serialize)]
pub struct Failure {
    pub name: String,
    pub url: String,
    pub error: FailureCause,
}

impl Failure {
    /// The server says it no longer has the kernel (404, 410; a missing `file://`).
    pub fn is_gone(&self) -> bool {
        matches!(&self.error, FailureCause::Download(e) if e.is_not_found())
    }
}

/// Why one kernel did not arrive (shown and serialised as its error chain).
#[derive(Debug)]
pub enum FailureCause {
    /// The transfer failed or its body was refused (not found, truncated, not a kernel...).
    Download(fetch::FetchError),
    /// The verified body could not be persisted as an object.
    Store(crate::store::Error),
    /// No team tier has it and `--no-upstream` forbids the archive.
    Team(crate::team::Error),
}

impl std::fmt::Display for FailureCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&match self {
            FailureCause::Download(e) => crate::error_chain(e),
            FailureCause::Store(e) => crate::error_chain(e),
            FailureCause::Team(e) => crate::error_chain(e),
        })
    }
}

impl Serialize for FailureCause {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Serialize)]
pub struct GetReport {
    pub plan: GetPlan,
    pub dry_run: bool,
    pub declined: bool,
    pub downloaded: usize,
    pub downloaded_bytes: u64,
    /// Of `downloaded`, the kernels that came from a team store tier.
    pub from_team: usize,
    /// Kernels newly uploaded to a team store tier.
    pub published: usize,
    pub failed: Vec<Failure>,
    /// The local metakernel, written only when every kernel is in place.
    pub metakernel: Option<String>,
    /// For `update`: the server said the metakernel did not change.
    pub unchanged: bool,
    /// With `--allow-missing`: the kernels the server no longer has, left out of
    /// the local metakernel.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<Failure>,
    /// Ctrl-C stopped the downloads: what arrived is committed, no metakernel is
    /// written, and a rerun fetches only the rest.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Requests sent to archive servers during this acquisition, by kind.
    pub requests: crate::remote::fetch::Requests,
    /// Kernels a mission mirror served because the server failed: URL → the
    /// mirror URL that served it.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub served_by: std::collections::BTreeMap<String, String>,
}

impl GetReport {
    /// The report of `plan` before anything is done: nothing downloaded, declined,
    /// failed or registered yet.
    pub(crate) fn planned(plan: GetPlan, dry_run: bool) -> GetReport {
        GetReport {
            plan,
            dry_run,
            declined: false,
            downloaded: 0,
            downloaded_bytes: 0,
            from_team: 0,
            published: 0,
            failed: Vec::new(),
            metakernel: None,
            unchanged: false,
            left_out: Vec::new(),
            interrupted: false,
            requests: Default::default(),
            served_by: Default::default(),
        }
    }
}
