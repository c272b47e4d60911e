#!/usr/bin/env python3
"""progfuzz.py — mutation fuzzing of every program's input paths, as a user's file would hit them.

    tests/fuzz/progfuzz.py [--seconds S] [--seed N] [--targets A,B] [--bin DIR] [--keep DIR]
    tests/fuzz/progfuzz.py --list
    tests/fuzz/progfuzz.py --replay CASE.bin --targets NAME

Each target is one program reading one kind of input: a stream, IDX (plain and .gz), PNG and
JPEG (a class folder and a single file), a network file, a model file, .npy, TF.js JSON (and
its weight shard), Keras .h5. Seeds are made at start (python3 and the programs themselves);
each case is a seed changed by one to three mutations: bit flips, bytes set to extremes,
numbers in the text parts replaced by extremes (0, -1, 2^31, 2^32, 2^63, 10^30), cuts, inserted
or deleted runs, spliced seeds, line ends turned to CRLF, NUL bytes, and for text headers
(streams, network files) duplicated or dropped lines, 255 extra metadata keys and values of
a megabyte. Then the program runs on it, and these must hold:

  - it exits 0 or 1 (no signal, no sanitizer report, no other status) within the time limit;
  - exit 1: stderr is exactly one line, "PROGRAM: ...", and the named output file was not
    created, and no PATH.tmp.PID is left anywhere;
  - exit 0: a stream it wrote is well formed (tinfo reads it to its end);
  - its peak resident memory (wait4's ru_maxrss) stays under the target's bound (300 MB for
    most, twice that under AddressSanitizer), and it never
    says "out of memory" (a hostile header must be refused before its claim is allocated).

Programs run with RLIMIT_AS of 4 GiB (not under AddressSanitizer, which reserves more: there
ASAN_OPTIONS caps one allocation at 2 GiB instead, and allocator_may_return_null turns a
larger one into tpipe's "out of memory"). A build with sanitizers is told by the programs'
dynamic symbols (__asan_init). Findings are written to --keep (default: a fresh directory
under /tmp), each as the input and a .txt with the command and what went wrong; --replay runs
one saved case again. Exit status: 0 no findings, 1 findings, 2 usage or set-up failure.

The figures printed at the end (per target: cases, exit 0 / exit 1, findings, peak RSS, slowest
run) are what the issue's table reports. Python's standard library only.
"""
import argparse
import os
import random
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures")

# ---------------------------------------------------------------- seeds


def stream_bytes(fields, records, meta=(), count=True):
    """A tpipe stream: fields [(name, dtype, dims)], records as bytes, meta [(key, line)]."""
    lines = ["TPIPE 1"]
    for name, dt, dims in fields:
        lines.append(" ".join(["field", name, dt] + [str(d) for d in dims]))
    for k, v in meta:
        lines.append("meta %s %s" % (k, v))
    lines.append("count %d" % len(records) if count else "count unknown")
    head = "\n".join(lines) + "\nend"
    head += " " * (-(len(head) + 1) % 64) + "\n"
    return head.encode() + b"".join(records)


