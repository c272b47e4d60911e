# split: outputs together hold exactly the input, per-class shares within one record,
# order, seeds, pipes vs files, concatenated input, bad usage.
. "$TESTS/cli/lib.sh"
S=$BIN/split
mkidx "$T/im" i32 997 3 2   # every record distinct: pixel 0 of record i is 600000 i - 7
"$PY" -c 'import struct,sys; n=997; sys.stdout.buffer.write(struct.pack(">HBBI",0,8,1,n)+bytes((i*i)%7 if i%11 else 9 for i in range(n)))' >"$T/lb"
"$BIN/idx2raw" "$T/im" "$T/lb" --classes a,b,c,d,e,f,g,h,i,j >"$T/in.tp"
"$S" --ratio 0.7 --train "$T/a.tp" --test "$T/b.tp" "$T/in.tp" 2>"$T/err" || fail "split failed"
# exactly the input records, each once
cat <("$BIN/tp2csv" --no-header "$T/a.tp") <("$BIN/tp2csv" --no-header "$T/b.tp") | sort >"$T/both"
"$BIN/tp2csv" --no-header "$T/in.tp" | sort | cmp - "$T/both" || fail "outputs do not hold exactly the input"
# per class: train share within one record of 0.7
"$BIN/tp2csv" --no-header --fields y "$T/in.tp" | sort | uniq -c | awk '{print $2, $1}' >"$T/n_all"
"$BIN/tp2csv" --no-header --fields y "$T/a.tp" | sort | uniq -c | awk '{print $2, $1}' >"$T/n_a"
join "$T/n_all" "$T/n_a" | awk '{d = $3 - 0.7 * $2; if (d < 0) d = -d; if (d >= 1) {print; bad = 1}} END {exit bad}' ||
    fail "a class's share is off by a record or more"
[ "$("$BIN/tinfo" --header "$T/a.tp" | head -1 | awk '{print $2}')" = 698 ] || fail "train count is not round(0.7 * 997)"
grep -q '^split:      all      997      997      698      299$' "$T/err" || fail "stderr counts: $(cat "$T/err")"
grep -aq '^meta classes j$' "$T/a.tp" || fail "metadata lost"
# input order kept: pixel 0, which grows with the record index, increases in each output
for f in a b; do
    "$BIN/tp2csv" --no-header --fields x "$T/$f.tp" | awk -F, 'NR > 1 && $1 <= p {bad = 1} {p = $1} END {exit bad}' ||
        fail "$f.tp is not in input order"
done
# deterministic; another seed picks other records; --shuffle reorders the same records
"$S" --ratio 0.7 --train - --test "$T/b2.tp" -q "$T/in.tp" | cmp - "$T/a.tp" || fail "not deterministic"
"$S" --ratio 0.7 --test "$T/b3.tp" -q -s 7 "$T/in.tp" | cmp -s - "$T/a.tp" && fail "seed 7 gave the same split"
"$S" --ratio 0.7 --test "$T/b4.tp" -q --shuffle "$T/in.tp" >"$T/a4.tp"
"$BIN/tp2csv" --no-header --fields x "$T/a4.tp" | awk -F, 'NR > 1 && $1 <= p {down++} {p = $1} END {exit down < 100}' ||
    fail "--shuffle kept the order"
