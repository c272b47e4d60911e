#!/usr/bin/env bash
# The main job on real MNIST (make demo): ingest both MNIST sets, inspect them, prove the
# NumPy bridge loses nothing, prepare the VGG16 notebook's data (10% of MNIST split 80/20
# by class), train LeNet-5 and score it on the test set, draw sample digits with the
# model's mistakes in red. Outputs go to out/demo/. EPOCHS=N changes the training length.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
data=$root/data/mnist
out=$root/out/demo
mkdir -p "$out"

for set in train t10k; do
    t0=$(date +%s.%N)
    "$bin/idx2raw" "$data/$set-images-idx3-ubyte" "$data/$set-labels-idx1-ubyte" -o "$out/$set.tp"
    t1=$(date +%s.%N)
    echo "== $set: idx2raw took $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}') s"
    "$bin/tinfo" "$out/$set.tp" | tee "$out/$set.info"
done
"$bin/tp2npy" "$out/train.tp" -m "$out/train.meta" -o "$out/train.npy"
"$bin/npy2tp" "$out/train.npy" -m "$out/train.meta" | cmp - "$out/train.tp"
echo "== train.tp -> train.npy -> stream: byte-identical"
"$bin/split" --take 0.1 -q "$out/train.tp" | "$bin/split" --ratio 0.8 --train "$out/small-train.tp" --test "$out/small-val.tp"
echo "== training LeNet-5 on the 60000 training images (${EPOCHS:-3} epochs; checkpoint chosen on 1200 of them)"
"$bin/train" --net "$root/pipelines/nets/lenet5.net" --epochs "${EPOCHS:-3}" --val "$out/small-val.tp" \
    -c "$out/lenet5-best.tp" --history "$out/history.tp" <"$out/train.tp" >"$out/lenet5.tp"
"$bin/predict" "$out/lenet5-best.tp" <"$out/t10k.tp" >"$out/t10k-pred.tp"
"$bin/tp2csv" --no-header --fields y,pred "$out/t10k-pred.tp" |
    awk -F, '{n++; r += $1 == $2} END {printf "== LeNet-5 test accuracy: %.2f%% (%d of %d)\n", 100 * r / n, r, n}'
"$bin/montage" --sample -n 30 "$out/t10k-pred.tp" -o "$out/digits.png"
echo "demo: outputs in $out (streams, reports, train.npy, small-train/val.tp, lenet5*.tp, digits.png)"