def png_bytes(h, w, c, pix, bitdepth=8, interlace=0):
    """A PNG by hand (zlib only): colour type 0/2/4/6 for c = 1/3/2/4."""
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    bpp = c * bitdepth // 8
    raw = b""
    for y in range(h):
        raw += b"\0" + bytes(pix[(y * w * c + i) // (bitdepth // 8) % len(pix)] & 0xFF for i in range(w * bpp))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, bitdepth, ctype, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def idx_bytes(code, dims, data):
    return struct.pack(">BBBB", 0, 0, code, len(dims)) + struct.pack(">%dI" % len(dims), *dims) + data


def npy_bytes(descr, shape, data, version=1):
    d = "{'descr': %s, 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    pre = 10 if version == 1 else 12
    n = -(pre + len(d) + 1) % 64 + len(d) + 1
    head = b"\x93NUMPY" + bytes([version, 0])
    head += struct.pack("<H", n) if version == 1 else struct.pack("<I", n)
    return head + (d + " " * (n - len(d) - 1) + "\n").encode() + data


def run_quiet(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if r.returncode != 0:
        raise SystemExit("progfuzz: set-up command failed: %s\n%s" % (" ".join(cmd), r.stderr.decode(errors="replace")))
    return r.stdout


def make_seeds(S, BIN, env):
    """Writes the seed files into S; returns {kind: [paths]}."""
    rnd = random.Random(7)
    seeds = {}

    def put(kind, name, data):
        p = os.path.join(S, name)
        with open(p, "wb") as f:
            f.write(data)
        seeds.setdefault(kind, []).append(p)
        return p

    # images: 8x8x1 u8 with a bright quadrant, label = quadrant (train, predict, resize, ...)
    recs = []
    for i in range(48):
        q = i % 4
        img = bytearray(rnd.randrange(40) for _ in range(64))
        for y in range(4):
            for x in range(4):
                img[(y + 4 * (q // 2)) * 8 + x + 4 * (q % 2)] = 200 + rnd.randrange(55)
        recs.append(bytes(img) + struct.pack("<i", q))
    img8 = put("images", "img8.tp", stream_bytes([("x", "u8", [8, 8, 1]), ("y", "i32", [])], recs,
                                                 [("classes", c) for c in ("tl", "tr", "bl", "br")]))
    put("images", "img8rgb.tp", stream_bytes([("x", "u8", [4, 4, 3]), ("y", "i32", [])],
                                             [bytes(rnd.randrange(256) for _ in range(48)) + struct.pack("<i", i % 3)
                                              for i in range(6)], count=False))
    recs = [bytes(rnd.randrange(256) for _ in range(784)) + struct.pack("<i", i % 10) for i in range(8)]
    put("images28", "img28.tp", stream_bytes([("x", "u8", [28, 28, 1]), ("y", "i32", [])], recs))
    # vectors: 3 blobs in 4-D, with a label and a prediction (gmm, pca, tsne, confmat, plot)
    recs = []
    for i in range(60):
        c = i % 3
        v = [rnd.gauss(3 * c, 1) for _ in range(4)]
        recs.append(struct.pack("<4fii", *v, c, (c + (i % 7 == 0)) % 3))
    vec = put("vectors", "vec.tp", stream_bytes([("x", "f32", [4]), ("y", "i32", []), ("pred", "i32", [])], recs,
                                                [("note", "three blobs")]))
    recs = [struct.pack("<2di", rnd.gauss(0, 1), rnd.gauss(0, 1), i % 4) for i in range(30)]
    put("vectors", "xy.tp", stream_bytes([("x", "f64", [2]), ("y", "i32", [])], recs))
    # a training history (plot's curves)
    recs = [struct.pack("<i4f", e + 1, 1.0 / (e + 1), 0.5 + e / 20, 1.2 / (e + 1), 0.45 + e / 21) for e in range(6)]
    put("history", "hist.tp", stream_bytes([("epoch", "i32", []), ("loss", "f32", []), ("accuracy", "f32", []),
                                             ("val_loss", "f32", []), ("val_accuracy", "f32", [])], recs))

    # IDX: images and labels, plain and gzip
    imgs = bytes(rnd.randrange(256) for _ in range(20 * 64))
    labs = bytes(i % 10 for i in range(20))
    put("idx_images", "im.idx", idx_bytes(0x08, [20, 8, 8], imgs))
    put("idx_images", "im.idx.gz", gzip_bytes(idx_bytes(0x08, [20, 8, 8], imgs)))
    put("idx_images", "imf.idx", idx_bytes(0x0D, [20, 8, 8], struct.pack(">1280f", *[i / 7 for i in range(1280)])))
    put("idx_labels", "lb.idx", idx_bytes(0x08, [20], labs))
    put("idx_labels", "lb.idx.gz", gzip_bytes(idx_bytes(0x08, [20], labs)))

    # PNG and JPEG: made here by hand (PNG) and by raw2img (JPEG, PNG through libpng)
    gray = [rnd.randrange(256) for _ in range(64)]
    put("png", "g.png", png_bytes(8, 8, 1, gray))
    put("png", "ga.png", png_bytes(8, 8, 2, gray))
    put("png", "rgb.png", png_bytes(6, 5, 3, gray))
    put("png", "rgba.png", png_bytes(6, 5, 4, gray))
    put("png", "g16.png", png_bytes(7, 6, 1, gray, bitdepth=16))
    for f in sorted(os.listdir(os.path.join(FIX, "images"))):
        p = os.path.join(FIX, "images", f)
        if os.path.getsize(p) <= 8192:
            with open(p, "rb") as fh:
                data = fh.read()
            put("jpeg" if data[:2] == b"\xff\xd8" else "png", "fx_" + f, data)
    out = os.path.join(S, "rawimg")
    run_quiet([os.path.join(BIN, "raw2img"), "--jpeg", "-Q", "80", out, os.path.join(S, "img8rgb.tp")], env=env)
    for dp, _, fs in os.walk(out):
        for f in sorted(fs)[:2]:
            with open(os.path.join(dp, f), "rb") as fh:
                put("jpeg", "r_" + os.path.basename(dp) + f, fh.read())
    shutil.rmtree(out)

    # network files
    nets = {
        "q.net": "conv 4 3x3 relu pad=same\nmaxpool 2\nflatten\ndense 8 relu\ndropout 0.2\ndense 4 softmax\n",
        "bn.net": "# batch norm\nconv 3 3x3 pad=same\nbatchnorm\nrelu\nflatten\ndense 4 softmax\n",
        "d.net": "flatten\ndense 6 relu\ndense 4 softmax\n",
    }
    for n, t in nets.items():
        put("net", n, t.encode())
    for n in ("lenet5.net", "mnist-small.net", "vgg-small.net"):
        with open(os.path.join(ROOT, "pipelines", "nets", n), "rb") as fh:
            put("net_big", n, fh.read())

    # model files: a network, a PCA, a mixture
    m = os.path.join(S, "m.tp")
    run_quiet([os.path.join(BIN, "train"), "-q", "--net", os.path.join(S, "q.net"), "--epochs", "1", "-t", "1",
               "-o", m, img8] if has_quiet(BIN, "train", env) else
              [os.path.join(BIN, "train"), "--net", os.path.join(S, "q.net"), "--epochs", "1", "-t", "1", "-o", m, img8],
              env=env, stdin=open(img8, "rb"))
    seeds.setdefault("model", []).append(m)
    mb = os.path.join(S, "mbn.tp")
    run_quiet([os.path.join(BIN, "train"), "--net", os.path.join(S, "bn.net"), "--epochs", "1", "-t", "1", "-o", mb],
              env=env, stdin=open(img8, "rb"))
    seeds["model"].append(mb)
    feat = os.path.join(S, "feat.tp")
    run_quiet([os.path.join(BIN, "predict"), "-t", "1", "--features", "base", "-i", img8, "-o", feat, m], env=env)
    hd = os.path.join(S, "head.tp")
    run_quiet([os.path.join(BIN, "train"), "--net", os.path.join(S, "d.net"), "--epochs", "1", "-t", "1", "-o", hd, feat],
              env=env)
    seeds.setdefault("head_model", []).append(hd)
    os.unlink(feat)
    mt = os.path.join(S, "meta.txt")
    run_quiet([os.path.join(BIN, "tp2npy"), "-o", os.devnull, "-m", mt, img8], env=env)
    seeds.setdefault("metatext", []).append(mt)
    pm = os.path.join(S, "pca.tp")
    run_quiet([os.path.join(BIN, "pca"), "-q", "-k", "2", "--save", pm, "--fit-only", vec], env=env)
    seeds.setdefault("pca_model", []).append(pm)
    gm = os.path.join(S, "gmm.tp")
    run_quiet([os.path.join(BIN, "gmm"), "-q", "-k", "3", "--n-init", "1", "-o", gm, vec], env=env)
    seeds.setdefault("gmm_model", []).append(gm)

    # .npy: plain, structured, big-endian, version 2
    put("npy", "f4.npy", npy_bytes("'<f4'", "(5, 4)", struct.pack("<20f", *[i / 3 for i in range(20)])))
    put("npy", "u1.npy", npy_bytes("'|u1'", "(3, 4, 4)", bytes(range(48))))
    put("npy", "be.npy", npy_bytes("'>i8'", "(6,)", struct.pack(">6q", *range(6)), version=2))
    put("npy", "st.npy", npy_bytes("[('x', '<f4', (3,)), ('y', '<i4')]", "(4,)",
                                   b"".join(struct.pack("<3fi", i, i + 1, i + 2, i) for i in range(4))))
    put("npy", "s0.npy", npy_bytes("'<f8'", "()", struct.pack("<d", 2.5)))

    # TF.js layers model (model.json + one shard) and Keras .h5: the tiny VGG of the fixtures
    tj = os.path.join(FIX, "vgg_tiny_tfjs")
    for f in sorted(os.listdir(tj)):
        with open(os.path.join(tj, f), "rb") as fh:
            data = fh.read()
        if f.endswith(".json"):
            put("tfjs_json", f, data)
        else:
            put("tfjs_shard", f, data)
    shutil.copytree(tj, os.path.join(S, "tfjs"))
    put("net_vgg", "vgg_tiny.net", open(os.path.join(FIX, "vgg_tiny.net"), "rb").read())
    for f in ("vgg_tiny_notop.h5", "vgg_tiny_full.h5"):
        put("h5", f, open(os.path.join(FIX, f), "rb").read())
    # any stream: what the generic readers (tinfo, tp2csv, tp2npy) take
    seeds["stream"] = seeds["images"] + seeds["vectors"] + seeds["history"] + seeds["model"][:1]
    return seeds


def gzip_bytes(data):
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def has_quiet(BIN, prog, env):
    r = subprocess.run([os.path.join(BIN, prog), "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    return b"--quiet" in r.stdout


# ---------------------------------------------------------------- targets
#
# name: (input kind, argv, options). In argv, {in} is the mutated file, {o} an output file that
# must not exist after a refusal, {dir} a class folder holding the mutated image, {S/name} a
# seed file. Options: stdin (feed {in} on stdin), stream_out ({o} or stdout is a stream that
# tinfo must read when the program succeeds), rss (MB bound), name (the mutated file's name,
# for inputs whose name matters), need (a seed kind that must exist).

MB = 1
TARGETS = {
    # streams
    "tinfo": ("stream", ["tinfo", "{in}"], {}),
    "tinfo-H": ("stream", ["tinfo", "-H", "{in}"], {}),
    "tp2csv": ("stream", ["tp2csv", "-o", "{o}", "{in}"], {}),
    "tp2npy": ("stream", ["tp2npy", "-o", "{o}", "-m", "{o}.meta", "{in}"], {}),
    "resize": ("images", ["resize", "-t", "1", "-o", "{o}", "5x3", "{in}"], {"stream_out": 1}),
    "resize-stdin": ("images", ["resize", "-t", "1", "-m", "nearest", "--rgb", "4x4"], {"stdin": 1, "stream_out": 1}),
    "augment": ("images", ["augment", "-t", "1", "--rotation", "20", "--zoom", "0.2", "--fill", "wrap", "-o", "{o}", "{in}"],
                {"stream_out": 1}),
    "frame": ("images", ["frame", "-q", "-t", "1", "--size", "12x12", "--box", "8", "-o", "{o}", "{in}"], {"stream_out": 1}),
    "split": ("images", ["split", "-q", "--shuffle", "--train", "{o}", "--test", "{o}.2", "{in}"], {"stream_out": 1}),
    "split-take": ("vectors", ["split", "-q", "--take", "10", "--train", "{o}", "{in}"], {"stream_out": 1}),
    "montage": ("images", ["montage", "-n", "9", "-c", "3", "-o", "{o}", "{in}"], {}),
    "raw2img": ("images", ["raw2img", "{o}", "{in}"], {}),
    "plot-scatter": ("vectors", ["plot", "-k", "scatter", "-f", "x", "--size", "200x150", "-o", "{o}", "{in}"], {}),
    "plot-curves": ("history", ["plot", "--size", "300x150", "-o", "{o}", "{in}"], {}),
    "confmat": ("vectors", ["confmat", "-j", "-o", "{o}", "{in}"], {"stream_out": 1}),
    "confmat-png": ("vectors", ["confmat", "-m", "hungarian", "-p", "{o}", "{in}"], {}),
    "pca": ("vectors", ["pca", "-q", "-k", "2", "--save", "{o}.m", "-o", "{o}", "{in}"], {"stream_out": 1}),
    "gmm": ("vectors", ["gmm", "-q", "-k", "2", "--n-init", "2", "-t", "1", "-o", "{o}.m", "{in}"], {}),
    "tsne": ("vectors", ["tsne", "-n", "60", "--exaggeration-iters", "20", "-p", "5", "-t", "1", "-o", "{o}", "{in}"],
             {"stream_out": 1}),
    "train-data": ("images", ["train", "--net", "{S/q.net}", "--epochs", "1", "-b", "8", "-t", "1", "-o", "{o}"],
                   {"stdin": 1, "stream_out": 1}),
    "train-val": ("images", ["train", "--net", "{S/d.net}", "--epochs", "1", "-t", "1", "--val", "{in}", "-o", "{o}",
                             "{S/img8.tp}"], {"stream_out": 1}),
    "predict-data": ("images", ["predict", "-t", "1", "-i", "{in}", "-o", "{o}", "{S/m.tp}"], {"stream_out": 1}),
    "predict-features": ("images", ["predict", "-t", "1", "--features", "3", "-o", "{o}", "{S/m.tp}"],
                         {"stdin": 1, "stream_out": 1}),
    "npy2tp-meta": ("metatext", ["npy2tp", "-m", "{in}", "-o", "{o}", "{S/f4.npy}"], {"stream_out": 1}),
    # IDX
    "idx2raw-images": ("idx_images", ["idx2raw", "-o", "{o}", "{in}", "{S/lb.idx}"], {"stream_out": 1}),
    "idx2raw-labels": ("idx_labels", ["idx2raw", "-o", "{o}", "{S/im.idx}", "{in}"], {"stream_out": 1}),
    "idx2raw-one": ("idx_images", ["idx2raw", "--offset", "3", "-n", "5", "{in}"], {"stream_out": 1}),
    # images
    "img2raw-png": ("png", ["img2raw", "-t", "1", "--gray", "--size", "8x8", "-o", "{o}", "{dir}"], {"stream_out": 1, "rss": 400}),
    "img2raw-jpeg": ("jpeg", ["img2raw", "-t", "1", "--rgb", "--size", "6x6", "-o", "{o}", "{dir}"],
                     {"stream_out": 1, "rss": 400}),
    "img2raw-pad": ("png", ["img2raw", "-t", "1", "--rgb", "--pad", "9x9", "--names", "-o", "{o}", "{dir}"],
                    {"stream_out": 1, "rss": 400}),
    "predict-png": ("png", ["predict", "-t", "1", "{S/m.tp}", "{in}"], {"rss": 600, "name": "x.png"}),
    "predict-jpeg": ("jpeg", ["predict", "-t", "1", "{S/m.tp}", "{in}"], {"rss": 600, "name": "x.jpg"}),
    # network files
    "train-net": ("net", ["train", "--net", "{in}", "--epochs", "1", "-t", "1", "-o", "{o}", "{S/img8.tp}"],
                  {"stream_out": 1, "net_sized": 1}),
    "train-net-28": ("net_big", ["train", "--net", "{in}", "--epochs", "1", "-t", "1", "-o", "{o}",
                                 "{S/img28.tp}"], {"stream_out": 1, "net_sized": 1}),
    # model files
    "predict-model": ("model", ["predict", "-t", "1", "-i", "{S/img8.tp}", "-o", "{o}", "{in}"], {"stream_out": 1}),
    "train-init": ("model", ["train", "--init", "{in}", "--epochs", "1", "-t", "1", "-o", "{o}", "{S/img8.tp}"],
                   {"stream_out": 1}),
    "graft-base": ("model", ["graft", "-o", "{o}", "{in}", "{S/head.tp}"], {"stream_out": 1}),
    "graft-head": ("head_model", ["graft", "-o", "{o}", "{S/m.tp}", "{in}"], {"stream_out": 1}),
    "tinfo-model": ("model", ["tinfo", "{in}"], {}),
    "pca-model": ("pca_model", ["pca", "-m", "{in}", "-o", "{o}", "{S/vec.tp}"], {"stream_out": 1}),
    "gmm-model": ("gmm_model", ["gmm", "-q", "-m", "{in}", "{S/vec.tp}"], {"stream_out": 1}),
    "gmm-init-model": ("gmm_model", ["gmm", "-q", "-k", "3", "--init-model", "{in}", "-o", "{o}", "{S/vec.tp}"], {}),
    # .npy
    "npy2tp": ("npy", ["npy2tp", "-o", "{o}", "{in}"], {"stream_out": 1}),
    # TF.js and .h5 weights
    "wimport-json": ("tfjs_json", ["wimport", "-q", "--net", "{S/vgg_tiny.net}", "--input", "64x32x3", "-o", "{o}", "{dir}"],
                     {"stream_out": 1, "name": "model.json", "with": "tfjs_shard"}),
    "wimport-shard": ("tfjs_shard", ["wimport", "-q", "--net", "{S/vgg_tiny.net}", "--input", "64x32x3", "-o", "{o}",
                                     "{dir}"], {"stream_out": 1, "keepname": 1, "with": "tfjs_json"}),
    "wimport-net": ("net_vgg", ["wimport", "-q", "--net", "{in}", "--input", "64x32x3", "-o", "{o}", "{S/tfjs}"], {"net_sized": 1}),
    "wimport-h5": ("h5", ["wimport", "-q", "--net", "{S/vgg_tiny.net}", "--input", "64x32x3", "-o", "{o}", "{in}"],
                   {"stream_out": 1, "name": "w.h5", "h5": 1}),
    "wimport-list": ("tfjs_json", ["wimport", "--list", "{dir}"], {"name": "model.json", "with": "tfjs_shard"}),
}

# ---------------------------------------------------------------- mutations

EXTREMES = [b"0", b"-1", b"1", b"255", b"256", b"65535", b"65536", b"2147483647", b"2147483648", b"4294967295",
            b"4294967296", b"9223372036854775807", b"9223372036854775808", b"18446744073709551616",
            b"1000000000000000000000000000000", b"-2147483649", b"1e308", b"nan", b"inf", b"-0", b"+6", b"0x10", b"1.5"]
BIN_EXTREMES = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 65500, 20000, 4097]


def text_end(data):
    """Where a leading text part (a stream header, a .npy header, a whole text file) ends."""
    if data.startswith(b"TPIPE"):
        i = data.find(b"\nend")
        if i >= 0:
            j = data.find(b"\n", i + 4)
            return j + 1 if j >= 0 else len(data)
    if data.startswith(b"\x93NUMPY"):
        return min(len(data), 256)
    sample = data[:4096]
    if sample and sum(32 <= b < 127 or b in (9, 10, 13) for b in sample) > 0.95 * len(sample):
        return len(data)
    return 0


def m_numbers(data, rnd):
    end = text_end(data) or min(len(data), 512)
    spans = []
    i = 0
    while i < end:
        if 48 <= data[i] <= 57:
            j = i
            while j < end and 48 <= data[j] <= 57:
                j += 1
            spans.append((i, j))
            i = j
        else:
            i += 1
    if not spans:
        return m_bytes(data, rnd)
    a, b = rnd.choice(spans)
    return data[:a] + rnd.choice(EXTREMES) + data[b:]


def m_bytes(data, rnd):
    d = bytearray(data)
    if not d:
        return bytes([rnd.randrange(256)])
    for _ in range(rnd.choice((1, 1, 2, 4, 8))):
        # biased to the start, where headers live
        p = rnd.randrange(min(len(d), 256)) if rnd.random() < 0.7 else rnd.randrange(len(d))
        r = rnd.random()
        if r < 0.4:
            d[p] ^= 1 << rnd.randrange(8)
        elif r < 0.7:
            d[p] = rnd.choice((0, 0xFF, 0x7F, 0x80, 0x0A, 0x0D, 0x20, 0x09))
        else:
            d[p] = rnd.randrange(256)
    return bytes(d)


def m_word(data, rnd):
    """A 16- or 32-bit word, big- or little-endian, set to an extreme (dimensions, lengths)."""
    if len(data) < 4:
        return m_bytes(data, rnd)
    p = rnd.randrange(min(len(data) - 3, 600))
    v = rnd.choice(BIN_EXTREMES)
    if rnd.random() < 0.5:
        w = struct.pack(rnd.choice((">I", "<I")), v & 0xFFFFFFFF)
    else:
        w = struct.pack(rnd.choice((">H", "<H")), v & 0xFFFF)
    return data[:p] + w + data[p + len(w):]


def m_cut(data, rnd):
    if len(data) < 2:
        return b""
    r = rnd.random()
    if r < 0.3:
        return data[: rnd.randrange(len(data))]
    if r < 0.6:
        return data[: len(data) - rnd.randrange(1, min(len(data), 16) + 1)]
    a = rnd.randrange(len(data))
    b = min(len(data), a + rnd.choice((1, 2, 4, 8, 64, 512)))
    return data[:a] + data[b:]


def m_insert(data, rnd):
    p = rnd.randrange(len(data) + 1)
    r = rnd.random()
    if r < 0.3:
        ins = bytes(rnd.randrange(256) for _ in range(rnd.choice((1, 3, 8, 64))))
    elif r < 0.6 and data:
        a = rnd.randrange(len(data))
        ins = data[a:a + rnd.choice((1, 4, 16, 64, 256))]
    elif r < 0.8:
        ins = b"\0"
    else:
        ins = data  # the whole file again (concatenated streams, a second model record)
        p = len(data)
    return data[:p] + ins + data[p:]


def m_lines(data, rnd):
    end = text_end(data)
    if not end:
        return m_bytes(data, rnd)
    head, body = data[:end], data[end:]
    lines = head.split(b"\n")
    r = rnd.random()
    if r < 0.25 and len(lines) > 1:
        i = rnd.randrange(len(lines))
        lines.insert(i, lines[i])
    elif r < 0.45 and len(lines) > 1:
        del lines[rnd.randrange(len(lines))]
    elif r < 0.6:
        return head.replace(b"\n", b"\r\n") + body
    elif r < 0.7 and len(lines) > 2:
        i, j = rnd.randrange(len(lines)), rnd.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif r < 0.8:
        i = rnd.randrange(len(lines))
        lines[i] = lines[i].replace(b" ", rnd.choice((b"  ", b"\t", b" \0", b"")), 1)
    elif r < 0.9:
        i = rnd.randrange(len(lines))
        lines[i] = lines[i] + rnd.choice((b" ", b" x", b"\xff\xfe", b"\xc3\xa9", b"\xed\xa0\x80", b"#", b" 1 2"))
    else:
        i = rnd.randrange(len(lines))
        lines.insert(i, rnd.choice((b"", b"  ", b"meta", b"meta  x", b"field", b"count -1", b"end", b"TPIPE 1",
                                    b"dense 100000000 relu", b"conv 65536 3x3", b"flatten", b"repeat 1000")))
    return b"\n".join(lines) + body


def stream_meta(data, rnd):
    """Metadata bombs in a stream header: 255 more keys, or a value of a megabyte."""
    if not data.startswith(b"TPIPE"):
        return m_lines(data, rnd)
    i = data.find(b"\nend")
    if i < 0:
        return data
    j = data.find(b"\n", i + 4)
    head = data[: i + 1].decode("latin-1")
    body = data[j + 1:] if j >= 0 else b""
    r = rnd.random()
    if r < 0.5:
        add = "".join("meta k%03d v%d\n" % (k, k) for k in range(rnd.choice((250, 254, 255, 256))))
    elif r < 0.8:
        add = "meta long " + "x" * rnd.choice((4096, 1 << 20, (16 << 20) - 200)) + "\n"
    else:
        add = "".join("meta classes c%d\n" % k for k in range(rnd.choice((100, 70000))))
    text = head + add + "end"
    text += " " * (-(len(text) + 1) % 64) + "\n"
    return text.encode("latin-1") + body


def m_splice(data, rnd, others):
    if not others:
        return m_bytes(data, rnd)
    o = rnd.choice(others)
    a = rnd.randrange(len(data) + 1)
    b = rnd.randrange(len(o) + 1)
    return data[:a] + o[b:]


def png_fix(data):
    """Recomputes every chunk's CRC (where the lengths still hold), so that a mutation reaches
    past libpng's checksum test into the decoder."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    d = bytearray(data)
    p = 8
    while p + 12 <= len(d):
        n = struct.unpack(">I", d[p:p + 4])[0]
        if p + 12 + n > len(d):
            break
        d[p + 8 + n:p + 12 + n] = struct.pack(">I", zlib.crc32(bytes(d[p + 4:p + 8 + n])) & 0xFFFFFFFF)
        p += 12 + n
    return bytes(d)


def mutate(data, rnd, others, kind):
    ops = [m_bytes, m_bytes, m_numbers, m_numbers, m_word, m_cut, m_cut, m_insert, m_lines]
    if kind in ("stream", "images", "vectors", "history", "model", "pca_model", "gmm_model"):
        ops += [stream_meta]
    if kind in ("idx_images", "idx_labels", "png", "jpeg", "h5", "tfjs_shard", "npy"):
        ops += [m_word, m_word]
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        op = rnd.choice(ops + [None])
        data = m_splice(data, rnd, others) if op is None else op(data, rnd)
    if kind == "png" and rnd.random() < 0.7:
        data = png_fix(data)
    if len(data) > (24 << 20):
        data = data[: 24 << 20]
    return data


# ---------------------------------------------------------------- running


def sanitized(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


class Runner:
    def __init__(self, BIN, work, san, timeout):
        self.BIN, self.work, self.san, self.timeout = BIN, work, san, timeout
        self.env = dict(os.environ)
        self.env["TMPDIR"] = os.path.join(work, "tmp")
        self.env["TPIPE_DEVICE"] = "cpu"
        self.env.pop("TPIPE_MAX_PIXELS", None)
        if san:
            self.env["ASAN_OPTIONS"] = ("protect_shadow_gap=0:detect_leaks=1:allocator_may_return_null=1:"
                                        "max_allocation_size_mb=2048:quarantine_size_mb=16:exitcode=86")
            self.env["UBSAN_OPTIONS"] = "halt_on_error=1:exitcode=87:print_stacktrace=1"
        os.makedirs(self.env["TMPDIR"], exist_ok=True)

    def limits(self):
        os.setsid()
        if not self.san:
            resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    def run(self, argv, stdin_path=None, out_path=None):
        """(status, signal, stderr bytes, peak RSS MB, seconds, timed out)."""
        fin = open(stdin_path, "rb") if stdin_path else open(os.devnull, "rb")
        fout = open(out_path, "wb") if out_path else open(os.devnull, "wb")
        ferr = tempfile.TemporaryFile(dir=self.env["TMPDIR"])
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=ferr, env=self.env, cwd=self.work,
                             preexec_fn=self.limits)
        fin.close()
        fout.close()
        timed_out = False
        delay = 0.001
        while True:
            pid, st, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > self.timeout:
                timed_out = True
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                pid, st, ru = os.wait4(p.pid, 0)
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        p.returncode = 0  # reaped here: keep Popen from waiting again
        dt = time.monotonic() - t0
        ferr.seek(0)
        err = ferr.read()
        ferr.close()
        code = os.WEXITSTATUS(st) if os.WIFEXITED(st) else None
        sig = os.WTERMSIG(st) if os.WIFSIGNALED(st) else None
        return code, sig, err, ru.ru_maxrss / 1024.0, dt, timed_out


def fill(argv, inp, o, d, S):
    out = []
    for a in argv:
        if a.startswith("{S/"):
            out.append(os.path.join(S, a[3:-1]))
        else:
            out.append(a.replace("{in}", inp).replace("{o}", o).replace("{dir}", d))
    return out


def leftovers(work):
    bad = []
    for dp, dn, fs in os.walk(work):
        if os.path.basename(dp) in ("seeds", "findings"):
            dn[:] = []
            continue
        for f in fs + dn:
            if ".tmp." in f or f.startswith("tpipe-spool"):
                bad.append(os.path.join(dp, f))
    return bad


def clean_case(case):
    shutil.rmtree(case, ignore_errors=True)
    os.makedirs(case)


def check_one(R, name, spec, data, S, seeds, rnd_with):
    """Runs target name on data; returns (outcome, problem or None, rss, seconds)."""
    kind, argv, opt = spec
    case = os.path.join(R.work, "case")
    clean_case(case)
    prog = argv[0]
    fname = opt.get("name", "input")
    d = os.path.join(case, "in")
    inp = os.path.join(case, fname)
    if "{dir}" in argv:
        # a folder: class folder 'a' holds the mutated file (images) or the weight files (TF.js)
        if kind in ("png", "jpeg"):
            os.makedirs(os.path.join(d, "a"))
            os.makedirs(os.path.join(d, "b"))
            inp = os.path.join(d, "a", "x." + ("png" if kind == "png" else "jpg"))
            other = seeds[kind][0]
            shutil.copy(other, os.path.join(d, "b", "y" + os.path.splitext(other)[1] if "." in other else "y"))
        else:
            os.makedirs(d)
            for p in seeds.get(opt.get("with"), []) + seeds.get(kind, []):
                shutil.copy(p, os.path.join(d, os.path.basename(p)))
            if opt.get("keepname"):
                inp = os.path.join(d, rnd_with)
            else:
                inp = os.path.join(d, fname)
    with open(inp, "wb") as f:
        f.write(data)
    o = os.path.join(case, "out")
    cmd = [os.path.join(R.BIN, prog)] + fill(argv[1:], inp, o, d, S)
    stdout_path = os.path.join(case, "stdout")
    code, sig, err, rss, dt, timed_out = R.run(cmd, inp if opt.get("stdin") else None, stdout_path)
    text = err.decode("utf-8", errors="replace")
    lines = [l for l in text.split("\n") if l.strip()]
    problem = None
    bound = opt.get("rss", 300) * (2 if R.san else 1)  # ASan's shadow and redzones
    if timed_out and opt.get("net_sized"):
        return 2, None, rss, dt  # the network the file asks for needs more time: not a hang
    if timed_out:
        problem = "hang: no exit within %g s" % R.timeout
    elif sig is not None:
        problem = "signal %d (%s)" % (sig, signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else "?")
    elif code in (86, 87) or "Sanitizer" in text or "runtime error:" in text:
        problem = "sanitizer report (exit %s)" % code
    elif code not in (0, 1):
        problem = "exit status %d" % code
    elif "out of memory" in text and not opt.get("net_sized"):
        problem = "out of memory: an allocation a header claimed"
    elif rss > bound and not opt.get("net_sized"):
        problem = "peak RSS %.0f MB above the bound of %d MB" % (rss, bound)
    elif code == 1 and opt.get("net_sized") and "out of memory" in text:
        pass  # the network the file asks for is larger than this machine allows
    elif code == 1:
        if len(lines) != 1:
            problem = "refusal printed %d lines on stderr" % len(lines)
        elif not lines[0].startswith(prog + ": "):
            problem = "refusal does not start with '%s: '" % prog
        elif os.path.exists(o):
            problem = "refused, yet wrote its output file"
    if problem is None:
        left = leftovers(R.work)
        if left:
            problem = "left behind: " + ", ".join(os.path.relpath(x, R.work) for x in left[:3])
            for x in left:
                shutil.rmtree(x, ignore_errors=True) if os.path.isdir(x) else os.unlink(x)
    if problem is None and code == 0 and opt.get("stream_out"):
        target = o if "{o}" in " ".join(argv) and os.path.exists(o) else stdout_path
        c2, s2, e2, _, _, t2 = R.run([os.path.join(R.BIN, "tinfo"), target])
        if c2 != 0 or s2 is not None or t2:
            problem = "exit 0, but its output is no well-formed stream: " + e2.decode(errors="replace").strip()
    if problem:
        problem += "\n  command: %s\n  exit %s, signal %s, %.1f s, %.0f MB\n  stderr: %s" % (
            " ".join(cmd), code, sig, dt, rss, "\n          ".join(text.strip().split("\n")[:12]))
    return (0 if code == 0 else 1), problem, rss, dt


def main():
    ap = argparse.ArgumentParser(description="mutation fuzzing of tpipe's programs")
    ap.add_argument("--seconds", type=float, default=60, help="total time (default 60)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--targets", default="", help="comma-separated target names (default: all)")
    ap.add_argument("--bin", default=os.environ.get("BIN", os.path.join(ROOT, "bin")))
    ap.add_argument("--keep", default="", help="where findings go (default: a new /tmp directory)")
    ap.add_argument("--timeout", type=float, default=0, help="seconds a run may take (default 10, 60 sanitized)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--replay", default="")
    a = ap.parse_args()
    if a.list:
        for n, (k, argv, _) in TARGETS.items():
            print("%-18s %-11s %s" % (n, k, " ".join(argv)))
        return 0
    BIN = os.path.abspath(a.bin)
    if not os.path.exists(os.path.join(BIN, "tinfo")):
        print("progfuzz: no programs in %s (run make)" % BIN, file=sys.stderr)
        return 2
    san = sanitized(os.path.join(BIN, "tinfo"))
    names = [t for t in a.targets.split(",") if t] or list(TARGETS)
    for n in names:
        if n not in TARGETS:
            print("progfuzz: no target '%s' (--list)" % n, file=sys.stderr)
            return 2
    work = tempfile.mkdtemp(prefix="progfuzz-")
    keep = os.path.abspath(a.keep) if a.keep else os.path.join(tempfile.gettempdir(), "progfuzz-findings-%d" % os.getpid())
    R = Runner(BIN, work, san, a.timeout or (60 if san else 10))
    S = os.path.join(work, "seeds")
    os.makedirs(S)
    try:
        seeds = make_seeds(S, BIN, R.env)
        h5ok = subprocess.run([os.path.join(BIN, "wimport"), "--list", seeds["h5"][0]], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=R.env).returncode == 0
        if not h5ok:
            names = [n for n in names if not TARGETS[n][2].get("h5")]
        if a.replay:
            n = names[0]
            data = open(a.replay, "rb").read()
            _, problem, rss, dt = check_one(R, n, TARGETS[n], data, S, seeds, os.path.basename(seeds[TARGETS[n][0]][0]))
            print(problem or "progfuzz: %s: no finding (%.0f MB, %.2f s)" % (n, rss, dt))
            return 1 if problem else 0
        rnd = random.Random(a.seed)
        raw = {k: [open(p, "rb").read() for p in v] for k, v in seeds.items()}
        stats = {n: [0, 0, 0, 0, 0.0, 0.0, 0] for n in names}  # cases, exit0, exit1, findings, rss, slowest, big nets
        found = 0
        t_end = time.monotonic() + a.seconds
        t0 = time.monotonic()
        last = t0
        i = 0
        sys.stderr.write("progfuzz: %d targets, %g s%s, findings to %s\n" % (len(names), a.seconds,
                                                                             " (sanitized build)" if san else "", keep))
        while time.monotonic() < t_end:
            n = names[i % len(names)]
            i += 1
            kind = TARGETS[n][0]
            k = rnd.randrange(len(raw[kind]))
            data = mutate(raw[kind][k], rnd, raw[kind], kind)
            keepname = os.path.basename(seeds[kind][k])
            outcome, problem, rss, dt = check_one(R, n, TARGETS[n], data, S, seeds, keepname)
            st = stats[n]
            st[0] += 1
            if outcome == 2:
                st[6] += 1
            else:
                st[1 + outcome] += 1
            st[4] = max(st[4], rss)
            st[5] = max(st[5], dt)
            if problem:
                st[3] += 1
                found += 1
                os.makedirs(keep, exist_ok=True)
                base = os.path.join(keep, "%s-%d" % (n, st[3]))
                with open(base + ".bin", "wb") as f:
                    f.write(data)
                with open(base + ".txt", "w") as f:
                    f.write("%s: %s\n  replay: %s --replay %s.bin --targets %s\n" % (n, problem, sys.argv[0], base, n))
                sys.stderr.write("progfuzz: FINDING %s: %s\n  replay: %s --replay %s.bin --targets %s\n" % (
                    n, problem, sys.argv[0], base, n))
            now = time.monotonic()
            if now - last > 30:
                last = now
                sys.stderr.write("progfuzz: %.0f s, %d cases, %d findings\n" % (now - t0, sum(s[0] for s in stats.values()),
                                                                               found))
        print("%-18s %7s %7s %7s %8s %8s %8s" % ("target", "cases", "exit0", "exit1", "findings", "peakMB", "slowest"))
        for n in names:
            s = stats[n]
            print("%-18s %7d %7d %7d %8d %8.0f %7.2fs%s" % (n, s[0], s[1], s[2], s[3], s[4], s[5],
                  "  (%d networks stopped at the time limit)" % s[6] if s[6] else ""))
        tot = [sum(stats[n][j] for n in names) for j in range(4)]
        print("%-18s %7d %7d %7d %8d   (%.0f s%s)" % ("total", tot[0], tot[1], tot[2], tot[3], time.monotonic() - t0,
                                                    ", sanitized" if san else ""))
        return 1 if found else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
