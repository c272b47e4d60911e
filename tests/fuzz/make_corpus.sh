#!/bin/sh
# tests/fuzz/make_corpus.sh — (re)makes the seed inputs in tests/fuzz/corpus/{stream,idx}.
#
# Seeds are small (each < 4 KiB) and deterministic: python3 writes them, gzip -n compresses
# (no name or time stamp), and bin/idx2raw, where it has been built (make), adds one stream
# made by the real writer. Run from anywhere; it replaces the corpus directories.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
S=$here/corpus/stream
I=$here/corpus/idx
rm -rf "$S" "$I"
mkdir -p "$S" "$I"

python3 - "$S" "$I" <<'PY'
import os, struct, sys

S, I = sys.argv[1], sys.argv[2]

def put(d, name, data):
    assert len(data) < 4096, name
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def header(lines, pad=True):
    """Header bytes: lines joined by \n, then the end line padded to a multiple of 64."""
    s = ("TPIPE 1\n" + "".join(l + "\n" for l in lines)).encode()
    if not pad:
        return s + b"end\n"
    s += b"end"
    s += b" " * ((64 - (len(s) + 1) % 64) % 64) + b"\n"
    assert len(s) % 64 == 0
    return s

def pattern(n, seed=1):
    return bytes((seed * 7 + i * 13) & 0xFF for i in range(n))

# ---- valid streams ----
h = header(["field x u8 3 4", "count 2"])
put(S, "one_field.tp", h + pattern(2 * 12))

h = header([
    "# made by make_corpus.sh",
    "field x f32 2 2",
    "field y i32",
    "field z f16 3",
    "field w f64",
    "field b.i-8 i8 1 1 2",
    "field u u16 2",
    "field big i64 1",
    "meta source train-images-idx3-ubyte",
    "meta classes zero",
    "meta classes one",
    "meta classes two words",
    "meta empty",
    "meta spaced   leading spaces kept ",
    "meta utf8 caf\u00e9 \u2713",
    "count 3",
])
rs = 16 + 4 + 6 + 8 + 2 + 4 + 8
put(S, "fields_meta.tp", h + pattern(3 * rs, 2))

h = header(["field v f32 4", "meta note count unknown", "count unknown             "])
put(S, "count_unknown.tp", h + struct.pack("<20f", *[i / 4 for i in range(20)]))

seg = lambda n, s: header(["field a u8 2", "field b i16", "count %d" % n]) + pattern(4 * n, s)
put(S, "concat.tp", seg(2, 1) + seg(0, 2) + seg(3, 3))
put(S, "zero_records.tp", header(["field a u8 2", "field b i16", "count 0"]))
put(S, "concat_unknown.tp", seg(1, 4) + header(["field a u8 2", "field b i16", "count unknown"]) + pattern(8, 5))

# ---- broken streams ----
put(S, "bad_truncated.tp", header(["field x u8 3 4", "count 3"]) + pattern(2 * 12 + 5))
put(S, "bad_magic.tp", b"TPIPF 1\n" + header(["field x u8", "count 1"])[8:] + b"\x01")
put(S, "bad_version.tp", b"TPIPE 2\n" + header(["field x u8", "count 1"])[8:] + b"\x01")
put(S, "bad_no_end.tp", b"TPIPE 1\nfield x u8\ncount 1\n" + b" " * 37 + b"\n" + b"\x00" * 8)
put(S, "bad_end_unaligned.tp", header(["field x u8", "count 1"], pad=False) + b"\x01")
put(S, "bad_dup_field.tp", header(["field x u8", "field x u8", "count 0"]))
put(S, "bad_concat_fields.tp", seg(1, 1) + header(["field a u8 3", "field b i16", "count 1"]) + pattern(5))
put(S, "bad_cr.tp", header(["field x u8", "meta k v\r", "count 1"]) + b"\x01")
put(S, "bad_dims.tp", header(["field x u8 1 2 3 4 5 6 7 8 9", "field y f32 0", "count 1"]) + b"\x01")
put(S, "bad_huge.tp", header(["field x f64 65536 65536", "count 1"]))
put(S, "bad_count.tp", header(["field x u8", "count 99999999999999999999", "count 1"]))

# ---- IDX ----
def idx(code, dims, payload):
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload

