#!/usr/bin/env bash
# The test command (README): installs what the suites need, then runs every test.
# Works on a fresh machine: Debian packages via apt-get when root, Python packages
# into ./.venv (CSPICE through SpiceyPy is the oracle for what a metakernel loads).
# Prints the time of each stage (install, build, tests, Python wheel).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/stage.sh

if [ -z "${KDB_STAGE_OWNER:-}" ]; then
  export KDB_STAGE_OWNER=test.sh

  trap stage_table EXIT
fi

install_deps() {
  local need_apt=()
  command -v apache2 >/dev/null 2>&1 || [ -x /usr/sbin/apache2 ] || need_apt+=(apache2)
  # The proxy tests (tests/it/network.rs, team.rs) and the HTTPS tests' private CA.
  [ -x /usr/bin/tinyproxy ] || need_apt+=(tinyproxy)
  command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
  if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "installing ${need_apt[*]} ..."
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    else
      echo "note: ${need_apt[*]} missing and not root; the Apache listing tests will be skipped"
    fi
  fi
  if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
  .venv/bin/python -c 'import spiceypy' 2>/dev/null || .venv/bin/pip install -q --disable-pip-version-check spiceypy
  # moto's S3 server for the team-store tests (tests/it/team.rs starts it on loopback).
  .venv/bin/python -c 'import moto.server' 2>/dev/null || .venv/bin/pip install -q --disable-pip-version-check 'moto[server]>=5.2,<6' || true
}
# Installing waits on the network and building on the CPU: they run side by side.
install_log=$(mktemp /tmp/kdb-install.XXXXXX)
( stage install install_deps ) >"$install_log" 2>&1 &
install_pid=$!
if cargo nextest --version >/dev/null 2>&1; then
  build_rc=0
  stage build cargo nextest run --no-run "$@" || build_rc=$?
else
  build_rc=0
  stage build cargo test --no-run "$@" || build_rc=$?
fi
install_rc=0
wait "$install_pid" || install_rc=$?
cat "$install_log"
if [ "$build_rc" != 0 ] || [ "$install_rc" != 0 ]; then
  echo "error: build exit $build_rc, install exit $install_rc" >&2
  exit 1
fi

export KDB_PYTHON="$PWD/.venv/bin/python"
if [ -x .venv/bin/moto_server ]; then export KDB_REQUIRE_S3=1; fi
if [ -z "${KDB_REALDATA:-}" ] && [ -d ../shared/realdata ]; then
  KDB_REALDATA="$(cd ../shared/realdata && pwd)"
  export KDB_REALDATA
fi
if [ -x /usr/sbin/apache2 ]; then export KDB_REQUIRE_APACHE=1; fi
if [ -x /usr/bin/tinyproxy ]; then export KDB_REQUIRE_PROXY=1; fi

if cargo nextest --version >/dev/null 2>&1; then
  stage "rust tests" cargo nextest run --no-fail-fast "$@"
else
  stage "rust tests" cargo test --no-fail-fast "$@"
fi

# The Python distribution: the kdb-spice wheel (maturin from PyPI) installed into a
# fresh venv without Rust, then its pytest suite (KDB_SKIP_PYTHON=1 skips it). The
# wheel reuses most of the test build (dev profile); `bash scripts/test_python.sh`
# alone builds a release wheel.
if [ "${KDB_SKIP_PYTHON:-0}" != 1 ]; then
  KDB_WHEEL_PROFILE=${KDB_WHEEL_PROFILE:-dev} stage "python wheel + tests" bash scripts/test_python.sh
fi
