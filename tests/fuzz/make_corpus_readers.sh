#!/bin/sh
# tests/fuzz/make_corpus_readers.sh — (re)makes the seed inputs of the file-reader targets
# in tests/fuzz/corpus/{image,npy,net,model,h5,tfjs} (make_corpus.sh makes stream and idx).
#
# Seeds are small (each < 4 KiB, but for the .h5 files) and deterministic: python3
# writes them with its standard library, Debian's python3-pil (images; interlaced PNGs,
# 16-bit colour and low bit depths written by hand) and python3-numpy (.npy), and the built
# programs of bin/ (make) write the models, on fixed seeds; a small C program against
# libhdf5, where it is, writes .h5 files of the oldest format. Run from anywhere; it replaces
# those corpus directories.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
C=$here/corpus
F=$root/tests/fixtures
B=$root/bin
PY=${PYTHON:-/usr/bin/python3}
for d in image npy net model h5 tfjs; do
    rm -rf "${C:?}/$d"
    mkdir -p "$C/$d"
done

# ---- image: PNGs of every colour type, and JPEGs, from PIL and by hand ----
"$PY" - "$C/image" <<'PY'
import io, os, struct, sys, zlib
from PIL import Image

D = sys.argv[1]

def put(name, data):
    assert len(data) < 4096, (name, len(data))
    with open(os.path.join(D, name), "wb") as f:
        f.write(data)

def pil(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()

def gradient(mode, w, h):
    im = Image.new("RGB", (w, h))
    im.putdata([((x * 255) // max(w - 1, 1), (y * 255) // max(h - 1, 1), (x * y) & 255)
                for y in range(h) for x in range(w)])
    return im.convert(mode)

for mode in ("L", "LA", "RGB", "RGBA", "P", "1"):
    put("png_%s.png" % mode.lower(), pil(gradient(mode, 9, 7), "PNG"))
put("png_p_trns.png", pil(gradient("P", 6, 5), "PNG", transparency=3))
put("png_l16.png", pil(gradient("L", 8, 6).convert("I;16"), "PNG"))
put("jpg_gray.jpg", pil(gradient("L", 16, 12), "JPEG", quality=80))
put("jpg_rgb.jpg", pil(gradient("RGB", 16, 12), "JPEG", quality=80))
put("jpg_rgb_444.jpg", pil(gradient("RGB", 9, 7), "JPEG", quality=90, subsampling=0))
put("jpg_progressive.jpg", pil(gradient("RGB", 16, 16), "JPEG", quality=75, progressive=True))
put("jpg_cmyk.jpg", pil(gradient("CMYK", 8, 8), "JPEG", quality=80))
put("jpg_420_odd.jpg", pil(gradient("RGB", 13, 11), "JPEG", quality=30, subsampling=2))

def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)

def png(w, h, depth, ctype, rows_of, interlace=0, extra=b""):
    """A PNG by hand: rows_of(xs, y) gives one filtered-free row's bytes for the columns xs."""
    raw = b""
    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        for x0, y0, dx, dy in passes:
            xs = list(range(x0, w, dx))
            if not xs:
                continue
            for y in range(y0, h, dy):
                raw += b"\0" + rows_of(xs, y)
    else:
        for y in range(h):
            raw += b"\0" + rows_of(list(range(w)), y)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")

rgb8 = lambda xs, y: bytes(v for x in xs for v in ((x * 30) & 255, (y * 40) & 255, (x + y) & 255))
put("png_rgb_interlaced.png", png(11, 9, 8, 2, rgb8, interlace=1))
put("png_gray_interlaced.png", png(10, 10, 8, 0, lambda xs, y: bytes((x * y * 3) & 255 for x in xs), interlace=1))
put("png_rgb16.png", png(5, 4, 16, 2, lambda xs, y: b"".join(struct.pack(">HHH", x * 9000, y * 9000, 65535 - x) for x in xs)))
put("png_rgba16_interlaced.png", png(6, 5, 16, 6, lambda xs, y: b"".join(struct.pack(">HHHH", x * 9000, y * 9000, 7, 60000) for x in xs), interlace=1))

def packbits(vals, depth):
    out, acc, n = bytearray(), 0, 0
    for v in vals:
        acc = acc << depth | v
        n += depth
        if n == 8:
            out.append(acc); acc = n = 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)

