#!/usr/bin/env python3
"""Writes the quadrant task for the training tests: quadrants.py DIR. Which quadrant of an
8x8 u8 image holds a bright 3x3 square (labels 0-3 = tl, tr, bl, br), as IDX files
DIR/train-im, DIR/train-lb (400 images, seed 1) and DIR/val-im, DIR/val-lb (200, seed 2)."""
import random, struct, sys

d = sys.argv[1]


def write(name, n, seed):
    r = random.Random(seed)
    px, lb = bytearray(), bytearray()
    for i in range(n):
        c = r.randrange(4)
        img = [r.randrange(40) for _ in range(64)]
        y0, x0 = (c // 2) * 4 + r.randrange(2), (c % 2) * 4 + r.randrange(2)
        for y in range(y0, y0 + 3):
            for x in range(x0, x0 + 3):
                img[y * 8 + x] = 200 + r.randrange(56)
        px += bytes(img)
        lb.append(c)
    open(d + "/" + name + "-im", "wb").write(struct.pack(">HBBIII", 0, 8, 3, n, 8, 8) + px)
    open(d + "/" + name + "-lb", "wb").write(struct.pack(">HBBI", 0, 8, 1, n) + lb)


write("train", 400, 1)
write("val", 200, 2)
