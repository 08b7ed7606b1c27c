"""Fixtures for the kdb Python API tests: an isolated home and config per test, the
repository's offline demo archive, and a loopback HTTP server serving a copy of it."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import kdb

REPO = Path(os.environ.get("KDB_REPO", Path(__file__).resolve().parents[2]))
DEMO_ROOT = REPO / "demo"
DEMO_MK = DEMO_ROOT / "pub/naif/DEMO/kernels/mk/demo.tm"
#: The entries of demo.tm in load order, as written in the file (the independent truth).
DEMO_ENTRIES = [
    "demo_leapseconds.tls",
    "demo_lsk_v01.tls",
    "demo_pck_v01.tpc",
    "demo_spacecraft_frames_v01.tf",
]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the user's home, config or a lock timeout of 10 minutes."""
    monkeypatch.setenv("KDB_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.delenv("KDB_HOME", raising=False)
    monkeypatch.setenv("KDB_CONNECT_TIMEOUT", "2")
    monkeypatch.setenv("KDB_READ_TIMEOUT", "5")
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "kdb-home"


@pytest.fixture
def demo_url() -> str:
    assert DEMO_MK.is_file(), f"demo archive missing at {DEMO_MK}"
    return DEMO_MK.as_uri()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_demo(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A copy of the demo archive served on 127.0.0.1: (base URL, served directory)."""
    root = tmp_path / "served"
    shutil.copytree(DEMO_ROOT, root)

    def handler(*a: object, **kw: object) -> _Quiet:
        return _Quiet(*a, directory=str(root), **kw)  # type: ignore[arg-type]

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, never listening, held open."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


def under_pty(code: str, *args: str, on_output=None) -> tuple[int, str]:
    """Runs python -c CODE (the kdb package importable) with a pseudo-terminal as
    stderr, reading the terminal until it closes; returns (rc, stdout)."""
    import pty

    master, slave = pty.openpty()
    p = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=str(Path(kdb.__file__).parents[1]),
    )
    os.close(slave)
    if on_output is not None:
        on_output(p)
    try:
        while True:
            try:
                if not os.read(master, 65536):
                    break
            except OSError:
                break
    finally:
        os.close(master)
    out = p.stdout.read().decode() if p.stdout else ""
    return p.wait(), out
