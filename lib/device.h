/* device.h — where a program computes: --device auto|cpu|cuda[:N] and --precision.
 *
 * auto uses a GPU when libtpipe-cuda.so loads and a device opens, and the CPU otherwise
 * (never an error: no CUDA build, no runtime libraries, no driver, no device). cuda[:N]
 * must get device N (default 0) or the program dies saying why. The backend library is
 * looked for in $TPIPE_CUDA_LIB, then beside the program, then in ../ and ../build/ of it.
 */
#ifndef TP_DEVICE_H
#define TP_DEVICE_H

#include "cli.h"
#include "gpu.h"

/* The two options every program that computes on a device takes, into a const char * (the
 * device) and an int (the precision, a tp_precision): the one place they are spelt. */
#define TP_DEVICE_OPTIONS(dev, prec)                                                                                   \
    TP_STRING("device", 0, dev, "DEV",                                                                                 \
              "auto, cpu, cuda or cuda:N (default: $TPIPE_DEVICE, else auto: a GPU when one works, else the CPU)"),   \
        TP_CHOICE("precision", 0, prec, "P", "GPU matrix products: fp32, tf32 or bf16", "fp32", "tf32", "bf16")

typedef struct {
    const tp_gpu_api *api; /* NULL: the CPU */
    tp_gpu *gpu;
    tp_precision prec;
    char name[160];        /* "cpu" or the GPU's description */
} tp_device;

/* Parses spec ("auto", "cpu", "cuda", "cuda:N"; NULL: $TPIPE_DEVICE where set, else auto); a
 * bad one is a usage error.
 * Opens the device with precision prec (a tp_precision); verbose says on stderr which one
 * and, for auto falling back, why. */
void tp_device_open(tp_device *d, const char *spec, int prec, int verbose);
void tp_device_close(tp_device *d);
/* 1 when d is a GPU. */
int tp_device_is_gpu(const tp_device *d);

/* The backend table, or NULL with the reason in why (no CUDA build, dlopen's message, ABI). */
const tp_gpu_api *tp_gpu_load(char *why, size_t len);

#endif
