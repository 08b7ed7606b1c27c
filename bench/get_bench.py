"""Benchmark `kdb get` against the floor and against spice-kernel-db (see get.sh)."""
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import common

KDB = sys.argv[1]
REF = sys.argv[2] if len(sys.argv) > 2 and os.path.exists(sys.argv[2]) else None
N = int(os.environ.get("N_KERNELS", 300))
TOTAL_MB = int(os.environ.get("TOTAL_MB", 250))
RUNS = int(os.environ.get("RUNS", 3))
BIG_MB = int(os.environ.get("BIG_MB", 1024))
W = tempfile.mkdtemp(prefix="kdb-bench-get-")
DOC = os.path.join(W, "www")
MISSION = "BENCH"
KDIR = os.path.join(DOC, "pub/naif", MISSION, "kernels")
rng = random.Random(7)


def make_archive():
    weights = []
    for _ in range(N):
        r = rng.random()
        weights.append(rng.uniform(0.01, 0.3) if r < 0.6 else rng.uniform(0.5, 3) if r < 0.9 else rng.uniform(3, 10))
    scale = TOTAL_MB / sum(weights)
    entries, plain, written = [], [], []
    for i, w in enumerate(weights):
        size = max(2048, int(w * scale * 1e6))
        sub, ext, kind = [("spk", "bsp", b"DAF/SPK "), ("ck", "bc", b"DAF/CK  "), ("pck", "bpc", b"DAF/PCK ")][i % 3]
        long = i % 25 == 0
        name = f"{MISSION.lower()}_{sub}_{i:04d}_v{rng.randint(1, 9)}.{ext}"
        if long:
            name = f"{MISSION.lower()}_{sub}_attitude_reconstructed_from_telemetry_segment_{i:04d}_v01.{ext}"
        os.makedirs(os.path.join(KDIR, sub), exist_ok=True)
        path = os.path.join(KDIR, sub, name)
        if i % 10 == 9 and written:
            shutil.copyfile(rng.choice(written), path)  # same bytes, another name
        else:
            with open(path, "wb") as f:
                f.write(common.daf(kind, size))
            written.append(path)
        entry = f"$KERNELS/{sub}/{name}"
        if len(entry) > 78:  # needs `+` continuation to fit CSPICE's 80-byte strings
            cut = 60
            entries.append(f"                    '{entry[:cut]}+'\n                    '{entry[cut:]}'")
        else:
            entries.append(f"                    '{entry}'")
            plain.append(f"                    '{entry}'")
    os.makedirs(os.path.join(KDIR, "mk"), exist_ok=True)
    for mkname, lines in (("bench.tm", entries), ("bench_plain.tm", plain)):
        with open(os.path.join(KDIR, "mk", mkname), "w") as f:
            f.write("KPL/MK\n\\begindata\n    PATH_VALUES  = ( '..' )\n    PATH_SYMBOLS = ( 'KERNELS' )\n"
                    "    KERNELS_TO_LOAD = (\n" + "\n".join(lines) + "\n    )\n\\begintext\n")
    return len(entries), len(plain)


def start_apache():
    proc, base, _ = common.start_apache(W, DOC)
    return proc, base


def timed(cmd, env=None):
    return common.timed(cmd, env)


def kdb_env(home):
    return dict(os.environ, KDB_HOME=home, KDB_CONFIG=os.path.join(W, "kdb.toml"))


