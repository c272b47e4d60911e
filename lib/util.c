/* util.c — see util.h. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Process-wide state, written once by tp_init (progname) or only through the
 * register/forget pair; the signal handler needs it, so it cannot live in a context. */
static const char *progname = "tpipe";
#define MAX_TMP 16
static char *tmp_paths[MAX_TMP];

static char tmp_tree[PATH_MAX]; /* a folder of unfinished outputs, "" when none */

static void (*die_hook)(int status);
static int dying; /* set by the first thread that reports a fatal error */
static char where[64]; /* "rank 1 of 4": one process of a job; "" otherwise */

/* Removes the folder name (below the folder dfd) and what it holds, depth levels deep at
 * most: open, getdents64, unlinkat and close only, so a signal handler may call it. */
static void remove_tree_at(int dfd, const char *name, int depth)
{
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        char buf[4096];
        long n;
        int again = 1;
        while (again) { /* rescan from the start after each batch: entries go as we read */
            again = 0;
            lseek(fd, 0, SEEK_SET);
            while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
                for (long off = 0; off < n;) {
                    struct linux_dirent64 {
                        unsigned long long ino;
                        long long off;
                        unsigned short reclen;
                        unsigned char type;
                        char name[];
                    } *e = (void *)(buf + off);
                    off += e->reclen;
                    if (strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0)
                        continue;
                    if (unlinkat(fd, e->name, 0) == 0) {
                        again = 1;
                    } else if (depth > 0 && (errno == EISDIR || errno == EPERM)) {
                        remove_tree_at(fd, e->name, depth - 1);
                        again = 1;
                    }
                }
                if (again)
                    break;
            }
        }
        close(fd);
    }
    unlinkat(dfd, name, AT_REMOVEDIR);
}

static void remove_tmps(void)
{
    for (int i = 0; i < MAX_TMP; i++)
        if (tmp_paths[i])
            unlink(tmp_paths[i]);
    if (tmp_tree[0])
        remove_tree_at(AT_FDCWD, tmp_tree, 3);
}

/* "PROG: rank R of N: stopped by signal S" in one write (async-signal-safe). */
static void signal_note(int sig)
{
    char buf[256];
    size_t n = 0;
    const char *parts[] = {progname, ": ", where, ": stopped by signal "}, *tail = "";
    if (sig == SIGTERM) /* mpirun and srun end the job's other ranks this way when one fails */
        tail = " (SIGTERM: the job is being ended, as when one of its ranks stopped)";
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        for (const char *p = parts[i]; *p && n < sizeof buf - 8; p++)
            buf[n++] = *p;
    if (sig >= 10)
        buf[n++] = (char)('0' + sig / 10);
    buf[n++] = (char)('0' + sig % 10);
    for (const char *p = tail; *p && n < sizeof buf - 1; p++)
        buf[n++] = *p;
    buf[n++] = '\n';
    ssize_t rc = write(2, buf, n);
    (void)rc;
}

void tp_set_die_hook(void (*hook)(int status), const char *w)
{
    die_hook = hook;
    snprintf(where, sizeof where, "%s", w ? w : "");
}

static void on_signal(int sig)
{
    if (where[0] && sig != SIGPIPE && !__atomic_load_n(&dying, __ATOMIC_SEQ_CST)) /* not after its own message */
        signal_note(sig);
    remove_tmps(); /* unlink is async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

void tp_init(const char *argv0)
{
    if (argv0 && *argv0)
        progname = tp_basename(argv0);
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], NULL, &old);
        /* Keep a disposition the parent chose to ignore (nohup, SIGPIPE ignored):
         * then EPIPE reaches the writer, which ends quietly through tp_exit_pipe. */
        if (old.sa_handler != SIG_IGN)
            sigaction(sigs[i], &sa, NULL);
    }
}

const char *tp_progname(void) { return progname; }

/* Threads can fail together (two workers meeting bad input at once): the first to get
 * here reports and exits, any other waits for that exit, so there is one message. */
static void one_death(void)
{
    if (__atomic_exchange_n(&dying, 1, __ATOMIC_SEQ_CST))
        for (;;)
            pause();
}

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
    char buf[2048];
    int n = snprintf(buf, sizeof buf, "%s: %s%s%s", progname, where, where[0] ? ": " : "", prefix);
    if (n < 0 || (size_t)n >= sizeof buf)
        n = 0;
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    /* One line, whatever the message holds. */
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "%s\n", buf);
}

/* The end of a refused run. Under AddressSanitizer the exit skips the leak check: a program
 * that dies holds its buffers on purpose, and whether they still look reachable then depends
 * on which registers the compiler kept them in. */
static _Noreturn void die_exit(int status)
{
    if (die_hook)
        die_hook(status);
#if TP_ASAN
    fflush(NULL);
    _exit(status);
#else
    exit(status);
#endif
}

void tp_die(const char *fmt, ...)
{
    one_death();
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
    remove_tmps();
    die_exit(1);
}

void tp_usage(const char *fmt, ...)
{
    one_death();
    va_list ap;
    va_start(ap, fmt);
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s (see '%s --help')\n", progname, buf, progname);
    remove_tmps();
    die_exit(2);
}

void tp_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("warning: ", fmt, ap);
    va_end(ap);
}

void tp_exit_pipe(void)
{
    remove_tmps();
    signal(SIGPIPE, SIG_DFL);
    raise(SIGPIPE);
    _exit(128 + SIGPIPE); /* SIGPIPE was blocked: end with the status a shell shows for it */
}

