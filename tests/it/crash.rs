//! Issue 2 acceptance 7: kill -9 of `scan --archive` / `dedup --execute` at random
//! points, 50 times. After each kill: every catalogue location reads its recorded
//! bytes, no path that existed before is missing or reads other bytes, and the next
//! command leaves no temp files.

use std::time::{Duration, Instant};

use crate::common::*;

fn tree(env: &Env, n: u64) -> std::path::PathBuf {
    let root = env.work("tree");
    for i in 0..n {
        let bytes = spk_bytes(i % (n / 2), 20_000);
        write(&root.join(format!("m{}/spk/k{i}.bsp", i % 3)), &bytes);
    }
    root
}

#[test]
fn kill_9_at_random_points_never_loses_or_corrupts() {
    let (mut rng, seed) = Rng::from_time();
    eprintln!("crash test seed {seed}");
    // Calibrate: how long one run of each command takes on this machine.
    let env = Env::new();
    let root = tree(&env, 120);
    env.ok(&["scan", root.to_str().unwrap()]);
    let t = Instant::now();
    env.ok(&["dedup", "--execute"]);
    let dedup_time = t.elapsed();
    let env = Env::new();
    let root = tree(&env, 120);
    let t = Instant::now();
    env.ok(&["scan", root.to_str().unwrap(), "--archive"]);
    let archive_time = t.elapsed();

    let mut midway = 0;
    for round in 0..50 {
        let env = Env::new();
        let root = tree(&env, 120);
        let dedup = round % 2 == 0;
        if dedup {
            env.ok(&["scan", root.to_str().unwrap()]);
        }
        let before = snapshot(&root);
        let budget = if dedup { dedup_time } else { archive_time };
        let delay = Duration::from_micros(rng.below(budget.as_micros() as u64 + 1));
        let mut child = if dedup {
            env.kdb().args(["dedup", "--execute"]).spawn().unwrap()
        } else {
            env.kdb()
                .args(["scan", root.to_str().unwrap(), "--archive"])
                .spawn()
                .unwrap()
        };
        // Random fault injection point (not synchronisation): kill -9 after `delay`.
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();

        if env.home().join("kdb.sqlite").exists() {
            assert_catalogue_matches_disk(&env);
        }
        let after = snapshot(&root);
        let links_before = before.values().filter(|v| v.0).count();
        let links_after = after.values().filter(|v| v.0).count();
        let total_links = if dedup { 120 - 60 } else { 120 };
        if links_after > links_before && links_after < total_links {
            midway += 1;
        }
        for (path, (_, _, sha)) in &before {
            let now = after
                .get(path)
                .unwrap_or_else(|| panic!("round {round}: `{}` disappeared", path.display()));
            assert_eq!(
                &now.2,
                sha,
                "round {round}: `{}` reads other bytes",
                path.display()
            );
        }
        // The next command sweeps leftovers and completes.
        env.ok(&["scan", root.to_str().unwrap()]);
        let leftovers: Vec<_> = temp_entries(env.root());
        assert!(
            leftovers.is_empty(),
            "round {round}: temp files left: {leftovers:?}"
        );
        assert_catalogue_matches_disk(&env);
        env.ok(&["dedup", "--execute"]);
        assert_catalogue_matches_disk(&env);
    }
    eprintln!("{midway} of 50 kills landed in the middle of the link phase");
}
