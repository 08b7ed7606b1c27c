//! `kdb verify`: re-check what the catalogue says against the disk. Never changes
//! anything (no lock, no write, no sweep).
//!
//! - quick (default): every catalogue location exists, is what it is recorded as
//!   (object: a regular read-only file; symlink: a link to the recorded target, which
//!   is the object of the recorded content; file: a regular file), has the recorded
//!   size, and was not modified since it was hashed; every entry of each selected
//!   metakernel resolves.
//! - `--deep`: also re-hashes every distinct file (once per inode, in parallel),
//!   checks the structure of DAF/DAS files ([`crate::integrity::daf`]), flags
//!   impostors (HTML, Git LFS pointers, empty files: `kernel::detect`) and files in
//!   the object store the catalogue does not know.
//! - `--checksums TABLE|URL`: compares held files with a published MD5 table,
//!   matching each row by the path under which kdb holds (or fetched) the file.
//!
//! A finding that only *may* be a problem is a warning ([`Problem::is_warning`]):
//! exit 0 unless `--strict`. Everything else exits 3.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::{Ctx, Error, Result, mk};
use crate::db::{Catalogue, LocationKind, LocationRow, MetakernelRow};
use crate::integrity::checksums;
use crate::integrity::health::{self, FixContext};
pub use crate::integrity::health::{Finding, Problem};
use crate::store::Sha256Hex;

#[derive(Debug, Clone, Serialize)]
pub struct ChecksumReport {
    pub table: String,
    pub rows: usize,
    pub matched: usize,
    pub mismatched: Vec<String>,
    pub not_held: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Locations, metakernel entries and checksum rows checked.
    pub checked: u64,
    pub findings: Vec<Finding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksums: Option<ChecksumReport>,
}

impl VerifyReport {
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| !f.problem.is_warning())
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.findings.len() - self.errors()
    }
}

#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Registered metakernels (name or source URL) to check; empty: everything.
    pub metakernels: Vec<String>,
    pub deep: bool,
    /// A checksum table: a path or an http(s)/file URL.
    pub checksums: Option<String>,
}

/// A registered metakernel's entries as local paths (its local `.tm` carries
/// absolute `PATH_VALUES`; a relative entry is taken against the `.tm`'s directory).
pub(crate) fn metakernel_entries(m: &MetakernelRow) -> Result<Vec<PathBuf>> {
    let bytes = fs::read(&m.local_path)
        .map_err(|e| crate::store::Error::io("read", Path::new(&m.local_path), e))?;
    let loaded = mk::parse(m.local_path.clone(), &bytes)?;
    Ok(loaded
        .entries
        .iter()
        .filter_map(|e| {
            mk::candidate_paths(&m.local_path, &e.path)
                .into_iter()
                .next()
                .map(PathBuf::from)
        })
        .collect())
}

/// The metakernels `keys` name exactly (name or source URL); all when empty.
pub(crate) fn select_metakernels(cat: &Catalogue, keys: &[String]) -> Result<Vec<MetakernelRow>> {
    let all = cat.metakernels()?;
    if keys.is_empty() {
        return Ok(all);
    }
    let mut out = Vec::new();
    for key in keys {
        let found: Vec<_> = all
            .iter()
            .filter(|m| &m.name == key || &m.source_url == key || &m.local_path == key)
            .cloned()
            .collect();
        if found.is_empty() {
            return Err(Error::NotFound(format!(
                "no registered metakernel `{key}` (see `kdb metakernels`)"
            )));
        }
        out.extend(found);
    }
    Ok(out)
}

pub fn run(ctx: &Ctx<'_>, opts: &VerifyOptions) -> Result<VerifyReport> {
    let cat = ctx.read()?;
    let mks = select_metakernels(&cat, &opts.metakernels)?;
    let mut report = VerifyReport {
        checked: 0,
        findings: Vec::new(),
        checksums: None,
    };
    let owners = check_metakernels(&mks, &mut report);
    let mut rows = cat.all_locations()?;
    if !opts.metakernels.is_empty() {
        let shas: HashSet<Sha256Hex> = rows
            .iter()
            .filter(|r| owners.contains_key(Path::new(&r.path)))
            .map(|r| r.sha256.clone())
            .collect();
        rows.retain(|r| {
            owners.contains_key(Path::new(&r.path))
                || (r.kind == LocationKind::Object && shas.contains(&r.sha256))
        });
    }
    let ctxf = FixContext {
        home: &ctx.home,
        owners: &owners,
    };
    let mut quick: Vec<Option<Finding>> = rows
        .par_iter()
        .map(|r| health::quick_check(&ctxf, r))
        .collect();
    report.checked += rows.len() as u64;
    if opts.deep {
        let canonical: HashMap<Sha256Hex, String> = cat
            .all_kernels()?
            .into_iter()
            .map(|k| (k.sha256, k.canonical))
            .collect();
        let (checked, untracked) = health::deep_check(&ctxf, &canonical, &rows, &mut quick);
        report.checked += checked;
        report.findings.extend(untracked);
    }
    // A location that vanished may have been pruned meanwhile: keep the finding only
    // while the catalogue still records it (read-only commands take no lock).
    for f in quick.into_iter().flatten() {
        if f.problem == Problem::Missing && cat.location(&f.path)?.is_none() {
            continue;
        }
        report.findings.push(f);
    }
    if let Some(table) = &opts.checksums {
        check_table(&cat, table, &mut report)?;
    }
    report.findings.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(report)
}

