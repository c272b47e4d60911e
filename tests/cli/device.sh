# --device and --precision on every program that computes: parsing, and auto's fallback to
# the CPU where no GPU works (which must give the CPU's bytes), on the quadrants task.
. "$TESTS/cli/lib.sh"
"$PY" "$TESTS/cli/quadrants.py" "$T" || fail "quadrants.py"
"$BIN/idx2raw" "$T/train-im" "$T/train-lb" >"$T/train.tp"
printf 'conv 4 3x3 relu pad=same\nmaxpool 2\nflatten\ndense 8 relu\ndropout 0.2\ndense 4 softmax\n' >"$T/q.net"
for p in train predict tsne gmm; do
    "$BIN/$p" --help | grep -q -- '--device DEV' || fail "$p --help lists no --device"
    "$BIN/$p" --help | grep -q -- '--precision P' || fail "$p --help lists no --precision"
done
expect_fail 2 '^train: --device must be auto, cpu, cuda or cuda:N' "$BIN/train" --device gpu --net "$T/q.net" "$T/train.tp"
expect_fail 2 '^train: --device cuda:N needs a device number' "$BIN/train" --device cuda:x --net "$T/q.net" "$T/train.tp"
expect_fail 2 '^predict: option --precision must be fp32, tf32 or bf16' "$BIN/predict" --precision fp16 "$T/train.tp"
# a backend that cannot be loaded: auto runs on the CPU, cuda says why and stops
export TPIPE_CUDA_LIB=$T/missing/libtpipe-cuda.so
"$BIN/train" --device cpu --net "$T/q.net" --epochs 2 --batch 16 <"$T/train.tp" >"$T/cpu.tp" 2>/dev/null || fail "cpu"
"$BIN/train" --device auto --net "$T/q.net" --epochs 2 --batch 16 <"$T/train.tp" >"$T/auto.tp" 2>/dev/null || fail "auto"
cmp "$T/cpu.tp" "$T/auto.tp" || fail "--device auto without a backend differs from --device cpu"
expect_fail 1 "^train: --device cuda: .*missing/libtpipe-cuda.so" "$BIN/train" --device cuda --net "$T/q.net" "$T/train.tp"
[ -e "$T/m.tp" ] && fail "a failed run left output"
"$BIN/predict" --device auto "$T/cpu.tp" <"$T/train.tp" | cmp - <("$BIN/predict" --device cpu "$T/cpu.tp" <"$T/train.tp") ||
    fail "predict --device auto differs from --device cpu"
# TPIPE_DEVICE is the default that --device overrides
TPIPE_DEVICE=cuda expect_fail 1 "^train: TPIPE_DEVICE cuda: .*missing/libtpipe-cuda.so" "$BIN/train" --net "$T/q.net" "$T/train.tp"
TPIPE_DEVICE=cuda "$BIN/train" --device cpu --net "$T/q.net" --epochs 2 --batch 16 <"$T/train.tp" | cmp - "$T/cpu.tp" ||
    fail "--device cpu does not override TPIPE_DEVICE"
TPIPE_DEVICE=cpu "$BIN/gmm" -k 2 -q -f x "$T/train.tp" | grep -aq '^meta device cpu' || fail "TPIPE_DEVICE=cpu: meta device"
# the backend is found beside the source tree's programs (bin/ and build-san/bin/ alike)
if [ -f "$ROOT/build/libtpipe-cuda.so" ]; then
    env -u TPIPE_CUDA_LIB "$BIN/gmm" --device cuda -k 1 -q "$T/train.tp" >/dev/null 2>"$T/found.log" ||
        ! grep -q 'no CUDA backend' "$T/found.log" || fail "$BIN/gmm did not find build/libtpipe-cuda.so: $(cat "$T/found.log")"
fi
# the runner pins the CPU for every test that does not ask for a device
[ "${TPIPE_DEVICE:-}" = cpu ] || fail "tests run with TPIPE_DEVICE '${TPIPE_DEVICE:-}', not cpu"
# a GPU test never counts as skipped where a GPU is required: it passes or it fails
if [ -x "${UNITS:-}/test_gpu_gmm" ]; then
    TPIPE_REQUIRE_GPU=1 "$UNITS/test_gpu_gmm" >"$T/req.log" 2>&1
    rc=$?
    [ $rc != 77 ] || fail "test_gpu_gmm skipped under TPIPE_REQUIRE_GPU=1: $(tail -1 "$T/req.log")"
    [ $rc = 0 ] || grep -q 'a GPU is required' "$T/req.log" || fail "test_gpu_gmm failed: $(tail -3 "$T/req.log")"
    # and the runner with TEST_NO_SKIP=1 fails what it would skip
    if TESTS_MATCH=unit/test_gpu_gmm TEST_NO_SKIP=0 bash "$TESTS/run.sh" | grep -q '^SKIP'; then
        TESTS_MATCH=unit/test_gpu_gmm TEST_NO_SKIP=1 bash "$TESTS/run.sh" >"$T/ns.log" && fail "TEST_NO_SKIP=1 passed a skipped test"
        grep -q '^FAIL unit/test_gpu_gmm (skipped, and TEST_NO_SKIP=1)' "$T/ns.log" || fail "TEST_NO_SKIP=1: $(cat "$T/ns.log")"
    fi
fi
TPIPE_REQUIRE_GPU=1 bash "$TESTS/cli/gpu_gmm.sh" >"$T/req2.log" 2>&1
[ $? != 77 ] || fail "cli/gpu_gmm skipped under TPIPE_REQUIRE_GPU=1"
TPIPE_DEVICE=gpu expect_fail 2 "^tsne: TPIPE_DEVICE must be auto, cpu, cuda or cuda:N, not 'gpu'" "$BIN/tsne" "$T/train.tp"
exit 0
