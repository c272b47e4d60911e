/* winograd.h — 3x3 stride-1 convolutions by Winograd's minimal filtering, F(m x m, 3 x 3)
 * for m = 2 and m = 4 (Lavin and Gray 2016): the output in m x m tiles, each from an
 * (m + 2) x (m + 2) input tile, with (m + 2)^2 matrix products over the channels in place of
 * 9 m^2 products per tile (2.25 times fewer multiplies for m = 2, 4 times for m = 4).
 *
 * Tensors are NHWC floats, kernels Keras' [3, 3, C, K]. The three passes a layer needs are
 * all here: the forward pass, the gradient of the input (a forward pass of dy with the
 * kernel turned half a turn and its channels swapped), and the gradient of the kernel
 * (m x m tiles of dy as the filter). Each works on pieces fixed by the shapes alone, so the
 * same inputs give the same bytes on any thread count. nn.c's im2col + sgemm path is the
 * reference twin, and tests/unit/test_winograd.c holds the two side by side.
 */
#ifndef TP_WINOGRAD_H
#define TP_WINOGRAD_H

#include <stddef.h>
#include <stdint.h>

/* A stride-1 3x3 correlation: x [n, H, W, C] padded by pad_t rows above and pad_l columns to
 * the left (zeros), giving y [n, OH, OW, K]; y[o] = sum over the window of x times the
 * kernel, plus bias (may be NULL), then ReLU when relu is set. */
typedef struct {
    int m;               /* output tile: 2 or 4 */
    int n, H, W, C, K, OH, OW, pad_t, pad_l;
    int64_t tiles;       /* n x ceil(OH / m) x ceil(OW / m) */
    int chunk;           /* tiles per piece: a piece's transforms fit a core's cache */
} tp_wino;

/* The plan for a layer's shapes. */
void tp_wino_plan(tp_wino *p, int m, int n, int H, int W, int C, int K, int OH, int OW, int pad_t, int pad_l);
/* Scratch floats one thread needs for a piece of tp_wino_forward (kernel 0) or a call of
 * tp_wino_dw (kernel 1). */
size_t tp_wino_scratch(const tp_wino *p, int kernel);
/* The transformed kernel U [(m+2)^2, C, K] of W [3, 3, C, K]; flip: the input gradient's
 * kernel instead, W turned half a turn with in and out swapped (U [(m+2)^2, K, C], for a
 * plan whose C is W's K). */
void tp_wino_kernel(int m, const float *W, int C, int K, int flip, float *U);
size_t tp_wino_kernel_floats(int m, int C, int K);
/* Tiles [q0, q0 + P) of the forward pass (P at most chunk; tiles are numbered sample by
 * sample, row by row): their pixels of y from x. */
void tp_wino_forward(const tp_wino *p, int64_t q0, int P, const float *x, const float *U, const float *bias, int relu,
                     float *y, float *scratch);
/* The kernel gradient of samples [s0, s1) of x and dy (dy [n, OH, OW, K], p's shapes):
 * dW [3, 3, C, K] (overwritten), summed over those samples' tiles in order. */
void tp_wino_dw(const tp_wino *p, int s0, int s1, const float *x, const float *dy, float *dW, float *scratch);

#endif
