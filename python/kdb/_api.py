"""The Python API: each function runs one kdb command with ``--json`` and returns its
result as Python values. There is no second implementation here — what kdb decides
(which copy wins, what is present, what a metakernel loads) is what you get.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Union

from ._errors import KdbError, Unsupported, Usage
from ._process import PathLike, run

#: A time kdb understands: UTC as ISO text (``"2031-07-02T10:14:00"``),
#: ``"ET:<seconds>"``, a ``datetime`` (naive = UTC) or a ``date``, or ET seconds
#: as a number.
Time = Union[str, _dt.datetime, _dt.date, float, int]


class KdbWarning(UserWarning):
    """A warning kdb reported alongside a successful result."""


def _source(source: str | os.PathLike[str]) -> str:
    """A metakernel source for ``get``: URLs and names as given, local paths as file URLs."""
    if isinstance(source, str):
        return source
    return Path(os.fspath(source)).resolve().as_uri()


def _mk(mk: PathLike) -> str:
    """A metakernel argument (a path, or the name of an acquired metakernel)."""
    if isinstance(mk, str):
        return mk
    return str(Path(os.fspath(mk)).resolve())


def _time(t: Time) -> str:
    if isinstance(t, bool):
        raise TypeError("a time cannot be a bool")
    if isinstance(t, _dt.datetime):
        if t.tzinfo is not None:
            t = t.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return t.isoformat()
    if isinstance(t, _dt.date):
        return t.isoformat()
    if isinstance(t, (int, float)):
        return f"ET:{float(t)!r}"
    if isinstance(t, str):
        return t
    raise TypeError(f"not a time: {t!r}")


def _window(window: tuple[Time, Time]) -> builtins.list[str]:
    try:
        start, stop = window
    except (TypeError, ValueError):
        raise TypeError("window must be a (start, stop) pair") from None
    return ["--from", _time(start), "--to", _time(stop)]


_UNKNOWN = re.compile(
    r"unexpected argument '([^']+)'|unrecognized subcommand '([^']+)'"
)


def _unsupported(e: Usage, feature: str) -> Unsupported | Usage:
    """Turns clap's 'unknown option/subcommand' usage error into ``Unsupported``."""
    m = _UNKNOWN.search(e.message)
    if not m:
        return e
    what = m.group(1) or m.group(2)
    err = Unsupported(
        f"the installed kdb binary does not support {feature} (it rejected `{what}`); "
        f"a newer kdb is needed. kdb said: {e.message}",
        code=e.code,
        command=e.args_,
        report=e.report,
    )
    return err


def get(
    source: str | os.PathLike[str],
    *,
    mission: str | None = None,
    force: bool = False,
    window: tuple[Time, Time] | None = None,
    home: PathLike | None = None,
) -> Path:
    """Fetch a metakernel and exactly the kernels missing; return the ready metakernel.

    Runs ``kdb get SOURCE -y --json``. The returned metakernel has absolute
    ``PATH_VALUES``: ``spiceypy.furnsh(kdb.get(url))`` works from any directory.

    Args:
        source: an ``http://``, ``https://`` or ``file://`` URL, a bare ``NAME.tm``
            looked up in the mission's ``mk/`` directory, or a local path (sent as a
            ``file://`` URL).
        mission: the mission the metakernel belongs to (``--mission``).
        force: download every kernel again (``--force``).
        window: ``(start, stop)``: only the kernels covering that time span
            (``--from``/``--to``). Needs a kdb with windowed ``get``; an older binary
            raises :class:`Unsupported`.
        home: kdb's home directory (else ``KDB_HOME`` or the configured default).

    Returns:
        The absolute path of the local metakernel.

    Raises:
        NotFound: the metakernel is not on the server (or the name is unknown).
        Network: the server is unreachable, timed out or answered an HTTP error.
        Partial: some kernels failed to download; ``e.report["failed"]`` lists
            them; no metakernel was written.
        Usage: a bad argument, or a metakernel refused as unsafe or malformed.
        Busy: another kdb held the home lock past ``lock_timeout``.
    """
    args = ["get", _source(source), "-y", "--json"]
    if mission is not None:
        args += ["--mission", mission]
    if force:
        args.append("--force")
    if window is not None:
        args += _window(window)
    try:
        report = run(args, home=home, progress=True)
    except Usage as e:
        if window is not None:
            raise _unsupported(e, "a time window for `get` (`--from`/`--to`)") from None
        raise
    mk = report.get("metakernel") if isinstance(report, dict) else None
    if not mk:
        raise KdbError("kdb get reported no metakernel", code=0, report=report)
    return Path(mk)


