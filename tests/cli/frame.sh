# frame: MNIST's framing (the ink scaled into a 20-pixel box, centred by its centre of mass
# on 28 x 28): digits cropped by hand come back as MNIST framed them; cases worked by hand;
# PIL/NumPy's framing of rescaled noisy crops (make_frame.py); img2raw --pad; bad input.
. "$TESTS/cli/lib.sh"
Fr=$BIN/frame
F=$TESTS/fixtures
# expected 28 x 28 (x C) pixels: value V (a comma list for C channels) in rows R0..R1, columns C0..C1
rect() { awk -v r0="$1" -v r1="$2" -v c0="$3" -v c1="$4" -v v="$5" 'BEGIN {
    n = split(v, a, ","); s = ""
    for (r = 0; r < 28; r++) for (c = 0; c < 28; c++) for (k = 1; k <= n; k++)
        s = s (s == "" ? "" : ",") (r >= r0 && r <= r1 && c >= c0 && c <= c1 ? a[k] : 0)
    print s }'; }
# one u8 image of H x W x C: value V (C bytes, octal escapes) in rows R0..R1, columns C0..C1, else 0
img() { # H W C R0 R1 C0 C1 V
    header "TPIPE 1"$'\n'"field x u8 $1 $2 $3"$'\n'"count 1"
    awk -v h="$1" -v w="$2" -v r0="$4" -v r1="$5" -v c0="$6" -v c1="$7" -v v="$8" -v c="$3" 'BEGIN {
        n = split(v, a, ","); for (r = 0; r < h; r++) for (x = 0; x < w; x++) for (k = 1; k <= c; k++)
            printf "%c", (r >= r0 && r <= r1 && x >= c0 && x <= c1 ? a[k] : 0) }'
}
export LC_ALL=C

# 1. by hand: a 10 x 40 bar of 200 becomes 5 x 20 (exact area average), placed at row 11,
# column 4 with its box centred; its centre of mass (13, 13.5) moves to (14, 14) by whole
# pixels (0.5 rounds up): rows 12-16, columns 5-24
img 50 50 1 7 16 3 42 200 >"$T/bar.tp"
"$Fr" -q "$T/bar.tp" | "$BIN/tp2csv" --no-header -f x | cmp - <(rect 12 16 5 24 200) || fail "bar framing"
"$Fr" -q --center box "$T/bar.tp" | "$BIN/tp2csv" --no-header -f x | cmp - <(rect 11 15 4 23 200) || fail "--center box"
# a 4 x 2 block grows to 20 x 10 (bilinear of a constant), placed at row 4, column 9, its
# centre of mass (13.5, 13.5) moved by (1, 1); or keeps its size: at row 12, column 13
img 9 9 1 2 5 6 7 100 >"$T/blk.tp"
"$Fr" -q "$T/blk.tp" | "$BIN/tp2csv" --no-header -f x | cmp - <(rect 5 24 10 19 100) || fail "small block grown"
"$Fr" -q --no-upscale "$T/blk.tp" | "$BIN/tp2csv" --no-header -f x | cmp - <(rect 13 16 14 15 100) || fail "--no-upscale"
# colour: the luma finds the ink, every channel moves with it
img 50 50 3 7 16 3 42 200,100,50 >"$T/rgb.tp"
"$Fr" -q "$T/rgb.tp" | "$BIN/tp2csv" --no-header -f x | cmp - <(rect 12 16 5 24 200,100,50) || fail "RGB framing"
"$Fr" -q "$T/rgb.tp" | head -c 200 | grep -aq '^field x u8 28 28 3$' || fail "RGB: not 28x28x3"
# dark ink on white: inverted by --invert auto, not by --invert no
{ header $'TPIPE 1\nfield x u8 50 50 1\ncount 1'; awk 'BEGIN {for (r = 0; r < 50; r++) for (c = 0; c < 50; c++)
    printf "%c", (r >= 7 && r <= 16 && c >= 3 && c <= 42) ? 55 : 255}'; } >"$T/inv.tp"
