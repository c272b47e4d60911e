# pca: scikit-learn's PCA on fixtures (tests/fixtures/make_pca.py) by every method, saved
# models applied to another stream, pass-through, degenerate cases, bad usage and input,
# and the explained variance of real MNIST against NumPy's (where data/ holds it).
. "$TESTS/cli/lib.sh"
F=$TESTS/fixtures
P=$BIN/pca
# flat FILE FIELD: the field's values over all records, one per line
flat() { "$BIN/tp2csv" --no-header --fields "$2" "$1" | tr ',' '\n'; }
# near GOT WANT RTOL: same count of numbers, each within RTOL times WANT's largest magnitude
near() {
    [ "$(wc -l <"$1")" = "$(wc -l <"$2")" ] || fail "$1 holds $(wc -l <"$1") values, $2 $(wc -l <"$2")"
    paste -d' ' "$1" "$2" | awk -v tol="$3" '{a[NR] = $1; b[NR] = $2; m = $2 < 0 ? -$2 : $2; if (m > big) big = m}
        END {for (i = 1; i <= NR; i++) {d = a[i] - b[i]; if (d < 0) d = -d
             if (d > tol * big) {print "value " i ": " a[i] " vs " b[i]; exit 1}}}' || fail "$1 and $2 differ beyond $3"
}
meta() { head -c 4096 "$1" | grep -a "^meta $2 " | cut -d' ' -f3-; }

# 1. the fixtures, by each method: model fields to 1e-9 (f64), scores to 1e-6 (f32 output);
#    signs included (the sign rule is scikit-learn's svd_flip on U); the model on a second stream
for c in k3 frac white; do
    W=$F/pca_want_$c.tp
    read -r -a o <<<"$(meta "$W" options)"
    for m in cov gram randomized; do
        [ $c = frac ] && [ $m = randomized ] && continue
        "$P" "${o[@]}" --method $m --save "$T/m.tp" <"$F/pca_in.tp" >"$T/o.tp" 2>"$T/err" || fail "$c $m: $(cat "$T/err")"
        for f in mean components explained_variance explained_variance_ratio singular_values; do
            flat "$T/m.tp" $f >"$T/got"
            flat "$W" $f >"$T/want"
            near "$T/got" "$T/want" 1e-9
        done
        flat "$T/o.tp" x >"$T/got"
        flat "$W" scores >"$T/want"
        near "$T/got" "$T/want" 1e-6
        "$P" --model "$T/m.tp" <"$F/pca_in2.tp" >"$T/o2.tp" || fail "$c $m: --model"
        flat "$T/o2.tp" x >"$T/got"
        flat "$W" scores2 >"$T/want"
        near "$T/got" "$T/want" 1e-6
        # the model applied to its own training stream repeats the fit's output
        "$P" --model "$T/m.tp" <"$F/pca_in.tp" >"$T/o3.tp"
        flat "$T/o3.tp" x >"$T/got"
        flat "$T/o.tp" x >"$T/want"
        near "$T/got" "$T/want" 1e-6
    done
done
[ "$(meta "$F/pca_want_frac.tp" k)" = 5 ] || fail "the fraction fixture is not the 5-component case"

# 2. what passes through, what is added, the report
"$P" -k 3 --save "$T/m.tp" "$F/pca_in.tp" >"$T/o.tp" 2>"$T/err" || fail "-k 3"
grep -qx "pca: $F/pca_in.tp: 100 records x 12 values: 3 components explain 0.9012 of the variance (first 0.5617, last 0.1238; cov)" "$T/err" ||
    fail "report: $(cat "$T/err")"
head -c 512 "$T/o.tp" | grep -aqx 'field x f32 3' || fail "x is not f32[3]"
cmp <(flat "$T/o.tp" y) <(flat "$F/pca_in.tp" y) || fail "y changed"
[ "$(meta "$T/o.tp" source)" = make_pca.py ] || fail "meta source lost"
[ "$(meta "$T/o.tp" pca_components)" = 3 ] || fail "meta pca_components"
[ "$(meta "$T/o.tp" pca_explained)" = 0.901197 ] || fail "meta pca_explained: $(meta "$T/o.tp" pca_explained)" # sklearn: 0.9011969
[ "$(meta "$T/m.tp" kind)" = pca ] && [ "$(meta "$T/m.tp" whiten)" = 0 ] && [ "$(meta "$T/m.tp" input_shape)" = "3 4" ] ||
    fail "model meta"
