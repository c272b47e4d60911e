/* idx.c — see idx.h. */
#define _GNU_SOURCE
#include "idx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util.h"

/* zlib's message for the last error, without the "<fd:N>: " it puts before it. */
static const char *gz_msg(tp_idx *x, int *code)
{
    const char *m = gzerror((gzFile)x->gz, code);
    if (m && strncmp(m, "<fd:", 4) == 0 && strstr(m, ": "))
        m = strstr(m, ": ") + 2;
    return m ? m : "";
}

/* Reads exactly n bytes or explains why not. */
static int read_exact(tp_idx *x, void *dst, size_t n, const char *what)
{
    char *p = dst;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread((gzFile)x->gz, p, chunk);
        if (got < 0) {
            int code;
            const char *msg = gz_msg(x, &code);
            snprintf(x->err, sizeof x->err, "corrupt gzip data (%s)", code == Z_ERRNO ? strerror(errno) : msg);
            return -1;
        }
        if (got == 0) {
            int code;
            const char *msg = gz_msg(x, &code);
            if (code != Z_OK && code != Z_STREAM_END)
                snprintf(x->err, sizeof x->err, "corrupt gzip data (%s)", msg);
            else
                snprintf(x->err, sizeof x->err, "truncated %s", what);
            return -1;
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static int read_header(tp_idx *x, int fd)
{
    struct stat st;
    int regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        snprintf(x->err, sizeof x->err, "cannot read");
        return -1;
    }
    gzbuffer(gz, 1u << 18);
    x->gz = gz;
    unsigned char h[4];
    if (read_exact(x, h, 4, "IDX header"))
        return -1;
    if (h[0] || h[1]) {
        snprintf(x->err, sizeof x->err, "not an IDX file (bad magic)");
        return -1;
    }
    switch (h[2]) {
    case 0x08: x->dtype = TP_U8; break;
    case 0x09: x->dtype = TP_I8; break;
    case 0x0B: x->dtype = TP_I16; break;
    case 0x0C: x->dtype = TP_I32; break;
    case 0x0D: x->dtype = TP_F32; break;
    case 0x0E: x->dtype = TP_F64; break;
    default:
        snprintf(x->err, sizeof x->err, "unknown IDX data type 0x%02x", h[2]);
        return -1;
    }
    int nd = h[3];
    if (nd < 1 || nd > TP_MAX_RANK + 1) {
        snprintf(x->err, sizeof x->err, "IDX file has %d dimensions (1 to %d supported)", nd, TP_MAX_RANK + 1);
        return -1;
    }
    unsigned char d[4 * (TP_MAX_RANK + 1)];
    if (read_exact(x, d, 4 * (size_t)nd, "IDX header"))
        return -1;
    uint64_t item = tp_dtype_size(x->dtype);
    for (int i = 0; i < nd; i++) {
        uint32_t v = (uint32_t)d[4 * i] << 24 | (uint32_t)d[4 * i + 1] << 16 | (uint32_t)d[4 * i + 2] << 8 | d[4 * i + 3];
        if (i == 0) {
            x->count = v;
            continue;
        }
        if (v == 0) {
            snprintf(x->err, sizeof x->err, "IDX dimension %d is zero", i + 1);
            return -1;
        }
        x->shape[i - 1] = v;
        item *= v;
        if (item > TP_MAX_RECORD) {
            snprintf(x->err, sizeof x->err, "IDX items are larger than 2^32 bytes");
            return -1;
        }
    }
    x->rank = nd - 1;
    x->item_bytes = (size_t)item;
    x->plain_size = -1;
    if (regular && gzdirect(gz)) {
        x->plain_size = st.st_size;
        uint64_t want = 4 + 4 * (uint64_t)nd + (uint64_t)x->count * item;
        if ((uint64_t)st.st_size < want) {
            snprintf(x->err, sizeof x->err, "truncated: header promises %lld items (%llu bytes) but the file has %lld",
                     (long long)x->count, (unsigned long long)want, (long long)st.st_size);
            return -1;
        }
        if ((uint64_t)st.st_size > want) {
            snprintf(x->err, sizeof x->err, "%llu bytes follow the %lld items the header promises",
                     (unsigned long long)((uint64_t)st.st_size - want), (long long)x->count);
            return -1;
        }
    }
    return 0;
}

/* Opens fd (taken over) and reads the header; a failure leaves nothing open. */
static int start(tp_idx *x, int fd)
{
    if (read_header(x, fd) == 0)
        return 0;
    if (x->gz)
        gzclose((gzFile)x->gz);
    x->gz = NULL;
    return -1;
}

int tp_idx_open_fd(tp_idx *x, int fd)
{
    memset(x, 0, sizeof *x);
    return start(x, fd);
}

int tp_idx_open(tp_idx *x, const char *path)
{
    memset(x, 0, sizeof *x);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(x->err, sizeof x->err, "%s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        snprintf(x->err, sizeof x->err, "is a directory");
        return -1;
    }
    return start(x, fd);
}

int tp_idx_skip(tp_idx *x, int64_t n)
{
    if (n < 0 || n > x->count - x->next) {
        snprintf(x->err, sizeof x->err, "cannot skip %lld of %lld remaining items", (long long)n,
                 (long long)(x->count - x->next));
        return -1;
    }
    char buf[1 << 16];
    uint64_t left = (uint64_t)n * x->item_bytes;
    while (left) {
        size_t k = left > sizeof buf ? sizeof buf : (size_t)left;
        if (read_exact(x, buf, k, "data"))
            return -1;
        left -= k;
    }
    x->next += n;
    return 0;
}

int tp_idx_read(tp_idx *x, void *dst, int64_t n)
{
    if (n < 0 || n > x->count - x->next) {
        snprintf(x->err, sizeof x->err, "cannot read %lld of %lld remaining items", (long long)n,
                 (long long)(x->count - x->next));
        return -1;
    }
    size_t bytes = (size_t)n * x->item_bytes;
    if (read_exact(x, dst, bytes, "data")) {
        if (strncmp(x->err, "truncated", 9) == 0)
            snprintf(x->err, sizeof x->err, "truncated: the header promises %lld items, the data ends before item %lld",
                     (long long)x->count, (long long)(x->next + n));
        return -1;
    }
    size_t es = tp_dtype_size(x->dtype);
    tp_swap_bytes(dst, bytes / es, es);
    x->next += n;
    return 0;
}

int tp_idx_check_end(tp_idx *x)
{
    char c;
    int got = gzread((gzFile)x->gz, &c, 1);
    if (got < 0) {
        int code;
        snprintf(x->err, sizeof x->err, "corrupt gzip data (%s)", gz_msg(x, &code));
        return -1;
    }
    if (got > 0) {
        snprintf(x->err, sizeof x->err, "data follows the %lld items the header promises", (long long)x->count);
        return -1;
    }
    int code;
    const char *msg = gz_msg(x, &code);
    if (code != Z_OK && code != Z_STREAM_END) { /* a gzip member that ends before its trailer */
        snprintf(x->err, sizeof x->err, "corrupt gzip data (%s: the file is cut short)", msg);
        return -1;
    }
    return 0;
}

void tp_idx_close(tp_idx *x)
{
    if (x->gz)
        gzclose((gzFile)x->gz);
    x->gz = NULL;
}