def list(
    mk: PathLike,
    *,
    kernel_type: str | None = None,
    home: PathLike | None = None,
) -> builtins.list[dict[str, Any]]:
    """The entries FURNSH would load from a metakernel, in load order.

    Runs ``kdb list MK --json``. Each entry is a dict with ``index``, ``raw``,
    ``path``, ``file_name``, ``kernel_type``, ``line`` and, when the catalogue knows
    the content, ``sha256``, ``size`` and ``other_names``. Parser warnings are
    issued as :class:`KdbWarning`.

    Args:
        mk: a metakernel path, or the name of an acquired metakernel.
        kernel_type: keep one type (``spk``, ``ck``, ``pck``, ``fk``, ``ik``,
            ``lsk``, ``sclk``, ``dsk``, ``ek``, ``mk``).
        home: kdb's home directory.

    Raises:
        NotFound: no such metakernel. Usage: a parse error (file, line, column).
    """
    args = ["list", _mk(mk), "--json"]
    if kernel_type is not None:
        args += ["--type", kernel_type]
    report = run(args, home=home)
    for w in report.get("warnings") or []:
        warnings.warn(str(w), KdbWarning, stacklevel=2)
    return builtins.list(report.get("entries") or [])


def resolve(
    name: str,
    *,
    mission: str | None = None,
    home: PathLike | None = None,
) -> Path:
    """The local path holding the kernel file ``name`` (exact name, never a prefix).

    Runs ``kdb resolve NAME --json``. A copy of the preferred mission wins; falling
    back to another mission's copy issues a :class:`KdbWarning`.

    Raises:
        NotFound: no intact local copy of a file by that name.
    """
    args = ["resolve", name, "--json"]
    if mission is not None:
        args += ["--mission", mission]
    # kdb's own stderr warning is replaced by a Python warning.
    report = run(args, home=home, forward_stderr=False)
    if report.get("fallback_from"):
        warnings.warn(
            f"no copy of `{name}` in mission {report['fallback_from']}; "
            f"using the one from {report.get('mission') or 'no mission'}",
            KdbWarning,
            stacklevel=2,
        )
    return Path(report["path"])


def aliases(name_or_hash: str, *, home: PathLike | None = None) -> dict[str, Any]:
    """Every name and location of one content.

    Runs ``kdb aliases NAME|HASH --json``: a dict with ``sha256``, ``canonical``,
    ``kernel_type``, ``byte_order``, ``size``, ``aliases`` (names) and
    ``locations`` (``path``, ``mission``, ``kind``, ``target``).

    Args:
        name_or_hash: an exact file name, a full SHA-256, or a unique prefix of at
            least 6 hex digits.

    Raises:
        NotFound: unknown name or hash. Usage: an ambiguous prefix, or a name shared
            by several different contents (pass a hash).
    """
    return run(["aliases", name_or_hash, "--json"], home=home)  # type: ignore[no-any-return]


