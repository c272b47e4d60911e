#!/bin/sh
# tests/fuzz/run.sh — builds the libFuzzer targets and runs each for FUZZ_SECONDS (make fuzz).
#
#   FUZZ_SECONDS=60 tests/fuzz/run.sh          every target, one after the other
#   FUZZ_SECONDS=300 tests/fuzz/run.sh idx     only fuzz_idx
#
# Targets (tests/fuzz/fuzz_NAME.c): stream, idx, json (the stream, IDX and JSON readers),
# image (JPEG/PNG loading), npy (.npy headers), net (network files, built), model (model
# streams of every kind), h5 (Keras .h5 weights through libhdf5), tfjs (TensorFlow.js
# weights: model.json and a shard).
#
# Targets are built into build-fuzz/ with clang (-fsanitize=fuzzer,address,undefined),
# compiling lib/*.c together with each target. h5 is built with -DTP_HDF5 and libhdf5's
# flags (pkg-config hdf5, else /usr/include/hdf5/serial and -lhdf5_serial); where libhdf5
# is absent it is skipped with a message; leaks inside libhdf5 are suppressed
# (tests/fuzz/lsan_h5.supp says why). Each run starts from a scratch copy of
# tests/fuzz/corpus/NAME in build-fuzz/corpus-NAME (new inputs land there, so the
# committed seeds stay small); crash/leak/timeout artifacts go to build-fuzz/.
# Exit status: 0 clean, 1 a target found a crash (its artifact is printed), 77 no clang
# or no libFuzzer here (skipped), 2 a build failure.
# h5: the reader runs libhdf5 in a forked child, which is a copy of the fuzzer; when libhdf5
# crashes or runs out of memory there, the child's copy of libFuzzer writes a crash- or oom-
# artifact before it dies. Those are libhdf5's own failures, contained: the target's
# verdict is its exit status (the parent saw one line of error, not a crash).
set -u

cd "$(dirname "$0")/../.." || exit 2
SECONDS_EACH=${FUZZ_SECONDS:-60}
CLANG=${FUZZ_CC:-}
if [ -z "$CLANG" ]; then
    for c in clang clang-18 clang-17 clang-16 clang-15 clang-14; do
        if command -v "$c" >/dev/null 2>&1; then CLANG=$c; break; fi
    done
fi
if [ -z "$CLANG" ]; then
    echo "fuzz: clang not found; skipping (install clang and libclang-rt-dev)" >&2
    exit 77
fi

OUT=build-fuzz
mkdir -p "$OUT" || exit 2

# libFuzzer present? (Debian ships it in libclang-rt-NN-dev.)
probe=$OUT/probe.c
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' >"$probe"
if ! "$CLANG" -fsanitize=fuzzer,address,undefined "$probe" -o "$OUT/probe" >"$OUT/probe.log" 2>&1; then
    echo "fuzz: $CLANG cannot link libFuzzer (-fsanitize=fuzzer); skipping" >&2
    echo "fuzz: install libclang-rt-dev for your clang; the compiler said:" >&2
    sed 's/^/  /' "$OUT/probe.log" | head -5 >&2
    exit 77
fi
rm -f "$probe" "$OUT/probe" "$OUT/probe.log"

CFLAGS_FUZZ="-Wall -Wextra -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Ilib -D_FILE_OFFSET_BITS=64"
LIBS=${FUZZ_LIBS:--lopenblas -lfftw3 -lpng -ljpeg -lz -lm -lpthread -ldl}

# libhdf5, for h5 only: as the Makefile finds it.
HDF5_CFLAGS=$(pkg-config --cflags hdf5 2>/dev/null)
HDF5_LIBS=$(pkg-config --libs hdf5 2>/dev/null)
if [ -z "$HDF5_LIBS" ] && [ -f /usr/include/hdf5/serial/hdf5.h ]; then
    HDF5_CFLAGS=-I/usr/include/hdf5/serial
    HDF5_LIBS=-lhdf5_serial
fi

all="stream idx json image npy net model h5 tfjs"
targets=
for t in ${*:-$all}; do
    if [ ! -f "tests/fuzz/fuzz_$t.c" ]; then
        echo "fuzz: no target tests/fuzz/fuzz_$t.c" >&2
        exit 2
    fi
    extra_cflags= extra_libs=
    if [ "$t" = h5 ]; then
        if [ -z "$HDF5_LIBS" ]; then
            echo "fuzz: libhdf5 not found (pkg-config hdf5, /usr/include/hdf5/serial); skipping h5" >&2
            continue
        fi
        extra_cflags="-DTP_HDF5 $HDF5_CFLAGS" extra_libs=$HDF5_LIBS
    fi
    echo "fuzz: building $OUT/fuzz_$t"
    # shellcheck disable=SC2086
    if ! "$CLANG" $CFLAGS_FUZZ $extra_cflags "tests/fuzz/fuzz_$t.c" lib/*.c -o "$OUT/fuzz_$t" $LIBS $extra_libs; then
        echo "fuzz: build of fuzz_$t failed" >&2
        exit 2
    fi
    targets="$targets $t"
done

status=0
for t in $targets; do
    corpus=$OUT/corpus-$t
    rm -rf "$corpus"
    mkdir -p "$corpus"
    cp tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null
    log=$OUT/fuzz_$t.log
    before=$(ls "$OUT" | grep -c -E '^(crash|leak|timeout|oom|slow-unit)-' || true)
    echo "fuzz: fuzz_$t for ${SECONDS_EACH}s (log: $log)"
    supp=
    [ -f "tests/fuzz/lsan_$t.supp" ] && supp=suppressions=tests/fuzz/lsan_$t.supp:print_suppressions=0
    LSAN_OPTIONS=${LSAN_OPTIONS:-$supp} \
    ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "./$OUT/fuzz_$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -max_len=65536 \
        -timeout=25 -print_final_stats=1 -artifact_prefix="$OUT/" "$corpus" >"$log" 2>&1
    rc=$?
    # libFuzzer's closing lines: the last status line and the final stats.
    grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log"
    if [ "$rc" -ne 0 ]; then
        status=1
        echo "fuzz: fuzz_$t FAILED (exit $rc); end of $log:" >&2
        grep -E 'ERROR|SUMMARY|runtime error|^==[0-9]+==|Test unit written|^artifact_prefix' "$log" | head -20 >&2
        for a in $(grep -o 'Test unit written to [^ ]*' "$log" | sed 's/Test unit written to //'); do
            echo "fuzz: artifact: $a (reproduce: ./$OUT/fuzz_$t $a)" >&2
        done
    fi
    after=$(ls "$OUT" | grep -c -E '^(crash|leak|timeout|oom|slow-unit)-' || true)
    if [ "$rc" -eq 0 ] && [ "$after" -gt "$before" ]; then
        echo "fuzz: fuzz_$t left new artifacts in $OUT/" >&2
    fi
done
if [ "$status" -eq 0 ]; then
    echo "fuzz: no crashes"
fi
exit "$status"
