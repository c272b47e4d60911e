#!/usr/bin/env bash
# Runs every test: the unit-test binaries in $UNITS and the shell tests tests/cli/*.sh
# against the programs in $BIN. A test passes with exit 0, is skipped with exit 77 (its
# last line says why), and fails otherwise (its output is shown). Ends with one line:
# "N passed, N failed[, N skipped]".
set -u
here=$(cd "$(dirname "$0")" && pwd)
export BIN=${BIN:-$here/../bin} UNITS=${UNITS:-$here/../build/tests}
export TESTS=$here ROOT=$(cd "$here/.." && pwd)
pass=0 fail=0 skip=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() {
    local name=$1
    shift
    local t0=$SECONDS
    timeout "${TEST_TIMEOUT:-600}" "$@" >"$log" 2>&1 </dev/null
    local rc=$?
    [ $rc = 124 ] && echo "timed out after ${TEST_TIMEOUT:-600} s" >>"$log"
    case $rc in
    0) pass=$((pass + 1)); printf 'PASS %s (%ds)\n' "$name" $((SECONDS - t0)) ;;
    77) skip=$((skip + 1)); printf 'SKIP %s: %s\n' "$name" "$(tail -n 1 "$log")" ;;
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
