# idx2raw: values, dtypes, gzip, --offset/--limit, header text; checked against hand-written CSV.
. "$TESTS/cli/lib.sh"
mkidx "$T/im" u8 3 2 2
mkidx "$T/lb" u8 3
mkidx "$T/im.gz" u8 3 2 2 --gz
"$BIN/idx2raw" "$T/im" "$T/lb" >"$T/a.tp" || fail "idx2raw failed"
head -c 64 "$T/a.tp" | grep -q '^field x u8 2 2 1$' || fail "header lacks 'field x u8 2 2 1'"
grep -aq '^count 3$' "$T/a.tp" || fail "header lacks 'count 3'"
[ $(( $(stat -c %s "$T/a.tp") % 64 )) = $(( 3 * 8 % 64 )) ] || fail "payload not aligned at 64"
printf 'x_0,x_1,x_2,x_3,y\n0,1,2,3,0\n4,5,6,7,1\n8,9,10,11,2\n' >"$T/want"
"$BIN/tp2csv" "$T/a.tp" | cmp - "$T/want" || fail "u8 values differ"
"$BIN/idx2raw" "$T/im.gz" "$T/lb" | "$BIN/tp2csv" | cmp - "$T/want" || fail "gzip input differs from plain"
"$BIN/idx2raw" --offset 1 --limit 1 "$T/im" "$T/lb" | "$BIN/tp2csv" --no-header | grep -qx '4,5,6,7,1' ||
    fail "--offset 1 --limit 1"
[ "$("$BIN/idx2raw" -n 0 "$T/im" | "$BIN/tp2csv" --no-header | wc -c)" = 0 ] || fail "--limit 0 is not empty"
"$BIN/idx2raw" --offset 3 "$T/im" "$T/lb" | "$BIN/tinfo" | grep -q '^stdin: 0 records' || fail "--offset to the end"

# every IDX dtype, big-endian to little-endian, values by mkidx's formulas
mkidx "$T/i16" i16 2 2
mkidx "$T/i32" i32 2
mkidx "$T/f32" f32 2 3
mkidx "$T/f64" f64 3
mkidx "$T/i8" i8 2
[ "$("$BIN/idx2raw" "$T/i16" | "$BIN/tp2csv" --no-header | tr '\n' ' ')" = "-1000,-700 -400,-100 " ] || fail i16
[ "$("$BIN/idx2raw" "$T/i32" | "$BIN/tp2csv" --no-header | tr '\n' ' ')" = "-7 99993 " ] || fail i32
[ "$("$BIN/idx2raw" "$T/f32" | "$BIN/tp2csv" --no-header | tr '\n' ' ')" = "0,0.5,1 1.5,2,2.5 " ] || fail f32
[ "$("$BIN/idx2raw" "$T/f64" | "$BIN/tp2csv" --no-header | tr '\n' ' ')" = "-0 -0.25 -0.5 " ] || fail f64
[ "$("$BIN/idx2raw" "$T/i8" | "$BIN/tp2csv" --no-header | tr '\n' ' ')" = "-128 -127 " ] || fail i8
"$BIN/idx2raw" "$T/f32" | head -c 64 | grep -q '^field x f32 3$' || fail "f32 shape"
"$BIN/idx2raw" "$T/i16" | grep -aq '^field y' && fail "a y field without labels"

# labels wider than u8 and class names
mkidx "$T/lb16" i16 3
"$BIN/idx2raw" --classes zero,one,two "$T/im" "$T/lb" | "$BIN/tinfo" >"$T/info"
grep -Eq '^ +1 +1 +33\.33% +one$' "$T/info" || fail "class names in tinfo: $(cat "$T/info")"
"$BIN/idx2raw" "$T/im" "$T/lb16" | "$BIN/tp2csv" --fields y --no-header | tr '\n' ' ' | grep -qx -- '-1000 -700 -400 ' ||
    fail "i16 labels"
# -o writes the same bytes as stdout
"$BIN/idx2raw" "$T/im" "$T/lb" -o "$T/b.tp" && cmp "$T/a.tp" "$T/b.tp" || fail "-o differs from stdout"
ls "$T" | grep -q tmp && fail "temporary file left behind"
exit 0
