# gmm: scikit-learn's EM from a fixed start (clusters, log-likelihood, BIC, AIC; fixtures
# from tests/fixtures/make_gmm.py), fields and metadata passed through, --resp, the model
# file and --model, repeatability, degenerate inputs, bad input and usage.
. "$TESTS/cli/lib.sh"
G=$BIN/gmm
F=$TESTS/fixtures
export LC_ALL=C

meta() { head -c 65536 "$2" | grep -a "^meta $1 " | head -1 | cut -d' ' -f3; }
# near A B REL: |A - B| <= REL * |B|
near() { awk -v a="$1" -v b="$2" -v r="$3" 'BEGIN {d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(d <= r * m)}'; }

# 1. the EM steps of scikit-learn from the same start: the same clusters and figures
for c in full tied diag spherical; do
    "$G" --init-model "$F/gmm_start_$c.tp" --tol 1e-8 --max-iter 500 "$F/gmm_data.tp" >"$T/$c.tp" 2>"$T/err" ||
        fail "$c: $(cat "$T/err")"
    "$BIN/tp2csv" --no-header --fields cluster "$T/$c.tp" >"$T/got"
    "$BIN/tp2csv" --no-header --fields labels "$F/gmm_want_$c.tp" | tr ',' '\n' >"$T/want"
    cmp -s "$T/got" "$T/want" || fail "$c: clusters differ from scikit-learn's"
    for k in score:gmm_loglik bic:gmm_bic aic:gmm_aic; do
        w=$("$BIN/tp2csv" --no-header --fields "${k%%:*}" "$F/gmm_want_$c.tp")
        g=$(meta "${k#*:}" "$T/$c.tp")
        near "$g" "$w" 1e-9 || fail "$c: ${k#*:} $g, scikit-learn says $w"
    done
    [ "$(meta gmm_iterations "$T/$c.tp")" = "$("$BIN/tp2csv" --no-header --fields n_iter "$F/gmm_want_$c.tp")" ] ||
        fail "$c: iterations differ from scikit-learn's"
    [ "$(meta gmm_converged "$T/$c.tp")" = 1 ] || fail "$c: not converged"
    grep -q "^gmm: 300 records, 3 features, 3 $c components: run 1 of 1 kept" "$T/err" || fail "$c: summary: $(cat "$T/err")"
done

# 2. the input passes through; cluster is added; metadata
"$G" -k 3 "$F/gmm_data.tp" >"$T/a.tp" 2>"$T/err" || fail "gmm -k 3: $(cat "$T/err")"
cmp -s <("$BIN/tp2csv" --fields x,y "$T/a.tp") <("$BIN/tp2csv" "$F/gmm_data.tp") || fail "x and y not passed through"
"$BIN/tinfo" "$T/a.tp" | grep -q '^field cluster i32 .*min 0 .*max 2 ' || fail "cluster field: $("$BIN/tinfo" "$T/a.tp")"
for k in gmm_loglik gmm_iterations gmm_converged gmm_bic gmm_aic; do
    [ -n "$(meta $k "$T/a.tp")" ] || fail "no meta $k"
done
grep -q "run [0-9]* of 10 kept" "$T/err" || fail "default is not 10 runs: $(cat "$T/err")"
# the clusters are the generating components, up to names: each cluster is one label mostly
"$BIN/tp2csv" --no-header --fields y,cluster "$T/a.tp" | sort | uniq -c | sort -rn | head -3 |
    awk '{split($2, a, ","); n += $1; if (seen[a[2]]++) bad = 1} END {exit bad || n < 240}' ||
    fail "clusters do not follow the labels"
# run again on its own output: cluster replaced, not doubled
"$G" -k 3 -q "$T/a.tp" | cmp -s - "$T/a.tp" || fail "gmm of its own output differs"
# repeatable, whatever the thread count; a pipe reads as a file does
"$G" -k 3 -q --threads 1 "$F/gmm_data.tp" | cmp -s - "$T/a.tp" || fail "--threads 1 differs"
cat "$F/gmm_data.tp" | "$G" -k 3 -q | cmp -s - "$T/a.tp" || fail "pipe input differs"
"$G" -k 3 -q -s 7 --n-init 1 --init random "$F/gmm_data.tp" | cmp -s - "$T/a.tp" && fail "another seed and init gave the same bytes"

