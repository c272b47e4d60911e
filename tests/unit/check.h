/* check.h — a minimal unit-test harness: CHECK records a failure and goes on; the test's
 * main returns check_result(), which is 1 when any CHECK failed. Skipped tests exit 77. */
#ifndef TP_CHECK_H
#define TP_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_failures;

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); \
            check_failures++;                                                     \
        }                                                                         \
    } while (0)

#define CHECK_INT(a, b)                                                                               \
    do {                                                                                              \
        long long a_ = (long long)(a), b_ = (long long)(b);                                           \
        if (a_ != b_) {                                                                               \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, a_, b_);    \
            check_failures++;                                                                         \
        }                                                                                             \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                               \
    do {                                                                                                    \
        double a_ = (a), b_ = (b);                                                                          \
        if (!(fabs(a_ - b_) <= (tol))) {                                                                    \
            fprintf(stderr, "%s:%d: %s == %.9g, expected %.9g +- %g\n", __FILE__, __LINE__, #a, a_, b_, \
                    (double)(tol));                                                                         \
            check_failures++;                                                                               \
        }                                                                                                   \
    } while (0)

static inline int check_result(void) { return check_failures ? 1 : 0; }

#endif
