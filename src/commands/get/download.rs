//! Downloading what a plan needs: the distinct URLs fetched in parallel (resumable,
//! hashed, verified, each length checked against the listing), then persisted as
//! objects on a bounded pool of file threads, and classified for their rows.

use super::*;

/// What the download step produced.
pub(super) struct Downloads {
    /// Persisted objects, by URL.
    pub(super) objects: HashMap<String, (Sha256Hex, PathBuf)>,
    pub(super) arrivals: Vec<Arrived>,
    pub(super) now: crate::content::Timestamp,
}

/// Downloads the missing URLs in parallel; each verified body becomes an object
/// (fsynced, directories synced once). Failures are recorded in `report`.
pub(super) fn download(
    ctx: &Ctx<'_>,
    cat: &Catalogue,
    net: &FetchConfig,
    team: &crate::team::Team,
    plan: &Acquisition,
    listings: &mut Listings<'_>,
    report: &mut GetReport,
) -> Result<Downloads> {
    let urls: Vec<&str> = plan
        .missing
        .iter()
        .map(|&i| plan.remote.entries[i].url.as_str())
        .collect();
    let known = cat.downloads_of(&urls)?;
    let requests: Vec<DownloadRequest> = plan
        .missing
        .iter()
        .map(|&i| {
            let e = &plan.remote.entries[i];
            // The listing's exact size is a check: a body of another length (a
            // `Content-Length` that lies, a connection closed early) is a failed
            // transfer, never a kernel.
            let listed = listings.exact_size(&e.url, &e.name);
            // A URL fetched before whose listing entry has not changed since must
            // serve the same content again, whichever host (a mirror) serves it.
            let same = known.get(e.url.as_str()).filter(|row| {
                matches!(
                    listings.verdict(&e.url, &e.name, row.size, row.fetched_at),
                    crate::remote::listings::Listed::Agrees
                )
            });
            DownloadRequest {
                url: e.url.clone(),
                name: e.name.clone(),
                expected_size: listed.or(same.map(|row| row.size)),
                expected_sha256: same.map(|row| row.sha256.clone()),
                size_hint: listed,
            }
        })
        .collect();
    let listed: Vec<_> = requests
        .iter()
        .map(|r| listings.size(&r.url, &r.name))
        .collect();
    let partial = ctx.home.partial_dir();
    fsio::create_dir_all(&partial)?;
    let results = crate::team::download_all(
        team,
        net,
        &ctx.home.tmp(),
        &partial,
        &requests,
        &Progress(ctx.reporter),
    );
    ctx.reporter.finish();
    team::warn(ctx, team);
    let mut results = refuse_unlisted_lengths(&requests, &listed, results);
    // Every arrived body on disk before the first rename (one flush for a batch).
    let mut staged: Vec<&mut fsio::Staged> = results
        .iter_mut()
        .filter_map(|r| r.as_mut().ok().map(|(d, _)| &mut d.staged))
        .collect();
    fsio::make_durable(&mut staged, &ctx.home.tmp())?;
    crate::commands::crash_point("flushed");
    let mut out = Downloads {
        objects: HashMap::new(),
        arrivals: Vec::new(),
        now: db::now(),
    };
    let verified = crate::supply::verified_stamps(
        &ctx.home,
        cat,
        results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|(d, _)| d.staged.sha256()),
    )?;
    let persisted = persist_all(ctx, &requests, &verified, out.now, results)?;
    for (req, persisted) in requests.iter().zip(persisted) {
        match persisted {
            Ok(p) => {
                report.downloaded += 1;
                report.downloaded_bytes += p.len;
                if p.origin == crate::team::Origin::Team {
                    report.from_team += 1;
                }
                if let Some(by) = p.arrived.served() {
                    report.served_by.insert(req.url.to_string(), by.to_owned());
                }
                out.arrivals.push(p.arrived);
                out.objects.insert(req.url.to_string(), (p.sha, p.object));
            }
            Err(error) => report.failed.push(Failure {
                name: req.name.clone(),
                url: req.url.to_string(),
                error,
            }),
        }
    }
    crate::commands::crash_point("renamed");
    Ok(out)
}

/// A body whose length the server's own listing contradicts is a failed transfer —
/// a `Content-Length` that lied, a connection closed early with no length — never a
/// kernel. An exact size must match; a rounded one (`1.7K`, nginx's `2M`) only
/// bounds the length loosely (half to twice), so no server's rounding is mistaken
/// for a short body.
pub(super) fn contradicts(size: crate::remote::listing::Size, len: u64) -> bool {
    match size.exact() {
        Some(n) => n != len,
        None => len.saturating_mul(2) < size.bytes() || len > size.bytes().saturating_mul(2),
    }
}

/// Applies [`contradicts`] to every arrived body, and the kernel checks of a
/// download ([`crate::integrity::refusal`]) to bodies from a team tier.
pub(super) fn refuse_unlisted_lengths(
    requests: &[DownloadRequest],
    listed: &[Option<crate::remote::listing::Size>],
    results: Vec<
        std::result::Result<(fetch::Downloaded, crate::team::Origin), crate::team::Failed>,
    >,
) -> Vec<std::result::Result<(fetch::Downloaded, crate::team::Origin), crate::team::Failed>> {
    results
        .into_iter()
        .zip(requests.iter().zip(listed))
        .map(|(result, (req, size))| match (result, size) {
            (Ok((d, _)), Some(size)) if contradicts(*size, d.staged.len()) => Err(
                crate::team::Failed::Upstream(fetch::FetchError::ListingDisagrees {
                    url: req.url.clone().into(),
                    listed: if size.is_exact() {
                        format!("{} bytes", size.bytes())
                    } else {
                        format!("about {} bytes", size.bytes())
                    },
                    got: d.staged.len(),
                }),
            ),
            // Bytes from a team tier did not pass the download's checks here: they
            // pass the same gate (a kind its name promises, a whole structure).
            (Ok((d, crate::team::Origin::Team)), _) => {
                match crate::integrity::check_kernel(d.staged.path(), &req.name) {
                    Ok(()) => Ok((d, crate::team::Origin::Team)),
                    Err(why) => Err(crate::team::Failed::Upstream(fetch::refusal_error(
                        req.url.clone(),
                        d.staged.path(),
                        why,
                    ))),
                }
            }
            (result, _) => result,
        })
        .collect()
}