put("png_gray4.png", png(7, 3, 4, 0, lambda xs, y: packbits([(x + y) & 15 for x in xs], 4)))
put("png_gray2_interlaced.png", png(9, 9, 2, 0, lambda xs, y: packbits([(x ^ y) & 3 for x in xs], 2), interlace=1))
plte = chunk(b"PLTE", bytes(range(48)))
trns = chunk(b"tRNS", bytes([0, 128, 255]))
put("png_pal4_trns.png", png(5, 5, 4, 3, lambda xs, y: packbits([(x * y) % 16 for x in xs], 4), extra=plte + trns))
put("png_gray_trns.png", png(4, 4, 8, 0, lambda xs, y: bytes(x * 60 for x in xs), extra=chunk(b"tRNS", b"\0\x3c")))
PY
for f in "$F"/images/* "$F"/badimages/*; do
    [ "$(wc -c <"$f")" -lt 4096 ] && cp "$f" "$C/image/fixture_$(basename "$f")"
done

# ---- npy: NumPy's writer, every dtype tpipe reads and some it refuses ----
"$PY" - "$C/npy" <<'PY'
import io, os, sys
import numpy as np

D = sys.argv[1]

def put(name, a, version=None):
    b = io.BytesIO()
    if version:
        np.lib.format.write_array(b, a, version=version)
    else:
        np.save(b, a)
    data = b.getvalue()
    assert len(data) < 4096, name
    with open(os.path.join(D, name), "wb") as f:
        f.write(data)

r = np.arange(24)
for t in ("u1", "i1", "<u2", "<i2", "<i4", "<i8", "<f2", "<f4", "<f8", "?", "<u4", "<c8"):
    put("plain_%s.npy" % t.strip("<").replace("?", "bool"), (r % 7).astype(t).reshape(4, 6))
put("big_endian_f4.npy", r.astype(">f4").reshape(2, 3, 4))
put("big_endian_i8.npy", r.astype(">i8"))
put("scalar.npy", np.array(3.5, dtype="<f4"))
put("empty_rows.npy", np.zeros((0, 3), dtype="u1"))
put("rank9.npy", np.zeros((1,) * 9, dtype="u1"))
put("fortran_1d.npy", np.asfortranarray(r.astype("<f4")))
put("fortran_2d.npy", np.asfortranarray(r.astype("<f4").reshape(4, 6)))
s = np.zeros(3, dtype=[("x", "u1", (2, 2)), ("y", "<i4"), ("z", ">f8", (3,))])
s["y"] = [1, 2, 3]
put("structured.npy", s)
put("structured_titles.npy", np.zeros(2, dtype={"names": ["a", "b"], "formats": ["<i2", "<f4"], "titles": ["A", "B"]}))
put("structured_nested.npy", np.zeros(2, dtype=[("a", [("b", "<i2")]), ("c", "u1")]))
put("structured_padded.npy", np.zeros(2, dtype={"names": ["a"], "formats": ["<i4"], "offsets": [4], "itemsize": 12}))
put("version2.npy", r.astype("<f4").reshape(3, 8), version=(2, 0))
put("version3.npy", np.zeros(2, dtype=[("\u00e9t\u00e9", "<i2"), ("y", "u1")]), version=(3, 0))
put("version1_long.npy", np.zeros(1, dtype=[("f%03d" % i, "u1") for i in range(200)]))

def raw(name, d, body=b"\0" * 16):
    """A version 1.0 header written by hand: spellings NumPy reads but no longer writes."""
    n = (10 + len(d) + 1 + 63) // 64 * 64 - 10
    data = b"\x93NUMPY\x01\x00" + bytes([n % 256, n // 256]) + (d + " " * (n - len(d) - 1) + "\n").encode() + body
    with open(os.path.join(D, name), "wb") as f:
        f.write(data)

raw("hand_bare_int_shape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': 4, }")
raw("hand_python2_long.npy", "{'descr': '<i2', 'fortran_order': False, 'shape': (2L, 4L), }")
raw("hand_field_int_shape.npy", "{'descr': [('a', '<f4', 2), ('b', '|u1')], 'fortran_order': False, 'shape': (2,), }")
raw("hand_double_quotes.npy", '{"descr": "|u1", "fortran_order": True, "shape": (16,)}')
PY

# ---- net: the networks the project ships ----
cp "$root"/pipelines/nets/*.net "$F/vgg_tiny.net" "$C/net/"
printf 'conv 2 3x3 relu pad=same stride=2 init=he\nbatchnorm momentum=0.9 eps=0.01\navgpool 2 stride=1\nrelu\ngap\ndropout 0.25\ndense 3 softmax\n' >"$C/net/options.net"
printf 'conv 2 3x3\r\nmaxpool 2x1\r\nflatten # a comment\r\ndense 2 linear\r\ndense 2 softmax\r\n' >"$C/net/crlf.net"

# ---- model: written by train, pca and gmm on tiny inputs ----
if [ -x "$B/train" ] && [ -x "$B/pca" ] && [ -x "$B/gmm" ]; then
    t=$(mktemp -d)
    trap 'rm -rf "$t"' EXIT
    "$PY" - "$t/q.tp" <<'PY'
import struct, sys
n = 16
lines = ["TPIPE 1", "field x u8 4 4 1", "field y u8", "meta classes a,b", "count %d" % n, "end"]
head = "\n".join(lines)
head += " " * (-(len(head) + 1) % 64) + "\n"
body = b""
for i in range(n):
    c = i % 2
    body += bytes(((200 if (x < 2) == c else 10) + i) & 255 for y in range(4) for x in range(4)) + bytes([c])
open(sys.argv[1], "wb").write(head.encode() + body)
PY
    printf 'conv 2 2x2 relu\nmaxpool 3\nflatten\ndense 2 softmax\n' >"$t/a.net"
    printf 'conv 1 3x3 pad=same\nbatchnorm\nrelu\ngap\ndense 2 softmax\n' >"$t/b.net"
    "$B/train" --net "$t/a.net" --epochs 1 --batch 8 -s 1 "$t/q.tp" >"$C/model/net_conv_dense.tp" 2>/dev/null
    "$B/train" --net "$t/b.net" --epochs 1 --batch 8 -s 2 "$t/q.tp" >"$C/model/net_batchnorm.tp" 2>/dev/null
    "$B/pca" -k 2 --save "$C/model/pca_k2.tp" <"$F/pca_in2.tp" >/dev/null 2>&1
    "$B/pca" -k 2 --whiten --save "$C/model/pca_white.tp" <"$F/pca_in2.tp" >/dev/null 2>&1
    for cov in full diag spherical tied; do
        "$B/gmm" -k 2 --covariance $cov -s 1 -o "$C/model/gmm_$cov.tp" "$F/gmm_data.tp" >/dev/null 2>&1
    done
    for f in "$C"/model/*; do
        [ "$(wc -c <"$f")" -lt 4096 ] || { echo "make_corpus_readers: $f is 4 KiB or more" >&2; exit 1; }
    done
else
    echo "make_corpus_readers: bin/train, bin/pca or bin/gmm missing (run make); no model seeds" >&2
fi

# ---- h5: the Keras fixtures (larger than 4 KiB: an HDF5 file's structure takes room) ----
cp "$F/vgg_tiny_notop.h5" "$F/vgg_tiny_full.h5" "$C/h5/"
# ... and small files in HDF5's oldest format (superblock 0, version 1 object headers),
# which has no checksums: a mutated fixture (superblock 3) mostly fails its checksum
# before libhdf5 parses anything. Written by a small C program against libhdf5.
hcflags=$(pkg-config --cflags hdf5 2>/dev/null || true)
hlibs=$(pkg-config --libs hdf5 2>/dev/null || true)
if [ -z "$hlibs" ] && [ -f /usr/include/hdf5/serial/hdf5.h ]; then
    hcflags=-I/usr/include/hdf5/serial hlibs=-lhdf5_serial
fi
if [ -n "$hlibs" ]; then
    h=$(mktemp -d)
    cat >"$h/mk.c" <<'C'
#include <hdf5.h>
#include <string.h>

/* A Keras 2 weight file: layer_names at the root, each layer a group with weight_names
 * and float32 datasets; names as fixed-length strings (vlen = 0) or variable-length. */
