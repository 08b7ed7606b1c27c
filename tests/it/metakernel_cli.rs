//! Issue 3 acceptance through the real binary: `list`, `check`, `rewrite`, hostile
//! metakernels refused before any write, and rewrite end to end with CSPICE.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// Runs the CSPICE oracle on (metakernel, cwd) pairs.
pub fn oracle(py: &Path, jobs: &[(PathBuf, PathBuf)]) -> Vec<serde_json::Value> {
    let input: Vec<serde_json::Value> = jobs
        .iter()
        .map(|(mk, cwd)| serde_json::json!({"mk": mk, "cwd": cwd}))
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cspice/oracle.py");
    let mut child = Command::new(py)
        .arg(script)
        .arg("--batch")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), &input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "oracle failed");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oracle output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn loaded(v: &serde_json::Value) -> Vec<String> {
    v["furnsh"]["loaded"]
        .as_array()
        .unwrap_or_else(|| panic!("CSPICE did not load: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

const MK: &str = "KPL/MK\n\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'KERNELS' )\nKERNELS_TO_LOAD = ( '$KERNELS/spk/a.bsp' '$KERNELS/lsk/b.tls' )\n\\begintext\n";

#[test]
fn list_and_check_report_entries_sizes_aliases_and_gaps() {
    let env = Env::new();
    let tree = env.work("m/kernels");
    write(&tree.join("spk/a.bsp"), &spk_bytes(1, 500));
    write(&tree.join("spk/a_alias.bsp"), &spk_bytes(1, 500));
    write(&tree.join("mk/x.tm"), MK.as_bytes());
    env.ok(&["scan", tree.to_str().unwrap(), "--mission", "M"]);
    let mk = tree.join("mk/x.tm");
    let list = env.json(&["list", mk.to_str().unwrap()]);
    let entries = list["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["path"], "../spk/a.bsp");
    assert_eq!(entries[0]["kernel_type"], "spk");
    assert_eq!(entries[0]["size"], 1524);
    assert_eq!(entries[0]["other_names"], 1);
    assert_eq!(entries[1]["kernel_type"], "lsk");
    assert!(entries[1]["size"].is_null());
    let only_lsk = env.json(&["list", mk.to_str().unwrap(), "--type", "lsk"]);
    assert_eq!(only_lsk["entries"].as_array().unwrap().len(), 1);

    let out = env.run(&["check", mk.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a missing kernel makes check fail"
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["present"], 1);
    assert_eq!(j["missing"], 1);
    write(&tree.join("lsk/b.tls"), &text_kernel(1));
    env.ok(&["scan", tree.to_str().unwrap(), "--mission", "OTHER"]);
    let j = env.json(&["check", mk.to_str().unwrap(), "--mission", "M"]);
    assert_eq!(j["missing"], 0);
    assert_eq!(j["fallback"], 2, "both now belong to mission OTHER");
    let bad = env.run(&["list", env.work("nope.tm").to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn malformed_metakernel_names_file_line_and_column() {
    let env = Env::new();
    let mk = env.work("bad.tm");
    write(&mk, b"KPL/MK\n\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'K' )\nKERNELS_TO_LOAD = ( '$NOPE/a.bsp' )\n");
    let out = env.run(&["list", mk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.tm") && err.contains("line 5"), "{err}");
}

#[test]
fn hostile_metakernels_are_refused_before_anything_is_written() {
    let env = Env::new();
    write(&env.work("k/spk/a.bsp"), &spk_bytes(1, 100));
    env.ok(&["scan", env.work("k").to_str().unwrap()]);
    let pwn = Path::new("/tmp/pwn.bsp");
    let _ = std::fs::remove_file(pwn);
    let cases = [
        "KPL/MK\n\\begindata\nPATH_VALUES = ( '/x' )\nPATH_SYMBOLS = ( 'KERNELS' )\nKERNELS_TO_LOAD = ( '$KERNELS/spk/a.bsp' '$KERNELS/../../../../tmp/pwn.bsp' )\n",
        "KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( 'spk/a.bsp' '/tmp/pwn.bsp' )\n",
        "KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( 'spk/a.bsp' '../../../../tmp/pwn.bsp' )\n",
        "KPL/MK\n\\begindata\nPATH_VALUES = ( '/x' )\nPATH_SYMBOLS = ( 'KERNELS' )\nKERNELS_TO_LOAD = ( '$KERNELS/spk/a.bsp' '/etc/passwd' )\n",
    ];
    for (i, text) in cases.iter().enumerate() {
        let mk = env.work(&format!("hostile{i}.tm"));
        write(&mk, text.as_bytes());
        let out_dir = env.work(&format!("out{i}"));
        std::fs::create_dir_all(&out_dir).unwrap();
        let before = snapshot(env.root());
        let out = env.run(&[
            "rewrite",
            mk.to_str().unwrap(),
            "-o",
            out_dir.join("x.tm").to_str().unwrap(),
        ]);
        assert_refused(&out, &format!("case {i}"));
        assert_eq!(
            snapshot(env.root()),
            before,
            "case {i}: something was written"
        );
        assert!(
            std::fs::read_dir(&out_dir).unwrap().next().is_none(),
            "case {i}: output dir not empty"
        );
        assert!(!pwn.exists(), "case {i}: wrote outside the root");
    }
    // A symlinked directory inside the link root must not redirect writes.
    let mk = env.work("ok.tm");
    write(&mk, b"KPL/MK\n\\begindata\nPATH_VALUES = ( '/x' )\nPATH_SYMBOLS = ( 'KERNELS' )\nKERNELS_TO_LOAD = ( '$KERNELS/spk/a.bsp' )\n");
    let root = env.work("linkroot");
    let outside = env.work("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    symlink(&outside, &root.join("spk"));
    let out = env.run(&[
        "rewrite",
        mk.to_str().unwrap(),
        "-o",
        env.work("ok_out.tm").to_str().unwrap(),
        "--link-root",
        root.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "wrote through a symlinked directory"
    );
}

/// MANIFEST §2 trees where real metakernels fully resolve: (metakernel, intended cwd).
const FULL: &[(&str, &str)] = &[
    (
        "trees/esa_bepic_workshop/kernels/mk/bc_training_class.tm",
        "trees/esa_bepic_workshop/kernels",
    ),
    (
        "trees/naif_lessons_jorbit/Lessons/data/insitu_sensing/getsta.tm",
        "trees/naif_lessons_jorbit/Lessons",
    ),
    (
        "trees/naif_lessons_jorbit/Lessons/data/insitu_sensing/scvel.tm",
        "trees/naif_lessons_jorbit/Lessons",
    ),
    (
        "trees/naif_lessons_jorbit/Lessons/data/insitu_sensing/sscpnt.tm",
        "trees/naif_lessons_jorbit/Lessons",
    ),
    (
        "trees/naif_lessons_jorbit/Lessons/data/other_stuff/win.tm",
        "trees/naif_lessons_jorbit/Lessons",
    ),
    (
        "trees/naif_lessons_parspice/src/bench/spice/fovint.tm",
        "trees/naif_lessons_parspice",
    ),
    (
        "trees/naif_lessons_parspice/src/bench/spice/viewpr.tm",
        "trees/naif_lessons_parspice",
    ),
    (
        "trees/npb_kplo_spice/spice_kernels/mk/kplo_v01.tm",
        "trees/npb_kplo_spice/spice_kernels/mk",
    ),
    (
        "trees/npb_mars2020_spice/spice_kernels/mk/m2020_v02.tm",
        "trees/npb_mars2020_spice/spice_kernels/mk",
    ),
    (
        "trees/npb_mars2020_spice/spice_kernels/mk/m2020_chronos_v01.tm",
        "trees/npb_mars2020_spice/spice_kernels/mk",
    ),
];

#[test]
fn rewrite_of_real_trees_loads_the_same_bytes_from_anywhere() {
    let (Some(real), Some(py)) = (realdata(), python()) else {
        return;
    };
    let env = Env::new();
    env.ok(&["scan", real.join("trees").to_str().unwrap()]);
    let unrelated = env.work("elsewhere");
    std::fs::create_dir_all(&unrelated).unwrap();
    let mut jobs = Vec::new();
    for (i, (mk, cwd)) in FULL.iter().enumerate() {
        let out = env.work(&format!("rw{i}/local.tm"));
        let j = env.json(&[
            "rewrite",
            real.join(mk).to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(j["unresolved"].as_array().unwrap().len(), 0, "{mk}: {j}");
        jobs.push((real.join(mk), real.join(cwd)));
        jobs.push((out, unrelated.clone()));
    }
    let results = oracle(&py, &jobs);
    for (i, (mk, _)) in FULL.iter().enumerate() {
        let original = loaded(&results[2 * i]);
        let rewritten = loaded(&results[2 * i + 1]);
        assert_eq!(original.len(), rewritten.len(), "{mk}: ktotal differs");
        assert!(!original.is_empty());
        let cwd = real.join(FULL[i].1);
        for (a, b) in original.iter().zip(&rewritten) {
            let a = if Path::new(a).is_absolute() {
                PathBuf::from(a)
            } else {
                cwd.join(a)
            };
            assert_eq!(
                sha256(&a),
                sha256(Path::new(b)),
                "{mk}: `{b}` is not the bytes of `{}`",
                a.display()
            );
        }
    }
}
