#!/usr/bin/env python3
"""Digits cropped by hand for frame's test: framecrop.py IDX N SCALE H W INVERT SEED CROPS WANT.

Takes the first N images of the MNIST image file IDX (28 x 28 u8, already framed as MNIST
frames them), crops each to its ink (the bounding box of its nonzero pixels), enlarges the
crop SCALE times by repeating pixels, puts it at a random place (SEED) on an H x W black
canvas, and inverts it to dark ink on white when INVERT is 1. Writes the canvases as a
stream to CROPS and the original images to WANT: framing CROPS must give WANT back.
Standard library only.
"""
import random, sys

idx, n, scale, H, W, inv, seed, crops, want = sys.argv[1:10]
n, scale, H, W, inv = int(n), int(scale), int(H), int(W), int(inv)
rng = random.Random(int(seed))
data = open(idx, "rb").read()
assert data[:4] == b"\x00\x00\x08\x03"


def write(path, h, w, images):
    head = "TPIPE 1\nfield x u8 %d %d 1\ncount %d\nend" % (h, w, len(images))
    head += " " * (-(len(head) + 1) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(head.encode())
        for im in images:
            f.write(bytes(im))


outs, origs = [], []
for k in range(n):
    im = data[16 + 784 * k:16 + 784 * (k + 1)]
    rows = [r for r in range(28) if any(im[28 * r:28 * r + 28])]
    cols = [c for c in range(28) if any(im[c::28])]
    r0, r1, c0, c1 = rows[0], rows[-1], cols[0], cols[-1]
    ch, cw = (r1 - r0 + 1) * scale, (c1 - c0 + 1) * scale
    assert ch <= H and cw <= W
    oy, ox = rng.randint(0, H - ch), rng.randint(0, W - cw)
    can = bytearray(H * W)
    for y in range(ch):
        for x in range(cw):
            can[(oy + y) * W + ox + x] = im[28 * (r0 + y // scale) + c0 + x // scale]
    if inv:
        can = bytearray(255 - v for v in can)
    outs.append(can)
    origs.append(im)
write(crops, H, W, outs)
write(want, 28, 28, origs)
