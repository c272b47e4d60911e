/* nn.cu — the network's layers and optimisers (gpu_nn.h). */
#include "common.cuh"

extern const tp_gpu_nn_api tp_cuda_nn;
const tp_gpu_nn_api tp_cuda_nn = {};