/// A download persisted as its object, classified and indexed.
pub(super) struct Persisted {
    pub(super) sha: Sha256Hex,
    pub(super) object: PathBuf,
    pub(super) len: u64,
    pub(super) arrived: crate::supply::Arrived,
    pub(super) origin: crate::team::Origin,
}

/// Threads for per-file work (renames, links, classification): file system calls
/// wait on directory locks and the journal more than on the CPU.
pub(super) const FILE_THREADS: usize = 8;

/// Renames every durable download into the store as its object, then classifies and
/// indexes it, on [`FILE_THREADS`] threads; the object directories are synced once,
/// before this returns. Contents that arrived under several URLs are persisted once.
pub(super) fn persist_all(
    ctx: &Ctx<'_>,
    requests: &[DownloadRequest],
    verified: &HashMap<Sha256Hex, crate::store::FileStamp>,
    now: crate::content::Timestamp,
    results: Vec<
        std::result::Result<(fetch::Downloaded, crate::team::Origin), crate::team::Failed>,
    >,
) -> Result<Vec<std::result::Result<Persisted, FailureCause>>> {
    use rayon::prelude::*;
    // One `mkdir` per object shard per run, not one per kernel.
    let shards: BTreeSet<PathBuf> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter_map(|(d, _)| {
            ctx.home
                .object_path(d.staged.sha256())
                .parent()
                .map(Path::to_path_buf)
        })
        .collect();
    for shard in &shards {
        ctx.home.create_dir(shard)?;
    }
    let mut first_of: HashMap<Sha256Hex, usize> = HashMap::new();
    type Arrival =
        std::result::Result<(fetch::Downloaded, crate::team::Origin), crate::team::Failed>;
    let jobs: Vec<(bool, Arrival)> = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let first = r
                .as_ref()
                .is_ok_and(|(d, _)| *first_of.entry(d.staged.sha256().clone()).or_insert(i) == i);
            (first, r)
        })
        .collect();
    let dir_syncs = std::sync::Mutex::new(fsio::DirSyncs::default());
    let pool = file_pool(ctx)?;
    let persisted: Vec<_> = pool.install(|| {
        jobs.into_par_iter()
            .map(|(first, result)| {
                let (d, origin) = result.map_err(team::cause)?;
                let served_by = d.served_by.as_ref().map(|u| u.to_string());
                let mut syncs = fsio::DirSyncs::default();
                let (sha, object, len, validators) = if first {
                    let stamp = verified.get(d.staged.sha256()).copied();
                    execute::persist_object(ctx, d, stamp, &mut syncs)
                        .map_err(FailureCause::Store)?
                } else {
                    // The same bytes under another URL: its first arrival persists them.
                    let sha = d.staged.sha256().clone();
                    let path = ctx.home.object_path(&sha);
                    let object = crate::supply::Placed { path, found: false };
                    (sha, object, d.staged.len(), d.validators)
                };
                if let Ok(mut all) = dir_syncs.lock() {
                    all.merge(syncs);
                }
                Ok((sha, object, len, validators, origin, served_by))
            })
            .collect()
    });
    dir_syncs
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .sync()?;
    // Classification reads each object once; the rows are written in one transaction
    // later, so the objects are durable (and their directories synced) before that.
    let arrived: Vec<_> = pool.install(|| {
        persisted
            .into_par_iter()
            .zip(requests.par_iter())
            .map(|(persisted, req)| {
                let (sha, object, len, validators, origin, served_by) = persisted?;
                let crate::supply::Placed {
                    path: object,
                    found,
                } = object;
                let arrived = crate::supply::arrived(
                    &req.name,
                    req.url.as_str(),
                    validators,
                    &sha,
                    &object,
                    len,
                    now,
                )
                .map(|a| a.found_in_store(found).served_by(served_by))
                .map_err(FailureCause::Store)?;
                Ok(Persisted {
                    sha,
                    object,
                    len,
                    arrived,
                    origin,
                })
            })
            .collect()
    });
    Ok(arrived)
}

#[cfg(test)]
mod tests {
    use super::contradicts;
    use crate::remote::listing::Size;

    #[test]
    fn a_listing_contradicts_short_bodies_but_not_its_own_rounding() {
        // Apache's `1.7K` for a 1,699-byte kernel: 100 or 700 bytes are a cut transfer.
        assert!(contradicts(Size::Approx(1741), 100));
        assert!(contradicts(Size::Approx(1741), 700));
        assert!(!contradicts(Size::Approx(1741), 1699));
        // nginx rounds to whole units: `1M` for 1.49 MiB is not a contradiction.
        assert!(!contradicts(Size::Approx(1 << 20), 1_562_000));
        assert!(contradicts(Size::Approx(1 << 20), 5 << 20));
        // An exact size is exact.
        assert!(contradicts(Size::Exact(1699), 1698));
        assert!(!contradicts(Size::Exact(1699), 1699));
    }
}
