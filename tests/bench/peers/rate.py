"""Training images per second of a tpipe network file in PyTorch, as tpipe's train measures it:
Adam (Keras' defaults), cross-entropy, data resident on the device as u8 and scaled by 1/255
per batch, a fresh shuffle each epoch. Epoch 1 warms up (cuDNN's algorithm search); epoch 2
is timed.

    python3 rate.py NETFILE RECORDS.npy BATCH PRECISION [DEVICE]     prints images/s
"""
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpnet  # noqa: E402


def main(argv):
    if len(argv) not in (5, 6):
        sys.exit("usage: rate.py NETFILE RECORDS.npy BATCH PRECISION [DEVICE]")
    netfile, path, batch, prec = argv[1], argv[2], int(argv[3]), argv[4]
    dev = torch.device(argv[5] if len(argv) == 6 else "cuda")
    torch.manual_seed(42)
    cast = tpnet.precision(prec)
    x, y = tpnet.load_records(path, dev)
    n, c, h, w = x.shape
    model = tpnet.build(tpnet.load(netfile), h, w, c).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    lossf = nn.CrossEntropyLoss()
    model.train()

    def epoch():
        perm = torch.randperm(n, device=dev)
        for b in range(0, n, batch):
            i = perm[b:b + batch]
            opt.zero_grad(set_to_none=True)
            with cast():
                loss = lossf(model(x[i].float() / 255), y[i])
            loss.backward()
            opt.step()

    epoch()
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    epoch()
    sync()
    print(f"{n / (time.perf_counter() - t0):.1f}")


if __name__ == "__main__":
    main(sys.argv)
