/* sgemm — this machine's sgemm rate, the scale of make bench's convolution rows: GFLOP/s
 * of OpenBLAS' sgemm on square fp32 matrices of N (default 2048) on THREADS threads (default
 * 2), best of 5 calls after one to warm up. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2, n = argc > 2 ? atoi(argv[2]) : 2048;
    if (threads < 1 || n < 64 || n > 16384) {
        fprintf(stderr, "usage: sgemm [THREADS [N]]\n");
        return 2;
    }
    openblas_set_num_threads(threads);
    size_t e = (size_t)n * (size_t)n;
    float *a = malloc(e * sizeof *a), *b = malloc(e * sizeof *b), *c = malloc(e * sizeof *c);
    if (!a || !b || !c)
        return 1;
    for (size_t i = 0; i < e; i++) {
        a[i] = (float)(i % 17) * 0.01f;
        b[i] = (float)(i % 13) * 0.02f;
    }
    double best = 1e30;
    for (int k = 0; k < 6; k++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double t = now() - t0;
        if (k > 0 && t < best)
            best = t;
    }
    printf("%.1f\n", 2.0 * n * (double)n * n / best / 1e9);
    free(a), free(b), free(c);
    return 0;
}
