/* comm_mpi.c — libtpipe-mpi.so: lib/comm.h's table on MPI (built with mpicc where it is
 * found; programs load it at run time). Only the main thread calls it.
 *
 * The sum is a pipelined chain: rank 0 sends its partial sums, a chunk at a time, to rank 1,
 * which adds its own parts and passes them on, so every element is added in rank order;
 * the last rank's result is then broadcast. Each link carries the vector once each way, as a
 * ring allreduce's does (2 (N - 1) / N of it), plus the chain's start-up: (N - 1) chunks.
 */
#include <limits.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"

#define CHUNK_BYTES (256 << 10) /* a chain message: large enough for the link's rate */
#define PIECE ((size_t)1 << 30) /* the most bytes one MPI call moves (its counts are int) */

static MPI_Comm comm = MPI_COMM_NULL;
static int R, N;

static int fail(int rc, const char *what, char *err, size_t len)
{
    char s[MPI_MAX_ERROR_STRING];
    int l = 0;
    if (MPI_Error_string(rc, s, &l) != MPI_SUCCESS)
        snprintf(s, sizeof s, "error %d", rc);
    snprintf(err, len, "%s: %s (a rank may have stopped)", what, s);
    return -1;
}

static int init(int *rank, int *size, int *local, int *local_rank, char *name, size_t namelen, char *err, size_t errlen)
{
    int ok = 0, rc;
    MPI_Initialized(&ok);
    if (!ok) {
        int provided;
        if ((rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided)) != MPI_SUCCESS)
            return fail(rc, "MPI_Init_thread", err, errlen);
    }
    if ((rc = MPI_Comm_dup(MPI_COMM_WORLD, &comm)) != MPI_SUCCESS)
        return fail(rc, "MPI_Comm_dup", err, errlen);
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm, &R);
    MPI_Comm_size(comm, &N);
    *rank = R;
    *size = N;
    MPI_Comm host;
    *local = 1;
    *local_rank = 0;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, R, MPI_INFO_NULL, &host) == MPI_SUCCESS) {
        MPI_Comm_size(host, local);
        MPI_Comm_rank(host, local_rank);
        MPI_Comm_free(&host);
    }
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int l = 0;
    MPI_Get_library_version(v, &l);
    v[strcspn(v, ",\n")] = 0; /* "Open MPI v4.1.4", "MPICH Version:\t4.0.2" */
    char *at = strstr(v, " Version:");
    if (at) { /* "MPICH 4.0.2" */
        char *num = at + strlen(" Version:");
        num += strspn(num, " \t");
        memmove(at + 1, num, strlen(num) + 1);
    }
    snprintf(name, namelen, "%s", v);
    return 0;
}

static void finalize(void)
{
    if (comm != MPI_COMM_NULL)
        MPI_Comm_free(&comm);
    int done = 0;
    MPI_Finalized(&done);
    if (!done)
        MPI_Finalize();
}

static void abort_job(int status) { MPI_Abort(MPI_COMM_WORLD, status ? status : 1); }

/* dst = ((src + p[0]) + p[1]) + ...; src may be dst */
#define ADD(name, T)                                                                                                   \
    static void name(T *dst, const T *src, T *const *p, int np, size_t off, size_t n)                                  \
    {                                                                                                                  \
        for (size_t q = 0; q < n; q++) {                                                                               \
            T v = src[q];                                                                                              \
            for (int k = 0; k < np; k++)                                                                               \
                v += p[k][off + q];                                                                                    \
            dst[q] = v;                                                                                                \
        }                                                                                                              \
    }
ADD(add_f32, float)
ADD(add_f64, double)

static int bcast(void *buf, size_t bytes, int root, char *err, size_t errlen)
{
    for (size_t o = 0; o < bytes; o += PIECE) {
        size_t b = bytes - o < PIECE ? bytes - o : PIECE;
        int rc = MPI_Bcast((char *)buf + o, (int)b, MPI_BYTE, root, comm);
        if (rc != MPI_SUCCESS)
            return fail(rc, "MPI_Bcast", err, errlen);
    }
    return 0;
}

