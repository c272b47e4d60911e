#!/usr/bin/env bash
# The main job on real MNIST (make demo), about 8 minutes on 2 cores:
#   1. ingest both MNIST sets, inspect them, prove the NumPy bridge loses nothing;
#   2. the best MNIST recipe (pipelines/mnist.sh best) for EPOCHS epochs (default 4 of its
#      18), scored once on the 10 000 test images: confusion heatmap, training curves,
#      sample digits with the mistakes in red;
#   3. the clustering runs (pipelines/cluster.sh): the first notebook's 4800 images in 3-D,
#      and all 70 000 images (SIZE) in 2-D, clusters scored by majority vote;
#   4. out/demo/index.html, a page with the figures and pictures.
# DEVICE=cuda (cuda:N, cpu, auto), PRECISION=fp32|tf32|bf16, EPOCHS and SIZE pass through to
# pipelines/mnist.sh and pipelines/cluster.sh, which give the device to train, predict, tsne and gmm.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
data=$root/data/mnist
out=$root/out/demo
mkdir -p "$out"
export TP_PROGRESS=${TP_PROGRESS:-1}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }
t_all=$(now)

for set in train t10k; do
    t0=$(now)
    "$bin/idx2raw" "$data/$set-images-idx3-ubyte" "$data/$set-labels-idx1-ubyte" -o "$out/$set.tp"
    echo "== $set: idx2raw took $(since "$t0") s"
    "$bin/tinfo" "$out/$set.tp" | tee "$out/$set.info"
done
"$bin/tp2npy" "$out/train.tp" -m "$out/train.meta" -o "$out/train.npy"
"$bin/npy2tp" "$out/train.npy" -m "$out/train.meta" | cmp - "$out/train.tp"
echo "== train.tp -> train.npy -> stream: byte-identical"

epochs=${EPOCHS:-4}
echo "== the best MNIST recipe, $epochs epochs (pipelines/mnist.sh best)"
t0=$(now)
EPOCHS=$epochs "$root/pipelines/mnist.sh" best
t_best=$(since "$t0")
m=$root/out/mnist-best
"$bin/confmat" --png "$out/confusion.png" --title "Test set: mnist-best, $epochs epochs" "$m/test-pred.tp" >"$out/confmat.txt"
"$bin/plot" -o "$out/curves.png" --title "mnist-best: training curves" "$m/history.tp"
"$bin/montage" --sample -n 40 "$m/test-pred.tp" -o "$out/digits.png"
acc=$(awk '/^Accuracy/ {print 100 * $2; exit}' "$out/confmat.txt")
wrong=$(awk '/^Accuracy/ {gsub(/\(/, "", $3); print 10000 - $3; exit}' "$out/confmat.txt")

echo "== clustering: the notebook's 4800 images (3-D), then ${SIZE:-70000} images (2-D)"
for run in notebook full; do
    t0=$(now)
    "$root/pipelines/cluster.sh" $run
    eval "t_$run=$(since "$t0")"
    c=$root/out/mnist-cluster-$run
    cp "$c/confusion.png" "$out/cluster-$run-confusion.png"
    cp "$c/scatter.png" "$out/cluster-$run-scatter.png"
    cp "$c/confmat.txt" "$out/cluster-$run-confmat.txt"
done
cacc() { awk '/^Accuracy/ {printf "%.2f", 100 * $2; exit}' "$root/out/mnist-cluster-$1/confmat.txt"; }
ckl() { grep -a -m1 '^meta tsne_kl ' "$root/out/mnist-cluster-$1/emb.tp" | cut -d' ' -f3; }
t_total=$(since "$t_all")

# the page: figures first, then the pictures, all files beside it
esc() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' "$1"; }
cat >"$out/index.html" <<EOF
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tpipe demo: MNIST</title>
<style>
body { font-family: sans-serif; max-width: 1250px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; } td, th { padding: 0.3em 0.9em; border-bottom: 1px solid #e5e5e5; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
.pair { display: flex; gap: 1em; flex-wrap: wrap; } .pair figure { flex: 1 1 500px; margin: 0; }
figcaption { color: #555; font-size: 0.9em; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
</style>
</head>
<body>
<h1>tpipe on MNIST</h1>
<p>Made by <code>make demo</code> on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), in $(awk -v t="$t_total" 'BEGIN {printf "%d min %d s", t / 60, t % 60}').</p>

<h2>Figures</h2>
<table>
<tr><th>job</th><th>result</th><th>the notebook</th><th>time</th></tr>
<tr><td>Classifier: best MNIST recipe, $epochs epochs, test set (10 000 images, scored once)</td><td class="n">$acc %</td><td class="n">97&ndash;98 % (VGG16), 95.2 % (CNN)</td><td class="n">$t_best s</td></tr>
<tr><td>Clustering: notebook's 4800 images, PCA 50 &rarr; 3-D t-SNE &rarr; GMM(10), majority vote</td><td class="n">$(cacc notebook) % (t-SNE KL $(ckl notebook))</td><td class="n">83.6 %, 157 s</td><td class="n">$t_notebook s</td></tr>
<tr><td>Clustering: ${SIZE:-70000} images, PCA 50 &rarr; 2-D t-SNE &rarr; GMM(10), majority vote</td><td class="n">$(cacc full) % (t-SNE KL $(ckl full))</td><td class="n"></td><td class="n">$t_full s</td></tr>
</table>

<h2>Classifier</h2>
<div class="pair">
<figure><img src="curves.png" alt="training curves"><figcaption>Accuracy and loss by epoch, training and held-out validation (5000 training images kept aside).</figcaption></figure>
<figure><img src="confusion.png" alt="confusion matrix of the classifier"><figcaption>Confusion matrix on the test set: $wrong mistakes in 10 000.</figcaption></figure>
</div>
<figure><img src="digits.png" alt="sample test digits with predictions"><figcaption>Test digits drawn at random with the predicted class; mistakes in red.</figcaption></figure>
<pre>$(esc "$out/confmat.txt")</pre>

<h2>Clustering without labels</h2>
<div class="pair">
<figure><img src="cluster-full-scatter.png" alt="t-SNE of MNIST"><figcaption>2-D t-SNE of ${SIZE:-70000} images, coloured by their true label.</figcaption></figure>
<figure><img src="cluster-full-confusion.png" alt="cluster confusion matrix"><figcaption>GMM clusters named by majority vote against the true labels.</figcaption></figure>
</div>
<div class="pair">
<figure><img src="cluster-notebook-scatter.png" alt="3-D t-SNE of the notebook's images"><figcaption>The notebook's 4800 images in 3-D.</figcaption></figure>
<figure><img src="cluster-notebook-confusion.png" alt="notebook cluster confusion matrix"><figcaption>Their clusters against the labels.</figcaption></figure>
</div>
<p>Everything here can be rerun stage by stage: <code>pipelines/mnist.sh</code>, <code>pipelines/cluster.sh</code>, and the programs' manuals (<code>man -l tools/tsne.1</code>).</p>
</body>
</html>
EOF
echo "== classifier: $acc % on the test set; clusters: $(cacc notebook) % (notebook), $(cacc full) % (full); $t_total s in all"
echo "demo: open $out/index.html"
