# resize: hand-worked cases, PyTorch fixtures (tests/fixtures/make_resize.py), channels,
# pass-through of other fields, and bad input.
. "$TESTS/cli/lib.sh"
F=$TESTS/fixtures
R=$BIN/resize
# 2x2 gray u8 [[0, 100], [200, 252]] to 4x4, bilinear with half-pixel centres:
# columns sample at -0.25 (clamped), 0.25, 0.75, 1.25 (clamped) of the input grid
{ header $'TPIPE 1\nfield x u8 2 2 1\nfield y i32\ncount 1'; printf '\000\144\310\374\011\000\000\000'; } >"$T/s.tp"
"$R" 4x4 --float <"$T/s.tp" | "$BIN/tp2csv" --no-header >"$T/got"
echo "0,25,75,100,50,72,116,138,150,166,198,214,200,213,239,252,9" >"$T/want"
cmp "$T/got" "$T/want" || fail "bilinear 2x2->4x4: $(cat "$T/got")"
"$R" 4x4 <"$T/s.tp" | "$BIN/tp2csv" --no-header | cmp - "$T/want" || fail "u8 output of the same"
"$R" 4x4 <"$T/s.tp" | head -c 64 | grep -q '^field x u8 4 4 1$' || fail "u8 stays u8"
# nearest: floor((o + 0.5) * in / out) -> columns 0 0 1 1
"$R" 4x4 -m nearest <"$T/s.tp" | "$BIN/tp2csv" --no-header --fields x | grep -qx '0,0,100,100,0,0,100,100,200,200,252,252,200,200,252,252' ||
    fail "nearest"
# area 3 -> 2: weights 2/3 1/3 | 1/3 2/3 on [30, 60, 90] -> 40, 80 (1 row)
{ header $'TPIPE 1\nfield x u8 1 3 1\ncount 1'; printf '\036\074\132'; } >"$T/a.tp"
"$R" 1x2 -m area --float <"$T/a.tp" | "$BIN/tp2csv" --no-header | grep -Eqx '40(\.0*[0-9])?,80(\.0*[0-9])?|39\.99999[0-9]*,80(\.0*[0-9])?' ||
    fail "area 3->2: $("$R" 1x2 -m area --float <"$T/a.tp" | "$BIN/tp2csv" --no-header)"
# rounding to u8: 1x2 [0, 1] to 1x4 gives 0, 0.25, 0.75, 1 -> 0 0 1 1
{ header $'TPIPE 1\nfield x u8 1 2\ncount 1'; printf '\000\001'; } >"$T/r.tp"
"$R" 1x4 <"$T/r.tp" | "$BIN/tp2csv" --no-header | grep -qx '0,0,1,1' || fail "rounding"
# channels: gray -> rgb replicates; rgb -> gray is 0.2989 R + 0.5870 G + 0.1140 B
"$R" 4x4 --rgb <"$T/s.tp" | "$BIN/tp2csv" --no-header --fields x | tr ',' '\n' | paste -d' ' - - - |
    awk '$1 != $2 || $2 != $3 {bad = 1} END {exit bad || NR != 16}' || fail "gray to rgb"
{ header $'TPIPE 1\nfield x u8 1 1 3\ncount 1'; printf '\144\062\310'; } >"$T/c.tp"
"$R" 1x1 --gray --float <"$T/c.tp" | "$BIN/tp2csv" --no-header | awk -F, '{d = $1 - 82.04; exit !(d < 1e-3 && d > -1e-3)}' ||
    fail "rgb to gray: $("$R" 1x1 --gray --float <"$T/c.tp" | "$BIN/tp2csv" --no-header)"

# PyTorch fixtures
for c in bilinear_up bilinear_down bilinear_odd nearest area; do
    m=bilinear
    case $c in nearest) m=nearest ;; area) m=area ;; esac
    size=$(head -c 256 "$F/resize_$c.want.tp" | awk '/^field x/ {print $4 "x" $5}')
    "$R" "$size" -m $m <"$F/resize_$c.in.tp" | "$BIN/tp2csv" --no-header >"$T/got"
    "$BIN/tp2csv" --no-header <"$F/resize_$c.want.tp" >"$T/want"
    same_numbers "$T/got" "$T/want" 2e-4
