# wimport: weights of a tiny VGG16 (tests/fixtures/make_vgg.py) read from a TensorFlow.js
# layers model and from Keras .h5 files give, through predict, the features and
# probabilities PyTorch computed with the same weights on the same images (Keras' caffe
# preprocessing included). Tolerance: every value within 1e-4 of the largest magnitude of
# its tensor (float32 against torch's float64 through 13 convolutions; the errors seen are
# below 1e-6). Then the errors that name a missing or mis-shaped tensor. The .h5 part is
# skipped (exit 77) in a build without libhdf5; the TF.js part always runs.
. "$TESTS/cli/lib.sh"
F=$TESTS/fixtures
W=$BIN/wimport

# close_rel A B RTOL: CSV files A and B agree row by row, |a - b| <= RTOL * max |b| of the row.
close_rel() {
    [ "$(wc -l <"$1")" = "$(wc -l <"$2")" ] || fail "$1 and $2 differ in rows"
    paste -d'|' "$1" "$2" | awk -F'|' -v rtol="$3" '{
        n = split($1, a, ","); m = split($2, b, ",")
        if (n != m) { print "row " NR ": " n " vs " m " columns"; bad = 1; exit 1 }
        mx = 0; for (i = 1; i <= m; i++) { v = b[i] < 0 ? -b[i] : b[i]; if (v > mx) mx = v }
        for (i = 1; i <= n; i++) { d = a[i] - b[i]; if (d < 0) d = -d
            if (d > rtol * mx) { print "row " NR " column " i ": " a[i] " vs " b[i]; bad = 1; exit 1 } }
    } END { exit bad }' || fail "$1 and $2 differ beyond $3 of the largest value"
}

"$BIN/tp2csv" --no-header --fields feat "$F/vgg_tiny_want.tp" >"$T/want_feat"
"$BIN/tp2csv" --no-header --fields prob "$F/vgg_tiny_want.tp" >"$T/want_prob"
# check_model MODEL WHAT: its base features and its probabilities match torch's
check_model() {
    "$BIN/predict" --features base "$1" <"$F/vgg_tiny_in.tp" >"$T/feat.tp" || fail "$2: predict --features failed"
    grep -aq '^field x f32 2 1 4$' "$T/feat.tp" || fail "$2: features are not f32[2,1,4]"
    "$BIN/tp2csv" --no-header --fields x "$T/feat.tp" >"$T/got_feat"
    close_rel "$T/got_feat" "$T/want_feat" 1e-4
    cmp <("$BIN/tp2csv" --fields y "$T/feat.tp") <("$BIN/tp2csv" --fields y "$F/vgg_tiny_in.tp") || fail "$2: y not passed through"
    "$BIN/predict" "$1" <"$F/vgg_tiny_in.tp" | "$BIN/tp2csv" --no-header --fields prob >"$T/got_prob"
    close_rel "$T/got_prob" "$T/want_prob" 1e-4
}

