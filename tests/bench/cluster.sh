#!/usr/bin/env bash
# tests/bench/cluster.sh — t-SNE + Gaussian-mixture clustering beside scikit-learn, on the
# same inputs in the same run (scikit-learn's TSNE and GaussianMixture with their defaults,
# n_jobs=2). Prints rows of the bench table, then a quality table. Needs data/mnist and
# python3-sklearn. Takes about 15 minutes on 2 cores, most of it scikit-learn's t-SNE.
#
# Inputs (all made by tpipe's idx2raw | split | pca -k 50, the same file for both tools):
#   notebook  the first notebook's 4800 images (80 % of its 10 % of MNIST train)
#   10k       10 000 images of MNIST train
#   70k       all 70 000 images (train + test)
# KL is computed the same way for every embedding: tsne --kl-of (exact P from 3*perplexity
# neighbours, exact normalisation, scikit-learn's dof = max(d - 1, 1)).
# Log-likelihoods (on tpipe's embedding, for both tools): tpipe's default (10 runs) and
# scikit-learn's default (one run), each over the seeds.
# Accuracies: each cluster named after its most frequent label (the notebook's vote);
# medians and ranges over SEEDS gmm seeds (default 10), each tool on its own embedding
# (tpipe's notebook accuracy on its recipe's embedding, dof 0.6; its KL row is the
# like-for-like dof 2 run).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/bin
D=$root/data/mnist
S=${SEEDS:-10}
NP=/usr/bin/python3
"$NP" -c 'import sklearn' 2>/dev/null || { echo "bench: needs scikit-learn (python3-sklearn) for the peer" >&2; exit 1; }
w=$root/build/bench/cluster
mkdir -p "$w"
export TP_PROGRESS=0
. "$root/tests/bench/lib.sh"

# inputs
"$bin/idx2raw" "$D/train-images-idx3-ubyte" "$D/train-labels-idx1-ubyte" |
    "$bin/split" --take 6000 --ratio 0.8 --train - --test /dev/null -q | "$bin/pca" -k 50 -q >"$w/notebook.tp"
"$bin/idx2raw" "$D/train-images-idx3-ubyte" "$D/train-labels-idx1-ubyte" |
    "$bin/split" --take 10000 -q | "$bin/pca" -k 50 -q >"$w/10k.tp"
cat <("$bin/idx2raw" "$D/train-images-idx3-ubyte" "$D/train-labels-idx1-ubyte") \
    <("$bin/idx2raw" "$D/t10k-images-idx3-ubyte" "$D/t10k-labels-idx1-ubyte") | "$bin/pca" -k 50 -q >"$w/70k.tp"

# scikit-learn's t-SNE on one input: its seconds on stdout, the embedding in a .npy
sk_tsne() {
    "$NP" - "$root/README.md" "$1" "$2" "$3" <<'PY'
import sys, time, warnings
import numpy as np
src = open(sys.argv[1]).read()
exec(src.split("<!-- numpy-reader -->")[1].split("<!-- /numpy-reader -->")[0].replace("```python", "").replace("```", ""))
from sklearn.manifold import TSNE
warnings.simplefilter("ignore")
rec, _ = read_tp(sys.argv[2])
X = rec["x"].reshape(len(rec), -1).astype(np.float32)
t0 = time.time()
e = TSNE(n_components=int(sys.argv[4]), init="pca", learning_rate="auto", random_state=0, n_jobs=2).fit_transform(X)
print("%.3f" % (time.time() - t0))
np.save(sys.argv[3], e.astype(np.float32))
PY
}
# exact KL of an embedding (.npy) of an input stream
kl_of() {
    "$bin/tp2npy" -f x "$1" >"$w/x.npy"
    "$bin/npy2tp" x="$w/x.npy" emb="$2" >"$w/joined.tp"
    "$bin/tsne" -d "$3" --kl-of emb "$w/joined.tp"
}
# majority-vote accuracy of gmm seeds 0..S-1 on an embedding stream: "median min max"
tp_gmm_acc() {
    for s in $(seq 0 $((S - 1))); do
        "$bin/gmm" -q -k 10 -s "$s" <"$1" | "$bin/confmat" --field cluster --map majority --json |
            awk '!done && match($0, /"accuracy": *[0-9.eE+-]+/) {v = substr($0, RSTART, RLENGTH); sub(/.*: */, "", v); print v; done = 1}'
    done | sort -g | awk '{a[NR] = $1} END {printf "%.4f %.4f %.4f\n", (a[int((NR + 1) / 2)] + a[int(NR / 2) + 1]) / 2, a[1], a[NR]}'
}
# scikit-learn's GaussianMixture(10) with seeds 0..S-1 on an embedding (.npy) with labels
# from a stream: "median min max best_mean_loglik seconds_per_fit median_mean_loglik"
sk_gmm_acc() {
    "$NP" - "$root/README.md" "$1" "$2" "$S" <<'PY'
import sys, time, warnings
import numpy as np
src = open(sys.argv[1]).read()
exec(src.split("<!-- numpy-reader -->")[1].split("<!-- /numpy-reader -->")[0].replace("```python", "").replace("```", ""))
from sklearn.mixture import GaussianMixture
warnings.simplefilter("ignore")
rec, _ = read_tp(sys.argv[2])
y = rec["y"].astype(np.int64)
X = np.load(sys.argv[3]).astype(np.float64)
accs, lls, ts = [], [], []
for s in range(int(sys.argv[4])):
    t0 = time.time()
    g = GaussianMixture(10, random_state=s).fit(X)
    c = g.predict(X)
    ts.append(time.time() - t0)
    accs.append(sum(np.bincount(y[c == k]).max() for k in np.unique(c)) / len(y))
    lls.append(g.score(X))
accs.sort()
print("%.4f %.4f %.4f %.6f %.3f %.6f" % (np.median(accs), accs[0], accs[-1], max(lls), np.mean(ts), np.median(lls)))
PY
}
# tpipe's best-of-default gmm log-likelihood on an embedding stream
# tpipe's gmm (its defaults) mean log-likelihood for seeds 0..S-1: median and best
tp_lls() { for s in $(seq 0 $((S - 1))); do "$bin/gmm" -q -k 10 -s "$s" <"$1" | awk '/^meta gmm_loglik / {print $3} /^end/ {exit}'; done | sort -g; }
tp_ll_median() { tp_lls "$1" | awk '{a[NR] = $1} END {printf "%.6f\n", (a[int((NR + 1) / 2)] + a[int(NR / 2) + 1]) / 2}'; }
tp_ll_best() { tp_lls "$1" | tail -1; }

