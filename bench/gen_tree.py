"""Generate a synthetic kernel tree for benchmarks.

usage: gen_tree.py DIR N_FILES TOTAL_MB [--tiny]

Realistic size spread (NAIF archives): most files are small text kernels and CKs,
some are medium CKs/SPKs, a few are large SPKs. Every 10th file repeats an earlier
content under another name (archives publish identical bytes under new names).
--tiny writes N small distinct text kernels in nested directories (for catalogue
latency with many locations).
"""
import os
import random
import sys

root, n, total_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tiny = "--tiny" in sys.argv
rng = random.Random(42)

if tiny:
    for i in range(n):
        d = os.path.join(root, f"m{i % 10}", f"d{i // 1000:03d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"k{i:06d}.tf"), "w") as f:
            f.write(f"KPL/FK\n\\begindata\nFRAME_{i} = {i}\n\\begintext\n")
    sys.exit(0)

weights = []
for _ in range(n):
    r = rng.random()
    if r < 0.6:
        weights.append(rng.uniform(0.01, 0.5))
    elif r < 0.9:
        weights.append(rng.uniform(1, 20))
    else:
        weights.append(rng.uniform(50, 150))
scale = total_mb / sum(weights)
header = bytearray(b" " * 1024)
header[0:8] = b"DAF/SPK "
header[88:96] = b"LTL-IEEE"
written = []
for i, w in enumerate(weights):
    size = max(2048, int(w * scale * 1_000_000))
    sub = ["spk", "ck", "fk", "pck"][i % 4]
    d = os.path.join(root, f"mission{i % 3}", "kernels", sub)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"kernel_{i:04d}_v{rng.randint(1, 99):02d}.bsp")
    if i % 10 == 9 and written:
        src = written[rng.randrange(len(written))]
        with open(src, "rb") as s, open(path, "wb") as f:
            f.write(s.read())
        continue
    with open(path, "wb") as f:
        f.write(header)
        f.write(os.urandom(size - 1024))
    written.append(path)