def main():
    n_all, n_plain = make_archive()
    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(KDIR) for f in fs)
    proc, base = start_apache()
    try:
        mk_url = f"{base}/pub/naif/{MISSION}/kernels/mk/bench.tm"
        plain_url = f"{base}/pub/naif/{MISSION}/kernels/mk/bench_plain.tm"
        urls = []
        for sub in ("spk", "ck", "pck"):
            for f in sorted(os.listdir(os.path.join(KDIR, sub))):
                urls.append(f"{base}/pub/naif/{MISSION}/kernels/{sub}/{f}")
        print(f"archive: {n_all} kernels ({n_all - n_plain} need + continuation), {size / 1e6:.0f} MB, served by Apache on loopback")

        floor, cold, ref, cold_plain, warm, ref_warm, warm_old = [], [], [], [], [], [], []
        for run in range(RUNS):
            out = os.path.join(W, f"floor{run}")
            os.makedirs(out)
            listfile = os.path.join(W, "urls.txt")
            with open(listfile, "w") as f:
                f.write("\n".join(urls))
            floor.append(timed(["bash", "-c", f"cd {out} && xargs -P 8 -n 16 curl -s --remote-name-all < {listfile} && "
                                f"find . -type f -print0 | xargs -0 -P {os.cpu_count()} -n 16 sha256sum > /dev/null"]))
            shutil.rmtree(out)
            home = os.path.join(W, f"home{run}")
            cold.append(timed([KDB, "get", mk_url, "-y", "-q", "--mission", MISSION], kdb_env(home)))
            # Worst case: every kernel was modified in the minute it was fetched, so the
            # listing cannot tell and each one is revalidated with a conditional request.
            for _ in range(3):
                warm.append(timed([KDB, "get", mk_url, "-y", "-q", "--mission", MISSION], kdb_env(home)))
            # Typical: the archive's files were published a day before they were fetched.
            day_ago = time.time() - 86400
            for r, _, fs in os.walk(KDIR):
                for f in fs:
                    os.utime(os.path.join(r, f), (day_ago, day_ago))
            for _ in range(3):
                warm_old.append(timed([KDB, "get", mk_url, "-y", "-q", "--mission", MISSION], kdb_env(home)))
            now_t = time.time()
            for r, _, fs in os.walk(KDIR):
                for f in fs:
                    os.utime(os.path.join(r, f), (now_t, now_t))
            shutil.rmtree(home)
            if REF:
                home = os.path.join(W, f"home_plain{run}")
                cold_plain.append(timed([KDB, "get", plain_url, "-y", "-q", "--mission", MISSION], kdb_env(home)))
                shutil.rmtree(home)
                rh = os.path.join(W, f"refhome{run}")
                os.makedirs(os.path.join(rh, ".config/spice-kernel-db"))
                with open(os.path.join(rh, ".config/spice-kernel-db/config.toml"), "w") as f:
                    f.write(f'[database]\npath = "{rh}/db.duckdb"\n\n[storage]\nkernel_dir = "{rh}/kernels"\n')
                ref_cmd = [REF, "--db", f"{rh}/db.duckdb", "get", plain_url, "-y", "--download-dir", f"{rh}/kernels",
                           "--mission", MISSION]
                try:
                    ref.append(timed(ref_cmd, dict(os.environ, HOME=rh)))
                    ref_warm.append(timed(ref_cmd, dict(os.environ, HOME=rh)))
                except subprocess.CalledProcessError as e:
                    print(f"spice-kernel-db get failed: {e}")
                shutil.rmtree(rh)
        f, c, w = statistics.median(floor), statistics.median(cold), statistics.median(warm)
        print(f"\n== cold get, median of {RUNS} ==")
        print(f"floor (curl -P8 + sha256sum)   {f:7.2f} s")
        print(f"kdb get                        {c:7.2f} s   = {c / f:.2f}x floor (target <= 1.25x)")
        if ref:
            r, cp = statistics.median(ref), statistics.median(cold_plain)
            print(f"spice-kernel-db get (plain mk) {r:7.2f} s   kdb on the same mk {cp:.2f} s: kdb {r / cp:.1f}x faster")
        print(f"\n== warm re-run, everything present, median of {len(warm)} ==")
        print(f"kdb get, kernels published long before   {statistics.median(warm_old) * 1000:7.1f} ms (target < 50 ms)")
        print(f"kdb get, worst case: all {n_all} revalidated  {w * 1000:7.1f} ms (target < 50 ms)")
        if ref_warm:
            rw = statistics.median(ref_warm)
            print(f"spice-kernel-db get (plain mk) {rw * 1000:7.1f} ms   ({rw / w:.0f}x kdb)")

        # Peak memory while downloading one big kernel.
        big = os.path.join(KDIR, "spk", "big_1gb.bsp")
        with open(big, "wb") as fh:
            fh.write(common.daf(b"DAF/SPK ", 1024))
            chunk = os.urandom(1 << 20)
            for _ in range(BIG_MB):
                fh.write(chunk)
        os.chmod(big, 0o644)
        with open(os.path.join(KDIR, "mk", "big.tm"), "w") as fh:
            fh.write("KPL/MK\n\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'KERNELS' )\n"
                     "KERNELS_TO_LOAD = ( '$KERNELS/spk/big_1gb.bsp' )\n\\begintext\n")
        probe = ("import resource,subprocess,sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        rss = subprocess.run([sys.executable, "-c", probe, KDB, "get", f"{base}/pub/naif/{MISSION}/kernels/mk/big.tm",
                              "-y", "-q", "--mission", MISSION], env=kdb_env(os.path.join(W, "bighome")),
                             check=True, capture_output=True, text=True).stdout.strip()
        print(f"\n== peak memory downloading one {BIG_MB} MB kernel ==")
        print(f"kdb get max RSS                {int(rss) / 1024:7.1f} MB (target < 64 MB)")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(W, ignore_errors=True)


main()
