"""Finding the kdb binary and running it: the only place that starts a process.

Invariants: kdb never prompts (stdin is always ``/dev/null``, and commands that
would ask are given ``-y``); progress is drawn only when Python's stderr is a
terminal (the binary then gets a pseudo-terminal as its stderr, whose output is
copied to ours); the exception class depends on the exit code alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

from ._errors import KdbError, error_class

PathLike = Union[str, "os.PathLike[str]"]

#: Environment variable naming the kdb binary to run (overrides every other place).
BINARY_ENV = "KDB_BINARY"

_EXE = "kdb.exe" if os.name == "nt" else "kdb"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def _candidates() -> list[Path]:
    """Where a wheel puts the binary, most specific first, then ``PATH``."""
    dirs: list[str] = []
    scripts = sysconfig.get_path("scripts")
    if scripts:
        dirs.append(scripts)
    # `pip install --user`
    user_scheme = {"nt": "nt_user", "posix": "posix_user"}.get(os.name)
    if sys.platform == "darwin" and getattr(sys, "_framework", None):
        user_scheme = "osx_framework_user"
    if user_scheme and user_scheme in sysconfig.get_scheme_names():
        try:
            dirs.append(sysconfig.get_path("scripts", scheme=user_scheme))
        except KeyError:
            pass
    # `pip install --target DIR` puts the package in DIR and the binary in DIR/bin.
    package_root = Path(__file__).resolve().parent.parent
    dirs.append(str(package_root / "bin"))
    out = [Path(d) / _EXE for d in dirs]
    on_path = shutil.which(_EXE)
    if on_path:
        out.append(Path(on_path))
    return out


_found: dict[str, Path] = {}


def _executable(p: Path) -> bool:
    return p.is_file() and os.access(p, os.X_OK)


def find_binary() -> Path:
    """The kdb executable this package runs.

    In order: the ``KDB_BINARY`` environment variable; the scripts directory of the
    running environment (where the ``kdb-spice`` wheel installs it); the user scripts
    directory; ``bin/`` beside a ``pip install --target`` directory; ``PATH``.

    Raises:
        KdbError: no usable binary was found (the message lists every place tried).
    """
    override = os.environ.get(BINARY_ENV)
    if override:
        p = Path(override)
        if _executable(p):
            return p
        raise KdbError(
            f"{BINARY_ENV}=`{override}` is not an executable file", code=-1000
        )
    # The search costs about a millisecond (sysconfig); remember its answer while
    # the file is still there and PATH has not changed.
    key = os.environ.get("PATH", "")
    cached = _found.get(key)
    if cached is not None and _executable(cached):
        return cached
    tried = _candidates()
    for p in tried:
        if _executable(p):
            _found.clear()
            _found[key] = p
            return p
    places = ", ".join(f"`{p}`" for p in tried) or "(none)"
    raise KdbError(
        f"cannot find the kdb binary (tried {places}); install the `kdb-spice` wheel, "
        f"put `kdb` on PATH or set {BINARY_ENV}",
        code=-1000,
    )


def command(args: Sequence[str], home: PathLike | None) -> list[str]:
    """The full command line: binary, global options, then ``args``."""
    cmd = [str(find_binary())]
    if home is not None:
        cmd += ["--home", os.fspath(home)]
    cmd += list(args)
    return cmd


def _message(stderr: str) -> str:
    """kdb's error message: its stderr without colour codes and ``error:`` prefixes."""
    text = _ANSI.sub("", stderr).replace("\r\n", "\n").replace("\r", "\n")
    lines = [ln.rstrip() for ln in text.splitlines()]
    errors = [i for i, ln in enumerate(lines) if ln.startswith("error:")]
    if errors:
        lines = lines[errors[0] :]
        lines[0] = lines[0][len("error:") :].strip()
    return "\n".join(ln for ln in lines if ln).strip()


def _run_piped(cmd: list[str]) -> tuple[int, str, str]:
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    return (
        p.returncode,
        p.stdout.decode("utf-8", "replace"),
        p.stderr.decode("utf-8", "replace"),
    )


def _run_on_terminal(cmd: list[str]) -> tuple[int, str, str]:
    """Runs with a pseudo-terminal as stderr so kdb draws progress; copies it to ours."""
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()
    try:
        size = fcntl.ioctl(sys.stderr.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
    except OSError:
        pass
    try:
        p = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave
        )
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    out_chunks: list[bytes] = []

    def drain_stdout() -> None:
        assert p.stdout is not None
        out_chunks.append(p.stdout.read())

    reader = threading.Thread(target=drain_stdout, daemon=True)
    reader.start()
    err = bytearray()
    sink = getattr(sys.stderr, "buffer", None)
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            err += chunk
            if sink is not None:
                sink.write(chunk)
                sink.flush()
            else:
                sys.stderr.write(chunk.decode("utf-8", "replace"))
                sys.stderr.flush()
    finally:
        os.close(master)
    code = p.wait()
    reader.join()
    return (
        code,
        b"".join(out_chunks).decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
    )


def _stderr_is_terminal() -> bool:
    try:
        return os.name == "posix" and sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def run(
    args: Sequence[str],
    *,
    home: PathLike | None = None,
    progress: bool = False,
    json_out: bool = True,
    forward_stderr: bool = True,
) -> Any:
    """Runs ``kdb [--home HOME] ARGS`` and returns its parsed JSON (or its stdout text).

    Args:
        args: the subcommand and its arguments (``--json`` included by the caller).
        home: kdb's home directory; ``None`` lets kdb use ``KDB_HOME`` or its default.
        progress: the command may draw progress; it is shown when our stderr is a
            terminal, and never otherwise.
        json_out: parse stdout as JSON (else return it as text).
        forward_stderr: after success, copy kdb's warnings and notes to our stderr.

    Raises:
        KdbError: a subclass chosen by the exit code, carrying kdb's message.
    """
    cmd = command(args, home)
    if progress and _stderr_is_terminal():
        code, out, err = _run_on_terminal(cmd)
        shown = True
    else:
        code, out, err = _run_piped(cmd)
        shown = False
    report: Any = None
    if json_out and out.strip():
        try:
            report = json.loads(out)
        except ValueError:
            report = None
    if code != 0:
        message = _message(err)
        if not message and isinstance(report, dict) and report.get("failed"):
            failed = report["failed"]
            parts = [
                f"{f.get('name')} ({f.get('url')}): {f.get('error')}" for f in failed
            ]
            message = f"{len(failed)} kernel(s) failed: " + "; ".join(parts)
        if not message:
            message = f"kdb exited with code {code}"
        cls = error_class(code)
        raise cls(message, code=code, command=cmd, report=report)
    if forward_stderr and err.strip() and not shown and sys.stderr is not None:
        # Warnings and notes (never progress: kdb draws none without a terminal).
        sys.stderr.write(err if err.endswith("\n") else err + "\n")
        sys.stderr.flush()
    if not json_out:
        return out
    if report is None:
        raise KdbError(
            f"kdb printed no JSON on stdout for `{' '.join(cmd)}`", code=0, command=cmd
        )
    return report


__all__ = ["BINARY_ENV", "command", "find_binary", "run"]
