# Every program: --help (usage, exit 0), --version, an unknown option (exit 2, empty stdout).
. "$TESTS/cli/lib.sh"
n=0
for p in "$BIN"/*; do
    [ -x "$p" ] && [ -f "$p" ] || continue
    name=$(basename "$p")
    "$p" --help >"$T/h" 2>&1 || fail "$name --help exited $?"
    grep -q "^Usage: $name " "$T/h" || fail "$name --help lacks a Usage line"
    grep -q -- "--version" "$T/h" || fail "$name --help does not list --version"
    "$p" --version | grep -q "^$name (tpipe) " || fail "$name --version"
    expect_fail 2 "^$name: unknown option '--no-such-option' \(see '$name --help'\)$" "$p" --no-such-option
    n=$((n + 1))
done
[ $n -ge 5 ] || fail "only $n programs found in $BIN"
exit 0
