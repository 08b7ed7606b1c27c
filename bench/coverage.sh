#!/usr/bin/env bash
# Benchmark the coverage index (issue 9): `kdb coverage` of every ID over a 300-kernel
# metakernel of real kernels (from $KDB_REALDATA) answered from the index, the bytes
# the index build reads of a 100 MB SPK, what indexing costs a scan, and
# spice-kernel-db 0.22.3's `coverage` (SpiceyPy, one body per call) on the same tree.
#
# usage: KDB_REALDATA=/path/to/realdata bench/coverage.sh [N_KERNELS=300] [N_REF_IDS=10]
# Whole-process wall times, medians of 11 runs (kdb) / as stated (spice-kernel-db).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300}; NREF=${2:-10}
: "${KDB_REALDATA:?set KDB_REALDATA to the real-data folder}"
cargo build --release --quiet
KDB=$PWD/target/release/kdb
VENV=${KDB_BENCH_VENV:-$PWD/.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import spice_kernel_db' 2>/dev/null || "$VENV/bin/pip" install -q spice-kernel-db==0.22.3 || true
REF=$VENV/bin/spice-kernel-db
W=$(mktemp -d /tmp/kdb-bench-coverage.XXXXXX)
trap 'rm -rf "$W"' EXIT
export HOME=$W/userhome KDB_CONFIG=$W/kdb.toml KDB_HOME=$W/home; mkdir -p "$HOME"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { local t0; t0=$(now); "$@" >/dev/null 2>&1; echo "$(now) - $t0" | bc -l; }

MK=$("$VENV/bin/python" bench/coverage_tree.py "$KDB_REALDATA" "$W/tree" "$N" "$KDB")
BIN=$(find "$W/tree/kernels" -name 'b*' | sort)
cat $BIN >/dev/null   # warm the page cache for everyone

# What indexing costs a scan: the same scan with and without it (KDB_NO_INDEX), on
# this tree and on bench/gen_tree.py's (300 files, mostly non-DAF bytes: the reader
# refuses them after one record).
scan=(); noidx=()
for i in 1 2 3 4 5; do
  rm -rf "$KDB_HOME"; noidx+=("$(KDB_NO_INDEX=1 secs "$KDB" scan "$W/tree")")
  rm -rf "$KDB_HOME"; scan+=("$(secs "$KDB" scan "$W/tree")")
done
S=$(printf '%s\n' "${scan[@]}" | median); B=$(printf '%s\n' "${noidx[@]}" | median)

cov=()
for i in $(seq 11); do cov+=("$(secs "$KDB" coverage --mk "$MK" --json)"); done
C=$(printf '%s\n' "${cov[@]}" | median)
READS=$(KDB_DEBUG_READS=1 "$KDB" coverage --mk "$MK" --json 2>&1 >/dev/null | grep -o 'read [0-9]* bytes' || true)
IDS=$("$KDB" coverage --mk "$MK" --json | "$VENV/bin/python" -c 'import json,sys; d=json.load(sys.stdin); print(sum(len(k["ids"]) for k in d["kernels"]), len({i["id"] for k in d["kernels"] for i in k["ids"]}))')

# A 100 MB SPK: a real SPK padded with zero records to 100 MB (the reader reads the
# file record and the summary/name records it needs, whatever the size).
BIG=$W/big.bsp
SRC=$(find "$W/tree/kernels" -name 'b*_de432s*' | head -1)
cp "$SRC" "$BIG"; truncate -s 100000000 "$BIG"
BIGREAD=$(KDB_HOME=$W/none KDB_DEBUG_READS=1 "$KDB" coverage "$BIG" --json 2>&1 >/dev/null | grep -o 'read [0-9]*' | grep -o '[0-9]*')

echo
echo "== coverage index over $N real kernels (median; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)) =="
printf 'kdb scan without index         %6.3f s\n' "$B"
printf 'kdb scan with index            %6.3f s   = +%.1f%% (target < 10%%)\n' "$S" "$(echo "100 * ($S - $B) / $B" | bc -l)"
printf 'kdb coverage --mk (every ID)   %6.3f s   whole process, %s (kernel, ID) rows / distinct IDs; %s of kernels (target < 50 ms)\n' "$C" "$IDS" "$READS"
printf 'index build of a 100 MB SPK    %s bytes read = %.4f%% (target < 0.5%%)\n' "$BIGREAD" "$(echo "100 * $BIGREAD / 100000000" | bc -l)"

if [ -x "$REF" ]; then
  # Its first run asks for a default server on stdin: answer "3" (skip).
  printf '3\n' | "$REF" --db "$W/ref.duckdb" scan "$W/tree" >/dev/null 2>&1 || echo "spice-kernel-db scan failed"
  BODIES=$("$KDB" coverage --mk "$MK" --json | "$VENV/bin/python" -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(sorted({str(i["id"]) for k in d["kernels"] if k["type"]=="spk" for i in k["ids"]})))')
  NB=$(echo "$BODIES" | wc -w)
  ok=0; fail=0; t=()
  for b in $(echo "$BODIES" | tr ' ' '\n' | head -"$NREF"); do
    t0=$(now)
    if "$REF" --db "$W/ref.duckdb" coverage "$b" "$MK" >"$W/ref.out" 2>&1 && ! grep -qi 'traceback\|error' "$W/ref.out"; then ok=$((ok + 1)); else fail=$((fail + 1)); grep -m1 -E 'Error:|Exception:' "$W/ref.out" >>"$W/ref.errors" || true; fi
    t+=("$(echo "$(now) - $t0" | bc -l)")
  done
  R=$(printf '%s\n' "${t[@]}" | median)
  [ -f "$W/ref.errors" ] && sort "$W/ref.errors" | uniq -c | sed 's/^/spice-kernel-db failure: /'
  printf 'spice-kernel-db coverage       %6.3f s per body (median of %d), %d ok, %d failed; SPK only, one body per call:\n' "$R" "${#t[@]}" "$ok" "$fail"
  printf '                               every one of the %d SPK bodies would take ~%.0f s (kdb: %.3f s for all %s IDs, SPK+CK+PCK)\n' "$NB" "$(echo "$R * $NB" | bc -l)" "$C" "$IDS"
fi
