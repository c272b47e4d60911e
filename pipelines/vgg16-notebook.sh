#!/usr/bin/env bash
# The VGG16 notebook as a pipeline: 10 % of MNIST's training set (6000 images) resized to
# 224x224 RGB, split 80/20, VGG16's ImageNet base frozen under the notebook's head
# (Flatten, Dense 128 relu, Dropout 0.5, Dense 10 softmax), Adam, batch 32, 10 epochs; then
# the confusion matrix and the training curves. A frozen base gives each image the same
# output in every epoch, so it runs once (predict --features base) and the head trains on
# what it wrote: one pass through VGG16 and ten cheap head passes. graft joins base and
# head into one model that predict runs on images. Outputs in out/vgg16-notebook/
# (out/fashion-vgg16-notebook/ with DATA=fashion).
#
#   WEIGHTS=PATH     Keras' vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 (read with a
#                    libhdf5 build) or its TensorFlow.js conversion (a folder with model.json)
#   PREPROCESS=MODE  rescale (the notebook's x / 255, the default) or caffe (Keras'
#                    vgg16.preprocess_input, what the ImageNet weights were trained with)
#   DATA=fashion     Fashion-MNIST instead of MNIST
#   SIZE=N           training images taken (default 6000, the notebook's 10 %)
#   EPOCHS=N         head epochs (default 10)
#   FINETUNE=N       then N epochs more with the base's top block unfrozen (default 0)
#   DEVICE=cuda      (cuda:N, cpu, auto) and PRECISION=fp32|tf32|bf16 for train and predict
#                    (unset: the programs' own default, auto: a GPU when one works)
#
# Without WEIGHTS the pipeline says where the file is and shows the same mechanism with a
# base of its own: pipelines/nets/vgg-small.net trained here on Fashion-MNIST at 32x32x3
# (BASE_SIZE images, default 20000, BASE_EPOCHS epochs, default 3), then frozen under the
# notebook's head for MNIST at 32x32x3 (with DATA=fashion the base learns MNIST and the
# head Fashion-MNIST).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
data=${DATA:-mnist}
say() { echo "vgg16-notebook: $*" >&2; }
case $data in mnist) other=fashion ;; fashion) other=mnist ;; *) say "DATA is mnist or fashion, not '$data'"; exit 2 ;; esac
out=$root/out/vgg16-notebook
[ "$data" = mnist ] || out=$root/out/$data-vgg16-notebook
mkdir -p "$out"
dev=()
[ -z "${DEVICE:-}${PRECISION:-}" ] || dev=(--device "${DEVICE:-auto}" --precision "${PRECISION:-fp32}")
fetch() {
    local d=$root/data/$1
    [ -f "$d/train-labels-idx1-ubyte" ] || [ -f "$d/train-labels-idx1-ubyte.gz" ] || "$root/tools/getdata.sh" "$1"
}
f() { [ -f "$root/data/$1/$2" ] && echo "$root/data/$1/$2" || echo "$root/data/$1/$2.gz"; }
now() { date +%s.%N; }
url=https://storage.googleapis.com/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5
prep=${PREPROCESS:-rescale}
case $prep in rescale | caffe) ;; *) say "PREPROCESS is rescale or caffe, not '$prep'"; exit 2 ;; esac

# 1. the base: VGG16 with imported weights, or one trained here on Fashion-MNIST
if [ -n "${WEIGHTS:-}" ]; then
    [ -e "$WEIGHTS" ] || { say "WEIGHTS=$WEIGHTS: no such file or folder"; exit 1; }
    side=224 freeze=14 what="VGG16 (ImageNet weights from $(basename "$WEIGHTS"), $prep)"
    "$bin/wimport" -q --net "$root/pipelines/nets/vgg16.net" --input 224x224x3 --preprocess "$prep" \
        --rescale 0.00392156862745098 -o "$out/base.tp" "$WEIGHTS"
