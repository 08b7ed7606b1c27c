#!/usr/bin/env bash
# The Python distribution test (docs/python.md): build the `kdb-spice` wheel with
# maturin from PyPI, install it into a FRESH virtual environment with no Rust
# toolchain on PATH (so the wheel's binary is what gets installed, never a source
# build), then run the pytest suite in python/tests against it from an unrelated
# directory, with SpiceyPy (CSPICE) as the oracle.
#
# usage: scripts/test_python.sh [extra pytest args]
# env:   KDB_PY_KEEP=1 keeps the work directory (wheel, venv) and prints its path.
#        KDB_WHEEL_OUT=DIR only builds the wheel, into DIR; KDB_WHEEL=FILE tests that
#        wheel without building one (.ci/run runs clippy between the two).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PYTHON:-python3}
W=$(mktemp -d /tmp/kdb-py-test.XXXXXX)
cleanup() { if [ "${KDB_PY_KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi; }
trap cleanup EXIT
PIP_QUIET=(-q --disable-pip-version-check)

if [ -n "${KDB_WHEEL:-}" ]; then
  # A wheel built earlier (`.ci/run` builds it before clippy starts; see below).
  WHEEL=$KDB_WHEEL
  [ -f "$WHEEL" ] || { echo "error: KDB_WHEEL=$WHEEL is not a file" >&2; exit 1; }
else
  # 1. Build venv with maturin from PyPI (kept under target/, which is not versioned).
  BUILD_VENV=$REPO/target/python/build-venv
  if ! "$BUILD_VENV/bin/maturin" --version >/dev/null 2>&1; then
    rm -rf "$BUILD_VENV"
    "$PY" -m venv "$BUILD_VENV"
    "$BUILD_VENV/bin/pip" install "${PIP_QUIET[@]}" "maturin>=1.5,<2.0"
  fi
  # KDB_WHEEL_PROFILE=dev (scripts/test.sh, .ci/run) reuses the test build (Cargo.toml
  # unifies the dev-dependencies' features into every build, so nothing is compiled
  # again) instead of a release build from scratch; what is tested — a wheel that
  # installs and runs without Rust — is the same. (cargo's `test` profile would
  # package the unit-test harness, not the binary.)
  PROFILE=${KDB_WHEEL_PROFILE:-release}
  echo "== building the wheel ($("$BUILD_VENV/bin/maturin" --version), profile $PROFILE) =="
  "$BUILD_VENV/bin/maturin" build --profile "$PROFILE" --quiet -o "$W/wheels"
  WHEELS=("$W"/wheels/kdb_spice-*.whl)
  if [ ${#WHEELS[@]} -ne 1 ] || [ ! -f "${WHEELS[0]}" ]; then
    echo "error: expected one kdb_spice wheel in $W/wheels, found: ${WHEELS[*]}" >&2
    exit 1
  fi
  WHEEL=${WHEELS[0]}
  echo "built $(basename "$WHEEL") ($(du -h "$WHEEL" | cut -f1))"
fi
if [ -n "${KDB_WHEEL_OUT:-}" ]; then
  # Build only: leave the wheel in KDB_WHEEL_OUT for a later `KDB_WHEEL=… test_python.sh`.
  mkdir -p "$KDB_WHEEL_OUT"
  cp "$WHEEL" "$KDB_WHEEL_OUT/"
  exit 0
fi

# 2. A fresh venv; the wheel is installed with PATH stripped of cargo and rustc and
#    without an index, so nothing can be built from source.
VENV=$W/venv
"$PY" -m venv "$VENV"
CLEAN_PATH=/usr/bin:/bin
for tool in cargo rustc; do
  if PATH=$CLEAN_PATH command -v "$tool" >/dev/null 2>&1; then
    echo "error: $tool is on $CLEAN_PATH; cannot prove the wheel installs without Rust" >&2
    exit 1
  fi
done
env PATH="$CLEAN_PATH" "$VENV/bin/pip" install "${PIP_QUIET[@]}" --no-index --only-binary :all: "$WHEEL"
# numpy and tqdm are optional at runtime (the package works without them: a test
# hides them); the suite uses them, and mypy checks the typing script (acceptance 2
# of issue 21).
env PATH="$CLEAN_PATH" "$VENV/bin/pip" install "${PIP_QUIET[@]}" --only-binary :all: spiceypy pytest numpy tqdm mypy
[ -x "$VENV/bin/kdb" ] || { echo "error: the wheel did not install $VENV/bin/kdb" >&2; exit 1; }
echo "installed: $("$VENV/bin/kdb" --version) at $VENV/bin/kdb"

# 3. The suite, from an unrelated directory, against the installed package.
mkdir -p "$W/cwd"
cd "$W/cwd"
set +e
env -u KDB_BINARY -u KDB_HOME -u PYTHONPATH \
  KDB_REPO="$REPO" KDB_TEST_WHEEL=1 KDB_REQUIRE_CSPICE=1 KDB_REQUIRE_MYPY=1 \
  "$VENV/bin/python" -m pytest "$REPO/python/tests" -rs -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "error: pytest collected no tests from $REPO/python/tests" >&2
  exit 1
fi
exit "$rc"