static void strings(hid_t obj, const char *name, const char **v, int n, int vlen)
{
    hsize_t dims[1] = {(hsize_t)n};
    hid_t sp = H5Screate_simple(1, dims, NULL), t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, vlen ? H5T_VARIABLE : 16);
    char fixed[8][16];
    memset(fixed, 0, sizeof fixed);
    for (int i = 0; i < n; i++)
        strncpy(fixed[i], v[i], 15);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, vlen ? (const void *)v : (const void *)fixed);
    H5Aclose(a), H5Tclose(t), H5Sclose(sp);
}

static void tensor(hid_t g, const char *name, int rank, const hsize_t *dims, int chunked)
{
    float v[64];
    for (int i = 0; i < 64; i++)
        v[i] = (float)i / 8 - 2;
    hid_t sp = H5Screate_simple(rank, dims, NULL), pl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t lc = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lc, 1); /* "conv/kernel:0": a group conv inside the layer's */
    H5Pset_obj_track_times(pl, 0); /* no time stamps: the same bytes every time */
    if (chunked) {
        H5Pset_chunk(pl, rank, dims);
        H5Pset_deflate(pl, 6);
    }
    hid_t d = H5Dcreate2(g, name, H5T_IEEE_F32LE, sp, lc, pl, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d), H5Pclose(lc), H5Pclose(pl), H5Sclose(sp);
}

