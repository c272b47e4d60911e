/* parallel.c — see parallel.h. */
#define _GNU_SOURCE
#include "parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "util.h"

typedef struct {
    void (*fn)(void *, int64_t, int);
    void *ctx;
    int64_t n;
    int64_t next; /* atomically incremented */
} job;

typedef struct {
    job *j;
    int t;
} worker;

static void run(job *j, int t)
{
    for (;;) {
        int64_t i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
        if (i >= j->n)
            return;
        j->fn(j->ctx, i, t);
    }
}

static void *thread_main(void *arg)
{
    worker *w = arg;
    run(w->j, w->t);
    return NULL;
}

void tp_parallel_for(int64_t n, int nthreads, void (*fn)(void *ctx, int64_t i, int t), void *ctx)
{
    job j = {fn, ctx, n, 0};
    if (nthreads > n)
        nthreads = (int)n;
    if (nthreads <= 1) {
        run(&j, 0);
        return;
    }
    pthread_t *th = tp_alloc((size_t)nthreads, sizeof *th);
    worker *w = tp_alloc((size_t)nthreads, sizeof *w);
    int started = 1;
    for (int t = 1; t < nthreads; t++) {
        w[t].j = &j;
        w[t].t = t;
        if (pthread_create(&th[t], NULL, thread_main, &w[t]) != 0)
            break; /* fewer threads: the ones running finish the work */
        started++;
    }
    run(&j, 0);
    for (int t = 1; t < started; t++)
        pthread_join(th[t], NULL);
    free(th);
    free(w);
}

static int sharing = 1; /* processes of one job on this host (tp_cpu_share) */

void tp_cpu_share(int processes) { sharing = processes >= 1 ? processes : 1; }

int tp_cpu_count(void)
{
    const char *e = getenv("TP_THREADS");
    int64_t v;
    if (e && tp_parse_i64(e, &v) == 0 && v >= 1 && v <= 1024)
        return (int)v;
    long online = sysconf(_SC_NPROCESSORS_ONLN), n = online;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1)
        n = CPU_COUNT(&set); /* taskset, a cgroup's cpuset, mpirun's binding */
    if (n == online && sharing > 1)
        n /= sharing; /* unbound processes of one job share the host's CPUs */
    return n >= 1 ? (int)n : 1;
}

void tp_blas_serial(void) { openblas_set_num_threads(1); }
