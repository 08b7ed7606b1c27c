"""kdb from Python: the SPICE kernel cache manager's commands as functions.

Every function runs the ``kdb`` binary installed with this package (or the one named
by ``KDB_BINARY``) with ``--json`` and returns Python values; there is no second
implementation. Every function takes a keyword ``home=`` (else ``KDB_HOME`` or the
configured default, as the command line does). Failures raise a :class:`KdbError`
subclass chosen by kdb's exit code, carrying kdb's message.

    >>> import kdb, spiceypy
    >>> spiceypy.furnsh(kdb.get("https://naif.jpl.nasa.gov/pub/naif/pds/pds4/ladee/ladee_spice/spice_kernels/mk/ladee_v01.tm"))

See docs/python.md.
"""

from importlib import metadata as _metadata

from ._api import (
    aliases,
    coverage,
    entries,
    gaps,
    get,
    list,
    lock,
    metakernels,
    mission_add,
    resolve,
    restore,
    scan,
    update,
    verify,
    version,
    which,
)
from ._errors import (
    Busy,
    Gone,
    Internal,
    KdbError,
    Network,
    NoSuchFile,
    NotFound,
    Partial,
    Unsupported,
    Usage,
)
from ._process import BINARY_ENV, KdbWarning, find_binary
from ._types import (
    AcquiredMetakernel,
    Aliases,
    Coverage,
    Entry,
    Gaps,
    GetReport,
    Metakernel,
    Mission,
    ScanReport,
    Time,
    Update,
    VerifyReport,
    Which,
    WindowReport,
)

try:
    __version__: str = _metadata.version("kdb-spice")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"

for _f in (aliases, coverage, entries, gaps, get, lock, metakernels, mission_add,
           resolve, restore, scan, update, verify, version, which, find_binary):
    _f.__module__ = "kdb"
del _f

# `list` is kdb.list (= kdb.entries) but stays out of __all__: `from kdb import *`
# must not replace the built-in list.
__all__ = [
    "BINARY_ENV",
    "AcquiredMetakernel",
    "Aliases",
    "Busy",
    "Coverage",
    "Entry",
    "Gaps",
    "GetReport",
    "Gone",
    "Internal",
    "KdbError",
    "KdbWarning",
    "Metakernel",
    "Mission",
    "Network",
    "NoSuchFile",
    "NotFound",
    "Partial",
    "ScanReport",
    "Time",
    "Unsupported",
    "Update",
    "Usage",
    "VerifyReport",
    "Which",
    "WindowReport",
    "aliases",
    "coverage",
    "entries",
    "find_binary",
    "gaps",
    "get",
    "lock",
    "metakernels",
    "mission_add",
    "resolve",
    "restore",
    "scan",
    "update",
    "verify",
    "version",
    "which",
]
