"""The Python API: each function runs one kdb command with ``--json`` and returns its
result as Python values. There is no second implementation here — what kdb decides
(which copy wins, what is present, what a metakernel loads) is what you get.

Every path in every result is a ``str`` (absolute). Values the binary would refuse
are checked here first and raise :class:`Usage` naming the parameter.

No ``from __future__ import annotations``: ``typing.get_type_hints`` must work on
every Python the package claims (3.9: no ``X | Y``).
"""

import builtins
import datetime as _dt
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple, Union, cast

from ._errors import KdbError, NoSuchFile, NotFound, Unsupported, Usage
from ._process import Result, emit, progress_mode, run_full
from ._types import (
    AcquiredMetakernel,
    Aliases,
    Coverage,
    Entry,
    Gaps,
    GetReport,
    Ids,
    Metakernel,
    Mission,
    PathLike,
    ScanReport,
    Time,
    Update,
    VerifyReport,
    Which,
)

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]|^\\\\")
_MISSION_OK = re.compile(r"^[A-Za-z0-9._-]+$")
_KERNEL_TYPES = ("spk", "ck", "pck", "fk", "ik", "lsk", "sclk", "dsk", "ek", "mk")


def _usage(msg: str) -> Usage:
    return Usage(msg, code=2)


def _local(p: PathLike) -> Path:
    return Path(os.path.expanduser(os.fspath(p))).absolute()


def _source(source: PathLike) -> Tuple[str, Optional[str]]:
    """``get``'s source as kdb takes it, and the mission a local path implies when
    kdb could not read it from the URL (a directory name with a space)."""
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source= must be a str or a path, not {type(source).__name__}")
    text = os.fspath(source)
    if isinstance(source, str) and _URL.match(text):
        return text, None
    looks_like_path = (
        not isinstance(source, str)
        or "/" in text
        or "\\" in text
        or text.startswith("~")
        or bool(_WINDOWS_PATH.match(text))
    )
    p = _local(text)
    if p.is_file():
        return p.resolve().as_uri(), _mission_of(p.resolve())
    if looks_like_path:
        raise NoSuchFile(
            f"source=: no such file: {text}", filename=text, command=()
        )
    return text, None  # a bare NAME.tm of a configured mission


def _mission_of(p: Path) -> Optional[str]:
    parts = p.parts
    for i in range(len(parts) - 1, 0, -1):
        if parts[i] == "kernels":
            seg = parts[i - 1]
            if _MISSION_OK.match(seg):
                return None  # kdb reads it from the URL itself
            return re.sub(r"[^A-Za-z0-9._-]+", "_", seg).strip("_") or None
    return None


def _mk(mk: PathLike, param: str = "mk=") -> str:
    """A metakernel argument: a URL, an acquired name, or a local path."""
    if not isinstance(mk, (str, os.PathLike)):
        raise TypeError(f"{param} must be a str or a path, not {type(mk).__name__}")
    text = os.fspath(mk)
    if isinstance(mk, str) and _URL.match(text):
        return text
    p = _local(text)
    if p.exists():
        return str(p.resolve())
    if not isinstance(mk, str) or "/" in text or "\\" in text or text.startswith("~"):
        raise NoSuchFile(f"{param} no such file: {text}", filename=text)
    return text


def _is_int(x: Any) -> bool:
    return isinstance(x, int) or (
        type(x).__module__ == "numpy" and hasattr(x, "dtype") and x.dtype.kind in "iu"
    )


def _time(t: Any, param: str = "time") -> str:
    if isinstance(t, bool):
        raise TypeError(f"{param}: a time cannot be a bool")
    if type(t).__module__ == "numpy":
        kind = getattr(getattr(t, "dtype", None), "kind", "")
        if kind == "M":  # numpy.datetime64: UTC
            import numpy as np

            return str(np.datetime_as_string(t.astype("datetime64[us]"), unit="us"))
        if kind in "iuf":
            return f"ET:{float(t)!r}"
    if isinstance(t, _dt.datetime):
        if t.tzinfo is not None:
            t = t.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return str(t.isoformat())
    if isinstance(t, _dt.date):
        return str(t.isoformat())
    if isinstance(t, (int, float)):
        return f"ET:{float(t)!r}"
    if isinstance(t, str):
        if not t.strip():
            raise _usage(f"{param}: an empty time")
        return t.strip()
    raise TypeError(f"{param}: not a time: {t!r}")


