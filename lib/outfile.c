/* outfile.c — see outfile.h. */
#define _GNU_SOURCE
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define OUT_BUF (4u << 20)

const char *tp_out_name(const tp_outfile *o) { return o->path ? o->path : "stdout"; }

void tp_out_open(tp_outfile *o, const char *path)
{
    memset(o, 0, sizeof *o);
    o->fd = 1;
    if (path && strcmp(path, "-") != 0) {
        o->path = tp_strdup(path);
        struct stat st, lst;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            tp_die("%s: is a directory", path);
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
            /* a device or FIFO (/dev/null, a named pipe) is written to, never replaced */
            o->fd = open(path, O_WRONLY | O_CLOEXEC);
            if (o->fd < 0)
                tp_die("%s: cannot open: %s", path, strerror(errno));
            tp_pipe_grow(o->fd);
            o->buf = tp_alloc(OUT_BUF, 1);
            return;
        }
        /* through a symbolic link, the file it names is replaced, not the link */
        o->target = lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode) ? realpath(path, NULL) : NULL;
        if (!o->target)
            o->target = tp_strdup(path);
        size_t n = strlen(o->target) + 32;
        o->tmp = tp_alloc(n, 1);
        snprintf(o->tmp, n, "%s.tmp.%ld", o->target, (long)getpid());
        tp_register_tmp(o->tmp); /* before it exists: a signal at any point finds it */
        o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (o->fd < 0) {
            int e = errno;
            tp_forget_tmp(o->tmp);
            tp_die("%s: cannot create: %s", path, strerror(e));
        }
    }
    tp_pipe_grow(o->fd);
    o->buf = tp_alloc(OUT_BUF, 1);
}

static void put(tp_outfile *o, const void *p, size_t n)
{
    if (tp_write_full(o->fd, p, n)) {
        if (errno == EPIPE)
            tp_exit_pipe();
        tp_die("%s: write error: %s", tp_out_name(o), strerror(errno));
    }
}

void tp_out_flush(tp_outfile *o)
{
    if (o->len)
        put(o, o->buf, o->len);
    o->len = 0;
}

void tp_out_write(tp_outfile *o, const void *p, size_t n)
{
    if (o->len + n > OUT_BUF)
        tp_out_flush(o);
    if (n >= OUT_BUF) {
        put(o, p, n);
        return;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

long long tp_out_tell(tp_outfile *o)
{
    tp_out_flush(o);
    struct stat st;
    int fl = fcntl(o->fd, F_GETFL);
    if (fstat(o->fd, &st) || !S_ISREG(st.st_mode) || fl < 0 || (fl & O_APPEND))
        return -1;
    return lseek(o->fd, 0, SEEK_CUR);
}

void tp_out_rewrite(tp_outfile *o, const void *p, size_t n, long long off)
{
    tp_out_flush(o);
    if (pwrite(o->fd, p, n, off) != (ssize_t)n)
        tp_die("%s: cannot rewrite the header: %s", tp_out_name(o), strerror(errno));
}

void tp_out_close(tp_outfile *o)
{
    tp_out_flush(o);
    if (o->path) {
        if (close(o->fd))
            tp_die("%s: write error: %s", o->path, strerror(errno));
        if (o->tmp) {
            if (rename(o->tmp, o->target))
                tp_die("%s: cannot rename %s into place: %s", o->path, o->tmp, strerror(errno));
            tp_forget_tmp(o->tmp);
        }
    }
    free(o->path);
    free(o->target);
    free(o->tmp);
    free(o->buf);
    memset(o, 0, sizeof *o);
    o->fd = -1;
}

/* The file path names, resolved: realpath of the file where it exists, else of its folder
 * with the name added; NULL when the folder does not exist either. */
static char *resolved(const char *path)
{
    char *r = realpath(path, NULL);
    if (r)
        return r;
    const char *slash = strrchr(path, '/');
    char *dir = slash ? tp_strdup(path) : tp_strdup(".");
    if (slash)
        dir[slash == path ? 1 : slash - path] = 0;
    char *d = realpath(dir, NULL);
    free(dir);
    if (!d)
        return NULL;
    const char *base = slash ? slash + 1 : path;
    char *out = tp_alloc(strlen(d) + strlen(base) + 2, 1);
    sprintf(out, "%s/%s", d, base);
    free(d);
    return out;
}

int tp_same_output(const char *a, const char *b)
{
    int sa = !a || strcmp(a, "-") == 0, sb = !b || strcmp(b, "-") == 0;
    if (sa || sb)
        return sa && sb;
    struct stat st;
    if (stat(a, &st) == 0 && !S_ISREG(st.st_mode))
        return 0;
    char *ra = resolved(a), *rb = resolved(b);
    int same = ra && rb ? strcmp(ra, rb) == 0 : strcmp(a, b) == 0;
    free(ra);
    free(rb);
    return same;
}
