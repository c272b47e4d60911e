# The README's NumPy reader and writer, extracted and run against the C programs.
. "$TESTS/cli/lib.sh"
NP=/usr/bin/python3
"$NP" -c 'import numpy' 2>/dev/null || { NP=$PY; "$NP" -c 'import numpy' 2>/dev/null; } ||
    { echo "numpy is not installed (python3-numpy)"; exit 77; }
sed -n '/<!-- numpy-reader -->/,/<!-- \/numpy-reader -->/p' "$ROOT/README.md" | sed '/^```/d;/^<!--/d' >"$T/tp.py"
[ "$(wc -l <"$T/tp.py")" -gt 20 ] || fail "reader not found in README.md"
mkidx "$T/im" u8 7 3 2
mkidx "$T/lb" u8 7
"$BIN/idx2raw" --classes "a b,c" "$T/im" "$T/lb" >"$T/a.tp"
cat "$T/a.tp" "$T/a.tp" >"$T/aa.tp"
cd "$T" && "$NP" - <<'PYEOF' || fail "python checks failed"
import numpy as np
exec(open("tp.py").read())
r, meta = read_tp("a.tp")
assert r.shape == (7,) and r["x"].shape == (7, 3, 2, 1) and r["x"].dtype == np.uint8, r.dtype
assert (r["x"].ravel() == np.arange(42) % 256).all() and (r["y"] == np.arange(7)).all()
assert meta["classes"] == "a b\nc" and meta["source"] == "im\nlb", meta
rr, _ = read_tp("aa.tp")
assert len(rr) == 14
v = np.zeros(3, dtype=[("v", "<f4", (2,)), ("k", "<i8"), ("h", "<f2", (1, 2))])
v["v"] = [[1.5, -2], [0, 3], [4, 5]]; v["k"] = [-1, 2**40, 3]; v["h"] = 0.5
write_tp("w.tp", v, {"note": "line one\nline two"})
back, m = read_tp("w.tp")
assert back.tobytes() == v.tobytes() and m["note"] == "line one\nline two"
PYEOF
"$BIN/tinfo" "$T/w.tp" >"$T/r" || fail "tinfo cannot read what write_tp wrote"
grep -Eq '^field v +f32\[2\] +min -2 +max 5 ' "$T/r" || fail "tinfo on write_tp output: $(cat "$T/r")"
grep -Eq '^field k +i64 +min -1 +max 1\.09951e\+12' "$T/r" || fail "i64 field: $(cat "$T/r")"
"$BIN/tp2npy" "$T/w.tp" -m "$T/m" | "$BIN/npy2tp" -m "$T/m" | cmp - "$T/w.tp" || fail "write_tp output round trip"
exit 0
