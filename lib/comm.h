/* comm.h — the processes one job runs in: one process, or the ranks of an MPI job.
 *
 * A program started by mpirun, mpiexec or srun (the launcher's variables are in its
 * environment) loads libtpipe-mpi.so at run time, as the CUDA backend is loaded: the
 * programs never link MPI, so they run unchanged where it is missing, and a program started
 * without a launcher is one process, as it always was. The library is looked for in
 * $TPIPE_MPI_LIB, then beside the program, then in ../ and ../build/ of it. A job of more
 * than one rank without it is an error (each rank would do the whole work and write the same
 * files). TPIPE_MPI=0 in the environment makes every rank a job of its own.
 *
 * Every operation is collective: all ranks call it, in the same order. A failure (a rank
 * that died, a broken link) ends the program with one line naming its rank; tp_die on any
 * rank ends the job (MPI_Abort), so no rank waits for ever on one that stopped.
 *
 * Sums are in a fixed order, rank 0's part first, so that a job's result does not depend
 * on how the network splits the messages: the same bytes as one process adding the same
 * parts in the same order.
 */
#ifndef TP_COMM_H
#define TP_COMM_H

#include <stddef.h>
#include <stdint.h>

#define TP_COMM_ABI 1 /* bumped on any change of tp_comm_api */
#define TP_COMM_SYMBOL "tp_comm_api_get"

/* What libtpipe-mpi.so gives; every int-returning call is 0, or -1 with the reason in err. */
typedef struct {
    int abi;
    /* rank and size in the job; local: how many of its ranks run on this host, local_rank:
     * this one's number among them */
    int (*init)(int *rank, int *size, int *local, int *local_rank, char *name, size_t namelen, char *err, size_t errlen);
    void (*finalize)(void);
    void (*abort)(int status);
    /* parts[0..nparts) of n elements (4-byte floats when dbl is 0, else doubles): on every
     * rank, parts[0] becomes the sum of all ranks' parts, added element by element in rank
     * order and, within a rank, in the order given */
    int (*sum)(void *const *parts, int nparts, size_t n, int dbl, char *err, size_t errlen);
    /* bytes[r] bytes from rank r, into all (rank order, packed) on every rank */
    int (*allgather)(const void *mine, const size_t *bytes, void *all, char *err, size_t errlen);
    /* bytes[r] bytes from rank r into all (rank order, packed) on rank root alone */
    int (*gather)(const void *mine, const size_t *bytes, void *all, int root, char *err, size_t errlen);
    int (*bcast)(void *buf, size_t bytes, int root, char *err, size_t errlen);
} tp_comm_api;

typedef const tp_comm_api *(*tp_comm_api_get_fn)(int abi);

/* Joins the job, once, at the start of main (after tp_init); verbose says on stderr what was
 * found. Without a launcher, or with TPIPE_MPI=0: one process. */
void tp_comm_open(int verbose);
/* Leaves it: at the end of a program that opened it (also at exit, when forgotten). */
void tp_comm_close(void);
int tp_comm_rank(void);
int tp_comm_size(void);
/* This rank's number among the job's ranks on its host (0 for one process): the GPU it takes. */
int tp_comm_local_rank(void);
/* 1 on rank 0, the one that writes the outputs and the log. */
int tp_comm_root(void);
/* The MPI library's description ("Open MPI v4.1.4"), or NULL for one process. */
const char *tp_comm_library(void);

/* The operations of comm.h's API for the job (nothing to do, or a copy, for one process). */
void tp_comm_sum_f32(float *const *parts, int nparts, size_t n);
void tp_comm_sum_f64(double *const *parts, int nparts, size_t n);
/* mine (counts[rank] bytes of it) from every rank into all on rank 0 alone, in rank order
 * (all may be NULL elsewhere). */
void tp_comm_gather(const void *mine, const size_t *counts, void *all);
void tp_comm_bcast(void *buf, size_t bytes, int root);

/* Work split by items across a job: fn(ctx, i, t) for the items i of this rank's block of
 * [0, n) (tp_comm_block, in units of unit items), on up to threads threads; every item for
 * one process. */
void tp_comm_parallel_for(int64_t n, int64_t unit, int threads, void (*fn)(void *ctx, int64_t i, int t), void *ctx);
/* rows (n rows of row_bytes each): every rank holds its block of rows (tp_comm_block in units
 * of unit rows), then all of them. Nothing to do for one process. */
void tp_comm_share_rows(void *rows, size_t row_bytes, int64_t n, int64_t unit);
/* v[0..n): each element computed by one rank and 0 on the others, then every rank holds all
 * of them (a sum in rank order: x + 0 is x, exactly). */
void tp_comm_merge_f64(double *v, size_t n);

/* What this rank's operations cost so far: seconds inside them (moving data, and waiting for
 * the other ranks), and the elements and calls of tp_comm_sum_f32/_f64. */
typedef struct {
    double seconds;
    uint64_t sum_bytes, sums;
} tp_comm_stats;
tp_comm_stats tp_comm_cost(void);

/* The block [lo, hi) of n items that this rank takes, in whole units of unit items (the
 * last unit may be short): units floor(U r / N) .. floor(U (r+1) / N) of the U there are. So
 * batches of unit items start at the same items in every rank count. */
void tp_comm_block(int64_t n, int64_t unit, int64_t *lo, int64_t *hi);
/* The same for rank r. */
void tp_comm_block_of(int r, int64_t n, int64_t unit, int64_t *lo, int64_t *hi);

#endif
