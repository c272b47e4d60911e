#!/usr/bin/env bash
# tests/bench/vgg16.sh — the VGG16 notebook's cost on this machine's CPU: 6000 MNIST images at
# 224x224x3, 80/20, a frozen VGG16 base under the notebook's head. Prints the feature pass
# (the base run once), 10 head epochs on the cached features, and one epoch through the
# frozen base measured on SAMPLE images (default 96), extrapolated to the notebook's 10
# epochs of 4800 images with a 1200-image validation pass each. Takes about 25 minutes on
# 2 cores; not part of make bench. VGG16 carries tpipe's random initial weights: the
# arithmetic is that of the ImageNet weights, which cannot be fetched here. TAKE=N uses N
# images instead of 6000; OLD=DIR also times the feature pass by the programs in DIR (an
# earlier build's bin/) on the same files, in the same run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
b=$root/bin
D=$root/data/mnist
w=$root/build/bench/vgg16
mkdir -p "$w"
export TP_PROGRESS=0
. "$root/tests/bench/lib.sh"
take=${TAKE:-6000}
"$b/idx2raw" "$D/train-images-idx3-ubyte" "$D/train-labels-idx1-ubyte" | "$b/split" --take "$take" -q |
    "$b/resize" 224x224 --rgb | "$b/split" --ratio 0.8 --train "$w/tr.tp" --test "$w/va.tp" -q
"$b/split" --take 32 -q "$w/tr.tp" | "$b/train" --net "$root/pipelines/nets/vgg16.net" --epochs 1 -o "$w/v16.tp" 2>/dev/null
t0=$(now); "$b/predict" --features base "$w/v16.tp" <"$w/tr.tp" >"$w/ftr.tp"; t_ftr=$(since "$t0")
t0=$(now); "$b/predict" --features base "$w/v16.tp" <"$w/va.tp" >"$w/fva.tp"; t_fva=$(since "$t0")
t_old=
if [ -n "${OLD:-}" ]; then
    t0=$(now); "$OLD/predict" --features base "$w/v16.tp" <"$w/tr.tp" >"$w/ftr-old.tp"; t_old=$(since "$t0")
fi
t0=$(now)
"$b/train" --net "$root/pipelines/nets/vgg16-head.net" --val "$w/fva.tp" --epochs 10 <"$w/ftr.tp" >"$w/head.tp" 2>/dev/null
t_head=$(since "$t0")
n=${SAMPLE:-96}
"$b/split" --take "$n" -q "$w/tr.tp" >"$w/sample.tp"
t0=$(now)
"$b/train" --init "$w/v16.tp" --freeze 18 --epochs 1 <"$w/sample.tp" >/dev/null 2>&1
t_frozen=$(since "$t0")
ntr=$("$b/tinfo" "$w/tr.tp" | sed -n "1s/.*: \([0-9]*\) records.*/\1/p")
awk -v ftr="$t_ftr" -v fva="$t_fva" -v head="$t_head" -v fr="$t_frozen" -v n="$n" -v take="$take" -v ntr="$ntr" \
    -v old="$t_old" 'BEGIN {
    nva = take - ntr
    per = fr / n; epoch = ntr * per + fva; cached = ftr + fva + head
    printf "%-58s %10s\n", "VGG16 notebook, " take " images at 224x224x3 (2 cores)", "seconds"
    printf "%-58s %10.1f\n", "feature pass, " ntr " training images", ftr
    if (old != "")
        printf "%-58s %10.1f   (%.2f times as long)\n", "  the same by the programs of OLD", old, old / ftr
    printf "%-58s %10.1f\n", "feature pass, " nva " validation images", fva
    printf "%-58s %10.1f\n", "head, 10 epochs on the cached features", head
    printf "%-58s %10.1f\n", "cached route in all", cached
    printf "%-58s %10.1f\n", "one epoch through the frozen base, " n " images", fr
    printf "%-58s %10.0f\n", "10 epochs through the frozen base (extrapolated)", 10 * epoch
    printf "%-58s %10.1f\n", "ratio", 10 * epoch / cached
}'