def _window(window: Any) -> List[str]:
    try:
        start, stop = window
    except (TypeError, ValueError):
        raise _usage("window= must be a (start, stop) pair") from None
    return ["--from=" + _time(start, "window="), "--to=" + _time(stop, "window=")]


def _ids(ids: Any, param: str) -> List[str]:
    if ids is None:
        return []
    if isinstance(ids, str) or _is_int(ids):
        ids = [ids]
    out = []
    for i in ids:
        if isinstance(i, bool) or not (isinstance(i, str) or _is_int(i)):
            raise TypeError(f"{param} takes NAIF IDs or names, not {i!r}")
        out.append(str(int(i)) if _is_int(i) else i)
    return out


def _pad(pad: Any) -> str:
    if isinstance(pad, _dt.timedelta):
        return f"{pad.total_seconds()!r}s"
    if isinstance(pad, (int, float)) and not isinstance(pad, bool):
        return f"{float(pad)!r}s"
    if isinstance(pad, str) and re.match(r"^\d+(\.\d+)?[smhd]$", pad.strip()):
        return pad.strip()
    raise _usage(f"pad= must be seconds, a timedelta or '30s'/'15m'/'6h'/'2d', not {pad!r}")


_UNKNOWN = re.compile(
    r"unexpected argument '([^']+)'|unrecognized subcommand '([^']+)'"
)


def _unsupported(e: Usage, feature: str) -> Usage:
    """Turns clap's 'unknown option/subcommand' usage error into ``Unsupported``."""
    m = _UNKNOWN.search(e.message)
    if not m:
        return e
    what = m.group(1) or m.group(2)
    return Unsupported(
        f"the installed kdb binary does not support {feature} (it rejected `{what}`); "
        f"a newer kdb is needed. kdb said: {e.message}",
        code=e.code,
        command=e.cmd,
        report=e.report,
    )


def _warn(res: Result) -> None:
    emit(res.warnings, stacklevel=3)


def get(
    source: PathLike,
    *,
    mission: Optional[str] = None,
    force: bool = False,
    window: Optional[Tuple[Time, Time]] = None,
    bodies: Optional[Ids] = None,
    pad: Union[str, float, _dt.timedelta, None] = None,
    dry_run: bool = False,
    jobs: Optional[int] = None,
    quiet: bool = False,
    progressbar: Optional[bool] = None,
    home: Optional[PathLike] = None,
) -> Metakernel:
    """Fetch a metakernel and exactly the kernels missing; return the ready metakernel.

    Runs ``kdb get -y --json … -- SOURCE``. The returned metakernel has absolute
    ``PATH_VALUES``, and is a ``str``: ``spiceypy.furnsh(kdb.get(url))`` works from
    any directory. It carries the get's report: ``mk.report`` (plan, downloads,
    failures) and, for ``window=``, ``mk.window``/``mk.taken``/``mk.skipped``/
    ``mk.bytes_saved``. kdb's warnings are issued as :class:`KdbWarning`.

    Args:
        source: an ``http://``, ``https://`` or ``file://`` URL; a local path
            (``str`` or ``os.PathLike``, ``~`` expanded, relative to the current
            directory) naming an existing file; or a bare ``NAME.tm`` looked up in
            the mission's ``mk/`` directory.
        mission: the mission the metakernel belongs to.
        force: download every kernel again.
        window: ``(start, stop)``: only the kernels covering that span (see
            :data:`Time`).
        bodies: with ``window=``: only segments of these bodies (IDs or names).
        pad: with ``window=``: widen it on both sides (seconds, a ``timedelta``,
            or ``"30s"``, ``"15m"``, ``"6h"``, ``"2d"``).
        dry_run: plan only; nothing is downloaded, the result is ``""`` with
            its ``report``.
        jobs: parallel downloads per host.
        quiet: kdb prints only errors (no warnings reach Python).
        progressbar: ``None``: kdb's bars on a terminal, a tqdm bar in Jupyter
            when tqdm is installed, else nothing; ``True``: a tqdm bar when tqdm is
            installed, else nothing; ``False``: nothing.
        home: kdb's home directory (else ``KDB_HOME`` or the configured default).

    Raises:
        NoSuchFile: a local path that does not exist (also a FileNotFoundError).
        NotFound: the metakernel is not on the server (or the name is unknown).
        Network: the server is unreachable, timed out or answered an HTTP error.
        Partial: some kernels failed to download; ``e.report["failed"]`` lists
            them; no metakernel was written.
        Usage: a bad argument, or a metakernel refused as unsafe or malformed.
        Busy: another kdb held the home lock past ``lock_timeout``.
    """
    src, implied = _source(source)
    args = ["get", "-y", "--json"]
    if mission is None:
        mission = implied
    if mission is not None:
        args.append("--mission=" + mission)
    if force:
        args.append("--force")
    if dry_run:
        args.append("--dry-run")
    if jobs is not None:
        if not _is_int(jobs) or isinstance(jobs, bool) or int(jobs) < 1:
            raise _usage(f"jobs= must be a positive integer, not {jobs!r}")
        args.append(f"--jobs={int(jobs)}")
    if window is not None:
        args += _window(window)
    elif bodies is not None or pad is not None:
        raise _usage("bodies= and pad= need window=(start, stop)")
    for b in _ids(bodies, "bodies="):
        args.append("--body=" + b)
    if pad is not None:
        args.append("--pad=" + _pad(pad))
    args += ["--", src]
    try:
        res = run_full(args, home=home, progress=progress_mode(progressbar), quiet=quiet)
    except Usage as e:
        if window is not None:
            raise _unsupported(e, "a time window for `get` (`--from`/`--to`)") from None
        raise
    _warn(res)
    report = cast(GetReport, res.value)
    mk = report.get("metakernel") if isinstance(report, dict) else None
    if dry_run:
        return Metakernel(mk or "", report)
    if not mk:
        raise KdbError("kdb get reported no metakernel", code=0, report=report)
    return Metakernel(mk, report)


