# train and predict on a small task worked out by construction: which quadrant of an 8x8
# image holds a bright square. Learning, determinism, checkpoints, history, errors.
. "$TESTS/cli/lib.sh"
"$PY" "$TESTS/cli/quadrants.py" "$T" || fail "quadrants.py"   # which quadrant holds a bright square
"$BIN/idx2raw" "$T/train-im" "$T/train-lb" --classes tl,tr,bl,br >"$T/train.tp"
"$BIN/idx2raw" "$T/val-im" "$T/val-lb" >"$T/val.tp"
printf 'conv 4 3x3 relu pad=same\nmaxpool 2\nflatten\ndense 8 relu\ndropout 0.2\ndense 4 softmax\n' >"$T/q.net"
"$BIN/train" --net "$T/q.net" --val "$T/val.tp" --epochs 8 --batch 16 --lr 0.01 -c "$T/ck.tp" --history "$T/h.tp" \
    --summary <"$T/train.tp" >"$T/m.tp" 2>"$T/log" || fail "train failed: $(cat "$T/log")"
# conv 4 * (9 + 1) + dense 8 * (64 + 1) + dense 4 * (8 + 1)
grep -q '^Total params: 596$' "$T/log" || fail "summary: $(grep Total "$T/log")"
grep -q '^Epoch 8/8 - ' "$T/log" || fail "no epoch lines"
# it learned: last epoch's validation accuracy from the history stream
vacc=$("$BIN/tp2csv" --no-header --fields val_accuracy "$T/h.tp" | tail -1)
awk -v a="$vacc" 'BEGIN {exit !(a >= 0.95)}' || fail "validation accuracy $vacc < 0.95: $(cat "$T/log")"
[ "$("$BIN/tp2csv" --no-header --fields epoch "$T/h.tp" | tr '\n' ' ')" = "1 2 3 4 5 6 7 8 " ] || fail "history epochs"
# predict: pred/prob added, everything else passed through, accuracy as in training
"$BIN/predict" "$T/m.tp" <"$T/val.tp" >"$T/p.tp"
grep -aq '^field prob f32 4$' "$T/p.tp" || fail "prob field"
"$BIN/predict" -t 3 "$T/m.tp" <"$T/val.tp" | cmp - "$T/p.tp" || fail "the thread count changes predictions"
# another batch size: BLAS blocks the sums differently, so the last bits of prob may move
"$BIN/predict" -b 7 "$T/m.tp" <"$T/val.tp" >"$T/p7.tp"
cmp <("$BIN/tp2csv" --fields pred "$T/p7.tp") <("$BIN/tp2csv" --fields pred "$T/p.tp") || fail "batch size changes pred"
"$BIN/tp2csv" --no-header --fields prob "$T/p7.tp" >"$T/q7"
"$BIN/tp2csv" --no-header --fields prob "$T/p.tp" >"$T/q1"
same_numbers "$T/q7" "$T/q1" 1e-6
cmp <("$BIN/tp2csv" --fields x,y "$T/val.tp") <("$BIN/tp2csv" --fields x,y "$T/p.tp") || fail "predict changed x or y"
acc=$("$BIN/tp2csv" --no-header --fields y,pred "$T/p.tp" | awk -F, '{r += $1 == $2} END {printf "%.4f", r / NR}')
awk -v a="$acc" -v b="$vacc" 'BEGIN {d = a - b; exit !(d < 1e-4 && d > -1e-4)}' || fail "predict accuracy $acc, training said $vacc"
grep -aq '^meta classes br$' "$T/m.tp" || fail "model lacks the class names"
# predict on image files: name, class name, probability
"$BIN/idx2raw" -n 2 "$T/val-im" | "$BIN/raw2img" "$T/img"
"$BIN/predict" "$T/m.tp" "$T/img/00000.png" "$T/img/00001.png" >"$T/lines"
[ "$(wc -l <"$T/lines")" = 2 ] && grep -Eq "^$T/img/00000.png (tl|tr|bl|br) (0|1)\.[0-9]{4}$" "$T/lines" || fail "file predictions: $(cat "$T/lines")"
# the same seed gives the same bytes; another seed, other bytes
"$BIN/train" --net "$T/q.net" --epochs 2 --batch 16 <"$T/train.tp" 2>/dev/null >"$T/a.tp"
"$BIN/train" --net "$T/q.net" --epochs 2 --batch 16 <"$T/train.tp" 2>/dev/null | cmp - "$T/a.tp" || fail "not reproducible"
"$BIN/train" --net "$T/q.net" --epochs 2 --batch 16 -s 9 <"$T/train.tp" 2>/dev/null | cmp -s - "$T/a.tp" && fail "seed ignored"
# nor does the thread count change them: the threads share each layer, the batch's sums go
# block by block in a fixed order (batch norm, dropout and augmentation included; batch 20
# is 6 blocks of 3 and one of 2, so the threads meet unequal pieces)
printf 'conv 6 3x3 relu pad=same\nbatchnorm\nconv 6 3x3 relu\nmaxpool 2\nflatten\ndense 8 relu\nbatchnorm\ndropout 0.2\ndense 4 softmax\n' >"$T/bn.net"
for t in 1 2 3 5; do
    "$BIN/train" --net "$T/bn.net" --epochs 2 --batch 20 -t $t --rotation 10 <"$T/train.tp" 2>/dev/null >"$T/bn$t.tp" ||
        fail "train -t $t"
