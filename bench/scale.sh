#!/usr/bin/env bash
# Benchmark kdb at scale (issue 8): cold `get` at 300 kernels / 250 MB and at 3,000
# small CKs / ~30 MB vs the floor (curl -Z --parallel-max 8 + sha256sum), warm `get` of
# the 3,000-entry metakernel, list/check/resolve/aliases with 10^6 catalogued
# locations, `scan` of 100,000 small kernels vs sha256sum -P2, rescan, catalogue size,
# `browse` of a 20,000-file mk/ listing and of a 5 MB listing, peak RSS; all served by
# Apache httpd on loopback, spice-kernel-db 0.22.3 side by side (time-boxed).
#
# usage: bench/scale.sh            (full run, ~10-15 min on 2 cores)
#        QUICK=1 bench/scale.sh    (every shape ~10x smaller: smoke test)
# env (defaults): BIG_N=300 BIG_MB=250 CK_N=3000 SCAN_N=100000 LOCS=1000000
#   BROWSE_N=20000 LISTING_MB=5 RUNS=3 SCAN_RUNS=2 LAT_RUNS=11 REF_TIMEOUT=180
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/sbin/apache2 ] || { apt-get update -qq && apt-get install -y -qq apache2 >/dev/null; }
cargo build --release --quiet
VENV=${KDB_BENCH_VENV:-$PWD/.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import spice_kernel_db' 2>/dev/null || "$VENV/bin/pip" install -q spice-kernel-db==0.22.3 || true
exec "$VENV/bin/python" bench/scale_bench.py "$PWD/target/release/kdb" "$VENV/bin/spice-kernel-db"
