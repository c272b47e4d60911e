#!/usr/bin/env bash
# tests/gpu/device-check.sh — the one prepared check of the GPU path, for one call on a lent
# GPU machine where nothing can be installed (make device-check). In about 8 minutes on an
# H100/H200 with 16 cores it:
#   1. unpacks the Debian libraries the build needs from .devkit/debs (make devkit fetches
#      them) with dpkg -x into a private prefix, never into /, and MNIST from .devkit/mnist;
#   2. builds everything, the CUDA code for this GPU's architecture only, linked against the
#      prefix (its library folders in the programs' run path);
#   3. runs every GPU unit and shell test, where a skip is a failure (TPIPE_REQUIRE_GPU=1,
#      TEST_NO_SKIP=1);
#   4. runs compute-sanitizer's memcheck and racecheck on the GPU unit tests, where the tool
#      is there and works;
#   5. runs a short make bench-gpu (BENCH_SHORT=1);
# then prints one table, step by step, and exits 1 if any step failed. Without a GPU it
# fails at step 3, loudly. Logs: DEVICE_CHECK_LOGS (default $OUT/device-check where OUT is
# set, else out/device-check) gets table.txt, bench-gpu.txt and logs.tar.gz (every step's
# log), no more files than a lent machine returns. Knobs: DEVICE_CHECK_PREFIX (default
# /tmp/tpipe-devroot), DEVICE_CHECK_SKIP_BENCH=1, DEVICE_CHECK_SANITIZE_S (seconds per
# sanitizer run, default 45).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
logs=${DEVICE_CHECK_LOGS:-${OUT:+$OUT/device-check}}
logs=${logs:-$root/out/device-check}
prefix=${DEVICE_CHECK_PREFIX:-/tmp/tpipe-devroot}
kit=$root/.devkit
raw=$(mktemp -d)
trap 'rm -rf "$raw"' EXIT
mkdir -p "$logs"
cores=$(nproc 2>/dev/null || echo 4)
rows=() failed=0 start=$SECONDS

# row STEP RESULT SECONDS NOTE
row() { rows+=("$(printf '%-34s %-8s %6s  %s' "$1" "$2" "$3" "$4")"); [ "$2" = FAIL ] && failed=$((failed + 1)); return 0; }
# step NAME LIMIT CMD...: runs CMD within LIMIT seconds, its output in the logs; 0 when it passed
step() {
    local name=$1 limit=$2 t0=$SECONDS rc=0
    shift 2
    echo "device-check: $name" >&2
    timeout "$limit" bash -c '"$@"' step "$@" >"$raw/$name.log" 2>&1 || rc=$? # the functions below are exported
    local note
    note=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$raw/$name.log" | tail -1)
    [ -n "$note" ] || note=$(tail -n 1 "$raw/$name.log" | cut -c1-110)
    [ $rc = 124 ] && note="timed out after $limit s; $note"
    if [ $rc = 0 ]; then row "$name" PASS $((SECONDS - t0)) "$note"; else row "$name" FAIL $((SECONDS - t0)) "exit $rc: $note"; fi
    return $rc
}
finish() {
    {
        echo "device check of $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?'), $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 || true)"
        echo "nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo none); $cores CPU cores"
        echo
        printf '%-34s %-8s %6s  %s\n' step result s note
        printf '%s\n' "${rows[@]}"
        echo
        if [ $failed = 0 ]; then echo "device-check: every step passed in $((SECONDS - start)) s"
        else echo "device-check: FAILED: $failed step(s) failed ($((SECONDS - start)) s); logs in $logs/logs.tar.gz"; fi
    } | tee "$logs/table.txt"
    tar -czf "$logs/logs.tar.gz" -C "$raw" . 2>/dev/null
    [ $failed = 0 ]
    exit $?
}

