# Bad input: one line "PROGRAM: FILE: what is wrong", exit 1, nothing on stdout, no output
# file left behind; bad usage exits 2.
. "$TESTS/cli/lib.sh"
mkidx "$T/im" u8 3 2 2
mkidx "$T/lb" u8 3
mkidx "$T/lb2" u8 2
mkidx "$T/short" u8 3 2 2 --cut 1
mkidx "$T/long" u8 3 2 2 --extra 5
mkidx "$T/huge" u8 1 65536 65536 2 --header-only
mkidx "$T/fl" f32 3
printf 'GARBAGE!' >"$T/junk"
printf '\0\0\10' >"$T/hdr"
mkidx "$T/big" u8 2000 28 28
gzip -c "$T/big" >"$T/big.gz"
cp "$T/big.gz" "$T/bad.gz"
printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' | dd of="$T/bad.gz" bs=1 seek=5000 conv=notrunc status=none
echo old >"$T/keep.tp"

I=$BIN/idx2raw
expect_fail 1 "^idx2raw: $T/junk: not an IDX file \(bad magic\)$" "$I" "$T/junk"
expect_fail 1 "^idx2raw: $T/hdr: truncated IDX header$" "$I" "$T/hdr"
expect_fail 1 "^idx2raw: $T/short: truncated" "$I" "$T/short" "$T/lb"
expect_fail 1 "^idx2raw: $T/long: 5 bytes follow" "$I" "$T/long"
expect_fail 1 "^idx2raw: $T/huge: IDX items are larger than 2\^32 bytes$" "$I" "$T/huge"
expect_fail 1 "^idx2raw: $T/lb2: 2 labels for 3 images" "$I" "$T/im" "$T/lb2"
expect_fail 1 "^idx2raw: $T/fl: labels must be a 1-D integer IDX file$" "$I" "$T/im" "$T/fl"
expect_fail 1 "^idx2raw: $T/bad.gz: corrupt gzip data" "$I" "$T/bad.gz"
expect_fail 1 "^idx2raw: $T/nope: No such file or directory$" "$I" "$T/nope"
expect_fail 1 "^idx2raw: $T: is a directory$" "$I" "$T"
expect_fail 1 "^idx2raw: $T/im: --offset 4 is past the 3 items$" "$I" --offset 4 "$T/im"
# a failing run leaves an existing output as it was, and no temporary file
expect_fail 1 "^idx2raw: $T/bad.gz: corrupt gzip" "$I" "$T/bad.gz" -o "$T/keep.tp"
[ "$(cat "$T/keep.tp")" = old ] || fail "failed run damaged its output file"
expect_fail 1 "truncated" "$I" "$T/short" -o "$T/new.tp"
ls "$T" | grep -Eq 'new\.tp' && fail "failed run left new.tp or its temporary"
"$I" "$T/big.gz" >/dev/null || fail "the intact gzip file fails"

# streams: every reader refuses bad input the same way
"$I" "$T/im" "$T/lb" >"$T/a.tp"
hl=$(( $(stat -c %s "$T/a.tp") - 3 * 8 ))
head -c $((hl + 11)) "$T/a.tp" >"$T/trunc_rec.tp"
head -c 40 "$T/a.tp" >"$T/trunc_hdr.tp"
: >"$T/empty.tp"
{ header $'TPIPE 1\nfield x f32 1073741824 1073741824\ncount 1'; printf 'xxxx'; } >"$T/2p60.tp"
{ header $'TPIPE 1\nfield x u8 2 2 1\nfield y i32\ncount 4'; tail -c 24 "$T/a.tp"; } >"$T/promise.tp"
{ cat "$T/a.tp"; "$I" "$T/im"; } >"$T/mixed.tp"
for p in tinfo tp2csv tp2npy; do
    expect_fail 1 "^$p: $T/junk: not a tpipe stream \(bad magic\)$" "$BIN/$p" "$T/junk"
    expect_fail 1 "^$p: $T/trunc_hdr.tp: truncated header" "$BIN/$p" "$T/trunc_hdr.tp"
    expect_fail 1 "^$p: $T/empty.tp: empty input" "$BIN/$p" "$T/empty.tp"
    expect_fail 1 "^$p: $T/2p60.tp: header line 2: field 'x' is too large" "$BIN/$p" "$T/2p60.tp"
    expect_fail 1 "^$p: stdin: not a tpipe stream" "$BIN/$p" <"$T/junk"
done
# errors found after output began: tinfo prints nothing, the file outputs are removed
expect_fail 1 "^tinfo: $T/trunc_rec.tp: truncated record 1 \(3 of 8 bytes\)$" "$BIN/tinfo" "$T/trunc_rec.tp"
expect_fail 1 "^tinfo: $T/promise.tp: truncated: the header promised 1 more records after record 3$" \
    "$BIN/tinfo" "$T/promise.tp"
expect_fail 1 "^tinfo: $T/mixed.tp: concatenated stream 2 has different fields from the first$" \
    "$BIN/tinfo" "$T/mixed.tp"
expect_fail 1 "^tp2npy: $T/promise.tp: truncated" "$BIN/tp2npy" "$T/promise.tp" -o "$T/p.npy"
expect_fail 1 "^tp2csv: $T/promise.tp: truncated" "$BIN/tp2csv" "$T/promise.tp" -o "$T/p.csv"
ls "$T" | grep -Eq '^p\.(npy|csv)' && fail "a failed conversion left its output"
expect_fail 1 "^npy2tp: $T/junk: not a .npy file \(bad magic\)$" "$BIN/npy2tp" "$T/junk"
expect_fail 1 "^tinfo: $T/a.tp: no field 'z'$" "$BIN/tinfo" --label z "$T/a.tp"

# bad usage: exit 2, "(see 'PROGRAM --help')"
expect_fail 2 "^idx2raw: missing argument .*see 'idx2raw --help'" "$I"
expect_fail 2 "^idx2raw: unknown option '--bogus'" "$I" --bogus "$T/im"
expect_fail 2 "^idx2raw: option --limit wants an integer, not 'abc'" "$I" --limit abc "$T/im"
expect_fail 2 "^idx2raw: option --offset must be at least 0, not '-1'" "$I" --offset -1 "$T/im"
expect_fail 2 "^idx2raw: option --limit must be at least -1, not '-2'" "$I" --limit -2 "$T/im"
expect_fail 2 "^tinfo: too many arguments" "$BIN/tinfo" a b
expect_fail 2 "^npy2tp: with several inputs each must be NAME=FILE" "$BIN/npy2tp" a b
exit 0
