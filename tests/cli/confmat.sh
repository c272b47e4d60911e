# confmat: a case worked by hand, scikit-learn's figures on random labels (fixture),
# majority and one-to-one cluster mappings, the heatmap PNG, -o, bad input.
. "$TESTS/cli/lib.sh"
C=$BIN/confmat
F=$TESTS/fixtures

# (1) By hand: classes cat dog bird, u8 fields.
#   y    0 0 0 0 1 1 1 2 2 2
#   pred 0 0 0 1 1 2 2 2 2 0
# matrix (rows true): cat 3 1 0 / dog 0 1 2 / bird 1 0 2; accuracy 6/10.
# dog: precision 1/(1+1) = 0.5, recall 1/3, F1 = 2 (0.5)(1/3) / (0.5 + 1/3) = 0.4.
# bird: precision 2/4 = 0.5, recall 2/3, F1 = (2/3) / (7/6) = 4/7 = 0.5714.
# cat: 3/4 each. macro: precision (0.75 + 0.5 + 0.5) / 3 = 0.5833, recall (0.75 + 1/3 + 2/3) / 3
# = 0.5833, F1 (0.75 + 0.4 + 4/7) / 3 = 0.5738; weighted by support 4 3 3: precision
# (3 + 1.5 + 1.5) / 10 = 0.6, recall 0.6 (the accuracy), F1 (3 + 1.2 + 12/7) / 10 = 0.5914.
{
    header $'TPIPE 1\nfield y u8\nfield pred u8\nmeta classes cat\nmeta classes dog\nmeta classes bird\ncount 10'
    printf '\0\0\0\0\0\0\0\1\1\1\1\2\1\2\2\2\2\2\2\0'
} >"$T/hand.tp"
"$C" "$T/hand.tp" >"$T/hand.txt" 2>"$T/err" || fail "confmat failed: $(cat "$T/err")"
[ -s "$T/err" ] && fail "stderr not empty: $(cat "$T/err")"
grep -A3 '^true' "$T/hand.txt" | tr -s ' ' >"$T/m.txt"
printf '%s\n' 'true\pred cat dog bird' ' cat 3 1 0' ' dog 0 1 2' ' bird 1 0 2' | cmp - "$T/m.txt" || fail "matrix: $(cat "$T/m.txt")"
grep -q '^Accuracy 0.6000 (6 of 10 records)$' "$T/hand.txt" || fail "accuracy line"
grep -Eq '^ +dog +0\.5000 +0\.3333 +0\.4000 +3$' "$T/hand.txt" || fail "dog's scores"
grep -Eq '^ +bird +0\.5000 +0\.6667 +0\.5714 +3$' "$T/hand.txt" || fail "bird's scores"
grep -Eq '^ +cat +0\.7500 +0\.7500 +0\.7500 +4$' "$T/hand.txt" || fail "cat's scores"
grep -Eq '^ +accuracy +0\.6000 +10$' "$T/hand.txt" || fail "report's accuracy row"
grep -Eq '^ +macro avg +0\.5833 +0\.5833 +0\.5738 +10$' "$T/hand.txt" || fail "macro avg"
grep -Eq '^weighted avg +0\.6000 +0\.6000 +0\.5914 +10$' "$T/hand.txt" || fail "weighted avg"
grep -q 'Mapping' "$T/hand.txt" && fail "a field named pred is mapped by default"
# --normalize true: dog's row is 0, 1/3, 2/3; pred: cat's column 3/4, 0, 1/4; all: n = 10
"$C" --json -n true "$T/hand.tp" | grep -q '"normalized": \[\[0.75, 0.25, 0\],$' || fail "normalize true, row cat"
"$C" --json -n true "$T/hand.tp" | grep -q '\[0, 0.3333333333333333, 0.6666666666666666\],$' || fail "normalize true, row dog"
"$C" --json -n pred "$T/hand.tp" | grep -q '"normalized": \[\[0.75, 0.5, 0\],$' || fail "normalize pred"
"$C" --json -n all "$T/hand.tp" | grep -q '"normalized": \[\[0.3, 0.1, 0\],$' || fail "normalize all"
"$C" -n true -d 3 "$T/hand.tp" | grep -Eq '^ +dog +0\.000 +0\.333 +0\.667$' || fail "normalize true, text"

