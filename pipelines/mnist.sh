#!/usr/bin/env bash
# MNIST recipes: train a network on 55000 training images, choose the checkpoint on the
# other 5000 (held out), and score it once on the 10000 test images, which nothing else
# sees. Outputs in out/mnist-NAME/.
#
#   pipelines/mnist.sh lenet5        LeNet-5, 10 epochs, no augmentation
#   pipelines/mnist.sh best          pipelines/nets/mnist-best.net, augmented, onecycle, 18 epochs
#   pipelines/mnist.sh small         pipelines/nets/mnist-small.net, half the width, 15 epochs
#   pipelines/mnist.sh fast          the speedrun to 99 %: mnist-small.net, 2 epochs, batch 128
#   pipelines/mnist.sh fast-99.5     the speedrun to 99.5 %: mnist-best.net, augmented, 6 epochs
#   DATA=fashion, EPOCHS=N, THREADS=N, SEED=N to change the data, length, threads, seed
#   DEVICE=cuda (cuda:N, cpu, auto) and PRECISION=fp32|tf32|bf16 for train and predict
#   (unset: the programs' own default, auto: a GPU when one works, else the CPU)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
dev=()
[ -z "${DEVICE:-}${PRECISION:-}" ] || dev=(--device "${DEVICE:-auto}" --precision "${PRECISION:-fp32}")
name=${1:-best}
data=${DATA:-mnist}
d=$root/data/$data
[ -f "$d/train-labels-idx1-ubyte" ] || [ -f "$d/train-labels-idx1-ubyte.gz" ] || "$root/tools/getdata.sh" "$data"
f() { [ -f "$d/$1" ] && echo "$d/$1" || echo "$d/$1.gz"; }
out=$root/out/$data-$name${SEED:+-s$SEED}
mkdir -p "$out"
"$bin/idx2raw" "$(f train-images-idx3-ubyte)" "$(f train-labels-idx1-ubyte)" |
    "$bin/split" --take 60000 --ratio 0.9166667 --train "$out/train.tp" --test "$out/held.tp" -q
"$bin/idx2raw" "$(f t10k-images-idx3-ubyte)" "$(f t10k-labels-idx1-ubyte)" -o "$out/test.tp"
case $name in
lenet5) set -- --net "$root/pipelines/nets/lenet5.net" --epochs "${EPOCHS:-10}" ;;
best) set -- --net "$root/pipelines/nets/mnist-best.net" --epochs "${EPOCHS:-18}" --batch 64 \
          --schedule onecycle --lr 0.003 --rotation 10 --width-shift 0.1 --height-shift 0.1 --zoom 0.1 ;;
small) set -- --net "$root/pipelines/nets/mnist-small.net" --epochs "${EPOCHS:-15}" --batch 64 \
          --schedule onecycle --lr 0.003 --rotation 10 --width-shift 0.1 --height-shift 0.1 --zoom 0.1 ;;
fast) set -- --net "$root/pipelines/nets/mnist-small.net" --epochs "${EPOCHS:-2}" --batch 128 \
          --schedule onecycle --lr 0.01 ;;
fast-99.5) set -- --net "$root/pipelines/nets/mnist-best.net" --epochs "${EPOCHS:-6}" --batch 128 \
          --schedule onecycle --lr 0.01 --rotation 10 --width-shift 0.1 --height-shift 0.1 --zoom 0.1 ;;
*) echo "mnist.sh: unknown recipe '$name' (lenet5, best, small, fast, fast-99.5)" >&2; exit 2 ;;
esac
[ -z "${SEED:-}" ] || set -- "$@" --seed "$SEED"
t0=$(date +%s)
"$bin/train" "$@" "${dev[@]}" --threads "${THREADS:-$(nproc)}" --val "$out/held.tp" -c "$out/best.tp" --overwrite \
    --history "$out/history.tp" <"$out/train.tp" >"$out/last.tp"
t1=$(date +%s)
"$bin/predict" "${dev[@]}" "$out/best.tp" <"$out/test.tp" >"$out/test-pred.tp"
"$bin/tp2csv" --no-header --fields y,pred "$out/test-pred.tp" |
    awk -F, -v s=$((t1 - t0)) -v n="$name" '{c++; r += $1 == $2} END {
        printf "%s: test accuracy %.2f%% (%d of %d), training took %d s\n", n, 100 * r / c, r, c, s}' | tee "$out/result.txt"
