"""Acceptance 2 of issue 21: a script using every public function of kdb, checked
with ``mypy --strict`` by test_issue21.py (never run, only type-checked)."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import kdb


def session(home: Path, url: str) -> None:
    mk: kdb.Metakernel = kdb.get(url, window=("2027-06-10", dt.datetime(2027, 6, 12)),
                                 bodies=[-121, "MPO"], pad="1h", jobs=4, quiet=False,
                                 progressbar=None, dry_run=False, force=False,
                                 mission=None, home=home)
    path: str = mk
    saved: int | None = mk.bytes_saved
    taken: int | None = mk.taken
    skipped: int | None = mk.skipped
    report: kdb.GetReport = mk.report
    window: kdb.WindowReport | None = mk.window
    entries: list[kdb.Entry] = kdb.entries(path, kernel_type="spk", home=home)
    names = [e["file_name"] for e in entries]
    local: str = kdb.resolve(names[0], mission="DEMO", home=home)
    al: kdb.Aliases = kdb.aliases(local, home=home)
    cov: kdb.Coverage = kdb.coverage("MPO", mk=mk, time="utc", merge=True, home=home)
    cov2: kdb.Coverage = kdb.coverage([-121, 399], files=[local], at=8.6e8, home=home)
    for k in cov["kernels"]:
        for i in k["ids"]:
            windows = i["windows"]
            del windows
    w: kdb.Which = kdb.which(mk, body=-121, at="2027 JUN 10 12:00", home=home)
    winner = w["winner"]
    if winner is not None:
        seg: int = winner["segment"]
        del seg
    g: kdb.Gaps = kdb.gaps(mk, frame=-121000, window=(0.0, 1.0), time="et", home=home)
    acquired: list[kdb.AcquiredMetakernel] = kdb.metakernels(home=home)
    scanned: kdb.ScanReport = kdb.scan(Path("/tmp"), mission="DEMO", home=home)
    mission: kdb.Mission = kdb.mission_add("DEMO", server="naif", home=home)
    updates: list[kdb.Update] = kdb.update(mk, home=home)
    verified: kdb.VerifyReport = kdb.verify(mk, deep=True, home=home)
    lockfile: str = kdb.lock(mk, home / "x.kdb.lock", home=home)
    restored: kdb.Metakernel = kdb.restore(lockfile, offline=True, mirrors=["file:///m"],
                                           into=home / "into", home=home)
    version: str = kdb.version()
    binary: Path = kdb.find_binary()
    t: kdb.Time = dt.date(2027, 6, 10)
    try:
        kdb.get("x.tm", home=home)
    except kdb.NotFound as e:
        cmd: tuple[str, ...] = e.cmd
        code: int = e.code
        del cmd, code
    except (kdb.Partial, kdb.Network, kdb.Busy, kdb.Gone, kdb.Usage, kdb.Internal,
            kdb.Unsupported, kdb.NoSuchFile, kdb.KdbError):
        pass
    warnings.filterwarnings("ignore", category=kdb.KdbWarning)
    print(saved, taken, skipped, report, window, al, cov, cov2, g, acquired, scanned,
          mission, updates, verified, restored, version, binary, t, kdb.BINARY_ENV)
