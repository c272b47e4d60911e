/* hostdev.h — TP_HD marks an inline function that compiles both as C and as CUDA device
 * code: the per-element arithmetic the CPU (lib/) and the GPU kernels (cuda/) share, so
 * both backends compute it one way (philox.h, preprocess.h, gpu_gmm.h, tsne.h). */
#ifndef TP_HOSTDEV_H
#define TP_HOSTDEV_H

#ifdef __CUDACC__
#define TP_HD __host__ __device__
#else
#define TP_HD
#endif

#endif