int main(int argc, char **argv)
{
    (void)argc;
    int vlen = argv[2][0] == 'v', chunked = argv[2][1] == 'c';
    hid_t fa = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fa, H5F_LIBVER_EARLIEST, H5F_LIBVER_V18);
    hid_t f = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, fa);
    const char *layers[2] = {"conv", "dense"}, *cw[2] = {"conv/kernel:0", "conv/bias:0"},
               *dw[2] = {"dense/kernel:0", "dense/bias:0"};
    strings(f, "layer_names", layers, 2, vlen);
    hsize_t k4[4] = {2, 2, 1, 2}, b[1] = {2}, k2[2] = {8, 2};
    hid_t gc = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_obj_track_times(gc, 0);
    hid_t g = H5Gcreate2(f, "conv", H5P_DEFAULT, gc, H5P_DEFAULT);
    strings(g, "weight_names", cw, 2, vlen);
    tensor(g, "conv/kernel:0", 4, k4, chunked);
    tensor(g, "conv/bias:0", 1, b, 0);
    H5Gclose(g);
    g = H5Gcreate2(f, "dense", H5P_DEFAULT, gc, H5P_DEFAULT);
    strings(g, "weight_names", dw, 2, vlen);
    tensor(g, "dense/kernel:0", 2, k2, chunked);
    tensor(g, "dense/bias:0", 1, b, 0);
    H5Gclose(g);
    H5Fclose(f), H5Pclose(fa), H5Pclose(gc);
    return 0;
}
C
    # shellcheck disable=SC2086
    if ${CC:-cc} $hcflags "$h/mk.c" -o "$h/mk" $hlibs 2>"$h/log"; then
        "$h/mk" "$C/h5/v0_fixed.h5" f-
        "$h/mk" "$C/h5/v0_vlen.h5" v-
        "$h/mk" "$C/h5/v0_chunked.h5" fc
    else
        echo "make_corpus_readers: cannot build the .h5 writer; only the fixtures seed h5" >&2
    fi
    rm -rf "$h"
