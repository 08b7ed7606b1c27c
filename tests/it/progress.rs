//! Issue 7, defect 3: `get` draws bytes with a rate and an ETA on a terminal. A
//! kernel served with `Content-Length` (and only an approximate listing size, as
//! Apache's `5.0M`) must turn the item counter into a byte bar.

use std::process::Stdio;
use std::time::Duration;

use crate::common::http::{Fault, HttpServer};
use crate::common::*;

#[test]
fn a_kernel_with_content_length_drives_a_byte_bar_with_rate_on_a_pty() {
    let archive = tempfile::tempdir().unwrap();
    let kernels = archive.path().join("pub/naif/M/kernels");
    write(&kernels.join("spk/big.bsp"), &spk_bytes(5, 5 * 1024 * 1024));
    write(
        &kernels.join("mk/big.tm"),
        b"KPL/MK\n\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'KERNELS' )\nKERNELS_TO_LOAD = ( '$KERNELS/spk/big.bsp' )\n\\begintext\n",
    );
    let server = HttpServer::start(archive.path());
    // Slow enough for the bar to be drawn several times (it redraws at most 20 times a
    // second), fast enough for a test: about 1.2 s.
    server.fault(
        "/pub/naif/M/kernels/spk/big.bsp",
        Fault::Drip {
            chunk: 256 * 1024,
            interval: Duration::from_millis(60),
        },
    );
    let env = Env::new();
    let url = server.url("/pub/naif/M/kernels/mk/big.tm");
    // util-linux `script` gives kdb a pty for stderr, so progress is drawn.
    let cmd = format!(
        "stty cols 160 rows 40; {} get {url} -y --mission M",
        env!("CARGO_BIN_EXE_kdb")
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("KDB_HOME", env.home())
        .env("KDB_CONFIG", env.root().join("c.toml"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "get failed:\n{screen}");
    assert!(screen.contains("ready:"), "{screen}");
    // The byte bar: bytes of the announced total, and a rate, in the decimal units
    // the summaries use (MB, not MiB: issue 20).
    assert!(screen.contains("5.24 MB"), "no byte total drawn:\n{screen}");
    assert!(
        screen.contains("MB/s") || screen.contains("kB/s"),
        "no transfer rate drawn:\n{screen}"
    );
    assert!(!screen.contains("MiB"), "binary units drawn:\n{screen}");
}
