"""Benchmark the team store (see team.sh)."""
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time

KDB, MOTO = sys.argv[1], sys.argv[2]
N = int(os.environ.get("N_KERNELS", 300))
TOTAL_MB = int(os.environ.get("TOTAL_MB", 150))
HOMES = int(os.environ.get("HOMES", 8))
W = tempfile.mkdtemp(prefix="kdb-bench-team-")
DOC = os.path.join(W, "www")
KDIR = os.path.join(DOC, "pub/naif/BENCH/kernels")
rng = random.Random(13)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, what):
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not start")


def make_archive():
    sizes = [rng.uniform(0.2, 3.0) for _ in range(N)]
    scale = TOTAL_MB * 1e6 / sum(sizes)
    entries = []
    for i, s in enumerate(sizes):
        body = bytearray(b" " * 1024)
        body[0:8] = b"DAF/SPK "
        body[88:96] = b"LTL-IEEE"
        body += os.urandom(max(1, int(s * scale) - 1024))
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
    port = free_port()
    d = os.path.join(W, "httpd")
    os.makedirs(d)
    mods = "/usr/lib/apache2/modules"
    conf = f"""ServerRoot "{d}"
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule mime_module {mods}/mod_mime.so
LoadModule dir_module {mods}/mod_dir.so
LoadModule autoindex_module {mods}/mod_autoindex.so
User nobody
Group nogroup
PidFile "{d}/httpd.pid"
ErrorLog "{d}/error.log"
LogFormat "%m %U %>s %B" bench
CustomLog "{d}/access.log" bench
DefaultRuntimeDir "{d}"
Mutex file:{d} default
TypesConfig /etc/mime.types
KeepAlive On
MaxKeepAliveRequests 0
StartServers 2
ServerLimit 4
ThreadsPerChild 32
MaxRequestWorkers 128
DocumentRoot "{DOC}"
<Directory "{DOC}">
  Options +Indexes
  Require all granted
  IndexOptions FancyIndexing
</Directory>
"""
    with open(os.path.join(d, "httpd.conf"), "w") as f:
        f.write(conf)
    subprocess.run(["chmod", "-R", "a+rX", W], check=True)
    env = dict(os.environ, APACHE_RUN_DIR=d, APACHE_LOCK_DIR=d, APACHE_LOG_DIR=d, TZ="UTC")
    proc = subprocess.Popen(["/usr/sbin/apache2", "-f", os.path.join(d, "httpd.conf"), "-DFOREGROUND"], env=env)
    wait_port(port, "apache")
    return proc, f"http://127.0.0.1:{port}", os.path.join(d, "access.log")


def start_moto():
    port = free_port()
    log = open(os.path.join(W, "moto.log"), "w")
    proc = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=log)
    wait_port(port, "moto")
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