# gmm's defaults beside scikit-learn's GaussianMixture(10, n_init=10) on one embedding stream,
# seeds 0..S-1 each: "tp_mean tp_min sk_mean sk_min" of the mean log-likelihoods
gmm_vs10() {
    local lls
    lls=$(for s in $(seq 0 $((S - 1))); do "$bin/gmm" -q -k 10 -s "$s" <"$1" | awk '/^meta gmm_loglik / {print $3} /^end/ {exit}'; done |
        awk '{t += $1; if (NR == 1 || $1 < m) m = $1} END {printf "%.6f %.6f", t / NR, m}')
    "$bin/tp2npy" -f x "$1" >"$w/vs10.npy"
    echo "$lls $("$NP" -c "
import warnings, numpy as np
from sklearn.mixture import GaussianMixture
warnings.simplefilter('ignore')
X = np.load('$w/vs10.npy').astype(np.float64)
X = X.reshape(len(X), -1)
a = [GaussianMixture(10, n_init=10, random_state=s).fit(X).score(X) for s in range($S)]
print('%.6f %.6f' % (np.mean(a), np.min(a)))")"
}

declare -A tkl skl acc
[ "${QUALITY_ONLY:-0}" = 1 ] || {
for job in "notebook 3" "10k 2" "70k 2"; do
    set -- $job
    name=$1 d=$2
    t0=$(now)
    "$bin/tsne" -d "$d" <"$w/$name.tp" >"$w/$name-emb.tp"
    t_tp=$(since "$t0")
    t_sk=$(sk_tsne "$w/$name.tp" "$w/$name-sk.npy" "$d")
    row "tsne ${d}-D, $name (after pca -k 50)" "$t_tp" "$t_sk" "$(ratio "$t_sk" "$t_tp")"
    "$bin/tp2npy" -f x "$w/$name-emb.tp" >"$w/$name-tp.npy"
    tkl[$name]=$(kl_of "$w/$name.tp" "$w/$name-tp.npy" "$d")
    skl[$name]=$(kl_of "$w/$name.tp" "$w/$name-sk.npy" "$d")
done

# the notebook recipe (pipelines/cluster.sh notebook) embeds with a heavier-tailed kernel
t0=$(now)
"$bin/tsne" -d 3 --dof 0.6 <"$w/notebook.tp" >"$w/notebook-recipe.tp"
row "tsne 3-D dof 0.6, notebook (the recipe's)" "$(since "$t0")" "-" "-"

# gmm on 70 000 x 50: one fit each (tpipe's default n_init 10 vs scikit-learn's default 1,
# and tpipe with --n-init 1 for the like-for-like time)
# (--refine 0: scikit-learn's algorithm, like for like; the default refinement adds about half)
t0=$(now); "$bin/gmm" -q -k 10 -s 0 --n-init 1 --refine 0 <"$w/70k.tp" >/dev/null; t_g1=$(since "$t0")
t0=$(now); "$bin/gmm" -q -k 10 -s 0 --refine 0 <"$w/70k.tp" >/dev/null; t_g10=$(since "$t0")
"$bin/tp2npy" -f x "$w/70k.tp" >"$w/70k-x.npy"
read -r _ _ _ _ t_sg _ < <(SEEDS=1 S=1 sk_gmm_acc "$w/70k.tp" "$w/70k-x.npy")
t_sg10=$("$NP" -c "
import time, warnings, numpy as np
from sklearn.mixture import GaussianMixture
warnings.simplefilter('ignore')
X = np.load('$w/70k-x.npy').reshape(70000, -1).astype(np.float64)
t0 = time.time(); GaussianMixture(10, n_init=10, random_state=0).fit(X); print('%.3f' % (time.time() - t0))")
row "gmm k=10 full, 70000 x 50, one EM run" "$t_g1" "$t_sg" "$(ratio "$t_sg" "$t_g1")"
row "gmm k=10 full, 70000 x 50, 10 runs (n_init 10)" "$t_g10" "$t_sg10" "$(ratio "$t_sg10" "$t_g10")"
}

echo
printf '%-34s %12s %12s\n' "quality" "tpipe" "scikit-learn"
for name in notebook 10k 70k; do
    [ -n "${tkl[$name]:-}" ] || continue
    printf '%-34s %12s %12s\n' "t-SNE KL, $name" "${tkl[$name]}" "${skl[$name]}"
done
for name in notebook 70k; do
    emb=$w/$name-emb.tp
    [ $name = notebook ] && emb=$w/notebook-recipe.tp
    read -r tm tlo thi < <(tp_gmm_acc "$emb")
    read -r sm slo shi sll _ < <(sk_gmm_acc "$w/$name.tp" "$w/$name-sk.npy")
    printf '%-34s %12s %12s\n' "cluster accuracy $name, median" "$tm" "$sm"
    printf '%-34s %12s %12s\n' "  range over $S seeds" "$tlo-$thi" "$slo-$shi"
    # log-likelihood on the same embedding (tpipe's): both tools' best fit
    "$bin/tp2npy" -f x "$w/$name-emb.tp" >"$w/$name-tpe.npy"
    read -r _ _ _ sll2 _ sllm < <(sk_gmm_acc "$w/$name.tp" "$w/$name-tpe.npy")
    printf '%-34s %12s %12s\n' "gmm mean log-lik., $name, median" "$(tp_ll_median "$w/$name-emb.tp")" "$sllm"
    printf '%-34s %12s %12s\n' "  best of the $S seeds" "$(tp_ll_best "$w/$name-emb.tp")" "$sll2"
done

# gmm's defaults against scikit-learn's strongest default-like fit (n_init=10), on the same
# embeddings: the ones above and t-SNEs of Fashion-MNIST test images (data/fashion)
echo
printf '%-44s %24s %24s\n' "gmm mean log-lik. vs n_init=10, $S seeds" "tpipe mean (min)" "scikit-learn (min)"
FA=$root/data/fashion
embs=()
for name in notebook-recipe notebook 10k 70k; do
    f=$w/$name-emb.tp
    [ $name = notebook-recipe ] && f=$w/notebook-recipe.tp
    [ -f "$f" ] && embs+=("$name:$f")
done
if [ -f "$FA/t10k-images-idx3-ubyte.gz" ]; then
    "$bin/idx2raw" "$FA/t10k-images-idx3-ubyte.gz" "$FA/t10k-labels-idx1-ubyte.gz" | "$bin/pca" -k 50 -q >"$w/f10k.tp"
    "$bin/split" --take 3000 -q <"$w/f10k.tp" >"$w/f3k.tp"
    "$bin/tsne" -d 2 <"$w/f3k.tp" >"$w/f3k-2d.tp" 2>/dev/null
    "$bin/tsne" -d 3 <"$w/f3k.tp" >"$w/f3k-3d.tp" 2>/dev/null
    "$bin/tsne" -d 2 <"$w/f10k.tp" >"$w/f10k-2d.tp" 2>/dev/null
    sk_tsne "$w/f3k.tp" "$w/f3k-sk.npy" 2 >/dev/null
    "$bin/npy2tp" x="$w/f3k-sk.npy" >"$w/f3k-sk.tp"
    embs+=("fashion 3000 2-D:$w/f3k-2d.tp" "fashion 3000 3-D:$w/f3k-3d.tp" "fashion 10000 2-D:$w/f10k-2d.tp"
        "fashion 3000 2-D (scikit-learn's t-SNE):$w/f3k-sk.tp")
else
    echo "(no data/fashion: 'tools/getdata.sh fashion' adds the Fashion-MNIST rows)"
fi
for e in "${embs[@]}"; do
    read -r tm tmin sm smin < <(gmm_vs10 "${e#*:}")
    printf '%-44s %24s %24s\n' "  ${e%%:*}" "$tm ($tmin)" "$sm ($smin)"
done
