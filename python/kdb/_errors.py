"""The exceptions raised when kdb fails, one class per documented exit code.

kdb's exit codes (docs/cli.md) are its error contract; the Python class is chosen by
the code alone, never by parsing the message, and carries kdb's own message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class KdbError(Exception):
    """kdb failed. Subclasses name the documented exit codes.

    Attributes:
        code: kdb's exit code (negative: killed by that signal).
        message: kdb's error message (``error: …`` and ``caused by: …`` lines from
            its stderr, without the ``error:`` prefix).
        args_: the command line that was run.
        report: the JSON report kdb printed on stdout before failing, if any (for
            example the ``get`` report listing each failed download on exit 3).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int,
        command: Sequence[str] = (),
        report: Any | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.args_ = tuple(command)
        self.report = report

    def __str__(self) -> str:
        return self.message


class NotFound(KdbError):
    """Exit 1: unknown name or hash, no local copy, no catalogue yet, or a 404."""


class Usage(KdbError):
    """Exit 2: bad argument or value, malformed input, unsafe path."""


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


_BY_CODE: dict[int, type[KdbError]] = {
    1: NotFound,
    2: Usage,
    3: Partial,
    4: Gone,
    5: Busy,
    6: Network,
    10: Internal,
}


def error_class(code: int) -> type[KdbError]:
    """The exception class for kdb's exit ``code`` (``KdbError`` when undocumented)."""
    return _BY_CODE.get(code, KdbError)
