# Shared helpers for the shell tests: sourced, never run. $BIN holds the programs.
set -u
: "${BIN:?BIN must point at the programs}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PY=$(command -v python3 || echo /usr/bin/python3)

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# no_gpu WHY: a GPU test that cannot run here is skipped (exit 77, WHY as the last line),
# unless TPIPE_REQUIRE_GPU=1 (the device check) makes it a failure.
no_gpu() {
    [ "${TPIPE_REQUIRE_GPU:-0}" = 1 ] && fail "a GPU is required (TPIPE_REQUIRE_GPU=1): $*"
    echo "$*"
    exit 77
}

mkidx() { "$PY" "$TESTS/cli/mkidx.py" "$@" || fail "mkidx $*"; }

# expect_fail STATUS REGEX CMD...: CMD must exit with STATUS, print nothing on stdout and
# exactly one line on stderr matching the extended REGEX.
expect_fail() {
    local want=$1 pattern=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want; stderr: $(cat "$T/err")"
    [ -s "$T/out" ] && fail "'$*' wrote to stdout"
    [ "$(wc -l <"$T/err")" = 1 ] || fail "'$*' printed $(wc -l <"$T/err") lines on stderr: $(cat "$T/err")"
    grep -qE "$pattern" "$T/err" || fail "'$*' said '$(cat "$T/err")', expected /$pattern/"
}

# A stream header (text without the end line) padded per the format, on stdout.
header() {
    local text="$1"$'\n'"end"
    local n=$(( (${#text} + 1 + 63) / 64 * 64 ))
    printf '%s%*s\n' "$text" $((n - ${#text} - 1)) ''
}

# same_numbers A B TOL: two CSV files of numbers agree field by field within TOL (absolute).
same_numbers() {
    [ "$(wc -l <"$1")" = "$(wc -l <"$2")" ] || fail "$1 and $2 differ in rows"
    paste -d'|' "$1" "$2" | awk -F'|' -v tol="$3" '{
        n = split($1, a, ","); m = split($2, b, ",")
        if (n != m) { print "row " NR ": " n " vs " m " columns"; bad = 1; exit 1 }
        for (i = 1; i <= n; i++) { d = a[i] - b[i]; if (d < 0) d = -d
            if (d > tol) { print "row " NR " column " i ": " a[i] " vs " b[i]; bad = 1; exit 1 } }
    } END { exit bad }' || fail "$1 and $2 differ beyond $3"
}
