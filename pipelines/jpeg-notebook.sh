#!/usr/bin/env bash
# The JPEG notebook as a pipeline: MNIST as JPEG files in class folders, read back at
# 128x128x3, split 80/20 by class, the notebook's CNN trained with its augmentation ranges
# (but no horizontal flip: a mirrored digit is another digit or none), the best checkpoint
# by validation accuracy, then predictions for a folder of unlabelled JPEGs as name,label
# CSV, as the notebook's last cell does by hand. Outputs in out/jpeg-notebook/
# (out/fashion-jpeg-notebook/ with DATA=fashion).
#
#   SIZE=N        training images taken from MNIST (default 12000: a CPU-sized run; the
#                 notebook had 42000 and GPUs)
#   EPOCHS=N      (default 10, as the notebook)
#   DATA=fashion  Fashion-MNIST instead
#   DEVICE=cuda   (cuda:N, cpu, auto) and PRECISION=fp32|tf32|bf16 for train and predict
#                 (unset: the programs' own default, auto: a GPU when one works)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
data=${DATA:-mnist}
case $data in mnist | fashion) ;; *) echo "jpeg-notebook: DATA is mnist or fashion, not '$data'" >&2; exit 2 ;; esac
dev=()
[ -z "${DEVICE:-}${PRECISION:-}" ] || dev=(--device "${DEVICE:-auto}" --precision "${PRECISION:-fp32}")
d=$root/data/$data
[ -f "$d/train-labels-idx1-ubyte" ] || [ -f "$d/train-labels-idx1-ubyte.gz" ] || "$root/tools/getdata.sh" "$data"
f() { [ -f "$d/$1" ] && echo "$d/$1" || echo "$d/$1.gz"; }
out=$root/out/jpeg-notebook
[ "$data" = mnist ] || out=$root/out/$data-jpeg-notebook
rm -rf "$out/jpg" "$out/unlabelled"
mkdir -p "$out"
# 1. the data set as the notebook found it: JPEG files in one folder per class
"$bin/idx2raw" "$(f train-images-idx3-ubyte)" "$(f train-labels-idx1-ubyte)" |
    "$bin/split" --take "${SIZE:-12000}" -q | "$bin/raw2img" --jpeg "$out/jpg"
# 2. flow_from_directory(target_size=(128, 128)): nearest resampling, RGB; 80/20 by class
"$bin/img2raw" --size 128x128 --rgb "$out/jpg" | "$bin/split" --ratio 0.8 --train "$out/train.tp" --test "$out/val.tp"
# 3. the notebook's CNN, Adam, batch 32, its augmentation without the flip
t0=$(date +%s)
"$bin/train" "${dev[@]}" --net "$root/pipelines/nets/notebook-cnn.net" --epochs "${EPOCHS:-10}" --batch 32 \
    --rotation 40 --width-shift 0.2 --height-shift 0.2 --shear 0.2 --zoom 0.2 \
    --val "$out/val.tp" -c "$out/best.tp" --overwrite --history "$out/history.tp" <"$out/train.tp" >"$out/last.tp"
t1=$(date +%s)
"$bin/predict" "${dev[@]}" "$out/best.tp" <"$out/val.tp" >"$out/val-pred.tp"
# 4. a folder of unlabelled JPEGs (the first 20 MNIST test digits) named back to classes
"$bin/idx2raw" -n 20 "$(f t10k-images-idx3-ubyte)" | "$bin/raw2img" --jpeg "$out/unlabelled"
"$bin/img2raw" --size 128x128 --rgb "$out/unlabelled" | "$bin/predict" "${dev[@]}" "$out/best.tp" |
    "$bin/tp2csv" --text name --fields name,pred | sed '1s/.*/name,label/' >"$out/unlabelled.csv"
"$bin/tp2csv" --no-header --fields y,pred "$out/val-pred.tp" |
    awk -F, -v s=$((t1 - t0)) '{c++; r += $1 == $2} END {
        printf "jpeg-notebook: validation accuracy %.2f%% (%d of %d), training took %d s\n", 100 * r / c, r, c, s}' |
    tee "$out/result.txt"
echo "jpeg-notebook: predictions for unlabelled files in $out/unlabelled.csv"
