#!/usr/bin/env bash
# Benchmark issue 12's acceptance 6 on a synthetic 300-kernel set (bench/gen_tree.py):
#   restore of the lock from the local store (--offline --into a new directory)
#     vs `cp -r` of the same bytes + `sha256sum` of every file;
#   export of the lock to a plain tar
#     vs `tar -cf` of the same files + `sha256sum` of every file.
# Page cache warm for both sides; the median of RUNS runs is reported.
#
# usage: bench/lockfile.sh     (env: N_KERNELS=300 TOTAL_MB=250 RUNS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N_KERNELS:-300}
MB=${TOTAL_MB:-250}
RUNS=${RUNS:-3}
cargo build --release --quiet
KDB=$PWD/target/release/kdb
T=$(mktemp -d /tmp/kdb-bench-lock-XXXXXX)
trap 'rm -rf "$T"' EXIT
K=$T/archive/pub/naif/B/kernels
python3 bench/gen_tree.py "$K/data" "$N" "$MB" >/dev/null
mkdir -p "$K/mk"
{
  printf "KPL/MK\n\\\\begindata\nPATH_VALUES = ( '..' )\nPATH_SYMBOLS = ( 'KERNELS' )\nKERNELS_TO_LOAD = (\n"
  (cd "$K" && find data -type f | sort | sed "s|.*|  '\$KERNELS/&'|")
  printf ")\n\\\\begintext\n"
} >"$K/mk/b.tm"
export KDB_HOME=$T/home KDB_CONFIG=$T/config.toml
"$KDB" -q get -y "file://$K/mk/b.tm" >/dev/null
"$KDB" -q lock "file://$K/mk/b.tm" -o "$T/b.kdb.lock" >/dev/null

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_of() { local s e; s=$(now); "$@" >/dev/null; e=$(now); echo "$e - $s" | bc -l; }

restore_kdb() { "$KDB" -q restore "$T/b.kdb.lock" --offline --into "$T/r$1"; }
restore_floor() { cp -rL "$K/data" "$T/c$1" && find "$T/c$1" -type f -print0 | xargs -0 sha256sum; }
export_kdb() { "$KDB" -q export "$T/b.kdb.lock" -o "$T/e$1.tar"; }
export_floor() { tar -chf "$T/t$1.tar" -C "$K" data && find -L "$K/data" -type f -print0 | xargs -0 sha256sum; }

for what in restore export; do
  kdb_times=(); floor_times=()
  for i in $(seq "$RUNS"); do
    kdb_times+=("$(time_of "${what}_kdb" "$i")")
    floor_times+=("$(time_of "${what}_floor" "$i")")
  done
  k=$(printf '%s\n' "${kdb_times[@]}" | median)
  f=$(printf '%s\n' "${floor_times[@]}" | median)
  printf '%-8s kdb %6.2f s   floor %6.2f s   ratio %.2f (target < 1.25)\n' \
    "$what" "$k" "$f" "$(echo "$k / $f" | bc -l)"
done