# (2) scikit-learn's figures on 200 random labels: labels not contiguous, 9 never
# predicted, -3 never true, 7 records with y = -1 left out; i16 and i64 fields.
check_json() { # JSON-FILE NORMALIZE: confmat's JSON against the fixture, to 1e-6
    "$PY" - "$1" "$F/confmat_want.json" "$2" <<'PYEOF' || fail "confmat --json -n $2 differs from scikit-learn"
import json, sys
got, want, norm = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
bad = []
def near(a, b, what):
    if abs(a - b) > 1e-6:
        bad.append("%s: %r vs %r" % (what, a, b))
for k in ("labels", "names", "matrix", "records", "unlabelled"):
    if got[k] != want[k]:
        bad.append("%s: %r vs %r" % (k, got[k], want[k]))
rep = want["report"]
near(got["accuracy"], rep["accuracy"], "accuracy")
for c in got["classes"]:
    for k, v in c["scores"].items():
        near(v, rep[str(c["label"])][k], "%s %s" % (c["label"], k))
for avg in ("macro avg", "weighted avg"):
    for k, v in got[avg].items():
        near(v, rep[avg][k], "%s %s" % (avg, k))
if norm != "none":
    for i, row in enumerate(want["normalized"][norm]):
        for j, v in enumerate(row):
            near(got["normalized"][i][j], v, "normalized %d %d" % (i, j))
if bad:
    sys.exit("\n".join(bad[:10]))
PYEOF
}
for n in none true pred all; do
    "$C" --json -n "$n" "$F/confmat_labels.tp" >"$T/l.json" || fail "confmat --json -n $n"
    check_json "$T/l.json" "$n"
done
# the same through a pipe, and the text report agrees with the JSON
cat "$F/confmat_labels.tp" | "$C" --json | cmp - <("$C" --json "$F/confmat_labels.tp" | sed 's|"input": "[^"]*"|"input": "stdin"|') ||
    fail "pipe input differs"
"$C" "$F/confmat_labels.tp" | grep -Eq '^ +nine +0\.0000 +0\.0000 +0\.0000 +[0-9]+$' || fail "a class never predicted is not all 0"
"$C" "$F/confmat_labels.tp" | grep -q '7 more without a label not counted' || fail "unlabelled records not reported"

# (3) Clusters. By hand, (y, cluster) pairs:
#   cluster 0: five of class 0;  cluster 1: three of 0, one of 1;  cluster 2: four of 1;
#   cluster 3: one of 0, one of 1 (a tie: the smallest label, 0, wins the vote).
# majority: 0->0 1->0 2->1 3->0, right 5 + 3 + 4 + 1 = 13 of 15; matrix 9 0 / 2 4.
# hungarian (one-to-one, 4 clusters for 2 classes): 0->0 with 2->1 agrees on 9, better than
# any other pair (1->0 2->1: 7, 0->0 1->1: 6, ...), so clusters 1 and 3 get -1: 9 of 15;
# labels -1 0 1, matrix 0 0 0 / 4 5 0 / 2 0 4.
{
    header $'TPIPE 1\nfield y u8\nfield cluster u8\nfield x u8 2\ncount 15'
    printf '\0\0AA\0\0BB\0\0CC\0\0DD\0\0EE\0\1FF\0\1GG\0\1HH\1\1II\1\2JJ\1\2KK\1\2LL\1\2MM\0\3NN\1\3OO'
} >"$T/cl.tp"
"$C" -f cluster "$T/cl.tp" >"$T/maj.txt" || fail "confmat -f cluster"
grep -q '^Mapping (majority vote)' "$T/maj.txt" || fail "majority is not the default for a field named cluster"
grep -q '^Accuracy 0.8667 (13 of 15 records)$' "$T/maj.txt" || fail "majority accuracy"
grep -q '^Accuracy 0.6000 with the hungarian mapping instead$' "$T/maj.txt" || fail "hungarian accuracy beside majority"
grep -A4 '^ *cluster ' "$T/maj.txt" | tail -4 | awk '{print $1, $2, $3, $4}' >"$T/map.txt"
printf '%s\n' '0 0 5 5' '1 0 4 3' '2 1 4 4' '3 0 2 1' | cmp - "$T/map.txt" || fail "majority mapping table: $(cat "$T/map.txt")"
grep -A2 '^true' "$T/maj.txt" | tr -s ' ' | cmp - <(printf '%s\n' 'true\pred 0 1' ' 0 9 0' ' 1 2 4') || fail "majority matrix"
"$C" -f cluster -m hungarian --json "$T/cl.tp" >"$T/hun.json" || fail "--map hungarian"
grep -q '"labels": \[-1, 0, 1\],$' "$T/hun.json" || fail "hungarian labels"
grep -q '"matrix": \[\[0, 0, 0\],$' "$T/hun.json" && grep -q '^ *\[4, 5, 0\],$' "$T/hun.json" && grep -q '^ *\[2, 0, 4\]\],$' "$T/hun.json" ||
    fail "hungarian matrix"