"$P" --model "$T/m.tp" <"$F/pca_in2.tp" | cmp -s - <("$P" --model "$T/m.tp" "$F/pca_in2.tp") || fail "pipe and file differ"
[ "$(meta "$T/o2.tp" source)" = "make_pca.py second" ] || fail "--model lost the stream's meta"
"$P" -k 3 --whiten -q <"$F/pca_in.tp" | head -c 1024 | grep -aqx 'meta pca_whiten 1' || fail "meta pca_whiten"
# a pipe (spooled) fits what the file fits; --fit-only writes the same model, and only it
cat "$F/pca_in.tp" | "$P" -k 3 -q | cmp - "$T/o.tp" || fail "pipe input differs from file input"
"$P" -k 3 -q --fit-only --save - <"$F/pca_in.tp" | cmp - "$T/m.tp" || fail "--fit-only model differs"
# concatenated input: 120 records, the first part's metadata
cat "$F/pca_in.tp" "$F/pca_in2.tp" | "$P" -k 2 -q | "$BIN/tinfo" >"$T/info"
grep -q ': 120 records' "$T/info" && grep -q 'meta source       make_pca.py$' "$T/info" || fail "concatenated: $(cat "$T/info")"
# value 4 is constant: no component uses it
flat "$T/m.tp" components | awk 'NR % 12 == 5 && ($1 > 1e-12 || $1 < -1e-12) {bad = 1} END {exit bad}' ||
    fail "a component uses the constant value"

# 3. degenerate cases
"$P" -q <"$F/pca_in.tp" >"$T/all.tp" || fail "all components"
head -c 512 "$T/all.tp" | grep -aqx 'field x f32 12' || fail "default is not all min(N, D) = 12 components"
[ "$(meta "$T/all.tp" pca_explained)" = 1.000000 ] || fail "all components do not explain everything"
"$P" -q --whiten <"$F/pca_in.tp" | "$BIN/tp2csv" --no-header --fields x | awk -F, '$12 != 0 {bad = 1} END {exit bad}' ||
    fail "whitened: the component of no variance does not project to 0"
"$P" -k 0.999999999 --save "$T/mf.tp" <"$F/pca_in.tp" 2>"$T/err" >/dev/null || fail "fraction near 1"
[ "$(meta "$T/mf.tp" n_samples)" = 100 ] && grep -q ' 11 components explain 1.0000 ' "$T/err" ||
    fail "a fraction reaching 1 keeps the rank, 11: $(cat "$T/err")"
expect_fail 1 "^pca: $F/pca_in.tp: 13 components asked for, but 100 records of 12 values have at most 12$" "$P" -k 13 "$F/pca_in.tp"
{ header $'TPIPE 1\nfield x f32 2\ncount 1'; printf '\000\000\200\077\000\000\000\100'; } >"$T/one.tp"
expect_fail 1 "^pca: stdin: PCA needs at least 2 records, the input holds 1$" "$P" -k 1 <"$T/one.tp"
{ header $'TPIPE 1\nfield x f32 2\ncount 0'; } >"$T/none.tp"
expect_fail 1 "^pca: stdin: PCA needs at least 2 records, the input holds 0$" "$P" <"$T/none.tp"
"$P" --model "$T/m.tp" <"$F/pca_in.tp" | "$BIN/tinfo" | grep -q ': 100 records' || fail "--model"

# 4. bad usage and input; nothing half-written
for k in 0 -1 2.5 1.5 1e99 nan; do
    expect_fail 2 "^pca: option --components must be a count of at least 1 or a fraction between 0 and 1, not '$k'" \
        "$P" -k "$k" "$F/pca_in.tp"
