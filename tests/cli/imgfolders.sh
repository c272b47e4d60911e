# raw2img and img2raw: PNG round trip byte-identical, JPEG within a bound, class and flat
# folders, sizes, channels, bad images.
. "$TESTS/cli/lib.sh"
# 120 smooth 20x24 gray images, 3 classes, made by formula
"$PY" - "$T" <<'PYEOF'
import math, struct, sys
n, h, w = 120, 20, 24
px = bytes(max(0, min(255, int(128 + 90 * math.sin(x / 4 + i) * math.cos(y / 5 - i) + (i % 7)))) for i in range(n) for y in range(h) for x in range(w))
open(sys.argv[1] + "/im", "wb").write(struct.pack(">HBBIII", 0, 8, 3, n, h, w) + px)
open(sys.argv[1] + "/lb", "wb").write(struct.pack(">HBBI", 0, 8, 1, n) + bytes(i * 7 % 3 for i in range(n)))
PYEOF
"$BIN/idx2raw" "$T/im" "$T/lb" --classes cat,dog,eel >"$T/in.tp"
body=$((120 * (480 + 4)))

# PNG: every record comes back byte for byte (files named by record index: --sort name)
"$BIN/raw2img" "$T/png" "$T/in.tp" || fail raw2img
[ "$(ls "$T/png")" = "$(printf 'cat\ndog\neel')" ] || fail "class folders: $(ls "$T/png")"
[ -f "$T/png/dog/00001.png" ] || fail "record 1 (label 1) is not dog/00001.png"
"$BIN/img2raw" --sort name "$T/png" >"$T/back.tp"
cmp <(tail -c $body "$T/in.tp") <(tail -c $body "$T/back.tp") || fail "PNG round trip changed the records"
grep -aq '^field x u8 20 24 1$' "$T/back.tp" && grep -aq '^meta classes eel$' "$T/back.tp" || fail "header after PNG round trip"
# the default order is flow_from_directory's: class by class
"$BIN/img2raw" "$T/png" | "$BIN/tp2csv" --no-header --fields y | uniq | tr '\n' ' ' | grep -qx '0 1 2 ' ||
    fail "class order"
# RGB images too
"$BIN/resize" 20x24 --rgb <"$T/in.tp" >"$T/rgb.tp"
"$BIN/raw2img" "$T/rgbpng" "$T/rgb.tp"
"$BIN/img2raw" --sort name "$T/rgbpng" | tail -c $((120 * (1440 + 4))) | cmp - <(tail -c $((120 * (1440 + 4))) "$T/rgb.tp") ||
    fail "RGB PNG round trip"

# JPEG at quality 95: mean absolute error <= 1.5 and none above 24 (measured: see the note)
"$BIN/raw2img" --jpeg -Q 95 "$T/jpg" "$T/in.tp"
"$BIN/img2raw" --sort name "$T/jpg" >"$T/jback.tp"
paste -d'|' <("$BIN/tp2csv" --no-header --fields x "$T/in.tp") <("$BIN/tp2csv" --no-header --fields x "$T/jback.tp") |
    awk -F'|' '{n = split($1, a, ","); split($2, b, ","); for (i = 1; i <= n; i++) {d = a[i] - b[i]; if (d < 0) d = -d; s += d; c++; if (d > m) m = d}}
               END {printf "JPEG q95: mean abs %.3f, max %d\n", s / c, m; exit !(s / c <= 1.5 && m <= 24)}' || fail "JPEG error too large"
cmp <("$BIN/tp2csv" --fields y "$T/in.tp") <("$BIN/tp2csv" --fields y "$T/jback.tp") || fail "JPEG labels"

# a flat folder: y = -1 and each file's name
"$BIN/idx2raw" -n 5 "$T/im" | "$BIN/raw2img" "$T/flat"
"$BIN/img2raw" "$T/flat" >"$T/flat.tp"
grep -aq '^field name u8 9$' "$T/flat.tp" || fail "name field: $(head -c 200 "$T/flat.tp")"
"$BIN/tp2csv" --no-header --fields y "$T/flat.tp" | sort -u | grep -qx -- -1 || fail "flat folder labels"
"$BIN/tp2npy" -f name "$T/flat.tp" -o "$T/names.npy"
tail -c 45 "$T/names.npy" | tr -d '\0' | grep -q '00000.png00001.png00002.png00003.png00004.png' || fail "file names"