grep -q '"correct": 9, "accuracy": 0.6,$' "$T/hun.json" || fail "hungarian accuracy"
grep -q '"accuracy": {"hungarian": 0.6, "majority": 0.8666666666666667}' "$T/hun.json" || fail "both accuracies in JSON"
grep -q '{"cluster": 1, "label": -1, "size": 4, "agree": 0}' "$T/hun.json" || fail "unmatched cluster 1"
"$C" -f cluster -m none "$T/cl.tp" | grep -q Mapping && fail "--map none still maps"
# SciPy's linear_sum_assignment and numpy's vote on 300 records, 8 clusters for 6 classes
"$C" -f cluster --json "$F/confmat_clusters.tp" >"$T/c1.json" || fail "fixture, majority"
"$C" -f cluster -m hungarian --json "$F/confmat_clusters.tp" >"$T/c2.json" || fail "fixture, hungarian"
"$PY" - "$T/c1.json" "$T/c2.json" "$F/confmat_want.json" <<'PYEOF' || fail "cluster mappings differ from numpy/SciPy"
import json, sys
maj, hun, want = (json.load(open(p)) for p in sys.argv[1:4])
w = want["clusters"]
for got, how in ((maj, "majority"), (hun, "hungarian")):
    cl = got["mapping"]["clusters"]
    assert [c["cluster"] for c in cl] == w["clusters"], how
    assert [c["size"] for c in cl] == w["sizes"], how
    assert [c["label"] for c in cl] == w[how], (how, [c["label"] for c in cl], w[how])
    assert got["correct"] == w[how + "_correct"], how
assert maj["mapping"]["accuracy"]["hungarian"] == hun["accuracy"]
assert maj["matrix"] == w["majority_matrix"]
rep = w["majority_report"]
for c in maj["classes"]:
    for k, v in c["scores"].items():
        assert abs(v - rep[str(c["label"])][k]) <= 1e-6, (c["label"], k)
PYEOF

# (4) -o: the stream passes through with the mapped labels added (pred: no such field yet)
"$C" -f cluster "$T/cl.tp" -o "$T/out.tp" >/dev/null || fail "-o"
"$BIN/tinfo" --header "$T/out.tp" | grep -E '^field' | awk '{print $2, $3}' | tr '\n' ' ' | grep -qx 'y u8 cluster u8 x u8\[2\] pred i32 ' ||
    fail "fields of -o: $("$BIN/tinfo" --header "$T/out.tp")"
cmp <("$BIN/tp2csv" --no-header "$T/cl.tp") <("$BIN/tp2csv" --no-header --fields y,cluster,x "$T/out.tp") || fail "-o changed the records"
"$BIN/tp2csv" --no-header --fields pred "$T/out.tp" | tr '\n' ' ' | grep -qx '0 0 0 0 0 0 0 0 0 1 1 1 1 0 0 ' || fail "mapped labels"
"$C" -f cluster -m hungarian -o - "$T/cl.tp" 2>"$T/rep.txt" | "$BIN/tp2csv" --no-header --fields pred | tr '\n' ' ' |
    grep -qx '0 0 0 0 0 -1 -1 -1 -1 1 1 1 1 -1 -1 ' || fail "hungarian mapped labels on stdout"
grep -q '^Accuracy 0.6000 (9 of 15' "$T/rep.txt" || fail "with -o - the report goes to stderr"
cat "$T/cl.tp" | "$C" -f cluster -o "$T/out2.tp" >/dev/null && cmp "$T/out.tp" "$T/out2.tp" || fail "-o from a pipe differs"
"$C" "$T/hand.tp" -o "$T/m.tp" >/dev/null && "$BIN/tinfo" --header "$T/m.tp" | grep -q '^field mapped *i32' || fail "name 'mapped' when pred exists"

