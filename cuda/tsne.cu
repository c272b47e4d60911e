/* tsne.cu — the tsne kernels (gpu_tsne.h). */
#include "common.cuh"

extern const tp_gpu_tsne_api tp_cuda_tsne;
const tp_gpu_tsne_api tp_cuda_tsne = {};
