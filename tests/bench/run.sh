#!/usr/bin/env bash
# make bench: tpipe's ingest and inspection throughput beside the usual Python way of
# doing the same job (NumPy), measured in the same run, with the machine's memory and
# pipe bandwidth for scale. Prints one table. Needs data/mnist (make data).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/bin
w=$root/build/bench
mkdir -p "$w"
D=$root/data/mnist
[ -f "$D/train-images-idx3-ubyte" ] || { echo "bench: no MNIST in data/mnist (run 'make data')" >&2; exit 1; }
NP=/usr/bin/python3
"$NP" -c 'import numpy' 2>/dev/null || { echo "bench: needs NumPy (python3-numpy) for the peer" >&2; exit 1; }
export TP_PROGRESS=0
cc -O2 -o "$w/membw" "$root/tests/bench/membw.c"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte; do
    [ -f "$w/$f.gz" ] || gzip -6 -c "$D/$f" >"$w/$f.gz"
done

. "$root/tests/bench/lib.sh"
# peak resident memory (KiB) of the last command of a pipeline given as a script
peak_kib() { /usr/bin/time -f %M bash -c "$1" 2>&1 >/dev/null | tail -1; }

read -r mem_read mem_copy < <("$w/membw" 2>/dev/null)
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "memory bandwidth (1 thread): read ${mem_read} GB/s, copy ${mem_copy} GB/s"
echo
row "job" "tpipe s" "peer s" "peer/tp"