# (4) --png: a PNG of the size heatmap.h's layout gives; text is 6n - 1 pixels wide at scale 1
# for n characters. Hand case: 3 x 3 cells of 48 (cell texts of 1 digit: 10 + 24 < 48); names up
# to "bird" (46 px, wider than 48 - 4: the column names are turned); colour bar ticks 0 1 2 3
# (10 px). Across: 20 + 14 + 10 + 46 + 11 + 144 + 24 + 20 + 11 + 10 + 20 = 330 (the title,
# "Confusion matrix" at scale 3, needs 285 + 40). Down: 20 + 21 + 16 + 144 + 11 + 46 + 10 + 14
# + 20 = 302.
ihdr() { "$PY" -c 'import struct,sys; b=open(sys.argv[1],"rb").read(33); assert b[:8]==b"\x89PNG\r\n\x1a\n" and b[12:16]==b"IHDR"; print(*struct.unpack(">II",b[16:24]))' "$1"; }
"$C" --png "$T/h.png" "$T/hand.tp" >/dev/null || fail "--png"
[ "$(ihdr "$T/h.png")" = "330 302" ] || fail "PNG size $(ihdr "$T/h.png")"
# colours: the largest count's cell is Blues' darkest (#08306b), zeros its lightest (#f7fbff),
# its count in white, light cells' counts in dark grey
mkdir "$T/dec" && cp "$T/h.png" "$T/dec/h.png"
"$BIN/img2raw" --rgb "$T/dec" | "$BIN/tp2csv" --no-header --fields x | tr ',' '\n' | paste -d' ' - - - | sort | uniq -c >"$T/colours"
px() { awk -v c="$1" '$2 " " $3 " " $4 == c {print $1}' "$T/colours"; }
[ "$(px '8 48 107')" -gt 2000 ] || fail "darkest cell: $(px '8 48 107') pixels"
[ "$(px '247 251 255')" -gt 6000 ] || fail "three zero cells: $(px '247 251 255') pixels"
[ "$(px '38 38 38')" -gt 500 ] || fail "dark text"
cmp <("$C" --png - "$T/hand.tp" 2>/dev/null) "$T/h.png" || fail "--png - differs"
"$C" --png - "$T/hand.tp" 2>&1 >/dev/null | grep -q '^Accuracy 0.6000' || fail "with --png - the report goes to stderr"
"$C" --png "$T/t.png" --title "" -n true "$T/hand.tp" >/dev/null && [ "$(ihdr "$T/t.png" | cut -d' ' -f1)" -gt 300 ] ||
    fail "--normalize true picture"

# (5) bad input and usage
{ header $'TPIPE 1\nfield y u8\nfield pred f32\ncount 1'; printf '\0\0\0\0\0'; } >"$T/float.tp"
{ header $'TPIPE 1\nfield y u8\nfield pred u8\ncount 0'; } >"$T/empty.tp"
{ header $'TPIPE 1\nfield y i8\nfield pred u8\ncount 2'; printf '\377\0\377\1'; } >"$T/unk.tp"
expect_fail 1 "^confmat: $T/hand.tp: no field 'cluster'$" "$C" -f cluster "$T/hand.tp"
expect_fail 1 "^confmat: $T/hand.tp: no field 'label'$" "$C" --truth label "$T/hand.tp"
expect_fail 1 "^confmat: $T/float.tp: field 'pred' is f32 with 1 elements, not one integer label per record$" "$C" "$T/float.tp"
expect_fail 1 "^confmat: $T/empty.tp: no records$" "$C" "$T/empty.tp" --png "$T/e.png"
expect_fail 1 "^confmat: stdin: no records$" "$C" -o "$T/e.tp" <"$T/empty.tp"
expect_fail 1 "^confmat: $T/unk.tp: no record has a true label \(every 'y' is -1\)$" "$C" "$T/unk.tp"
expect_fail 1 "^confmat: stdin: empty input" "$C" </dev/null
expect_fail 1 "^confmat: $T/hand.tp: the input has a field 'y' already" "$C" "$T/hand.tp" -o "$T/e.tp" --mapped-name y
mkidx "$T/im" u8 1001 1 1
mkidx "$T/lb" i32 1001
"$BIN/idx2raw" "$T/im" "$T/lb" >"$T/many.tp"
expect_fail 1 "^confmat: $T/many.tp: field 'y' holds more than 1000 distinct values$" "$C" -f y "$T/many.tp"
expect_fail 2 "^confmat: option --map must be none, majority or hungarian, not 'vote' \\(see 'confmat --help'\\)$" "$C" -m vote "$T/hand.tp"
expect_fail 2 "^confmat: option --normalize must be none, true, pred or all, not 'rows' \\(see 'confmat --help'\\)$" "$C" -n rows "$T/hand.tp"
expect_fail 2 "^confmat: option --digits must be 0 to 12, not '13' \\(see 'confmat --help'\\)$" "$C" -d 13 "$T/hand.tp"
expect_fail 2 "^confmat: option --digits must be 0 to 12, not '-1' \\(see 'confmat --help'\\)$" "$C" --digits=-1 "$T/hand.tp"
expect_fail 2 "^confmat: --png and -o cannot both write to stdout" "$C" --png - -o - "$T/hand.tp"
ls "$T" | grep -Eq '^e\.(png|tp)' && fail "a failed run left an output"
exit 0
