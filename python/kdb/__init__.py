"""kdb from Python: the SPICE kernel cache manager's commands as functions.

Every function runs the ``kdb`` binary installed with this package (or the one named
by ``KDB_BINARY``) with ``--json`` and returns Python values; there is no second
implementation. Every function takes a keyword ``home=`` (else ``KDB_HOME`` or the
configured default, as the command line does). Failures raise a :class:`KdbError`
subclass chosen by kdb's exit code, carrying kdb's message.

    >>> import kdb, spiceypy
    >>> spiceypy.furnsh(str(kdb.get("https://naif.jpl.nasa.gov/pub/naif/pds/pds4/ladee/ladee_spice/spice_kernels/mk/ladee_v01.tm")))

See docs/python.md.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from ._api import (
    KdbWarning,
    aliases,
    coverage,
    get,
    list,
    lock,
    resolve,
    restore,
    version,
)
from ._errors import (
    Busy,
    Gone,
    Internal,
    KdbError,
    Network,
    NotFound,
    Partial,
    Unsupported,
    Usage,
)
from ._process import BINARY_ENV, find_binary

try:
    __version__: str = _metadata.version("kdb-spice")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "BINARY_ENV",
    "Busy",
    "Gone",
    "Internal",
    "KdbError",
    "KdbWarning",
    "Network",
    "NotFound",
    "Partial",
    "Unsupported",
    "Usage",
    "aliases",
    "coverage",
    "find_binary",
    "get",
    "list",
    "lock",
    "resolve",
    "restore",
    "version",
]
