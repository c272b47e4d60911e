# augment: identity, determinism, pass-through, copies, epochs with shuffle, an endless
# stream, bad input. (Exact geometry: tests/unit/test_augment.c.)
. "$TESTS/cli/lib.sh"
A=$BIN/augment
mkidx "$T/im" u8 50 12 10
mkidx "$T/lb" u8 50
"$BIN/idx2raw" "$T/im" "$T/lb" --classes a,b >"$T/in.tp"
"$A" <"$T/in.tp" | cmp - "$T/in.tp" || fail "no transform is not the identity"
opts="--rotation 40 --width-shift 0.2 --height-shift 0.2 --shear 0.2 --zoom 0.2 --hflip"
"$A" $opts <"$T/in.tp" >"$T/a.tp"
"$A" $opts -t 1 <"$T/in.tp" | cmp - "$T/a.tp" || fail "threads change the result"
"$A" $opts "$T/in.tp" | cmp - "$T/a.tp" || fail "file and stdin differ"
"$A" $opts -s 7 <"$T/in.tp" | cmp -s - "$T/a.tp" && fail "seed 7 gave the same images"
cmp -s "$T/a.tp" "$T/in.tp" && fail "augmentation changed nothing"
cmp <("$BIN/tp2csv" --fields y "$T/in.tp") <("$BIN/tp2csv" --fields y "$T/a.tp") || fail "labels changed"
grep -aq '^meta classes b$' "$T/a.tp" || fail "metadata lost"
# --copies: K variants of each record, next to each other
"$A" $opts -k 3 <"$T/in.tp" >"$T/k.tp"
"$BIN/tinfo" "$T/k.tp" | grep -q ': 150 records' || fail "--copies 3 count"
[ "$("$BIN/tp2csv" --no-header --fields y "$T/k.tp" | head -3 | sort -u | wc -l)" = 1 ] || fail "copies not adjacent"
# --epochs 2 --shuffle: twice the records, each pass a permutation of the input
"$A" $opts --epochs 2 --shuffle <"$T/in.tp" >"$T/e.tp"
"$BIN/tinfo" --header "$T/e.tp" | grep -q ': 100 records' || fail "--epochs 2 count"
"$BIN/tp2csv" --no-header --fields y "$T/e.tp" >"$T/ey"
sort "$T/ey" | uniq -c | awk '{print $2, $1}' >"$T/got"
"$BIN/tp2csv" --no-header --fields y "$T/in.tp" | sort | uniq -c | awk '{print $2, 2 * $1}' >"$T/want"
cmp "$T/got" "$T/want" || fail "epochs do not hold each record twice"
cmp -s <(head -50 "$T/ey") <(tail -50 "$T/ey") && fail "the two epochs have the same order"
cat "$T/in.tp" | "$A" $opts --epochs 2 --shuffle | cmp - "$T/e.tp" || fail "pipe input differs (spool)"
# endless: a consumer takes what it needs and the producer ends quietly
"$A" $opts --epochs 0 --shuffle "$T/in.tp" 2>"$T/err" | head -c 200000 >/dev/null
rc=${PIPESTATUS[0]}
[ "$rc" = 141 ] || [ "$rc" = 0 ] || fail "endless augment | head: exit $rc"
[ -s "$T/err" ] && fail "endless augment printed: $(cat "$T/err")"
# float output, fill modes
"$A" --rotation 30 --float --fill constant --cval 7 <"$T/in.tp" | head -c 64 | grep -q '^field x f32 12 10 1$' ||
    fail "--float"
# Keras' warp (ImageDataGenerator.apply_transform: scipy's affine_transform, order 1) of one
# pinned transform in each fill mode, from make_augment.py
F=$TESTS/fixtures
pin="--float --keras-axes --rotation 17,17 --height-shift 1.5,1.5 --width-shift -2,-2 --shear 9,9 --zoom-range 1.3,1.3"
for m in nearest constant reflect wrap; do
    "$A" $pin --fill $m --cval 40 "$F/augment_in.tp" | "$BIN/tp2csv" --no-header -f x >"$T/got_$m"
    "$BIN/tp2csv" --no-header -f x "$F/augment_$m.tp" >"$T/want_$m"
    same_numbers "$T/got_$m" "$T/want_$m" 1e-4
done
# LO,HI: draws stay inside the interval; LO = HI is one value for every record
"$A" --float --rotation 10,10 "$F/augment_in.tp" | "$BIN/tp2csv" --no-header -f x >"$T/r10"
"$A" --float --rotation 10,10 -s 5 "$F/augment_in.tp" | "$BIN/tp2csv" --no-header -f x | cmp - "$T/r10" ||
    fail "--rotation 10,10 depends on the seed"
"$A" --float --rotation -10,-10 "$F/augment_in.tp" | "$BIN/tp2csv" --no-header -f x | cmp -s - "$T/r10" &&
    fail "--rotation -10,-10 is --rotation 10,10"
"$A" --float --rotation 0,0 --width-shift 0,0 --shear 0,0 "$F/augment_in.tp" | cmp -s - <("$A" --float "$F/augment_in.tp") ||
    fail "pinned zeros are not the identity"
# bad input
"$BIN/idx2raw" "$T/lb" >"$T/labels.tp"
expect_fail 1 "^augment: $T/labels.tp: field 'x' is u8 with rank 0, not an image" "$A" --rotation 5 "$T/labels.tp"
expect_fail 2 "^augment: option --fill must be nearest, constant, reflect or wrap" "$A" --fill mirror "$T/in.tp"
expect_fail 2 "^augment: option --zoom must be at least 0 and less than 1, not .1.5." "$A" --zoom 1.5 "$T/in.tp"
expect_fail 2 "^augment: option --rotation must be at least 0, not .-5." "$A" --rotation -5 "$T/in.tp"
expect_fail 2 "^augment: --zoom-range wants LO,HI" "$A" --zoom-range 2,1 "$T/in.tp"
expect_fail 2 "^augment: option --copies must be 1 to 1000000, not '0'" "$A" --copies 0 "$T/in.tp"
expect_fail 2 "^augment: option --epochs must be at least 0, not '-1'" "$A" --epochs -1 "$T/in.tp"
expect_fail 2 "^augment: option --rotation wants LO,HI with LO <= HI, not .5,1." "$A" --rotation 5,1 "$T/in.tp"
expect_fail 2 "^augment: option --shear wants LO,HI with LO <= HI, not .1,x." "$A" --shear 1,x "$T/in.tp"
expect_fail 2 "^augment: option --width-shift wants LO,HI with LO <= HI, not .1,2,3." "$A" --width-shift 1,2,3 "$T/in.tp"
exit 0
