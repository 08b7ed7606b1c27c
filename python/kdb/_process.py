"""Finding the kdb binary and running it: the only place that starts a process.

Invariants: kdb never prompts (stdin is always ``/dev/null``, and commands that
would ask are given ``-y``); progress is drawn only when Python's stderr is a
terminal (the binary then gets a pseudo-terminal as its stderr, whose output is
copied to ours); the exception class depends on the exit code alone.
"""

from __future__ import annotations

import importlib
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
from typing import Any, Optional, Union

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
_found_lock = threading.Lock()


def _executable(p: Path) -> bool:
    return p.is_file() and os.access(p, os.X_OK)


def find_binary() -> Path:
    """The kdb executable this package runs.

    In order: the ``KDB_BINARY`` environment variable; the scripts directory of the
    running environment (where the ``kdb-spice`` wheel installs it); the user scripts
    directory; ``bin/`` beside a ``pip install --target`` directory; ``PATH``.
    The search runs once per ``PATH`` value, under a lock (``sysconfig`` is not
    thread-safe on its first call); threads calling at once wait for its answer.

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
    key = os.environ.get("PATH", "")
    with _found_lock:
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


def command(
    args: Sequence[str], home: Optional[PathLike], *, quiet: bool = False
) -> list[str]:
    """The full command line: binary, global options, then ``args``."""
    cmd = [str(find_binary())]
    if home is not None:
        cmd += ["--home=" + os.fspath(os.path.expanduser(os.fspath(home)))]
    if quiet:
        cmd.append("--quiet")
    cmd += list(args)
    return cmd


#: How a command's progress is shown: not at all; kdb's own bars copied to our
#: terminal; or a tqdm bar fed from kdb's (kdb then draws on a pseudo-terminal
#: that only Python reads).
PROGRESS_NONE = "none"
PROGRESS_TERMINAL = "terminal"
PROGRESS_TQDM = "tqdm"

_PROGRESS_WORD = re.compile(
    r"^(downloading|probing|hashing|scanning|verifying|restoring|fetching|checking)\b",
    re.IGNORECASE,
)
_COUNT = re.compile(r"\b(\d+)/(\d+)\b")
_BYTES = re.compile(
    r"([\d.]+)\s*(B|kB|KB|KiB|MB|MiB|GB|GiB|TB)\s*/\s*([\d.]+)\s*(B|kB|KB|KiB|MB|MiB|GB|GiB|TB)"
)
_UNIT = {
    "B": 1,
    "kB": 1e3,
    "KB": 1e3,
    "KiB": 1024,
    "MB": 1e6,
    "MiB": 1024**2,
    "GB": 1e9,
    "GiB": 1024**3,
    "TB": 1e12,
}


def _is_progress(text: str) -> bool:
    """A line kdb draws as progress (a bar or a counter), not a message."""
    return "░" in text or "█" in text or bool(_PROGRESS_WORD.match(text.strip()))


def _visible(raw: bytes) -> str:
    """What a terminal would finally show of one line: colour codes removed, the
    last non-blank ``\\r`` segment."""
    text = _ANSI.sub("", raw.decode("utf-8", "replace"))
    segs = [seg.strip() for seg in text.split("\r") if seg.strip()]
    return segs[-1] if segs else ""


class _TqdmFeed:
    """Feeds kdb's progress lines into a tqdm bar (``tqdm.auto``: a widget in Jupyter)."""

    def __init__(self) -> None:
        self._bar: Any = None

    def update(self, text: str) -> None:
        try:
            tqdm = importlib.import_module("tqdm.auto").tqdm
        except ImportError:  # pragma: no cover - the caller checked
            return
        m = _BYTES.search(text)
        word = text.split()[0] if text.split() else "kdb"
        count = _COUNT.search(text)
        desc = f"{word} {count.group(0)}" if count else word
        if self._bar is None:
            if m:
                self._bar = tqdm(total=0, unit="B", unit_scale=True, desc=desc)
            elif count:
                self._bar = tqdm(total=0, unit="kernel", desc=word)
            else:
                return
        if m and self._bar.unit == "B":
            done = float(m.group(1)) * _UNIT.get(m.group(2), 1)
            total = float(m.group(3)) * _UNIT.get(m.group(4), 1)
            self._bar.total = int(total)
            self._bar.n = int(min(done, total))
            self._bar.set_description(desc, refresh=False)
            self._bar.refresh()
        elif count:
            self._bar.total = int(count.group(2))
            self._bar.n = int(count.group(1))
            self._bar.refresh()

    def close(self, complete: bool = False) -> None:
        if self._bar is not None:
            if complete and self._bar.total:
                # kdb clears its bar when done; its last frame may not have arrived
                self._bar.n = self._bar.total
                desc = str(self._bar.desc)
                m = _COUNT.search(desc)
                if m:
                    done = f"{m.group(2)}/{m.group(2)}"
                    self._bar.set_description(_COUNT.sub(done, desc), refresh=False)
                self._bar.refresh()
            self._bar.close()


