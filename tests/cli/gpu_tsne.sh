# tsne on a GPU against the CPU on 2000 points (MNIST digits when data/mnist is there,
# else 10 synthetic clusters in 50-D): the final exact KL within 2 % of the CPU's exact
# run, the labels as well kept apart, --kl-of the same on both. Skipped without a GPU.
. "$TESTS/cli/lib.sh"
TS=$BIN/tsne
export TP_PROGRESS=0
D=$ROOT/data/mnist
if [ -f "$D/train-images-idx3-ubyte" ]; then
    "$BIN/idx2raw" "$D/train-images-idx3-ubyte" "$D/train-labels-idx1-ubyte" |
        "$BIN/split" --take 2000 -q >"$T/in.tp" || fail "MNIST sample"
else
    "$PY" - "$T/c" <<'PY'
import random, struct, sys
n, dim, out = 2000, 50, sys.argv[1]
random.seed(3)
cen = [[random.randrange(40, 216) for _ in range(dim)] for _ in range(10)]
img, lab = bytearray(), bytearray()
for i in range(n):
    c = i % 10
    img += bytes(max(0, min(255, int(round(random.gauss(v, 25))))) for v in cen[c])
    lab.append(c)
open(out + ".im", "wb").write(struct.pack(">HBBII", 0, 8, 2, n, dim) + img)
open(out + ".lb", "wb").write(struct.pack(">HBBI", 0, 8, 1, n) + lab)
PY
    "$BIN/idx2raw" "$T/c.im" "$T/c.lb" >"$T/in.tp" || fail "idx2raw"
fi
"$BIN/split" --take 60 -q "$T/in.tp" >"$T/tiny.tp" || fail "split"
if ! "$TS" --device cuda -n 10 --perplexity 5 "$T/tiny.tp" >/dev/null 2>"$T/err"; then
    if grep -qE 'no usable CUDA|no CUDA backend|no CUDA device|needs sm_|cannot open shared object' "$T/err"; then
        no_gpu "no GPU: $(cat "$T/err")"
    fi
    fail "--device cuda on 60 points: $(cat "$T/err")"
fi

"$TS" --device cpu -m exact -o "$T/cpu.tp" "$T/in.tp" 2>"$T/err" || fail "CPU run: $(cat "$T/err")"
"$TS" --device cuda -m bh -o "$T/gpu.tp" "$T/in.tp" 2>"$T/err" || fail "GPU run: $(cat "$T/err")"
grep -q 'exact gradient' "$T/err" || fail "the GPU run should say exact gradient: $(cat "$T/err")"
meta() { grep -a "^meta $2 " "$1" | cut -d' ' -f3- | sed 's/ *$//'; }
[ "$(meta "$T/cpu.tp" device)" = cpu ] || fail "CPU run: device '$(meta "$T/cpu.tp" device)'"
dev=$(meta "$T/gpu.tp" device)
case $dev in "" | cpu) fail "GPU run: device '$dev'" ;; esac
[ "$(meta "$T/gpu.tp" tsne_method)" = exact ] || fail "GPU run: tsne_method $(meta "$T/gpu.tp" tsne_method)"
grep -aq '^field x f32 2$' "$T/gpu.tp" || fail "GPU run: x is not f32[2]"
kc=$(meta "$T/cpu.tp" tsne_kl)
kg=$(meta "$T/gpu.tp" tsne_kl)
echo "KL: CPU $kc, GPU $kg ($dev)"
awk -v a="$kc" -v b="$kg" 'BEGIN {d = (a - b) / a; exit !(a > 0 && d < 0.02 && d > -0.02)}' ||
    fail "GPU KL $kg vs CPU $kc: more than 2 % apart"
"$BIN/tp2csv" --no-header --fields x "$T/gpu.tp" | grep -qiE 'nan|inf' && fail "non-finite GPU embedding"

# the fraction of points whose nearest embedded neighbour has their label
nn_agree() {
    "$BIN/tp2csv" --no-header "$1" | awk -F, '{x[NR] = $1; y[NR] = $2; l[NR] = $3}
        END {for (i = 1; i <= NR; i++) {b = -1; bd = 1e300
                 for (j = 1; j <= NR; j++) if (j != i) {d = (x[i] - x[j]) ^ 2 + (y[i] - y[j]) ^ 2; if (d < bd) {bd = d; b = j}}
                 ok += l[b] == l[i]}
             print ok / NR}'
}
ac=$(nn_agree "$T/cpu.tp")
ag=$(nn_agree "$T/gpu.tp")
echo "1-NN label agreement: CPU $ac, GPU $ag"
awk -v a="$ac" -v b="$ag" 'BEGIN {exit !(b >= a - 0.02)}' || fail "GPU 1-NN agreement $ag vs CPU $ac"

# --kl-of: the exact KL of the GPU's embedding, scored on both devices
"$BIN/tp2npy" -f x "$T/in.tp" >"$T/x.npy" && "$BIN/tp2npy" -f x "$T/gpu.tp" >"$T/emb.npy" || fail "tp2npy"
"$BIN/npy2tp" x="$T/x.npy" emb="$T/emb.npy" >"$T/j.tp" || fail "npy2tp join"
s1=$("$TS" --device cpu --kl-of emb "$T/j.tp") || fail "--kl-of on the CPU"
s2=$("$TS" --device cuda --kl-of emb "$T/j.tp") || fail "--kl-of on the GPU"
awk -v a="$s1" -v b="$s2" 'BEGIN {d = a - b; exit !(d < 1e-4 * a && d > -1e-4 * a)}' || fail "--kl-of: CPU $s1, GPU $s2"
awk -v a="$kg" -v b="$s1" 'BEGIN {d = a - b; exit !(d < 1e-4 && d > -1e-4)}' || fail "--kl-of $s1 vs the GPU run's $kg"

# 1-D and 3-D (dof 2), and a general dof
for args in "-d 1" "-d 3" "-d 2 --dof 0.6"; do
    "$TS" --device cuda $args -n 300 -o "$T/o.tp" "$T/in.tp" 2>"$T/err" || fail "GPU $args: $(cat "$T/err")"
    "$BIN/tp2csv" --no-header --fields x "$T/o.tp" | grep -qiE 'nan|inf' && fail "GPU $args: non-finite embedding"
done
echo ok
