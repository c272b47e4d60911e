"""Images per second of a tpipe network file in PyTorch on the CPU, as make bench measures
tpipe: training (Adam, Keras' defaults; cross-entropy; the records' u8 scaled by 1/255 per
batch; one shuffled epoch) or inference (softmax outputs, no gradients), on THREADS threads.
The faster of the two memory formats (NCHW and channels_last) counts: both run, after a
warm-up batch each, and the better rate is printed with its format.

    python3 cpurate.py NETFILE RECORDS.npy train|infer|base BATCH THREADS

base: inference through the convolutional base only (the layers before the first flatten,
gap or dense layer), as tpipe's predict --features base.
"""
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpnet  # noqa: E402


def rate(model, x, y, mode, batch, fmt):
    model = model.to(memory_format=fmt)
    n = len(x)
    if mode == "train":
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        lossf = nn.CrossEntropyLoss()
        model.train()

        def step(i):
            xb = (x[i].float() / 255).contiguous(memory_format=fmt)
            opt.zero_grad()
            loss = lossf(model(xb), y[i])
            loss.backward()
            opt.step()

        step(torch.arange(min(batch, n)))  # warm-up
        perm = torch.randperm(n)
        t0 = time.perf_counter()
        for b in range(0, n, batch):
            step(perm[b:b + batch])
        return n / (time.perf_counter() - t0)
    model.eval()
    with torch.no_grad():
        def run(b):
            out = model((x[b:b + batch].float() / 255).contiguous(memory_format=fmt))
            return out.softmax(1) if mode == "infer" else out

        run(0)  # warm-up
        t0 = time.perf_counter()
        for b in range(0, n, batch):
            run(b)
        return n / (time.perf_counter() - t0)


def main(argv):
    if len(argv) != 6:
        sys.exit("usage: cpurate.py NETFILE RECORDS.npy train|infer|base BATCH THREADS")
    netfile, path, mode, batch, threads = argv[1], argv[2], argv[3], int(argv[4]), int(argv[5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    r = np.load(path)
    x = torch.from_numpy(np.ascontiguousarray(r["x"])).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(r["y"].astype(np.int64))
    _, c, h, w = x.shape
    layers = tpnet.load(netfile)
    model = tpnet.build(layers, h, w, c)
    if mode == "base":
        mods = list(model)
        cut = next(i for i, m in enumerate(mods) if isinstance(m, (nn.Flatten, nn.AdaptiveAvgPool2d, nn.Linear)))
        model = nn.Sequential(*mods[:cut])
    best = None
    for name, fmt in (("nchw", torch.contiguous_format), ("channels_last", torch.channels_last)):
        v = rate(model, x, y, mode, batch, fmt)
        if best is None or v > best[0]:
            best = (v, name)
    print(f"{best[0]:.1f} {best[1]}")


if __name__ == "__main__":
    main(sys.argv)
