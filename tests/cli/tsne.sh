# tsne: output layout and pass-through, clusters kept apart, determinism across thread
# counts, the three gradient methods, --kl-of against the reported KL, degenerate inputs.
. "$TESTS/cli/lib.sh"
TS=$BIN/tsne
export TP_PROGRESS=0
# clusters.tp: N points in 10-D (u8), in 3 well-separated clusters of 20-pixel spread;
# label = cluster. Pure Python, seeded.
clusters() {
    "$PY" - "$1" "$2" <<'PY'
import random, struct, sys
n, out = int(sys.argv[1]), sys.argv[2]
random.seed(7)
cen = [[random.randrange(40, 216) for _ in range(10)] for _ in range(3)]
img, lab = bytearray(), bytearray()
for i in range(n):
    c = i % 3
    img += bytes(max(0, min(255, int(round(random.gauss(v, 6))))) for v in cen[c])
    lab.append(c)
open(out + ".im", "wb").write(struct.pack(">HBBII", 0, 8, 2, n, 10) + img)
open(out + ".lb", "wb").write(struct.pack(">HBBI", 0, 8, 1, n) + lab)
PY
    "$BIN/idx2raw" --classes red,green,blue "$2.im" "$2.lb" >"$2" || fail "idx2raw"
}
clusters 600 "$T/c.tp"

"$TS" -d 2 -n 400 -o "$T/e.tp" "$T/c.tp" 2>"$T/err" || fail "tsne failed: $(cat "$T/err")"
"$BIN/tinfo" --header "$T/e.tp" >"$T/h" || fail "tinfo"
grep -q '^field x f32 2$' "$T/e.tp" || fail "x is not f32[2]: $(head -c 300 "$T/e.tp")"
grep -aq '^field y i32$' "$T/e.tp" || fail "y did not pass through"
grep -aq '^meta classes blue$' "$T/e.tp" || fail "classes metadata lost"
grep -aq '^count 600 *$' "$T/e.tp" || fail "count is not 600"
kl=$(grep -a '^meta tsne_kl ' "$T/e.tp" | awk '{print $3}')
[ -n "$kl" ] || fail "no tsne_kl"
awk -v k="$kl" 'BEGIN {exit !(k > 0 && k < 3)}' || fail "KL $kl out of range"
grep -q 'exact gradient' "$T/err" || fail "600 points should use the exact gradient: $(cat "$T/err")"

# the clusters stay apart: every point's nearest neighbour in the embedding has its label
nn_agree() {
    "$BIN/tp2csv" --no-header "$1" | awk -F, '{x[NR] = $1; y[NR] = $2; l[NR] = $3}
        END {for (i = 1; i <= NR; i++) {b = -1; bd = 1e300
                 for (j = 1; j <= NR; j++) if (j != i) {d = (x[i] - x[j]) ^ 2 + (y[i] - y[j]) ^ 2; if (d < bd) {bd = d; b = j}}
                 ok += l[b] == l[i]}
             print ok / NR}'
}
acc=$(nn_agree "$T/e.tp")
awk -v a="$acc" 'BEGIN {exit !(a >= 0.99)}' || fail "1-NN label agreement $acc < 0.99"

# the same bytes for 1 and 2 threads and for a rerun
"$TS" -d 2 -n 400 -t 1 "$T/c.tp" 2>/dev/null | cmp - "$T/e.tp" || fail "1 thread differs from 2"
"$TS" -d 2 -n 400 --init random -s 3 "$T/c.tp" 2>/dev/null >"$T/r1.tp"
"$TS" -d 2 -n 400 --init random -s 3 "$T/c.tp" 2>/dev/null | cmp - "$T/r1.tp" || fail "random init not reproducible"
"$TS" -d 2 -n 400 --init random -s 4 "$T/c.tp" 2>/dev/null | cmp -s - "$T/r1.tp" && fail "seed ignored"

