# Stage timing for the test and CI scripts (sourced): `stage NAME CMD...` runs CMD,
# prints how long it took, and records it in $KDB_STAGE_LOG for the summary table
# `stage_table` prints.
: "${KDB_STAGE_LOG:=$(mktemp /tmp/kdb-stages.XXXXXX)}"
: "${KDB_STAGE_START:=$(date +%s)}"
export KDB_STAGE_LOG KDB_STAGE_START

stage() {
  local name=$1
  shift
  local t0=$SECONDS rc=0
  echo "== stage: $name =="
  "$@" || rc=$?
  local took=$((SECONDS - t0))
  printf '%s\t%d\t%d\n' "$name" "$took" "$rc" >>"$KDB_STAGE_LOG"
  printf '== stage: %s: %d s%s ==\n' "$name" "$took" "$([ "$rc" = 0 ] || echo " (failed, exit $rc)")"
  return "$rc"
}

stage_table() {
  local wall=$(($(date +%s) - KDB_STAGE_START))
  echo "== stage times =="
  awk -F'\t' '{ printf "  %-28s %5d s%s\n", $1, $2, ($3 == 0 ? "" : "  FAILED") }' "$KDB_STAGE_LOG"
  printf '  %-28s %5d s (%d min %02d s; stages side by side overlap)\n' "wall clock" "$wall" $((wall / 60)) $((wall % 60))
}
