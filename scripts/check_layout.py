#!/usr/bin/env python3
"""Checks the shape of src/ (docs/design.md, "Code layout"):

- no import cycle between siblings: in every directory of src/, its files and
  subdirectories are units, and a unit that uses another (`use`, or a `crate::`,
  `super::` or `self::` path anywhere in its code) must not be used back, directly
  or through other siblings;
- reports the files of src/commands/ over 400 lines (the target of issue 22).

Reads the source as text; runs nothing. Exit 1 when a cycle is found.
usage: python3 scripts/check_layout.py [SRC_DIR] [--strict-size] [--graph]
  --graph also prints which top-level module of src/ uses which
"""

import re
import sys
from pathlib import Path

SRC = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else Path(__file__).resolve().parent.parent / "src"
COMMAND_FILE_MAX = 400

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)(::\{)?")


def module_of(path: Path) -> tuple:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip_tests(text: str) -> str:
    """Drops `#[cfg(test)] mod tests { ... }` blocks: their `super` is the file itself."""
    out = []
    i = 0
    while True:
        m = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text[i:])
        if not m:
            out.append(text[i:])
            break
        start = i + m.start()
        out.append(text[i:start])
        depth = 0
        j = i + m.end() - 1
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        i = j + 1
    return "".join(out)


def strip_comments(text: str) -> str:
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def brace_names(text: str, at: int) -> list:
    """The first identifier of each top-level item of the `{...}` starting at `at`."""
    depth = 0
    names = []
    cur = ""
    for ch in text[at:]:
        if ch == "{":
            depth += 1
            if depth == 1:
                continue
        elif ch == "}":
            depth -= 1
            if depth == 0:
                break
        if depth == 1 and ch == ",":
            names.append(cur)
            cur = ""
        elif depth >= 1:
            cur += ch
    names.append(cur)
    out = []
    for n in names:
        m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)", n)
        if m and m.group(1) != "self":
            out.append(m.group(1))
    return out


def main() -> int:
    files = sorted(SRC.rglob("*.rs"))
    modules = {module_of(f): f for f in files}
    uses = {}  # file -> set of module tuples it names
    for f in files:
        here = module_of(f)
        # `super` of a file module is its directory's module; of a mod.rs, the parent's.
        is_dir_module = f.name in ("mod.rs", "lib.rs", "main.rs")
        text = strip_comments(strip_tests(f.read_text()))
        targets = set()
        for m in PATH.finditer(text):
            root, rest, brace = m.group(1), m.group(2), m.group(3)
            segs = [s for s in rest.split("::") if s]
            if root == "crate":
                base = ()
            elif root == "self":
                base = here if is_dir_module else here
            else:
                base = here[:-1] if not is_dir_module else here[:-1]
                while segs and segs[0] == "super":
                    base = base[:-1]
                    segs = segs[1:]
            tails = [segs]
            if brace:
                tails = [segs + [n] for n in brace_names(text, m.end() - 1)]
            for t in tails:
                path = tuple(base) + tuple(t)
                # The deepest prefix that is a module of ours.
                while path and path not in modules:
                    path = path[:-1]
                if path and path != here:
                    targets.add(path)
        uses[f] = targets

    cycles = []
    dirs = sorted({f.parent for f in files})
    for d in dirs:
        base = module_of(d / "mod.rs") if d != SRC else ()
        units = {}
        for f in files:
            mod = module_of(f)
            if f.parent == d and f.name not in ("mod.rs", "lib.rs", "main.rs"):
                units[mod] = mod
            elif len(mod) > len(base) + 1 and mod[: len(base)] == base:
                units[mod] = mod[: len(base) + 1]
            elif f.parent != d and f.parent.parent == d and mod[: len(base)] == base:
                units[mod] = mod[: len(base) + 1]
        edges = {}
        for f in files:
            src_unit = units.get(module_of(f))
            if src_unit is None:
                continue
            for t in uses[f]:
                # A target inside this directory, by the sibling unit holding it.
                if len(t) <= len(base) or t[: len(base)] != base:
                    continue
                dst_unit = t[: len(base) + 1]
                if dst_unit != src_unit and dst_unit in set(units.values()):
                    edges.setdefault(src_unit, set()).add(dst_unit)
        cycles += [(d, c) for c in strongly_connected(edges) if len(c) > 1]
        if d == SRC and "--graph" in sys.argv:
            for u in sorted(edges):
                print(f"{'/'.join(u)} -> {', '.join(sorted('/'.join(t) for t in edges[u]))}")

    status = 0
    for d, c in cycles:
        names = sorted("/".join(u) for u in c)
        print(f"cycle in {d.relative_to(SRC.parent)}/: {' <-> '.join(names)}")
        status = 1
    if not cycles:
        print(f"no import cycle between siblings ({len(files)} files, {len(dirs)} directories)")
    big = [
        (sum(1 for _ in f.open()), f)
        for f in files
        if (SRC / "commands") in f.parents
    ]
    big = sorted([(n, f) for n, f in big if n > COMMAND_FILE_MAX], reverse=True)
    for n, f in big:
        print(f"over {COMMAND_FILE_MAX} lines: {f.relative_to(SRC.parent)} ({n})")
    if big and "--strict-size" in sys.argv:
        status = 1
    return status


def strongly_connected(edges: dict) -> list:
    index = {}
    low = {}
    stack = []
    on = set()
    out = []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    nodes = set(edges) | {w for ws in edges.values() for w in ws}
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    sys.exit(main())
