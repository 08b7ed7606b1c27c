"""Benchmark the team store (see team.sh)."""
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time

import common

KDB, MOTO = sys.argv[1], sys.argv[2]
N = int(os.environ.get("N_KERNELS", 300))
TOTAL_MB = int(os.environ.get("TOTAL_MB", 150))
HOMES = int(os.environ.get("HOMES", 8))
W = tempfile.mkdtemp(prefix="kdb-bench-team-")
DOC = os.path.join(W, "www")
KDIR = os.path.join(DOC, "pub/naif/BENCH/kernels")
rng = random.Random(13)


def make_archive():
    sizes = [rng.uniform(0.2, 3.0) for _ in range(N)]
    scale = TOTAL_MB * 1e6 / sum(sizes)
    entries = []
    for i, s in enumerate(sizes):
        body = common.daf(b"DAF/SPK ", max(1025, int(s * scale)))
        rel = f"spk/k{i:04d}.bsp"
        os.makedirs(os.path.dirname(os.path.join(KDIR, rel)), exist_ok=True)
        with open(os.path.join(KDIR, rel), "wb") as f:
            f.write(body)
        entries.append(f"  '$KERNELS/{rel}'")
    os.makedirs(os.path.join(KDIR, "mk"), exist_ok=True)
    with open(os.path.join(KDIR, "mk/bench.tm"), "w") as f:
        f.write("KPL/MK\n\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'KERNELS' )\n"
                "KERNELS_TO_LOAD = (\n" + "\n".join(entries) + "\n)\n\\begintext\n")


def start_apache():
    log = os.path.join(W, "httpd", "access.log")
    proc, base, _ = common.start_apache(W, DOC, threads=32, workers=128, log=("%m %U %>s %B", log))
    return proc, base, log


def start_moto():
    port = common.free_port()
    log = open(os.path.join(W, "moto.log"), "w")
    proc = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=log)
    common.wait_port(port, "moto")
    py = os.path.join(os.path.dirname(MOTO), "python3")
    py = py if os.path.exists(py) else sys.executable
    subprocess.run([py, "-c", "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:%d', "
                    "aws_access_key_id='t', aws_secret_access_key='t', region_name='us-east-1')"
                    ".create_bucket(Bucket='team')" % port], check=True)
    return proc, port, os.path.join(W, "moto.log")


def upstream_kernels(access_log, since):
    """(GETs, bytes) of kernel files in the access log after line `since`."""
    gets = size = 0
    with open(access_log) as f:
        lines = f.readlines()[since:]
    for line in lines:
        m = re.match(r"GET (\S+) (\d+) (\S+)", line)
        if m and "/kernels/spk/" in m.group(1) and not m.group(1).endswith("/"):
            gets += 1
            size += int(m.group(3)) if m.group(3).isdigit() else 0
    return gets, size


def lines(path):
    with open(path) as f:
        return sum(1 for _ in f)


def run_homes(tag, url, extra_env):
    procs = []
    t = time.perf_counter()
    for i in range(HOMES):
        home = os.path.join(W, f"{tag}-{i}")
        env = dict(os.environ, KDB_HOME=home, KDB_CONFIG=os.path.join(W, "none.toml"), **extra_env)
        procs.append(subprocess.Popen([KDB, "get", url, "-y", "--mission", "BENCH", "-q"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"{tag}: kdb failed: {err.decode()}")
    return time.perf_counter() - t


def main():
    make_archive()
    apache, base, access = start_apache()
    moto, mport, motolog = start_moto()
    url = base + "/pub/naif/BENCH/kernels/mk/bench.tm"
    s3 = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{mport}", "AWS_ALLOW_HTTP": "true",
          "AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_REGION": "us-east-1"}
    try:
        print(f"archive: {N} kernels, {TOTAL_MB} MB (Apache on loopback); {HOMES} homes; S3: moto on loopback")
        mark = lines(access)
        wall = run_homes("upstream", url, {})
        gets, size = upstream_kernels(access, mark)
        print(f"(a) upstream only      : {wall:6.2f} s wall, {gets} kernel GETs upstream, {size / 1e6:7.1f} MB upstream")

        mark = lines(access)
        t = time.perf_counter()
        env = dict(os.environ, KDB_HOME=os.path.join(W, "warm"), KDB_CONFIG=os.path.join(W, "none.toml"),
                   KDB_TEAM_STORE="s3://team/warm", **s3)
        subprocess.run([KDB, "team", "warm", url, "-y", "--mission", "BENCH", "-q"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        warm = time.perf_counter() - t
        wgets, wsize = upstream_kernels(access, mark)
        mark = lines(access)
        mmark = lines(motolog)
        wall = run_homes("team", url, dict(KDB_TEAM_STORE="s3://team/warm", **s3))
        gets, size = upstream_kernels(access, mark)
        with open(motolog) as f:
            reqs = f.readlines()[mmark:]
        obj_gets = sum(1 for r in reqs if '"GET /team/warm/objects/' in r)
        lists = sum(1 for r in reqs if '"GET /team?list-type=2' in r or '"GET /team/?list-type=2' in r)
        hits = HOMES * N
        print(f"(b) warm (1 home)      : {warm:6.2f} s wall, {wgets} kernel GETs upstream, {wsize / 1e6:7.1f} MB upstream")
        print(f"(b) team store, {HOMES} homes: {wall:6.2f} s wall, {gets} kernel GETs upstream, {size / 1e6:7.1f} MB upstream; "
              f"S3 per team hit: {obj_gets / hits:.2f} object GET + {lists / hits:.2f} LIST")

        mark = lines(access)
        wall = run_homes("race", url, dict(KDB_TEAM_STORE="s3://team/race", **s3))
        gets, size = upstream_kernels(access, mark)
        print(f"(c) empty store, race  : {wall:6.2f} s wall, {gets} kernel GETs upstream ({gets / N:.2f} per kernel), "
              f"{size / 1e6:7.1f} MB upstream")
    finally:
        apache.terminate()
        moto.terminate()
        subprocess.run(["rm", "-rf", W])


main()
