# plot: curves and scatter PNGs of the expected sizes and colours, kinds told apart by the
# fields, seeded drawing order, and bad input failing in one line with no file left.
. "$TESTS/cli/lib.sh"
P=$BIN/plot
# streams written with the Python standard library: a history of 8 epochs (with and without
# validation), embeddings of 300 points in 2, 3 and 5 dimensions labelled 0..2
"$PY" - "$T" <<'PYEOF'
import math, random, struct, sys
d = sys.argv[1]
def write(name, fields, recs, meta=()):
    lines = ["TPIPE 1"] + ["field %s %s%s" % (n, t, "".join(" %d" % s for s in shape)) for n, t, shape, _ in fields]
    lines += ["meta %s %s" % kv for kv in meta] + ["count %d" % len(recs), "end"]
    head = "\n".join(lines)
    head += " " * (-(len(head) + 1) % 64) + "\n"
    fmt = "<" + "".join(f for _, _, _, f in fields)
    with open(d + "/" + name, "wb") as out:
        out.write(head.encode() + b"".join(struct.pack(fmt, *r) for r in recs))
hist = [("epoch", "i32", (), "i")] + [(n, "f32", (), "f") for n in
        ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")]
recs = [(e, 1 / e, 1 - 0.2 / e, 1.2 / e, 1 - 0.25 / e, 0.001, 1.0) for e in range(1, 9)]
write("hist.tp", hist, recs)
write("noval.tp", hist, [(e, l, a, math.nan, math.nan, r, s) for e, l, a, _, _, r, s in recs])
rnd = random.Random(1)
centre = [(0, 0, 0, 0, 0), (5, 5, 5, 5, 5), (10, 0, -5, 1, 2)]
for dim in (2, 3, 5):
    pts = [[c + rnd.gauss(0, 1) for c in centre[i % 3][:dim]] + [i % 3] for i in range(300)]
    write("emb%d.tp" % dim, [("x", "f32", (dim,), "%df" % dim), ("y", "i32", (), "i")], pts,
          [("classes", "cat"), ("classes", "dog"), ("classes", "bird")])
write("yfloat.tp", [("x", "f32", (2,), "2f"), ("y", "f32", (), "f")], [(1, 2, 0.5), (3, 4, 1.5)])
PYEOF
[ -s "$T/hist.tp" ] || fail "could not write the test streams"
size() { od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4 "x" $5*16777216 + $6*65536 + $7*256 + $8}'; }
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] || fail "$1 is not a PNG"; }
n=0
# count FILE.png R G B: pixels of exactly that colour
count() {
    n=$((n + 1))
    mkdir -p "$T/dec$n" && cp "$1" "$T/dec$n/a.png" &&
        "$BIN/img2raw" --rgb "$T/dec$n" | "$BIN/tp2csv" --no-header --fields x | tr ',' '\n' | paste -d' ' - - - |
        grep -c "^$2 $3 $4\$"
}

# curves: auto-detected from 'loss', 1200x500 by default; the Train line in tab:blue, the
# Validation line in tab:orange, absent when val_* are NaN
"$P" -o "$T/c.png" "$T/hist.tp" || fail "curves failed"
is_png "$T/c.png"
[ "$(size "$T/c.png")" = 1200x500 ] || fail "curves are $(size "$T/c.png"), not 1200x500"
"$P" --size 400x200 --font 1 <"$T/hist.tp" >"$T/c2.png" || fail "curves from stdin failed"
[ "$(size "$T/c2.png")" = 400x200 ] || fail "--size 400x200 gave $(size "$T/c2.png")"
[ "$(count "$T/c2.png" 31 119 180)" -gt 50 ] || fail "no Train line in tab:blue"
[ "$(count "$T/c2.png" 255 127 14)" -gt 50 ] || fail "no Validation line in tab:orange"
"$P" --size 400x200 --font 1 -o "$T/c3.png" "$T/noval.tp" || fail "curves without validation failed"
[ "$(count "$T/c3.png" 255 127 14)" = 0 ] || fail "a Validation line drawn from NaN"
"$P" --kind curves --metrics loss,lr,seconds --size 900x300 -o "$T/c4.png" "$T/hist.tp" || fail "--metrics failed"
[ "$(size "$T/c4.png")" = 900x300 ] || fail "--metrics picture is $(size "$T/c4.png")"

