/* gmm.cu — the gmm kernels (gpu_gmm.h). */
#include "common.cuh"

extern const tp_gpu_gmm_api tp_cuda_gmm;
const tp_gpu_gmm_api tp_cuda_gmm = {};