# 3. --resp: probabilities summing to 1, largest at cluster
"$G" -k 3 -q --resp --covariance diag "$F/gmm_data.tp" >"$T/r.tp"
"$BIN/tp2csv" --no-header --fields cluster,resp "$T/r.tp" | awk -F, '{
    s = $2 + $3 + $4; if (s < 0.9999 || s > 1.0001) bad = 1
    m = 2; for (i = 3; i <= 4; i++) if ($i > $m) m = i
    if (m - 2 != $1) bad = 1 } END {exit bad}' || fail "--resp rows"

# 4. the model file, and --model on it gives the same clusters
"$G" -k 3 --covariance tied -o "$T/m.tp" -q "$F/gmm_data.tp" >"$T/t.tp"
grep -aq '^meta kind gmm' "$T/m.tp" && grep -aq '^meta covariance_type tied' "$T/m.tp" || fail "model metadata"
"$BIN/tinfo" "$T/m.tp" | grep -q '^field precisions_cholesky f64\[3,3\]' || fail "model fields: $("$BIN/tinfo" "$T/m.tp")"
"$G" --model "$T/m.tp" "$F/gmm_data.tp" 2>"$T/err" >"$T/t2.tp" || fail "--model: $(cat "$T/err")"
cmp -s <("$BIN/tp2csv" --fields cluster "$T/t.tp") <("$BIN/tp2csv" --fields cluster "$T/t2.tp") || fail "--model clusters differ"
[ "$(meta gmm_loglik "$T/t.tp")" = "$(meta gmm_loglik "$T/t2.tp")" ] || fail "--model log-likelihood differs"
grep -q "^gmm: 300 records assigned with $T/m.tp (3 tied components, 3 features)" "$T/err" || fail "--model summary: $(cat "$T/err")"
ls "$T" | grep -q tmp && fail "a temporary file was left"

# 5. degenerate inputs: a constant feature and 20 copies of one point (u8 data)
mk() { # mk N AWK-EXPR-FOR-BYTES: a stream of N records x u8[2]
    { header "TPIPE 1"$'\n'"field x u8 2"$'\n'"count $1"; awk -v n="$1" "BEGIN {for (i = 0; i < n; i++) printf \"%c%c\", $2}"; }
}
mk 40 'i < 20 ? 10 + i : 200, 7' >"$T/dup.tp"
"$G" -k 2 "$T/dup.tp" >"$T/d.tp" 2>"$T/err" || fail "duplicates: $(cat "$T/err")"
grep -q "1 of 2 features are constant (the first is 1)" "$T/err" || fail "constant feature not reported: $(cat "$T/err")"
grep -q "collapsed onto 20 samples" "$T/err" || fail "collapse not reported: $(cat "$T/err")"
meta gmm_loglik "$T/d.tp" | grep -Eq '^-?[0-9.]+(e[-+][0-9]+)?$' || fail "log-likelihood $(meta gmm_loglik "$T/d.tp")"
"$BIN/tp2csv" --no-header --fields cluster "$T/d.tp" | sort | uniq -c | awk '{print $1}' | sort -n | tr '\n' ' ' |
    grep -q '^20 20 $' || fail "duplicates not one cluster"
mk 10 '3, 3' >"$T/same.tp"
"$G" -k 3 -q "$T/same.tp" >"$T/s.tp" 2>/dev/null || fail "identical points"
meta gmm_loglik "$T/s.tp" | grep -qiE 'nan|inf' && fail "identical points gave $(meta gmm_loglik "$T/s.tp")"

# 6. the defaults fit at least as well as scikit-learn's best: a 2-D t-SNE of 3000
# Fashion-MNIST images, where scikit-learn's tol stops runs early (make_gmm_fashion.py: the
# best of GaussianMixture(n_init=10) over 10 seeds, and of 100 single fits)
E=$F/fashion_tsne3k.tp
want=$(awk '$1 == "n_init10_best" {print $2}' "$F/gmm_fashion_want.txt")
best1=$(awk '$1 == "n_init1_best100" {print $2}' "$F/gmm_fashion_want.txt")
for s in 42 0 1 2; do
    "$G" -q -k 10 -s $s "$E" >"$T/fa.tp"
    ll=$(meta gmm_loglik "$T/fa.tp")
    awk -v a="$ll" -v b="$want" -v c="$best1" 'BEGIN {exit !(a >= b && a >= c)}' ||
        fail "seed $s: mean log-likelihood $ll, scikit-learn's best n_init=10 fit $want, of 100 single fits $best1"
