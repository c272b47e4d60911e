#!/usr/bin/env bash
# make bench-gpu: tpipe on an NVIDIA GPU beside PyTorch on the same GPU in the same run, with
# the GPU's own measured ceilings for scale. Prints one table (also out/bench-gpu/table.txt):
#
#   a. time to 99 % MNIST test accuracy: pipelines/nets/mnist-small.net, Adam, batch 128,
#      one-cycle to 0.005 over 4 epochs (on the CPU it reaches 0.9912 in epoch 3), the
#      10 000 test images scored after every epoch; the time is the training and scoring
#      seconds up to the first epoch at >= 0.99
#   b. training images/s of the JPEG notebook's CNN at 128x128x3 (MNIST resized), batch 32
#      and 256
#   c. training images/s of VGG16 at 224x224x3, batch 32, backward through the whole network
#   d. t-SNE of 60 000 MNIST images (PCA to 50 first) in 2-D and 3-D: seconds and final KL
#   e. a 10-component full-covariance Gaussian mixture of 70 000 x 50 (PCA of all MNIST),
#      10 EM runs: seconds and mean log-likelihood on the GPU and on the CPU
#   f. floors: the GPU's fp32, tf32 and bf16 matrix-product rates and its memory bandwidth,
#      measured here (PyTorch), and for each row the least time those allow: matrix-product
#      FLOPs (tests/bench/peers/tpnet.py counts them from the network file; a training
#      image costs 3 forward passes) over the measured rate. 'x floor' is how far tpipe is
#      from it (1.0 would be the ceiling itself).
#
# Needs an NVIDIA GPU, nvcc (the build makes build/libtpipe-cuda.so), PyTorch with CUDA for
# the peers and the probe, and data/mnist (make data; nothing is fetched). Builds with make
# -j(cores) first. Refuses to run (exit 1) when 'train --device cuda' does not work. Sized
# for about 5 minutes on an H100 (not yet timed). Knobs: PRECISION=fp32|tf32|bf16 (both sides' training; default
# fp32), PYTHON=interpreter with torch, CUDA_ARCH (default: the GPU's own, from nvidia-smi),
# BENCH_SHORT=1 (the device check's: a quarter of the images for the rates, t-SNE of 20 000
# points, shorter limits; about 2 minutes).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/bin
peers=$root/tests/bench/peers
nets=$root/pipelines/nets
w=$root/out/bench-gpu
D=$root/data/mnist
prec=${PRECISION:-fp32}
die() { echo "bench-gpu: $*" >&2; exit 1; }
case $prec in fp32 | tf32 | bf16) ;; *) die "PRECISION is fp32, tf32 or bf16, not '$prec'" ;; esac
mkdir -p "$w"
export TP_PROGRESS=0
short=${BENCH_SHORT:-0}
nc=8192 nv=512 nt=60000 lim=240
[ "$short" = 1 ] && nc=2048 nv=128 nt=20000 lim=120
. "$root/tests/bench/lib.sh"
cores=$(nproc)

for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    [ -f "$D/$f" ] || [ -f "$D/$f.gz" ] || die "no $f in data/mnist (copy MNIST there or run 'make data')"
done
f() { [ -f "$D/$1" ] && echo "$D/$1" || echo "$D/$1.gz"; }

# PyTorch with CUDA: the peers and the probe
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    for c in python3 /usr/bin/python3; do
        if command -v "$c" >/dev/null && "$c" -c 'import torch, numpy' 2>/dev/null; then PY=$c; break; fi
    done
fi
[ -n "$PY" ] || die "needs PyTorch and NumPy: 'import torch, numpy' fails in python3 and /usr/bin/python3 (PYTHON=path picks another)"
"$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' ||
    die "PyTorch ($("$PY" -c 'import torch; print(torch.__version__)') in $PY) sees no CUDA device"

# the build: CUDA code for this GPU's architecture only, unless CUDA_ARCH says otherwise
arch=
if [ -z "${CUDA_ARCH:-}" ]; then
    cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .') || cap=
    [ -z "$cap" ] || arch="-gencode arch=compute_$cap,code=sm_$cap"
fi
echo "bench-gpu: building (make -j$cores)" >&2
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$root" -j"$cores" --no-print-directory ${arch:+"CUDA_ARCH=$arch"} all \
    >"$w/build.log" 2>&1 || { tail -20 "$w/build.log" >&2; die "the build failed (all of it in $w/build.log)"; }
