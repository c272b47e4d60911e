# Under mpirun (Open MPI or MPICH on this host, --oversubscribe): data-parallel training and
# the clustering programs give what one process gives; a killed rank ends the job with the
# checkpoint valid; and the refusals. Skipped, saying why, where mpirun or libtpipe-mpi.so is
# missing (make deps installs Open MPI).
. "$TESTS/cli/lib.sh"
D=$ROOT/data/mnist
if ! command -v mpirun >/dev/null 2>&1; then echo "no mpirun (make deps installs openmpi-bin)"; exit 77; fi
if [ -z "${TPIPE_MPI_LIB:-}" ] || [ ! -f "$TPIPE_MPI_LIB" ]; then
    echo "no libtpipe-mpi.so (built where mpicc is: make deps installs libopenmpi-dev)"; exit 77
fi
[ -f "$D/train-images-idx3-ubyte" ] || { echo "no MNIST in data/mnist (run 'make data')"; exit 77; }
# root may run the job (CI); Open MPI asks for both variables
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# Under AddressSanitizer, the ranks run without its leak check: the MPI libraries' threads
# and components keep allocations to the end that no suppression can name (their frames
# have no symbols). Every other check stays on, and this test's one-process runs keep it.
[ -n "${ASAN_OPTIONS+set}" ] && mpi_asan="$ASAN_OPTIONS:detect_leaks=0"
mpi() {
    local x=() v
    for v in TPIPE_MPI_LIB UBSAN_OPTIONS; do [ -n "${!v+set}" ] && x+=(-x "$v"); done
    [ -n "${mpi_asan:-}" ] && x+=(-x "ASAN_OPTIONS=$mpi_asan")
    mpirun -np "$1" "${x[@]}" "${@:2}"
}
# mpirun starts: a trivial job of two ranks, each saying its rank
mpi 2 sh -c 'echo "rank $OMPI_COMM_WORLD_RANK"' >"$T/r" 2>&1 || { cat "$T/r"; echo "mpirun cannot start 2 processes here"; exit 77; }

"$BIN/idx2raw" -n 5000 "$D/train-images-idx3-ubyte" "$D/train-labels-idx1-ubyte" >"$T/tr.tp"
"$BIN/idx2raw" -n 1000 "$D/t10k-images-idx3-ubyte" "$D/t10k-labels-idx1-ubyte" >"$T/va.tp"

# 1. LeNet-5, 2 epochs on 5000 images: 2 ranks of 1 thread = one process of 2 threads, bytes
L="--net $ROOT/pipelines/nets/lenet5.net -e 2 --val $T/va.tp"
"$BIN/train" $L -t 2 -o "$T/one.tp" "$T/tr.tp" 2>"$T/l1" || fail "train: $(cat "$T/l1")"
mpi 2 "$BIN/train" $L -t 1 -o "$T/two.tp" "$T/tr.tp" 2>"$T/l2" || fail "mpirun train: $(cat "$T/l2")"
cmp "$T/one.tp" "$T/two.tp" || fail "LeNet-5: 2 ranks x 1 thread differ from 1 process x 2 threads"
# the log is rank 0's alone, and says the same as one process
[ "$(grep -c '^Epoch' "$T/l2")" = 2 ] || fail "epoch lines of 2 ranks: $(cat "$T/l2")"
ep() { grep '^Epoch' "$1" | sed 's/ - [0-9]*s - / - /'; } # progress lines come and go with the speed
diff <(ep "$T/l1") <(ep "$T/l2") || fail "the logs differ"
grep -Ev '^(Epoch|train: 2 ranks|train: (done )?[0-9]+/[0-9]+ )' "$T/l2" && fail "rank 0 said more: $(cat "$T/l2")"
# and closes with what the job's operations cost: 4 bytes per parameter of LeNet-5 per step
grep -Eq '^train: 2 ranks \(.*\): 314 steps, each summing 0.246824 MB in 5 sums; per step [0-9.]+ ms in all' "$T/l2" ||
    fail "the job's cost line: $(tail -1 "$T/l2")"
# the model through mpirun's stdout is the same stream
mpi 2 "$BIN/train" $L -t 1 "$T/tr.tp" 2>/dev/null >"$T/two-stdout.tp" || fail "mpirun train to stdout"
cmp "$T/one.tp" "$T/two-stdout.tp" || fail "the model written to stdout under mpirun differs"

