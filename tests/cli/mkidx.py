#!/usr/bin/env python3
"""Writes a small IDX file for the tests: mkidx.py PATH TYPE D0 [D1 ...] [--gz] [--cut N] [--extra N].

Element i holds a value fixed by TYPE, so tests can state the expected numbers by hand:
u8: i % 256, i8: (i % 256) - 128, i16: 300*i - 1000, i32: 100000*i - 7, f32: 0.5*i, f64: -0.25*i.
--cut N drops the last N bytes (a truncated file), --extra N appends N zero bytes,
--header-only writes no data at all.
"""
import gzip, struct, sys

codes = {"u8": (0x08, "B"), "i8": (0x09, "b"), "i16": (0x0B, "h"), "i32": (0x0C, "i"),
         "f32": (0x0D, "f"), "f64": (0x0E, "d")}
values = {"u8": lambda i: i % 256, "i8": lambda i: i % 256 - 128, "i16": lambda i: 300 * i - 1000,
          "i32": lambda i: 100000 * i - 7, "f32": lambda i: 0.5 * i, "f64": lambda i: -0.25 * i}
args = sys.argv[1:]
gz = "--gz" in args
cut = int(args[args.index("--cut") + 1]) if "--cut" in args else 0
extra = int(args[args.index("--extra") + 1]) if "--extra" in args else 0
pos = [a for i, a in enumerate(args) if not a.startswith("--") and (i == 0 or args[i - 1] not in ("--cut", "--extra"))]
path, typ, dims = pos[0], pos[1], [int(d) for d in pos[2:]]
code, fmt = codes[typ]
n = 1
for d in dims:
    n *= d
data = struct.pack(">BBBB", 0, 0, code, len(dims)) + struct.pack(">%dI" % len(dims), *dims)
if "--header-only" not in args:
    data += struct.pack(">%d%s" % (n, fmt), *[values[typ](i) for i in range(n)])
data = data[: len(data) - cut] + b"\0" * extra
(gzip.open(path, "wb", compresslevel=6) if gz else open(path, "wb")).write(data)
