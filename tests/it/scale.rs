//! Issue 8: batched durability stays crash-safe. A `get` of thousands of small kernels
//! flushes them with one filesystem sync, renames them, syncs the directories once and
//! commits once; a crash between any two of those steps must leave no catalogue row
//! pointing at missing or partial bytes, and the next command must complete.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::http::HttpServer;
use crate::common::*;

/// An archive of `n` small CK-shaped kernels and one metakernel listing them all.
fn archive(n: usize) -> (tempfile::TempDir, String, Vec<PathBuf>) {
    let dir = tempfile::Builder::new()
        .prefix("kdb-scale-")
        .tempdir()
        .unwrap();
    let kernels = dir.path().join("pub/naif/S/kernels");
    let mut entries = Vec::new();
    let mut files = Vec::new();
    for i in 0..n {
        let name = format!("s_att_{i:05}.bc");
        let path = kernels.join("ck").join(&name);
        write(
            &path,
            &daf_bytes(b"DAF/CK  ", i as u64, 2000 + (i * 37) % 3000),
        );
        entries.push(format!("  '$KERNELS/ck/{name}'"));
        files.push(path);
    }
    let mk = format!(
        "KPL/MK\n\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'KERNELS' )\nKERNELS_TO_LOAD = (\n{}\n)\n\\begintext\n",
        entries.join("\n")
    );
    write(&kernels.join("mk/s.tm"), mk.as_bytes());
    (dir, "/pub/naif/S/kernels/mk/s.tm".to_owned(), files)
}

fn registered_metakernels(env: &Env) -> i64 {
    rusqlite::Connection::open(env.home().join("kdb.sqlite"))
        .and_then(|c| c.query_row("SELECT COUNT(*) FROM metakernels", [], |r| r.get(0)))
        .unwrap_or(0)
}

/// The home after a crash: every catalogue row reads its recorded bytes, every
/// object holds its name's content, and a registered metakernel has all its entries.
fn assert_consistent(env: &Env, what: &str) {
    assert_catalogue_matches_disk(env);
    let objects = env.home().join("objects/sha256");
    for e in walkdir::WalkDir::new(&objects)
        .into_iter()
        .filter_map(Result::ok)
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().is_file() && !name.starts_with(".kdb-tmp-") {
            assert_eq!(
                sha256(e.path()),
                name,
                "{what}: object `{name}` is not its content"
            );
        }
    }
    if registered_metakernels(env) > 0 {
        let missing: i64 = env
            .catalogue()
            .query_row(
                "SELECT COUNT(*) FROM locations WHERE path LIKE '%/missions/S/%' AND kind = 'symlink'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            missing > 0,
            "{what}: metakernel registered without its tree"
        );
    }
}

fn get(env: &Env, url: &str, crash_at: Option<&str>) -> std::process::Output {
    let mut cmd = env.kdb();
    cmd.args(["get", url, "-y", "-q", "--mission", "S"]);
    if let Some(point) = crash_at {
        cmd.env("KDB_CRASH_AT", point);
    }
    cmd.output().unwrap()
}

/// The ordering that makes batching safe: a crash after the batch flush, after the
/// renames, or after the layout — before the commit — registers nothing that is not
/// on disk, and the next `get` completes and leaves no temp file behind.
#[test]
fn a_crash_between_flush_rename_layout_and_commit_leaves_no_dangling_row() {
    let (dir, mk, files) = archive(64);
    let server = HttpServer::start(dir.path());
    let url = server.url(&mk);
    for point in ["flushed", "renamed", "laid_out"] {
        let env = Env::new();
        let out = get(&env, &url, Some(point));
        assert!(
            out.status.code().is_none(),
            "{point}: kdb did not die at the crash point ({:?})",
            out.status
        );
        assert_eq!(registered_metakernels(&env), 0, "{point}: registered");
        assert_consistent(&env, point);
        // The bytes staged before the crash are not trusted as kernels: no location
        // row exists for any tree path.
        let tree_rows: i64 = env
            .catalogue()
            .query_row(
                "SELECT COUNT(*) FROM locations WHERE path LIKE '%/missions/%'",
                [],
                |r| r.get(0),
            )
            .unwrap_or(0);
        assert_eq!(
            tree_rows, 0,
            "{point}: tree rows committed before the crash"
        );
        let again = get(&env, &url, None);
        assert!(again.status.success(), "{point}: {again:?}");
        assert!(
            temp_entries(env.root()).is_empty(),
            "{point}: temp files left"
        );
        assert_consistent(&env, point);
        assert_eq!(registered_metakernels(&env), 1);
        let held: i64 = env
            .catalogue()
            .query_row("SELECT COUNT(*) FROM kernels", [], |r| r.get(0))
            .unwrap();
        assert_eq!(held as usize, files.len(), "{point}");
    }
}