# 2. batch norm, dropout and augmentation; a checkpoint, a history and the best model
# restored: 2 ranks x 2 threads = 4 threads, and 3 ranks x 1 = 3 (the bytes depend on neither)
# (the second convolution, 16 channels in, goes by Winograd; batch norm's sums cross the ranks)
printf 'conv 16 3x3 relu pad=same\nbatchnorm\nconv 16 3x3 relu pad=same\nmaxpool 2\nflatten\ndense 32 relu\nbatchnorm\ndropout 0.3\ndense 10 softmax\n' >"$T/bn.net"
B="--net $T/bn.net -e 3 -b 50 --val $T/va.tp --rotation 10 --zoom-range 0.9,1.1 --restore-best --optimizer sgd --momentum 0.9 --lr 0.05"
"$BIN/train" $B -t 4 -c "$T/c4.tp" --history "$T/h4.tp" -o "$T/b4.tp" "$T/tr.tp" 2>/dev/null || fail "train (bn)"
mpi 2 "$BIN/train" $B -t 2 -c "$T/c22.tp" --history "$T/h22.tp" -o "$T/b22.tp" "$T/tr.tp" 2>"$T/l" || fail "mpirun train (bn): $(cat "$T/l")"
cmp "$T/b4.tp" "$T/b22.tp" || fail "batch norm net: 2 ranks x 2 threads differ from 4 threads"
cmp "$T/c4.tp" "$T/c22.tp" || fail "batch norm net: the checkpoints differ"
h() { "$BIN/tp2csv" --fields epoch,loss,accuracy,val_loss,val_accuracy "$1"; }
cmp <(h "$T/h4.tp") <(h "$T/h22.tp") || fail "the histories differ"
"$BIN/train" $B -t 3 -o "$T/b3.tp" "$T/tr.tp" 2>/dev/null || fail "train (bn, 3 threads)"
mpi 3 "$BIN/train" $B -t 1 -o "$T/b31.tp" "$T/tr.tp" 2>/dev/null || fail "mpirun -np 3 train"
cmp "$T/b3.tp" "$T/b31.tp" || fail "batch norm net: 3 ranks differ from 3 threads"

# 3. a rank killed mid-epoch: every rank stops, each surviving one says so in a line, and
# the checkpoint holds a model that predict reads
mpi 2 "$BIN/train" --net "$ROOT/pipelines/nets/lenet5.net" -e 200 -t 1 --monitor loss -c "$T/ck.tp" \
    -o "$T/never.tp" "$T/tr.tp" 2>"$T/kl" &
job=$!
for _ in $(seq 300); do [ -s "$T/ck.tp" ] && break; sleep 0.1; done
[ -s "$T/ck.tp" ] || fail "no checkpoint after 30 s: $(cat "$T/kl")"
victim=""
for p in $(pgrep -x train); do
    { tr '\0' '\n' </proc/"$p"/environ; } 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" && victim=$p
done
[ -n "$victim" ] || fail "rank 1 not found"
sleep 0.3 # mid-epoch: an epoch of this job takes about a second
kill -9 "$victim"
for _ in $(seq 200); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
kill -0 "$job" 2>/dev/null && { kill -9 "$job"; fail "the job went on for 20 s after rank 1 was killed"; }
wait "$job" && fail "the job exited 0 after a rank was killed"
for p in $(pgrep -x train); do
    { tr '\0' '\n' </proc/"$p"/environ; } 2>/dev/null | grep -q "^TPIPE_MPI_LIB=$TPIPE_MPI_LIB" && fail "rank process $p still runs"
done
grep -q '^train: rank 0 of 2: stopped by signal 15 ' "$T/kl" || fail "rank 0 did not say why it stopped: $(cat "$T/kl")"
[ -e "$T/never.tp" ] && fail "a model was written by a job that was killed"
ls "$T" | grep -q '\.tmp' && fail "temporary files left: $(ls "$T")"
"$BIN/predict" "$T/ck.tp" <"$T/va.tp" >"$T/p.tp" || fail "the checkpoint left by the killed job is not a model"

# 4. pca: the column sums and the scatter split by blocks of rows and added in rank order.
# Bytes (u8) make exact sums, so the same bytes; floats (MNIST resized to 20x20, not
# integers: 6000 rows are two blocks) agree within f32's rounding of the scores
"$BIN/pca" -k 20 "$T/tr.tp" >"$T/pca1.tp" 2>/dev/null || fail "pca"
for n in 2 3; do
    mpi $n "$BIN/pca" -k 20 "$T/tr.tp" >"$T/pca$n.tp" 2>"$T/e" || fail "mpirun -np $n pca: $(cat "$T/e")"
    cmp "$T/pca1.tp" "$T/pca$n.tp" || fail "pca on $n ranks differs from one process (u8)"