fi

# ---- tfjs: model.json, "\n--shard--\n", then the one shard group1-shard1of1.bin ----
"$PY" - "$C/tfjs" "$F/vgg_tiny_tfjs" <<'PY'
import json, os, struct, sys

D, T = sys.argv[1], sys.argv[2]
SEP = b"\n--shard--\n"

def put(name, manifest, shard, extra=None):
    m = {"format": "layers-model", "weightsManifest": manifest}
    if extra:
        m.update(extra)
    data = json.dumps(m, separators=(",", ":")).encode() + SEP + shard
    assert len(data) < 4096, (name, len(data))
    with open(os.path.join(D, name), "wb") as f:
        f.write(data)

def group(weights):
    return [{"paths": ["group1-shard1of1.bin"], "weights": weights}]

def f32(n, k=1):
    return struct.pack("<%df" % n, *[(i * k % 13) / 7 - 0.9 for i in range(n)])

put("conv_dense.json", group([
    {"name": "c1/kernel", "shape": [3, 3, 1, 2], "dtype": "float32"},
    {"name": "c1/bias", "shape": [2], "dtype": "float32"},
    {"name": "d1/kernel", "shape": [8, 3], "dtype": "float32"},
    {"name": "d1/bias", "shape": [3], "dtype": "float32"}]), f32(18) + f32(2) + f32(24, 3) + f32(3))
put("quantized.json", group([
    {"name": "c1/kernel", "shape": [2, 2, 1, 3], "dtype": "float32",
     "quantization": {"dtype": "uint8", "scale": 0.01, "min": -1.2}},
    {"name": "c1/bias", "shape": [3], "dtype": "float32",
     "quantization": {"dtype": "uint16", "scale": 0.0001, "min": -0.5}},
    {"name": "bn/gamma", "shape": [3], "dtype": "float32", "quantization": {"dtype": "float16"}},
    {"name": "bn/beta", "shape": [3], "dtype": "float32"},
    {"name": "bn/moving_mean", "shape": [3], "dtype": "float32"},
    {"name": "bn/moving_variance", "shape": [3], "dtype": "float32"},
    {"name": "d/kernel", "shape": [3, 2], "dtype": "int32"}]),
    bytes(range(12)) + struct.pack("<3H", 1, 5000, 65535) + struct.pack("<3e", 1.0, 0.5, 2.0) + f32(9) +
    struct.pack("<6i", -3, -2, -1, 0, 1, 2))
put("bad_short.json", group([{"name": "d/kernel", "shape": [4, 4], "dtype": "float32"}]), f32(10))
put("bad_format.json", group([{"name": "d/kernel", "shape": [1], "dtype": "float32"}]), f32(1),
    {"format": "graph-model"})

# the fixture's first weights, cut down to one shard
man = json.load(open(os.path.join(T, "model.json")))
shard = open(os.path.join(T, "group1-shard1of2.bin"), "rb").read()
ws, off = [], 0
for w in man["weightsManifest"][0]["weights"]:
    n = 4
    for d in w["shape"]:
        n *= d
    if off + n > 2000:
        break
    ws.append(w)
    off += n
put("vgg_tiny_head.json", group(ws), shard[:off])
PY
echo "make_corpus_readers: seeds in $C/{image,npy,net,model,h5,tfjs}"