[ -f "$root/build/libtpipe-cuda.so" ] ||
    die "no build/libtpipe-cuda.so: the build found no nvcc (PATH or /usr/local/cuda/bin), or CUDA=0"
export TPIPE_CUDA_LIB=$root/build/libtpipe-cuda.so

# the data
echo "bench-gpu: preparing the data" >&2
"$bin/idx2raw" "$(f train-images-idx3-ubyte)" "$(f train-labels-idx1-ubyte)" -o "$w/train.tp"
"$bin/idx2raw" "$(f t10k-images-idx3-ubyte)" "$(f t10k-labels-idx1-ubyte)" -o "$w/test.tp"

# --device cuda must work, or nothing below means anything
"$bin/split" --take 256 -q "$w/train.tp" >"$w/tiny.tp"
if ! "$bin/train" --device cuda --precision "$prec" --net "$nets/lenet5.net" --epochs 1 <"$w/tiny.tp" \
    >"$w/tiny-model.tp" 2>"$w/check.log"; then
    tail -5 "$w/check.log" >&2
    die "'train --device cuda' does not work here (above); the GPU figures need it"
fi

"$bin/tp2npy" "$w/train.tp" -o "$w/train.npy"
"$bin/tp2npy" "$w/test.tp" -o "$w/test.npy"
"$bin/idx2raw" -n $nc "$(f train-images-idx3-ubyte)" "$(f train-labels-idx1-ubyte)" |
    "$bin/resize" 128x128 --rgb -o "$w/c128.tp"
"$bin/tp2npy" "$w/c128.tp" -o "$w/c128.npy"
"$bin/idx2raw" -n $nv "$(f train-images-idx3-ubyte)" "$(f train-labels-idx1-ubyte)" |
    "$bin/resize" 224x224 --rgb -o "$w/v224.tp"
"$bin/tp2npy" "$w/v224.tp" -o "$w/v224.npy"
"$bin/split" --take $nt -q "$w/train.tp" | "$bin/pca" -k 50 -q >"$w/p60k.tp"
cat "$w/train.tp" "$w/test.tp" | "$bin/pca" -k 50 -q >"$w/p70k.tp"

# f. the GPU's ceilings
echo "bench-gpu: probing the GPU" >&2
probe=$("$PY" "$peers/probe.py") || die "the probe (tests/bench/peers/probe.py) failed"
eval "$probe" # gpu, fp32, tf32, bf16 (GFLOP/s), bw (GB/s)
rate_p=$(eval echo "\$$prec")

# one step of the table, bounded in time: its exit status, its stderr in $w/NAME.log
step() {
    local name=$1 limit=$2
    shift 2
    echo "bench-gpu: $name" >&2
    local rc=0
    timeout "$limit" "$@" 2>"$w/$name.log" || rc=$?
    [ $rc != 0 ] || return 0
    echo "bench-gpu: $name failed (exit $rc, after at most ${limit} s): $(tail -1 "$w/$name.log")" >&2
    return 1
}
meta() { grep -a -m1 "^meta $2 " "$1" 2>/dev/null | cut -d' ' -f3; }
flops() { "$PY" -c "import sys; sys.path.insert(0, '$peers'); import tpnet; print(tpnet.train_flops('$1', '$2'))"; }
fwd() { "$PY" -c "import sys; sys.path.insert(0, '$peers'); import tpnet; l = tpnet.load('$1'); print(tpnet.shapes(l, *map(int, '$2'.split('x'))))"; }
# arithmetic on figures, '-' when one of them is not a number (failed, not reached)
calc() {
    case $1 in *[!0-9.eE+*/\ \(\)-]*) echo - ; return ;; esac
    awk "BEGIN {v = $1; if (tolower(v \"\") ~ /nan|inf/) print \"-\"; else printf \"$2\", v}" 2>/dev/null || echo -
}
# the larger of a compute floor and a bandwidth floor (seconds), '-' when either is not a number
maxf() { local a b; a=$(calc "$1" %.6f) b=$(calc "$2" %.6f); [ "$a" != - ] && [ "$b" != - ] || { echo -; return; }
    awk -v a="$a" -v b="$b" -v f="$3" 'BEGIN {printf f, (a + 0 > b + 0 ? a : b)}'; }