def coverage(
    ids: Iterable[int | str] = (),
    *,
    mk: PathLike | None = None,
    files: Sequence[PathLike] = (),
    level: str | None = None,
    time: str | None = None,
    at: Time | None = None,
    window: tuple[Time, Time] | None = None,
    merge: bool = False,
    need_av: bool = False,
    home: PathLike | None = None,
) -> dict[str, Any]:
    """What the kernels of a metakernel (or the given files) cover, per body/frame ID.

    Runs ``kdb coverage [ID|NAME ...] (--mk MK | FILE ...) --json``: a dict
    ``{"kernels": [{"file", "name", "sha256", "type", "byte_order", "ids": [{"id",
    "name", "windows": [[start, stop], ...]}]}], "merged": [...]}``. Needs a kdb
    with the ``coverage`` command; an older binary raises :class:`Unsupported`.

    Args:
        ids: NAIF IDs or names to report (default: every ID).
        mk: a metakernel (path, acquired name or URL) whose kernels to read.
        files: kernel files to read instead of a metakernel.
        level: ``"segment"`` or ``"interval"`` (CK).
        time: ``"utc"``, ``"et"`` or ``"sclk"``: the unit of window bounds.
        at: only windows containing this time.
        window: ``(start, stop)``: only windows meeting this span.
        merge: also give the union per ID over all kernels.
        need_av: CK: only segments with angular velocity.
        home: kdb's home directory.
    """
    if (mk is None) == (not files):
        raise TypeError("coverage needs exactly one of mk= or files=")
    args = ["coverage", *(str(i) for i in ids)]
    if mk is not None:
        args += ["--mk", _mk(mk)]
    else:
        args += [str(Path(os.fspath(f)).resolve()) for f in files]
    if level is not None:
        args += ["--level", level]
    if time is not None:
        args += ["--time", time]
    if at is not None:
        args += ["--at", _time(at)]
    if window is not None:
        args += _window(window)
    if merge:
        args.append("--merge")
    if need_av:
        args.append("--need-av")
    args.append("--json")
    try:
        return run(args, home=home)  # type: ignore[no-any-return]
    except Usage as e:
        raise _unsupported(e, "`kdb coverage` with these options") from None


def lock(mk: PathLike, path: PathLike, *, home: PathLike | None = None) -> Path:
    """Write a lockfile pinning the exact bytes a metakernel loads.

    Runs ``kdb lock MK -o PATH``. The lockfile (TOML) records the metakernel's
    source URL and sha256 and every entry's name, source URL, sha256, size and
    type — no local paths, so it restores on another machine. Needs a kdb with the
    ``lock`` command; an older binary raises :class:`Unsupported`.

    Returns:
        The absolute path of the lockfile.
    """
    out = Path(os.fspath(path)).resolve()
    try:
        run(["lock", _mk(mk), "-o", str(out)], home=home, json_out=False)
    except Usage as e:
        raise _unsupported(e, "`kdb lock`") from None
    return out


_READY = re.compile(r"^ready:\s*(.+?)\s*$", re.MULTILINE)


def restore(
    lock: PathLike,
    *,
    offline: bool = False,
    mirrors: Sequence[str] = (),
    into: PathLike | None = None,
    home: PathLike | None = None,
) -> Path:
    """Materialise the metakernel and exactly the locked bytes of a lockfile.

    Runs ``kdb restore LOCK``: from the local store first, then mirrors, source
    URLs and the archive's former versions; every byte is checked against the
    lock's sha256. Needs a kdb with the ``restore`` command; an older binary raises
    :class:`Unsupported`.

    Args:
        lock: the lockfile.
        offline: touch no network (``--offline``).
        mirrors: base URLs replacing the scheme and host of every source URL, tried
            in order (``--mirror``).
        into: where to materialise (``--into``).
        home: kdb's home directory.

    Returns:
        The ready metakernel (the ``ready:`` line kdb prints).

    Raises:
        Partial: a kernel with the locked hash was found nowhere (every place tried
            is named in the message).
    """
    args = ["restore", str(Path(os.fspath(lock)).resolve())]
    if offline:
        args.append("--offline")
    for m in mirrors:
        args += ["--mirror", m]
    if into is not None:
        args += ["--into", str(Path(os.fspath(into)).resolve())]
    try:
        text = run(args, home=home, progress=True, json_out=False)
    except Usage as e:
        raise _unsupported(e, "`kdb restore`") from None
    found = _READY.findall(text)
    if not found:
        raise KdbError(f"kdb restore printed no `ready:` line: {text.strip()}", code=0)
    return Path(found[-1])


def version() -> str:
    """The version of the kdb binary this package runs (``kdb --version``)."""
    text = run(["--version"], json_out=False)
    return str(text).strip().split()[-1]