# 1. idx2raw of MNIST train (images + labels, gzip) into /dev/null; peer: gzip + NumPy
gz_mb=$(du -m "$w/train-images-idx3-ubyte.gz" | cut -f1)
t_tp=$(best 5 "$bin/idx2raw $w/train-images-idx3-ubyte.gz $w/train-labels-idx1-ubyte.gz >/dev/null")
t_np=$(best 5 "$NP - <<'PY'
import gzip, numpy as np, sys
x = np.frombuffer(gzip.open('$w/train-images-idx3-ubyte.gz').read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
y = np.frombuffer(gzip.open('$w/train-labels-idx1-ubyte.gz').read(), np.uint8, offset=8).astype(np.int32)
r = np.empty(len(x), [('x', 'u1', (28, 28, 1)), ('y', '<i4')]); r['x'] = x; r['y'] = y
open('/dev/null', 'wb').write(r.tobytes())
PY")
row "idx2raw MNIST train .gz (${gz_mb} MB) -> /dev/null" "$(f3 "$t_tp")" "$(f3 "$t_np")" "$(awk -v a="$t_np" -v b="$t_tp" 'BEGIN {printf "%.2f", a / b}')"
t_tp2=$(best 5 "$bin/idx2raw $D/train-images-idx3-ubyte $D/train-labels-idx1-ubyte >/dev/null")
t_np2=$(best 5 "$NP - <<'PY'
import numpy as np
x = np.fromfile('$D/train-images-idx3-ubyte', np.uint8, offset=16).reshape(-1, 28, 28, 1)
y = np.fromfile('$D/train-labels-idx1-ubyte', np.uint8, offset=8).astype(np.int32)
r = np.empty(len(x), [('x', 'u1', (28, 28, 1)), ('y', '<i4')]); r['x'] = x; r['y'] = y
open('/dev/null', 'wb').write(r.tobytes())
PY")
row "idx2raw MNIST train plain (47 MB) -> /dev/null" "$(f3 "$t_tp2")" "$(f3 "$t_np2")" "$(awk -v a="$t_np2" -v b="$t_tp2" 'BEGIN {printf "%.2f", a / b}')"

# 2. a 9 GB stream (60000 x 224x224x3 u8 + i32 label) through tinfo; peer: NumPy stats
#    over the same pipe in 64 MiB chunks. The producer is a header + zero bytes.
n=60000
rs=$((224 * 224 * 3 + 4))
bytes=$((n * rs))
hdr=$w/big.hdr
printf 'TPIPE 1\nfield x u8 224 224 3\nfield y i32\ncount %d\nend' $n >"$hdr.txt"
len=$(stat -c %s "$hdr.txt")
{ cat "$hdr.txt"; printf '%*s\n' $(( (len + 1 + 63) / 64 * 64 - len - 1 )) ''; } >"$hdr"
produce="cat $hdr; head -c $bytes /dev/zero"
t_pipe=$(best 2 "{ $produce; } | dd bs=1M of=/dev/null status=none")
t_tp3=$(best 2 "{ $produce; } | $bin/tinfo >/dev/null")
rss=$(peak_kib "{ $produce; } | $bin/tinfo")
t_np3=$(best 2 "{ $produce; } | $NP -c '
import sys, numpy as np
f = sys.stdin.buffer; hl = len(open(\"$hdr\", \"rb\").read()); f.read(hl)
rs = $rs; chunk = (64 << 20) // rs * rs; mn, mx, s = 255, 0, 0
while True:
    b = f.read(chunk)
    if not b: break
    r = np.frombuffer(b, np.uint8).reshape(-1, rs)[:, :rs - 4]
    mn = min(mn, int(r.min())); mx = max(mx, int(r.max())); s += int(r.sum(dtype=np.uint64))
'")
gb=$(awk -v b="$bytes" 'BEGIN {printf "%.2f", b / 1e9}')
row "tinfo of a ${gb} GB stream (pipe)" "$(f3 "$t_tp3")" "$(f3 "$t_np3")" "$(awk -v a="$t_np3" -v b="$t_tp3" 'BEGIN {printf "%.2f", a / b}')"

# 3. resize: 4800 MNIST images to 224x224x3 u8 (the VGG16 notebook); peer: torch interpolate
#    (bilinear, align_corners=False), gray to RGB, rounded to u8, the same bytes written out.
TORCH=0
"$NP" -c 'import torch' 2>/dev/null && TORCH=1
"$bin/idx2raw" -n 4800 "$D/train-images-idx3-ubyte" "$D/train-labels-idx1-ubyte" -o "$w/m4800.tp"
"$bin/tp2npy" -f x "$w/m4800.tp" -o "$w/m4800.npy"
t_rs=$(best 3 "$bin/idx2raw -n 4800 $D/train-images-idx3-ubyte $D/train-labels-idx1-ubyte | $bin/resize 224x224 --rgb >/dev/null")
t_rt=-
if [ $TORCH = 1 ]; then
    t_rt=$(best 3 "$NP - <<'PY'
import numpy as np, torch, torch.nn.functional as F
torch.set_num_threads($(nproc))
x = torch.from_numpy(np.load('$w/m4800.npy')).permute(0, 3, 1, 2).float()
out = open('/dev/null', 'wb')
for b in range(0, len(x), 64):
    y = F.interpolate(x[b:b + 64], size=(224, 224), mode='bilinear', align_corners=False)
    y = y.round_().clamp_(0, 255).to(torch.uint8)  # one channel to u8 first, then replicate
    out.write(y.permute(0, 2, 3, 1).expand(-1, -1, -1, 3).contiguous().numpy().tobytes())
PY")
fi
row "resize 4800 x 28x28 -> 224x224x3 u8" "$(f3 "$t_rs")" "$(f3 "$t_rt")" "$(awk -v a="$t_rt" -v b="$t_rs" 'BEGIN {if (a == "-") print "-"; else printf "%.2f", a / b}')"

# 4. augment at 128x128x3 (the JPEG notebook's generator) over 4800 images; peer: torch
#    affine_grid + grid_sample (bilinear, border fill) with random matrices of the same kind.
"$bin/resize" 128x128 --rgb <"$w/m4800.tp" >"$w/m128.tp"
"$bin/tp2npy" -f x "$w/m128.tp" -o "$w/m128.npy"
aug="--rotation 40 --width-shift 0.2 --height-shift 0.2 --shear 0.2 --zoom 0.2"
t_au=$(best 3 "$bin/augment $aug <$w/m128.tp >/dev/null")
t_at=-
if [ $TORCH = 1 ]; then
    t_at=$(best 3 "$NP - <<'PY'
import math, numpy as np, torch, torch.nn.functional as F
torch.set_num_threads($(nproc))
g = torch.Generator().manual_seed(1)
x = np.load('$w/m128.npy', mmap_mode='r')
out = open('/dev/null', 'wb')
for b in range(0, len(x), 64):
    t = torch.from_numpy(np.array(x[b:b + 64])).permute(0, 3, 1, 2).float()
    n = len(t)
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=g)
    th, sh = u(-40, 40) * math.pi / 180, u(-0.2, 0.2) * math.pi / 180
    zx, zy, tx, ty = u(0.8, 1.2), u(0.8, 1.2), u(-0.4, 0.4), u(-0.4, 0.4)
    m = torch.zeros(n, 2, 3)
    m[:, 0, 0] = torch.cos(th) * zx; m[:, 0, 1] = -torch.sin(th + sh) * zy; m[:, 0, 2] = tx
    m[:, 1, 0] = torch.sin(th) * zx; m[:, 1, 1] = torch.cos(th + sh) * zy; m[:, 1, 2] = ty
    grid = F.affine_grid(m, t.shape, align_corners=False)
    y = F.grid_sample(t, grid, mode='bilinear', padding_mode='border', align_corners=False)
    out.write(y.permute(0, 2, 3, 1).round().clamp(0, 255).to(torch.uint8).contiguous().numpy().tobytes())
PY")
fi
row "augment 4800 x 128x128x3 (notebook's ranges)" "$(f3 "$t_au")" "$(f3 "$t_at")" "$(awk -v a="$t_at" -v b="$t_au" 'BEGIN {if (a == "-") print "-"; else printf "%.2f", a / b}')"
[ $TORCH = 1 ] || echo "(no PyTorch here: install python3-torch for the resize/augment peers)"

# 5. training and inference of the networks beside PyTorch, images/s (tests/bench/conv.sh)
echo
"$root/tests/bench/conv.sh"

echo
echo "tinfo: $(awk -v b="$bytes" -v t="$t_tp3" 'BEGIN {printf "%.2f", b / t / 1e9}') GB/s, peak RSS $((rss / 1024)) MiB;" \
     "the bare pipe read into user space (producer | dd bs=1M): $(awk -v b="$bytes" -v t="$t_pipe" 'BEGIN {printf "%.2f", b / t / 1e9}') GB/s"
echo "idx2raw .gz: $(awk -v t="$t_tp" 'BEGIN {printf "%.0f", 47.3 / t}') MB/s of output"

# 6. PCA, t-SNE and Gaussian mixtures beside scikit-learn (needs python3-sklearn)
echo
if "$NP" -c 'import sklearn' 2>/dev/null; then
    row "job" "tpipe s" "peer s" "peer/tp"
    "$root/tests/bench/pca.sh" | grep -v '^job'
    "$root/tests/bench/cluster.sh"
else
    echo "(PCA, t-SNE and GMM rows need scikit-learn: apt-get install python3-sklearn)"
fi
