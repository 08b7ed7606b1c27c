#!/usr/bin/env bash
# Benchmark `kdb verify` (quick) over a home of N kernels (target < 200 ms) and
# `kdb verify --deep` against the physical floor: parallel sha256sum over the same
# object bytes on 2 processes (`xargs -P2 sha256sum`; target: kdb within 1.2x).
#
# usage: bench/verify.sh [N_KERNELS=3000] [TOTAL_MB=1500]
# The home is built with `kdb scan --archive` (N objects + N links outside the home,
# i.e. 2N catalogue locations). Figures are medians of 5 runs (quick) and 3 runs
# (deep), page cache warm for both tools alike.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3000}; MB=${2:-1500}
cargo build --release --quiet
KDB=$PWD/target/release/kdb
W=$(mktemp -d /tmp/kdb-bench-verify.XXXXXX)
trap 'rm -rf "$W"' EXIT
export HOME=$W/userhome KDB_CONFIG=$W/kdb.toml KDB_HOME=$W/home; mkdir -p "$HOME"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { local t0; t0=$(now); "$@" >/dev/null 2>&1 || true; echo "$(now) - $t0" | bc -l; }

echo "generating $N structurally valid SPKs, ~$MB MB ..."
python3 - "$W/tree" "$N" "$MB" <<'PY'
import os, struct, sys
root, n, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
size = max(2048, mb * 1_000_000 // n)
ftp = b"FTPSTR:\r:\n:\r\n:\r\x00:\x81:\x10\xce:ENDFTP"
for i in range(n):
    d = os.path.join(root, f"d{i % 50:02d}")
    os.makedirs(d, exist_ok=True)
    rec = bytearray(1024)
    rec[0:8] = b"DAF/SPK "
    rec[8:16] = struct.pack("<ii", 2, 6)
    rec[76:84] = struct.pack("<ii", 2, 2)
    rec[88:96] = b"LTL-IEEE"
    rec[699:727] = ftp
    summary = bytearray(1024)  # NEXT = PREV = NSUM = 0.0
    body = os.urandom(size - 2048)
    with open(os.path.join(d, f"k{i:05d}.bsp"), "wb") as f:
        f.write(rec + summary + body)
PY
"$KDB" scan "$W/tree" --archive -q
OBJ=$W/home/objects/sha256
BYTES=$(du -sb --apparent-size "$OBJ" | cut -f1)
LOCS=$(sqlite3 "$W/home/kdb.sqlite" 'SELECT COUNT(*) FROM locations' 2>/dev/null || echo "?")
find "$OBJ" -type f -exec cat {} + >/dev/null   # warm the page cache

code=0; "$KDB" verify --deep -q >/dev/null 2>&1 || code=$?
[ "$code" = 0 ] || { echo "verify --deep found problems in the benchmark home (exit $code)"; exit 1; }

quick=(); deep=(); floor=()
for i in 1 2 3 4 5; do quick+=("$(secs "$KDB" verify)"); done
for i in 1 2 3; do
  floor+=("$(secs bash -c "find '$OBJ' -type f -print0 | xargs -0 -P2 -n64 sha256sum")")
  deep+=("$(secs "$KDB" verify --deep)")
done
Q=$(printf '%s\n' "${quick[@]}" | median)
D=$(printf '%s\n' "${deep[@]}" | median)
F=$(printf '%s\n' "${floor[@]}" | median)
echo
echo "== verify over $N kernels ($LOCS locations), $((BYTES / 1000000)) MB of objects, $(nproc) cores =="
printf 'kdb verify (quick)        %7.1f ms   (target < 200 ms)\n' "$(echo "1000 * $Q" | bc -l)"
printf 'sha256sum (xargs -P2)     %7.3f s    %7.1f MB/s\n' "$F" "$(echo "$BYTES / 1000000 / $F" | bc -l)"
printf 'kdb verify --deep         %7.3f s    %7.1f MB/s   = %.2fx sha256sum -P2 (target <= 1.2x)\n' \
  "$D" "$(echo "$BYTES / 1000000 / $D" | bc -l)" "$(echo "$D / $F" | bc -l)"
