/* gpu_gmm.h — the Gaussian mixture's kernels on the GPU (see gpu.h). */
#ifndef TP_GPU_GMM_H
#define TP_GPU_GMM_H

typedef struct {
    int reserved; /* the kernels land here */
} tp_gpu_gmm_api;

#endif
