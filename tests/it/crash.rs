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

    let (mut dedup_budget, mut archive_budget) = (dedup_time, archive_time);
    let mut midway = 0;
    let (mut early, mut late) = (String::new(), String::new());
    for round in 0..50 {
        let env = Env::new();
        let root = tree(&env, 120);
        let dedup = round % 2 == 0;
        let calibrated = if dedup { dedup_time } else { archive_time };
        if dedup {
            env.ok(&["scan", root.to_str().unwrap()]);
        }
        let before = snapshot(&root);
        let budget = if dedup {
            &mut dedup_budget
        } else {
            &mut archive_budget
        };
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
        // The delay stays uniform in [0, budget]; the budget follows the machine's load
        // (another test may share the cores): a kill after the command finished
        // shrinks it, one before any link grows it, up to twice the calibration.
        if links_after > links_before && links_after < total_links {
            midway += 1;
        } else if links_after == links_before {
            early.push(if dedup { 'd' } else { 'a' });
            *budget = (*budget * 5 / 4).min(2 * calibrated);
        } else {
            late.push(if dedup { 'd' } else { 'a' });
            *budget = *budget * 3 / 4;
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
    eprintln!(
        "kills before the link phase: {early:?}, after it: {late:?} (d dedup, a archive); \
         budgets {dedup_budget:?} / {archive_budget:?} from {dedup_time:?} / {archive_time:?}"
    );
    // Measured 42–46 of 50 alone and 36–39 under the full suite on 2 cores; the floor
    // sits about 3.5 standard deviations below, so it does not flake, while delays
    // that miss the link phase (the rounds above then prove little) fail at once.
    assert_kills_landed("kill -9 in the link phase", midway, 50, 50);
}
