/* gpu.h — the CUDA backend as C sees it: one table of functions that the programs load at
 * run time (lib/device.c dlopens libtpipe-cuda.so, built from the .cu files of cuda/ where nvcc exists),
 * so a program never links the CUDA libraries and runs unchanged where they are missing.
 *
 * This header holds the device and its memory only. Every kernel family has a sub-table of
 * its own header (gpu_nn.h, gpu_tsne.h, gpu_gmm.h), an incomplete type here, whose functions
 * are twins of CPU code in lib/ with the same meaning, checked against it by
 * tests/unit/test_gpu*.c; a user includes the family header it calls.
 * Device memory is passed as plain pointers obtained from alloc(). Failures of the CUDA
 * runtime are invariant violations: the backend calls the die callback given to open() with
 * "cuda: what failed (file:line)", which exits; nothing returns a half-done result.
 */
#ifndef TP_GPU_H
#define TP_GPU_H

#include <stddef.h>
#include <stdint.h>

#define TP_GPU_ABI 3 /* bumped on any change of these tables or of a family's */
#define TP_GPU_SYMBOL "tp_gpu_api_get"

typedef struct tp_gpu tp_gpu; /* a device, its stream and library handles, the precision */

/* Arithmetic of the matrix products: fp32; tf32 tensor cores (fp32 in and out, 10-bit
 * mantissa products); bf16 operands with fp32 accumulation and outputs. Elementwise work,
 * reductions and optimiser state are fp32 (or wider) in every mode. */
typedef enum { TP_PREC_FP32, TP_PREC_TF32, TP_PREC_BF16 } tp_precision;

typedef void (*tp_gpu_die_fn)(const char *fmt, ...);

typedef struct tp_gpu_nn_api tp_gpu_nn_api;     /* gpu_nn.h */
typedef struct tp_gpu_tsne_api tp_gpu_tsne_api; /* gpu_tsne.h */
typedef struct tp_gpu_gmm_api tp_gpu_gmm_api;   /* gpu_gmm.h */

typedef struct tp_gpu_api {
    int abi; /* TP_GPU_ABI of the build */
    /* device index (0 ..); NULL with the reason in err when it has no usable device
     * (no driver, no such index, too old an architecture) */
    tp_gpu *(*open)(int device, tp_precision prec, tp_gpu_die_fn die, char *err, size_t errlen);
    void (*close)(tp_gpu *g);
    /* "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB, driver 12.8)" */
    void (*describe)(tp_gpu *g, char *buf, size_t len);
    void (*set_precision)(tp_gpu *g, tp_precision prec);
    /* device memory; alloc dies when the device is full, naming the size */
    void *(*alloc)(tp_gpu *g, size_t bytes);
    void (*free)(tp_gpu *g, void *p);
    void (*upload)(tp_gpu *g, void *dst, const void *src, size_t bytes);
    void (*download)(tp_gpu *g, void *dst, const void *src, size_t bytes);
    void (*sync)(tp_gpu *g);
    const tp_gpu_nn_api *nn;
    const tp_gpu_tsne_api *tsne;
    const tp_gpu_gmm_api *gmm;
} tp_gpu_api;

/* The one symbol libtpipe-cuda.so exports: its table, or NULL when abi differs. */
typedef const tp_gpu_api *(*tp_gpu_api_get_fn)(int abi);

#endif
