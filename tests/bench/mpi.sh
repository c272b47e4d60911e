#!/usr/bin/env bash
# make bench-mpi: data-parallel training under mpirun beside one process, on the same cores
# of this machine, and the figures of the README's cost model ("More than one machine").
#
# 1. Throughput: `mpirun -np R train -t 1` against `train -t R` (R = the cores), for LeNet-5
#    on 28x28 MNIST and the JPEG notebook's CNN on 128x128x3; images/s from the epochs'
#    seconds (the history), the best of BENCH_REPEAT runs each; the ratio mpirun / one
#    process; the bytes summed per step and the time the ranks spent in the job's
#    operations (train's closing line under mpirun).
# 2. The cost model: for every net of pipelines/nets/, the bytes a step sums (4 per trainable
#    parameter), the time a ring allreduce of them takes at 10 and 100 Gbit/s for 2 to 64
#    ranks (2 (N-1)/N x bytes / bandwidth, plus 2 (N-1) x 5 us of latency), and the compute
#    of one step of batch 32 measured here (train -t 2, the best of 2 epochs of 2 steps).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/bin
w=$root/build/bench/mpi
mkdir -p "$w"
D=$root/data/mnist
[ -f "$D/train-images-idx3-ubyte" ] || { echo "bench-mpi: no MNIST in data/mnist (run 'make data')" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "bench-mpi: no mpirun (make deps installs openmpi-bin)" >&2; exit 1; }
export TPIPE_MPI_LIB=${TPIPE_MPI_LIB:-$root/build/libtpipe-mpi.so}
[ -f "$TPIPE_MPI_LIB" ] || { echo "bench-mpi: no $TPIPE_MPI_LIB (built where mpicc is)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 TP_PROGRESS=0
R=$(nproc)
REPEAT=${BENCH_REPEAT:-3}
nets=$root/pipelines/nets

"$bin/idx2raw" -n 10000 "$D/train-images-idx3-ubyte" "$D/train-labels-idx1-ubyte" >"$w/m28.tp"
"$bin/idx2raw" -n 640 "$D/train-images-idx3-ubyte" "$D/train-labels-idx1-ubyte" | "$bin/resize" --rgb 128x128 >"$w/m128.tp"

# images/s of a run from its history: records x epochs / the epochs' seconds
rate() { "$bin/tp2csv" --no-header --fields seconds "$1" | awk -v n="$2" '{s += $1; e++} END {printf "%.1f", n * e / s}'; }
best_of() { printf '%s\n' "$@" | sort -g | tail -1; }

echo "machine: $R cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(mpirun --version | head -1)"
echo
printf '%-34s %12s %12s %8s %12s %18s\n' "job ($R cores)" "1 x $R thr" "$R ranks x 1" "ratio" "MB per step" "ms/step in comm"
job() { # NAME NET DATA RECORDS EPOCHS
    local name=$1 net=$2 data=$3 n=$4 e=$5 one=() many=() line=""
    for _ in $(seq "$REPEAT"); do
        "$bin/train" --net "$net" -e "$e" -t "$R" --history "$w/h1.tp" -o "$w/m1.tp" "$data" 2>/dev/null
        one+=("$(rate "$w/h1.tp" "$n")")
        mpirun -np "$R" -x TPIPE_MPI_LIB -x TP_PROGRESS "$bin/train" --net "$net" -e "$e" -t 1 --history "$w/h2.tp" \
            -o "$w/m2.tp" "$data" 2>"$w/log"
        many+=("$(rate "$w/h2.tp" "$n")")
        cmp -s "$w/m1.tp" "$w/m2.tp" || { echo "bench-mpi: $name: the models differ" >&2; exit 1; }
        line=$(grep '^train: .* ranks' "$w/log")
    done
    local a b mb comm
    a=$(best_of "${one[@]}")
    b=$(best_of "${many[@]}")
    mb=$(sed -n 's/.* steps, each summing \([0-9.e+-]*\) MB in .*/\1/p' <<<"$line")
    comm=$(sed -n 's/.* of it \([0-9.]*\) to \([0-9.]*\) ms in the job.*/\1-\2/p' <<<"$line")
    printf '%-34s %12s %12s %8s %12s %18s\n' "$name" "$a img/s" "$b img/s" "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b / a}')" "$mb" "$comm"
}
job "LeNet-5 train, 28x28, 2 epochs" "$nets/lenet5.net" "$w/m28.tp" 10000 2
job "JPEG notebook CNN train, 128x128x3" "$nets/notebook-cnn.net" "$w/m128.tp" 640 1
echo "(the same model bytes from both, checked; comm: the least and the most of the ranks' time in"
echo " the sums and gathers per step, which includes waiting for the slowest rank)"

# the cost model
echo
echo "cost model: per step of batch 32, the bytes summed (4 per trainable parameter) and a ring"
echo "allreduce's time, 2 (N-1)/N x bytes / bandwidth + 2 (N-1) x 5 us, against the compute measured here"
mk() { # SHAPE: records at HxWxC from MNIST, or 7x7x512 features
    case $1 in
    28x28x1) "$bin/idx2raw" -n 64 "$D/train-images-idx3-ubyte" "$D/train-labels-idx1-ubyte" ;;
    7x7x512) /usr/bin/python3 -c "
