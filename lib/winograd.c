/* winograd.c — see winograd.h. The transforms are small constant matrices applied to
 * vectors of channels (NHWC keeps a pixel's channels contiguous), so every inner loop runs
 * over channels and vectorises; the products over channels are sgemm calls. */
#include "winograd.h"

#include <cblas.h>
#include <string.h>

#include "util.h"

#define PIECE_FLOATS (256u << 10) /* a piece's transformed tiles: about a core's L2 */

/* F(2x2, 3x3): points 0, 1, -1 and infinity. */
static const float G2[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
/* F(4x4, 3x3): points 0, 1, -1, 2, -2 and infinity. */
static const float G4[6][3] = {{1.0f / 4, 0, 0},
                               {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                               {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                               {1.0f / 24, 1.0f / 12, 1.0f / 6},
                               {1.0f / 24, -1.0f / 12, 1.0f / 6},
                               {0, 0, 1}};

typedef void (*tf1)(const float *const *in, float *const *out, size_t len);
static void bt4(const float *const *in, float *const *out, size_t len);
static void at4(const float *const *in, float *const *out, size_t len);
static void a4(const float *const *in, float *const *out, size_t len);
static void bt2(const float *const *in, float *const *out, size_t len);
static void at2(const float *const *in, float *const *out, size_t len);
static void a2(const float *const *in, float *const *out, size_t len);

typedef struct {
    int m, a;
    const float *G;  /* a x 3, row-major: the kernel's transform */
    tf1 bt, at, am;  /* B^T, A^T and A on vectors of channels (written out below) */
} mats;

static mats mats_of(int m)
{
    TP_ASSERT(m == 2 || m == 4);
    if (m == 2)
        return (mats){2, 4, &G2[0][0], bt2, at2, a2};
    return (mats){4, 6, &G4[0][0], bt4, at4, a4};
}

void tp_wino_plan(tp_wino *p, int m, int n, int H, int W, int C, int K, int OH, int OW, int pad_t, int pad_l)
{
    int a = m + 2, wide = C > K ? C : K;
    *p = (tp_wino){m, n, H, W, C, K, OH, OW, pad_t, pad_l, 0, 0};
    p->tiles = (int64_t)n * ((OH + m - 1) / m) * ((OW + m - 1) / m);
    int64_t c = PIECE_FLOATS / ((size_t)a * (size_t)a * (size_t)wide);
    c = c < 16 ? 16 : c > 512 ? 512 : c;
    p->chunk = (int)c;
}

size_t tp_wino_scratch(const tp_wino *p, int kernel)
{
    size_t a2 = (size_t)(p->m + 2) * (size_t)(p->m + 2), P = (size_t)p->chunk, C = (size_t)p->C, K = (size_t)p->K;
    size_t wide = C > K ? C : K;
    /* V [a2, P, C] and M or Z [a2, P, K]; a pixel of zeros; twice a tile for the transforms'
     * steps; the kernel gradient's sum [a2, C, K] */
    return a2 * P * (C + K) + wide + 2 * a2 * wide + (kernel ? a2 * C * K : 0);
}

size_t tp_wino_kernel_floats(int m, int C, int K) { return (size_t)(m + 2) * (size_t)(m + 2) * (size_t)C * (size_t)K; }

void tp_wino_kernel(int m, const float *W, int C, int K, int flip, float *U)
{
    mats t = mats_of(m);
    int a = t.a;
    size_t CK = (size_t)C * (size_t)K;
    memset(U, 0, (size_t)a * (size_t)a * CK * sizeof *U);
    for (int i = 0; i < a; i++)
        for (int j = 0; j < a; j++) {
            float *u = U + ((size_t)i * (size_t)a + (size_t)j) * CK;
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    float g = t.G[i * 3 + ky] * t.G[j * 3 + kx];
                    if (g == 0)
                        continue;
                    if (!flip) {
                        const float *w = W + ((size_t)ky * 3 + (size_t)kx) * CK;
#pragma omp simd
                        for (size_t e = 0; e < CK; e++)
                            u[e] += g * w[e];
                    } else { /* u [K, C]: the kernel at (2 - ky, 2 - kx), transposed */
                        const float *w = W + ((size_t)(2 - ky) * 3 + (size_t)(2 - kx)) * CK;
                        for (int c = 0; c < C; c++)
                            for (int k = 0; k < K; k++)
                                u[(size_t)k * (size_t)C + (size_t)c] += g * w[(size_t)c * (size_t)K + (size_t)k];
                    }
                }
        }
}

/* The 1-D transforms, each out[i] = sum_k L[i][k] in[k] over vectors of channels, written
 * out so that each channel's inputs are loaded once and the loop vectorises. */
typedef void (*tf1)(const float *const *in, float *const *out, size_t len);

#define IN(k) const float *restrict i##k = in[k]
#define OUT(k) float *restrict o##k = out[k]

static void bt4(const float *const *in, float *const *out, size_t len) /* B^T of F(4x4): 6 -> 6 */
{
    IN(0); IN(1); IN(2); IN(3); IN(4); IN(5);
    OUT(0); OUT(1); OUT(2); OUT(3); OUT(4); OUT(5);
#pragma omp simd
    for (size_t c = 0; c < len; c++) {
        float d0 = i0[c], d1 = i1[c], d2 = i2[c], d3 = i3[c], d4 = i4[c], d5 = i5[c];
        o0[c] = 4 * d0 - 5 * d2 + d4;
        o1[c] = d3 + d4 - 4 * (d1 + d2);
        o2[c] = d4 - d3 + 4 * (d1 - d2);
        o3[c] = d4 - d2 + 2 * (d3 - d1);
        o4[c] = d4 - d2 + 2 * (d1 - d3);
        o5[c] = 4 * d1 - 5 * d3 + d5;
    }
}

static void at4(const float *const *in, float *const *out, size_t len) /* A^T of F(4x4): 6 -> 4 */
{
    IN(0); IN(1); IN(2); IN(3); IN(4); IN(5);
    OUT(0); OUT(1); OUT(2); OUT(3);
#pragma omp simd
    for (size_t c = 0; c < len; c++) {
        float m0 = i0[c], m1 = i1[c], m2 = i2[c], m3 = i3[c], m4 = i4[c], m5 = i5[c];
        float s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
        o0[c] = m0 + s12 + s34;
        o1[c] = d12 + 2 * d34;
        o2[c] = s12 + 4 * s34;
        o3[c] = d12 + 8 * d34 + m5;
    }
}

static void bt2(const float *const *in, float *const *out, size_t len) /* B^T of F(2x2): 4 -> 4 */
{
    IN(0); IN(1); IN(2); IN(3);
    OUT(0); OUT(1); OUT(2); OUT(3);
#pragma omp simd
    for (size_t c = 0; c < len; c++) {
        float d0 = i0[c], d1 = i1[c], d2 = i2[c], d3 = i3[c];
        o0[c] = d0 - d2;
        o1[c] = d1 + d2;
        o2[c] = d2 - d1;
        o3[c] = d1 - d3;
    }
}

static void at2(const float *const *in, float *const *out, size_t len) /* A^T of F(2x2): 4 -> 2 */
{
    IN(0); IN(1); IN(2); IN(3);
    OUT(0); OUT(1);
#pragma omp simd
    for (size_t c = 0; c < len; c++) {
        float m1 = i1[c], m2 = i2[c];
        o0[c] = i0[c] + m1 + m2;
        o1[c] = m1 - m2 - i3[c];
    }
}

static void a2(const float *const *in, float *const *out, size_t len) /* A of F(2x2): 2 -> 4 */
{
    IN(0); IN(1);
    OUT(0); OUT(1); OUT(2); OUT(3);
#pragma omp simd
    for (size_t c = 0; c < len; c++) {
        float y0 = i0[c], y1 = i1[c];
        o0[c] = y0;
        o1[c] = y0 + y1;
        o2[c] = y0 - y1;
        o3[c] = -y1;
    }
}

static void a4(const float *const *in, float *const *out, size_t len) /* A of F(4x4): 4 -> 6 */
{
    IN(0); IN(1); IN(2); IN(3);
    OUT(0); OUT(1); OUT(2); OUT(3); OUT(4); OUT(5);
#pragma omp simd
    for (size_t c = 0; c < len; c++) {
        float y0 = i0[c], y1 = i1[c], y2 = i2[c], y3 = i3[c];
        o0[c] = y0;
        o1[c] = y0 + y1 + y2 + y3;
        o2[c] = y0 - y1 + y2 - y3;
        o3[c] = y0 + 2 * y1 + 4 * y2 + 8 * y3;
        o4[c] = y0 - 2 * y1 + 4 * y2 - 8 * y3;
        o5[c] = y3;
    }
}

/* out[i][j] = sum_k,l L[i][k] in[k][l] L[j][l] over vectors of len floats, L the r x q
 * matrix of f (in: q x q vectors, by address; out: r x r vectors written with a vector
 * stride ostride). */
static void sandwich(tf1 f, int r, int q, const float *const *in, size_t len, float *tmp, float *out, size_t ostride)
{
    const float *src[6];
    float *dst[6];
    for (int l = 0; l < q; l++) { /* tmp[i][l] = sum_k L[i][k] in[k][l] */
        for (int k = 0; k < q; k++)
            src[k] = in[k * q + l];
        for (int i = 0; i < r; i++)
            dst[i] = tmp + ((size_t)i * (size_t)q + (size_t)l) * len;
        f(src, dst, len);
    }
    for (int i = 0; i < r; i++) { /* out[i][j] = sum_l tmp[i][l] L[j][l] */
        for (int l = 0; l < q; l++)
            src[l] = tmp + ((size_t)i * (size_t)q + (size_t)l) * len;
        for (int j = 0; j < r; j++)
            dst[j] = out + ((size_t)i * (size_t)r + (size_t)j) * ostride;
        f(src, dst, len);
    }
}

/* Tile q's place: sample s, top-left output pixel (oy, ox). */
static void tile_at(const tp_wino *p, int64_t q, int *s, int *oy, int *ox)
{
    int th = (p->OH + p->m - 1) / p->m, tw = (p->OW + p->m - 1) / p->m;
    *s = (int)(q / ((int64_t)th * tw));
    int r = (int)(q % ((int64_t)th * tw));
    *oy = r / tw * p->m;
    *ox = r % tw * p->m;
}

/* The addresses of the a x a pixels of an image (h x w, len floats a pixel) from (y0, x0):
 * their channels where inside, zeros outside. */
static void window(const float *img, int h, int w, size_t len, int y0, int x0, int a, const float *zero,
                   const float **px)
{
    for (int i = 0; i < a; i++)
        for (int j = 0; j < a; j++) {
            int y = y0 + i, x = x0 + j;
            px[i * a + j] = y >= 0 && y < h && x >= 0 && x < w ? img + ((size_t)y * (size_t)w + (size_t)x) * len : zero;
        }
}

/* V [a2, P, C] of tiles q0 .. q0 + P: B^T d B per tile. */
static void input_transform(const tp_wino *p, mats t, const float *x, int64_t q0, int P, float *V, float *tmp,
                            const float *zero)
{
    size_t C = (size_t)p->C, isz = (size_t)p->H * (size_t)p->W * C;
    const float *px[36];
    for (int k = 0; k < P; k++) {
        int s, oy, ox;
        tile_at(p, q0 + k, &s, &oy, &ox);
        window(x + (size_t)s * isz, p->H, p->W, C, oy - p->pad_t, ox - p->pad_l, t.a, zero, px);
        sandwich(t.bt, t.a, t.a, px, C, tmp, V + (size_t)k * C, (size_t)P * C);
    }
}

void tp_wino_forward(const tp_wino *p, int64_t q0, int P, const float *x, const float *U, const float *bias, int relu,
                     float *y, float *scratch)
{
    mats t = mats_of(p->m);
    int a = t.a, m = t.m;
    size_t a2 = (size_t)a * (size_t)a, C = (size_t)p->C, K = (size_t)p->K, wide = C > K ? C : K;
    TP_ASSERT(P >= 1 && P <= p->chunk && q0 >= 0 && q0 + P <= p->tiles);
    float *V = scratch, *M = V + a2 * (size_t)p->chunk * C, *d = M + a2 * (size_t)p->chunk * K, *tmp = d + wide;
    memset(d, 0, wide * sizeof *d); /* d: the pixels past the edges */
    input_transform(p, t, x, q0, P, V, tmp, d);
    for (size_t e = 0; e < a2; e++) /* M_e = V_e U_e: tiles x channels times channels x filters */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, P, (int)K, (int)C, 1.0f, V + e * (size_t)P * C, (int)C,
                    U + e * C * K, (int)K, 0.0f, M + e * (size_t)P * K, (int)K);
    for (int k = 0; k < P; k++) { /* Y = A^T M A per tile, into place */
        int s, oy, ox;
        tile_at(p, q0 + k, &s, &oy, &ox);
        const float *mk[36];
        for (size_t e = 0; e < a2; e++)
            mk[e] = M + (e * (size_t)P + (size_t)k) * K;
        float *out = tmp + a2 * wide; /* m x m vectors, after the m x a of the first step */
        sandwich(t.at, m, a, mk, K, tmp, out, K);
        for (int u = 0; u < m && oy + u < p->OH; u++)
            for (int v = 0; v < m && ox + v < p->OW; v++) {
                const float *o = out + ((size_t)u * (size_t)m + (size_t)v) * K;
                float *dst = y + (((size_t)s * (size_t)p->OH + (size_t)(oy + u)) * (size_t)p->OW + (size_t)(ox + v)) * K;
                if (bias && relu) {
#pragma omp simd
                    for (size_t c = 0; c < K; c++) {
                        float z = o[c] + bias[c];
                        dst[c] = z > 0 ? z : 0;
                    }
                } else if (bias) {
#pragma omp simd
                    for (size_t c = 0; c < K; c++)
                        dst[c] = o[c] + bias[c];
                } else {
                    memcpy(dst, o, K * sizeof *dst);
                }
            }
    }
}

void tp_wino_dw(const tp_wino *p, int s0, int s1, const float *x, const float *dy, float *dW, float *scratch)
{
    mats t = mats_of(p->m);
    int a = t.a, m = t.m;
    size_t a2 = (size_t)a * (size_t)a, C = (size_t)p->C, K = (size_t)p->K, wide = C > K ? C : K;
    size_t Pc = (size_t)p->chunk;
    float *V = scratch, *Z = V + a2 * Pc * C, *d = Z + a2 * Pc * K, *tmp = d + wide, *S = tmp + 2 * a2 * wide;
    int64_t per = p->tiles / (p->n ? p->n : 1), q = (int64_t)s0 * per, end = (int64_t)s1 * per;
    int first = 1;
    for (; q < end; q += (int64_t)Pc) {
        int P = (int)(end - q < (int64_t)Pc ? end - q : (int64_t)Pc);
        memset(d, 0, wide * sizeof *d); /* d: the pixels past the edges */
        input_transform(p, t, x, q, P, V, tmp, d);
        const float *zero = d, *px[16];
        for (int k = 0; k < P; k++) { /* Z = A dY A^T: the tile of dy (zeros past the edge) */
            int s, oy, ox;
            tile_at(p, q + k, &s, &oy, &ox);
            window(dy + (size_t)s * (size_t)p->OH * (size_t)p->OW * K, p->OH, p->OW, K, oy, ox, m, zero, px);
            /* A = (A^T)^T is a x m: out[i][j] = sum_u,v AT[u][i] dY[u][v] AT[v][j] */
            sandwich(t.am, a, m, px, K, tmp, Z + (size_t)k * K, (size_t)P * K);
        }
        for (size_t e = 0; e < a2; e++) /* S_e += V_e^T Z_e: channels x filters over the tiles */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)C, (int)K, P, 1.0f, V + e * (size_t)P * C, (int)C,
                        Z + e * (size_t)P * K, (int)K, first ? 0.0f : 1.0f, S + e * C * K, (int)K);
        first = 0;
    }
    size_t CK = C * K;
    if (first) { /* no tiles */
        memset(dW, 0, 9 * CK * sizeof *dW);
        return;
    }
    /* dW[ky][kx] = sum_i,j G[i][ky] S[i][j] G[j][kx] */
    for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++) {
            float *o = dW + ((size_t)ky * 3 + (size_t)kx) * CK;
            memset(o, 0, CK * sizeof *o);
            for (int i = 0; i < a; i++)
                for (int j = 0; j < a; j++) {
                    float g = t.G[i * 3 + ky] * t.G[j * 3 + kx];
                    if (g == 0)
                        continue;
                    const float *v = S + ((size_t)i * (size_t)a + (size_t)j) * CK;
#pragma omp simd
                    for (size_t e = 0; e < CK; e++)
                        o[e] += g * v[e];
                }
        }
}
