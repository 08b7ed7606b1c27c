"""Per-call latency of `kdb.resolve()` from Python, side by side with spice-kernel-db's
`KernelDB.resolve_kernel` in the same interpreter, on the same registered tree.

usage: python bench/python_resolve.py [N_FILES=2000] [CALLS=200]

Needs the kdb Python package importable (PYTHONPATH=python, or the wheel installed)
with its binary (KDB_BINARY=target/release/kdb, or the wheel's), and
spice-kernel-db==0.22.3 installed. bench/python_resolve.sh sets this up.
Target: kdb.resolve() < 20 ms per call.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import kdb

HERE = Path(__file__).resolve().parent


def timed(fn, calls: int) -> list[float]:
    for _ in range(3):  # warm-up: page cache, imports, first connection
        fn()
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def summary(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=10)
    return f"median {statistics.median(ms):7.2f} ms   p90 {q[-1]:7.2f} ms   min {min(ms):7.2f} ms"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    with tempfile.TemporaryDirectory(prefix="kdb-bench-pyresolve.") as w:
        work = Path(w)
        tree = work / "tree"
        subprocess.run(
            [
                sys.executable,
                str(HERE / "gen_tree.py"),
                str(tree),
                str(n),
                "0",
                "--tiny",
            ],
            check=True,
        )
        home = work / "kdb-home"
        binary = kdb.find_binary()
        t0 = time.perf_counter()
        subprocess.run(
            [str(binary), "-q", "--home", str(home), "scan", str(tree)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        kdb_scan = time.perf_counter() - t0
        name = f"k{n // 2:06d}.tf"
        want = kdb.resolve(name, home=home)
        assert want.name == name, want

        print(
            f"== resolve of one name among {n} registered kernels, {calls} calls each =="
        )
        print(f"kdb binary: {binary} ({kdb.version()}); kdb scan took {kdb_scan:.2f} s")
        k = timed(lambda: kdb.resolve(name, home=home), calls)
        print(f"kdb.resolve()  (Python API, one kdb process per call)   {summary(k)}")
        cli = timed(
            lambda: subprocess.run(
                [str(binary), "--home", str(home), "resolve", name],
                stdout=subprocess.DEVNULL,
                check=True,
            ),
            calls,
        )
        print(
            f"kdb resolve    (bare subprocess, for the floor)          {summary(cli)}"
        )

        try:
            from spice_kernel_db import KernelDB
        except ImportError:
            print("spice-kernel-db not installed: pip install spice-kernel-db==0.22.3")
            ref = None
        else:
            db = KernelDB(work / "ref.duckdb")
            t0 = time.perf_counter()
            db.scan_directory(tree)
            ref_scan = time.perf_counter() - t0
            path, _ = db.resolve_kernel(name)
            assert path is not None and Path(path).name == name, path
            print(f"spice-kernel-db scan took {ref_scan:.2f} s")
            ref = timed(lambda: db.resolve_kernel(name), calls)
            print(
                f"KernelDB.resolve_kernel (in process, DB already open)   {summary(ref)}"
            )
        med = statistics.median(k)
        verdict = "meets" if med < 20 else "MISSES"
        print(
            f"kdb.resolve() median {med:.2f} ms per call: {verdict} the < 20 ms target"
        )
        if ref:
            r = statistics.median(ref)
            rel = f"{r / med:.1f}x faster" if med < r else f"{med / r:.1f}x slower"
            print(f"kdb.resolve() is {rel} than KernelDB.resolve_kernel ({r:.2f} ms)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
