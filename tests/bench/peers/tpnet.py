"""tpipe network files (lib/net.h) in Python: shapes, FLOPs, and the same layers in PyTorch.

    python3 tpnet.py NETFILE HxWxC        the layer table and the FLOPs of one image

Parsing and counting need only the standard library; build() imports torch. FLOPs count a
multiply-add as 2 and only the matrix products (convolutions and dense layers), which is
what the GPU's matmul rate bounds; a training step costs 3 times the forward pass (forward,
gradient of the input, gradient of the weights).
"""
import math
import sys

KINDS = ("conv", "maxpool", "avgpool", "gap", "flatten", "dense", "dropout", "batchnorm", "relu")


def _pair(s):
    """'3x3' or '3' as (3, 3)."""
    a, _, b = s.partition("x")
    return int(a), int(b or a)


def parse(text, name="net"):
    """The layers of a network description, each a dict; raises ValueError naming NAME:LINE."""
    layers = []
    for no, raw in enumerate(text.splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        kind = words[0]
        if kind not in KINDS:
            raise ValueError(f"{name}:{no}: unknown layer '{kind}'")
        l = {"kind": kind, "line": no, "act": "none", "same": False, "he": False, "momentum": 0.99, "eps": 1e-3}
        pos = 1
        if kind == "conv":
            l["units"] = int(words[1])
            l["kh"], l["kw"] = _pair(words[2])
            l["sh"] = l["sw"] = 1
            pos = 3
        elif kind in ("maxpool", "avgpool"):
            l["kh"], l["kw"] = _pair(words[1])
            l["sh"], l["sw"] = l["kh"], l["kw"]
            pos = 2
        elif kind == "dense":
            l["units"] = int(words[1])
            pos = 2
        elif kind == "dropout":
            l["rate"] = float(words[1])
            pos = 2
        for w in words[pos:]:
            key, eq, val = w.partition("=")
            if not eq:
                if kind in ("conv", "dense") and w in ("relu", "softmax", "linear", "none"):
                    l["act"] = "none" if w == "linear" else w
                    continue
                raise ValueError(f"{name}:{no}: unexpected '{w}' after {kind}")
            if key == "stride":
                l["sh"], l["sw"] = _pair(val)
            elif key == "pad":
                l["same"] = val == "same"
            elif key == "init":
                l["he"] = val == "he"
            elif key in ("momentum", "eps"):
                l[key] = float(val)
            else:
                raise ValueError(f"{name}:{no}: option '{w}' does not apply to {kind}")
        layers.append(l)
    if not layers or layers[-1]["kind"] != "dense" or layers[-1]["act"] != "softmax":
        raise ValueError(f"{name}: the last layer must be 'dense K softmax'")
    return layers


def load(path):
    with open(path) as f:
        return parse(f.read(), path)


def shapes(layers, h, w, c):
    """Sets each layer's input and output shape (ih, iw, ic, oh, ow, oc; flat outputs have
    oh = ow = 1) and its forward FLOPs per image ('flops'); returns the total."""
    flat = False
    total = 0
    for l in layers:
        l["ih"], l["iw"], l["ic"] = h, w, c
        k = l["kind"]
        f = 0
        if k in ("conv", "maxpool", "avgpool"):
            if flat:
                raise ValueError(f"line {l['line']}: {k} needs an image")
            if k == "conv" and l["same"]:
                oh, ow = -(-h // l["sh"]), -(-w // l["sw"])
            else:
                oh, ow = (h - l["kh"]) // l["sh"] + 1, (w - l["kw"]) // l["sw"] + 1
            oc = l["units"] if k == "conv" else c
            if k == "conv":
                f = 2 * oh * ow * oc * l["kh"] * l["kw"] * c
            h, w, c = oh, ow, oc
        elif k == "gap":
            h, w, flat = 1, 1, True
        elif k == "flatten":
            h, w, c, flat = 1, 1, h * w * c, True
        elif k == "dense":
            if not flat:
                raise ValueError(f"line {l['line']}: dense needs a flat input")
            f = 2 * c * l["units"]
            c = l["units"]
        l["oh"], l["ow"], l["oc"], l["flat"], l["flops"] = h, w, c, flat, f
        total += f
    return total


def params(layers):
    """Trainable parameters (after shapes())."""
    n = 0
    for l in layers:
        if l["kind"] == "conv":
            n += l["kh"] * l["kw"] * l["ic"] * l["units"] + l["units"]
        elif l["kind"] == "dense":
            n += l["ic"] * l["units"] + l["units"]
        elif l["kind"] == "batchnorm":
            n += 2 * l["ic"]
    return n


def train_flops(path, shape):
    """FLOPs of one training image (3 x forward) for the net file at path and shape 'HxWxC'."""
    h, w, c = (int(v) for v in shape.split("x"))
    return 3 * shapes(load(path), h, w, c)


def build(layers, h, w, c):
    """The same network as a torch.nn.Sequential on NCHW input, ending in logits (the softmax is
    the loss's), with Keras' initialisers and batchnorm momentum and epsilon."""
    import torch.nn as nn

    shapes(layers, h, w, c)
    mods = []
    for l in layers:
        k = l["kind"]
        if k == "conv":
            ph = pw = 0
            if l["same"]:
                th = max((l["oh"] - 1) * l["sh"] + l["kh"] - l["ih"], 0)
                tw = max((l["ow"] - 1) * l["sw"] + l["kw"] - l["iw"], 0)
                ph, pw = th // 2, tw // 2
                if th % 2 or tw % 2:  # Keras puts the odd row or column at the bottom/right
                    mods.append(nn.ZeroPad2d((pw, tw - pw, ph, th - ph)))
                    ph = pw = 0
            m = nn.Conv2d(l["ic"], l["units"], (l["kh"], l["kw"]), (l["sh"], l["sw"]), (ph, pw))
        elif k == "dense":
            m = nn.Linear(l["ic"], l["units"])
        elif k == "maxpool":
            m = nn.MaxPool2d((l["kh"], l["kw"]), (l["sh"], l["sw"]))
        elif k == "avgpool":
            m = nn.AvgPool2d((l["kh"], l["kw"]), (l["sh"], l["sw"]))
        elif k == "gap":
            mods.append(nn.AdaptiveAvgPool2d(1))
            m = nn.Flatten()
        elif k == "flatten":
            m = nn.Flatten()
        elif k == "dropout":
            m = nn.Dropout(l["rate"])
        elif k == "batchnorm":
            bn = nn.BatchNorm1d if l["flat"] else nn.BatchNorm2d
            m = bn(l["ic"], eps=l["eps"], momentum=1 - l["momentum"])
        else:
            m = nn.ReLU()
        if k in ("conv", "dense"):
            if l["he"]:
                nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")  # sqrt(6 / fan_in), Keras' he_uniform
            else:
                nn.init.xavier_uniform_(m.weight)  # Keras' glorot_uniform
            nn.init.zeros_(m.bias)
        mods.append(m)
        if k in ("conv", "dense") and l["act"] == "relu":
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


def onecycle(lr, t, total, warm=0.3):
    """tpipe's one-cycle rate at step t of total (lib/optim.c): a cosine rise from lr/25 to lr
    over the first 30 % of steps, then a cosine fall to lr/1e4."""
    x = t / (total - 1) if total > 1 else 0.0
    lo, end = lr / 25, lr / 1e4
    if x < warm:
        return lo + (lr - lo) * 0.5 * (1 - math.cos(math.pi * x / warm))
    return end + (lr - end) * 0.5 * (1 + math.cos(math.pi * (x - warm) / (1 - warm)))


def precision(p):
    """torch settings for tpipe's --precision P: fp32 (no TF32 anywhere), tf32 (TF32 in matrix
    products and convolutions) or bf16 (autocast to bfloat16). Returns the autocast context."""
    import contextlib

    import torch

    if p not in ("fp32", "tf32", "bf16"):
        raise ValueError(f"precision is fp32, tf32 or bf16, not '{p}'")
    torch.backends.cuda.matmul.allow_tf32 = p == "tf32"
    torch.backends.cudnn.allow_tf32 = p == "tf32"
    torch.backends.cudnn.benchmark = True
    if p == "bf16":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def load_records(path, device):
    """A tp2npy file (fields x: u8 HxWxC, y: labels) as x (uint8, NCHW) and y (int64) on device."""
    import numpy as np
    import torch

    r = np.load(path)
    x = torch.from_numpy(np.ascontiguousarray(r["x"])).to(device).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(r["y"].astype(np.int64)).to(device)
    return x, y


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: tpnet.py NETFILE HxWxC")
    layers = load(argv[1])
    h, w, c = (int(v) for v in argv[2].split("x"))
    total = shapes(layers, h, w, c)
    for l in layers:
        print(f"{l['line']:4d} {l['kind']:10s} {l['oh']:4d} x {l['ow']:4d} x {l['oc']:6d} {l['flops'] / 1e6:12.3f} MFLOP")
    print(f"parameters {params(layers)}; forward {total / 1e9:.4f} GFLOP, training step {3 * total / 1e9:.4f} GFLOP per image")


if __name__ == "__main__":
    main(sys.argv)