done
for t in 2 3 5; do cmp "$T/bn1.tp" "$T/bn$t.tp" || fail "batch norm net: $t threads differ from 1"; done
# tinfo summarises a model like model.summary()
"$BIN/tinfo" "$T/m.tp" | grep -q '^Total params: 596$' || fail "tinfo's model summary"
# on-the-fly augmentation: reproducible, and it changes the result
"$BIN/train" --net "$T/q.net" --epochs 2 --batch 16 --rotation 10 --width-shift 1 <"$T/train.tp" 2>/dev/null >"$T/aug.tp"
"$BIN/train" --net "$T/q.net" --epochs 2 --batch 16 --rotation 10 --width-shift 1 <"$T/train.tp" 2>/dev/null |
    cmp - "$T/aug.tp" || fail "augmented training not reproducible"
cmp -s "$T/aug.tp" "$T/a.tp" && fail "augmentation changed nothing"
# an endless augmented stream from upstream, read in order, 400 records an epoch
"$BIN/augment" --epochs 0 --shuffle --rotation 5 "$T/train.tp" 2>"$T/aerr" |
    "$BIN/train" --net "$T/q.net" --epoch-size 400 --epochs 8 --batch 16 --lr 0.01 --val "$T/val.tp" \
        --history "$T/sh.tp" >"$T/sm.tp" 2>"$T/slog" || fail "streamed training failed: $(cat "$T/slog")"
[ -s "$T/aerr" ] && fail "the producer complained: $(cat "$T/aerr")"
sacc=$("$BIN/tp2csv" --no-header --fields val_accuracy "$T/sh.tp" | tail -1)
awk -v a="$sacc" 'BEGIN {exit !(a >= 0.9)}' || fail "streamed training reached only $sacc"
# a finite stream that ends early stops training after what it had
"$BIN/idx2raw" -n 300 "$T/train-im" "$T/train-lb" |
    "$BIN/train" --net "$T/q.net" --epoch-size 200 --epochs 5 >"$T/short.tp" 2>"$T/elog" || fail "short stream: $(cat "$T/elog")"
grep -q "stdin ended before epoch 3" "$T/elog" || fail "no word of the stream's end: $(cat "$T/elog")"
# the checkpoint is a model: predict reads it
"$BIN/predict" "$T/ck.tp" <"$T/val.tp" | "$BIN/tinfo" --header | grep -q 'pred' || fail "checkpoint unreadable"
# --init resumes from a model; a NaN loss stops and leaves the checkpoint as it was
cp "$T/ck.tp" "$T/ck0.tp"
"$BIN/train" --init "$T/ck.tp" --lr 1e30 --epochs 2 -c "$T/ck.tp" --overwrite <"$T/train.tp" >"$T/nan.tp" 2>"$T/err" && fail "a NaN loss did not stop training"
grep -Eq "^train: loss is (nan|inf|-nan)" "$T/err" || fail "NaN message: $(cat "$T/err")"
cmp "$T/ck.tp" "$T/ck0.tp" || fail "the checkpoint changed after the NaN"
[ -s "$T/nan.tp" ] && fail "a failed run wrote a model"
# an earlier run's checkpoint is kept: a new run refuses to start on it without --overwrite
expect_fail 1 "^train: $T/ck0.tp: exists, and --checkpoint would replace it from this run's first epoch on: give --overwrite" \
    "$BIN/train" --net "$T/q.net" --epochs 1 -c "$T/ck0.tp" "$T/train.tp"
