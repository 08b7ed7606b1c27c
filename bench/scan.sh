#!/usr/bin/env bash
# Benchmark `kdb scan` against the physical floor (parallel sha256sum over the same
# files on the same cores) and against spice-kernel-db 0.22.3, plus rescan time and
# aliases/resolve latency with 100,000 registered locations.
#
# usage: bench/scan.sh [N_FILES=300] [TOTAL_MB=1500] [N_LATENCY=100000]
# Figures are medians of 3 runs, page cache warm for every tool alike.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300}; MB=${2:-1500}; NLAT=${3:-100000}
CORES=$(nproc)
cargo build --release --quiet
KDB=$PWD/target/release/kdb
VENV=${KDB_BENCH_VENV:-$PWD/.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import spice_kernel_db' 2>/dev/null || "$VENV/bin/pip" install -q spice-kernel-db==0.22.3 || true
REF=$VENV/bin/spice-kernel-db
W=$(mktemp -d /tmp/kdb-bench-scan.XXXXXX)
trap 'rm -rf "$W"' EXIT
export HOME=$W/userhome KDB_CONFIG=$W/kdb.toml; mkdir -p "$HOME"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { local t0; t0=$(now); "$@" >/dev/null 2>&1; echo "$(now) - $t0" | bc -l; }

echo "generating $N files, ~$MB MB ..."
"$VENV/bin/python" bench/gen_tree.py "$W/tree" "$N" "$MB"
BYTES=$(du -sb --apparent-size "$W/tree" | cut -f1)
find "$W/tree" -type f -exec cat {} + >/dev/null   # warm the page cache for everyone

floor=(); first=(); rescan=(); ref=()
for i in 1 2 3; do
  floor+=("$(secs bash -c "find '$W/tree' -type f -print0 | xargs -0 -P$CORES -n8 sha256sum")")
  rm -rf "$W/home"
  first+=("$(KDB_HOME=$W/home secs "$KDB" scan "$W/tree")")
  rescan+=("$(KDB_HOME=$W/home secs "$KDB" scan "$W/tree")")
  if [ -x "$REF" ]; then
    rm -rf "$W/ref.duckdb" "$HOME/.config/spice-kernel-db" "$HOME/.spice-kernel-db"
    ref+=("$(secs "$REF" --db "$W/ref.duckdb" scan "$W/tree")")
  fi
done
F=$(printf '%s\n' "${floor[@]}" | median); S=$(printf '%s\n' "${first[@]}" | median)
R=$(printf '%s\n' "${rescan[@]}" | median)
mbs() { echo "scale=1; $BYTES / 1000000 / $1" | bc -l; }
echo
echo "== scan of $N files, $((BYTES / 1000000)) MB, $CORES cores (median of 3) =="
printf 'floor  (sha256sum -P%s)  %6.3f s  %8s MB/s\n' "$CORES" "$F" "$(mbs "$F")"
printf 'kdb scan (first)          %6.3f s  %8s MB/s   throughput = %.2fx floor (target >= 0.8x)\n' "$S" "$(mbs "$S")" "$(echo "$F / $S" | bc -l)"
printf 'kdb scan (unchanged)      %6.3f s               = %.1f%% of first scan (target <= 3%%)\n' "$R" "$(echo "100 * $R / $S" | bc -l)"
if [ ${#ref[@]} -gt 0 ]; then
  RF=$(printf '%s\n' "${ref[@]}" | median)
  printf 'spice-kernel-db scan      %6.3f s  %8s MB/s   kdb is %.1fx faster\n' "$RF" "$(mbs "$RF")" "$(echo "$RF / $S" | bc -l)"
fi

echo
echo "generating $NLAT tiny kernels for latency ..."
"$VENV/bin/python" bench/gen_tree.py "$W/many" "$NLAT" 0 --tiny
rm -rf "$W/home2"
KDB_HOME=$W/home2 "$KDB" -q scan "$W/many" >/dev/null
LOCS=$(KDB_HOME=$W/home2 "$KDB" stats --json | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["locations"])')
lat() { local runs=(); for _ in $(seq 21); do runs+=("$(secs "$@")"); done; printf '%s\n' "${runs[@]}" | median; }
A=$(KDB_HOME=$W/home2 lat "$KDB" aliases k054321.tf)
RS=$(KDB_HOME=$W/home2 lat "$KDB" resolve k054321.tf)
printf '== latency with %s registered locations (whole process, median of 21) ==\n' "$LOCS"
printf 'kdb aliases   %6.1f ms (target < 10 ms)\n' "$(echo "$A * 1000" | bc -l)"
printf 'kdb resolve   %6.1f ms (target < 10 ms)\n' "$(echo "$RS * 1000" | bc -l)"
if [ -x "$REF" ] && [ -f "$W/ref.duckdb" ]; then
  name=$(basename "$(find "$W/tree" -type f | head -1)")
  RA=$(lat "$REF" --db "$W/ref.duckdb" resolve "$name")
  printf 'spice-kernel-db resolve (%s-file db)  %6.1f ms  (kdb %.0fx faster)\n' "$N" "$(echo "$RA * 1000" | bc -l)" "$(echo "$RA / $RS" | bc -l)"
fi
