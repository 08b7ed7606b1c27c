"""Build a 300-kernel metakernel tree from the real kernels of the collection.

usage: coverage_tree.py REALDATA DIR N KDB

Every binary SPK, CK and binary PCK of REALDATA/manifest.tsv that `kdb coverage`
accepts (with the collection's LSK and SCLKs loaded, so CK clocks resolve) is copied
round-robin into DIR/kernels/ until N binary kernels exist; each copy gets a unique
trailing 1,024-byte record (after the DAF's last record: CSPICE and kdb never read it),
so every file is a distinct content. DIR/mk/bench.tm loads the LSK, the SCLKs, then the
N binaries. Prints the metakernel path.
"""
import os
import shutil
import subprocess
import sys

real, root, n, kdb = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rows = [l.split("\t") for l in open(os.path.join(real, "manifest.tsv")).read().splitlines()[1:]]
binary = [r[0] for r in rows if r[4].startswith(("SPK (binary)", "CK (binary)")) or r[4] == "binary PCK"]
lsk = next(r[0] for r in rows if r[0].endswith("naif0012.tls"))
sclks = []
seen = set()
for r in rows:
    if r[4].startswith("SCLK") and r[2] not in seen:
        seen.add(r[2])
        sclks.append(r[0])
os.makedirs(os.path.join(root, "kernels"), exist_ok=True)
os.makedirs(os.path.join(root, "mk"), exist_ok=True)
text = []
for rel in [lsk] + sclks:
    dst = os.path.join(root, "kernels", "t%03d_%s" % (len(text), os.path.basename(rel)))
    shutil.copyfile(os.path.join(real, rel), dst)
    text.append(dst)
good = []
for rel in binary:
    p = os.path.join(real, rel)
    ok = subprocess.run([kdb, "coverage", *text, p, "--json"], capture_output=True,
                        env={**os.environ, "KDB_HOME": os.path.join(root, "probe-home")})
    if ok.returncode == 0:
        good.append(p)
shutil.rmtree(os.path.join(root, "probe-home"), ignore_errors=True)
files = []
for i in range(n):
    src = good[i % len(good)]
    base = os.path.basename(src)
    stem, ext = os.path.splitext(base)
    dst = os.path.join(root, "kernels", "b%03d_%s%s" % (i, stem, ext.lower()))
    with open(src, "rb") as s, open(dst, "wb") as d:
        data = s.read()
        d.write(data)
        d.write(b"\0" * ((-len(data)) % 1024))
        d.write(("kdb bench copy %d" % i).encode().ljust(1024, b" "))
    files.append(dst)
mk = os.path.join(root, "mk", "bench.tm")
with open(mk, "w") as f:
    f.write("KPL/MK\n\\begindata\nPATH_VALUES = ( '%s' )\nPATH_SYMBOLS = ( 'K' )\nKERNELS_TO_LOAD = (\n" % os.path.join(root, "kernels"))
    for p in text + files:
        f.write("  '$K/%s'\n" % os.path.basename(p))
    f.write(")\n\\begintext\n")
print(mk)
print("%d binary kernels from %d distinct real files, %d text kernels" % (len(files), len(good), len(text)), file=sys.stderr)
