# .npy and CSV bridges: byte-identical round trips, plain fields, joined columns.
. "$TESTS/cli/lib.sh"
mkidx "$T/im" u8 50 4 3
mkidx "$T/lb" u8 50
"$BIN/idx2raw" --classes "a,b,c d" "$T/im" "$T/lb" >"$T/a.tp"
"$BIN/tp2npy" --meta "$T/m.txt" <"$T/a.tp" >"$T/a.npy" || fail tp2npy
"$BIN/npy2tp" --meta "$T/m.txt" "$T/a.npy" | cmp - "$T/a.tp" || fail "stream -> npy -> stream is not byte-identical"
"$BIN/npy2tp" -m "$T/m.txt" <"$T/a.npy" | cmp - "$T/a.tp" || fail "the same through stdin"
# the .npy body is the stream body
hs=$(grep -abm1 '^end' "$T/a.tp" | cut -d: -f1)
cmp <(tail -c $((50 * 16)) "$T/a.npy") <(tail -c $((50 * 16)) "$T/a.tp") || fail "bodies differ"
# one field as a plain array, then joined back column by column
"$BIN/tp2npy" -f x "$T/a.tp" -o "$T/x.npy"
"$BIN/tp2npy" -f y "$T/a.tp" -o "$T/y.npy"
"$BIN/npy2tp" -m "$T/m.txt" x="$T/x.npy" y="$T/y.npy" | cmp - "$T/a.tp" || fail "x=, y= join differs"
"$BIN/npy2tp" "$T/x.npy" | head -c 64 | grep -q '^field x u8 4 3 1$' || fail "plain array field"
"$BIN/npy2tp" -f img "$T/x.npy" | head -c 64 | grep -q '^field img u8 4 3 1$' || fail "--field name"
# concatenated input to a file: the .npy count covers both parts
cat "$T/a.tp" "$T/a.tp" | "$BIN/tp2npy" -o "$T/aa.npy"
"$BIN/npy2tp" "$T/aa.npy" | "$BIN/tinfo" | grep -q '^stdin: 100 records' || fail "concatenated count"
# a .npy whose rows do not match
head -c -3 "$T/y.npy" >"$T/y3.npy"
expect_fail 1 "^npy2tp: $T/y3.npy: truncated: the header promises 50 rows, the data ends at row 49$" \
    "$BIN/npy2tp" x="$T/x.npy" y="$T/y3.npy"
"$BIN/tp2npy" -f y <("$BIN/idx2raw" -n 20 "$T/im" "$T/lb") -o "$T/y20.npy"
expect_fail 1 "^npy2tp: .*y20.npy: 20 rows, but .*x.npy has 50" "$BIN/npy2tp" x="$T/x.npy" y="$T/y20.npy"
# a metadata file that is not header lines
printf 'meta ok fine\nclasses a\n' >"$T/bad.meta"
expect_fail 1 "^npy2tp: $T/bad.meta: line 2: not a 'meta KEY VALUE' line$" "$BIN/npy2tp" -m "$T/bad.meta" "$T/a.npy"
# CSV
"$BIN/idx2raw" -n 2 "$T/im" "$T/lb" | "$BIN/tp2csv" --sep ';' --fields y,x >"$T/c.csv"
[ "$(head -1 "$T/c.csv" | cut -d';' -f1-3)" = "y;x_0;x_1" ] || fail "csv header: $(head -1 "$T/c.csv")"
[ "$(sed -n 3p "$T/c.csv" | cut -d';' -f1-4)" = "1;12;13;14" ] || fail "csv row: $(sed -n 3p "$T/c.csv")"
exit 0