/// Checks each metakernel's `.tm` and entries; returns entry path → metakernel name.
fn check_metakernels(mks: &[MetakernelRow], report: &mut VerifyReport) -> HashMap<PathBuf, String> {
    let mut owners = HashMap::new();
    for m in mks {
        report.checked += 1;
        let entries = match metakernel_entries(m) {
            Ok(e) => e,
            Err(e) => {
                report.findings.push(Finding {
                    path: m.local_path.clone(),
                    sha256: None,
                    problem: if Path::new(&m.local_path).exists() {
                        Problem::Unreadable
                    } else {
                        Problem::Missing
                    },
                    detail: format!("metakernel {}: {}", m.name, crate::error_chain(&e)),
                    fix: format!("kdb get --force {}", m.source_url),
                });
                continue;
            }
        };
        for path in entries {
            report.checked += 1;
            if fs::metadata(&path).is_err() {
                report.findings.push(Finding {
                    path: path.display().to_string(),
                    sha256: None,
                    problem: Problem::UnresolvedEntry,
                    detail: format!("entry of metakernel {} does not resolve to a file", m.name),
                    fix: format!("kdb get --force {}", m.source_url),
                });
            }
            owners.entry(path).or_insert_with(|| m.source_url.clone());
        }
    }
    owners
}

/// `--checksums`: every row of the table against the files held under its path.
fn check_table(cat: &Catalogue, table: &str, report: &mut VerifyReport) -> Result<()> {
    let text = read_table(table)?;
    let rows = checksums::parse(&text)
        .map_err(|e| Error::Usage(format!("cannot use checksum table `{table}`: {e}")))?;
    let mut md5_of: HashMap<Sha256Hex, Option<String>> = HashMap::new();
    let mut out = ChecksumReport {
        table: table.to_owned(),
        rows: rows.len(),
        matched: 0,
        mismatched: Vec::new(),
        not_held: Vec::new(),
    };
    for row in &rows {
        report.checked += 1;
        let held: Vec<LocationRow> = cat
            .locations_named(checksums::file_name(&row.path))?
            .into_iter()
            .filter(|l| {
                checksums::path_matches(&l.path, &row.path)
                    || l.source_url.as_deref().is_some_and(|u| {
                        url::Url::parse(u).is_ok_and(|u| {
                            let p =
                                percent_encoding::percent_decode_str(u.path()).decode_utf8_lossy();
                            checksums::path_matches(&p, &row.path)
                        })
                    })
            })
            .collect();
        if held.is_empty() {
            out.not_held.push(row.path.clone());
            continue;
        }
        let mut bad = None;
        for l in &held {
            let md5 = md5_of
                .entry(l.sha256.clone())
                .or_insert_with(|| health::md5_file(Path::new(&l.path)));
            if md5.as_deref() != Some(row.md5.as_str()) {
                bad = Some((l, md5.clone()));
            }
        }
        match bad {
            None => out.matched += 1,
            Some((l, got)) => {
                out.mismatched.push(row.path.clone());
                report.findings.push(Finding {
                    path: l.path.clone(),
                    sha256: Some(l.sha256.clone()),
                    problem: Problem::ChecksumMismatch,
                    detail: format!(
                        "`{}` in the table has MD5 {}, the held file {}",
                        row.path,
                        row.md5,
                        got.unwrap_or_else(|| "cannot be read".into())
                    ),
                    fix: "find out which copy is right; `kdb get --force MK` fetches the published one".into(),
                });
            }
        }
    }
    report.checksums = Some(out);
    Ok(())
}

fn read_table(table: &str) -> Result<String> {
    if table.contains("://") {
        let url = crate::remote::auth::accept_text(table).map_err(Error::Usage)?;
        let cfg = crate::remote::fetch::FetchConfig::default();
        return match crate::remote::fetch::fetch_text(&cfg, &url, None) {
            Ok(crate::remote::fetch::Conditional::Fetched(f)) => {
                Ok(String::from_utf8_lossy(&f.bytes).into_owned())
            }
            Ok(crate::remote::fetch::Conditional::NotModified) => Ok(String::new()),
            Err(e) => Err(Error::Remote(Box::new(e))),
        };
    }
    fs::read(table)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| Error::NotFound(format!("cannot read checksum table `{table}`: {e}")))
}
