/* records.c — see records.h. */
#define _GNU_SOURCE
#include "records.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define RUN_BYTES (4u << 20)

struct tp_records {
    tp_reader *r; /* kept open: its header, and its descriptor for a regular file */
    int fd;       /* where records are read back: the input file or the spool */
    int spool;
    int64_t n;
    int64_t *off; /* byte offset of each record in fd (NULL for the spool: i * size) */
    char name[256];
};

/* A temporary file that disappears when closed. */
static int spool_file(void)
{
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/tpipe-spool-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        tp_die("cannot create a spool file in %s: %s", dir && *dir ? dir : "/tmp", strerror(errno));
    unlink(path);
    return fd;
}

tp_records *tp_records_open(const char *path)
{
    tp_records *rs = tp_calloc(1, sizeof *rs);
    rs->r = tp_open_or_die(path);
    snprintf(rs->name, sizeof rs->name, "%s", tp_reader_name(rs->r));
    return rs;
}

const char *tp_records_name(const tp_records *rs) { return rs->name; }

void tp_records_scan(tp_records *rs, void (*visit)(void *ctx, int64_t i, const void *rec), void *ctx)
{
    TP_ASSERT(rs->n == 0 && !rs->off);
    struct stat st;
    int fd = tp_reader_fd(rs->r);
    rs->spool = !(fstat(fd, &st) == 0 && S_ISREG(st.st_mode));
    size_t size = tp_reader_header(rs->r)->record_size;
    int64_t cap = 1024;
    unsigned char *buf = NULL;
    size_t blen = 0;
    if (rs->spool) {
        rs->fd = spool_file();
        buf = tp_alloc(RUN_BYTES + size, 1);
    } else {
        rs->fd = fd;
        rs->off = tp_alloc((size_t)cap, sizeof *rs->off);
    }
    const void *rec;
    while ((rec = tp_next_or_die(rs->r))) {
        if (visit)
            visit(ctx, rs->n, rec);
        if (rs->spool) {
            memcpy(buf + blen, rec, size);
            blen += size;
            if (blen >= RUN_BYTES) {
                if (tp_write_full(rs->fd, buf, blen))
                    tp_die("spool file: write error: %s", strerror(errno));
                blen = 0;
            }
        } else {
            if (rs->n == cap)
                rs->off = tp_realloc(rs->off, (size_t)(cap *= 2), sizeof *rs->off);
            rs->off[rs->n] = tp_reader_offset(rs->r);
        }
        rs->n++;
    }
    if (blen && tp_write_full(rs->fd, buf, blen))
        tp_die("spool file: write error: %s", strerror(errno));
    free(buf);
}

const tp_header *tp_records_header(const tp_records *rs) { return tp_reader_header(rs->r); }
int64_t tp_records_count(const tp_records *rs) { return rs->n; }

static int64_t offset_of(const tp_records *rs, int64_t i)
{
    return rs->spool ? i * (int64_t)tp_reader_header(rs->r)->record_size : rs->off[i];
}

void tp_records_get(tp_records *rs, const int64_t *idx, int64_t n, void *dst)
{
    size_t size = tp_reader_header(rs->r)->record_size;
    unsigned char *out = dst;
    for (int64_t k = 0; k < n;) {
        TP_ASSERT(idx[k] >= 0 && idx[k] < rs->n);
        int64_t start = offset_of(rs, idx[k]), run = 1;
        while (k + run < n && (size_t)(run + 1) * size <= RUN_BYTES && idx[k + run] == idx[k] + run &&
               offset_of(rs, idx[k + run]) == start + run * (int64_t)size)
            run++;
        size_t bytes = (size_t)run * size, got = 0;
        while (got < bytes) {
            ssize_t r = pread(rs->fd, out + got, bytes - got, (off_t)(start + (int64_t)got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                tp_die("%s: cannot read records back: %s", rs->name, r < 0 ? strerror(errno) : "file shrank");
            got += (size_t)r;
        }
        out += bytes;
        k += run;
    }
}

void tp_records_close(tp_records *rs)
{
    if (!rs)
        return;
    if (rs->spool)
        close(rs->fd);
    tp_reader_close(rs->r);
    free(rs->off);
    free(rs);
}