# scatter: 2-D 1000x800, 3-D the same, --pairs 1500x520; one colour per class, one for all with --color none
"$P" -o "$T/s2.png" "$T/emb2.tp" || fail "2-D scatter failed"
[ "$(size "$T/s2.png")" = 1000x800 ] || fail "2-D scatter is $(size "$T/s2.png")"
"$P" --size 300x240 --radius 3 --alpha 1 -o "$T/s2s.png" "$T/emb2.tp"
for c in "31 119 180" "255 127 14" "44 160 44"; do
    [ "$(count "$T/s2s.png" $c)" -gt 100 ] || fail "no dots of colour $c"   # 100 dots of ~20 pixels each
done
"$P" --size 300x240 --radius 3 --alpha 1 --color none -o "$T/s2n.png" "$T/emb2.tp"
[ "$(count "$T/s2n.png" 255 127 14)" = 0 ] || fail "--color none still coloured by class"
"$P" -o "$T/s3.png" --title "3-D" --view 20,-50 "$T/emb3.tp" || fail "3-D scatter failed"
[ "$(size "$T/s3.png")" = 1000x800 ] || fail "3-D scatter is $(size "$T/s3.png")"
"$P" --pairs -o "$T/s3p.png" "$T/emb3.tp" || fail "--pairs failed"
[ "$(size "$T/s3p.png")" = 1500x520 ] || fail "--pairs picture is $(size "$T/s3p.png")"
# the drawing order is seeded: the same seed gives the same bytes, another seed others
"$P" --size 300x200 "$T/emb2.tp" >"$T/d1.png"
"$P" --size 300x200 "$T/emb2.tp" | cmp -s - "$T/d1.png" || fail "not deterministic"
"$P" --size 300x200 --seed 7 "$T/emb2.tp" | cmp -s - "$T/d1.png" && fail "--seed 7 drew in the same order"

# bad input: one line, exit 1, no file left; bad usage: exit 2
expect_fail 1 "^plot: $T/emb5.tp: field 'x' is f32\[5\], not a 2-D or 3-D embedding" "$P" -o "$T/bad.png" "$T/emb5.tp"
[ -e "$T/bad.png" ] && fail "left a file after an error"
expect_fail 1 "^plot: $T/emb2.tp: no field 'z' to scatter" "$P" -f z -o "$T/bad.png" "$T/emb2.tp"
expect_fail 1 "^plot: $T/emb2.tp: no field 'accuracy' \(a history" "$P" --kind curves -o "$T/bad.png" "$T/emb2.tp"
expect_fail 1 "^plot: $T/hist.tp: no field 'x' to scatter" "$P" --kind scatter -o "$T/bad.png" "$T/hist.tp"
expect_fail 1 "^plot: $T/emb2.tp: no field 'cluster'" "$P" --color cluster -o "$T/bad.png" "$T/emb2.tp"
expect_fail 1 "^plot: $T/yfloat.tp: field 'y' is f32; colours need an integer field" "$P" -o "$T/bad.png" "$T/yfloat.tp"
head -c 64 "$T/hist.tp" >"$T/cut.tp"
expect_fail 1 "^plot: $T/cut.tp: " "$P" -o "$T/bad.png" "$T/cut.tp"
[ -e "$T/bad.png" ] && fail "left a file after an error"
expect_fail 2 "^plot: --size wants WxH" "$P" --size 10x10 "$T/hist.tp"
expect_fail 2 "^plot: option --kind must be curves, scatter or auto, not 'pie'" "$P" --kind pie "$T/hist.tp"
expect_fail 2 "^plot: option --alpha must be 0 to 1, not '1.5'" "$P" --alpha 1.5 "$T/emb2.tp"
expect_fail 2 "^plot: --view wants ELEV,AZIM" "$P" --view 30 "$T/emb3.tp"
expect_fail 2 "^plot: --pairs needs a 3-D embedding" "$P" --pairs "$T/emb2.tp"
exit 0
