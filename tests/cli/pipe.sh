# A closed downstream pipe ends a program quietly: no message, no status but SIGPIPE's.
. "$TESTS/cli/lib.sh"
mkidx "$T/big" u8 20000 28 28
mkidx "$T/lb" u8 20000
for cmd in "idx2raw $T/big $T/lb" "idx2raw $T/big"; do
    $BIN/$cmd 2>"$T/err" | head -c 1000 >/dev/null
    rc=${PIPESTATUS[0]}
    [ "$rc" = 0 ] || [ "$rc" = 141 ] || fail "$cmd | head: exit $rc"
    [ -s "$T/err" ] && fail "$cmd | head printed: $(cat "$T/err")"
done
"$BIN/idx2raw" "$T/big" "$T/lb" >"$T/s.tp"
for p in "tp2csv" "tp2npy"; do
    "$BIN/$p" <"$T/s.tp" 2>"$T/err" | head -c 100 >/dev/null
    rc=${PIPESTATUS[0]}
    [ "$rc" = 0 ] || [ "$rc" = 141 ] || fail "$p | head: exit $rc"
    [ -s "$T/err" ] && fail "$p | head printed: $(cat "$T/err")"
done
# with SIGPIPE ignored by the parent the write fails with EPIPE: still quiet
(trap '' PIPE; "$BIN/idx2raw" "$T/big" 2>"$T/err" | head -c 10 >/dev/null)
[ -s "$T/err" ] && fail "EPIPE path printed: $(cat "$T/err")"
exit 0
