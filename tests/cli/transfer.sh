# Transfer learning with a frozen base computed once: predict --features writes a base's
# output, train fits a head on it, graft joins the two, and the joined model predicts on the
# images exactly what the head predicted on the cached features. Then fine-tuning the
# joined model with its base frozen, and the errors.
. "$TESTS/cli/lib.sh"
"$PY" "$TESTS/cli/quadrants.py" "$T" || fail "quadrants.py"   # which quadrant holds a bright square
"$BIN/idx2raw" "$T/train-im" "$T/train-lb" --classes tl,tr,bl,br >"$T/train.tp"
"$BIN/idx2raw" "$T/val-im" "$T/val-lb" --classes tl,tr,bl,br >"$T/val.tp"
printf 'conv 4 3x3 relu pad=same\nmaxpool 2\nconv 3 3x3 relu pad=same\nflatten\ndense 8 relu\ndense 4 softmax\n' >"$T/full.net"
printf '# the head\nflatten\ndense 8 relu\ndropout 0.2\ndense 4 softmax\n' >"$T/head.net"
"$BIN/train" --net "$T/full.net" --epochs 2 --batch 16 --lr 0.01 <"$T/train.tp" >"$T/base.tp" 2>/dev/null || fail "training the base"

# the base's output: the input field replaced by f32[4,4,3], everything else passed through
"$BIN/predict" --features base "$T/base.tp" <"$T/train.tp" >"$T/ftrain.tp" || fail "predict --features"
"$BIN/predict" --features 3 -t 1 -b 5 "$T/base.tp" <"$T/val.tp" >"$T/fval.tp" || fail "predict --features 3"
grep -aq '^field x f32 4 4 3$' "$T/ftrain.tp" || fail "features are not f32[4,4,3]: $("$BIN/tinfo" --header "$T/ftrain.tp")"
grep -aq '^meta features base.tp layer 3 (conv)$' "$T/ftrain.tp" || fail "no 'features' metadata"
grep -aq '^meta classes br$' "$T/ftrain.tp" || fail "class names lost"
cmp <("$BIN/tp2csv" --fields y "$T/ftrain.tp") <("$BIN/tp2csv" --fields y "$T/train.tp") || fail "labels not passed through"
"$BIN/predict" --features base "$T/base.tp" <"$T/val.tp" | cmp - "$T/fval.tp" || fail "threads or batch size change the features"
# layer 4 is the flatten: a vector; ReLU outputs are never negative
"$BIN/predict" --features 4 "$T/base.tp" <"$T/val.tp" | grep -aq '^field x f32 48$' || fail "flat features"
"$BIN/tp2csv" --no-header --fields x "$T/fval.tp" | tr , '\n' | awk '$1 < 0 {bad = 1} END {exit bad}' || fail "negative ReLU output"

# a head trained on the cached features, joined to the base
"$BIN/train" --net "$T/head.net" --val "$T/fval.tp" --epochs 6 --batch 16 --lr 0.01 --history "$T/h.tp" \
    <"$T/ftrain.tp" >"$T/head.tp" 2>"$T/log" || fail "training the head: $(cat "$T/log")"
grep -aq '^meta rescale 1$' "$T/head.tp" || fail "f32 features were rescaled"
"$BIN/graft" "$T/base.tp" "$T/head.tp" >"$T/joined.tp" || fail "graft"
"$BIN/tinfo" "$T/joined.tp" | grep -q '^Total params: ' || fail "tinfo cannot read the joined model"
grep -aq '^meta net # the head$' "$T/joined.tp" || fail "joined network text"
grep -aq '^meta classes br$' "$T/joined.tp" || fail "joined model lacks the class names"
grep -aq '^meta rescale 0.0039215686274509803$' "$T/joined.tp" || fail "joined model lacks the base's scale"
"$BIN/predict" "$T/head.tp" <"$T/fval.tp" >"$T/p_head.tp"
"$BIN/predict" "$T/joined.tp" <"$T/val.tp" >"$T/p_joined.tp"
cmp <("$BIN/tp2csv" --fields y,pred "$T/p_head.tp") <("$BIN/tp2csv" --fields y,pred "$T/p_joined.tp") ||
    fail "the joined model predicts other classes than the head on features"
"$BIN/tp2csv" --no-header --fields prob "$T/p_head.tp" >"$T/q_head"
"$BIN/tp2csv" --no-header --fields prob "$T/p_joined.tp" >"$T/q_joined"
same_numbers "$T/q_joined" "$T/q_head" 1e-6
acc=$("$BIN/tp2csv" --no-header --fields y,pred "$T/p_joined.tp" | awk -F, '{r += $1 == $2} END {print r / NR}')
vacc=$("$BIN/tp2csv" --no-header --fields val_accuracy "$T/h.tp" | tail -1)
awk -v a="$acc" -v b="$vacc" 'BEGIN {d = a - b; exit !(d < 1e-4 && d > -1e-4 && a >= 0.8)}' ||
    fail "joined model's accuracy $acc, the head's validation accuracy $vacc"
# an explicit layer number gives the same model
"$BIN/graft" --layer 3 "$T/base.tp" "$T/head.tp" | cmp - "$T/joined.tp" || fail "--layer 3 differs from base"

# fine-tuning the joined model: the first 3 layers stay, the rest moves
"$BIN/train" --init "$T/joined.tp" --freeze 3 --epochs 1 --batch 16 <"$T/train.tp" >"$T/ft.tp" 2>/dev/null || fail "fine-tuning"
cmp <("$BIN/tp2csv" --fields L1.w,L1.b,L3.w,L3.b "$T/ft.tp") <("$BIN/tp2csv" --fields L1.w,L1.b,L3.w,L3.b "$T/joined.tp") ||
    fail "--freeze 3 moved the base"
cmp -s <("$BIN/tp2csv" --fields L5.w "$T/ft.tp") <("$BIN/tp2csv" --fields L5.w "$T/joined.tp") && fail "the head did not train"

# errors
expect_fail 1 "^graft: .*base.tp, .*head.tp: the head takes 4x4x3 inputs, the base's layer 2 puts out 4x4x4$" \
    "$BIN/graft" --layer 2 "$T/base.tp" "$T/head.tp"
expect_fail 2 "^graft: --layer: the layer is 'base' or a number from 1 to the network's 6 layers, not '7'" \
    "$BIN/graft" --layer 7 "$T/base.tp" "$T/head.tp"
expect_fail 2 "^predict: --features: the network has no convolutional base: its first layer is flatten" \
    "$BIN/predict" --features base "$T/head.tp" <"$T/fval.tp"
expect_fail 2 "^predict: --features works on a stream, not on image files" "$BIN/predict" --features base "$T/base.tp" x.png
expect_fail 1 "^graft: .*train.tp: not a network model" "$BIN/graft" "$T/train.tp" "$T/head.tp"
exit 0