# 1. the libraries into the private prefix, and the data
unpack() {
    compgen -G "$kit/debs/*.deb" >/dev/null || { echo "no .devkit/debs/*.deb: run 'make devkit' where apt-get works"; return 1; }
    mkdir -p "$prefix"
    local f
    for f in "$kit"/debs/*.deb; do dpkg -x "$f" "$prefix" || return 1; done
    local L=$prefix/usr/lib/x86_64-linux-gnu
    # the links update-alternatives would make: OpenBLAS's pthread flavour as the plain names
    ln -sf openblas-pthread/libopenblas.so "$L/libopenblas.so"
    ln -sf openblas-pthread/libopenblas.so.0 "$L/libopenblas.so.0"
    ls "$prefix"/usr/include/jpeglib.h "$prefix"/usr/include/png.h "$prefix"/usr/include/fftw3.h \
        "$prefix"/usr/include/zlib.h "$prefix"/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h "$L/libopenblas.so" ||
        return 1
    mkdir -p data/mnist
    for f in "$kit"/mnist/*.gz; do
        [ -e "$f" ] || { echo "no .devkit/mnist: run 'make devkit' after 'make data'"; return 1; }
        local b
        b=$(basename "$f" .gz)
        [ -s "data/mnist/$b" ] || gzip -dc "$f" >"data/mnist/$b" || return 1
    done
    echo "unpacked $(ls "$kit"/debs/*.deb | wc -l) packages into $prefix, MNIST into data/mnist"
}
export -f unpack
export prefix kit cores
step unpack 120 unpack || finish

L=$prefix/usr/lib/x86_64-linux-gnu
export CPATH=$prefix/usr/include:$prefix/usr/include/x86_64-linux-gnu:$prefix/usr/include/x86_64-linux-gnu/openblas-pthread
export LIBRARY_PATH=$L:$L/openblas-pthread
cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
arch=${cap:+-gencode arch=compute_$cap,code=sm_$cap}
# 2. the build, this GPU's architecture only; DT_RPATH so that OpenBLAS finds libgfortran too
build() {
    make -j"$cores" --no-print-directory HDF5=0 ${arch:+"CUDA_ARCH=$arch"} \
        LDFLAGS="-Wl,--disable-new-dtags,-rpath,$L:$L/openblas-pthread" all build-tests || return 1
    [ -f build/libtpipe-cuda.so ] || { echo "no build/libtpipe-cuda.so: nvcc was not found"; return 1; }
    ldd bin/train | grep -q "$prefix" || { echo "bin/train does not load the prefix's libraries: $(ldd bin/train)"; return 1; }
    echo "built for ${cap:+sm_$cap}${cap:-the default architectures (no nvidia-smi)}"
}
export -f build
export L arch cap
step build 400 build || finish
export BIN=$root/bin UNITS=$root/build/tests TPIPE_CUDA_LIB=$root/build/libtpipe-cuda.so TP_PROGRESS=0

# 3. every GPU test, a skip counted as a failure
step gpu-tests 300 env TPIPE_REQUIRE_GPU=1 TEST_NO_SKIP=1 TESTS_MATCH='*gpu*' tests/run.sh
gpu_ok=$?

# 4. compute-sanitizer on the GPU unit tests
sanitize() { # TOOL TEST
    compute-sanitizer --tool "$1" --error-exitcode 3 --print-limit 20 env TPIPE_REQUIRE_GPU=1 "$UNITS/$2"
}
export -f sanitize
command -v compute-sanitizer >/dev/null || PATH=$PATH:/usr/local/cuda/bin
if ! command -v compute-sanitizer >/dev/null; then
    row sanitizers - 0 "compute-sanitizer is not on this machine"
elif [ $gpu_ok != 0 ]; then
    row sanitizers - 0 "not run: the GPU tests failed"
else
    for t in test_gpu_nn test_gpu_tsne test_gpu_gmm; do
        for tool in memcheck racecheck; do
            step "$tool-${t#test_gpu_}" "${DEVICE_CHECK_SANITIZE_S:-45}" sanitize $tool $t
        done
    done
fi

# 5. a short bench-gpu
if [ "${DEVICE_CHECK_SKIP_BENCH:-0}" = 1 ]; then
    row bench-gpu - 0 "skipped (DEVICE_CHECK_SKIP_BENCH=1)"
elif [ $gpu_ok != 0 ]; then
    row bench-gpu - 0 "not run: the GPU tests failed"
else
    step bench-gpu 240 env BENCH_SHORT=1 ${arch:+"CUDA_ARCH=$arch"} tests/bench/gpu.sh
    [ -f out/bench-gpu/table.txt ] && cp out/bench-gpu/table.txt "$logs/bench-gpu.txt"
fi
finish
