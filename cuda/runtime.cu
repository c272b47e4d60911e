/* runtime.cu — the backend's table (gpu.h): opening a device, memory, and tp_gemm. */
#include <stdio.h>
#include <string.h>

#include "common.cuh"
extern "C" {
#include "gpu_gmm.h"
#include "gpu_nn.h"
#include "gpu_tsne.h"
}

extern const tp_gpu_nn_api tp_cuda_nn;
extern const tp_gpu_tsne_api tp_cuda_tsne;
extern const tp_gpu_gmm_api tp_cuda_gmm;

static void set_precision(tp_gpu *g, tp_precision prec)
{
    g->prec = prec;
    TP_BLAS(g, cublasSetMathMode(g->blas, prec == TP_PREC_TF32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}

static tp_gpu *open_device(int device, tp_precision prec, tp_gpu_die_fn die, char *err, size_t errlen)
{
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        snprintf(err, errlen, "no usable CUDA driver or device (%s)", cudaGetErrorString(e));
        return NULL;
    }
    if (device >= count) {
        snprintf(err, errlen, "no CUDA device %d (this machine has %d)", device, count);
        return NULL;
    }
    cudaDeviceProp prop;
    if ((e = cudaGetDeviceProperties(&prop, device)) != cudaSuccess || (e = cudaSetDevice(device)) != cudaSuccess) {
        snprintf(err, errlen, "CUDA device %d: %s", device, cudaGetErrorString(e));
        return NULL;
    }
    if (prop.major < 7 || (prop.major == 7 && prop.minor < 5)) {
        snprintf(err, errlen, "CUDA device %d (%s) is sm_%d%d; this build needs sm_75 or newer", device, prop.name,
                 prop.major, prop.minor);
        return NULL;
    }
    tp_gpu *g = (tp_gpu *)calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->device = device;
    g->die = die;
    g->prop = prop;
    /* what can still fail here fails the opening, so that auto falls back to the CPU */
    cublasStatus_t b = CUBLAS_STATUS_SUCCESS;
    if ((e = cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking)) != cudaSuccess) {
        snprintf(err, errlen, "CUDA device %d: no stream: %s", device, cudaGetErrorString(e));
    } else if ((b = cublasCreate(&g->blas)) != CUBLAS_STATUS_SUCCESS) {
        snprintf(err, errlen, "CUDA device %d: cuBLAS does not start (status %d)", device, (int)b);
    } else if ((b = cublasSetStream(g->blas, g->stream)) != CUBLAS_STATUS_SUCCESS ||
               (b = cublasSetMathMode(g->blas, prec == TP_PREC_TF32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH)) !=
                   CUBLAS_STATUS_SUCCESS) {
        snprintf(err, errlen, "CUDA device %d: cuBLAS refuses its stream or math mode (status %d)", device, (int)b);
    } else {
        g->prec = prec;
        return g;
    }
    if (g->blas)
        cublasDestroy(g->blas);
    if (g->stream)
        cudaStreamDestroy(g->stream);
    free(g);
    return NULL;
}

static void close_device(tp_gpu *g)
{
    if (!g)
        return;
    cudaStreamSynchronize(g->stream);
    cudaFree(g->bf);
    cublasDestroy(g->blas);
    cudaStreamDestroy(g->stream);
    free(g);
}

static void describe(tp_gpu *g, char *buf, size_t len)
{
    int driver = 0;
    cudaDriverGetVersion(&driver);
    snprintf(buf, len, "%s (cuda:%d, sm_%d%d, %.1f GiB, driver %d.%d)", g->prop.name, g->device, g->prop.major,
             g->prop.minor, (double)g->prop.totalGlobalMem / (1u << 30), driver / 1000, driver % 1000 / 10);
}

void *tp_dev_alloc(tp_gpu *g, size_t bytes)
{
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess)
        g->die("cuda: cannot allocate %.1f MiB on the device: %s", (double)bytes / (1u << 20), cudaGetErrorString(e));
    return p;
}

