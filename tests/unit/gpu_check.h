/* gpu_check.h — what the GPU differential tests share: the backend's device 0, or a skip
 * (exit 77, "no GPU: why" as the last line) where none opens, which TPIPE_REQUIRE_GPU=1 (the
 * device check) turns into a failure. */
#ifndef TP_GPU_CHECK_H
#define TP_GPU_CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "device.h"

/* The backend's fatal-error path: the message, then exit 1 (a failed test). */
static void gpu_check_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* Device 0 in fp32 with *api set, or exits 77 saying why there is none. */
static tp_gpu *gpu_check_open(const tp_gpu_api **api)
{
    char why[512];
    *api = tp_gpu_load(why, sizeof why);
    tp_gpu *g = *api ? (*api)->open(0, TP_PREC_FP32, gpu_check_die, why, sizeof why) : NULL;
    if (!g) {
        const char *req = getenv("TPIPE_REQUIRE_GPU");
        printf("%sno GPU: %s\n", req && req[0] == '1' ? "a GPU is required (TPIPE_REQUIRE_GPU=1): " : "", why);
        exit(req && req[0] == '1' ? 1 : 77);
    }
    return g;
}

#endif