static int sum(void *const *parts, int nparts, size_t n, int dbl, char *err, size_t errlen)
{
    size_t es = dbl ? sizeof(double) : sizeof(float), per = CHUNK_BYTES / es;
    size_t nchunks = (n + per - 1) / per;
    char *out = parts[0];
    if (N == 1 || n == 0) {
        for (size_t c = 0; c < nchunks; c++) {
            size_t off = c * per, m = n - off < per ? n - off : per;
            if (dbl)
                add_f64((double *)out + off, (double *)out + off, (double *const *)parts + 1, nparts - 1, off, m);
            else
                add_f32((float *)out + off, (float *)out + off, (float *const *)parts + 1, nparts - 1, off, m);
        }
        return 0;
    }
    MPI_Request *sends = calloc(nchunks ? nchunks : 1, sizeof *sends), recv[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    char *tmp = R > 0 ? malloc(2 * CHUNK_BYTES) : NULL;
    if (!sends || (R > 0 && !tmp)) {
        free(sends), free(tmp);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t c = 0; c < nchunks; c++)
        sends[c] = MPI_REQUEST_NULL;
    int rc = MPI_SUCCESS;
    const char *what = "MPI_Irecv";
    if (R > 0)
        rc = MPI_Irecv(tmp, (int)(per < n ? per : n), dbl ? MPI_DOUBLE : MPI_FLOAT, R - 1, 0, comm, &recv[0]);
    for (size_t c = 0; c < nchunks && rc == MPI_SUCCESS; c++) {
        size_t off = c * per, m = n - off < per ? n - off : per;
        char *in = out + off * es;
        if (R > 0) {
            if (c + 1 < nchunks) {
                size_t m1 = n - off - m < per ? n - off - m : per;
                rc = MPI_Irecv(tmp + ((c + 1) & 1) * CHUNK_BYTES, (int)m1, dbl ? MPI_DOUBLE : MPI_FLOAT, R - 1,
                               (int)((c + 1) & 0x7fff), comm, &recv[(c + 1) & 1]);
                if (rc != MPI_SUCCESS)
                    break;
            }
            what = "MPI_Wait (receive)";
            if ((rc = MPI_Wait(&recv[c & 1], MPI_STATUS_IGNORE)) != MPI_SUCCESS)
                break;
            in = tmp + (c & 1) * CHUNK_BYTES;
        }
        /* rank 0 adds its parts after the first; the others all of theirs to what came */
        int skip = R == 0;
        if (dbl)
            add_f64((double *)out + off, (double *)in, (double *const *)parts + skip, nparts - skip, off, m);
        else
            add_f32((float *)out + off, (float *)in, (float *const *)parts + skip, nparts - skip, off, m);
        if (R < N - 1) {
            what = "MPI_Isend";
            rc = MPI_Isend(out + off * es, (int)m, dbl ? MPI_DOUBLE : MPI_FLOAT, R + 1, (int)(c & 0x7fff), comm,
                           &sends[c]);
        }
    }
    if (rc == MPI_SUCCESS) {
        what = "MPI_Wait (send)";
        for (size_t c = 0; c < nchunks && rc == MPI_SUCCESS; c++)
            rc = MPI_Wait(&sends[c], MPI_STATUS_IGNORE);
    }
    free(sends), free(tmp);
    if (rc != MPI_SUCCESS)
        return fail(rc, what, err, errlen);
    return bcast(out, n * es, N - 1, err, errlen);
}

static int allgather(const void *mine, const size_t *bytes, void *all, char *err, size_t errlen)
{
    size_t total = 0;
    int fits = 1;
    for (int r = 0; r < N; r++) {
        total += bytes[r];
        fits &= bytes[r] <= INT_MAX;
    }
    int *cnt = malloc((size_t)N * sizeof *cnt), *dsp = malloc((size_t)N * sizeof *dsp);
    if (!cnt || !dsp) {
        free(cnt), free(dsp);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = MPI_SUCCESS;
    if (fits && total <= INT_MAX) {
        size_t o = 0;
        for (int r = 0; r < N; r++) {
            cnt[r] = (int)bytes[r];
            dsp[r] = (int)o;
            o += bytes[r];
        }
        rc = MPI_Allgatherv(mine, cnt[R], MPI_BYTE, all, cnt, dsp, MPI_BYTE, comm);
        free(cnt), free(dsp);
        return rc == MPI_SUCCESS ? 0 : fail(rc, "MPI_Allgatherv", err, errlen);
    }
    free(cnt), free(dsp);
    size_t o = 0; /* more than 2 GiB in all: one broadcast per rank */
    for (int r = 0; r < N; r++) {
        if (r == R)
            memmove((char *)all + o, mine, bytes[r]);
        if (bcast((char *)all + o, bytes[r], r, err, errlen))
            return -1;
        o += bytes[r];
    }
    return 0;
}

/* Point to point, in pieces of at most PIECE bytes: no int count can overflow. */
static int gather(const void *mine, const size_t *bytes, void *all, int root, char *err, size_t errlen)
{
    int rc = MPI_SUCCESS;
    if (R != root) {
        for (size_t o = 0; o < bytes[R] && rc == MPI_SUCCESS; o += PIECE) {
            size_t b = bytes[R] - o < PIECE ? bytes[R] - o : PIECE;
            rc = MPI_Send((const char *)mine + o, (int)b, MPI_BYTE, root, 1, comm);
        }
        return rc == MPI_SUCCESS ? 0 : fail(rc, "MPI_Send", err, errlen);
    }
    size_t at = 0;
    for (int r = 0; r < N; r++) {
        if (r == R)
            memmove((char *)all + at, mine, bytes[r]);
        else
            for (size_t o = 0; o < bytes[r] && rc == MPI_SUCCESS; o += PIECE) {
                size_t b = bytes[r] - o < PIECE ? bytes[r] - o : PIECE;
                rc = MPI_Recv((char *)all + at + o, (int)b, MPI_BYTE, r, 1, comm, MPI_STATUS_IGNORE);
            }
        at += bytes[r];
    }
    return rc == MPI_SUCCESS ? 0 : fail(rc, "MPI_Recv", err, errlen);
}

static const tp_comm_api table = {TP_COMM_ABI, init, finalize, abort_job, sum, allgather, gather, bcast};

const tp_comm_api *tp_comm_api_get(int abi);
const tp_comm_api *tp_comm_api_get(int abi) { return abi == TP_COMM_ABI ? &table : NULL; }