# ---- TensorFlow.js: the folder, or its model.json; shards split mid-tensor, quantized biases
"$W" --net "$F/vgg_tiny.net" --input 64x32x3 "$F/vgg_tiny_tfjs" >"$T/js.tp" 2>"$T/log" || fail "wimport: $(cat "$T/log")"
[ "$(grep -c "<- '" "$T/log")" = 15 ] || fail "mapping report: $(cat "$T/log")"
grep -q "^wimport: layer 22 (dense 3) <- 'dense_1' 6x3$" "$T/log" || fail "head mapping: $(cat "$T/log")"
grep -aq '^meta preprocess caffe' "$T/js.tp" || fail "the model lacks 'preprocess caffe'"
check_model "$T/js.tp" "TF.js"
"$W" -q --net "$F/vgg_tiny.net" --input 64x32x3 "$F/vgg_tiny_tfjs/model.json" | "$BIN/tp2csv" |
    cmp - <("$BIN/tp2csv" "$T/js.tp") || fail "model.json and its folder differ"
# preprocessing is applied: plain 1/255 scaling gives other features
"$BIN/predict" --features base --preprocess rescale --rescale 0.00392156862745098 "$T/js.tp" <"$F/vgg_tiny_in.tp" |
    "$BIN/tp2csv" --no-header --fields x | cmp -s - "$T/got_feat" && fail "--preprocess rescale changed nothing"
# fine-tuning keeps the model's preparation; a head left out is initialised from --seed
"$BIN/train" --init "$T/js.tp" --freeze 18 --epochs 1 --batch 2 "$F/vgg_tiny_in.tp" >"$T/ft.tp" 2>/dev/null || fail "train --init"
grep -aq '^meta preprocess caffe' "$T/ft.tp" || fail "train --init dropped 'preprocess caffe'"
cmp <("$BIN/tp2csv" --fields L1.w,L17.b "$T/ft.tp") <("$BIN/tp2csv" --fields L1.w,L17.b "$T/js.tp") || fail "--freeze 18 moved the base"
"$W" -q --base-only --net "$F/vgg_tiny.net" --input 64x32x3 "$F/vgg_tiny_tfjs" >"$T/b1.tp"
"$W" -q --base-only -s 7 --net "$F/vgg_tiny.net" --input 64x32x3 "$F/vgg_tiny_tfjs" >"$T/b7.tp"
cmp <("$BIN/tp2csv" --fields L17.w "$T/b1.tp") <("$BIN/tp2csv" --fields L17.w "$T/js.tp") || fail "--base-only changed the base"
cmp -s <("$BIN/tp2csv" --fields L20.w "$T/b1.tp") <("$BIN/tp2csv" --fields L20.w "$T/js.tp") && fail "--base-only kept the head"
cmp -s <("$BIN/tp2csv" --fields L20.w "$T/b1.tp") <("$BIN/tp2csv" --fields L20.w "$T/b7.tp") && fail "--seed ignored"

# ---- errors name the tensor and the layer
sed '5s/conv 3 /conv 5 /' "$F/vgg_tiny.net" >"$T/wide.net"
expect_fail 1 "^wimport: .*vgg_tiny_tfjs: 'block2_conv1/kernel' is 3x3x2x3, the network's layer 4 \(conv 5 3x3\) wants 3x3x2x5$" \
    "$W" --net "$T/wide.net" --input 64x32x3 "$F/vgg_tiny_tfjs"
sed '18a conv 4 3x3 relu pad=same' "$F/vgg_tiny.net" >"$T/deep.net"
expect_fail 1 "^wimport: .*: layer 'dense' holds dense weights, the network's layer 18 \(conv 4 3x3\) is conv \(--base-only" \
    "$W" --net "$T/deep.net" --input 64x32x3 "$F/vgg_tiny_tfjs"
expect_fail 1 "the network's layer 18 \(conv 4 3x3\) has no weights: the file's 13 layers \(without dense ones\) end before it \(the last is 'block5_conv3'\)$" \
    "$W" --base-only --net "$T/deep.net" --input 64x32x3 "$F/vgg_tiny_tfjs"
sed '18d' "$F/vgg_tiny.net" >"$T/short.net"
expect_fail 1 "layer 'block5_conv3' holds conv weights, the network's layer 19 \(dense 6\) is dense$" \
    "$W" --net "$T/short.net" --input 64x32x3 "$F/vgg_tiny_tfjs"
cp -r "$F/vgg_tiny_tfjs" "$T/cut"
head -c 3000 "$F/vgg_tiny_tfjs/group1-shard2of2.bin" >"$T/cut/group1-shard2of2.bin"
expect_fail 1 "^wimport: .*model.json: 'dense/kernel' \(48 values of float32\) runs past the end of its shards \(6203 bytes\)$" \
    "$W" --net "$F/vgg_tiny.net" --input 64x32x3 "$T/cut"
rm "$T/cut/group1-shard1of2.bin"
expect_fail 1 "^wimport: .*/cut/group1-shard1of2.bin: No such file or directory$" "$W" --net "$F/vgg_tiny.net" "$T/cut"
printf '{"format": "graph-model", "weightsManifest": []}' >"$T/cut/model.json"
expect_fail 1 "a TensorFlow.js 'graph-model', not a 'layers-model'" "$W" --net "$F/vgg_tiny.net" "$T/cut"
printf '{"format": "layers-model", "weightsManifest": [}' >"$T/cut/model.json"
expect_fail 1 "model.json: not JSON: line 1: unexpected character '}'$" "$W" --net "$F/vgg_tiny.net" "$T/cut"
expect_fail 2 "caffe preprocessing needs RGB images \(3 channels\), not 1 channel" \
    "$W" --net "$F/vgg_tiny.net" --input 64x32x1 "$F/vgg_tiny_tfjs"
expect_fail 2 "give the network file with --net" "$W" "$F/vgg_tiny_tfjs"
expect_fail 2 "^wimport: option --preprocess must be rescale, caffe, tf or torch, not 'vgg'" \
    "$W" --net "$F/vgg_tiny.net" --preprocess vgg "$F/vgg_tiny_tfjs"

# ---- Keras .h5: the published VGG16 file's layout, and model.save()'s
if "$W" --list "$F/vgg_tiny_notop.h5" >"$T/list" 2>"$T/err"; then
    grep -q '^block1_conv1 block1_conv1_W_1:0 3x3x3x2$' "$T/list" || fail "--list: $(head -3 "$T/list")"
    "$W" --net "$F/vgg_tiny.net" --input 64x32x3 "$F/vgg_tiny_notop.h5" >"$T/h1.tp" 2>"$T/log" || fail "notop.h5: $(cat "$T/log")"
    grep -q '^wimport: layer 20 (dense 6): not in the file, initialised$' "$T/log" || fail "head report: $(cat "$T/log")"
    "$BIN/predict" --features base "$T/h1.tp" <"$F/vgg_tiny_in.tp" | "$BIN/tp2csv" --no-header --fields x >"$T/h1_feat"
    close_rel "$T/h1_feat" "$T/want_feat" 1e-4
    "$W" -q --net "$F/vgg_tiny.net" --input 64x32x3 "$F/vgg_tiny_full.h5" >"$T/h2.tp" || fail "full.h5"
    check_model "$T/h2.tp" "model.save() .h5"
    cmp <("$BIN/tp2csv" "$T/h2.tp") <("$BIN/tp2csv" "$T/js.tp") || fail ".h5 and TF.js give other weights"
    "$W" -q --base-only --net "$F/vgg_tiny.net" --input 64x32x3 "$F/vgg_tiny_full.h5" | "$BIN/tp2csv" |
        cmp - <("$BIN/tp2csv" "$T/h1.tp") || fail "--base-only of the full file differs from the notop file"
    expect_fail 1 "^wimport: .*vgg_tiny_notop.h5: 'block2_conv1_W_1:0' is 3x3x2x3, the network's layer 4 \(conv 5 3x3\) wants 3x3x2x5$" \
        "$W" --net "$T/wide.net" --input 64x32x3 "$F/vgg_tiny_notop.h5"
    expect_fail 1 "^wimport: .*model.json: not JSON" "$W" --net "$F/vgg_tiny.net" "$T/cut/model.json"
    cp "$F/vgg_tiny_in.tp" "$T/not.h5"
    expect_fail 1 "^wimport: .*not.h5: not a readable HDF5 file$" "$W" --net "$F/vgg_tiny.net" "$T/not.h5"
else
    grep -q "reading .h5 needs libhdf5, and this build has none: install libhdf5-dev" "$T/err" || fail "no .h5 and no reason: $(cat "$T/err")"
    echo "wimport was built without libhdf5: the .h5 checks did not run (the TF.js ones passed)"
    exit 77
fi
exit 0
