# montage: the grid's size, labels, red marks exactly where a prediction is wrong, bad input.
. "$TESTS/cli/lib.sh"
mkidx "$T/im" u8 12 28 28
mkidx "$T/lb" u8 12
"$BIN/idx2raw" "$T/im" "$T/lb" >"$T/in.tp"
"$BIN/tp2npy" -f x "$T/in.tp" -o "$T/x.npy"
"$BIN/tp2npy" -f y "$T/in.tp" -o "$T/y.npy"
# predictions: right everywhere, then wrong for record 3
"$BIN/npy2tp" x="$T/x.npy" y="$T/y.npy" pred="$T/y.npy" >"$T/right.tp"
"$PY" - "$T" <<'PYEOF'
import sys
d = sys.argv[1]
b = bytearray(open(d + "/y.npy", "rb").read())
b[-9 * 4] = (b[-9 * 4] + 1) % 10   # record 3 of 12 (int32 little-endian) gets another class
open(d + "/p.npy", "wb").write(b)
PYEOF
"$BIN/npy2tp" x="$T/x.npy" y="$T/y.npy" pred="$T/p.npy" >"$T/wrong.tp"
size() { od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4, $5*16777216 + $6*65536 + $7*256 + $8}'; }
"$BIN/montage" -n 12 -c 5 --scale 2 "$T/right.tp" >"$T/r.png" || fail montage
[ "$(head -c 8 "$T/r.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] || fail "not a PNG"
# 5 columns of (max(56, caption) + 10) + 10 wide; 3 rows of (56 + 7 + 4 + 10) + 10 high
[ "$(size "$T/r.png")" = "340 241" ] || fail "PNG size $(size "$T/r.png")"
red() { mkdir -p "$T/dec$2" && cp "$1" "$T/dec$2/a.png" && "$BIN/img2raw" --rgb "$T/dec$2" | "$BIN/tp2csv" --no-header --fields x |
        tr ',' '\n' | paste -d' ' - - - | grep -c '^200 0 0$'; }
[ "$(red "$T/r.png" 1)" = 0 ] || fail "red marks where every prediction is right"
"$BIN/montage" -n 12 -c 5 --scale 2 "$T/wrong.tp" -o "$T/w.png"
[ "$(red "$T/w.png" 2)" -gt 10 ] || fail "no red mark for the wrong prediction"
"$BIN/montage" -n 12 -c 5 --scale 2 --pred none "$T/wrong.tp" | cmp - "$T/r.png" || fail "--pred none should draw no prediction"
# sampling is seeded; the first N is the default
"$BIN/montage" --sample -n 4 "$T/in.tp" | cmp - <("$BIN/montage" --sample -n 4 "$T/in.tp") || fail "--sample not deterministic"
"$BIN/montage" --sample -n 4 "$T/in.tp" | cmp -s - <("$BIN/montage" -n 4 "$T/in.tp") && fail "--sample gave the first 4"
# bad input
"$BIN/idx2raw" "$T/lb" >"$T/labels.tp"
expect_fail 1 "^montage: $T/labels.tp: field 'x' is u8 with rank 0, not an image" "$BIN/montage" "$T/labels.tp"
expect_fail 2 "^montage: option --count must be 1 to 10000, not '0'" "$BIN/montage" -n 0 "$T/in.tp"
expect_fail 2 "^montage: option --scale must be 0 to 64, not '65'" "$BIN/montage" --scale 65 "$T/in.tp"
"$BIN/idx2raw" -n 0 "$T/im" >"$T/empty.tp"
expect_fail 1 "^montage: $T/empty.tp: no records to draw$" "$BIN/montage" "$T/empty.tp" -o "$T/e.png"
[ -e "$T/e.png" ] && fail "left an output"
exit 0