rows=()
add() { rows+=("$(printf '%-50s %11s %11s %8s %9s %8s  %s' "$@")"); }
# seconds of a history's epoch N (N: 2 is the one after the warm-up)
epoch_s() { "$bin/tp2csv" --no-header --fields seconds "$1" | sed -n "${2}p"; }

# a. MNIST to 99 %
net=$nets/mnist-small.net epochs=4 batch=128 lr=0.005
tp_s=failed tp_note=
if step mnist99-tpipe $lim "$bin/train" --device cuda --precision "$prec" --net "$net" --epochs $epochs --batch $batch \
    --schedule onecycle --lr $lr --val "$w/test.tp" --history "$w/mnist99-hist.tp" -o /dev/null <"$w/train.tp"; then
    read -r tp_s tp_e tp_a < <("$bin/tp2csv" --no-header --fields epoch,val_accuracy,seconds "$w/mnist99-hist.tp" |
        awk -F, '{s += $3; if ($2 >= 0.99) {printf "%.3f %d %.4f\n", s, $1, $2; done = 1; exit}; b = $2 > b ? $2 : b}
                 END {if (!done) printf "not-reached - %.4f\n", b}')
    tp_note="tpipe epoch $tp_e ($tp_a)"
    [ "$tp_s" != not-reached ] || { tp_s="not reached" tp_e=$epochs tp_note="tpipe best $tp_a"; }
fi
pt_s=failed pt_note=
if out=$(step mnist99-torch $lim "$PY" "$peers/mnist99.py" "$net" "$w/train.npy" "$w/test.npy" $epochs $batch $lr "$prec"); then
    read -r pt_s pt_e pt_a <<<"$out"
    pt_note="torch epoch $pt_e ($pt_a)"
    [ "$pt_s" != - ] || { pt_s="not reached"; pt_note="torch best $pt_a"; }
fi
fw=$(fwd "$net" 28x28x1)
floor=$(calc "(3 * $fw * 60000 + $fw * 10000) * ${tp_e:-1} / ($rate_p * 1e9)" %.3f)
add "MNIST to 99 % test accuracy (s)" "$tp_s" "$pt_s" "$(calc "$pt_s / $tp_s" %.2f)" "$floor" \
    "$(calc "$tp_s / $floor" %.1f)" "$tp_note; $pt_note"

# b, c. training images/s; tpipe's from its history (epoch 2, after a warm-up epoch)
rate_row() { # label net shape records.tp records.npy n batch
    local label=$1 net=$2 shape=$3 tp=$4 npy=$5 n=$6 b=$7 name tpr=failed ptr=failed fl
    name=rate-$(basename "$net" .net)-$b
    if step "$name-tpipe" $lim "$bin/train" --device cuda --precision "$prec" --net "$net" --epochs 2 --batch "$b" \
        --history "$w/$name-hist.tp" -o /dev/null <"$tp"; then
        tpr=$(calc "$n / $(epoch_s "$w/$name-hist.tp" 2)" %.0f)
    fi
    ptr=$(step "$name-torch" $lim "$PY" "$peers/rate.py" "$net" "$npy" "$b" "$prec") && ptr=$(calc "$ptr" %.0f) || ptr=failed
    fl=$(calc "$rate_p * 1e9 / $(flops "$net" "$shape")" %.0f)
    add "$label" "$tpr" "$ptr" "$(calc "$tpr / $ptr" %.2f)" "$fl" "$(calc "$fl / $tpr" %.1f)" \
        "$(calc "$(flops "$net" "$shape") / 1e9" %.3f) GFLOP per image"
}
rate_row "notebook CNN 128x128x3, batch 32 (img/s)" "$nets/notebook-cnn.net" 128x128x3 "$w/c128.tp" "$w/c128.npy" $nc 32
rate_row "notebook CNN 128x128x3, batch 256 (img/s)" "$nets/notebook-cnn.net" 128x128x3 "$w/c128.tp" "$w/c128.npy" $nc 256
rate_row "VGG16 224x224x3, batch 32 (img/s)" "$nets/vgg16.net" 224x224x3 "$w/v224.tp" "$w/v224.npy" $nv 32

# d. t-SNE of 60 000 images (20 000 short), 2-D and 3-D (fp32); floor: n^2 pairs x ~20 flops x iterations
n=$nt
for d in 2 3; do
    t=failed kl=- it=1000 method=-
    t0=$(now)
    if step tsne-$d $((lim + 60)) "$bin/tsne" --device cuda -d $d -t "$cores" -o "$w/emb$d.tp" "$w/p60k.tp"; then
        t=$(since "$t0") kl=$(meta "$w/emb$d.tp" tsne_kl) it=$(meta "$w/emb$d.tp" tsne_iterations)
        method=$(meta "$w/emb$d.tp" tsne_method)
    fi
    # bytes per iteration: the sparse P (91 neighbours, index and value) and the embedding, its
    # gradient and update
    floor=$(maxf "20 * $n * $n * $it / ($fp32 * 1e9)" "$n * (91 * 8 + $d * 4 * 4) * $it / ($bw * 1e9)" %.3f)
    add "t-SNE $n x 50 -> $d-D (s)" "$t" - - "$floor" "$(calc "$t / $floor" %.2f)" "KL $kl, $it iterations, $method"
done

# e. GMM(10, full) of 70 000 x 50: 10 EM runs, GPU and CPU; floor: 2 n k d^2 flops per E step
for where in cuda cpu; do
    t=failed ll=- its=0
    t0=$(now)
    if step gmm-$where $((lim + 60)) "$bin/gmm" --device $where -k 10 -t "$cores" -v -o "$w/gmm-$where-model.tp" "$w/p70k.tp" \
        >"$w/gmm-$where.tp"; then
        t=$(since "$t0") ll=$(meta "$w/gmm-$where.tp" gmm_loglik)
        its=$(awk '/run [0-9]+\/[0-9]+: [0-9]+ iterations/ {for (i = 1; i < NF; i++) if ($(i + 1) ~ /^iterations/) s += $i} END {print s + 0}' "$w/gmm-$where.log")
    fi
    # bytes per EM step: the data read twice (E and M steps), the responsibilities written and read
    floor=$(maxf "2 * 70000 * 10 * 50 * 50 * $its / ($fp32 * 1e9)" "70000 * (2 * 50 + 2 * 10) * 4 * $its / ($bw * 1e9)" %.4f)
    label="GMM(10, full) 70 000 x 50, 10 runs, GPU (s)"
    [ $where = cuda ] || label="GMM(10, full) 70 000 x 50, 10 runs, CPU $cores thr (s)"
    if [ $where = cuda ]; then
        add "$label" "$t" - - "$floor" "$(calc "$t / $floor" %.2f)" "mean log-likelihood $ll, $its EM steps"
    else
        add "$label" "$t" - - - - "mean log-likelihood $ll, $its EM steps"
    fi
done

{
    echo "GPU: $gpu; $cores CPU cores; PyTorch $("$PY" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')"
    echo "measured ceilings: matrix products fp32 $fp32, tf32 $tf32, bf16 $bf16 GFLOP/s; memory copy $bw GB/s"
    echo "training precision: $prec (both sides); t-SNE and GMM in fp32"
    echo
    printf '%-50s %11s %11s %8s %9s %8s  %s\n' "job" "tpipe" "PyTorch" "tp/pt" "floor" "x floor" "notes"
    printf '%s\n' "${rows[@]}"
    echo
    echo "tp/pt: how many times faster tpipe is (time rows: PyTorch s / tpipe s; rate rows: tpipe / PyTorch)."
    echo "floor: the least time (s) or the most images/s that the measured $prec matrix-product rate allows"
    echo "  for the matrix-product FLOPs (3 x forward per training image; MNIST adds the scoring passes);"
    echo "  t-SNE: 20 flops for each of n^2 pairs per iteration (the exact gradient) at the fp32 rate;"
    echo "  GMM: 2 n k d^2 flops per EM step at the fp32 rate; for both, the memory traffic at the measured"
    echo "  copy bandwidth when that takes longer. 'x floor': tpipe's distance from it."
    echo "Published anchors, other GPUs: MNIST to 99 % in 0.76 s with PyTorch on a laptop GTX 1660 Ti;"
    echo "  tsne-cuda, 2-D t-SNE of 60 000 MNIST images in 6.98 s (no 3-D anchor)."
} | tee "$w/table.txt"