static void dev_free(tp_gpu *g, void *p)
{
    if (p)
        TP_CU(g, cudaFree(p));
}

static void upload(tp_gpu *g, void *dst, const void *src, size_t bytes)
{
    TP_CU(g, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, g->stream));
    TP_CU(g, cudaStreamSynchronize(g->stream)); /* src may be reused by the caller at once */
}

static void download(tp_gpu *g, void *dst, const void *src, size_t bytes)
{
    TP_CU(g, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, g->stream));
    TP_CU(g, cudaStreamSynchronize(g->stream));
}

static void sync(tp_gpu *g) { TP_CU(g, cudaStreamSynchronize(g->stream)); }

void tp_gemm_fp32(tp_gpu *g, int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M == 0 || N == 0)
        return;
    cublasOperation_t oa = transA ? CUBLAS_OP_T : CUBLAS_OP_N, ob = transB ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (g->prec == TP_PREC_TF32)
        TP_BLAS(g, cublasSetMathMode(g->blas, CUBLAS_DEFAULT_MATH));
    TP_BLAS(g, cublasSgemm(g->blas, ob, oa, N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc));
    if (g->prec == TP_PREC_TF32)
        TP_BLAS(g, cublasSetMathMode(g->blas, CUBLAS_TF32_TENSOR_OP_MATH));
}

__global__ void to_bf16(const float *x, __nv_bfloat16 *y, size_t n)
{
    TP_GRID_STRIDE(i, n) y[i] = __float2bfloat16(x[i]);
}

void tp_gemm(tp_gpu *g, int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M == 0 || N == 0)
        return;
    cublasOperation_t oa = transA ? CUBLAS_OP_T : CUBLAS_OP_N, ob = transB ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (g->prec != TP_PREC_BF16 || K == 0) {
        /* row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T */
        TP_BLAS(g, cublasSgemm(g->blas, ob, oa, N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc));
        return;
    }
    /* the stored extent of each operand: rows - 1 full strides and one row, converted exactly
     * (no element past it is read); B's copy starts on a 16-byte boundary so cuBLAS may use
     * tensor cores */
    size_t na = tp_operand_extent(transA ? K : M, transA ? M : K, lda);
    size_t nb = tp_operand_extent(transB ? N : K, transB ? K : N, ldb);
    size_t boff = tp_bf16_offset(na);
    if (boff + nb > g->bf_cap) {
        TP_CU(g, cudaStreamSynchronize(g->stream));
        cudaFree(g->bf);
        g->bf_cap = boff + nb;
        g->bf = (__nv_bfloat16 *)tp_dev_alloc(g, g->bf_cap * sizeof *g->bf);
    }
    __nv_bfloat16 *a = g->bf, *b = g->bf + boff;
    to_bf16<<<tp_blocks(na, 256), 256, 0, g->stream>>>(A, a, na);
    to_bf16<<<tp_blocks(nb, 256), 256, 0, g->stream>>>(B, b, nb);
    TP_LAUNCHED(g);
    TP_BLAS(g, cublasGemmEx(g->blas, ob, oa, N, M, K, &alpha, b, CUDA_R_16BF, ldb, a, CUDA_R_16BF, lda, &beta, C,
                            CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

extern "C" __attribute__((visibility("default"))) const tp_gpu_api *tp_gpu_api_get(int abi)
{
    static tp_gpu_api api;
    if (abi != TP_GPU_ABI)
        return NULL;
    api.abi = TP_GPU_ABI;
    api.open = open_device;
    api.close = close_device;
    api.describe = describe;
    api.set_precision = set_precision;
    api.alloc = tp_dev_alloc;
    api.free = dev_free;
    api.upload = upload;
    api.download = download;
    api.sync = sync;
    api.nn = &tp_cuda_nn;
    api.tsne = &tp_cuda_tsne;
    api.gmm = &tp_cuda_gmm;
    return &api;
}
