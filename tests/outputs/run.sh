#!/usr/bin/env bash
# tests/outputs/run.sh — what every program writes, as sha256 sums, for changes that must not
# change behaviour (make check-outputs).
#
#   tests/outputs/run.sh                check the outputs against tests/outputs/sums.txt
#   tests/outputs/run.sh --record       write tests/outputs/sums.txt anew
#   tests/outputs/run.sh --record FILE  ... or FILE; a FILE after no flag is checked instead
#
# A fixed set of commands over every program (idx2raw, split, resize, augment, montage,
# raw2img, img2raw, tp2npy, npy2tp, tp2csv, tinfo, train, predict, wimport, graft, confmat,
# pca, tsne, gmm, plot and the tpipe front command) on small inputs cut from MNIST's test
# set, with fixed seeds and thread counts and --device cpu. Each output (a model, a stream,
# a picture, a text report) is hashed; a line of sums.txt is "SHA256  NAME". Floating-point
# results depend on the CPU and the BLAS kernels it picks, so sums recorded on one machine
# are compared on the same machine: record before a change, check after it.
# Needs data/mnist (make data) and $BIN (default bin/); OUTPUTS_DIR=DIR keeps the outputs in DIR.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BIN=${BIN:-$root/bin}
mode=check sums=$here/sums.txt
case "${1:-}" in
    --record) mode=record; sums=${2:-$sums} ;;
    "") ;;
    -*) echo "outputs: unknown option '$1'" >&2; exit 2 ;;
    *) sums=$1 ;;
esac
mnist=${MNIST_DIR:-$root/data/mnist}
[ -e "$mnist/t10k-images-idx3-ubyte" ] || [ -e "$mnist/t10k-images-idx3-ubyte.gz" ] ||
    { echo "outputs: no MNIST in $mnist (make data)" >&2; exit 77; }
im=$(ls "$mnist"/t10k-images-idx3-ubyte* | head -1)
lb=$(ls "$mnist"/t10k-labels-idx1-ubyte* | head -1)
if [ -n "${OUTPUTS_DIR:-}" ]; then   # keep the outputs there, to look at them
    W=$OUTPUTS_DIR; rm -rf "$W"; mkdir -p "$W"; W=$(cd "$W" && pwd)
else
    W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
fi
cd "$W" || exit 1
export TP_PROGRESS=0 TPIPE_CUDA_LIB=/nonexistent TP_THREADS=2
got=$W/sums.txt
: >"$got"
bad=0

# out NAME CMD...: runs CMD (stdout to $W/NAME), records the sum of its output
out() {
    local name=$1
    shift
    if ! "$@" >"$name" 2>"$name.err"; then
        echo "outputs: $name: '$*' failed: $(tail -n 3 "$name.err")" >&2
        bad=1
    fi
    sha256sum "$name" >>"$got"
}
# file NAME: records the sum of a file a command wrote by name
file() { sha256sum "$1" >>"$got"; }
# run CMD...: a command whose outputs are recorded with file
run() { "$@" 2>"last.err" || { echo "outputs: '$*' failed: $(tail -n 3 "last.err")" >&2; bad=1; }; }
B=$BIN

# data: 1200 test images, 1000 / 200 by class
out all.tp "$B/idx2raw" "$im" "$lb"
out small.tp "$B/split" --take 1200 --seed 3 "all.tp"
run "$B/split" --ratio 0.8333334 --seed 5 --train "tr.tp" --test "va.tp" "small.tp"
file tr.tp; file va.tp
out tinfo.txt "$B/tinfo" "small.tp"
out tpipe-tinfo.txt "$B/tpipe" tinfo --header "va.tp"

