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
from typing import Callable

import kdb

HERE = Path(__file__).resolve().parent


def timed(fns: dict[str, Callable[[], object]], calls: int) -> dict[str, list[float]]:
    """Per-call milliseconds of each function, calls interleaved round by round so
    that load from other processes on a shared machine falls on every tool alike."""
    for fn in fns.values():  # warm-up: page cache, imports, first connection
        for _ in range(3):
            fn()
    out: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(calls):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            out[k].append((time.perf_counter() - t0) * 1000)
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

        fns: dict[str, Callable[[], object]] = {
            "kdb.resolve()  (Python API, one kdb process per call) ": lambda: (
                kdb.resolve(name, home=home)
            ),
            "kdb resolve    (bare subprocess, the floor)           ": lambda: (
                subprocess.run(
                    [str(binary), "--home", str(home), "resolve", name],
                    stdout=subprocess.DEVNULL,
                    check=True,
                )
            ),
        }
        try:
            from spice_kernel_db import KernelDB
        except ImportError:
            print("spice-kernel-db not installed: pip install spice-kernel-db==0.22.3")
        else:
            db = KernelDB(work / "ref.duckdb")
            t0 = time.perf_counter()
            db.scan_directory(tree)
            print(f"spice-kernel-db scan took {time.perf_counter() - t0:.2f} s")
            path, _ = db.resolve_kernel(name)
            assert path is not None and Path(path).name == name, path
            fns["KernelDB.resolve_kernel (in process, DB already open)"] = lambda: (
                db.resolve_kernel(name)
            )

            def cold() -> object:
                fresh = KernelDB(work / "ref.duckdb")
                try:
                    return fresh.resolve_kernel(name)
                finally:
                    fresh.con.close()

            # What kdb.resolve() does on every call: open the catalogue, then resolve.
            fns["KernelDB(db).resolve_kernel (opens the DB each call)  "] = cold
        print(f"kdb binary: {binary} ({kdb.version()}); kdb scan took {kdb_scan:.2f} s")
        print(
            f"== resolve of one name among {n} registered kernels, {calls} calls each =="
        )
        results = timed(fns, calls)
        for label, ms in results.items():
            print(f"{label}  {summary(ms)}")
        keys = list(results)
        med = statistics.median(results[keys[0]])
        verdict = "meets" if med < 20 else "MISSES"
        print(
            f"kdb.resolve() median {med:.2f} ms per call: {verdict} the < 20 ms target"
        )
        for key in keys[2:]:
            r = statistics.median(results[key])
            rel = f"{r / med:.1f}x faster" if med < r else f"{med / r:.1f}x slower"
            print(f"kdb.resolve() is {rel} than {key.strip()} ({r:.2f} ms)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
