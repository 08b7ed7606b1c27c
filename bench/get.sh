#!/usr/bin/env bash
# Benchmark `kdb get` on a synthetic archive (~300 kernels, ~250 MB, identical
# contents under several names, names that need `+` continuation) served by Apache
# httpd on loopback: cold get vs the floor (parallel curl + sha256sum of the same
# URLs), vs spice-kernel-db 0.22.3, warm re-run, and peak RSS for a 1 GB kernel.
#
# usage: bench/get.sh     (env: N_KERNELS=300 TOTAL_MB=250 RUNS=3 BIG_MB=1024)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/sbin/apache2 ] || { apt-get update -qq && apt-get install -y -qq apache2 >/dev/null; }
cargo build --release --quiet
VENV=${KDB_BENCH_VENV:-$PWD/.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import spice_kernel_db' 2>/dev/null || "$VENV/bin/pip" install -q spice-kernel-db==0.22.3 || true
exec "$VENV/bin/python" bench/get_bench.py "$PWD/target/release/kdb" "$VENV/bin/spice-kernel-db"
