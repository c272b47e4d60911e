/* device.h — where a program computes: --device auto|cpu|cuda[:N] and --precision.
 *
 * auto uses a GPU when libtpipe-cuda.so loads and a device opens, and the CPU otherwise
 * (never an error: no CUDA build, no runtime libraries, no driver, no device). cuda[:N]
 * must get device N (default 0) or the program dies saying why. The backend library is
 * looked for in $TPIPE_CUDA_LIB, then beside the program, then in ../ and ../build/ of it.
 */
#ifndef TP_DEVICE_H
#define TP_DEVICE_H

#include "gpu.h"

typedef struct {
    const tp_gpu_api *api; /* NULL: the CPU */
    tp_gpu *gpu;
    tp_precision prec;
    char name[160];        /* "cpu" or the GPU's description */
} tp_device;

/* Parses spec ("auto", "cpu", "cuda", "cuda:N") and precision ("fp32", "tf32", "bf16"); bad
 * values are usage errors. Opens the device; verbose says on stderr which one and, for auto
 * falling back, why. */
void tp_device_open(tp_device *d, const char *spec, const char *precision, int verbose);
void tp_device_close(tp_device *d);
/* 1 when d is a GPU. */
int tp_device_is_gpu(const tp_device *d);

/* The backend table, or NULL with the reason in why (no CUDA build, dlopen's message, ABI). */
const tp_gpu_api *tp_gpu_load(char *why, size_t len);

#endif
