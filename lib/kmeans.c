/* kmeans.c — see kmeans.h. */
#include "kmeans.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "parallel.h"
#include "util.h"

#define BLOCK 256 /* samples per work item: the partial sums' partition */

typedef struct {
    const double *X;   /* n x d */
    int64_t n, nblocks;
    int d, k, threads;
    double *scratch;   /* per thread: BLOCK x k products */
    const double *c;   /* a candidate centre (k-means++) or all centres (Lloyd) */
    double *closest;   /* n: squared distance to the nearest centre so far */
    int update;        /* k-means++: store the new minimum in closest */
    double *bpart;     /* per block partial sums */
    const double *xx;  /* n: squared norms */
    double *cc;        /* k: squared norms of the centres */
    int32_t *labels;   /* n */
} km;

static void km_init(km *x, const double *X, int64_t n, int d, int k, int threads)
{
    memset(x, 0, sizeof *x);
    x->X = X;
    x->n = n;
    x->nblocks = (n + BLOCK - 1) / BLOCK;
    x->d = d;
    x->k = k;
    x->threads = threads;
    x->closest = tp_alloc((size_t)n, sizeof *x->closest);
}

static int64_t block_len(const km *x, int64_t b) { return b * BLOCK + BLOCK <= x->n ? BLOCK : x->n - b * BLOCK; }

static void pp_block(void *ctx, int64_t b, int t)
{
    (void)t;
    km *x = ctx;
    int d = x->d;
    int64_t i0 = b * BLOCK, nb = block_len(x, b);
    double s = 0;
    for (int64_t i = i0; i < i0 + nb; i++) {
        const double *p = x->X + i * d;
        double q = 0;
        for (int j = 0; j < d; j++) {
            double e = p[j] - x->c[j];
            q += e * e;
        }
        double v = q < x->closest[i] ? q : x->closest[i];
        if (x->update)
            x->closest[i] = v;
        s += v;
    }
    x->bpart[b] = s;
}

/* The potential with centre c added (kept in closest when update). */
static double pp_pass(km *x, const double *c, int update)
{
    x->c = c;
    x->update = update;
    tp_comm_parallel_for(x->nblocks, 1, x->threads, pp_block, x); /* an MPI job: each rank its blocks */
    tp_comm_share_rows(x->bpart, sizeof *x->bpart, x->nblocks, 1);
    if (update)
        tp_comm_share_rows(x->closest, sizeof *x->closest, x->n, BLOCK);
    double s = 0;
    for (int64_t b = 0; b < x->nblocks; b++)
        s += x->bpart[b];
    return s;
}

/* The first index whose cumulative sum of v reaches u (the last one if none does). */
static int64_t search_cum(const double *v, int64_t n, double u)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        s += v[i];
        if (s >= u)
            return i;
    }
    return n - 1;
}

void tp_kmeanspp(const double *X, int64_t n, int d, int k, int threads, tp_rng *r, int64_t *idx)
{
    km x;
    km_init(&x, X, n, d, k, threads);
    x.bpart = tp_alloc((size_t)x.nblocks, sizeof(double));
    int trials = 2 + (int)log(k);
    for (int64_t i = 0; i < n; i++)
        x.closest[i] = INFINITY;
    idx[0] = (int64_t)tp_rng_below(r, (uint64_t)n);
    double pot = pp_pass(&x, X + idx[0] * d, 1);
    for (int c = 1; c < k; c++) {
        int64_t best = -1;
        double best_pot = INFINITY;
        for (int t = 0; t < trials; t++) {
            double u = tp_rng_double(r);
            int64_t cand = pot > 0 ? search_cum(x.closest, n, u * pot) : (int64_t)(u * (double)n);
            double p = pp_pass(&x, X + cand * d, 0);
            if (best < 0 || p < best_pot) {
                best = cand;
                best_pot = p;
            }
        }
        idx[c] = best;
        pot = pp_pass(&x, X + best * d, 1);
    }
    free(x.closest);
    free(x.bpart);
}