done
# PIL's nearest (Keras' loader), exact ties included: 8x8, 32x32 and 128x128 to 28x28 tie in
# rows and columns 3, 10, 17 and 24 (tests/fixtures/make_nearest.py)
for s in 8x8 32x32 128x128 5x7; do
    size=$(head -c 256 "$F/nearest_$s.want.tp" | awk '/^field x/ {print $4 "x" $5}')
    cmp <("$R" "$size" -m nearest "$F/nearest_$s.in.tp" | "$BIN/tp2csv" -f x) <("$BIN/tp2csv" -f x "$F/nearest_$s.want.tp") ||
        fail "nearest $s to $size differs from PIL's"
done

# other fields pass through, whatever their position
mkidx "$T/im" u8 30 6 5
mkidx "$T/lb" u8 30
"$BIN/idx2raw" "$T/im" "$T/lb" --classes a,b >"$T/in.tp"
"$R" 3x4 --rgb -t 3 <"$T/in.tp" >"$T/out.tp"
cmp <("$BIN/tp2csv" --fields y "$T/in.tp") <("$BIN/tp2csv" --fields y "$T/out.tp") || fail "y changed"
grep -aq '^meta classes b$' "$T/out.tp" || fail "metadata lost"
"$BIN/tinfo" "$T/out.tp" | grep -q ': 30 records' || fail "record count"
# the same result with 1 thread and with 3
"$R" 3x4 --rgb -t 1 <"$T/in.tp" | cmp - "$T/out.tp" || fail "threads change the result"

# concatenated input goes on as concatenated output (the first header counts only its part)
cat "$T/in.tp" "$T/in.tp" | "$R" 3x4 | "$BIN/tinfo" | grep -q ': 60 records, .* 2 concatenated streams' ||
    fail "concatenated input through a pipe"
cat "$T/in.tp" "$T/in.tp" | "$R" 3x4 -o "$T/cc.tp"
"$BIN/tinfo" "$T/cc.tp" | grep -q ': 60 records' || fail "concatenated input to a file"

# bad input
"$BIN/idx2raw" "$T/lb" >"$T/labels.tp"
expect_fail 1 "^resize: $T/labels.tp: field 'x' is u8 with rank 0, not an image" "$R" 28x28 "$T/labels.tp"
expect_fail 1 "^resize: stdin: no field 'img' to resize$" "$R" 28x28 -f img <"$T/in.tp"
expect_fail 2 "^resize: size 0x5 is out of range" "$R" 0x5 "$T/in.tp"
expect_fail 2 "^resize: size 100000x3 is out of range" "$R" 100000x3 "$T/in.tp"
expect_fail 2 "^resize: size 'abc' is not HxW" "$R" abc "$T/in.tp"
expect_fail 2 "^resize: option --method must be bilinear, nearest or area, not 'cubic'" "$R" 4x4 -m cubic "$T/in.tp"
expect_fail 2 "^resize: options --rgb and --gray exclude each other" "$R" 4x4 --rgb --gray "$T/in.tp"
expect_fail 2 "^resize: option --threads must be 1 to 256, not '257'" "$R" 4x4 -t 257 "$T/in.tp"
{ header $'TPIPE 1\nfield x u8 2 2 2\ncount 1'; printf '12345678'; } >"$T/two.tp"
expect_fail 1 "^resize: $T/two.tp: --rgb/--gray need 1, 3 or 4 channels, not 2" "$R" 4x4 --rgb "$T/two.tp"
head -c 300 "$T/in.tp" >"$T/trunc.tp"
expect_fail 1 "^resize: $T/trunc.tp: truncated" "$R" 4x4 "$T/trunc.tp" -o "$T/o.tp"
[ -e "$T/o.tp" ] && fail "a failed resize left its output"
exit 0