put(I, "u8_images.idx", idx(0x08, [3, 4, 4], pattern(48)))
put(I, "u8_labels.idx", idx(0x08, [3], bytes([7, 2, 1])))
put(I, "i8.idx", idx(0x09, [4], struct.pack(">4b", -128, -1, 0, 127)))
put(I, "i16.idx", idx(0x0B, [2, 3], struct.pack(">6h", -32768, -2, -1, 0, 1, 32767)))
put(I, "i32.idx", idx(0x0C, [2, 2], struct.pack(">4i", -2**31, -1, 1, 2**31 - 1)))
put(I, "f32.idx", idx(0x0D, [2, 2, 2], struct.pack(">8f", 0.0, -0.0, 1.5, -2.25, 1e30, -1e-30, 3.0, 4.0)))
put(I, "f64.idx", idx(0x0E, [3, 1], struct.pack(">3d", 3.141592653589793, -1e300, 0.5)))
put(I, "rank9.idx", idx(0x08, [1] + [2] * 8, pattern(256)))
put(I, "count0.idx", idx(0x0D, [0, 5], b""))

put(I, "bad_truncated.idx", idx(0x08, [3, 4, 4], pattern(40)))
put(I, "bad_trailing.idx", idx(0x08, [3], bytes([7, 2, 1, 9])))
put(I, "bad_type.idx", idx(0x0A, [2], b"\x00\x01"))
put(I, "bad_zero_dim.idx", idx(0x08, [2, 0], b""))
put(I, "bad_rank.idx", idx(0x08, [1] * 10, b"\x00"))
put(I, "bad_magic.idx", b"\x01\x00\x08\x01\x00\x00\x00\x01\x05")
put(I, "bad_huge.idx", idx(0x0E, [1, 65536, 65536], b""))
PY

# gzip seeds: the path MNIST's .gz files take through zlib.
gz() { gzip -n -9 -c "$I/$1"; }
gz u8_images.idx >"$I/u8_images.idx.gz"
gz f32.idx >"$I/f32.idx.gz"
gz i16.idx >"$I/i16.idx.gz"
# two gzip members (what `cat a.gz b.gz` gives): one IDX split across them
head -c 20 "$I/u8_images.idx" | gzip -n -c >"$I/members.idx.gz"
tail -c +21 "$I/u8_images.idx" | gzip -n -c >>"$I/members.idx.gz"
# broken: cut short, a flipped CRC, data after the promised items; and garbage after
# the member (zlib stops at it: accepted)
gz u8_images.idx | head -c 40 >"$I/bad_truncated.idx.gz"
gz u8_labels.idx >"$I/bad_crc.idx.gz"
python3 - "$I/bad_crc.idx.gz" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[-8] ^= 0xFF  # the CRC32 in the gzip trailer
open(p, "wb").write(bytes(b))
PY
gz bad_trailing.idx >"$I/bad_trailing.idx.gz"
# a whole gzip stream whose IDX content is short (the "data ends before item" message)
gz bad_truncated.idx >"$I/bad_short.idx.gz"
# 512 KiB of IDX (four 128 KiB items) with a bad CRC: the error surfaces on the first read
python3 - "$I/bad_crc_big.idx.gz" <<'PY'
import gzip, struct, sys
data = bytes([0, 0, 8, 2]) + struct.pack(">II", 4, 131069) + bytes(4 * 131069)
b = bytearray(gzip.compress(data, 9, mtime=0))
b[-8] ^= 0xFF
open(sys.argv[1], "wb").write(bytes(b))
PY
# a whole IDX in one member, then a second member with a bad CRC: only
# tp_idx_check_end's read reaches it
{ gz u8_labels.idx; printf 'x' | gzip -n -c | python3 -c '
import sys
b = bytearray(sys.stdin.buffer.read()); b[-8] ^= 0xFF; sys.stdout.buffer.write(bytes(b))'
} >"$I/bad_member2.idx.gz"
{ gz u8_labels.idx; printf 'not gzip'; } >"$I/garbage_after.idx.gz"

# One stream from the real writer, when it has been built.
if [ -x "$root/bin/idx2raw" ]; then
    "$root/bin/idx2raw" --classes zero,one,two,three,four,five,six,seven,eight,nine \
        -o "$S/idx2raw.tp" "$I/u8_images.idx.gz" "$I/u8_labels.idx"
else
    echo "make_corpus: bin/idx2raw not built (make); skipping the idx2raw seed" >&2
fi

echo "make_corpus: $(ls "$S" | wc -l) stream seeds, $(ls "$I" | wc -l) idx seeds," \
    "$(cat "$S"/* "$I"/* | wc -c) bytes in all"
