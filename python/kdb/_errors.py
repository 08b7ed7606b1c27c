"""The exceptions raised when kdb fails, one class per documented exit code.

kdb's exit codes (docs/cli.md) are its error contract; the Python class is chosen by
the code alone, never by parsing the message, and carries kdb's own message (with
the command line's option names replaced by this API's parameter names).

Every class pickles and copies (``multiprocessing``, ``concurrent.futures``), and is
shown as ``kdb.NotFound`` (not ``kdb._errors.NotFound``) in tracebacks.

No ``from __future__ import annotations`` here: ``typing.get_type_hints`` must
evaluate every annotation on Python 3.9, so only ``typing.Optional``/``Union``.
"""

import errno as _errno
from collections.abc import Sequence
from typing import Any, Dict, Optional, Tuple, Type


class KdbError(Exception):
    """kdb failed. Subclasses name the documented exit codes.

    Attributes:
        code: kdb's exit code (negative: killed by that signal; ``-1000``: no
            binary to run; ``2`` too for a value this API refused before running
            kdb).
        message: kdb's error message (``error: …`` and ``caused by: …`` lines from
            its stderr, without the ``error:`` prefix).
        cmd: the command line that was run (a tuple; empty when kdb was not run).
        args_: the same as ``cmd`` (kept for older code).
        report: the JSON report kdb printed on stdout before failing, if any (for
            example the ``get`` report listing each failed download on exit 3).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int = -1,
        command: Sequence[str] = (),
        report: Optional[Any] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.cmd: Tuple[str, ...] = tuple(command)
        self.report = report

    @property
    def args_(self) -> Tuple[str, ...]:
        return self.cmd

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Tuple[Any, ...]:
        # BaseException's default reduce calls cls(*self.args), which loses the
        # keyword-only fields (and failed for `code` before it had a default).
        return (
            _rebuild,
            (type(self), self.message, self.code, self.cmd, self.report),
            _extra_state(self),
        )


def _extra_state(e: BaseException) -> Dict[str, Any]:
    skip = {"message", "code", "cmd", "report"}
    return {k: v for k, v in vars(e).items() if k not in skip}


def _rebuild(
    cls: "Type[KdbError]",
    message: str,
    code: int,
    cmd: Tuple[str, ...],
    report: Any,
) -> "KdbError":
    return cls(message, code=code, command=cmd, report=report)


class NotFound(KdbError):
    """Exit 1: unknown name or hash, no local copy, no catalogue yet, or a 404."""


class NoSuchFile(NotFound, FileNotFoundError):
    """A local file named by an argument does not exist.

    Both a :class:`NotFound` and a built-in ``FileNotFoundError`` (``e.filename``
    is the path, ``e.errno`` is ``ENOENT``).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int = 1,
        command: Sequence[str] = (),
        report: Optional[Any] = None,
        filename: Optional[str] = None,
    ) -> None:
        super().__init__(message, code=code, command=command, report=report)
        self.errno = _errno.ENOENT
        self.strerror = message
        self.filename = filename

    def __reduce__(self) -> Tuple[Any, ...]:
        state = _extra_state(self)
        state["filename"] = self.filename
        return (
            _rebuild,
            (type(self), self.message, self.code, self.cmd, self.report),
            state,
        )


class Usage(KdbError, ValueError):
    """Exit 2: bad argument or value, malformed input, unsafe path.

    Also a ``ValueError``: a value this API refuses before running kdb raises it
    too, naming the parameter (``time=``, ``window=``, …).
    """


class Unsupported(Usage):
    """The installed kdb binary does not know an option this function passed.

    Raised when a keyword maps to a command-line feature the bundled kdb does not
    have yet (for example ``get(window=…)``, which needs ``kdb get --from/--to``).
    """


class Partial(KdbError):
    """Exit 3: some items were skipped or failed; ``report`` lists them."""


class Gone(KdbError):
    """Exit 4: the server no longer serves an acquired metakernel."""


class Busy(KdbError):
    """Exit 5: another kdb held the home lock longer than ``lock_timeout``."""


class Network(KdbError):
    """Exit 6: unreachable server, time-out, or an HTTP error other than not-found."""


class Internal(KdbError):
    """Exit 10: an I/O or database failure inside kdb."""


_BY_CODE: Dict[int, Type[KdbError]] = {
    1: NotFound,
    2: Usage,
    3: Partial,
    4: Gone,
    5: Busy,
    6: Network,
    10: Internal,
}

for _cls in (
    KdbError,
    NotFound,
    NoSuchFile,
    Usage,
    Unsupported,
    Partial,
    Gone,
    Busy,
    Network,
    Internal,
):
    _cls.__module__ = "kdb"


def error_class(code: int) -> Type[KdbError]:
    """The exception class for kdb's exit ``code`` (``KdbError`` when undocumented)."""
    return _BY_CODE.get(code, KdbError)
