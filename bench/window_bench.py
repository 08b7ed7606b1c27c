"""Windowed vs full `kdb get` on Apache (see window.sh)."""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import common

KDB, REAL = sys.argv[1], sys.argv[2]
WEEKS = int(os.environ.get("WEEKS", 40))
RUNS = int(os.environ.get("RUNS", 3))
HERE = os.path.dirname(os.path.abspath(__file__))
ORACLE = os.path.join(HERE, "..", "tests", "cspice", "window_oracle.py")
W = tempfile.mkdtemp(prefix="kdb-bench-window-")
DOC = os.path.join(W, "www")
LOG = os.path.join(W, "httpd", "access.log")


def start_apache():
    proc, base, _ = common.start_apache(W, DOC, fancy=False, log=('%s %B \\"%r\\"', LOG), writable=True)
    return proc, base


def log_lines():
    try:
        with open(LOG) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def run(args, home):
    """One kdb run: (seconds, bytes, requests, range requests, json report)."""
    before = len(log_lines())
    env = dict(os.environ, KDB_HOME=home, KDB_CONFIG=os.path.join(W, "kdb.toml"))
    t = time.perf_counter()
    out = subprocess.run([KDB] + args + ["--json"], env=env, check=True, capture_output=True)
    dt = time.perf_counter() - t
    time.sleep(0.2)  # Apache writes its log line after the response
    lines = log_lines()[before:]
    body = sum(int(l.split()[1]) for l in lines if l.split()[1].isdigit())
    ranges = sum(1 for l in lines if l.startswith("206 "))
    return dt, body, len(lines), ranges, json.loads(out.stdout)


def main():
    lsk = os.path.join(REAL, "trees/esa_bepic_workshop/kernels/lsk/naif0012.tls")
    sclk = os.path.join(REAL, "trees/esa_bepic_workshop/kernels/sclk/bc_mpo_step_20200713.tsc")
    made = json.loads(subprocess.run([sys.executable, ORACLE, "make", os.path.join(DOC, "M"), lsk, sclk, str(WEEKS)],
                                     check=True, capture_output=True).stdout)
    # Archives are old: Apache gives a file modified within the last second a weak
    # ETag and then never answers 304 to a conditional range request.
    old = time.time() - 86400
    for r, _, fs in os.walk(DOC):
        for f in fs:
            os.utime(os.path.join(r, f), (old, old))
    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(DOC) for f in fs)
    proc, base = start_apache()
    url = f"{base}/M/kernels/mk/synth.tm"
    a, b = made["weeks"][min(15, WEEKS - 1)]
    week = ["--from", f"ET:{a + 3600}", "--to", f"ET:{b - 3600}"]
    rows = {}
    try:
        print(f"archive: {made['files']} kernels, {size / 1e6:.1f} MB, {WEEKS} weeks; Apache on loopback; {RUNS} runs, median")
        for label, extra in (("full get", []), ("windowed get (1 week)", week)):
            samples = []
            for i in range(RUNS):
                home = os.path.join(W, f"home-{len(rows)}-{i}")
                samples.append(run(["get", url, "-y", "--mission", "M"] + extra, home))
            rows[label] = samples
        # Warm probe cache: the same window again in a home that already probed it.
        home = os.path.join(W, "home-warm")
        run(["get", url, "-y", "--mission", "M"] + week, home)  # a real get caches the probes
        rows["windowed plan, probe cache warm"] = [run(["get", url, "-y", "--mission", "M", "--dry-run"] + week, home)
                                                   for _ in range(RUNS)]
    finally:
        proc.terminate()
        proc.wait()
    print(f"{'':34} {'time s':>8} {'bytes':>12} {'requests':>9} {'206s':>6}")
    full_bytes = statistics.median(s[1] for s in rows["full get"])
    for label, samples in rows.items():
        t = statistics.median(s[0] for s in samples)
        by = statistics.median(s[1] for s in samples)
        rq = statistics.median(s[2] for s in samples)
        rg = statistics.median(s[3] for s in samples)
        print(f"{label:34} {t:8.3f} {by:12.0f} {rq:9.0f} {rg:6.0f}   ({by * 100 / full_bytes:.2f} % of full bytes)")
    w = rows["windowed get (1 week)"][0][4]["plan"]["window"]
    p = w["probes"]
    print(f"window: {w['taken']} taken, {w['skipped']} skipped, {w['bytes_saved']} bytes not downloaded; "
          f"probes: {p['probed']} kernels, {p['requests']} range requests "
          f"({p['requests'] / max(p['probed'], 1):.2f} per probed kernel), {p['bytes']} bytes")
    shutil.rmtree(W, ignore_errors=True)


if __name__ == "__main__":
    main()