_LINE = re.compile(r"^line (\d+), column \d+: ")


def _group(mk: str, messages: Sequence[str]) -> List[str]:
    """One warning per kind of parser warning, with a count, naming the metakernel."""
    groups: dict[str, List[str]] = {}
    for m in messages:
        key = re.sub(r"`[^`]*`", "`…`", _LINE.sub("", m))
        groups.setdefault(key, []).append(m)
    name = os.path.basename(mk) or mk
    out = []
    for items in groups.values():
        if len(items) == 1:
            out.append(f"{name}: {items[0]}")
        else:
            lines = [_LINE.match(i) for i in items]
            where = [m.group(1) for m in lines if m]
            span = f" (lines {where[0]}–{where[-1]})" if where else ""
            out.append(
                f"{name}: {len(items)} entries{span} like this one: {items[0]}"
            )
    return out


def entries(
    mk: PathLike,
    *,
    kernel_type: Optional[str] = None,
    home: Optional[PathLike] = None,
) -> List[Entry]:
    """The entries FURNSH would load from a metakernel, in load order.

    Runs ``kdb list --json -- MK``. Parser warnings (what FURNSH would ignore) are
    issued as :class:`KdbWarning`, one per kind with a count, naming the file.
    Also available as ``kdb.list`` (not exported by ``from kdb import *``, where it
    would replace the built-in ``list``).

    Args:
        mk: a metakernel path, or the name of an acquired metakernel.
        kernel_type: keep one type (``spk``, ``ck``, ``pck``, ``fk``, ``ik``,
            ``lsk``, ``sclk``, ``dsk``, ``ek``, ``mk``).
        home: kdb's home directory.

    Raises:
        NotFound: no such metakernel. Usage: a parse error (file, line, column).
    """
    args = ["list", "--json"]
    if kernel_type is not None:
        if kernel_type not in _KERNEL_TYPES:
            raise _usage(
                f"kernel_type={kernel_type!r} is not one of {', '.join(_KERNEL_TYPES)}"
            )
        args.append("--type=" + kernel_type)
    arg = _mk(mk)
    res = run_full(args + ["--", arg], home=home)
    report = res.value
    emit(res.warnings + _group(arg, report.get("warnings") or []), stacklevel=2)
    return cast(List[Entry], builtins.list(report.get("entries") or []))


list = entries  # noqa: A001 - the historical name; kept out of __all__


