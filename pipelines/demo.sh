#!/usr/bin/env bash
# The main job on real MNIST (make demo). Today: ingest both MNIST sets into streams,
# inspect them, and prove the NumPy bridge loses nothing. Outputs go to out/demo/.
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
echo "demo: outputs in $out (streams, reports, train.npy)"
