"""The shapes of kdb's results (``--json`` documents, docs/cli.md) as TypedDicts.

No ``from __future__ import annotations`` and no ``X | Y``: ``typing.get_type_hints``
must evaluate these on Python 3.9.
"""

import datetime as _dt
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, TypedDict, Union

#: A time kdb understands: UTC as text (ISO ``"2027-06-10T00:00:00"``, with ``Z``,
#: or a SPICE form such as ``"2027 JUN 10 00:00"``), ``"ET:<seconds>"``, a
#: ``datetime`` (naive = UTC), a ``date``, a ``numpy.datetime64`` (UTC), or ET
#: seconds as a number (``int``, ``float`` or a numpy scalar).
Time = Union[str, _dt.datetime, _dt.date, float, int, Any]

#: A local path.
PathLike = Union[str, "os.PathLike[str]"]

#: A NAIF ID or name, or several.
Ids = Union[int, str, Sequence[Union[int, str]]]

#: A coverage window bound: ET seconds, SCLK ticks, or UTC text (``time="utc"``).
Bound = Union[float, str]


class Entry(TypedDict):
    """One entry FURNSH loads (``kdb.entries``)."""

    index: int
    raw: str
    path: str
    file_name: str
    kernel_type: str
    line: int
    sha256: Optional[str]
    size: Optional[int]
    other_names: Optional[int]


class Location(TypedDict):
    path: str
    mission: Optional[str]
    kind: str
    target: Optional[str]


class Aliases(TypedDict):
    sha256: str
    canonical: str
    kernel_type: str
    byte_order: Optional[str]
    size: int
    aliases: List[str]
    locations: List[Location]


class IdCoverage(TypedDict, total=False):
    id: int
    name: Optional[str]
    windows: List[List[Bound]]
    level: str


class KernelCoverage(TypedDict):
    file: str
    name: str
    sha256: str
    type: str
    byte_order: str
    ids: List[IdCoverage]


class Coverage(TypedDict):
    kernels: List[KernelCoverage]
    merged: Optional[List[IdCoverage]]


class PlanEntry(TypedDict):
    name: str
    url: str
    local_path: str
    status: str
    size: Optional[int]
    other_names: int


class WindowEntry(TypedDict):
    name: str
    url: str
    decision: str
    reason: str
    size: Optional[int]


class WindowReport(TypedDict, total=False):
    spec: Dict[str, Any]
    from_et: float
    to_et: float
    pad_seconds: float
    bodies: List[int]
    entries: List[WindowEntry]
    taken: int
    skipped: int
    bytes_saved: int
    probes: Dict[str, int]


class Plan(TypedDict, total=False):
    metakernel_url: str
    mission: str
    entries: List[PlanEntry]
    to_download: int
    window: WindowReport


class Failure(TypedDict):
    name: str
    url: str
    error: str


class GetReport(TypedDict, total=False):
    """``kdb get --json``: the plan, what was downloaded, what failed."""

    plan: Plan
    dry_run: bool
    declined: bool
    downloaded: int
    downloaded_bytes: int
    from_team: int
    published: int
    failed: List[Failure]
    metakernel: Optional[str]
    unchanged: bool


class Segment(TypedDict):
    file: str
    segment: int
    type: str


class Which(TypedDict):
    winner: Optional[Segment]
    covering: List[Segment]


class Gaps(TypedDict):
    id: int
    gaps: List[Tuple[Bound, Bound]]


class AcquiredMetakernel(TypedDict):
    id: int
    name: str
    source_url: str
    final_url: str
    local_path: str
    mission: Optional[str]
    sha256: str
    etag: Optional[str]
    last_modified: Optional[str]
    size: int
    acquired_at: str


class Skipped(TypedDict):
    path: str
    reason: str


class ScanReport(TypedDict):
    root: str
    new_contents: int
    new_locations: int
    unchanged: int
    hashed: int
    hashed_bytes: int
    changed: int
    aliases_added: int
    symlinks: int
    removed: int
    archived: int
    skipped: List[Skipped]


class Mission(TypedDict):
    name: str
    server_url: str
    mk_dir_url: str
    dedup: bool
    added_at: str


class Update(TypedDict):
    name: str
    source_url: str
    report: GetReport


class Finding(TypedDict):
    path: str
    sha256: Optional[str]
    problem: str
    detail: str
    fix: str


class VerifyReport(TypedDict, total=False):
    checked: int
    findings: List[Finding]
    checksums: Dict[str, Any]


class Metakernel(str):
    """The path of a ready metakernel (a ``str``: ``spiceypy.furnsh(kdb.get(url))``
    works) with the report of the ``get`` that made it.

    Attributes:
        report: the ``get`` report (:class:`GetReport`): ``report["plan"]`` is the
            plan, ``report["failed"]`` the failures (empty on success).
        window: the windowed get's decisions (``taken``, ``skipped``,
            ``bytes_saved``, per-entry ``reason``), or ``None`` without ``window=``.

    With ``dry_run=True`` no metakernel is written: the value is ``""``.
    """

    report: GetReport

    def __new__(cls, path: str, report: Optional[GetReport] = None) -> "Metakernel":
        self = super().__new__(cls, path)
        self.report = report if report is not None else GetReport()
        return self

    def __getnewargs__(self) -> Tuple[str]:
        return (str(self),)

    @property
    def window(self) -> Optional[WindowReport]:
        plan = self.report.get("plan")
        return plan.get("window") if plan else None

    @property
    def taken(self) -> Optional[int]:
        w = self.window
        return w.get("taken") if w else None

    @property
    def skipped(self) -> Optional[int]:
        w = self.window
        return w.get("skipped") if w else None

    @property
    def bytes_saved(self) -> Optional[int]:
        w = self.window
        return w.get("bytes_saved") if w else None

    @property
    def failed(self) -> List[Failure]:
        return list(self.report.get("failed") or [])


Metakernel.__module__ = "kdb"
