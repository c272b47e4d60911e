/* tsne_rep.h — the part of t-SNE's gradient that costs: the repulsive sums R and Z of
 * tsne.h's formulas, three ways (exact in tsne.c, Barnes-Hut in tsne_bh.c, FFT-interpolated
 * in tsne_fft.c), their configuration, and the t kernel all of them evaluate. */
#ifndef TP_TSNE_REP_H
#define TP_TSNE_REP_H

#include <math.h>
#include <stdint.h>

typedef enum { TP_TSNE_AUTO, TP_TSNE_EXACT, TP_TSNE_BH, TP_TSNE_FFT } tp_tsne_method;

typedef struct {
    int d;         /* embedding dimensions, 1..3 */
    double dof;    /* degrees of freedom of the t kernel, > 0 */
    tp_tsne_method method;
    double theta;  /* Barnes-Hut opening angle (0.5) */
    int fft_nodes; /* interpolation nodes per interval (3) */
    int fft_min_intervals;   /* per dimension (50) */
    double fft_per_unit;     /* intervals per unit of embedding length (1) */
    int nthreads;
} tp_tsne_cfg;

/* The repulsive sums R (n x d, into rep) and returns Z, by each method. The FFT one keeps
 * its plans and grids in *ws between calls (NULL at first; tp_tsne_fft_free releases). */
double tp_tsne_rep_exact(const double *y, int64_t n, const tp_tsne_cfg *c, double *rep);
double tp_tsne_rep_bh(const double *y, int64_t n, const tp_tsne_cfg *c, double *rep);
typedef struct tp_tsne_fft tp_tsne_fft;
double tp_tsne_rep_fft(const double *y, int64_t n, const tp_tsne_cfg *c, double *rep, tp_tsne_fft **ws);
void tp_tsne_fft_free(tp_tsne_fft *ws);

/* The kernel values K1 and K2 at squared distance r2. */
static inline void tp_tsne_kernel(double r2, double dof, double *k1, double *k2)
{
    double t = 1 / (1 + r2 / dof);
    if (dof == 1) {
        *k1 = t;
        *k2 = t * t;
    } else if (dof == 2) {
        double s = sqrt(t);
        *k1 = t * s;
        *k2 = t * t * s;
    } else {
        *k1 = pow(t, (dof + 1) / 2);
        *k2 = *k1 * t;
    }
}

#endif