done
"$BIN/idx2raw" -n 6000 "$D/train-images-idx3-ubyte" "$D/train-labels-idx1-ubyte" | "$BIN/resize" --float 20x20 >"$T/f20.tp"
"$BIN/pca" -k 8 --save "$T/pm1.tp" "$T/f20.tp" >"$T/pf1.tp" 2>/dev/null || fail "pca (f32)"
mpi 2 "$BIN/pca" -k 8 --save "$T/pm2.tp" "$T/f20.tp" >"$T/pf2.tp" 2>/dev/null || fail "mpirun pca (f32)"
"$BIN/tp2csv" --no-header --fields x "$T/pf1.tp" >"$T/s1"
"$BIN/tp2csv" --no-header --fields x "$T/pf2.tp" >"$T/s2"
same_numbers "$T/s1" "$T/s2" 1e-4
cmp <("$BIN/tp2csv" --fields y "$T/pf1.tp") <("$BIN/tp2csv" --fields y "$T/pf2.tp") || fail "pca (f32): other fields moved"
[ -s "$T/pm2.tp" ] || fail "pca --save under mpirun wrote no model"

# 5. gmm: the E-step and the k-means start split by blocks of samples (every block's sums,
# responsibilities and log p gathered), the M-step by components, so every covariance type
# fits what one process fits, to the byte
for cov in full diag tied spherical; do
    "$BIN/gmm" -k 10 --covariance $cov -s 3 -t 2 --save-model "$T/gm1.tp" "$T/pca1.tp" >"$T/g1.tp" 2>"$T/gl1" || fail "gmm $cov"
    mpi 2 "$BIN/gmm" -k 10 --covariance $cov -s 3 -t 1 --save-model "$T/gm2.tp" "$T/pca1.tp" >"$T/g2.tp" 2>"$T/gl2" ||
        fail "mpirun gmm $cov: $(cat "$T/gl2")"
    cmp "$T/g1.tp" "$T/g2.tp" || fail "gmm $cov on 2 ranks differs from one process"
    cmp "$T/gm1.tp" "$T/gm2.tp" || fail "gmm $cov: the saved models differ"
    diff <(grep -Ev '^gmm: (done )?[0-9]+/[0-9]+ runs' "$T/gl1") <(grep -Ev '^gmm: (done )?[0-9]+/[0-9]+ runs' "$T/gl2") ||
        fail "gmm $cov: the summaries differ"
done
mpi 3 "$BIN/gmm" -k 10 --init random -s 5 -t 1 "$T/pca1.tp" >"$T/g3.tp" 2>/dev/null || fail "mpirun -np 3 gmm"
"$BIN/gmm" -k 10 --init random -s 5 -t 3 "$T/pca1.tp" 2>/dev/null | cmp - "$T/g3.tp" || fail "gmm --init random on 3 ranks"
mpi 3 "$BIN/gmm" -k 10 --init k-means++ -s 5 -t 1 "$T/pca1.tp" >"$T/g3.tp" 2>/dev/null || fail "mpirun -np 3 gmm k-means++"
"$BIN/gmm" -k 10 --init k-means++ -s 5 -t 3 "$T/pca1.tp" 2>/dev/null | cmp - "$T/g3.tp" || fail "gmm --init k-means++ on 3 ranks"

# 6. predict on a file: chunks cut into whole batches, one block per rank, and rank 0 writes
# them in order: the same bytes (probabilities, --features, 3 ranks with batches of 7)
"$BIN/predict" -t 2 "$T/one.tp" -i "$T/va.tp" >"$T/pr1.tp" || fail "predict"
mpi 2 "$BIN/predict" -t 1 "$T/one.tp" -i "$T/va.tp" -o "$T/pr2.tp" 2>"$T/e" || fail "mpirun predict: $(cat "$T/e")"
cmp "$T/pr1.tp" "$T/pr2.tp" || fail "predict on 2 ranks differs from one process"
"$BIN/predict" -t 3 -b 7 "$T/one.tp" -i "$T/tr.tp" -o "$T/pr3a.tp" || fail "predict -b 7"
mpi 3 "$BIN/predict" -t 1 -b 7 "$T/one.tp" -i "$T/tr.tp" -o "$T/pr3.tp" 2>/dev/null || fail "mpirun -np 3 predict"
cmp "$T/pr3a.tp" "$T/pr3.tp" || fail "predict -b 7 on 3 ranks differs from 3 threads"
"$BIN/predict" -t 2 --features 4 "$T/one.tp" -i "$T/va.tp" -o "$T/pf1.tp" || fail "predict --features"
mpi 2 "$BIN/predict" -t 1 --features 4 "$T/one.tp" -i "$T/va.tp" -o "$T/pf2.tp" 2>/dev/null || fail "mpirun predict --features"
cmp "$T/pf1.tp" "$T/pf2.tp" || fail "predict --features on 2 ranks differs"