/// kill -9 during a 3,000-kernel `get` (issue 8, acceptance 2), phase by phase
/// (issue 22): first an abort at each named point between the batch flush, the
/// renames, the layout and the commit — the windows where batching could lose
/// something — then SIGKILL at random moments, which land mostly in the downloads.
/// After every round the home is consistent; every few rounds the next `get`
/// completes from whatever state was left.
#[test]
fn kill_9_during_a_3000_kernel_get_never_corrupts() {
    let (mut rng, seed) = Rng::from_time();
    eprintln!("seed {seed}");
    let (dir, mk, files) = archive(3000);
    let server = HttpServer::start(dir.path());
    let url = server.url(&mk);
    let calibrate = Env::new();
    let t = std::time::Instant::now();
    assert!(get(&calibrate, &url, None).status.success());
    let calibrated = t.elapsed();
    eprintln!("a whole get: {calibrated:?}");
    let mut budget = calibrated;
    let mut landed = 0;
    let phases = ["flushed", "renamed", "laid_out"];
    let rounds = phases.len() + 7;
    for round in 0..rounds {
        let env = Env::new();
        if let Some(point) = phases.get(round) {
            let out = get(&env, &url, Some(point));
            assert!(
                out.status.code().is_none(),
                "{point}: kdb did not die at the crash point ({:?})",
                out.status
            );
            landed += 1;
        } else {
            let mut child = env
                .kdb()
                .args(["get", &url, "-y", "-q", "--mission", "S"])
                .spawn()
                .unwrap();
            // Random fault injection point (not synchronisation).
            std::thread::sleep(Duration::from_micros(
                rng.below(budget.as_micros() as u64 + 1),
            ));
            let _ = child.kill();
            if child.wait().unwrap().success() {
                budget = budget * 3 / 4;
            } else {
                landed += 1;
                budget = (budget * 9 / 8).min(calibrated * 3 / 2);
            }
        }
        let what = format!("round {round}");
        let t = std::time::Instant::now();
        assert_consistent(&env, &what);
        eprintln!("{what}: checked in {:?}", t.elapsed());
        // Every tree path that exists is whole.
        let tree = env.home().join("missions/S");
        for e in walkdir::WalkDir::new(&tree)
            .into_iter()
            .filter_map(Result::ok)
        {
            if e.path_is_symlink() && e.file_name().to_string_lossy().ends_with(".bc") {
                let original = files
                    .iter()
                    .find(|f| f.file_name() == Some(e.file_name()))
                    .unwrap();
                assert_eq!(sha256(e.path()), sha256(original), "{what}: partial entry");
            }
        }
        // After the last phase abort and every few kills: the next get completes.
        if round % 4 == 2 || round == rounds - 1 {
            assert!(get(&env, &url, None).status.success(), "{what}");
            assert!(
                temp_entries(env.root()).is_empty(),
                "{what}: temp files left"
            );
            assert_consistent(&env, &what);
            assert_eq!(registered_metakernels(&env), 1, "{what}");
        }
    }
    assert_kills_landed("3,000-kernel get", landed, rounds, 60);
    let _ = Path::new("");
}