class _PtyStream:
    """Splits what kdb writes on its pseudo-terminal into progress (shown as it
    arrives: copied to our stderr, or fed to tqdm) and message lines (kept for
    warnings and errors, never shown raw)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.pending = b""
        self.lines: list[str] = []
        self.tqdm = _TqdmFeed() if mode == PROGRESS_TQDM else None
        self.sink = getattr(sys.stderr, "buffer", None)

    def _show(self, raw: bytes, text: str) -> None:
        if self.tqdm is not None:
            if text:
                self.tqdm.update(text)
            return
        if self.sink is not None:
            self.sink.write(raw)
            self.sink.flush()
        elif sys.stderr is not None:
            sys.stderr.write(raw.decode("utf-8", "replace"))
            sys.stderr.flush()

    def feed(self, chunk: bytes) -> None:
        self.pending += chunk
        *complete, self.pending = self.pending.split(b"\n")
        for raw in complete:
            text = _visible(raw)
            if not text or _is_progress(text):
                self._show(raw + b"\n", text)
            else:
                self.lines.append(text)
        if self.pending:
            text = _visible(self.pending)
            if not text or _is_progress(text):
                self._show(self.pending, text)
                self.pending = b""

    def close(self, complete: bool = False) -> None:
        if self.pending:
            text = _visible(self.pending)
            if text and not _is_progress(text):
                self.lines.append(text)
            self.pending = b""
        if self.tqdm is not None:
            self.tqdm.close(complete)
        elif self.mode == PROGRESS_TERMINAL and self.sink is not None:
            # leave the cursor on a clean line after kdb's last redraw
            self.sink.write(b"\r\x1b[2K")
            self.sink.flush()


def _stop(p: "subprocess.Popen[bytes]") -> None:
    """Ends a child we are abandoning (Ctrl-C, an error in Python): SIGTERM, then
    SIGKILL after 5 s, and waits, so it holds no lock once we re-raise."""
    if p.poll() is not None:
        return
    try:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    except OSError:
        pass


def _run_piped(cmd: list[str]) -> tuple[int, str, str]:
    p = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        out, err = p.communicate()
    except BaseException:
        _stop(p)
        raise
    return (
        p.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
    )


def _run_on_pty(cmd: list[str], mode: str) -> tuple[int, str, str]:
    """Runs with a pseudo-terminal as stderr so kdb draws progress; shows it (our
    terminal or tqdm) and returns kdb's message lines as its stderr text."""
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()
    try:
        size = fcntl.ioctl(sys.stderr.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
    except (OSError, AttributeError, ValueError):
        fcntl.ioctl(slave, termios.TIOCSWINSZ, b"\x18\x00\x78\x00\x00\x00\x00\x00")
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
    stream = _PtyStream(mode)
    try:
        try:
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every writer closed the terminal
                    break
                if not chunk:
                    break
                stream.feed(chunk)
        finally:
            os.close(master)
        code = p.wait()
    except BaseException:
        # KeyboardInterrupt (SIGINT to Python alone) or any other error: the child
        # must not keep running and holding the home lock.
        _stop(p)
        stream.close()
        raise
    stream.close(complete=code == 0)
    reader.join()
    return code, b"".join(out_chunks).decode("utf-8", "replace"), "\n".join(stream.lines)


def _stderr_is_terminal() -> bool:
    try:
        return os.name == "posix" and sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _have_tqdm() -> bool:
    try:
        importlib.import_module("tqdm")
    except ImportError:
        return False
    return True


def _in_notebook() -> bool:
    return "ipykernel" in sys.modules


def progress_mode(progressbar: Optional[bool]) -> str:
    """``progressbar=``: ``None`` shows kdb's bars on a terminal, a tqdm bar in
    Jupyter (when tqdm is installed), nothing otherwise; ``True`` a tqdm bar when
    tqdm is installed (else nothing); ``False`` nothing."""
    if os.name != "posix":
        return PROGRESS_NONE
    if progressbar is None:
        if _stderr_is_terminal():
            return PROGRESS_TERMINAL
        if _in_notebook() and _have_tqdm():
            return PROGRESS_TQDM
        return PROGRESS_NONE
    if progressbar:
        return PROGRESS_TQDM if _have_tqdm() else PROGRESS_NONE
    return PROGRESS_NONE


# kdb's messages name command-line options; from Python they name parameters.
_PARAM = {
    "from": "window=",
    "to": "window=",
    "offline": "offline=True",
    "force": "force=True",
    "dry-run": "dry_run=True",
    "time": "time=",
    "at": "at=",
    "body": "bodies=",
    "pad": "pad=",
    "mission": "mission=",
    "mirror": "mirrors=",
    "into": "into=",
    "jobs": "jobs=",
    "type": "kernel_type=",
    "level": "level=",
    "need-av": "need_av=True",
    "merge": "merge=True",
    "deep": "deep=True",
    "strict": "strict=True",
    "archive": "archive=True",
    "mk": "mk=",
    "frame": "frame=",
    "server": "server=",
    "mk-dir-url": "mk_dir_url=",
    "no-dedup": "dedup=False",
    "checksums": "checksums=",
    "quiet": "quiet=True",
}
_OPTION = re.compile(
    r"`?--([a-z][a-z-]*)(?:[ =](?:<[^>]+>|[A-Z][A-Z_|]*\b))?`?"
    r"(?:/`?--([a-z][a-z-]*)(?:[ =](?:<[^>]+>|[A-Z][A-Z_|]*\b))?`?)?"
)


def _option(m: "re.Match[str]") -> str:
    names = [n for n in m.groups() if n]
    params = [_PARAM.get(n) for n in names]
    if any(p is None for p in params):
        return m.group(0)
    out: list[str] = []
    for p in params:
        if p is not None and p not in out:
            out.append(p)
    return "/".join(out)


_WORDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"`kdb mission add ([^`\s]+)`"), r'`kdb.mission_add("\1")`'),
    (re.compile(r"`kdb update`"), "`kdb.update()`"),
    (re.compile(r"`kdb get --force ([^`]+)`"), r'`kdb.get("\1", force=True)`'),
    (re.compile(r"\s*For more information, try '--help'\.?"), ""),
]


