# Hostile and wrong-but-readable input: each case must be refused with one line and exit 1
# (or decoded right), never crash, never write a half output, never give a silently wrong
# answer. One section per kind of input.
. "$TESTS/cli/lib.sh"

# a valid stream of 20 points x f32[4], y i32, holding N metadata keys
keys_stream() {
    "$PY" - "$1" "$2" <<'EOF'
import struct, sys, random
random.seed(1)
n = int(sys.argv[2])
lines = ["TPIPE 1", "field x f32 4", "field y i32"] + ["meta k%03d v" % i for i in range(n)] + ["count 20", "end"]
head = "\n".join(lines)
head += " " * (-(len(head) + 1) % 64) + "\n"
body = b"".join(struct.pack("<4fi", *[random.gauss(0, 1) for _ in range(4)], i % 3) for i in range(20))
open(sys.argv[1], "wb").write(head.encode() + body)
EOF
}

# --- .npy: a structured dtype without fields (a zero record size) ---
npy() { # FILE HEADER-DICT: a version 1.0 .npy with no data
    local d="$2" n
    n=$(( (10 + ${#d} + 1 + 63) / 64 * 64 - 10 ))
    { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $((n % 256)))\\x$(printf %02x $((n / 256)))";
      printf '%s%*s\n' "$d" $((n - ${#d} - 1)) ''; } >"$1"
}
npy "$T/empty.npy" "{'descr': [], 'fortran_order': False, 'shape': (3,), }"
expect_fail 1 "^npy2tp: $T/empty.npy: the structured dtype has no fields \(a stream needs at least one\)$" \
    "$BIN/npy2tp" "$T/empty.npy"
npy "$T/zero.npy" "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 0), }"
expect_fail 1 "^npy2tp: $T/zero.npy: field 'x' has dimension 0" "$BIN/npy2tp" "$T/zero.npy"
# a shape written as a bare negative number (once a stream of 'count unknown', exit 0)
npy "$T/neg.npy" "{'descr': '<f4', 'fortran_order': False, 'shape': -3, }"
expect_fail 1 "^npy2tp: $T/neg.npy: bad shape in .npy header$" "$BIN/npy2tp" "$T/neg.npy"

# --- networks too large for a model: refused by name, before any allocation ---
keys_stream "$T/small.tp" 0
printf 'flatten\ndense 16777216 relu\ndense 16777216 relu\ndense 2 softmax\n' >"$T/huge.net"
expect_fail 1 "^train: $T/huge.net:3: the network has more than 2\\^30 parameters \\(a model holds at most 4 GiB\\)$" \
    "$BIN/train" --net "$T/huge.net" "$T/small.tp"

# --- TensorFlow.js weights: a shard path naming a device (read until memory ran out) ---
mkdir "$T/js"
printf '{"format": "layers-model", "weightsManifest": [{"paths": ["../../../../../../../../dev/zero"],
  "weights": [{"name": "d/kernel", "shape": [12, 2], "dtype": "float32"}]}]}\n' >"$T/js/model.json"
printf 'flatten\ndense 2 softmax\n' >"$T/js.net"
expect_fail 1 "^wimport: $T/js/model.json: weightsManifest\\[0\\]\\.paths\\[0\\]: $T/js/(\\.\\./)+dev/zero is not a regular file$" \
    "$BIN/wimport" --net "$T/js.net" --input 2x2x3 "$T/js"

# --- metadata at the format's limit: a stage that adds keys refuses before its work ---
keys_stream "$T/k255.tp" 255
keys_stream "$T/k240.tp" 240
keys_stream "$T/k256.tp" 256
"$BIN/tinfo" "$T/k255.tp" >/dev/null || fail "tinfo refuses a valid stream of 255 keys"
expect_fail 1 "^gmm: $T/k255.tp: holds 255 metadata keys, and the output's 8 more would pass the format's 256$" \
    "$BIN/gmm" -k 2 "$T/k255.tp"
expect_fail 1 "^tsne: $T/k255.tp: holds 255 metadata keys, and the output's 5 more" "$BIN/tsne" --perplexity 3 "$T/k255.tp"
expect_fail 1 "^pca: $T/k255.tp: holds 255 metadata keys, and the output's 3 more" "$BIN/pca" -k 2 "$T/k255.tp"
"$BIN/gmm" -k 2 -q "$T/k240.tp" | "$BIN/tinfo" - >/dev/null || fail "gmm on 240 keys"
printf 'flatten\ndense 3 softmax\n' >"$T/tiny.net"
"$BIN/train" --net "$T/tiny.net" --epochs 1 "$T/k255.tp" >"$T/m.tp" 2>/dev/null || fail "train on 255 keys"
"$BIN/predict" --features 1 "$T/m.tp" <"$T/k255.tp" | "$BIN/tinfo" - >/dev/null || fail "predict --features, 256th key"
expect_fail 1 "^predict: stdin: holds 256 metadata keys, and the output's 1 more would pass" \
    "$BIN/predict" --features 1 "$T/m.tp" -i - <"$T/k256.tp"

# --- network files: line ends, bytes, signs ---
printf 'flatten\r\ndense 4 relu\r\ndense 3 softmax\r\n' >"$T/crlf.net"
"$BIN/train" --net "$T/crlf.net" --epochs 1 "$T/k240.tp" >"$T/crlf.tp" 2>/dev/null || fail "a CRLF network file"
"$BIN/tinfo" --header "$T/crlf.tp" | grep -q $'\r' && fail "the model keeps the carriage returns"
"$BIN/predict" "$T/crlf.tp" <"$T/k240.tp" | "$BIN/tinfo" - >/dev/null || fail "the CRLF network's model"
printf 'flatten\ndense +6 relu\ndense 3 softmax\n' >"$T/plus.net"
expect_fail 1 "^train: $T/plus.net:2: '\+6': numbers are written without a '\+'$" "$BIN/train" --net "$T/plus.net" "$T/k240.tp"
printf 'flatten\ndense 6 relu\0\ndense 3 softmax\n' >"$T/nul.net"
expect_fail 1 "^train: $T/nul.net:2: a NUL byte: not a network file$" "$BIN/train" --net "$T/nul.net" "$T/k240.tp"
printf 'flatten # caf\xe9\ndense 3 softmax\n' >"$T/latin.net"
expect_fail 1 "^train: $T/latin.net:1: bytes that are not UTF-8$" "$BIN/train" --net "$T/latin.net" "$T/k240.tp"
printf 'flatten\ndense 3 softmax\r\r\n' >"$T/cr.net"
expect_fail 1 "^train: $T/cr.net:2: a carriage return inside a line$" "$BIN/train" --net "$T/cr.net" "$T/k240.tp"
printf 'flatten\ndense 3\033 softmax\n' >"$T/esc.net"
expect_fail 1 "^train: $T/esc.net:2: a control character$" "$BIN/train" --net "$T/esc.net" "$T/k240.tp"

# --- gzip members cut before their trailer ---
mkidx "$T/lab" u8 500
gzip -c "$T/lab" >"$T/lab.gz"
sz=$(stat -c %s "$T/lab.gz")
head -c $((sz - 8)) "$T/lab.gz" >"$T/cut8.gz"
head -c $((sz - 1)) "$T/lab.gz" >"$T/cut1.gz"
"$BIN/idx2raw" "$T/lab.gz" >/dev/null || fail "the whole gzip file"
expect_fail 1 "^idx2raw: $T/cut8.gz: corrupt gzip data \(unexpected end of file: the file is cut short\)$" "$BIN/idx2raw" "$T/cut8.gz"
expect_fail 1 "^idx2raw: $T/cut1.gz: corrupt gzip data" "$BIN/idx2raw" "$T/cut1.gz"

# --- two outputs that are one file ---
expect_fail 2 "^split: --train and --test name the same file: the second would replace the first" \
    "$BIN/split" --train "$T/s.tp" --test "$T/./s.tp" "$T/k240.tp"
ln -s "$T" "$T/link"
expect_fail 2 "^split: --train and --rest name the same file" "$BIN/split" --train "$T/s.tp" --rest "$T/link/s.tp" "$T/k240.tp"
[ -e "$T/s.tp" ] && fail "a refused split wrote"
"$BIN/split" -q --train /dev/null --test /dev/null "$T/k240.tp" || fail "/dev/null twice"
expect_fail 2 "^train: --output and --history name the same file" \
    "$BIN/train" --net "$T/tiny.net" -o "$T/h.tp" --history "$T/h.tp" "$T/k240.tp"
expect_fail 2 "^pca: --save and --output name the same file" "$BIN/pca" --save "$T/p.tp" -o "$T/./p.tp" "$T/k240.tp"
expect_fail 2 "^gmm: -o would write the model to stdout" "$BIN/gmm" -k 2 -o - "$T/k240.tp"

# --- model files that are not one whole record ---
cat "$T/m.tp" >"$T/garbage.tp"
printf 'trailing garbage' >>"$T/garbage.tp"
expect_fail 1 "^predict: $T/garbage.tp: not a tpipe stream" "$BIN/predict" "$T/garbage.tp" -i "$T/k240.tp"
cat "$T/m.tp" "$T/m.tp" >"$T/two.tp"
expect_fail 1 "^predict: $T/two.tp: a model holds one record, this more$" "$BIN/predict" "$T/two.tp" -i "$T/k240.tp"
head -c $(( $(stat -c %s "$T/two.tp") - 10 )) "$T/two.tp" >"$T/cut.tp"
expect_fail 1 "^predict: $T/cut.tp: " "$BIN/predict" "$T/cut.tp" -i "$T/k240.tp"
sed 's/^count 1$/count 2/' "$T/m.tp" >"$T/lie.tp"
expect_fail 1 "^predict: $T/lie.tp: truncated" "$BIN/predict" "$T/lie.tp" -i "$T/k240.tp"
# --- stream headers: exactly what the README's format text allows ---
hdr() { # FILE PAD LINES...: a header of the lines (padded to 64 bytes unless PAD is 0) and one u8 record
    local f=$1 pad=$2 text
    shift 2
    text=$(printf '%s\n' "$@")
    text=${text%$'\n'}
    if [ "$pad" = 1 ]; then
        printf '%s%*s\n\001' "$text" $(( (${#text} + 1 + 63) / 64 * 64 - ${#text} - 1 )) '' >"$f"
    else
        printf '%s\n\001' "$text" >"$f"
    fi
}
hdr "$T/h_ok.tp" 1 'TPIPE 1' 'field x u8' 'meta k  two spaces kept' 'count 1   ' 'end'
"$BIN/tinfo" "$T/h_ok.tp" | grep -q '^meta k *  two spaces kept' || fail "a valid header: $("$BIN/tinfo" "$T/h_ok.tp" 2>&1)"
hdr "$T/h_blank.tp" 1 'TPIPE 1' '' 'field x u8' 'count 1' 'end'
expect_fail 1 "^tinfo: $T/h_blank.tp: header line 2 is empty$" "$BIN/tinfo" "$T/h_blank.tp"
for l in ' field x u8' 'field  x u8' 'field x u8 '; do
    hdr "$T/h_sp.tp" 1 'TPIPE 1' "$l" 'count 1' 'end'
    expect_fail 1 "^tinfo: $T/h_sp.tp: header line 2: tokens are one space apart" "$BIN/tinfo" "$T/h_sp.tp"
done
hdr "$T/h_nokey.tp" 1 'TPIPE 1' 'field x u8' 'meta  v' 'count 1' 'end'
expect_fail 1 "^tinfo: $T/h_nokey.tp: header line 3: tokens are one space apart" "$BIN/tinfo" "$T/h_nokey.tp"
hdr "$T/h_tab.tp" 1 'TPIPE 1' $'field\tx u8' 'count 1' 'end'
expect_fail 1 "^tinfo: $T/h_tab.tp: header line 2: unknown keyword" "$BIN/tinfo" "$T/h_tab.tp"
hdr "$T/h_latin.tp" 1 'TPIPE 1' 'field x u8' $'meta k caf\xe9' 'count 1' 'end'
expect_fail 1 "^tinfo: $T/h_latin.tp: header line 3: a metadata value that is not UTF-8$" "$BIN/tinfo" "$T/h_latin.tp"
hdr "$T/h_unpad.tp" 0 'TPIPE 1' 'field x u8' 'count 1' 'end'
expect_fail 1 "^tinfo: $T/h_unpad.tp: the header's end line ends at byte 31, not at a multiple of 64" "$BIN/tinfo" "$T/h_unpad.tp"

# --- images: decoded as Keras' loader (PIL) decodes them, or refused ---
F=$TESTS/fixtures
for m in rgb gray; do
    "$BIN/img2raw" --$m "$F/images" >"$T/$m.tp" || fail "img2raw --$m of the fixtures"
    cmp <("$BIN/tp2csv" --fields name,x --text name "$T/$m.tp") <("$BIN/tp2csv" --fields name,x --text name "$F/images_$m.tp") ||
        fail "img2raw --$m differs from PIL's pixels (tests/fixtures/make_images.py)"
done
mkdir -p "$T/cut" "$T/bomb" "$T/bombp"
cp "$F/badimages/cut.jpg" "$T/cut/"
cp "$F/badimages/bomb.jpg" "$T/bomb/"
cp "$F/badimages/bomb.png" "$T/bombp/"
expect_fail 1 "^img2raw: $T/cut/cut.jpg: corrupt JPEG \(Premature end of JPEG file\)$" "$BIN/img2raw" "$T/cut"
expect_fail 1 "^img2raw: $T/bomb/bomb.jpg: 65500x65500 pixels, more than the limit of 16777216" "$BIN/img2raw" "$T/bomb"
expect_fail 1 "^img2raw: $T/bombp/bomb.png: 20000x20000 pixels, more than the limit" "$BIN/img2raw" "$T/bombp"
expect_fail 1 "^predict: $F/badimages/bomb.jpg: 65500x65500 pixels" "$BIN/predict" "$T/m.tp" "$F/badimages/bomb.jpg"
expect_fail 1 "^predict: $F/badimages/cut.jpg: corrupt JPEG" "$BIN/predict" "$T/m.tp" "$F/badimages/cut.jpg"
expect_fail 1 "limit of 40 \(--max-pixels" "$BIN/img2raw" --gray --max-pixels 40 "$F/images"
TPIPE_MAX_PIXELS=47 expect_fail 1 "limit of 47 " "$BIN/img2raw" --gray "$F/images"
"$BIN/img2raw" --gray --max-pixels 48 "$F/images" | "$BIN/tinfo" - >/dev/null || fail "48 pixels refused at a limit of 48"
cp "$F/images/h_colour.jpg" "$T/cut/"
"$BIN/img2raw" --skip-bad --size 8x8 --rgb "$T/cut" 2>"$T/err" >"$T/skip.tp" || fail "--skip-bad: $(cat "$T/err")"
[ "$("$BIN/tp2csv" --no-header --fields y "$T/skip.tp" | wc -l)" = 1 ] || fail "--skip-bad kept the cut JPEG"
grep -q "1 of 2 images" "$T/err" || grep -q "skipped" "$T/err" || fail "--skip-bad said: $(cat "$T/err")"
# --- image writers and a device or FIFO as the output: written directly, never replaced ---
# (an image written to PATH.tmp.PID and renamed over /dev/null made it a plain file, as root)
mkfifo "$T/fifo.png"
cat "$T/fifo.png" >"$T/fromfifo.png" &
reader=$!
"$BIN/montage" "$F/images_gray.tp" -o "$T/fifo.png" || fail "montage -o FIFO"
if [ ! -p "$T/fifo.png" ]; then
    kill "$reader"
    fail "montage replaced a FIFO with a plain file"
fi
wait "$reader"
[ "$(head -c 8 "$T/fromfifo.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] || fail "the FIFO got no PNG"
: >"$T/real.png"; ln -s "$T/real.png" "$T/link.png"
"$BIN/montage" "$F/images_gray.tp" -o "$T/link.png" || fail "montage -o LINK"
[ -L "$T/link.png" ] && [ -s "$T/real.png" ] || fail "montage replaced a symbolic link instead of its target"
# --- raw2img: a stream refused after some records leaves no images (staging folder) ---
{ cat "$F/images_gray.tp"; printf 'TPIPX 1\n'; } >"$T/badtail.tp"
expect_fail 1 "^raw2img: $T/badtail.tp: " "$BIN/raw2img" "$T/newdir" "$T/badtail.tp"
[ -e "$T/newdir" ] && fail "raw2img left a folder behind after a refusal"
mkdir "$T/olddir" && echo keep >"$T/olddir/00000.png"
expect_fail 1 "^raw2img: $T/badtail.tp: " "$BIN/raw2img" "$T/olddir" "$T/badtail.tp"
[ "$(ls -A "$T/olddir")" = 00000.png ] && [ "$(cat "$T/olddir/00000.png")" = keep ] ||
    fail "raw2img changed an existing folder on a refused stream: $(ls -A "$T/olddir")"
"$BIN/raw2img" "$T/olddir" "$F/images_gray.tp" || fail "raw2img into an existing folder"
[ "$(ls -A "$T/olddir" | wc -l)" = 10 ] && ! grep -q keep "$T/olddir/00000.png" || fail "raw2img did not fill an existing folder"
ls "$T" | grep -q tmp && fail "raw2img left its staging folder"
# --- files read whole: refused above TPIPE_MAX_BYTES (default 64 MiB), before they are held ---
printf 'flatten\ndense 4 softmax\n' >"$T/small.net"
"$PY" -c 'import sys; open(sys.argv[1], "w").write("# padding\n" * 200 + "flatten\ndense 4 softmax\n")' "$T/pad.net"
TPIPE_MAX_BYTES=1000 expect_fail 1 "^train: $T/pad.net: larger than the limit of 1000 bytes \(TPIPE_MAX_BYTES raises it\)$" \
    "$BIN/train" --net "$T/pad.net" --epochs 1 "$F/images_gray.tp"
TPIPE_MAX_BYTES=1000 expect_fail 1 "model.json: larger than the limit of 1000 bytes \(TPIPE_MAX_BYTES raises it\)$" \
    "$BIN/wimport" --list "$F/vgg_tiny_tfjs"
TPIPE_MAX_BYTES=100000 "$BIN/wimport" --list "$F/vgg_tiny_tfjs" >/dev/null || fail "model.json refused under a limit it is below"
"$BIN/tp2npy" -o "$T/ok.npy" "$F/images_gray.tp" || fail "tp2npy"
"$PY" -c 'import sys; open(sys.argv[1], "w").write("\n" * 5000 + "meta a b\n")' "$T/bigmeta.txt"
TPIPE_MAX_BYTES=4000 expect_fail 1 "^npy2tp: $T/bigmeta.txt: larger than the limit of 4000 bytes" \
    "$BIN/npy2tp" -m "$T/bigmeta.txt" "$T/ok.npy"
"$BIN/npy2tp" -m "$T/bigmeta.txt" "$T/ok.npy" | "$BIN/tinfo" - | grep -q "^meta a" || fail "npy2tp -m under the default limit"
# --- a header near the format's 16 MiB: a stage that adds metadata refuses before its work ---
"$PY" - "$T/bighead.tp" <<'PYEOF'
import struct, sys, random
random.seed(2)
head = "TPIPE 1\nfield x f32 4\nfield y i32\nmeta long " + "x" * ((16 << 20) - 300) + "\ncount 40\nend"
head += " " * (-(len(head) + 1) % 64) + "\n"
assert len(head) <= 16 << 20
body = b"".join(struct.pack("<4fi", *[random.gauss(0, 1) for _ in range(4)], i % 2) for i in range(40))
open(sys.argv[1], "wb").write(head.encode() + body)
PYEOF
"$BIN/tinfo" "$T/bighead.tp" >/dev/null || fail "a header of 16 MiB less 300 bytes refused"
for p in tsne pca gmm; do
    expect_fail 1 "^$p: $T/bighead.tp: its header is [0-9]+ bytes, and the output's metadata would pass the format's 16777216$" \
        "$BIN/$p" -o "$T/bh.out" "$T/bighead.tp"
    [ -e "$T/bh.out" ] && fail "$p wrote an output"
done
"$BIN/split" -q --train "$T/bh1.tp" --test "$T/bh2.tp" "$T/bighead.tp" && "$BIN/tinfo" "$T/bh1.tp" >/dev/null ||
    fail "split of a stream with a 16 MiB header"
# --- .h5 files that break libhdf5 itself: read in a child process, refused with one line ---
if "$BIN/wimport" --list "$F/vgg_tiny_notop.h5" >/dev/null 2>&1; then
    # (under AddressSanitizer its handler takes the SIGSEGV and the child exits instead)
    expect_fail 1 "^wimport: $F/badh5/segv.h5: libhdf5 (crashed reading it \(signal 11, .*\)|failed reading it \(.*exit 1\)): a damaged or hostile .h5$" \
        "$BIN/wimport" --list "$F/badh5/segv.h5"
    expect_fail 1 "^wimport: $F/badh5/loop.h5: libhdf5 ran past its CPU time limit reading it: a damaged or hostile .h5$" \
        "$BIN/wimport" -o "$T/h5.tp" --net "$F/vgg_tiny.net" --input 64x32x3 "$F/badh5/loop.h5"
    [ -e "$T/h5.tp" ] && fail "wimport wrote a model from a refused .h5"
    mkfifo "$T/fifo.h5"
    expect_fail 1 "^wimport: $T/fifo.h5: not a regular file or a folder$" "$BIN/wimport" --list "$T/fifo.h5"
    mkdir "$T/fifojs" && mkfifo "$T/fifojs/model.json"
    expect_fail 1 "^wimport: $T/fifojs/model.json: not a regular file$" "$BIN/wimport" --list "$T/fifojs"
fi
# --- a model whose 'net' metadata claims more parameters than its record holds: refused
# before the network is allocated ---
"$PY" - "$T/m.tp" "$T/claim.tp" <<'PYEOF'
import sys
d = open(sys.argv[1], "rb").read()
i = d.index(b"\nend")
head = d[:i + 1].decode()
j = head.index("meta net flatten\n") + len("meta net flatten\n")
head = head[:j] + "meta net dense 10000000 relu\n" + head[j:]
text = head + "end"
text += " " * (-(len(text) + 1) % 64) + "\n"
open(sys.argv[2], "wb").write(text.encode() + d[d.index(b"\n", i + 4) + 1:])
PYEOF
expect_fail 1 "^predict: $T/claim.tp: its network: net:[0-9]+: the network needs more than the [0-9]+ parameters its model's record holds$" \
    "$BIN/predict" "$T/claim.tp" -i "$T/k255.tp"
# --- .npy rows that the header claims and the data does not back: refused without taking
# their memory (rows4g.npy: shape (3, 4294967296, 1) of u1, 57 bytes of data; found by
# progfuzz), from a file (its size) and from a pipe (buffers grow as bytes arrive) ---
limit_mem() { if grep -q __asan_init "$BIN/npy2tp"; then "$@"; else (ulimit -v 1000000; "$@"); fi; }
limit_mem expect_fail 1 "^npy2tp: $F/rows4g.npy: truncated: the header promises 3 rows, the data ends at row 0$" \
    "$BIN/npy2tp" "$F/rows4g.npy" || fail "npy2tp on rows4g.npy (a file)"
limit_mem expect_fail 1 "^npy2tp: -: truncated: the header promises 3 rows, the data ends at row 0$" \
    sh -c "\"$BIN/npy2tp\" <\"$F/rows4g.npy\"" || fail "npy2tp on rows4g.npy (a pipe)"
exit 0
