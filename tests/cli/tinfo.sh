# tinfo: the report on a stream whose statistics are worked out by hand.
. "$TESTS/cli/lib.sh"
mkidx "$T/im" u8 4 2 2   # items 0..15: mean 7.5
mkidx "$T/lb" i16 4      # labels -1000 -700 -400 -100
mkidx "$T/lb8" u8 4      # labels 0 1 2 3
"$BIN/idx2raw" "$T/im" "$T/lb8" | "$BIN/tinfo" >"$T/r" || fail tinfo
grep -q '^stdin: 4 records, 8 bytes each (32 B)$' "$T/r" || fail "count line: $(head -1 "$T/r")"
grep -Eq '^field x +u8\[2,2,1\] +min 0 +max 15 +mean 7\.5$' "$T/r" || fail "x stats: $(cat "$T/r")"
grep -Eq '^field y +i32 +min 0 +max 3 +mean 1\.5$' "$T/r" || fail "y stats"
grep -Eq '^labels y: 4 distinct$' "$T/r" || fail "histogram title"
[ "$(grep -cE '^ +[0-3] +1 +25\.00%$' "$T/r")" = 4 ] || fail "histogram rows"
"$BIN/idx2raw" "$T/im" "$T/lb" | "$BIN/tinfo" >"$T/r2"
grep -q 'other' "$T/r2" || fail "out-of-range labels not reported as other"
"$BIN/idx2raw" "$T/im" "$T/lb8" | "$BIN/tinfo" --header >"$T/h"
grep -q '^stdin: 4 records (header), 8 bytes each$' "$T/h" || fail "--header: $(cat "$T/h")"
grep -q 'min' "$T/h" && fail "--header read the records"
# f32 with NaN and inf via npy
"$PY" -c 'import sys,struct
d="{'"'"'descr'"'"': '"'"'<f4'"'"', '"'"'fortran_order'"'"': False, '"'"'shape'"'"': (4,), }"
h=d+" "*((64-(10+len(d)+1)%64)%64)+"\n"
sys.stdout.buffer.write(b"\x93NUMPY\x01\x00"+struct.pack("<H",len(h))+h.encode()+struct.pack("<4f",1.0,float("nan"),float("inf"),-2.0))' >"$T/f.npy"
"$BIN/npy2tp" -f v "$T/f.npy" | "$BIN/tinfo" | grep -Eq '^field v +f32 +min -2 +max 1 +mean -0\.5 +nan 1 inf 1$' ||
    fail "float stats: $("$BIN/npy2tp" -f v "$T/f.npy" | "$BIN/tinfo")"
exit 0