# images
out r14.tp "$B/resize" 14x14 -t 2 "va.tp"
out r32n.tp "$B/resize" 32x32 -m nearest --rgb -t 2 "va.tp"
out r20a.tp "$B/resize" 20x20 -m area --float "va.tp"
out aug.tp "$B/augment" --rotation 20 --width-shift 0.1 --height-shift 2 --shear 10 --zoom 0.2 --seed 9 -t 2 "va.tp"
out augc.tp "$B/augment" -k 2 --zoom-range 1.1,1.3 --hflip --fill constant --cval 40 --float --seed 4 "va.tp"
out montage.png "$B/montage" --sample -n 30 --cols 6 --seed 2 "va.tp"
run "$B/split" --take 40 --seed 1 --train "forty.tp" "va.tp"
run "$B/raw2img" --png pngs forty.tp
run "$B/raw2img" --jpeg -Q 90 jpgs forty.tp
find pngs jpgs -type f | sort | xargs sha256sum >imgdirs.txt
file imgdirs.txt
out fromdir.tp "$B/img2raw" -t 2 "pngs"
out fromjpg.tp "$B/img2raw" --size 32x32 --rgb --names -t 2 "jpgs"

# bridges
out va.npy "$B/tp2npy" -m "va.meta" "va.tp"
file va.meta
out back.tp "$B/npy2tp" -m "va.meta" "va.npy"
out va.csv "$B/tp2csv" --fields y,x "forty.tp"

# networks: a small CNN with Adam and a checkpoint; batch norm, dropout, SGD, a schedule,
# smoothing and augmentation; fine-tuning with frozen layers
printf 'conv 6 3x3 relu\nmaxpool 2\nconv 8 3x3 relu pad=same\nmaxpool 2\nflatten\ndense 32 relu\ndense 10 softmax\n' >"cnn.net"
printf 'conv 4 3x3 relu stride=2\nbatchnorm\navgpool 2\nflatten\ndropout 0.3\ndense 10 softmax\n' >"bn.net"
run "$B/train" --device cpu -t 2 --net "cnn.net" --val "va.tp" --epochs 2 --batch 32 --seed 7 \
    -c "ck.tp" --history "hist.tp" -o "cnn.tp" "tr.tp"
file cnn.tp; file ck.tp
out hist.csv "$B/tp2csv" --fields epoch,loss,accuracy,val_loss,val_accuracy,lr hist.tp   # not the seconds
run "$B/train" --device cpu -t 2 --net "bn.net" --epochs 2 --batch 50 --optimizer sgd --lr 0.05 --momentum 0.9 \
    --nesterov --schedule cosine --smoothing 0.1 --decay 1e-4 --rotation 10 --seed 3 -o "bn.tp" "tr.tp"
file bn.tp
run "$B/train" --device cpu -t 1 --init "cnn.tp" --freeze 2 --epochs 1 --batch 16 --optimizer adagrad --lr 0.01 \
    --schedule step --step-every 1 --seed 2 -o "ft.tp" "tr.tp"
file ft.tp
out summary.txt sh -c '"$1" --device cpu --net "$2" --summary --epochs 1 "$3" 2>&1 >/dev/null | grep -v "^Epoch"' \
    _ "$B/train" "cnn.net" "forty.tp"
out pred.tp "$B/predict" --device cpu -t 2 -i va.tp cnn.tp
out feat.tp "$B/predict" --device cpu -t 2 -b 7 --features base -i va.tp cnn.tp
out predfiles.txt sh -c '"$1" --device cpu cnn.tp $(find pngs -type f | sort | head -8)' _ "$B/predict"
printf 'flatten\ndense 10 softmax\n' >"head.net"
run "$B/train" --device cpu -t 2 --net "head.net" --epochs 2 --seed 1 -o "head.tp" "feat.tp"
out graft.tp "$B/graft" "cnn.tp" "head.tp"
fx=$root/tests/fixtures
out wimport-js.tp "$B/wimport" -q --net "$fx/vgg_tiny.net" --input 64x32x3 --seed 5 "$fx/vgg_tiny_tfjs"
if "$B/wimport" --list "$fx/vgg_tiny_full.h5" >/dev/null 2>&1; then   # built with libhdf5
    out wimport-h5.tp "$B/wimport" -q --net "$fx/vgg_tiny.net" --input 64x32x3 --preprocess tf "$fx/vgg_tiny_full.h5"
    out wimport-list.txt "$B/wimport" --list "$fx/vgg_tiny_full.h5"
fi