def python_words(text: str) -> str:
    """kdb's message with its command-line option names replaced by the API's."""
    for pat, repl in _WORDS:
        text = pat.sub(repl, text)
    return _OPTION.sub(_option, text)


def _message(stderr: str) -> str:
    """kdb's error message: its stderr without colour codes and ``error:`` prefixes."""
    text = _ANSI.sub("", stderr).replace("\r\n", "\n").replace("\r", "\n")
    lines = [ln.rstrip() for ln in text.splitlines()]
    errors = [i for i, ln in enumerate(lines) if ln.startswith("error:")]
    if not errors:
        return ""
    lines = lines[errors[0] :]
    lines[0] = lines[0][len("error:") :].strip()
    return "\n".join(ln for ln in lines if ln and not _is_progress(ln)).strip()


def warning_lines(stderr: str) -> list[str]:
    """kdb's warnings and notes from a successful command, one string each (an
    indented line continues the one before), in Python words."""
    text = _ANSI.sub("", stderr).replace("\r\n", "\n")
    out: list[str] = []
    for raw in text.split("\n"):
        line = [seg for seg in raw.split("\r") if seg.strip()]
        if not line:
            continue
        ln = line[-1].rstrip()
        if _is_progress(ln):
            continue
        if (ln.startswith(" ") or ln.startswith("\t")) and out:
            out[-1] += "\n" + ln.strip()
            continue
        ln = ln.strip()
        for prefix in ("warning:", "note:"):
            if ln.lower().startswith(prefix):
                ln = ln[len(prefix) :].strip()
        out.append(python_words(ln))
    return out


