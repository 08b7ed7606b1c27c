#!/usr/bin/env bash
# Benchmark kdb as its users meet the network (issue 23): the 126-kernel archive in 8
# directories served by Apache on loopback behind a latency proxy (bench/latency_proxy.py:
# RTT per round trip and per new connection, a 200 Mbit/s bottleneck), at RTT 20, 100
# and 300 ms: cold get vs the floor (parallel curl + sha256sum), warm get and
# `outdated --all` in round trips, with the requests each sent (their `--json`), and
# spice-kernel-db 0.22.3 beside them when it installs.
#
# usage: bench/wan.sh     (env: RTTS=20,100,300 RUNS=3 MBIT=200 TOTAL_MB=60)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/sbin/apache2 ] || { apt-get update -qq && apt-get install -y -qq apache2 >/dev/null; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
cargo build --release --quiet
VENV=${KDB_BENCH_VENV:-$PWD/.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import spice_kernel_db' 2>/dev/null || "$VENV/bin/pip" install -q spice-kernel-db==0.22.3 || true
cd bench
exec "$VENV/bin/python" wan_bench.py "$OLDPWD/target/release/kdb" "$VENV/bin/spice-kernel-db"
