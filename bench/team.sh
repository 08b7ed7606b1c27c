#!/usr/bin/env bash
# Benchmark the team store (issue 13): 8 homes getting one 300-kernel metakernel
# (a) each from the upstream archive (Apache on loopback), (b) through an S3 team store
# (moto on loopback) warmed once by `kdb team warm`, (c) all at once into an empty team
# store. Reports wall time, upstream kernel GETs and bytes (Apache access log), and S3
# requests per team hit (moto's request log).
#
# usage: bench/team.sh     (env: N_KERNELS=300 TOTAL_MB=150 HOMES=8)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/sbin/apache2 ] || { apt-get update -qq && apt-get install -y -qq apache2 >/dev/null; }
cargo build --release --quiet
VENV=${KDB_BENCH_VENV:-$PWD/.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import moto.server' 2>/dev/null || "$VENV/bin/pip" install -q 'moto[server]'
MOTO=$VENV/bin/moto_server
[ -x "$MOTO" ] || MOTO=$(command -v moto_server)
exec "$VENV/bin/python" bench/team_bench.py "$PWD/target/release/kdb" "$MOTO"