else
    say "no WEIGHTS: VGG16's ImageNet weights are Keras' $(basename "$url") (58 MB), at"
    say "  $url"
    say "  (Keras keeps a copy in ~/.keras/models/); run again with WEIGHTS=path/to/it."
    case $other in fashion) oname=Fashion-MNIST ;; *) oname=MNIST ;; esac
    say "going on with a small VGG-style base trained here on $oname (pipelines/nets/vgg-small.net)"
    side=32 freeze=6 what="vgg-small trained on $oname"
    fetch "$other"
    "$bin/idx2raw" "$(f "$other" train-images-idx3-ubyte)" "$(f "$other" train-labels-idx1-ubyte)" |
        "$bin/split" --take "${BASE_SIZE:-20000}" -q | "$bin/resize" 32x32 --rgb >"$out/$other.tp"
    t0=$(now)
    "$bin/train" "${dev[@]}" --net "$root/pipelines/nets/vgg-small.net" --epochs "${BASE_EPOCHS:-3}" --batch 32 \
        <"$out/$other.tp" >"$out/base.tp"
    say "$oname base trained in $(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.0f", b - a}') s"
fi

# 2. the notebook's data: 10 % of MNIST, resized (tf.image.resize: bilinear) to RGB, 80/20
fetch "$data"
"$bin/idx2raw" "$(f "$data" train-images-idx3-ubyte)" "$(f "$data" train-labels-idx1-ubyte)" |
    "$bin/split" --take "${SIZE:-6000}" -q | "$bin/resize" "${side}x${side}" --rgb |
    "$bin/split" --ratio 0.8 --train "$out/train.tp" --test "$out/val.tp" -q

# 3. the frozen base's output, once
t0=$(now)
"$bin/predict" "${dev[@]}" --features base "$out/base.tp" <"$out/train.tp" >"$out/ftrain.tp"
"$bin/predict" "${dev[@]}" --features base "$out/base.tp" <"$out/val.tp" >"$out/fval.tp"
t1=$(now)
# 4. the notebook's head on it: Adam, batch 32
"$bin/train" "${dev[@]}" --net "$root/pipelines/nets/vgg16-head.net" --epochs "${EPOCHS:-10}" --batch 32 \
    --val "$out/fval.tp" --history "$out/history.tp" <"$out/ftrain.tp" >"$out/head.tp"
t2=$(now)
"$bin/graft" "$out/base.tp" "$out/head.tp" >"$out/model.tp"
"$bin/predict" "${dev[@]}" "$out/head.tp" <"$out/fval.tp" >"$out/val-pred.tp"
# the joined model on images predicts what the head predicted on their features (50 of them)
n=$("$bin/tinfo" --header "$out/val.tp" | head -1 | awk '{print $2 < 50 ? $2 : 50}')
"$bin/split" --take "$n" -q "$out/val.tp" | "$bin/predict" "${dev[@]}" "$out/model.tp" | "$bin/tp2csv" --fields pred >"$out/joined.csv"
"$bin/split" --take "$n" -q "$out/val-pred.tp" | "$bin/tp2csv" --fields pred | cmp -s - "$out/joined.csv" ||
    { say "the joined model disagrees with the head on its own features"; exit 1; }
final=$out/model.tp
# 5. optionally, fine-tuning with the top block unfrozen (through the whole network)
if [ "${FINETUNE:-0}" -gt 0 ]; then
    "$bin/train" "${dev[@]}" --init "$out/model.tp" --freeze "$freeze" --lr 1e-5 --epochs "$FINETUNE" --batch 32 \
        --val "$out/val.tp" --history "$out/finetune-history.tp" <"$out/train.tp" >"$out/model-finetuned.tp"
    "$bin/predict" "${dev[@]}" "$out/model-finetuned.tp" <"$out/val.tp" >"$out/val-pred.tp"
    final=$out/model-finetuned.tp
fi

# 6. the confusion matrix and the training curves
"$bin/confmat" --png "$out/confusion.png" --title "VGG16 notebook: $what" "$out/val-pred.tp" >"$out/confmat.txt"
if [ -x "$bin/plot" ]; then
    "$bin/plot" -o "$out/curves.png" --title "Head on the frozen base: $what" "$out/history.tp"
fi
acc=$("$bin/tp2csv" --no-header --fields y,pred "$out/val-pred.tp" | awk -F, '{r += $1 == $2} END {print r / NR}')
awk -v w="$what" -v a="$acc" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v e="${EPOCHS:-10}" -v m="$final" 'BEGIN {
    printf "vgg16-notebook: %s: validation accuracy %.2f%%; base features %.1f s (once), head %d epochs %.1f s; model %s\n",
        w, 100 * a, t1 - t0, e, t2 - t1, m}' | tee "$out/result.txt"
