#!/usr/bin/env bash
# Benchmark `kdb.resolve()` from Python against spice-kernel-db 0.22.3's
# `KernelDB.resolve_kernel`, both in one interpreter (bench/python_resolve.py).
#
# usage: bench/python_resolve.sh [N_FILES=2000] [CALLS=200]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
VENV=${KDB_BENCH_VENV:-$PWD/.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import spice_kernel_db' 2>/dev/null || "$VENV/bin/pip" install -q spice-kernel-db==0.22.3 || true
W=$(mktemp -d /tmp/kdb-bench-pyresolve-home.XXXXXX)
trap 'rm -rf "$W"' EXIT
export HOME=$W KDB_CONFIG=$W/kdb.toml
PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}" KDB_BINARY="$PWD/target/release/kdb" \
  "$VENV/bin/python" bench/python_resolve.py "$@"
