/* membw — this machine's memory bandwidth, for scale in the benchmark table:
 * GB/s reading (a sum) and copying (memcpy) a 1 GiB buffer, best of 5, one thread. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void)
{
    size_t n = (size_t)1 << 30;
    uint64_t *a = malloc(n), *b = malloc(n);
    if (!a || !b)
        return 1;
    memset(a, 1, n);
    memset(b, 2, n);
    double best_read = 1e9, best_copy = 1e9;
    uint64_t sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        uint64_t s = 0;
        for (size_t i = 0; i < n / 8; i++)
            s += a[i];
        sink += s;
        double t1 = now();
        memcpy(b, a, n);
        double t2 = now();
        best_read = t1 - t0 < best_read ? t1 - t0 : best_read;
        best_copy = t2 - t1 < best_copy ? t2 - t1 : best_copy;
    }
    printf("%.2f %.2f\n", (double)n / best_read / 1e9, (double)n / best_copy / 1e9);
    fprintf(stderr, "%llu\n", (unsigned long long)(sink + b[12345]) % 2);
    free(a);
    free(b);
    return 0;
}