# 7. tsne: the neighbours, the perplexity rows, the gradient (attraction; repulsion exact,
# Barnes-Hut, or the FFT's per-point work) and the exact KL split by chunks of points, shared
# before every step: the same embedding and exact KL (its metadata), to the byte
"$BIN/pca" -k 30 "$T/tr.tp" 2>/dev/null | "$BIN/split" -q --take 2000 --train "$T/p2k.tp" || fail "pca | split"
"$BIN/split" -q --take 600 --train "$T/p600.tp" "$T/p2k.tp" || fail "split -n 600"
for args in "-d 2:p2k" "-d 3:p2k" "-d 2:p600" "-d 1:p2k" "-d 2 --method fft:p600"; do
    a=${args%%:*} f=$T/${args#*:}.tp
    "$BIN/tsne" $a -t 2 "$f" >"$T/t1.tp" 2>"$T/tl1" || fail "tsne $a"
    mpi 2 "$BIN/tsne" $a -t 1 "$f" >"$T/t2.tp" 2>"$T/tl2" || fail "mpirun tsne $a: $(cat "$T/tl2")"
    cmp "$T/t1.tp" "$T/t2.tp" || fail "tsne $a on $f: 2 ranks differ from one process"
    # the summary lines, less their times (progress lines come and go with the speed)
    [ "$(grep ' points, ' "$T/tl1" | sed 's/(affinities.*//')" = "$(grep ' points, ' "$T/tl2" | sed 's/(affinities.*//')" ] ||
        fail "tsne $a: the summaries differ: $(cat "$T/tl1" "$T/tl2")"
    case $args in "-d 2:p600") grep -q "exact gradient" "$T/tl2" || fail "600 points did not take the exact gradient: $(cat "$T/tl2")" ;; esac
done

# a sharded stage on one mpirun line: each rank its share, cat joins them
mpi 2 sh -c 'k=$((OMPI_COMM_WORLD_RANK + 1)); "$0" -q --shard $k/2 "$1" | "$2" 14x14 > "$3.$k"' \
    "$BIN/split" "$T/va.tp" "$BIN/resize" "$T/part" || fail "mpirun of a sharded stage"
cmp <(cat "$T/part.1" "$T/part.2" | "$BIN/tp2csv") <("$BIN/resize" 14x14 "$T/va.tp" | "$BIN/tp2csv") ||
    fail "the shares of an mpirun stage, joined, differ from the whole"

# 8. refusals, each in one line (rank 0's, or every rank's where each finds it)
mpi 2 "$BIN/train" $L -t 1 <"$T/tr.tp" >"$T/o" 2>"$T/e" && fail "stdin under mpirun accepted"
grep -q "under MPI, name the training data (and --val) as files" "$T/e" || fail "stdin: $(cat "$T/e")"
mpi 2 "$BIN/predict" "$T/one.tp" <"$T/va.tp" >"$T/o" 2>"$T/e" && fail "predict: stdin under mpirun accepted"
grep -q "under MPI, name the input as a file" "$T/e" || fail "predict stdin: $(cat "$T/e")"
mpi 2 "$BIN/tsne" <"$T/p600.tp" >"$T/o" 2>"$T/e" && fail "tsne: stdin under mpirun accepted"
grep -q "under MPI, name the input as a file" "$T/e" || fail "tsne stdin: $(cat "$T/e")"
mpi 2 "$BIN/gmm" -k 3 <"$T/pca1.tp" >"$T/o" 2>"$T/e" && fail "gmm: stdin under mpirun accepted"
grep -q "under MPI, name the input as a file" "$T/e" || fail "gmm stdin: $(cat "$T/e")"
mpi 2 "$BIN/train" $L -b 1 "$T/tr.tp" >"$T/o" 2>"$T/e" && fail "batch 1 on 2 ranks accepted"
grep -q "a batch of 1 cannot be shared by 2 ranks" "$T/e" || fail "batch: $(cat "$T/e")"
# a launcher's variables but no library: refused, not run twice over
expect_fail 1 "^train: started as one of 2 processes \(OMPI_COMM_WORLD_SIZE is set\), but MPI cannot be used: .*TPIPE_MPI=0" \
    env OMPI_COMM_WORLD_SIZE=2 TPIPE_MPI_LIB="$T/none.so" "$BIN/train" $L "$T/tr.tp"
# TPIPE_MPI=0: every process is a job of its own, as without a launcher
env OMPI_COMM_WORLD_SIZE=2 TPIPE_MPI=0 TPIPE_MPI_LIB="$T/none.so" "$BIN/train" $L -t 2 "$T/tr.tp" 2>/dev/null |
    cmp - "$T/one.tp" || fail "TPIPE_MPI=0"
echo "mpi: ok"
