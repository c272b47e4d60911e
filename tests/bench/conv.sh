#!/usr/bin/env bash
# tests/bench/conv.sh — the networks' training and inference rates on the CPU beside PyTorch
# (python3-torch) in the same run, both on THREADS threads (default 2): LeNet-5 and the best
# MNIST net at 28x28x1, the JPEG notebook's CNN at 128x128x3, and VGG16's convolutional base
# forward at 224x224x3. Images per second (higher is better), the ratio, each side's share
# of this machine's measured sgemm rate (FLOPs counted as direct convolution: a multiply-add
# is 2, a training image 3 forward passes), and peak memory. OLD=DIR adds the rates of the
# programs in DIR (an earlier build's bin/) measured in the same run. Part of make bench;
# needs data/mnist.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/bin
w=$root/build/bench/conv
mkdir -p "$w"
D=$root/data/mnist
NP=/usr/bin/python3
T=${THREADS:-2}
OLD=${OLD:-}
export TP_PROGRESS=0 TP_THREADS=$T
[ -f "$D/train-images-idx3-ubyte" ] || { echo "conv.sh: no MNIST in data/mnist (run 'make data')" >&2; exit 1; }
TORCH=0
"$NP" -c 'import torch' 2>/dev/null && TORCH=1
cc -O2 -o "$w/sgemm" "$root/tests/bench/sgemm.c" -lopenblas
gflops=$("$w/sgemm" "$T")
nets=$root/pipelines/nets
peers=$root/tests/bench/peers

"$bin/idx2raw" -n 10000 "$D/train-images-idx3-ubyte" "$D/train-labels-idx1-ubyte" -o "$w/m10k.tp"
"$bin/split" --take 6400 -q "$w/m10k.tp" >"$w/m6k.tp"
"$bin/split" --take 640 -q "$w/m10k.tp" | "$bin/resize" 128x128 --rgb >"$w/c640.tp"
"$bin/split" --take 64 -q "$w/m10k.tp" | "$bin/resize" 224x224 --rgb >"$w/v64.tp"
for f in m10k m6k c640 v64; do "$bin/tp2npy" "$w/$f.tp" -o "$w/$f.npy"; done
# a VGG16 model to run (tpipe's random initial weights: the arithmetic of the ImageNet ones)
"$bin/split" --take 2 -q "$w/v64.tp" | "$bin/train" --net "$nets/vgg16.net" -e 1 -b 2 -o "$w/vgg16.tp" 2>/dev/null

# seconds and peak KiB of a command: "SECONDS KIB"
timed() { /usr/bin/time -f '%e %M' bash -c "$1" 2>&1 >/dev/null | tail -1; }
flops() { "$NP" -c "import sys; sys.path.insert(0, '$peers'); import tpnet; print(tpnet.shapes(tpnet.load('$1'), $2))"; }
base_flops() {
    "$NP" -c "
import sys; sys.path.insert(0, '$peers'); import tpnet
ls = tpnet.load('$1'); tpnet.shapes(ls, $2)
n = 0
for l in ls:
    if l['kind'] in ('flatten', 'gap', 'dense'): break
    n += l['flops']
print(n)"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); sgemm ${gflops} GFLOP/s on $T threads"
hdr="%-40s %9s %9s %7s %7s %7s %7s %7s"
printf "$hdr" "images/s, $T threads" "tpipe" "PyTorch" "tp/pt" "tp %pk" "pt %pk" "tp MiB" "pt MiB"
[ -n "$OLD" ] && printf ' %9s %7s' "old" "new/old"
echo
# job: name, net, data, images, mode (train|infer|base), batch, shape for the FLOPs
job() {
    local name=$1 net=$2 data=$3 n=$4 mode=$5 batch=$6 shape=$7 cmd f m
    m=$(basename "$net" .net)
    case $mode in # $B: the programs' folder, $O: the model's name
    train) cmd="\$B/train --net $net --epochs 1 --batch $batch -t $T -o $w/\$O.tp $w/$data.tp"
           f=$((3 * $(flops "$net" "$shape"))) ;;
    infer) cmd="\$B/predict -t $T $w/$m.tp <$w/$data.tp"
           f=$(flops "$net" "$shape") ;;
    base)  cmd="\$B/predict -t $T --features base $w/vgg16.tp <$w/$data.tp"
           f=$(base_flops "$net" "$shape") ;;
    esac
    local s kib tp pt=- ptfmt="" pm=- ratio=- ppk=-
    read -r s kib < <(timed "B=$bin O=$m; $cmd")
    tp=$(awk -v n="$n" -v s="$s" 'BEGIN {printf "%.0f", n / s}')
    if [ $TORCH = 1 ]; then
        /usr/bin/time -f '%M' -o "$w/pt.mem" "$NP" "$peers/cpurate.py" "$net" "$w/$data.npy" "$mode" "$batch" "$T" >"$w/pt.out"
        read -r pt ptfmt <"$w/pt.out"
        pm=$(($(tail -1 "$w/pt.mem") / 1024))
        ratio=$(awk -v a="$tp" -v b="$pt" 'BEGIN {printf "%.2f", a / b}')
        ppk=$(awk -v r="$pt" -v f="$f" -v g="$gflops" 'BEGIN {printf "%.0f%%", 100 * r * f / (g * 1e9)}')
        pt=$(awk -v r="$pt" 'BEGIN {printf "%.0f", r}')
    fi
    printf "$hdr" "$name" "$tp" "$pt" "$ratio" "$(awk -v r="$tp" -v f="$f" -v g="$gflops" 'BEGIN {printf "%.0f%%", 100 * r * f / (g * 1e9)}')" \
        "$ppk" "$((kib / 1024))" "$pm"
    if [ -n "$OLD" ]; then
        local so old
        read -r so _ < <(timed "B=$OLD O=old-$m; $cmd")
        old=$(awk -v n="$n" -v s="$so" 'BEGIN {printf "%.0f", n / s}')
        printf ' %9s %7s' "$old" "$(awk -v a="$tp" -v b="$old" 'BEGIN {printf "%.2f", a / b}')"
    fi
    echo "${ptfmt:+  ($ptfmt)}"
}
job "LeNet-5 train (28x28x1, batch 32)" "$nets/lenet5.net" m10k 10000 train 32 "28, 28, 1"
job "LeNet-5 inference" "$nets/lenet5.net" m10k 10000 infer 64 "28, 28, 1"
job "best MNIST net train (28x28x1, batch 64)" "$nets/mnist-best.net" m6k 6400 train 64 "28, 28, 1"
job "best MNIST net inference" "$nets/mnist-best.net" m10k 10000 infer 64 "28, 28, 1"
job "JPEG notebook CNN train (128x128x3, b 32)" "$nets/notebook-cnn.net" c640 640 train 32 "128, 128, 3"
job "JPEG notebook CNN inference" "$nets/notebook-cnn.net" c640 640 infer 64 "128, 128, 3"
job "VGG16 base forward (224x224x3)" "$nets/vgg16.net" v64 64 base 16 "224, 224, 3"
[ $TORCH = 1 ] || echo "(no PyTorch here: install python3-torch for the peer's columns)"
echo "(%pk: the share of the sgemm rate above, FLOPs as direct convolution; the peer's memory format in brackets;"
echo " tpipe's times include starting the program and reading the data, PyTorch's start after a warm-up batch)"