cmp <("$BIN/tp2csv" --no-header "$T/a4.tp" | sort) <("$BIN/tp2csv" --no-header "$T/a.tp" | sort) || fail "--shuffle changed the records"
# a pipe input (spooled) gives the same bytes as the file
cat "$T/in.tp" | "$S" --ratio 0.7 --test "$T/pb.tp" -q >"$T/pa.tp"
cmp "$T/pa.tp" "$T/a.tp" && cmp "$T/pb.tp" "$T/b.tp" || fail "pipe input differs from file input"
cat "$T/in.tp" | "$S" --ratio 0.7 --test "$T/pb.tp" -q --shuffle | cmp - "$T/a4.tp" || fail "pipe + shuffle differs"
# concatenated input: record offsets skip the second header
cat "$T/in.tp" "$T/in.tp" >"$T/twice.tp"
"$S" --take 1000 -q "$T/twice.tp" >"$T/t.tp"
[ "$("$BIN/tinfo" "$T/t.tp" | head -1 | awk '{print $2}')" = 1000 ] || fail "--take 1000 of concatenated input"
cat "$T/twice.tp" | "$S" --take 1000 -q | cmp - "$T/t.tp" || fail "concatenated: pipe differs from file"
"$S" --take 0.1 -q --no-stratify "$T/in.tp" | "$BIN/tinfo" | grep -q ': 100 records' || fail "--take 0.1"
# no labels: random split
"$BIN/idx2raw" "$T/im" >"$T/x.tp"
"$S" --rest "$T/xr.tp" -q "$T/x.tp" | "$BIN/tinfo" | grep -q ': 798 records' || fail "unlabelled split"
# bad usage and input
expect_fail 2 "^split: option --ratio must be 0 to 1, not '1.5'" "$S" --ratio 1.5 --test "$T/q" "$T/in.tp"
expect_fail 2 "^split: --ratio 0.5 leaves records for a second output" "$S" --ratio 0.5 "$T/in.tp"
expect_fail 2 "^split: option --take must be a count of at least 1 or a fraction between 0 and 1, not '2.5'" "$S" --take 2.5 "$T/in.tp"
expect_fail 2 "^split: options --stratify and --no-stratify exclude each other" "$S" --stratify --no-stratify "$T/in.tp"
expect_fail 2 "^split: --test and --rest name the same output" "$S" --test a --rest b "$T/in.tp"
expect_fail 1 "^split: $T/in.tp: --take 5000, but the input holds 997 records$" "$S" --take 5000 "$T/in.tp"
expect_fail 1 "^split: $T/x.tp: --stratify needs an integer label field 'y'$" "$S" --stratify "$T/x.tp"
expect_fail 1 "^split: $T/nope.tp: No such file" "$S" "$T/nope.tp"
[ -e "$T/q" ] && fail "left an output after bad usage"
# --shard K/N: contiguous shares that concatenate to the input, from a file and from a pipe;
# with N above the record count some shares are empty
for N in 1 3 7 1200; do
    rm -f "$T"/sh.*
    ks=$(seq 1 "$N")
    [ "$N" = 1200 ] && ks="1 2 600 1199 1200"
    for K in $ks; do
        if [ $((K % 2)) = 0 ]; then
            "$S" -q --shard "$K/$N" --train "$T/sh.$K" "$T/in.tp" || fail "--shard $K/$N"
        else
            "$S" -q --shard "$K/$N" <"$T/in.tp" >"$T/sh.$K" || fail "--shard $K/$N from a pipe"
        fi
        # share K holds floor(K n / N) - floor((K-1) n / N) records
        want=$(( K * 997 / N - (K - 1) * 997 / N ))
        got=$("$BIN/tp2csv" --no-header "$T/sh.$K" | wc -l)
        [ "$got" = "$want" ] || fail "--shard $K/$N holds $got records, not $want"
    done
    if [ "$N" != 1200 ]; then
        for K in $ks; do cat "$T/sh.$K"; done >"$T/joined.tp"
        cmp <("$BIN/tp2csv" "$T/joined.tp") <("$BIN/tp2csv" "$T/in.tp") || fail "--shard */$N concatenated differ from the input"
        "$BIN/tinfo" "$T/joined.tp" | grep -q "^$T/joined.tp: 997 records" || fail "joined shares: $("$BIN/tinfo" "$T/joined.tp" | head -1)"
    fi
done
# a sharded stage under make -j: four shares resized by four jobs, joined by cat, are the
# whole input resized
printf 'parts := 1 2 3 4\nall: joined.tp\npart.%%.tp: %s\n\t"%s" -q --shard $*/4 $< | "%s" -t 1 5x3 > $@\njoined.tp: $(parts:%%=part.%%.tp)\n\tcat $^ > $@\n' \
    "$T/in.tp" "$S" "$BIN/resize" >"$T/Makefile"
make -s -j 4 -C "$T" >/dev/null || fail "make -j 4 of the sharded stage"
cmp <("$BIN/resize" 5x3 "$T/in.tp" | "$BIN/tp2csv") <("$BIN/tp2csv" "$T/joined.tp") ||
    fail "the sharded stage's joined output differs from the whole"
expect_fail 2 "^split: option --shard must be K/N with 1 <= K <= N <= 1000000, not '4/3'" "$S" --shard 4/3 "$T/in.tp"
expect_fail 2 "^split: option --shard must be K/N" "$S" --shard 0/3 "$T/in.tp"
expect_fail 2 "^split: option --shard must be K/N, not '3'" "$S" --shard 3 "$T/in.tp"
expect_fail 2 "^split: --shard takes no --test" "$S" --shard 1/2 --test "$T/q" "$T/in.tp"
exit 0
