#!/usr/bin/env bash
# tests/bench/gmm.sh INPUT.tp [K] [SEEDS] — tpipe's gmm beside scikit-learn's GaussianMixture
# on the same data (field x, flattened, as float64; read with the README's NumPy reader).
#
# Two jobs, each run with seeds 0 .. SEEDS-1 (default 1): one EM run from one k-means
# result (gmm --n-init 1, sklearn's default n_init=1), and ten runs keeping the best lower
# bound (gmm's default, sklearn n_init=10). Times are seconds per fit, the mean over the
# seeds: for tpipe the whole process (reading the input and writing the output included),
# for scikit-learn fit_predict alone. Prints one row per job
#   printf '%-48s %9s %9s %8s\n' job tpipe_s peer_s ratio      (ratio = peer / tpipe)
# then each tool's mean log-likelihood (sklearn's score) per job, the mean over the seeds,
# and, when the input has labels y, the clustering accuracy (each cluster named after its
# most frequent label) as the median and range over the seeds.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: tests/bench/gmm.sh INPUT.tp [K] [SEEDS]" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
in=$1 K=${2:-10} S=${3:-1}
NP=/usr/bin/python3
"$NP" -c 'import sklearn' 2>/dev/null || { echo "bench: needs scikit-learn (python3-sklearn) for the peer" >&2; exit 1; }
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
export TP_PROGRESS=0

for n_init in 1 10; do
    for s in $(seq 0 $((S - 1))); do
        t0=$(date +%s.%N)
        "$root/bin/gmm" -q -k "$K" -s "$s" --n-init "$n_init" <"$in" >"$w/tp_${n_init}_$s.tp"
        t1=$(date +%s.%N)
        echo "$t0 $t1" >"$w/tp_${n_init}_$s.time"
    done
done

"$NP" - "$root/README.md" "$in" "$K" "$S" "$w" <<'PY'
import sys, time, warnings
import numpy as np
from sklearn.mixture import GaussianMixture
readme, path, K, S, w = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
src = open(readme).read()
exec(src.split("<!-- numpy-reader -->")[1].split("<!-- /numpy-reader -->")[0].replace("```python", "").replace("```", ""))
warnings.simplefilter("ignore")
rec, _ = read_tp(path)
X = rec["x"].reshape(len(rec), -1).astype(np.float64)
y = rec["y"].astype(np.int64) if "y" in rec.dtype.names else None

def accuracy(labels):
    hits = 0
    for c in np.unique(labels):
        hits += np.bincount(y[labels == c]).max()
    return hits / len(y)

def summary(accs):
    a = np.array(accs) * 100
    return "median %.2f%% (%.2f-%.2f)" % (np.median(a), a.min(), a.max())

print("gmm on %s: %d x %d, K %d, %d seed%s" % (path, X.shape[0], X.shape[1], K, S, "" if S == 1 else "s"))
print("%-48s %9s %9s %8s" % ("job", "tpipe s", "peer s", "peer/tp"))
lines = []
for n_init in (1, 10):
    tt, tl, ta, st, sl, sa = [], [], [], [], [], []
    for s in range(S):
        t0, t1 = map(float, open("%s/tp_%d_%d.time" % (w, n_init, s)).read().split())
        out, meta = read_tp("%s/tp_%d_%d.tp" % (w, n_init, s))
        tt.append(t1 - t0)
        tl.append(float(meta["gmm_loglik"]))
        if y is not None:
            ta.append(accuracy(out["cluster"]))
        g = GaussianMixture(K, n_init=n_init, random_state=s)
        t0 = time.perf_counter()
        lab = g.fit_predict(X)
        st.append(time.perf_counter() - t0)
        sl.append(g.score(X))
        if y is not None:
            sa.append(accuracy(lab))
    job = "gmm -k %d --n-init %d, %d x %d" % (K, n_init, X.shape[0], X.shape[1])
    print("%-48s %9.3f %9.3f %8.2f" % (job, np.mean(tt), np.mean(st), np.mean(st) / np.mean(tt)))
    lines.append("mean log-likelihood, n_init %2d: tpipe %.6f  scikit-learn %.6f" % (n_init, np.mean(tl), np.mean(sl)))
    if y is not None:
        lines.append("accuracy, n_init %2d: tpipe %s  scikit-learn %s" % (n_init, summary(ta), summary(sa)))
print("\n".join(lines))
PY
