# Real MNIST (when 'make data' has fetched it): counts, label histogram, .npy round trip.
. "$TESTS/cli/lib.sh"
D=$ROOT/data/mnist
[ -f "$D/train-images-idx3-ubyte" ] || { echo "no MNIST in data/mnist (run 'make data')"; exit 77; }
"$BIN/idx2raw" "$D/train-images-idx3-ubyte" "$D/train-labels-idx1-ubyte" >"$T/train.tp"
"$BIN/tinfo" "$T/train.tp" >"$T/r"
cat "$T/r"
grep -q ': 60000 records, 788 bytes each' "$T/r" || fail "not 60000 records"
grep -Eq '^field x +u8\[28,28,1\] +min 0 +max 255 ' "$T/r" || fail "x field"
want="5923 6742 5958 6131 5842 5421 5918 6265 5851 5949"
got=$(awk '/^labels y/ {on=1; next} on {print $2}' "$T/r" | tr '\n' ' ' | sed 's/ $//')
[ "$got" = "$want" ] || fail "label counts '$got', expected '$want'"
"$BIN/tp2npy" -m "$T/m" <"$T/train.tp" >"$T/train.npy"
"$BIN/npy2tp" -m "$T/m" "$T/train.npy" | cmp - "$T/train.tp" || fail "MNIST .npy round trip differs"
"$BIN/idx2raw" "$D/t10k-images-idx3-ubyte" "$D/t10k-labels-idx1-ubyte" | "$BIN/tinfo" | grep -q ': 10000 records' ||
    fail "test set"
exit 0