done
# refinement is EM continued: --refine 1 is the kept run of --refine 0 continued to
# --refine-tol, as a new fit from that run's model (--init-model) continues it
"$G" -q -k 10 --refine 0 -o "$T/r0.m" "$E" >"$T/r0.tp"
"$G" -q -k 10 --refine 1 "$E" >"$T/r1.tp"
"$G" -q --init-model "$T/r0.m" --tol 1e-5 --refine 0 "$E" >"$T/ri.tp"
near "$(meta gmm_loglik "$T/r1.tp")" "$(meta gmm_loglik "$T/ri.tp")" 1e-9 ||
    fail "--refine 1: $(meta gmm_loglik "$T/r1.tp"), the kept run continued: $(meta gmm_loglik "$T/ri.tp")"
[ $(($(meta gmm_iterations "$T/r0.tp") + $(meta gmm_iterations "$T/ri.tp"))) = "$(meta gmm_iterations "$T/r1.tp")" ] ||
    fail "--refine 1: $(meta gmm_iterations "$T/r1.tp") iterations, not $(meta gmm_iterations "$T/r0.tp") + $(meta gmm_iterations "$T/ri.tp")"
awk -v a="$(meta gmm_loglik "$T/r1.tp")" -v b="$(meta gmm_loglik "$T/r0.tp")" 'BEGIN {exit !(a > b + 1e-3)}' ||
    fail "refinement gained nothing on this input"
# a --refine-tol not below --tol refines nothing
"$G" -q -k 10 --refine-tol 1e-3 "$E" | cmp -s - "$T/r0.tp" || fail "--refine-tol 1e-3 (= --tol) changed the fit"

# 7. bad input and usage
mk 7 'i, i * 2' >"$T/seven.tp"
expect_fail 1 "^gmm: $T/seven.tp: -k 10 needs at least 10 records, the input holds 7$" "$G" -k 10 -o "$T/no.tp" "$T/seven.tp"
[ -e "$T/no.tp" ] && fail "a model was written after an error"
mk 0 '0, 0' >"$T/empty.tp"
expect_fail 1 "^gmm: $T/empty.tp: no records to cluster$" "$G" "$T/empty.tp"
expect_fail 1 "^gmm: $T/seven.tp: no field 'z' to cluster" "$G" -f z "$T/seven.tp"
{ header "TPIPE 1"$'\n'"field x f32"$'\n'"count 2"; printf '\0\0\200\77\0\0\300\177'; } >"$T/nan.tp"
expect_fail 1 "^gmm: $T/nan.tp: record 1: field 'x' holds nan; gmm needs finite numbers$" "$G" "$T/nan.tp"
expect_fail 1 "^gmm: $T/m.tp: the model has 3 features, field 'x' of $T/seven.tp has 2$" "$G" --model "$T/m.tp" "$T/seven.tp"
expect_fail 1 "^gmm: $T/m.tp: the model has 3 components, -k says 4$" "$G" -k 4 --model "$T/m.tp" "$F/gmm_data.tp"
expect_fail 1 "^gmm: $F/gmm_data.tp: not a gmm model" "$G" --model "$F/gmm_data.tp" "$T/seven.tp"
expect_fail 1 "^gmm: $T/nope.tp: " "$G" --model "$T/nope.tp" "$T/seven.tp"
expect_fail 2 "^gmm: option --covariance must be full, tied, diag or spherical, not 'round'" "$G" --covariance round "$T/seven.tp"
expect_fail 2 "^gmm: option --init must be kmeans, k-means\+\+, random or random_from_data, not 'x'" "$G" --init x "$T/seven.tp"
expect_fail 2 "^gmm: option --components must be 1 to 100000, not '0'" "$G" -k 0 "$T/seven.tp"
expect_fail 2 "^gmm: option --n-init must be 1 to 100000, not '0'" "$G" --n-init 0 "$T/seven.tp"
expect_fail 2 "^gmm: option --reg-covar must be at least 0, not '-1'" "$G" --reg-covar -1 "$T/seven.tp"
expect_fail 2 "^gmm: option --reg-covar must be at least 0, not 'inf'" "$G" --reg-covar inf "$T/seven.tp"
expect_fail 2 "^gmm: option --threads must be 1 to 256, not '1000'" "$G" -t 1000 "$T/seven.tp"
expect_fail 2 "^gmm: --model does not fit, so -o has nothing to write" "$G" --model "$T/m.tp" -o "$T/x.tp" "$T/seven.tp"
expect_fail 2 "^gmm: --model assigns with a fitted model, --init-model starts a fit" "$G" --model "$T/m.tp" --init-model "$T/m.tp"
exit 0