# Barnes-Hut and FFT on the same problem: clusters apart, KL within 3 % of the exact run
for m in bh fft; do
    "$TS" -d 2 -n 400 -m $m -o "$T/$m.tp" "$T/c.tp" 2>"$T/err" || fail "--method $m: $(cat "$T/err")"
    k2=$(grep -a '^meta tsne_kl ' "$T/$m.tp" | awk '{print $3}')
    awk -v a="$kl" -v b="$k2" 'BEGIN {d = (a - b) / a; exit !(d < 0.03 && d > -0.03)}' || fail "$m KL $k2 vs exact $kl"
    a=$(nn_agree "$T/$m.tp")
    awk -v a="$a" 'BEGIN {exit !(a >= 0.99)}' || fail "$m: 1-NN agreement $a"
done
# 1-D and 3-D
"$TS" -d 1 -n 300 "$T/c.tp" 2>/dev/null | grep -aq '^field x f32 1$' || fail "-d 1"
"$TS" -d 3 -n 300 -m bh "$T/c.tp" 2>/dev/null | grep -aq '^field x f32 3$' || fail "-d 3"

# --kl-of scores a given embedding the same way (the embedding is stored as f32)
"$BIN/tp2npy" -f x "$T/c.tp" >"$T/x.npy" && "$BIN/tp2npy" -f x "$T/e.tp" >"$T/emb.npy" || fail "tp2npy"
"$BIN/npy2tp" x="$T/x.npy" emb="$T/emb.npy" >"$T/j.tp" || fail "npy2tp join"
k3=$(cat "$T/j.tp" | "$TS" -d 2 --kl-of emb) || fail "--kl-of (from a pipe)"
awk -v a="$kl" -v b="$k3" 'BEGIN {d = a - b; exit !(d < 1e-4 && d > -1e-4)}' || fail "--kl-of $k3 vs meta $kl"

# degenerate inputs
clusters 60 "$T/mid.tp"
"$TS" -d 2 -n 200 "$T/mid.tp" 2>"$T/err" >"$T/s.tp" || fail "60 points failed: $(cat "$T/err")"
grep -q 'using all 59 other points' "$T/err" || fail "no note about the neighbour count: $(cat "$T/err")"
clusters 20 "$T/small.tp"
expect_fail 1 '^tsne: .*small.tp: perplexity 30 must be less than the number of records \(20\)$' \
    "$TS" --perplexity 30 "$T/small.tp"
# 60 identical points: no NaN, a warning that the perplexity cannot be reached
"$PY" -c 'import struct,sys; open(sys.argv[1],"wb").write(struct.pack(">HBBII",0,8,2,60,4)+bytes([9,9,9,9])*60)' "$T/d.im"
"$PY" -c 'import struct,sys; open(sys.argv[1],"wb").write(struct.pack(">HBBI",0,8,1,60)+bytes(60))' "$T/d.lb"
"$BIN/idx2raw" "$T/d.im" "$T/d.lb" >"$T/dup.tp"
"$TS" -d 2 -n 100 --perplexity 5 "$T/dup.tp" 2>"$T/err" >"$T/dd.tp" || fail "duplicates failed: $(cat "$T/err")"
grep -q 'could not reach perplexity' "$T/err" || fail "no duplicate warning: $(cat "$T/err")"
"$BIN/tp2csv" --no-header --fields x "$T/dd.tp" | grep -qi nan && fail "NaN in the embedding of duplicates"
expect_fail 1 "^tsne: .*c.tp: no field 'z'$" "$TS" -f z "$T/c.tp"
expect_fail 2 "^tsne: option --dims must be 1 to 3, not '4'" "$TS" -d 4 "$T/c.tp"
expect_fail 2 "^tsne: option --threads must be 1 to 256, not '0'" "$TS" -t 0 "$T/c.tp"
expect_fail 2 "^tsne: option --method must be auto, exact, bh or fft, not 'tree'" "$TS" -m tree "$T/c.tp"
expect_fail 2 'fft needs --dims 1 or 2' "$TS" -d 3 -m fft "$T/c.tp"
expect_fail 1 '^tsne: .*: t-SNE needs at least 2 records, got 1$' "$TS" --perplexity 0.5 <("$BIN/split" --take 1 -q "$T/c.tp")
echo ok
