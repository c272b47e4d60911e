"""Time to 99 % MNIST test accuracy in PyTorch, the twin of tpipe's run in tests/bench/gpu.sh:
the same network file, Adam (Keras' defaults), tpipe's one-cycle schedule stepped per batch,
the same batch size and epochs, data resident on the device, the 10 000 test images scored
after every epoch. The clock runs from the first batch and counts training and scoring, as
tpipe's history 'seconds' does; it stops at the first epoch scoring >= 0.99.

    python3 mnist99.py NETFILE TRAIN.npy TEST.npy EPOCHS BATCH LR PRECISION [DEVICE]
prints "seconds epoch accuracy" of the first epoch at 0.99, or "- - BEST" when none reached it.
"""
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpnet  # noqa: E402


def main(argv):
    if len(argv) not in (8, 9):
        sys.exit("usage: mnist99.py NETFILE TRAIN.npy TEST.npy EPOCHS BATCH LR PRECISION [DEVICE]")
    netfile, trp, tep = argv[1], argv[2], argv[3]
    epochs, batch, lr, prec = int(argv[4]), int(argv[5]), float(argv[6]), argv[7]
    dev = torch.device(argv[8] if len(argv) == 9 else "cuda")
    torch.manual_seed(42)
    cast = tpnet.precision(prec)
    x, y = tpnet.load_records(trp, dev)
    xt, yt = tpnet.load_records(tep, dev)
    n, c, h, w = x.shape
    model = tpnet.build(tpnet.load(netfile), h, w, c).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-7)
    lossf = nn.CrossEntropyLoss()
    steps = (n + batch - 1) // batch
    total = steps * epochs
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    sync()
    t, clock, best = 0, 0.0, 0.0
    for e in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n, device=dev)
        for b in range(0, n, batch):
            for g in opt.param_groups:
                g["lr"] = tpnet.onecycle(lr, t, total)
            i = perm[b:b + batch]
            opt.zero_grad(set_to_none=True)
            with cast():
                loss = lossf(model(x[i].float() / 255), y[i])
            loss.backward()
            opt.step()
            t += 1
        model.eval()
        right = 0
        with torch.no_grad(), cast():
            for b in range(0, len(xt), 2000):
                right += (model(xt[b:b + 2000].float() / 255).argmax(1) == yt[b:b + 2000]).sum()
        acc = right.item() / len(xt)  # .item() waits for the device
        clock += time.perf_counter() - t0
        best = max(best, acc)
        print(f"epoch {e}: test accuracy {acc:.4f}, {clock:.2f} s", file=sys.stderr)
        if acc >= 0.99:
            print(f"{clock:.3f} {e} {acc:.4f}")
            return
    print(f"- - {best:.4f}")


if __name__ == "__main__":
    main(sys.argv)
