"""``python -m kdb ARGS``: runs the kdb command line with ARGS (same exit code)."""

from __future__ import annotations

import os
import subprocess
import sys

from ._errors import KdbError
from ._process import find_binary


def main() -> int:
    try:
        binary = str(find_binary())
    except KdbError as e:
        print(f"error: {e}", file=sys.stderr)
        return 127
    argv = [binary, *sys.argv[1:]]
    if os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(binary, argv)  # replaces this process: signals and terminal go to kdb
    return subprocess.call(argv)


if __name__ == "__main__":
    sys.exit(main())
