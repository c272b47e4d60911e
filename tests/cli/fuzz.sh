# A bounded run of the program fuzzer (tests/fuzz/progfuzz.py): every program's input paths
# fed mutated streams, IDX, PNG/JPEG, network, model, .npy, TF.js and .h5 files for
# FUZZ_SMOKE_SECONDS (default 60). Any crash, sanitizer report, hang, stray exit status,
# refusal of more than one line, half-written output or memory above its bound fails the test;
# the findings are kept under $T and printed. Longer runs by hand: progfuzz.py --seconds 1800.
. "$TESTS/cli/lib.sh"
secs=${FUZZ_SMOKE_SECONDS:-60}
"$PY" "$TESTS/fuzz/progfuzz.py" --bin "$BIN" --seconds "$secs" --seed "${FUZZ_SMOKE_SEED:-$(date +%j)}" \
    --keep "$T/findings" >"$T/table" 2>"$T/log"
rc=$?
echo "progfuzz seed ${FUZZ_SMOKE_SEED:-$(date +%j)}, ${secs} s"
cat "$T/table"
if [ "$rc" != 0 ]; then
    grep -A6 FINDING "$T/log" | head -60
    fail "progfuzz found problems (exit $rc)"
fi
grep -q '^total' "$T/table" || fail "progfuzz printed no table: $(tail -3 "$T/log")"
exit 0
