#!/usr/bin/env bash
# Benchmark windowed vs full `kdb get` (issue 11) on a synthetic archive written with
# SpiceyPy (weekly SPKs and CKs of one spacecraft, see tests/cspice/window_oracle.py),
# served by Apache httpd on loopback: wall time, bytes and requests (from Apache's
# access log), side by side; Range requests per probed kernel; a second windowed get
# with the probe cache warm.
#
# usage: bench/window.sh    (env: WEEKS=40 RUNS=3 KDB_BIN=path/to/kdb KDB_REALDATA=...)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/sbin/apache2 ] || { apt-get update -qq && apt-get install -y -qq apache2 >/dev/null; }
if [ -z "${KDB_BIN:-}" ]; then
  cargo build --release --quiet
  KDB_BIN=$PWD/target/release/kdb
fi
PY=${KDB_PYTHON:-$PWD/.venv/bin/python}
"$PY" -c 'import spiceypy' || { echo "needs a Python with spiceypy (KDB_PYTHON)"; exit 1; }
exec "$PY" bench/window_bench.py "$KDB_BIN" "${KDB_REALDATA:-/work/shared/realdata}"