done
expect_fail 2 "^pca: option --components wants a number, not 'abc'" "$P" -k abc "$F/pca_in.tp"
expect_fail 2 "^pca: option --method must be auto, cov, gram or randomized, not 'svd'" "$P" --method svd "$F/pca_in.tp"
expect_fail 2 "^pca: --model fixes the components" "$P" --model "$T/m.tp" -k 2 "$F/pca_in.tp"
expect_fail 2 "^pca: --fit-only writes only the model: name it with --save" "$P" --fit-only "$F/pca_in.tp"
expect_fail 2 "^pca: the model and the stream cannot both go to stdout" "$P" --save - "$F/pca_in.tp"
expect_fail 2 "^pca: --save and --output name the same file" "$P" --save "$T/x.tp" -o "$T/x.tp" "$F/pca_in.tp"
expect_fail 1 "^pca: $F/pca_in.tp: the randomized method needs a number of components \(-k N\), not a fraction$" \
    "$P" -k 0.5 --method randomized "$F/pca_in.tp"
expect_fail 1 "^pca: $F/pca_in.tp: no field 'z'$" "$P" -f z "$F/pca_in.tp"
{ header $'TPIPE 1\nfield x f32 5\ncount 1'; head -c 20 /dev/zero; } >"$T/five.tp"
expect_fail 1 "^pca: stdin: field 'x' holds 5 values per record, but the model $T/m.tp was fitted on 12$" "$P" --model "$T/m.tp" <"$T/five.tp"
expect_fail 1 "^pca: $F/pca_in.tp: not a PCA model" "$P" --model "$F/pca_in.tp" <"$F/pca_in2.tp"
{ header $'TPIPE 1\nfield x f32 2\ncount 3'; printf '\000\000\200\077\000\000\000\100\000\000\300\177\000\000\000\000\000\000\200\077\000\000\200\077'; } >"$T/nan.tp"
expect_fail 1 "^pca: stdin: record 1 holds a NaN or an infinite value$" "$P" <"$T/nan.tp"
"$P" -k 1 --fit-only --save "$T/m2.tp" <"$T/five.tp" 2>/dev/null && fail "fitted one record"
{ header $'TPIPE 1\nfield x f32 2\ncount 2'; printf '\000\000\200\077\000\000\000\100\000\000\000\000\000\000\200\077'; } >"$T/two.tp"
"$P" -k 1 -q --fit-only --save "$T/m2.tp" <"$T/two.tp" || fail "2 records of 2 values"
expect_fail 1 "^pca: stdin: record 1 holds a NaN or an infinite value$" "$P" --model "$T/m2.tp" <"$T/nan.tp"
echo old >"$T/keep.tp"
"$P" -k 13 --save "$T/keep.tp" "$F/pca_in.tp" >/dev/null 2>&1 && fail "-k 13 succeeded"
[ "$(cat "$T/keep.tp")" = old ] || fail "a failed fit touched the model file"
ls "$T" | grep -q '\.tmp\.' && fail "left a temporary file"

# 5. real MNIST (when data/ has it): the 10 000 test images, 50 components; NumPy's
#    eigvalsh of the scatter matrix gives a ratio sum of 0.831629379 (first 0.100476633)
D=$ROOT/data/mnist
if [ -f "$D/t10k-images-idx3-ubyte" ]; then
    "$BIN/idx2raw" "$D/t10k-images-idx3-ubyte" | "$P" -k 50 -q --fit-only --save - |
        "$BIN/tp2csv" --no-header --fields explained_variance_ratio | tr ',' '\n' >"$T/r"
    awk '{s += $1} NR == 1 {f = $1} END {d = s - 0.831629379; e = f - 0.100476633
        exit !(NR == 50 && d < 1e-8 && d > -1e-8 && e < 1e-8 && e > -1e-8)}' "$T/r" ||
        fail "MNIST t10k: ratio sum $(awk '{s += $1} END {printf "%.9f", s}' "$T/r"), NumPy 0.831629379"
fi
exit 0