cmp "$T/ck.tp" "$T/ck0.tp" || fail "a refused run touched the checkpoint"
"$BIN/train" --net "$T/q.net" --epochs 1 -c "$T/ck0.tp" --overwrite <"$T/train.tp" >/dev/null 2>&1 || fail "--overwrite"
cmp -s "$T/ck.tp" "$T/ck0.tp" && fail "--overwrite did not replace the checkpoint"
"$BIN/train" --net "$T/q.net" --epochs 1 -c /dev/null <"$T/train.tp" >/dev/null 2>&1 || fail "-c /dev/null refused"
# killed at any moment while it keeps rewriting its checkpoint, the checkpoint stays a valid
# model and no temporary file is left
set -m
for wait_s in 0.3 0.45 0.6; do
    rm -f "$T/ck2.tp"
    "$BIN/train" --net "$T/q.net" --epochs 100000 --monitor loss -c "$T/ck2.tp" <"$T/train.tp" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do [ -s "$T/ck2.tp" ] && break; sleep 0.05; done
    sleep $wait_s
    kill -TERM $pid 2>/dev/null || kill -INT $pid
    wait $pid
    "$BIN/predict" "$T/ck2.tp" <"$T/val.tp" >/dev/null || fail "checkpoint invalid after a kill"
    ls "$T" | grep -q 'ck2.tp.tmp' && fail "a temporary checkpoint was left behind"
done
set +m
# network file errors name the file and line
printf 'conv 4 3x3 relu\nmaxpool two\ndense 4 softmax\n' >"$T/bad1.net"
expect_fail 1 "^train: $T/bad1.net:2: maxpool wants a pool size" "$BIN/train" --net "$T/bad1.net" "$T/train.tp"
printf 'conv 4 3x3\ndense 4 softmax\n' >"$T/bad2.net"
expect_fail 1 "^train: $T/bad2.net:2: dense needs a flat input" "$BIN/train" --net "$T/bad2.net" "$T/train.tp"
printf 'flatten\ndense 4 relu\n' >"$T/bad3.net"
expect_fail 1 "^train: $T/bad3.net:2: the last layer must be 'dense K softmax'" "$BIN/train" --net "$T/bad3.net" "$T/train.tp"
printf '# comment\nconv 4 9x9\nflatten\ndense 4 softmax\n' >"$T/bad4.net"
expect_fail 1 "^train: $T/bad4.net:2: 9x9 conv does not fit a 8x8 input$" "$BIN/train" --net "$T/bad4.net" "$T/train.tp"
printf 'conv 4 3x3 tanh\nflatten\ndense 4 softmax\n' >"$T/bad5.net"
expect_fail 1 "^train: $T/bad5.net:1: unknown activation 'tanh'" "$BIN/train" --net "$T/bad5.net" "$T/train.tp"
printf 'flatten\ndense 3 softmax\n' >"$T/three.net"
expect_fail 1 "^train: $T/train.tp: record 0 has label [0-9], outside the network's 3 classes|outside the network's 3 classes" \
    "$BIN/train" --net "$T/three.net" "$T/train.tp"
expect_fail 2 "^train: give the network with --net FILE" "$BIN/train" "$T/train.tp"
"$BIN/idx2raw" "$T/train-im" >"$T/nolabel.tp"
expect_fail 1 "^train: $T/nolabel.tp: no integer label field 'y'$" "$BIN/train" --net "$T/q.net" "$T/nolabel.tp"
expect_fail 1 "^predict: $T/train.tp: not a network model" "$BIN/predict" "$T/train.tp" "$T/val.tp"
exit 0
