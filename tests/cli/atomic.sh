# Ctrl-C or SIGTERM in the middle of writing a file leaves neither a partial file nor a temporary.
. "$TESTS/cli/lib.sh"
# Job control: a non-interactive shell would start background jobs with SIGINT ignored.
set -m
mkidx "$T/im" u8 1000 28 28
mkfifo "$T/fifo"
# npy2tp reading a .npy from a pipe that stalls half-way, then interrupted
"$PY" - "$T/x.npy" <<'PYEOF'
import struct, sys
d = "{'descr': '|u1', 'fortran_order': False, 'shape': (1000, 784), }"
h = d + " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
open(sys.argv[1], "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + bytes(1000 * 784))
PYEOF
for sig in INT TERM; do
    "$BIN/npy2tp" -o "$T/out.tp" <"$T/fifo" &
    pid=$!
    exec 3>"$T/fifo"
    head -c 400000 "$T/x.npy" >&3
    sleep 0.3
    ls "$T" | grep -q 'out.tp.tmp' || fail "no temporary file while writing (test premise)"
    kill -$sig $pid
    wait $pid
    rc=$?
    exec 3>&-
    [ $rc -gt 128 ] || fail "npy2tp survived SIG$sig (exit $rc)"
    ls "$T" | grep -q 'out.tp' && fail "SIG$sig left $(ls "$T" | grep out.tp)"
done
# idx2raw reading from a fifo, interrupted the same way
"$BIN/idx2raw" "$T/fifo" -o "$T/out2.tp" &
pid=$!
exec 3>"$T/fifo"
head -c 300000 "$T/im" >&3
sleep 0.3
kill -INT $pid
wait $pid
exec 3>&-
ls "$T" | grep -q 'out2.tp' && fail "idx2raw left $(ls "$T" | grep out2.tp)"
exit 0