def resolve(
    name: str,
    *,
    mission: Optional[str] = None,
    home: Optional[PathLike] = None,
) -> str:
    """The local path (``str``) holding the kernel file ``name`` (exact name).

    Runs ``kdb resolve --json -- NAME``. A copy of the preferred mission wins;
    falling back to another mission's copy issues a :class:`KdbWarning`.

    Raises:
        NotFound: no intact local copy of a file by that name.
    """
    if not isinstance(name, str):
        raise TypeError(f"name= must be a str, not {type(name).__name__}")
    args = ["resolve", "--json"]
    if mission is not None:
        args.append("--mission=" + mission)
    res = run_full(args + ["--", name], home=home)
    report = res.value
    if report.get("fallback_from"):
        emit(
            [
                f"no copy of `{name}` in mission {report['fallback_from']}; "
                f"using the one from {report.get('mission') or 'no mission'}"
            ],
            stacklevel=2,
        )
    return str(report["path"])


def aliases(name_or_hash: str, *, home: Optional[PathLike] = None) -> Aliases:
    """Every name and location of one content (``kdb aliases --json -- X``).

    Args:
        name_or_hash: an exact file name, a full SHA-256, or a unique prefix of at
            least 6 hex digits.

    Raises:
        NotFound: unknown name or hash. Usage: an ambiguous prefix, or a name shared
            by several different contents (pass a hash).
    """
    res = run_full(["aliases", "--json", "--", name_or_hash], home=home)
    _warn(res)
    return cast(Aliases, res.value)


def _files(files: Any) -> List[str]:
    if files is None:
        return []
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    out = []
    for f in files:
        if not isinstance(f, (str, os.PathLike)):
            raise TypeError(f"files= takes paths, not {f!r}")
        p = _local(f)
        if not p.is_file():
            raise NoSuchFile(f"files=: no such file: {os.fspath(f)}", filename=os.fspath(f))
        out.append(str(p.resolve()))
    return out


def coverage(
    ids: Optional[Ids] = None,
    *,
    mk: Optional[PathLike] = None,
    files: Union[PathLike, Iterable[PathLike], None] = None,
    level: Optional[str] = None,
    time: Optional[str] = None,
    at: Optional[Time] = None,
    window: Optional[Tuple[Time, Time]] = None,
    merge: bool = False,
    need_av: bool = False,
    home: Optional[PathLike] = None,
) -> Coverage:
    """What the kernels of a metakernel (or the given files) cover, per body/frame ID.

    Runs ``kdb coverage --json … -- [ID|NAME ...] [FILE ...]``. kdb's warnings (a
    kernel left out because its coverage could not be probed) are issued as
    :class:`KdbWarning`.

    Args:
        ids: one NAIF ID or name, or several (default: every ID).
        mk: a metakernel (path, acquired name or URL) whose kernels to read.
        files: one kernel file or several, instead of a metakernel.
        level: ``"segment"`` or ``"interval"`` (CK).
        time: ``"utc"``, ``"et"`` or ``"sclk"``: the unit of window bounds.
        at: only windows containing this time.
        window: ``(start, stop)``: only windows meeting this span.
        merge: also give the union per ID over all kernels.
        need_av: CK: only segments with angular velocity.
        home: kdb's home directory.
    """
    paths = _files(files)
    if (mk is None) == (not paths):
        raise _usage("coverage needs exactly one of mk= or files=")
    args = ["coverage", "--json"]
    if mk is not None:
        args.append("--mk=" + _mk(mk))
    if level is not None:
        if level not in ("segment", "interval"):
            raise _usage(f"level={level!r}: use 'segment' or 'interval'")
        args.append("--level=" + level)
    if time is not None:
        if not isinstance(time, str) or time.lower() not in ("utc", "et", "sclk"):
            raise _usage(f"time={time!r}: use 'utc', 'et' or 'sclk'")
        args.append("--time=" + time.lower())
    if at is not None and window is not None:
        raise _usage("give at= or window=, not both")
    if at is not None:
        args.append("--at=" + _time(at, "at="))
    if window is not None:
        args += _window(window)
    if merge:
        args.append("--merge")
    if need_av:
        args.append("--need-av")
    args += ["--", *_ids(ids, "ids="), *paths]
    try:
        res = run_full(args, home=home)
    except Usage as e:
        raise _unsupported(e, "`kdb coverage` with these options") from None
    _warn(res)
    return cast(Coverage, res.value)


