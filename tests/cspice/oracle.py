#!/usr/bin/env python3
"""CSPICE oracle for kdb's metakernel engine.

Asks CSPICE (as bundled by SpiceyPy) what it makes of a metakernel when run from a
given working directory, and prints JSON.

    oracle.py MK CWD          one metakernel, prints one JSON object
    oracle.py --batch         reads a JSON array of {"mk": ..., "cwd": ...} on stdin,
                              prints a JSON array of results in the same order

Method (see docs/metakernels.md for why and for the limits):

1. `ldpool` the file: CSPICE parses every data block into the kernel pool but loads no
   kernel. A failure here is a syntax error; its SPICE short message is reported.
2. Read KERNELS_TO_LOAD and PATH_VALUES with `stpool` (CSPICE's own `+` continuation
   joining) and PATH_SYMBOLS with `gcpool`, then apply the path-symbol substitution of
   CSPICE's KEEPER/FURNSH (ported below, line for line). This gives the file names
   FURNSH would try to open even when the kernels are absent: "entries".
3. `furnsh` the file for real from CWD. On success, "loaded" is every file KEEPER
   recorded (`kdata`), in order, minus the metakernel itself. On failure the SPICE
   message is reported, and "first_missing" / "furnsh_names_first_missing" say whether
   the failure is exactly a missing file: the first entry that does not exist, named in
   the message.

Each file starts from an empty pool (`kclear`).
"""

import json
import os
import sys

import spiceypy as sp
from spiceypy.utils.exceptions import SpiceyError

FILSIZ = 255  # KEEPER's file name buffer
FURNSH_VARS = ("KERNELS_TO_LOAD", "PATH_SYMBOLS", "PATH_VALUES")


def spice_error(exc):
    return {"ok": False, "error": exc.short, "message": exc.long}


def pool_type(name):
    """'C', 'N' or None."""
    with sp.no_found_check():
        _, typ, found = sp.dtpool(name)
    return typ if found else None


def stpool_all(name):
    """Every continuation-joined string of a character pool variable, via STPOOL."""
    out = []
    with sp.no_found_check():
        i = 0
        while True:
            value, size, found = sp.stpool(name, i, "+")
            if not found:
                return out
            # The C wrapper trims blanks; KEEPER uses the first SIZE characters, and
            # SIZE is 1 for a blank string (Fortran RTRIM).
            out.append(value.ljust(size)[:size])
            i += 1


def gcpool_all(name):
    with sp.no_found_check():
        n, _, found = sp.dtpool(name)
        if not found:
            return []
        values, found = sp.gcpool(name, 0, n)
    return list(values) if found else []


def resolve(name, symbols, values):
    """KEEPER's substitution loop for one KERNELS_TO_LOAD file name.

    Each '$' is replaced by the value of the longest PATH_SYMBOLS entry matching the
    characters after it (case-sensitive; the first of equal lengths wins). The scan
    resumes one character after the '$', inside the inserted value. A '$' that matches
    nothing is left alone. Raises ValueError('SPICE(FILENAMETOOLONG)') where KEEPER would.
    """
    fnmlen = len(name)
    fil2ld = name
    start = 0
    dollar = fil2ld.find("$", start)
    while dollar >= 0:
        size, use = 0, -1
        for i, symbol in enumerate(symbols):
            r = len(symbol.rstrip(" "))
            if r > size and fil2ld[dollar + 1 : dollar + 1 + r] == symbol[:r]:
                use, size = i, r
        if use >= 0:
            pvalue = values[use]
            if fnmlen + len(pvalue) - size - 1 > FILSIZ:
                raise ValueError("SPICE(FILENAMETOOLONG)")
            fil2ld = (fil2ld[:dollar] + pvalue + fil2ld[dollar + 1 + size :])[:FILSIZ]
        start = dollar + 1
        dollar = fil2ld.find("$", start)
    return fil2ld


def entries_from_pool():
    """The names FURNSH would open, from the variables ldpool put in the pool."""
    if all(pool_type(v) is None for v in FURNSH_VARS):
        return [], None
    symbols, values = [], []
    if pool_type("PATH_SYMBOLS") == "C":
        symbols = gcpool_all("PATH_SYMBOLS")
        values = stpool_all("PATH_VALUES") if pool_type("PATH_VALUES") == "C" else []
        for v in values:
            if len(v) > FILSIZ:
                return None, "SPICE(PATHTOOLONG)"
        if len(values) != len(symbols):
            return None, "SPICE(PATHMISMATCH)"
    if pool_type("KERNELS_TO_LOAD") != "C":
        return [], None
    out = []
    for name in stpool_all("KERNELS_TO_LOAD"):
        if len(name) > FILSIZ:
            return None, "SPICE(FILENAMETOOLONG)"
        try:
            out.append(resolve(name, symbols, values) if symbols else name)
        except ValueError as e:
            return None, str(e)
    return out, None


def ask(mk, cwd):
    mk = os.path.abspath(mk)
    result = {"mk": mk, "cwd": cwd}
    os.chdir(cwd)

    sp.kclear()
    try:
        sp.ldpool(mk)
        result["ldpool"] = {"ok": True}
        entries, err = entries_from_pool()
        result["entries"] = entries
        result["entries_error"] = err
    except SpiceyError as e:
        result["ldpool"] = spice_error(e)
        result["entries"] = None
        result["entries_error"] = None

    sp.kclear()
    try:
        sp.furnsh(mk)
        files = [sp.kdata(i, "ALL")[0] for i in range(sp.ktotal("ALL"))]
        if files and files[0] == mk:
            files = files[1:]
        result["furnsh"] = {"ok": True, "loaded": files}
    except SpiceyError as e:
        result["furnsh"] = spice_error(e)
    finally:
        sp.kclear()

    entries = result["entries"]
    missing = None
    if entries is not None:
        missing = next((e for e in entries if not os.path.exists(e)), None)
    result["first_missing"] = missing
    furnsh = result["furnsh"]
    result["furnsh_names_first_missing"] = (
        None
        if furnsh["ok"] or missing is None
        else furnsh["error"] == "SPICE(NOSUCHFILE)" and f"'{missing}'" in furnsh["message"]
    )
    return result


def main(argv):
    home = os.getcwd()
    if argv[1:] == ["--batch"]:
        requests = json.load(sys.stdin)
        out = []
        for r in requests:
            out.append(ask(os.path.join(home, r["mk"]), os.path.join(home, r["cwd"])))
        json.dump(out, sys.stdout)
    elif len(argv) == 3:
        json.dump(ask(argv[1], os.path.abspath(argv[2])), sys.stdout, indent=1)
    else:
        sys.stderr.write(__doc__)
        return 2
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
