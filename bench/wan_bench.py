"""Benchmark kdb where its users are (see wan.sh): the 126-kernel, 8-directory archive
served by Apache behind a latency proxy (RTT per round trip and per new connection,
a 200 Mbit/s bottleneck), at RTT 20, 100 and 300 ms. Prints, side by side, the floor
(parallel curl + sha256sum of the same URLs), kdb, and spice-kernel-db when installed,
with the requests each operation sent."""
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import common
from latency_proxy import LatencyProxy

KDB = sys.argv[1]
REF = sys.argv[2] if len(sys.argv) > 2 and os.path.exists(sys.argv[2]) else None
RTTS = [int(x) for x in os.environ.get("RTTS", "20,100,300").split(",")]
RUNS = int(os.environ.get("RUNS", 3))
MBIT = int(os.environ.get("MBIT", 200))
TOTAL_MB = int(os.environ.get("TOTAL_MB", 60))
N = 126
DIRS = ["spk", "ck", "pck", "fk", "ik", "sclk", "lsk", "dsk"]
W = tempfile.mkdtemp(prefix="kdb-bench-wan-")
DOC = os.path.join(W, "www")
KDIR = os.path.join(DOC, "pub/naif/WAN/kernels")
rng = random.Random(23)


def make_archive():
    """126 DAFs over 8 directories, published a day before they are fetched."""
    weights = [rng.uniform(0.05, 1.0) if rng.random() < 0.8 else rng.uniform(2, 6) for _ in range(N)]
    scale = TOTAL_MB * 1e6 / sum(weights)
    rels = []
    for i, w in enumerate(weights):
        sub = DIRS[i % len(DIRS)]
        rel = f"{sub}/wan_{i:03d}.bsp"
        os.makedirs(os.path.join(KDIR, sub), exist_ok=True)
        with open(os.path.join(KDIR, rel), "wb") as f:
            f.write(common.daf(b"DAF/SPK ", max(4096, int(w * scale))))
        rels.append(rel)
    os.makedirs(os.path.join(KDIR, "mk"), exist_ok=True)
    with open(os.path.join(KDIR, "mk", "wan.tm"), "w") as f:
        f.write("KPL/MK\n\\begindata\n    PATH_VALUES  = ( '..' )\n    PATH_SYMBOLS = ( 'KERNELS' )\n"
                "    KERNELS_TO_LOAD = (\n" + "\n".join(f"        '$KERNELS/{r}'" for r in rels) + "\n    )\n\\begintext\n")
    day_ago = time.time() - 86400
    for r, _, fs in os.walk(KDIR):
        for name in fs:
            os.utime(os.path.join(r, name), (day_ago, day_ago))
    return rels


def kdb_json(args, home):
    """Wall seconds and the `--json` report of one kdb command."""
    env = dict(os.environ, KDB_HOME=home, KDB_CONFIG=os.path.join(W, "kdb.toml"))
    t = time.perf_counter()
    p = subprocess.run([KDB, *args, "--json"], env=env, capture_output=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"kdb {' '.join(args)} exited {p.returncode}: {p.stderr.decode(errors='replace')[-2000:]}")
    return dt, json.loads(p.stdout)


def reqs(report):
    r = report["requests"]
    kinds = ", ".join(f"{k} {v}" for k, v in r.items() if k != "total" and v)
    return f"{r['total']} ({kinds})" if kinds else "0"


