/* parallel.h — a parallel for-loop over independent items on POSIX threads. */
#ifndef TP_PARALLEL_H
#define TP_PARALLEL_H

#include <stdint.h>

/* Calls fn(ctx, i, t) for every i in [0, n) on up to nthreads threads (the caller's thread
 * is one of them); t in [0, nthreads) names the thread, for per-thread scratch space.
 * Items are handed out one at a time in increasing order (an item may wait for an earlier
 * one to finish: it has been taken), so uneven items balance. Returns when all are done. The
 * threads are kept in a pool between calls; a call made while the pool is busy (from an item,
 * or from another thread) starts threads of its own. */
void tp_parallel_for(int64_t n, int nthreads, void (*fn)(void *ctx, int64_t i, int t), void *ctx);

/* BLAS on one thread from now on: for work that tp_parallel_for already splits, where each
 * thread's BLAS calls are small (measured faster than threaded BLAS at tpipe's sizes, and the
 * same bytes on every run). The CPU backends call it when they open. */
void tp_blas_serial(void);

/* The CPUs this process may run on (its affinity: taskset, a cpuset, mpirun's binding), at
 * least 1; divided among the processes of one job on this host when they are not bound.
 * TP_THREADS in the environment overrides it. */
int tp_cpu_count(void);
/* processes: how many of one job run on this host (comm.c sets it). */
void tp_cpu_share(int processes);

#endif
