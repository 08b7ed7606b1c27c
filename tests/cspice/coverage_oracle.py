#!/usr/bin/env python3
"""CSPICE oracle for kdb's coverage reader (src/coverage).

Reads a JSON array of jobs on stdin, prints a JSON array of results in the same order,
all in one interpreter run (start-up is slow). Every job starts from an empty kernel
pool (`kclear`) and furnishes only its `kernels` (LSK, SCLK).

Doubles that must compare bit for bit travel as their IEEE-754 bit patterns (signed
64-bit integers, little-endian reinterpretation), so no decimal round trip can blur them.

Jobs:
  {"op": "daf", "file": F, "kind": "spk"|"ck"|"pck", "kernels": [...]}
      spk/pck: {"ids": {ID: {"cov": BITS}}}            spkcov / pckcov
      ck:      {"ids": {ID: {"seg": BITS, "int": BITS, "seg_av": BITS, "int_av": BITS,
                             "seg_tdb": BITS|ERR, "int_tdb": BITS|ERR}}}
               ckcov in SCLK ticks at both levels, with needav false/true, and in TDB
               when kernels are given. BITS is a flat list [b0, e0, b1, e1, ...].
      Errors: {"error": SHORT, "message": LONG}.
  {"op": "et2utc", "kernels": [LSK], "ets": [BITS...]}      -> {"utc": [...]}
  {"op": "str2et", "kernels": [LSK], "strings": [...]}      -> {"ets": [BITS|null...]}
  {"op": "sct2e", "kernels": [LSK, SCLK], "clock": ID, "ticks": [BITS...]}
      -> {"ets": [BITS|null...], "ticks_back": [BITS|null...]}   (sct2e, then sce2c)
  {"op": "spksfs", "kernels": [SPK...], "queries": [[BODY, BITS]...]}
      -> {"hits": [{"file": F, "begin": ADDR}|null...]}        (load order = kernels)
  {"op": "names", "kernels": [FK...], "body_names": [...], "body_codes": [...],
   "frame_names": [...]}   -> {"bodies": {NAME: CODE|null}, "codes": {CODE: NAME|null},
                               "frames": {NAME: CODE|null}}      (bodn2c, bodc2n, namfrm)
  {"op": "ckw", "path": P, "segments": [{"type": 1|2|3|5, "inst", "av", "begin", "end",
   "times", "stops" (type 2), "starts" (types 3, 5)}]}  -> as "daf" for the CK written
      with ckw01/ckw02/ckw03/ckw05 at P (replaced if present).
  {"op": "dsk", "file": F}                                  -> {"bodies": {ID: [SURF...]}}
  {"op": "wncomd", "window": [..], "left": L, "right": R}   -> {"result": [...]}
"""

import json
import struct
import sys

import spiceypy as sp
from spiceypy.utils.exceptions import SpiceyError

MAXWIN = 2_000_000


def bits(x):
    return struct.unpack("<q", struct.pack("<d", x))[0]


def unbits(b):
    return struct.unpack("<d", struct.pack("<q", b))[0]


def err(exc):
    return {"error": getattr(exc, "short", "") or type(exc).__name__, "message": str(exc)[:400]}


def window_bits(cell):
    n = sp.wncard(cell)
    out = []
    for i in range(n):
        a, b = sp.wnfetd(cell, i)
        out += [bits(a), bits(b)]
    return out


def daf(job):
    f, kind = job["file"], job["kind"]
    if kind == "spk":
        ids = sp.spkobj(f)
    elif kind == "pck":
        ids = sp.cell_int(10000)
        sp.pckfrm(f, ids)
    else:
        ids = sp.ckobj(f)
    out = {}
    for i in range(sp.card(ids)):
        idcode = ids[i]
        rec = {}
        if kind in ("spk", "pck"):
            cov = sp.cell_double(MAXWIN)
            (sp.spkcov if kind == "spk" else sp.pckcov)(f, idcode, cov)
            rec["cov"] = window_bits(cov)
        else:
            for key, level, av in (("seg", "SEGMENT", False), ("int", "INTERVAL", False),
                                   ("seg_av", "SEGMENT", True), ("int_av", "INTERVAL", True)):
                cov = sp.cell_double(MAXWIN)
                try:
                    sp.ckcov(f, idcode, av, level, 0.0, "SCLK", cov)
                    rec[key] = window_bits(cov)
                except SpiceyError as e:
                    rec[key] = err(e)
            if job.get("kernels"):
                for key, level in (("seg_tdb", "SEGMENT"), ("int_tdb", "INTERVAL")):
                    cov = sp.cell_double(MAXWIN)
                    try:
                        sp.ckcov(f, idcode, False, level, 0.0, "TDB", cov)
                        rec[key] = window_bits(cov)
                    except SpiceyError as e:
                        rec[key] = err(e)
        out[str(idcode)] = rec
    return {"ids": out}


