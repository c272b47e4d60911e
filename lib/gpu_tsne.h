/* gpu_tsne.h — t-SNE's kernels on the GPU (see gpu.h). */
#ifndef TP_GPU_TSNE_H
#define TP_GPU_TSNE_H

typedef struct {
    int reserved; /* the kernels land here */
} tp_gpu_tsne_api;

#endif