static void lloyd_block(void *ctx, int64_t b, int t)
{
    km *x = ctx;
    int d = x->d, k = x->k;
    int64_t i0 = b * BLOCK, nb = block_len(x, b);
    double *G = x->scratch + (size_t)t * BLOCK * (size_t)k, *part = x->bpart + (size_t)b * (1 + k + (size_t)k * d);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, k, d, 1.0, x->X + i0 * d, d, x->c, d, 0.0, G, k);
    memset(part, 0, (1 + k + (size_t)k * d) * sizeof *part);
    for (int64_t i = 0; i < nb; i++) {
        int best = 0;
        double bd = x->cc[0] - 2 * G[i * k];
        for (int c = 1; c < k; c++) {
            double v = x->cc[c] - 2 * G[i * k + c];
            if (v < bd) {
                bd = v;
                best = c;
            }
        }
        bd += x->xx[i0 + i];
        x->closest[i0 + i] = bd > 0 ? bd : 0;
        part[0] += x->labels[i0 + i] != best;
        x->labels[i0 + i] = best;
        part[1 + best] += 1;
        const double *p = x->X + (i0 + i) * d;
        double *s = part + 1 + k + (size_t)best * d;
        for (int j = 0; j < d; j++)
            s[j] += p[j];
    }
}

/* One assignment of every sample to its nearest centre in C; new centres into Cn (when
 * not NULL, empty clusters moved to the samples farthest from their centres). Returns the
 * number of changed labels. */
static int64_t lloyd_step(km *x, const double *C, double *Cn)
{
    int d = x->d, k = x->k;
    for (int c = 0; c < k; c++) {
        double s = 0;
        for (int j = 0; j < d; j++)
            s += C[(size_t)c * d + j] * C[(size_t)c * d + j];
        x->cc[c] = s;
    }
    x->c = C;
    size_t pl = 1 + (size_t)k + (size_t)k * d;
    tp_comm_parallel_for(x->nblocks, 1, x->threads, lloyd_block, x); /* an MPI job: each rank its blocks */
    tp_comm_share_rows(x->bpart, pl * sizeof *x->bpart, x->nblocks, 1);
    tp_comm_share_rows(x->closest, sizeof *x->closest, x->n, BLOCK);
    tp_comm_share_rows(x->labels, sizeof *x->labels, x->n, BLOCK);
    if (!Cn)
        return 0;
    double *tot = tp_calloc(pl, sizeof *tot);
    for (int64_t b = 0; b < x->nblocks; b++)
        for (size_t j = 0; j < pl; j++)
            tot[j] += x->bpart[(size_t)b * pl + j];
    for (int c = 0; c < k; c++) {
        double cnt = tot[1 + c];
        if (cnt > 0) {
            for (int j = 0; j < d; j++)
                Cn[(size_t)c * d + j] = tot[1 + k + (size_t)c * d + j] / cnt;
            continue;
        }
        int64_t far = 0; /* farthest sample; its distance is then zeroed so the next empty takes another */
        for (int64_t i = 1; i < x->n; i++)
            if (x->closest[i] > x->closest[far])
                far = i;
        x->closest[far] = -1;
        memcpy(Cn + (size_t)c * d, x->X + far * d, (size_t)d * sizeof *Cn);
    }
    int64_t changed = (int64_t)tot[0];
    free(tot);
    return changed;
}

void tp_kmeans(const double *X, int64_t n, int d, int k, int threads, double tol, tp_rng *r, int32_t *labels)
{
    size_t kd = (size_t)k * d;
    int64_t *idx = tp_alloc((size_t)k, sizeof *idx);
    tp_kmeanspp(X, n, d, k, threads, r, idx);
    double *C = tp_alloc(2 * kd, sizeof *C), *Cn = C + kd;
    for (int c = 0; c < k; c++)
        memcpy(C + (size_t)c * d, X + idx[c] * d, (size_t)d * sizeof *C);
    double *xx = tp_alloc((size_t)n, sizeof *xx);
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < d; j++)
            s += X[i * d + j] * X[i * d + j];
        xx[i] = s;
        labels[i] = -1;
    }
    km x;
    km_init(&x, X, n, d, k, threads);
    x.xx = xx;
    x.cc = tp_alloc((size_t)k, sizeof *x.cc);
    x.labels = labels;
    x.bpart = tp_alloc((size_t)x.nblocks * (1 + k + kd), sizeof(double));
    x.scratch = tp_alloc((size_t)threads * BLOCK, (size_t)k * sizeof(double));
    int strict = 0;
    for (int it = 0; it < 300; it++) {
        int64_t changed = lloyd_step(&x, C, Cn);
        double shift = 0;
        for (size_t j = 0; j < kd; j++)
            shift += (Cn[j] - C[j]) * (Cn[j] - C[j]);
        memcpy(C, Cn, kd * sizeof *C);
        if (changed == 0) {
            strict = 1;
            break;
        }
        if (shift <= tol)
            break;
    }
    if (!strict) /* labels that match the final centres */
        lloyd_step(&x, C, NULL);
    free(idx);
    free(C);
    free(xx);
    free(x.cc);
    free(x.closest);
    free(x.bpart);
    free(x.scratch);
}
