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
# named outputs that are not regular files: a device is written to, never replaced; a FIFO
# gets the stream; through a symbolic link the linked file is replaced and the link stays
mkidx "$T/lb" u8 1000
"$BIN/idx2raw" "$T/im" "$T/lb" -o "$T/s.tp" || fail "idx2raw"
mknod "$T/null" c 1 3 2>/dev/null && {
    "$BIN/split" --ratio 0.5 --train "$T/half.tp" --test "$T/null" -q "$T/s.tp" || fail "split into a device"
    [ -c "$T/null" ] || fail "the device was replaced by a regular file"
}
rm -f "$T/fifo2"; mkfifo "$T/fifo2"
cat "$T/fifo2" >"$T/from_fifo.tp" &
"$BIN/tp2npy" -o "$T/x2.npy" "$T/s.tp" && "$BIN/npy2tp" -o "$T/fifo2" "$T/x2.npy" || fail "writing into a FIFO"
wait
[ -p "$T/fifo2" ] || fail "the FIFO was replaced"
"$BIN/npy2tp" "$T/x2.npy" | cmp -s - "$T/from_fifo.tp" || fail "the FIFO did not carry the stream"
echo old >"$T/real.tp"
ln -s real.tp "$T/link.tp"
"$BIN/idx2raw" "$T/im" "$T/lb" -o "$T/link.tp" || fail "idx2raw through a link"
[ -L "$T/link.tp" ] || fail "the symbolic link was replaced"
cmp -s "$T/real.tp" "$T/s.tp" || fail "the linked file does not hold the output"
echo ok