class Result:
    """What one kdb run gave: its JSON report (or stdout text) and its warnings."""

    def __init__(self, value: Any, warnings: list[str], cmd: list[str]) -> None:
        self.value = value
        self.warnings = warnings
        self.cmd = cmd


def run_full(
    args: Sequence[str],
    *,
    home: Optional[PathLike] = None,
    progress: str = PROGRESS_NONE,
    json_out: bool = True,
    quiet: bool = False,
) -> Result:
    """Runs ``kdb [--home HOME] ARGS`` and returns its parsed JSON (or its stdout
    text) with the warnings it printed.

    Args:
        args: the subcommand and its arguments (``--json`` included by the caller).
        home: kdb's home directory; ``None`` lets kdb use ``KDB_HOME`` or its default.
        progress: ``PROGRESS_NONE`` (a pipe), ``PROGRESS_TERMINAL`` (kdb's bars
            copied to our terminal) or ``PROGRESS_TQDM``.
        json_out: parse stdout as JSON (else return it as text).
        quiet: ``-q``: kdb prints only errors.

    Raises:
        KdbError: a subclass chosen by the exit code, carrying kdb's message.
    """
    cmd = command(args, home, quiet=quiet)
    if progress != PROGRESS_NONE and os.name == "posix":
        code, out, err = _run_on_pty(cmd, progress)
    else:
        code, out, err = _run_piped(cmd)
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
            rest = [ln for ln in warning_lines(err) if ln]
            message = "\n".join(rest) or f"kdb exited with code {code}"
        cls = error_class(code)
        raise cls(python_words(message), code=code, command=cmd, report=report)
    found = warning_lines(err)
    if not json_out:
        return Result(out, found, cmd)
    if report is None:
        raise KdbError(
            f"kdb printed no JSON on stdout for `{' '.join(cmd)}`", code=0, command=cmd
        )
    return Result(report, found, cmd)


def run(
    args: Sequence[str],
    *,
    home: Optional[PathLike] = None,
    progress: bool = False,
    json_out: bool = True,
    forward_stderr: bool = True,
) -> Any:
    """:func:`run_full`, returning the value only; warnings are issued as
    ``KdbWarning`` (``forward_stderr=False`` drops them)."""
    res = run_full(
        args,
        home=home,
        progress=progress_mode(None) if progress else PROGRESS_NONE,
        json_out=json_out,
    )
    if forward_stderr:
        emit(res.warnings, stacklevel=3)
    return res.value


class KdbWarning(UserWarning):
    """A warning kdb reported alongside a successful result (filter it with
    ``warnings.filterwarnings("ignore", category=kdb.KdbWarning)``)."""


KdbWarning.__module__ = "kdb"


def emit(lines: Sequence[str], *, stacklevel: int) -> None:
    import warnings

    for ln in lines:
        warnings.warn(ln, KdbWarning, stacklevel=stacklevel + 1)


__all__ = ["BINARY_ENV", "KdbWarning", "command", "find_binary", "run", "run_full"]
