#!/usr/bin/env python3
"""tests/structure.py — the shape of the code, measured (make structure).

Prints, for lib/, cuda/ and tools/:
  - each tools/*.c main's length in lines, and the longest;
  - the graph of uses between rooms, a room being a source with its header (lib/x.c with
    lib/x.h), cuda/ as one and tools/ as one: an include of a file of the tree, or a call (in
    a .c or .cu file) of a function that one lib/ source alone defines. Its cycles (there must be none) and its
    layers: a room stands one layer above the highest it uses, layer 1 using no room;
  - the lines of tools/*.c that name a backend (gpu, cuda, tp_gpu), which must be none.
Exits 1 when there is a cycle, more than 7 layers, a main longer than 40 lines, or a tool
that names a backend. Reads the code as text: comments and strings are left out first.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_LAYERS, MAX_MAIN = 7, 40


def strip(text):
    """The code without comments and string or character literals (lines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def room(path):
    top = path.split("/")[0]
    if top in ("tools", "cuda"):
        return top + "/"
    return os.path.splitext(path)[0]


def main():
    files = []
    for d in ("lib", "cuda", "tools"):
        for f in sorted(os.listdir(os.path.join(ROOT, d))):
            if re.search(r"\.(c|h|cu|cuh)$", f):
                files.append(d + "/" + f)
    raw = {f: open(os.path.join(ROOT, f), encoding="utf-8").read() for f in files}
    code = {f: strip(t) for f, t in raw.items()}
    bad = 0

    # mains
    lengths = []
    for f in files:
        if f.startswith("tools/") and f.endswith(".c"):
            lines = raw[f].split("\n")
            start = next((i for i, l in enumerate(lines) if l.startswith("int main(")), None)
            if start is None:
                continue
            end = next(i for i in range(start, len(lines)) if lines[i] == "}")
            lengths.append((end - start + 1, f))
    lengths.sort()
    print("main's length in lines:")
    for n, f in lengths:
        print("  %3d  %s" % (n, f))
    longest = lengths[-1][0] if lengths else 0
    print("longest main: %d lines (at most %d)" % (longest, MAX_MAIN))
    bad += longest > MAX_MAIN

    # uses: includes, and calls of a function that one lib/ source alone defines
    base = {os.path.basename(f): f for f in files}
    defined = {}
    for f in files:
        if f.startswith("lib/") and f.endswith(".c"):
            for m in re.finditer(r"^[A-Za-z_][\w \*]*?\b(tp_\w+)\s*\([^;{]*\)\s*\{", code[f], re.M):
                defined.setdefault(m.group(1), set()).add(f)
    uses = {room(f): set() for f in files}
    for f in files:
        r = room(f)
        for inc in re.findall(r'^\s*#\s*include\s+"([^"]+)"', raw[f], re.M):
            t = base.get(os.path.basename(inc))
            if t and room(t) != r:
                uses[r].add(room(t))
        if not re.search(r"\.(c|cu)$", f):
            continue  # a header's declarations are no calls
        for name in set(re.findall(r"\b(tp_\w+)\s*\(", code[f])):
            owners = defined.get(name, ())
            if len(owners) == 1:
                t = next(iter(owners))
                if room(t) != r:
                    uses[r].add(room(t))

    # cycles (strongly connected components of more than one room)
    index, low, on, stack, comps, counter = {}, {}, set(), [], [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(uses[v]):
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
            comps.append(comp)

    for v in sorted(uses):
        if v not in index:
            visit(v)
    cycles = [sorted(c) for c in comps if len(c) > 1]
    print("cycles: %d" % len(cycles))
    for c in cycles:
        print("  " + " <-> ".join(c))
    bad += len(cycles) > 0

    # layers
    layer = {}

    def depth(v, seen=()):
        if v in layer:
            return layer[v]
        if v in seen:
            return 0
        layer[v] = 1 + max((depth(w, seen + (v,)) for w in uses[v]), default=0)
        return layer[v]

    for v in uses:
        depth(v)
    top = max(layer.values())
    print("layers: %d (at most %d)" % (top, MAX_LAYERS))
    for k in range(top, 0, -1):
        print("  %d  %s" % (k, " ".join(sorted(v for v in layer if layer[v] == k))))
    bad += top > MAX_LAYERS

    # backends named in programs
    named = []
    for f in files:
        if f.startswith("tools/"):
            for i, l in enumerate(raw[f].split("\n"), 1):
                if re.search(r"gpu|cuda|tp_gpu", l):
                    named.append("%s:%d: %s" % (f, i, l.strip()))
    print("lines of tools/ that name a backend: %d" % len(named))
    for l in named:
        print("  " + l)
    bad += len(named) > 0
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
