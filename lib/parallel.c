/* parallel.c — see parallel.h. */
#define _GNU_SOURCE
#include "parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
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

/* Without the pool: threads started for this call alone (a call made while the pool runs
 * another, from inside one of its items or from another thread). */
static void spawn_for(job *j, int nthreads)
{
    pthread_t *th = tp_alloc((size_t)nthreads, sizeof *th);
    worker *w = tp_alloc((size_t)nthreads, sizeof *w);
    int started = 1;
    for (int t = 1; t < nthreads; t++) {
        w[t].j = j;
        w[t].t = t;
        if (pthread_create(&th[t], NULL, thread_main, &w[t]) != 0)
            break; /* fewer threads: the ones running finish the work */
        started++;
    }
    run(j, 0);
    for (int t = 1; t < started; t++)
        pthread_join(th[t], NULL);
    free(th);
    free(w);
}

/* The pool: workers 1.. that wait for a generation's job, kept for the process's life so
 * that a layer's parallel loop costs a wake-up, not a thread start. One caller at a time
 * holds it (use). */
static pthread_mutex_t use = PTHREAD_MUTEX_INITIALIZER, mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER, done = PTHREAD_COND_INITIALIZER;
static int workers, want, active;
static uint64_t gen;
static job *cur;

/* How long a worker or the caller spins before sleeping (a layer's next loop comes within
 * microseconds; a wake-up from sleep costs several). */
#define SPIN_NS 50000

static void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int same_gen(uint64_t old) { return __atomic_load_n(&gen, __ATOMIC_ACQUIRE) == old; }
static int running(uint64_t unused)
{
    (void)unused;
    return __atomic_load_n(&active, __ATOMIC_ACQUIRE) > 0;
}

/* Spins while busy(arg) holds, for SPIN_NS at most. */
static void spin(int (*busy)(uint64_t), uint64_t arg)
{
    double t0 = tp_now();
    for (unsigned k = 1; busy(arg); k++) {
        if (!(k & 255) && tp_now() - t0 > SPIN_NS * 1e-9)
            return;
        relax();
    }
}

static void *pool_main(void *arg)
{
    int t = (int)(intptr_t)arg;
    uint64_t seen = 0; /* created under mu just before a job's post: that job is its first */
    pthread_mutex_lock(&mu);
    for (;;) {
        if (gen == seen) {
            pthread_mutex_unlock(&mu);
            spin(same_gen, seen); /* until the next job is posted */
            pthread_mutex_lock(&mu);
        }
        while (gen == seen)
            pthread_cond_wait(&go, &mu);
        seen = gen;
        if (t >= want)
            continue;
        job *j = cur;
        pthread_mutex_unlock(&mu);
        run(j, t);
        pthread_mutex_lock(&mu);
        if (__atomic_sub_fetch(&active, 1, __ATOMIC_ACQ_REL) == 0)
            pthread_cond_signal(&done);
    }
    return NULL;
}

/* A forked child has none of the parent's workers. */
static void pool_forget(void)
{
    pthread_mutex_init(&use, NULL);
    pthread_mutex_init(&mu, NULL);
    pthread_cond_init(&go, NULL);
    pthread_cond_init(&done, NULL);
    workers = want = active = 0;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void pool_once(void) { pthread_atfork(NULL, NULL, pool_forget); }

void tp_parallel_for(int64_t n, int nthreads, void (*fn)(void *ctx, int64_t i, int t), void *ctx)
{
    job j = {fn, ctx, n, 0};
    if (nthreads > n)
        nthreads = (int)n;
    if (nthreads <= 1) {
        run(&j, 0);
        return;
    }
    pthread_once(&once, pool_once);
    if (pthread_mutex_trylock(&use) != 0) {
        spawn_for(&j, nthreads);
        return;
    }
    pthread_mutex_lock(&mu);
    while (workers < nthreads - 1) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&th, &at, pool_main, (void *)(intptr_t)(workers + 1));
        pthread_attr_destroy(&at);
        if (rc != 0)
            break; /* fewer threads: the ones running finish the work */
        workers++;
    }
    want = nthreads < workers + 1 ? nthreads : workers + 1;
    __atomic_store_n(&active, want - 1, __ATOMIC_RELAXED);
    cur = &j;
    __atomic_store_n(&gen, gen + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&go);
    pthread_mutex_unlock(&mu);
    run(&j, 0);
    spin(running, 0); /* until the workers are done */
    pthread_mutex_lock(&mu);
    while (active > 0)
        pthread_cond_wait(&done, &mu);
    pthread_mutex_unlock(&mu);
    pthread_mutex_unlock(&use);
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