"$Fr" "$T/inv.tp" 2>"$T/err" | "$BIN/tp2csv" --no-header -f x | cmp - <(rect 12 16 5 24 200) || fail "inverted bar"
grep -q '^frame: 1 images framed, 1 of them inverted' "$T/err" || fail "inversion not reported: $(cat "$T/err")"
"$Fr" -q --invert no --threshold 254 "$T/inv.tp" | "$BIN/tp2csv" --no-header -f x | cmp -s - <(rect 0 27 0 27 0) &&
    fail "--invert no: white paper is ink, not a blank"
# --threshold: background below it is cleared and does not count
{ header $'TPIPE 1\nfield x u8 50 50 1\ncount 1'; awk 'BEGIN {for (r = 0; r < 50; r++) for (c = 0; c < 50; c++)
    printf "%c", (r >= 7 && r <= 16 && c >= 3 && c <= 42) ? 200 : (r * 7 + c) % 25}'; } >"$T/noisy.tp"
"$Fr" -q --threshold 30 "$T/noisy.tp" | "$BIN/tp2csv" --no-header -f x | cmp - <(rect 12 16 5 24 200) || fail "--threshold 30"
# no ink: a black canvas and a warning; ink pushed off the canvas by the centring: a warning
img 20 20 1 0 0 0 0 0 >"$T/empty.tp"
"$Fr" -q "$T/empty.tp" 2>"$T/err" | "$BIN/tp2csv" --no-header -f x | cmp - <(rect 0 27 0 27 0) || fail "empty image not black"
grep -q "^frame: warning: $T/empty.tp: 1 of 1 images have no ink above --threshold 0: written black$" "$T/err" ||
    fail "empty: $(cat "$T/err")"
{ header $'TPIPE 1\nfield x u8 28 28 1\ncount 1'; awk 'BEGIN {for (r = 0; r < 28; r++) for (c = 0; c < 28; c++)
    printf "%c", (c == 0 || (r == 27 && c == 27)) ? 255 : 0}'; } >"$T/l.tp"
"$Fr" -q --box 28 "$T/l.tp" 2>"$T/err" >/dev/null
grep -q "^frame: warning: $T/l.tp: 1 of 1 images lost ink off the canvas when centred" "$T/err" || fail "clipping: $(cat "$T/err")"

# 2. digits cropped by hand: MNIST's own test digits cropped to their ink, enlarged 3 times,
# put anywhere on a larger canvas, half of them inverted, frame back to MNIST's exact bytes
D=$ROOT/data/mnist
if [ -f "$D/t10k-images-idx3-ubyte" ]; then
    "$PY" "$TESTS/cli/framecrop.py" "$D/t10k-images-idx3-ubyte" 300 1 31 45 0 1 "$T/c1.tp" "$T/w1.tp"
    "$PY" "$TESTS/cli/framecrop.py" "$D/t10k-images-idx3-ubyte" 300 3 90 70 1 2 "$T/c3.tp" "$T/w3.tp"
    for s in 1 3; do
        "$Fr" -q "$T/c$s.tp" | "$BIN/tp2csv" -f x | cmp -s - <("$BIN/tp2csv" -f x "$T/w$s.tp") ||
            fail "cropped digits (scale $s) do not frame back to MNIST's"
    done
    # the same through image files of two sizes: img2raw --pad fits each into 60 x 60 (twice
    # the 30 x 30 ones, the 30 x 20 ones too, padded with their white border), frame undoes it
    "$PY" "$TESTS/cli/framecrop.py" "$D/t10k-images-idx3-ubyte" 40 1 30 30 1 3 "$T/pa.tp" "$T/wa.tp"
    "$PY" "$TESTS/cli/framecrop.py" "$D/t10k-images-idx3-ubyte" 40 1 30 20 1 4 "$T/pb.tp" "$T/wb.tp"
    mkdir "$T/png"
    "$BIN/raw2img" "$T/png/a" "$T/pa.tp" && "$BIN/raw2img" "$T/png/b" "$T/pb.tp" || fail "raw2img"
    "$BIN/img2raw" --gray --pad 60x60 "$T/png" 2>/dev/null | "$Fr" -q | "$BIN/tp2csv" --no-header -f x >"$T/got"
    cat <("$BIN/tp2csv" --no-header -f x "$T/wa.tp") <("$BIN/tp2csv" --no-header -f x "$T/wb.tp") | cmp -s - "$T/got" ||
        fail "image files of two sizes through img2raw --pad and frame"
