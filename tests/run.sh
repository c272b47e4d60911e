#!/usr/bin/env bash
# Runs every test: the unit-test binaries in $UNITS and the shell tests tests/cli/*.sh
# against the programs in $BIN. A test passes with exit 0, is skipped with exit 77 (its
# last line says why), and fails otherwise (its output is shown). Ends with one line:
# "N passed, N failed[, N skipped]". The programs run on the CPU unless a test names another
# device (TPIPE_DEVICE=cpu, which --device overrides): the GPU tests ask for cuda themselves.
# TEST_NO_SKIP=1 counts a skip as a failure; TESTS_MATCH=GLOB runs only the tests whose name
# (unit/test_x, cli/x) matches.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export BIN=${BIN:-$here/../bin} UNITS=${UNITS:-$here/../build/tests}
export TESTS=$here ROOT=$(cd "$here/.." && pwd) TPIPE_DEVICE=${TPIPE_DEVICE:-cpu}
pass=0 fail=0 skip=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() {
    local name=$1
    shift
    case $name in ${TESTS_MATCH:-*}) ;; *) return ;; esac
    local t0=$SECONDS
    timeout "${TEST_TIMEOUT:-600}" "$@" >"$log" 2>&1 </dev/null
    local rc=$?
    [ $rc = 124 ] && echo "timed out after ${TEST_TIMEOUT:-600} s" >>"$log"
    case $rc in
    0) pass=$((pass + 1)); printf 'PASS %s (%ds)\n' "$name" $((SECONDS - t0)) ;;
    77) if [ "${TEST_NO_SKIP:-0}" = 1 ]; then
            fail=$((fail + 1)); printf 'FAIL %s (skipped, and TEST_NO_SKIP=1): %s\n' "$name" "$(tail -n 1 "$log")"
        else
            skip=$((skip + 1)); printf 'SKIP %s: %s\n' "$name" "$(tail -n 1 "$log")"
        fi ;;
    *) fail=$((fail + 1)); printf 'FAIL %s (exit %d)\n' "$name" "$rc"; tail -n 30 "$log" | sed 's/^/    /' ;;
    esac
}

for t in "$UNITS"/test_*; do
    [ -x "$t" ] && run "unit/$(basename "$t")" "$t"
done
for t in "$here"/cli/*.sh; do
    case $t in */lib.sh) continue ;; esac
    run "cli/$(basename "$t" .sh)" bash "$t"
done
if [ "$skip" -gt 0 ]; then
    echo "$pass passed, $fail failed, $skip skipped"
else
    echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
