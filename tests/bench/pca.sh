#!/usr/bin/env bash
# tests/bench/pca.sh: pca beside scikit-learn's PCA on all 70 000 MNIST images (784 values).
# Each side reads the same stream file; the peer reads it with the README's NumPy reader and
# its time covers the read plus fit_transform (or transform), as pca's covers reading,
# fitting, projecting and writing to /dev/null. Best of RUNS (default 3) wall-clock times.
# Needs bin/ built, data/mnist (make data) and /usr/bin/python3 with python3-sklearn.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/bin
w=$root/build/bench
D=$root/data/mnist
NP=/usr/bin/python3
RUNS=${RUNS:-3}
mkdir -p "$w"
[ -f "$D/train-images-idx3-ubyte" ] || { echo "pca.sh: no MNIST in data/mnist (run 'make data')" >&2; exit 1; }
"$NP" -c 'import sklearn' 2>/dev/null || { echo "pca.sh: needs scikit-learn (python3-sklearn) for the peer" >&2; exit 1; }
export TP_PROGRESS=0
all=$w/mnist70k.tp
[ -s "$all" ] || cat <("$bin/idx2raw" "$D/train-images-idx3-ubyte" "$D/train-labels-idx1-ubyte") \
    <("$bin/idx2raw" "$D/t10k-images-idx3-ubyte" "$D/t10k-labels-idx1-ubyte") >"$all"

. "$root/tests/bench/lib.sh"

reader="src = open('$root/README.md').read()
exec(src.split('<!-- numpy-reader -->')[1].split('<!-- /numpy-reader -->')[0].replace('\`\`\`python', '').replace('\`\`\`', ''))"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1 /proc/loadavg)"
row "job" "tpipe s" "peer s" "peer/tp"

# 1. fit and project to 50 components; the peer: PCA(50).fit_transform (its 'auto' solver
#    picks the randomized one here)
"$bin/pca" -k 50 -q --fit-only --save "$w/pca50.tp" "$all"
t_tp=$(best "$RUNS" "$bin/pca -k 50 -q $all >/dev/null")
t_py=$(best "$RUNS" "$NP - <<'PY'
$reader
import numpy as np
from sklearn.decomposition import PCA
r, _ = read_tp('$all')
s = PCA(50, random_state=0).fit_transform(r['x'].reshape(len(r), -1))
PY")
row "pca -k 50, MNIST 70000 x 784 u8" "$(f3 "$t_tp")" "$(f3 "$t_py")" "$(ratio "$t_py" "$t_tp")"

# 2. a saved model applied to the same 70 000 (the peer: transform with a fitted PCA; only
#    the read and transform are timed)
t_tp2=$(best "$RUNS" "$bin/pca --model $w/pca50.tp $all >/dev/null")
t_py2=$("$NP" - <<PY
$reader
import time
import numpy as np
from sklearn.decomposition import PCA
r, _ = read_tp('$all')
p = PCA(50, random_state=0).fit(r['x'].reshape(len(r), -1))
b = None
for _ in range($RUNS):
    t0 = time.time()
    r, _ = read_tp('$all')
    s = p.transform(r['x'].reshape(len(r), -1))
    d = time.time() - t0
    b = d if b is None or d < b else b
print(b)
PY
)
row "pca --model (50 components), MNIST 70000" "$(f3 "$t_tp2")" "$(f3 "$t_py2")" "$(ratio "$t_py2" "$t_tp2")"

# the variance both kept
tp_sum=$("$bin/tp2csv" --no-header --fields explained_variance_ratio "$w/pca50.tp" | tr ',' '\n' | awk '{s += $1} END {printf "%.6f", s}')
py_sum=$("$NP" - <<PY
$reader
from sklearn.decomposition import PCA
r, _ = read_tp('$all')
print('%.6f' % PCA(50, random_state=0).fit(r['x'].reshape(len(r), -1)).explained_variance_ratio_.sum())
PY
)
echo "explained variance ratio of 50 components: tpipe $tp_sum, scikit-learn $py_sum"
