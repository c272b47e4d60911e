/* common.cuh — what every .cu file of cuda/ shares: the context behind tp_gpu, error checks that
 * end in the program's die callback, launch helpers, and the GEMM every family uses (fp32,
 * tf32 or bf16 by the context's precision). Internal to libtpipe-cuda.so. */
#ifndef TP_CUDA_COMMON_CUH
#define TP_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "gpu.h"
#include "nn_elem.h"
}

struct tp_gpu {
    int device;
    tp_precision prec;
    tp_gpu_die_fn die;
    cudaStream_t stream;
    cublasHandle_t blas;
    cudaDeviceProp prop;
    __nv_bfloat16 *bf;   /* bf16 staging for GEMM operands */
    size_t bf_cap;       /* its size in elements */
};

#define TP_CU(g, call)                                                                                                  \
    do {                                                                                                               \
        cudaError_t e_ = (call);                                                                                       \
        if (e_ != cudaSuccess)                                                                                         \
            (g)->die("cuda: %s: %s (%s:%d)", #call, cudaGetErrorString(e_), __FILE__, __LINE__);                        \
    } while (0)
#define TP_BLAS(g, call)                                                                                                \
    do {                                                                                                               \
        cublasStatus_t s_ = (call);                                                                                    \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                                               \
            (g)->die("cublas: %s: status %d (%s:%d)", #call, (int)s_, __FILE__, __LINE__);                              \
    } while (0)
/* After a launch: a bad configuration shows here, a fault at the next synchronisation. */
#define TP_LAUNCHED(g) TP_CU(g, cudaGetLastError())

/* Blocks of `threads` covering n items (capped; kernels use grid-stride loops). */
static inline unsigned tp_blocks(size_t n, unsigned threads)
{
    size_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : b > 65535u * 8u ? 65535u * 8u : b);
}
#define TP_GRID_STRIDE(i, n)                                                                                            \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (size_t)(n); i += (size_t)gridDim.x * blockDim.x)

/* bytes of device memory (at least 1); dies naming the size when the device is full. */
void *tp_dev_alloc(tp_gpu *g, size_t bytes);

/* Row-major C[M x N] = alpha op(A)[M x K] op(B)[K x N] + beta C, with lda/ldb/ldc the row
 * lengths as stored (the cblas_sgemm convention, mapped onto column-major cuBLAS). In bf16
 * mode A and B are rounded to bf16 (accumulation and C stay fp32). */
void tp_gemm(tp_gpu *g, int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);

/* tp_gemm in fp32 whatever the context's precision (for products whose rounding would
 * change a decision, such as which points are nearest). */
void tp_gemm_fp32(tp_gpu *g, int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc);

#endif