import numpy as np, sys
r = np.random.default_rng(1); x = r.random((64, 7, 7, 512), np.float32); y = r.integers(0, 10, 64).astype(np.int32)
a = np.empty(64, [('x', '<f4', (7, 7, 512)), ('y', '<i4')]); a['x'] = x; a['y'] = y; np.save(sys.argv[1], a)" "$w/f.npy" &&
        "$bin/npy2tp" "$w/f.npy" ;;
    *) "$bin/idx2raw" -n 64 "$D/train-images-idx3-ubyte" "$D/train-labels-idx1-ubyte" | "$bin/resize" --rgb "${1%x3}" ;;
    esac
}
printf '%-14s %11s %10s' net "params" "MB/step"
for g in 10 100; do for n in 2 8 64; do printf ' %9s' "${g}G,N=$n"; done; done
printf ' %12s %12s %12s\n' "compute ms" "strong N" "weak@64"
for spec in lenet5:28x28x1 mnist-small:28x28x1 mnist-best:28x28x1 notebook-cnn:128x128x3 vgg-small:32x32x3 \
    vgg16-head:7x7x512 vgg16:224x224x3; do
    net=${spec%%:*} shape=${spec#*:}
    [ -f "$w/in-$shape.tp" ] || mk "$shape" >"$w/in-$shape.tp"
    "$bin/train" --net "$nets/$net.net" --summary -e 2 -b 32 -t 2 --history "$w/hc.tp" -o /dev/null "$w/in-$shape.tp" 2>"$w/log"
    p=$(sed -n 's/^Trainable params: //p' "$w/log")
    ms=$("$bin/tp2csv" --no-header --fields seconds "$w/hc.tp" | sort -g | head -1 | awk '{printf "%.1f", $1 * 1000 / 2}')
    printf '%-14s %11s %10.3f' "$net" "$p" "$(awk -v p="$p" 'BEGIN {print p * 4 / 1e6}')"
    for g in 10 100; do for n in 2 8 64; do
        awk -v p="$p" -v g="$g" -v n="$n" 'BEGIN {printf " %9.2f", (2 * (n - 1) / n * p * 4 * 8 / (g * 1e9) + 2 * (n - 1) * 5e-6) * 1e3}'
    done; done
    printf ' %12s' "$ms"
    awk -v p="$p" -v c="$ms" 'function t(g, n) { return (2 * (n - 1) / n * p * 4 * 8 / (g * 1e9) + 2 * (n - 1) * 5e-6) * 1e3 }
        BEGIN { for (i = 1; i <= 2; i++) { g = i == 1 ? 10 : 100; s[i] = 1
                    for (n = 2; n <= 32; n *= 2) if (t(g, n) <= c / n) s[i] = n
                    e[i] = c / (c + t(g, 64)) * 100 }
                printf " %12s %12s\n", s[1] "/" s[2], sprintf("%.0f/%.0f%%", e[1], e[2]) }'
done
echo "(10G/100G: ms per allreduce at 10 or 100 Gbit/s for N ranks. strong N: with the batch of 32"
echo " shared by the ranks, the most ranks (a power of 2, at most 32) whose allreduce still takes no"
echo " longer than their share of the compute, at 10/100 Gbit/s: beyond it a step spends more time"
echo " moving gradients than computing. weak@64: with 32 images per rank, the fraction of a step"
echo " spent computing at 64 ranks. Both from this machine's compute per step: on faster nodes"
echo " the compute shrinks and scaling stops sooner.)"