def ckw(job):
    """Writes a CK with CSPICE's own writers, then reads its coverage back."""
    import os
    import numpy as np

    path = job["path"]
    if os.path.exists(path):
        os.remove(path)
    handle = sp.ckopn(path, "kdb oracle", 0)
    for i, seg in enumerate(job["segments"]):
        t = np.array(seg["times"], dtype=float)
        n = len(t)
        quats = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
        avvs = np.zeros((n, 3))
        segid = "seg %d" % i
        kind = seg["type"]
        if kind == 1:
            sp.ckw01(handle, seg["begin"], seg["end"], seg["inst"], "J2000", seg["av"], segid, n, t, quats, avvs)
        elif kind == 2:
            stops = np.array(seg["stops"], dtype=float)
            sp.ckw02(handle, seg["begin"], seg["end"], seg["inst"], "J2000", segid, n, t, stops, quats, avvs, np.ones(n))
        elif kind == 3:
            starts = np.array(seg["starts"], dtype=float)
            sp.ckw03(handle, seg["begin"], seg["end"], seg["inst"], "J2000", seg["av"], segid, n, t, quats, avvs, len(starts), starts)
        elif kind == 5:
            starts = np.array(seg["starts"], dtype=float)
            packets = [[1.0, 0.0, 0.0, 0.0]] * n  # subtype 1: quaternions only
            sp.ckw05(handle, 1, 3, seg["begin"], seg["end"], seg["inst"], "J2000", seg["av"], segid, t, packets, 1.0, len(starts), starts)
    sp.ckcls(handle)
    job = dict(job, file=path, kind="ck")
    return daf(job)


def run(job):
    sp.kclear()
    for k in job.get("kernels", []):
        sp.furnsh(k)
    op = job["op"]
    if op == "daf":
        return daf(job)
    if op == "et2utc":
        return {"utc": [sp.et2utc(unbits(b), "ISOC", 3) for b in job["ets"]]}
    if op == "str2et":
        out = []
        for s in job["strings"]:
            try:
                out.append(bits(sp.str2et(s)))
            except SpiceyError:
                out.append(None)
        return {"ets": out}
    if op == "sct2e":
        ets, back = [], []
        for b in job["ticks"]:
            try:
                et = sp.sct2e(job["clock"], unbits(b))
            except SpiceyError:
                ets.append(None)
                back.append(None)
                continue
            ets.append(bits(et))
            try:
                back.append(bits(sp.sce2c(job["clock"], et)))
            except SpiceyError:
                back.append(None)
        return {"ets": ets, "ticks_back": back}
    if op == "spksfs":
        files = {}
        for k in job["kernels"]:
            _, _, handle = sp.kinfo(k)
            files[handle] = k
        out = []
        for body, b in job["queries"]:
            with sp.no_found_check():
                handle, descr, ident, found = sp.spksfs(body, unbits(b), 41)
            if not found:
                out.append(None)
                continue
            dc, ic = sp.dafus(descr, 2, 6)
            out.append({"file": files[handle], "begin": int(ic[4])})
        return {"hits": out}
    if op == "names":
        bodies, frames, codes = {}, {}, {}
        with sp.no_found_check():
            for n in job.get("body_names", []):
                code, found = sp.bodn2c(n)
                bodies[n] = code if found else None
            for c in job.get("body_codes", []):
                name, found = sp.bodc2n(c)
                codes[str(c)] = name if found else None
        for n in job.get("frame_names", []):
            code = sp.namfrm(n)
            frames[n] = code if code != 0 else None
        return {"bodies": bodies, "codes": codes, "frames": frames}
    if op == "ckw":
        return ckw(job)
    if op == "dsk":
        bodies = sp.dskobj(job["file"])
        out = {}
        for i in range(sp.card(bodies)):
            srf = sp.dsksrf(job["file"], bodies[i])
            out[str(bodies[i])] = [srf[j] for j in range(sp.card(srf))]
        return {"bodies": out}
    if op == "wncomd":
        w = sp.cell_double(2 * len(job["window"]) + 10)
        for a, b in job["window"]:
            sp.wninsd(a, b, w)
        r = sp.wncomd(job["left"], job["right"], w)
        return {"result": [[r[i], r[i + 1]] for i in range(0, sp.card(r), 2)]}
    raise ValueError("unknown op %r" % op)


def main():
    jobs = json.load(sys.stdin)
    results = []
    for job in jobs:
        try:
            results.append(run(job))
        except SpiceyError as e:
            results.append(err(e))
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
