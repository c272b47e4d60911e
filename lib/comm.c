/* comm.c — see comm.h: the launcher's variables, the library's loading, and one process. */
#include "comm.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"
#include "plugin.h"
#include "util.h"

#define SO_NAME "libtpipe-mpi.so"

static const tp_comm_api *api; /* NULL: one process */
static int rank_, size_ = 1, local_rank_, opened;
static char where_[64], library_[256];
static tp_comm_stats cost;

/* The job's size as the launcher tells it: Open MPI's mpirun, MPICH's (Hydra) or srun's PMI,
 * PMIx (size unknown: -1); 0 when no launcher started this process. */
static int launcher_size(const char **who)
{
    static const char *const var[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"};
    for (size_t i = 0; i < sizeof var / sizeof *var; i++) {
        const char *v = getenv(var[i]);
        if (!v || !*v)
            continue;
        *who = var[i];
        if (i == 2)
            return -1;
        int64_t n;
        return tp_parse_i64(v, &n) || n < 1 || n > 1 << 24 ? -1 : (int)n;
    }
    return 0;
}

static void abort_job(int status)
{
    if (api)
        api->abort(status);
}

static void at_exit(void) { tp_comm_close(); }

void tp_comm_open(int verbose)
{
    if (opened)
        return;
    opened = 1;
    const char *off = getenv("TPIPE_MPI"), *who = NULL;
    int n = launcher_size(&who);
    if ((off && !strcmp(off, "0")) || n == 0 || n == 1)
        return;
    char why[1024];
    void *h = tp_plugin_open(SO_NAME, "TPIPE_MPI_LIB", RTLD_NOW | RTLD_GLOBAL, why, sizeof why);
    tp_comm_api_get_fn get = NULL;
    if (h)
        *(void **)&get = dlsym(h, TP_COMM_SYMBOL);
    const tp_comm_api *a = get ? get(TP_COMM_ABI) : NULL;
    if (!a) {
        if (!h && !why[0])
            snprintf(why, sizeof why, SO_NAME " is not beside the program (mpicc was missing when it was built)");
        else if (h)
            snprintf(why, sizeof why, SO_NAME ": not a tpipe MPI backend of this version (ABI %d)", TP_COMM_ABI);
        tp_die("started as one of %s processes (%s is set), but MPI cannot be used: %s; TPIPE_MPI=0 runs each "
               "process on its own",
               n > 0 ? getenv(who) : "several", who, why);
    }
    char err[512];
    int local = 1;
    if (a->init(&rank_, &size_, &local, &local_rank_, library_, sizeof library_, err, sizeof err))
        tp_die("MPI: %s", err);
    tp_cpu_share(local);
    api = a;
    if (size_ > 1)
        snprintf(where_, sizeof where_, "rank %d of %d", rank_, size_);
    tp_set_die_hook(abort_job, where_);
    atexit(at_exit);
    if (verbose && rank_ == 0)
        fprintf(stderr, "%s: %d ranks (%s)\n", tp_progname(), size_, library_);
}

void tp_comm_close(void)
{
    if (!api)
        return;
    const tp_comm_api *a = api;
    api = NULL;
    tp_set_die_hook(NULL, NULL);
    a->finalize();
}

int tp_comm_rank(void) { return rank_; }
int tp_comm_size(void) { return size_; }
int tp_comm_local_rank(void) { return local_rank_; }
int tp_comm_root(void) { return rank_ == 0; }
const char *tp_comm_library(void) { return api ? library_ : NULL; }

/* A failed operation: the job cannot go on. Its time is counted. */
#define CHECK(call, what)                                                                                              \
    do {                                                                                                               \
        char err_[512];                                                                                                \
        double t0_ = tp_now();                                                                                         \
        if ((call) < 0)                                                                                                \
            tp_die("MPI %s failed: %s", what, err_);                                                                   \
        cost.seconds += tp_now() - t0_;                                                                                \
    } while (0)

tp_comm_stats tp_comm_cost(void) { return cost; }

/* The job's sum of elements of es bytes (dbl: doubles), counted; 0 for one process. */
static int job_sum(void *const *parts, int nparts, size_t n, int dbl, size_t es)
{
    if (!api)
        return 0;
    CHECK(api->sum(parts, nparts, n, dbl, err_, sizeof err_), "sum");
    cost.sum_bytes += n * es;
    cost.sums++;
    return 1;
}

/* One process: the parts added in order into parts[0]. */
void tp_comm_sum_f32(float *const *parts, int nparts, size_t n)
{
    if (!job_sum((void *const *)parts, nparts, n, 0, sizeof **parts))
        for (int k = 1; k < nparts; k++)
            for (size_t q = 0; q < n; q++)
                parts[0][q] += parts[k][q];
}

void tp_comm_sum_f64(double *const *parts, int nparts, size_t n)
{
    if (!job_sum((void *const *)parts, nparts, n, 1, sizeof **parts))
        for (int k = 1; k < nparts; k++)
            for (size_t q = 0; q < n; q++)
                parts[0][q] += parts[k][q];
}

/* A job's allgather (tp_comm_share_rows' transport). */
static void allgather(const void *mine, const size_t *counts, void *all)
{
    CHECK(api->allgather(mine, counts, all, err_, sizeof err_), "allgather");
}

void tp_comm_gather(const void *mine, const size_t *counts, void *all)
{
    if (!api) {
        if (counts[0])
            memmove(all, mine, counts[0]);
        return;
    }
    CHECK(api->gather(mine, counts, all, 0, err_, sizeof err_), "gather");
}

void tp_comm_bcast(void *buf, size_t bytes, int root)
{
    if (api)
        CHECK(api->bcast(buf, bytes, root, err_, sizeof err_), "broadcast");
}

void tp_comm_block(int64_t n, int64_t unit, int64_t *lo, int64_t *hi) { tp_comm_block_of(rank_, n, unit, lo, hi); }

void tp_comm_block_of(int r, int64_t n, int64_t unit, int64_t *lo, int64_t *hi)
{
    TP_ASSERT(n >= 0 && unit >= 1 && r >= 0 && r < size_);
    int64_t U = n / unit + (n % unit != 0);
    *lo = (int64_t)((__int128)U * r / size_) * unit;
    *hi = (int64_t)((__int128)U * (r + 1) / size_) * unit;
    *lo = *lo < n ? *lo : n;
    *hi = *hi < n ? *hi : n;
}

typedef struct {
    void (*fn)(void *ctx, int64_t i, int t);
    void *ctx;
    int64_t first;
} shifted;

static void run_shifted(void *ctx, int64_t i, int t)
{
    shifted *s = ctx;
    s->fn(s->ctx, s->first + i, t);
}

void tp_comm_parallel_for(int64_t n, int64_t unit, int threads, void (*fn)(void *ctx, int64_t i, int t), void *ctx)
{
    int64_t lo, hi;
    tp_comm_block(n, unit, &lo, &hi);
    shifted s = {fn, ctx, lo};
    tp_parallel_for(hi - lo, threads, run_shifted, &s);
}

void tp_comm_share_rows(void *rows, size_t row_bytes, int64_t n, int64_t unit)
{
    if (!api)
        return;
    size_t *counts = tp_alloc((size_t)size_, sizeof *counts), total = 0;
    for (int r = 0; r < size_; r++) {
        int64_t lo, hi;
        tp_comm_block_of(r, n, unit, &lo, &hi);
        total += counts[r] = (size_t)(hi - lo) * row_bytes;
    }
    int64_t lo, hi;
    tp_comm_block(n, unit, &lo, &hi);
    unsigned char *all = tp_alloc(total ? total : 1, 1);
    allgather((unsigned char *)rows + (size_t)lo * row_bytes, counts, all);
    memcpy(rows, all, total); /* the blocks are in rank order, so in row order */
    free(all), free(counts);
}

void tp_comm_merge_f64(double *v, size_t n)
{
    if (api)
        tp_comm_sum_f64(&v, 1, n);
}