else
    echo "(no data/mnist: the cropped-digit cases are skipped)"
fi

# 3. crops rescaled by 0.6 to 1.7 with background noise, half inverted, framed by PIL and
# NumPy (tests/fixtures/make_frame.py): the same within one grey level
"$Fr" -q --threshold 30 "$F/frame_in.tp" | "$BIN/tp2csv" --no-header -f x >"$T/got"
"$BIN/tp2csv" --no-header -f x "$F/frame_want.tp" >"$T/want"
same_numbers "$T/got" "$T/want" 1
"$Fr" -q --threshold 30 -t 1 "$F/frame_in.tp" | cmp -s - <("$Fr" -q --threshold 30 "$F/frame_in.tp") || fail "threads change the result"
"$Fr" -q --float "$F/frame_in.tp" | head -c 200 | grep -aq '^field x f32 28 28 1$' || fail "--float"
"$Fr" -q --size 32x30 --box 24 "$F/frame_in.tp" | head -c 200 | grep -aq '^field x u8 32 30 1$' || fail "--size"
"$Fr" -q "$F/frame_in.tp" | head -c 300 | grep -aq '^meta frame 28x28 box 20 mass$' || fail "meta frame"

# 4. img2raw --pad by hand: a 2 x 4 image fits 8 x 8 as 4 x 8 (nearest, twice), rows 2-5,
# on its border's median (50 of 10 20 .. 80); --pad-value 0 pads with 0
{ header $'TPIPE 1\nfield x u8 2 4 1\ncount 1'; printf '\012\024\036\050\062\074\106\120'; } >"$T/s.tp"
"$BIN/raw2img" "$T/pad" "$T/s.tp" || fail "raw2img"
row1=10,10,20,20,30,30,40,40 row2=50,50,60,60,70,70,80,80 f=50,50,50,50,50,50,50,50
"$BIN/img2raw" --gray --pad 8x8 "$T/pad" 2>/dev/null | "$BIN/tp2csv" --no-header -f x |
    grep -qx "$f,$f,$row1,$row1,$row2,$row2,$f,$f" || fail "img2raw --pad 8x8"
z=0,0,0,0,0,0,0,0
"$BIN/img2raw" --gray --pad 8x8 --pad-value 0 "$T/pad" 2>/dev/null | "$BIN/tp2csv" --no-header -f x |
    grep -qx "$z,$z,$row1,$row1,$row2,$row2,$z,$z" || fail "img2raw --pad-value 0"

# 5. bad input and usage
"$BIN/resize" 28x28 --float "$T/bar.tp" >"$T/f32.tp"
expect_fail 1 "^frame: $T/f32.tp: field 'x' is f32 with rank 3, not a u8 image" "$Fr" "$T/f32.tp"
expect_fail 1 "^frame: $T/bar.tp: no field 'z' to frame" "$Fr" -f z "$T/bar.tp"
# a header that claims 3 GB images, with 1000 bytes after it: refused when the data ends
{ header $'TPIPE 1\nfield x u8 32768 32768 3\ncount 1'; head -c 1000 /dev/zero; } >"$T/big.tp"
expect_fail 1 "^frame: $T/big.tp: truncated record 0 .1000 of 3221225472 bytes.$" "$Fr" "$T/big.tp"
expect_fail 2 "^frame: --box 30 does not fit the 28x28 canvas" "$Fr" --box 30 "$T/bar.tp"
expect_fail 2 "^frame: size '2x' is not HxW" "$Fr" --size 2x "$T/bar.tp"
expect_fail 2 "^frame: option --threshold must be" "$Fr" --threshold 300 "$T/bar.tp"
expect_fail 2 "^frame: option --invert must be auto, no or yes" "$Fr" --invert maybe "$T/bar.tp"
expect_fail 2 "^img2raw: --size stretches every image and --pad fits it: give one" "$BIN/img2raw" --size 8x8 --pad 8x8 "$T/pad"
expect_fail 2 "^img2raw: --pad-value is for --pad" "$BIN/img2raw" --pad-value 3 "$T/pad"
exit 0
