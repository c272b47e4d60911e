# gpu_gmm: gmm on a GPU against gmm on the CPU, the four covariance types on 4000 samples
# of 4 components: the same seed gives the same initialisation (it runs on the CPU), so
# the mean log-likelihood must agree within 1e-4 relative and the clusters hold the same
# numbers of records; a saved model assigns the same clusters on both; metadata device
# and -v name the GPU. Skipped without a GPU.
. "$TESTS/cli/lib.sh"
G=$BIN/gmm
export LC_ALL=C

meta() { head -c 65536 "$2" | grep -a "^meta $1 " | head -1 | cut -d' ' -f3-; }
# near A B REL: |A - B| <= REL * |B|
near() { awk -v a="$1" -v b="$2" -v r="$3" 'BEGIN {d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(d <= r * m)}'; }
counts() { "$BIN/tp2csv" --no-header --fields cluster "$1" | sort | uniq -c | awk '{print $1}' | sort -n | tr '\n' ' '; }

if ! "$G" --device cuda -k 1 --n-init 1 -q "$TESTS/fixtures/gmm_data.tp" >/dev/null 2>"$T/err"; then
    grep -qE "no usable CUDA|no CUDA backend|no CUDA device|needs sm_|cannot open shared object" "$T/err" || fail "$(cat "$T/err")"
    no_gpu "no GPU: $(head -1 "$T/err")"
fi

# 4000 samples of 6 features from 4 components, far from the origin (f64)
header $'TPIPE 1\nfield x f64 6\ncount 4000' >"$T/data.tp"
"$PY" - >>"$T/data.tp" <<'EOF' || fail "data"
import random, struct, sys
r = random.Random(7)
centres = [[10 + 5 * r.gauss(0, 1) for _ in range(6)] for _ in range(4)]
out = sys.stdout.buffer
for i in range(4000):
    c = centres[i % 4]
    out.write(struct.pack('<6d', *[c[j] + (1 + 0.3 * j) * r.gauss(0, 1) for j in range(6)]))
EOF

for c in full tied diag spherical; do
    "$G" -k 4 --n-init 2 --covariance "$c" --device cpu -o "$T/m_$c.tp" "$T/data.tp" >"$T/cpu.tp" 2>"$T/err" ||
        fail "$c on the CPU: $(cat "$T/err")"
    "$G" -k 4 --n-init 2 --covariance "$c" --device cuda -v "$T/data.tp" >"$T/gpu.tp" 2>"$T/err" ||
        fail "$c on the GPU: $(cat "$T/err")"
    grep -q "running on " "$T/err" || fail "$c: -v does not name the device: $(cat "$T/err")"
    dev=$(meta device "$T/gpu.tp")
    [ -n "$dev" ] && [ "$dev" != cpu ] || fail "$c: meta device is '$dev'"
    [ "$(meta device "$T/cpu.tp")" = cpu ] || fail "$c: the CPU run's meta device is '$(meta device "$T/cpu.tp")'"
    a=$(meta gmm_loglik "$T/gpu.tp") b=$(meta gmm_loglik "$T/cpu.tp")
    near "$a" "$b" 1e-4 || fail "$c: mean log-likelihood $a on the GPU, $b on the CPU"
    [ "$(counts "$T/gpu.tp")" = "$(counts "$T/cpu.tp")" ] ||
        fail "$c: cluster sizes $(counts "$T/gpu.tp") on the GPU, $(counts "$T/cpu.tp") on the CPU"
    # assigning with a saved model: the same clusters and score
    "$G" --model "$T/m_$c.tp" --device cuda -q "$T/data.tp" >"$T/ga.tp" 2>"$T/err" || fail "$c --model: $(cat "$T/err")"
    "$G" --model "$T/m_$c.tp" --device cpu -q "$T/data.tp" >"$T/ca.tp" 2>"$T/err" || fail "$c --model: $(cat "$T/err")"
    cmp -s <("$BIN/tp2csv" --no-header --fields cluster "$T/ga.tp") <("$BIN/tp2csv" --no-header --fields cluster "$T/ca.tp") ||
        fail "$c --model: clusters differ between the GPU and the CPU"
    near "$(meta gmm_loglik "$T/ga.tp")" "$(meta gmm_loglik "$T/ca.tp")" 1e-8 || fail "$c --model: scores differ"
done
exit 0
