#!/usr/bin/env python3
"""CSPICE oracle for windowed `kdb get` (issue 11): a synthetic archive written with
SpiceyPy, and a differential check of a windowed metakernel against the full one.

  make DIR LSK SCLK WEEKS
      Writes DIR/kernels/{lsk,sclk,fk,spk,ck,mk}: the LSK and SCLK (copied), an FK
      defining the CK frame KDB_SC (-121000, clock -121), weekly SPKs of -121 about
      Mercury (type 8) and CKs of -121000 (type 3, a 6-hour gap inside each), some
      weeks missing, some files reaching back into the previous week (overlaps, with
      slightly different data so precedence shows), Mercury about the Sun in
      10-week files, and DIR/kernels/mk/synth.tm (PATH_VALUES '..'), in load order.
      Prints {"weeks": [[start_et, end_et]...], "files": N}.

  compare FULL_MK WINDOW_MK FROM TO N SEED [QUERIES_JSON]
      N random epochs (uniform, seeded) in [str2et(FROM), str2et(TO)]; for each, the
      queries (default SYNTH_QUERIES: spkezr/spkpos of -121 from 10 and 199, NONE and
      LT+S, spkezr 199 from 10, pxform J2000 -> KDB_SC, ckgp -121000 with tol 0),
      through the full metakernel then through the windowed one (kclear between). Doubles compared as IEEE bit
      patterns; errors compared by their short message.
      Prints {"compared": n, "errors": e, "mismatches": [...first 10...]}.
"""

import json
import math
import os
import random
import shutil
import struct
import sys

import spiceypy as sp
from spiceypy.utils.exceptions import SpiceyError

FK = """KPL/FK
\\begindata
FRAME_KDB_SC             = -121000
FRAME_-121000_NAME       = 'KDB_SC'
FRAME_-121000_CLASS      = 3
FRAME_-121000_CLASS_ID   = -121000
FRAME_-121000_CENTER     = -121
CK_-121000_SCLK          = -121
CK_-121000_SPK           = -121
\\begintext
"""

DAY = 86400.0


def make(out, lsk, sclk, weeks):
    k = os.path.join(out, "kernels")
    for d in ("lsk", "sclk", "fk", "spk", "ck", "mk"):
        os.makedirs(os.path.join(k, d), exist_ok=True)
    shutil.copy(lsk, os.path.join(k, "lsk", os.path.basename(lsk)))
    shutil.copy(sclk, os.path.join(k, "sclk", os.path.basename(sclk)))
    with open(os.path.join(k, "fk", "kdb_sc.tf"), "w") as f:
        f.write(FK)
    sp.kclear()
    sp.furnsh(lsk)
    sp.furnsh(sclk)
    t0 = sp.str2et("2020-01-06T00:00:00")
    entries = ["$KERNELS/lsk/" + os.path.basename(lsk),
               "$KERNELS/sclk/" + os.path.basename(sclk),
               "$KERNELS/fk/kdb_sc.tf"]
    # Mercury about the Sun, 10-week files, 1-day step (always needed).
    for q in range(0, weeks, 10):
        a, b = t0 + q * 7 * DAY - DAY, t0 + min(q + 10, weeks) * 7 * DAY + DAY
        name = f"kdb_mercury_{q:02d}.bsp"
        path = os.path.join(k, "spk", name)
        states, n, step = [], int((b - a) / DAY) + 1, DAY
        for i in range(n):
            t = a + i * step
            w = 2 * math.pi / (88 * DAY)
            r = 5.8e7
            states.append([r * math.cos(w * t), r * math.sin(w * t), 0.0,
                           -r * w * math.sin(w * t), r * w * math.cos(w * t), 0.0])
        h = sp.spkopn(path, "KDB", 0)
        sp.spkw08(h, 199, 10, "J2000", a, a + (n - 1) * step, "MERCURY", 7, n, states, a, step)
        sp.spkcls(h)
        entries.append("$KERNELS/spk/" + name)
    spans = []
    for i in range(weeks):
        a, b = t0 + i * 7 * DAY, t0 + (i + 1) * 7 * DAY
        spans.append([a, b])
        back = DAY if i % 5 == 2 else 0.0
        if i % 9 != 5:
            name = f"kdb_sc_orbit_w{i:02d}.bsp"
            path = os.path.join(k, "spk", name)
            step, s0 = 120.0, a - back
            n = int((b - s0) / step) + 1
            w = 2 * math.pi / (2.3 * 3600)
            r = 3000.0 + 0.001 * i
            states = [[r * math.cos(w * t), r * math.sin(w * t), 0.1 * r * math.sin(w * t),
                       -r * w * math.sin(w * t), r * w * math.cos(w * t), 0.1 * r * w * math.cos(w * t)]
                      for t in (s0 + j * step for j in range(n))]
            h = spk = sp.spkopn(path, "KDB", 0)
            sp.spkw08(h, -121, 199, "J2000", s0, s0 + (n - 1) * step, f"ORBIT W{i}", 7, n, states, s0, step)
            sp.spkcls(spk)
            entries.append("$KERNELS/spk/" + name)
        if i % 7 != 3:
            name = f"kdb_sc_att_w{i:02d}.bc"
            path = os.path.join(k, "ck", name)
            step, s0 = 60.0, a - (DAY / 2 if i % 5 == 2 else 0.0)
            gap = (a + 3 * DAY, a + 3 * DAY + 6 * 3600)
            times = [s0 + j * step for j in range(int((b - s0) / step) + 1)]
            times = [t for t in times if not (gap[0] < t < gap[1])]
            ticks = [sp.sce2c(-121, t) for t in times]
            quats = []
            for t in times:
                ang = 1e-4 * t + 0.01 * i
                quats.append([math.cos(ang / 2), 0.0, 0.0, math.sin(ang / 2)])
            after = next(j for j, t in enumerate(times) if t >= gap[1])
            starts = [ticks[0], ticks[after]]
            h = sp.ckopn(path, "KDB", 0)
            sp.ckw03(h, ticks[0], ticks[-1], -121000, "J2000", False, f"ATT W{i}",
                     len(ticks), ticks, quats, [[0.0, 0.0, 0.0]] * len(ticks), 2, starts)
            sp.ckcls(h)
            entries.append("$KERNELS/ck/" + name)
    mk = ["KPL/MK", "", "   Synthetic archive for kdb's windowed get tests.", "",
          "\\begindata", "", "   PATH_VALUES  = ( '..' )", "   PATH_SYMBOLS = ( 'KERNELS' )", "",
          "   KERNELS_TO_LOAD = ("]
    mk += [f"      '{e}'" for e in entries]
    mk += ["   )", "", "\\begintext", ""]
    with open(os.path.join(k, "mk", "synth.tm"), "w") as f:
        f.write("\n".join(mk))
    sp.kclear()
    print(json.dumps({"weeks": spans, "files": len(entries)}))


