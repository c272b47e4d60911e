/* pca.h — principal component analysis with scikit-learn 1.2's definitions, on OpenBLAS
 * and its LAPACK.
 *
 * For N rows of D values X (any dtype, computed in double):
 *   mean        the column means; Xc = X - mean
 *   components  the top-k right singular vectors of Xc, one per row (k x D, orthonormal)
 *   variance    explained_variance_: squared singular values / (N - 1), descending
 *   ratio       explained_variance_ratio_: variance / total variance (the trace of the
 *               covariance, i.e. the sum of all N - 1 normalised squared singular values)
 *   transform   (row - mean) . components^T; whitened, each column divided by
 *               sqrt(variance) (a component of no variance, below 1e-12 of the first
 *               one's, projects to 0, where scikit-learn would divide by zero)
 * A fraction f in (0, 1) keeps the fewest components whose cumulative ratio exceeds f
 * strictly (scikit-learn's searchsorted(cumsum, f, side="right") + 1), at most min(N, D).
 *
 * Sign: as scikit-learn 1.2's svd_flip with u_based_decision (its full solver): each
 * component is oriented so that the projection of the training rows onto it that is
 * largest in absolute value (the first such row on a tie) is positive.
 *
 * Methods (TP_PCA_AUTO picks; see tp_pca_choose):
 *   cov         Xc^T Xc (D x D) by dsyrk over row blocks, eigenvectors by dsyevr: exact,
 *               O(N D^2) time, 8 D^2 bytes; for D <= N.
 *   gram        Xc Xc^T (N x N) by dsyrk over column slabs, eigenvectors by dsyevr,
 *               components = Xc^T u / s: exact, O(N^2 D), 8 N^2 bytes; for N < D.
 *   randomized  Halko, Martinsson and Tropp's randomized range finder (k + 10 columns,
 *               7 power iterations when k < min(N, D) / 10, else 4, QR-normalised), then an
 *               SVD of the small projected matrix (dgesdd): approximate, O(N D k) time and
 *               8 (N + D)(k + 10) bytes; needs an integer k. Seeded through lib/rng.h.
 * The data are never copied whole in double: each pass converts a block of rows (or a
 * slab of columns) at a time.
 */
#ifndef TP_PCA_H
#define TP_PCA_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"

/* A matrix of n rows of d elements of one dtype; row i starts at base + i * stride (no
 * alignment needed): a field inside records held in memory, or a plain array. */
typedef struct {
    const void *base;
    size_t stride;
    tp_dtype dtype;
    int64_t n, d;
} tp_pca_rows;

typedef enum { TP_PCA_AUTO, TP_PCA_COV, TP_PCA_GRAM, TP_PCA_RANDOMIZED } tp_pca_method;

typedef struct {
    int64_t k;     /* components to keep (>= 1); 0 with frac == 0: all min(N, D) */
    double frac;   /* in (0, 1): keep by cumulative ratio instead of k (k must be 0) */
    int whiten;    /* the fitted scores (and the model's later transforms) are whitened */
    tp_pca_method method;
    uint64_t seed; /* randomized method only */
    int progress;  /* report progress on stderr through lib/progress.h */
} tp_pca_opts;

/* A fitted model; all arrays carved out of one allocation (mean). */
typedef struct {
    int64_t d, k, n_samples;
    int whiten;
    tp_pca_method method; /* the method that fitted it */
    double total_var;     /* the sum of every column's variance (N - 1 denominator) */
    double *mean;         /* d */
    double *components;   /* k x d, row-major */
    double *variance;     /* k */
    double *ratio;        /* k */
    double *singular;     /* k: singular values of Xc */
} tp_pca_model;

/* The method TP_PCA_AUTO uses for n x d data and k components (k == 0: all, or chosen by
 * a fraction): cov where d <= n and gram where n < d, while min(n, d) <= 8192; above that,
 * randomized for an integer k <= min(n, d) / 4, else the exact method (which may be slow). */
tp_pca_method tp_pca_choose(int64_t n, int64_t d, int64_t k);
/* "cov", "gram", "randomized" or "auto". */
const char *tp_pca_method_name(tp_pca_method m);
/* The method named s into *m; 0, or -1 for an unknown name. */
int tp_pca_method_parse(const char *s, tp_pca_method *m);

/* Fits o's model to x. With scores != NULL, *scores receives the transform of x's rows
 * (malloc'd, n x k floats, whitened if o->whiten): fit_transform. Returns 0, or -1 with a
 * message in err (fewer than 2 rows, k larger than min(N, D), a non-finite value, a
 * fraction with the randomized method). */
int tp_pca_fit(const tp_pca_rows *x, const tp_pca_opts *o, tp_pca_model *m, float **scores, char *err,
               size_t errlen);

/* The transform of rows x (x->d == m->d) into out (x->n x m->k floats, row-major),
 * whitened if the model is. Returns 0, or -1 with a message in err on a non-finite value
 * (naming the record by its row number plus first). */
int tp_pca_transform(const tp_pca_model *m, const tp_pca_rows *x, int64_t first, float *out, char *err,
                     size_t errlen);

/* Frees what m owns and zeroes it. */
void tp_pca_model_free(tp_pca_model *m);

/* A saved model is a stream of one record: fields mean f64[D], components f64[k,D],
 * explained_variance f64[k], explained_variance_ratio f64[k], singular_values f64[k];
 * meta kind pca, whiten 0|1, n_samples, total_variance, method (model.h). A model without
 * singular_values reads as NaN ones. */

/* Writes m to path (model.h), the metadata of extra (may be NULL) after its own. */
void tp_pca_model_write(const char *path, const tp_pca_model *m, const tp_header *extra);
/* Reads a saved model from path into m. Returns 0, or -1 with "what is wrong" in err. */
int tp_pca_load(const char *path, tp_pca_model *m, char *err, size_t errlen);

#endif