void tp_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "%s: internal error at %s:%d: %s\n", progname, file, line, expr);
    remove_tmps();
    abort();
}

int tp_mul_ok(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

static size_t bytes_or_die(size_t n, size_t size)
{
    size_t total;
    if (tp_mul_ok(n, size, &total))
        tp_die("allocation of %zu x %zu bytes overflows", n, size);
    return total ? total : 1;
}

void *tp_alloc(size_t n, size_t size)
{
    size_t total = bytes_or_die(n, size);
    void *p = malloc(total);
    if (!p)
        tp_die("out of memory (%zu bytes)", total);
    return p;
}

void *tp_calloc(size_t n, size_t size)
{
    size_t total = bytes_or_die(n, size);
    void *p = calloc(1, total);
    if (!p)
        tp_die("out of memory (%zu bytes)", total);
    return p;
}

void *tp_realloc(void *p, size_t n, size_t size)
{
    size_t total = bytes_or_die(n, size);
    void *q = realloc(p, total);
    if (!q)
        tp_die("out of memory (%zu bytes)", total);
    return q;
}

char *tp_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = tp_alloc(n, 1);
    memcpy(d, s, n);
    return d;
}

void tp_register_tmp(const char *path)
{
    for (int i = 0; i < MAX_TMP; i++)
        if (!tmp_paths[i]) {
            tmp_paths[i] = tp_strdup(path);
            return;
        }
    TP_ASSERT(!"too many unfinished output files");
}

size_t tp_max_text_bytes(void)
{
    const char *e = getenv("TPIPE_MAX_BYTES");
    int64_t v;
    if (e && *e && tp_parse_i64(e, &v) == 0 && v > 0)
        return (size_t)v;
    return TP_MAX_TEXT_BYTES;
}

void tp_text_too_large(char *err, size_t errlen, const char *path)
{
    snprintf(err, errlen, "%s: larger than the limit of %zu bytes (TPIPE_MAX_BYTES raises it)", path,
             tp_max_text_bytes());
}

void tp_register_tmp_tree(const char *path)
{
    TP_ASSERT(!tmp_tree[0] && strlen(path) < sizeof tmp_tree);
    memcpy(tmp_tree, path, strlen(path) + 1);
}

void tp_forget_tmp_tree(void) { tmp_tree[0] = 0; }

void tp_forget_tmps_in_child(void)
{
    for (int i = 0; i < MAX_TMP; i++)
        tmp_paths[i] = NULL; /* the parent's copies: not freed here, the child ends soon */
    tmp_tree[0] = 0;
}

void tp_forget_tmp(const char *path)
{
    for (int i = 0; i < MAX_TMP; i++)
        if (tmp_paths[i] && strcmp(tmp_paths[i], path) == 0) {
            char *p = tmp_paths[i];
            tmp_paths[i] = NULL;
            free(p);
            return;
        }
}

long long tp_read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long long)got;
}

int tp_write_full(int fd, const void *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        ssize_t r = write(fd, (const char *)buf + put, n - put);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        put += (size_t)r;
    }
    return 0;
}

void tp_pipe_grow(int fd)
{
#ifdef F_SETPIPE_SZ
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
        (void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
#else
    (void)fd;
#endif
}

int tp_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s)
        return -1;
    *out = v;
    return 0;
}

int tp_parse_f64(const char *s, double *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno == ERANGE && fabs(v) > 1.0)
        return -1;
    if (*end || end == s)
        return -1;
    *out = v;
    return 0;
}

int tp_parse_hw(const char *s, int64_t *h, int64_t *w)
{
    char buf[64];
    if (!s || strlen(s) >= sizeof buf)
        return -1;
    strcpy(buf, s);
    char *x = strchr(buf, 'x');
    if (x)
        *x = 0;
    return tp_parse_i64(buf, h) || tp_parse_i64(x ? x + 1 : buf, w) ? -1 : 0;
}

double tp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

float tp_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ffu) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t tp_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0));
    if (ax >= 0x477ff000u) /* rounds to >= 65520: overflow */
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        float a;
        memcpy(&a, &ax, 4);
        /* the subnormal step is 2^-24; rint rounds half to even */
        return (uint16_t)(sign | (uint32_t)rintf(a * 16777216.0f));
    }
    uint32_t e = (ax >> 23) - 127 + 15;
    uint32_t m = ax & 0x7fffffu;
    uint32_t h = e << 10 | m >> 13;
    uint32_t rest = m & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        h++; /* carries into the exponent correctly */
    return (uint16_t)(sign | h);
}

void tp_swap_bytes(void *p, size_t n, size_t size)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++, b += size) {
        if (size == 2) {
            uint16_t v;
            memcpy(&v, b, 2);
            v = __builtin_bswap16(v);
            memcpy(b, &v, 2);
        } else if (size == 4) {
            uint32_t v;
            memcpy(&v, b, 4);
            v = __builtin_bswap32(v);
            memcpy(b, &v, 4);
        } else if (size == 8) {
            uint64_t v;
            memcpy(&v, b, 8);
            v = __builtin_bswap64(v);
            memcpy(b, &v, 8);
        }
    }
}

const char *tp_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

size_t tp_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (len == 0 || i + len > n)
            return i;
        unsigned cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        static const unsigned least[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += len;
    }
    return n;
}