def bits(x):
    return struct.unpack("<q", struct.pack("<d", float(x)))[0]


def flat(v):
    out = []
    for x in v:
        if hasattr(x, "__len__"):
            out.extend(flat(x))
        else:
            out.append(bits(x))
    return out


SYNTH_QUERIES = {
    "spkezr": [["-121", "10", "NONE"], ["-121", "10", "LT+S"], ["199", "10", "NONE"]],
    "spkpos": [["-121", "199", "NONE"]],
    "pxform": [["J2000", "KDB_SC"]],
    "ckgp": [[-121000, -121, "J2000"]],
}


def queries(spec, et):
    out = []
    for t, o, ab in spec.get("spkezr", []):
        out.append(lambda t=t, o=o, ab=ab: sp.spkezr(t, et, "J2000", ab, o))
    for t, o, ab in spec.get("spkpos", []):
        out.append(lambda t=t, o=o, ab=ab: sp.spkpos(t, et, "J2000", ab, o))
    for a, b in spec.get("pxform", []):
        out.append(lambda a=a, b=b: sp.pxform(a, b, et))
    for inst, clock, ref in spec.get("ckgp", []):
        out.append(lambda i=inst, c=clock, r=ref: sp.ckgp(i, sp.sce2c(c, et), 0.0, r))
    return out


def evaluate(mk, ets, spec):
    sp.kclear()
    sp.furnsh(mk)
    results = []
    for et in ets:
        row = []
        for f in queries(spec, et):
            try:
                row.append(["ok", flat(f())])
            except SpiceyError as e:
                # NotFoundError (ckgp's found = false) has no short message.
                row.append(["error", getattr(e, "short", None) or type(e).__name__])
        results.append(row)
    sp.kclear()
    return results


def compare(full, window, frm, to, n, seed, spec):
    sp.kclear()
    sp.furnsh(full)
    a, b = sp.str2et(frm), sp.str2et(to)
    sp.kclear()
    rng = random.Random(seed)
    ets = [a + (b - a) * rng.random() for _ in range(n)]
    ref = evaluate(full, ets, spec)
    got = evaluate(window, ets, spec)
    mismatches, errors, compared = [], 0, 0
    for et, r, g in zip(ets, ref, got):
        for j, (x, y) in enumerate(zip(r, g)):
            compared += 1
            errors += x[0] == "error"
            if x != y and len(mismatches) < 10:
                mismatches.append({"et": et, "query": j, "full": str(x)[:200], "window": str(y)[:200]})
            elif x != y:
                mismatches.append(None)
    print(json.dumps({"compared": compared, "errors": errors,
                      "mismatch_count": len(mismatches),
                      "mismatches": [m for m in mismatches if m]}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif sys.argv[1] == "compare":
        spec = json.loads(sys.argv[8]) if len(sys.argv) > 8 else SYNTH_QUERIES
        compare(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7]), spec)
    else:
        sys.exit("usage: window_oracle.py make|compare ...")