# reports
out confmat.txt "$B/confmat" "pred.tp"
out confmat.json "$B/confmat" --json --normalize true "pred.tp"
out confmat-png.txt "$B/confmat" --png "confmat.png" --normalize pred --title "CNN" -o "mapped.tp" "pred.tp"
file confmat.png; file mapped.tp
# the curves without the seconds field, which differs from run to run
out hist0.tp "$B/npy2tp" epoch=<("$B/tp2npy" -f epoch hist.tp) loss=<("$B/tp2npy" -f loss hist.tp) \
    accuracy=<("$B/tp2npy" -f accuracy hist.tp) val_loss=<("$B/tp2npy" -f val_loss hist.tp) \
    val_accuracy=<("$B/tp2npy" -f val_accuracy hist.tp)
out curves.png "$B/plot" --title "history" hist0.tp

# clustering
out pca10.tp "$B/pca" -q -k 10 --save "pca.model.tp" "small.tp"
file pca.model.tp
out pcaw.tp "$B/pca" -q -k 0.8 --whiten --method gram "va.tp"
out pcaapply.tp "$B/pca" -q --model "pca.model.tp" "va.tp"
out pcarand.tp "$B/pca" -q -k 5 --method randomized --seed 8 "va.tp"
out tsne2.tp "$B/tsne" --device cpu -t 2 -d 2 --iters 300 --method exact "pcaapply.tp"
out tsne3.tp "$B/tsne" --device cpu -t 2 -d 3 --iters 300 --method bh --perplexity 20 "pca10.tp"
out tsne1.tp "$B/tsne" --device cpu -t 2 -d 1 --iters 250 --method fft --init random --seed 4 "pca10.tp"
out tsnekl.txt sh -c '"$1" --fields x "$2" >/dev/null; "$3" --device cpu -t 2 --kl-of x -d 2 "$2"' _ "$B/tp2csv" "tsne2.tp" "$B/tsne"
out gmm.tp "$B/gmm" --device cpu -t 2 -q -k 10 --seed 3 -o "gmm.model.tp" "tsne3.tp"
file gmm.model.tp
out gmmdiag.tp "$B/gmm" --device cpu -t 2 -q -k 6 --covariance diag --resp --n-init 3 --init k-means++ "pca10.tp"
out gmmtied.tp "$B/gmm" --device cpu -t 2 -q -k 4 --covariance tied --init random "tsne2.tp"
out gmmsph.tp "$B/gmm" --device cpu -t 2 -q -k 5 --covariance spherical --init random_from_data --max-iter 20 "tsne2.tp"
out gmmapply.tp "$B/gmm" --device cpu -q --model "gmm.model.tp" "tsne3.tp"
out gmminit.tp "$B/gmm" --device cpu -q --init-model "gmm.model.tp" "tsne3.tp"
out cluster.txt "$B/confmat" -f cluster "gmm.tp"
out cluster.json "$B/confmat" -f cluster --map hungarian --json "gmm.tp"
out scatter2.png "$B/plot" --color cluster --seed 2 "gmmtied.tp"
out scatter3.png "$B/plot" --view 20,-50 "tsne3.tp"
out pairs.png "$B/plot" --pairs --size 900x300 "tsne3.tp"

n=$(wc -l <"$got")
if [ "$mode" = record ]; then
    { echo "# tests/outputs/run.sh --record on $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(date -u +%Y-%m-%d)"
      cat "$got"; } >"$sums"
    echo "outputs: $n sums recorded in $sums"
    exit $bad
fi
[ -e "$sums" ] || { echo "outputs: no $sums (record it first with --record)" >&2; exit 1; }
diff <(grep -v '^#' "$sums" | awk '{print $2, $1}' | sort) <(awk '{print $2, $1}' "$got" | sort) >"diff"
if [ -s "diff" ]; then
    echo "outputs: these differ from $sums:" >&2
    awk '/^[<>]/ {print $2}' "diff" | sort -u | sed 's/^/  /' >&2
    exit 1
fi
[ "$bad" = 0 ] || exit 1
echo "outputs: all $n outputs equal $sums"