def _body_or_frame(body: Any, frame: Any) -> List[str]:
    if (body is None) == (frame is None):
        raise _usage("give exactly one of body= or frame=")
    if body is not None:
        return ["--body=" + _ids(body, "body=")[0]]
    return ["--frame=" + _ids(frame, "frame=")[0]]


def which(
    mk: PathLike,
    *,
    at: Time,
    body: Union[int, str, None] = None,
    frame: Union[int, str, None] = None,
    home: Optional[PathLike] = None,
) -> Which:
    """Which kernel and segment CSPICE would use at ``at`` (``kdb which``).

    Returns ``{"winner": {"file", "segment", "type"} | None, "covering": [...]}``:
    ``winner`` is ``None`` when nothing covers ``at``.

    Raises:
        NotFound: no such metakernel, or an unknown body or frame.
    """
    args = ["which", "--json", *_body_or_frame(body, frame), "--at=" + _time(at, "at=")]
    try:
        res = run_full(args + ["--", _mk(mk)], home=home)
    except NotFound as e:
        if isinstance(e.report, dict) and "winner" in e.report:
            return cast(Which, e.report)  # nothing covers `at`: winner is None
        raise
    _warn(res)
    return cast(Which, res.value)


def gaps(
    mk: PathLike,
    *,
    window: Tuple[Time, Time],
    body: Union[int, str, None] = None,
    frame: Union[int, str, None] = None,
    time: Optional[str] = None,
    home: Optional[PathLike] = None,
) -> Gaps:
    """The holes in the union coverage of one body or frame inside ``window``
    (``kdb gaps``): ``{"id", "gaps": [[start, stop], ...]}``."""
    args = ["gaps", "--json", *_body_or_frame(body, frame), *_window(window)]
    if time is not None:
        if not isinstance(time, str) or time.lower() not in ("utc", "et"):
            raise _usage(f"time={time!r}: use 'utc' or 'et'")
        args.append("--time=" + time.lower())
    res = run_full(args + ["--", _mk(mk)], home=home)
    _warn(res)
    return cast(Gaps, res.value)


def metakernels(*, home: Optional[PathLike] = None) -> List[AcquiredMetakernel]:
    """The acquired metakernels (``kdb metakernels --json``)."""
    res = run_full(["metakernels", "--json"], home=home)
    _warn(res)
    return cast(List[AcquiredMetakernel], res.value)


def scan(
    directory: PathLike,
    *,
    mission: Optional[str] = None,
    archive: bool = False,
    home: Optional[PathLike] = None,
) -> ScanReport:
    """Register every kernel under ``directory`` (``kdb scan``)."""
    d = _local(directory)
    if not d.is_dir():
        raise NoSuchFile(f"directory=: no such directory: {os.fspath(directory)}",
                         filename=os.fspath(directory))
    args = ["scan", "--json"]
    if mission is not None:
        args.append("--mission=" + mission)
    if archive:
        args.append("--archive")
    res = run_full(args + ["--", str(d)], home=home)
    _warn(res)
    return cast(ScanReport, res.value)


def mission_add(
    name: str,
    *,
    server: Optional[str] = None,
    mk_dir_url: Optional[str] = None,
    dedup: bool = True,
    home: Optional[PathLike] = None,
) -> Mission:
    """Add a mission (``kdb mission add``); returns its configuration."""
    if not isinstance(name, str) or not _MISSION_OK.match(name):
        raise _usage(f"name={name!r}: use letters, digits, '-', '_' and '.'")
    args = ["mission", "add"]
    if server is not None:
        args.append("--server=" + server)
    if mk_dir_url is not None:
        args.append("--mk-dir-url=" + mk_dir_url)
    if not dedup:
        args.append("--no-dedup")
    res = run_full(args + ["--", name], home=home, json_out=False)
    _warn(res)
    listed = run_full(["mission", "list", "--json"], home=home).value
    for m in listed.get("missions") or []:
        if str(m.get("name", "")).lower() == name.lower():
            return cast(Mission, m)
    raise KdbError(f"mission {name} was added but is not listed", code=0, command=res.cmd)