# names as CSV text, quoted where they hold a comma or a quote
mkdir -p "$T/names"
cp "$T/flat/00000.png" "$T/names/a,b.png"
cp "$T/flat/00001.png" "$T/names/q\"u.png"
cp "$T/flat/00002.png" "$T/names/plain.png"
"$BIN/img2raw" "$T/names" | "$BIN/tp2csv" --text name --fields name,y >"$T/n.csv"
printf 'name,y\n"a,b.png",-1\nplain.png,-1\n"q""u.png",-1\n' | cmp - "$T/n.csv" || fail "text CSV: $(cat "$T/n.csv")"
expect_fail 1 "^tp2csv: stdin: --text needs a u8 field, and 'y' is not one$" "$BIN/tp2csv" --text y <"$T/flat.tp"
# sizes and channels: mixed sizes need --size; --rgb converts
mkdir -p "$T/mixed/a"
cp "$T/png/cat/00000.png" "$T/mixed/a/1.png"
"$BIN/resize" 30x28 <"$T/in.tp" | "$BIN/raw2img" "$T/big"
cp "$T/big/dog/00001.png" "$T/mixed/a/2.png"
expect_fail 1 "^img2raw: $T/mixed/a/2.png: is 30x28, not 20x24 like the first image \(use --size\)$" "$BIN/img2raw" "$T/mixed"
"$BIN/img2raw" --size 16x16 --rgb "$T/mixed" | head -c 64 | grep -q '^field x u8 16 16 3$' || fail "--size --rgb"
cp "$T/rgbpng/cat/00000.png" "$T/mixed/a/3.png"
expect_fail 1 "^img2raw: $T/mixed/a/3.png: has 3 channels, not 1 \(use --rgb or --gray\)$" "$BIN/img2raw" --size 16x16 "$T/mixed"

# bad images: a text file named .jpg, a truncated JPEG; --skip-bad counts them
mkdir -p "$T/bad/x"
cp "$T/jpg/cat/00000.jpg" "$T/bad/x/a.jpg"
echo "not an image" >"$T/bad/x/b.jpg"
head -c 200 "$T/jpg/cat/00000.jpg" >"$T/bad/x/c.jpg"
expect_fail 1 "^img2raw: $T/bad/x/b.jpg: not a JPEG or PNG file$" "$BIN/img2raw" "$T/bad" -o "$T/bad.tp"
[ -e "$T/bad.tp" ] && fail "a failed img2raw left its output"
rm "$T/bad/x/b.jpg"
expect_fail 1 "^img2raw: $T/bad/x/c.jpg: corrupt JPEG" "$BIN/img2raw" "$T/bad"
echo "not an image" >"$T/bad/x/b.jpg"
echo "notes" >"$T/bad/x/readme.txt"
"$BIN/img2raw" --skip-bad "$T/bad" -o "$T/bad.tp" 2>"$T/err" || fail "--skip-bad failed"
grep -q 'skipped 2 unreadable images of 3' "$T/err" || fail "--skip-bad count: $(cat "$T/err")"
grep -q 'ignored 1 entries' "$T/err" || fail "the .txt file was not reported as ignored"
"$BIN/tinfo" "$T/bad.tp" | grep -q ': 1 records' || fail "--skip-bad output"
expect_fail 1 "^img2raw: $T/in.tp: not a folder" "$BIN/img2raw" "$T/in.tp"
expect_fail 1 "^img2raw: $T/none: No such file or directory$" "$BIN/img2raw" "$T/none"
mkdir "$T/empty"
expect_fail 1 "^img2raw: $T/empty: no .jpg, .jpeg or .png files$" "$BIN/img2raw" "$T/empty"
expect_fail 2 "^img2raw: --size wants HxW" "$BIN/img2raw" --size 0x4 "$T/png"
expect_fail 2 "^img2raw: option --sort must be class or name, not 'size'" "$BIN/img2raw" --sort size "$T/png"
expect_fail 2 "^img2raw: options --gray and --rgb exclude each other" "$BIN/img2raw" --gray --rgb "$T/png"
# raw2img refuses what is not an image
"$BIN/idx2raw" "$T/lb" >"$T/labels.tp"
expect_fail 1 "^raw2img: $T/labels.tp: field 'x' is u8 with rank 0" "$BIN/raw2img" "$T/o" "$T/labels.tp"
expect_fail 2 "^raw2img: option --quality must be 1 to 100, not '0'" "$BIN/raw2img" -Q 0 "$T/o" "$T/in.tp"
expect_fail 2 "^raw2img: options --png and --jpeg exclude each other" "$BIN/raw2img" --png --jpeg "$T/o" "$T/in.tp"
exit 0