def one_rtt(apache_port, rtt, rels):
    rows = []
    with LatencyProxy(apache_port, rtt, MBIT) as port:
        base = f"http://127.0.0.1:{port}/pub/naif/WAN/kernels"
        urls = os.path.join(W, "urls.txt")
        with open(urls, "w") as f:
            f.write("\n".join(f"{base}/{r}" for r in rels))
        floor, cold, warm, outdated, ref_cold, ref_warm = [], [], [], [], [], []
        cold_r = warm_r = out_r = None
        for run in range(RUNS):
            out = os.path.join(W, f"floor{rtt}_{run}")
            os.makedirs(out)
            floor.append(common.timed(["bash", "-c", f"cd {out} && xargs -P 8 -n 16 curl -sf --remote-name-all < {urls} && "
                                       f"find . -type f -print0 | xargs -0 -P {os.cpu_count()} -n 16 sha256sum > /dev/null"]))
            shutil.rmtree(out)
            home = os.path.join(W, f"home{rtt}_{run}")
            t, cold_r = kdb_json(["get", f"{base}/mk/wan.tm", "-y", "--mission", "WAN"], home)
            cold.append(t)
            t, warm_r = kdb_json(["get", f"{base}/mk/wan.tm", "-y", "--mission", "WAN"], home)
            warm.append(t)
            t, out_r = kdb_json(["outdated", "--all"], home)
            outdated.append(t)
            shutil.rmtree(home)
            if REF:
                rh = os.path.join(W, f"ref{rtt}_{run}")
                os.makedirs(os.path.join(rh, ".config/spice-kernel-db"))
                with open(os.path.join(rh, ".config/spice-kernel-db/config.toml"), "w") as f:
                    f.write(f'[database]\npath = "{rh}/db.duckdb"\n\n[storage]\nkernel_dir = "{rh}/kernels"\n')
                cmd = [REF, "--db", f"{rh}/db.duckdb", "get", f"{base}/mk/wan.tm", "-y", "--download-dir", f"{rh}/kernels", "--mission", "WAN"]
                try:
                    ref_cold.append(common.timed(cmd, dict(os.environ, HOME=rh)))
                    ref_warm.append(common.timed(cmd, dict(os.environ, HOME=rh)))
                except SystemExit as e:
                    print(f"spice-kernel-db: {e}")
                shutil.rmtree(rh)
    s = rtt / 1000
    f, c, w, o = (statistics.median(x) for x in (floor, cold, warm, outdated))
    rows.append(("cold get", rtt, c, f"{c / f:.2f}x floor ({f:.2f} s)", f"<= {1.05 if rtt <= 100 else 1.10:.2f}x floor",
                 c / f <= (1.05 if rtt <= 100 else 1.10), reqs(cold_r)))
    rows.append(("warm get", rtt, w, f"{w / s:.1f} RTT", f"<= {3 * s + 0.05:.2f} s", w <= 3 * s + 0.05, reqs(warm_r)))
    rows.append(("outdated --all", rtt, o, f"{o / s:.1f} RTT", f"<= {4 * s + 0.1:.2f} s", o <= 4 * s + 0.1, reqs(out_r)))
    if ref_cold:
        rc, rw = statistics.median(ref_cold), statistics.median(ref_warm)
        rows.append(("spice-kernel-db cold get", rtt, rc, f"{rc / f:.2f}x floor; kdb {rc / c:.1f}x faster", "", None, ""))
        rows.append(("spice-kernel-db warm get", rtt, rw, f"{rw / s:.1f} RTT; kdb {rw / w:.1f}x faster", "", None, ""))
    return rows


def main():
    rels = make_archive()
    size = sum(os.path.getsize(os.path.join(KDIR, r)) for r in rels)
    proc, base, _ = common.start_apache(W, DOC)
    apache_port = int(base.rsplit(":", 1)[1])
    print(f"archive: {N} kernels in {len(DIRS)} directories, {size / 1e6:.0f} MB; Apache behind a latency proxy "
          f"({MBIT} Mbit/s); median of {RUNS} runs")
    try:
        rows = []
        for rtt in RTTS:
            rows += one_rtt(apache_port, rtt, rels)
        print(f"\n{'operation':<26} {'RTT':>5} {'time':>8}  {'as':<36} {'target':<18} {'met':<4} requests")
        for op, rtt, t, as_, target, met, rq in rows:
            m = "" if met is None else ("yes" if met else "NO")
            print(f"{op:<26} {rtt:>3}ms {t:7.2f}s  {as_:<36} {target:<18} {m:<4} {rq}")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(W, ignore_errors=True)


if __name__ == "__main__":
    main()