def update(
    mk: Optional[PathLike] = None,
    *,
    all: bool = False,
    force: bool = False,
    dry_run: bool = False,
    jobs: Optional[int] = None,
    progressbar: Optional[bool] = None,
    home: Optional[PathLike] = None,
) -> List[Update]:
    """Re-fetch acquired metakernels (``kdb update``): one ``{"name",
    "source_url", "report"}`` per metakernel.

    Raises:
        Gone: the server no longer serves it.
    """
    args = ["update", "-y", "--json"]
    if all:
        args.append("--all")
    if force:
        args.append("--force")
    if dry_run:
        args.append("--dry-run")
    if jobs is not None:
        args.append(f"--jobs={int(jobs)}")
    if mk is not None:
        args += ["--", _mk(mk)]
    res = run_full(args, home=home, progress=progress_mode(progressbar))
    _warn(res)
    return cast(List[Update], res.value)


def verify(
    *mks: PathLike,
    deep: bool = False,
    strict: bool = False,
    checksums: Optional[str] = None,
    home: Optional[PathLike] = None,
) -> VerifyReport:
    """Re-check the store against the catalogue (``kdb verify``); never changes
    anything. Findings that are errors raise :class:`Partial` with the report
    as ``e.report``."""
    args = ["verify", "--json"]
    if deep:
        args.append("--deep")
    if strict:
        args.append("--strict")
    if checksums is not None:
        args.append("--checksums=" + checksums)
    if mks:
        args += ["--", *(_mk(m) for m in mks)]
    res = run_full(args, home=home)
    _warn(res)
    return cast(VerifyReport, res.value)


def lock(mk: PathLike, path: PathLike, *, home: Optional[PathLike] = None) -> str:
    """Write a lockfile pinning the exact bytes a metakernel loads (``kdb lock``).

    ``path`` may be a directory: the lockfile is then ``<mk stem>.kdb.lock`` in it.

    Returns:
        The absolute path (``str``) of the lockfile.
    """
    out = _local(path)
    if out.is_dir():
        stem = os.path.basename(os.fspath(mk).rstrip("/")).rsplit(".", 1)[0]
        out = out / f"{stem}.kdb.lock"
    if not out.parent.is_dir():
        raise NoSuchFile(f"path=: no such directory: {out.parent}", filename=str(out.parent))
    try:
        res = run_full(["lock", "--json", "-o", str(out), "--", _mk(mk)], home=home)
    except Usage as e:
        raise _unsupported(e, "`kdb lock`") from None
    _warn(res)
    return str(out)


def restore(
    lock: PathLike,
    *,
    offline: bool = False,
    mirrors: Sequence[str] = (),
    into: Optional[PathLike] = None,
    progressbar: Optional[bool] = None,
    home: Optional[PathLike] = None,
) -> Metakernel:
    """Materialise the metakernel and exactly the locked bytes of a lockfile.

    Runs ``kdb restore --json -- LOCK``: from the local store first, then mirrors,
    source URLs and the archive's former versions; every byte is checked against
    the lock's sha256.

    Returns:
        The ready metakernel (a ``str``, with the report as ``.report``).

    Raises:
        NoSuchFile: no such lockfile (also a FileNotFoundError).
        Partial: a kernel with the locked hash was found nowhere.
    """
    lf = _local(lock)
    if not lf.is_file():
        raise NoSuchFile(f"lock=: no such lockfile: {os.fspath(lock)}", filename=os.fspath(lock))
    if isinstance(mirrors, str):
        mirrors = [mirrors]
    args = ["restore", "--json"]
    if offline:
        args.append("--offline")
    for m in mirrors:
        args.append("--mirror=" + m)
    if into is not None:
        args.append("--into=" + str(_local(into)))
    try:
        res = run_full(args + ["--", str(lf)], home=home, progress=progress_mode(progressbar))
    except Usage as e:
        raise _unsupported(e, "`kdb restore`") from None
    _warn(res)
    report = res.value
    mk = report.get("metakernel") if isinstance(report, dict) else None
    if not mk:
        raise KdbError(f"kdb restore reported no metakernel: {report}", code=0)
    return Metakernel(str(mk), cast(GetReport, report))


def version() -> str:
    """The version of the kdb binary this package runs (``kdb --version``)."""
    text = run_full(["--version"], json_out=False).value
    return str(text).strip().split()[-1]



