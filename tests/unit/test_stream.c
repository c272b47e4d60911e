/* Unit tests of the stream header, reader and writer (lib/stream.c, lib/outfile.c). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "stream.h"
#include "util.h"

/* A header built by hand, padded with spaces to 64 bytes per the spec. */
static char *padded(const char *text, size_t *len)
{
    size_t n = strlen(text); /* text ends with "end" (no newline) */
    size_t total = (n + 1 + 63) / 64 * 64;
    char *b = malloc(total + 1);
    memcpy(b, text, n);
    memset(b + n, ' ', total - n - 1);
    b[total - 1] = '\n';
    b[total] = 0;
    *len = total;
    return b;
}

static void test_format_exact(void)
{
    tp_header h;
    tp_header_init(&h);
    int64_t s[3] = {28, 28, 1};
    tp_header_add(&h, "x", TP_U8, 3, s);
    tp_header_add(&h, "y", TP_I32, 0, NULL);
    tp_header_set_meta(&h, "classes", "zero\none");
    h.count = 60000;
    size_t len;
    char *b = tp_header_format(&h, &len);
    size_t elen;
    char *want = padded("TPIPE 1\nfield x u8 28 28 1\nfield y i32\nmeta classes zero\nmeta classes one\n"
                        "count 60000\nend",
                        &elen);
    CHECK_INT(len, elen);
    CHECK(len % 64 == 0);
    CHECK(memcmp(b, want, elen) == 0);
    CHECK_INT(h.record_size, 788);
    CHECK_INT(h.fields[1].offset, 784);
    free(b);
    free(want);
    tp_header_free(&h);
}

static void test_parse_roundtrip(void)
{
    tp_header h, g;
    tp_header_init(&h);
    tp_header_init(&g);
    int64_t s[8] = {1, 2, 3, 4, 5, 6, 7, 2};
    tp_header_add(&h, "a.b-c_d", TP_F16, 8, s);
    tp_header_add(&h, "z", TP_F64, 1, s + 2);
    tp_header_set_meta(&h, "net", "conv 32 3x3 relu\n\nmaxpool 2\n  indented  ");
    tp_header_set_meta(&h, "empty", "");
    h.count = -1;
    size_t len;
    char *b = tp_header_format(&h, &len);
    char err[256] = "";
    CHECK(tp_header_parse(b, len, &g, err, sizeof err) == 0);
    CHECK(tp_header_same_fields(&h, &g));
    CHECK_INT(g.count, -1);
    CHECK(g.nmeta == 2);
    CHECK(strcmp(tp_header_get_meta(&g, "net"), "conv 32 3x3 relu\n\nmaxpool 2\n  indented  ") == 0);
    CHECK(strcmp(tp_header_get_meta(&g, "empty"), "") == 0);
    CHECK_INT(g.record_size, 2 * 1 * 2 * 3 * 4 * 5 * 6 * 7 * 2 + 8 * 3);
    free(b);
    /* 64-bit counts survive formatting and parsing */
    tp_header_free(&g);
    h.count = 5000000000LL;
    b = tp_header_format(&h, &len);
    CHECK(tp_header_parse(b, len, &g, err, sizeof err) == 0);
    CHECK(g.count == 5000000000LL);
    free(b);
    tp_header_free(&h);
    tp_header_free(&g);
}

/* Each malformed header must be refused with a message containing the given words. */
static void test_parse_errors(void)
{
    static const struct {
        const char *text, *words;
    } cases[] = {
        {"TPIPX 1\nfield x u8\ncount 1\nend", "bad magic"},
        {"TPIPE 2\nfield x u8\ncount 1\nend", "version"},
        {"TPIPE 1\ncount 1\nend", "no fields"},
        {"TPIPE 1\nfield x u8\nend", "no count"},
        {"TPIPE 1\nfield x u8\nfield x u8\ncount 1\nend", "twice"},
        {"TPIPE 1\nfield x u7\ncount 1\nend", "unknown dtype"},
        {"TPIPE 1\nfield x u8 1 1 1 1 1 1 1 1 1\ncount 1\nend", "more than 8"},
        {"TPIPE 1\nfield x u8 0\ncount 1\nend", "bad dimension"},
        {"TPIPE 1\nfield x u8 -3\ncount 1\nend", "bad dimension"},
        {"TPIPE 1\nfield x f32 1073741824 1073741824\ncount 1\nend", "too large"},
        {"TPIPE 1\nfield x u8 99999999999999999999\ncount 1\nend", "bad dimension"},
        {"TPIPE 1\nfield 9x u8\ncount 1\nend", "bad field name"},
        {"TPIPE 1\nfield x u8\ncount 1\ncount 2\nend", "count given twice"},
        {"TPIPE 1\nfield x u8\ncount -1\nend", "bad record count"},
        {"TPIPE 1\nfield x u8\ncount 1 2\nend", "after the count"},
        {"TPIPE 1\nfield x u8\ncount 1\nfrobnicate\nend", "unknown keyword"},
        {"TPIPE 1\nfield x u8\nmeta !bad v\ncount 1\nend", "metadata key"},
        {"TPIPE 1\nfield x\ncount 1\nend", "needs a name and a dtype"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len;
        char *b = padded(cases[i].text, &len);
        tp_header h;
        tp_header_init(&h);
        char err[256] = "";
        int rc = tp_header_parse(b, len, &h, err, sizeof err);
        if (rc != -1 || !strstr(err, cases[i].words)) {
            fprintf(stderr, "case %zu: rc %d, message '%s', expected '%s'\n", i, rc, err, cases[i].words);
            check_failures++;
        }
        free(b);
    }
    /* not padded to 64 */
    tp_header h;
    tp_header_init(&h);
    char err[256] = "";
    const char *t = "TPIPE 1\nfield x u8\ncount 1\nend\n";
    CHECK(tp_header_parse(t, strlen(t), &h, err, sizeof err) == -1 && strstr(err, "multiple of 64"));
}

/* A stream in memory: header + records. */
static unsigned char *make_stream(int64_t count, int n, size_t *len, int unknown)
{
    tp_header h;
    tp_header_init(&h);
    int64_t s = 3;
    tp_header_add(&h, "x", TP_U8, 1, &s);
    tp_header_add(&h, "y", TP_I32, 0, NULL);
    h.count = unknown ? -1 : count;
    size_t hl;
    char *hb = tp_header_format(&h, &hl);
    *len = hl + (size_t)n * 7;
    unsigned char *b = malloc(*len);
    memcpy(b, hb, hl);
    for (int i = 0; i < n; i++) {
        unsigned char *r = b + hl + (size_t)i * 7;
        r[0] = (unsigned char)i, r[1] = (unsigned char)(i * 2), r[2] = (unsigned char)(i * 3);
        int32_t y = i - 1;
        memcpy(r + 3, &y, 4);
    }
    free(hb);
    tp_header_free(&h);
    return b;
}

static void test_reader_mem(void)
{
    size_t len;
    unsigned char *b = make_stream(5, 5, &len, 0);
    char err[256];
    tp_reader *r = tp_reader_open_mem(b, len, err, sizeof err);
    CHECK(r != NULL);
    const unsigned char *rec;
    int i = 0;
    while ((rec = tp_reader_next(r))) {
        int32_t y;
        memcpy(&y, rec + 3, 4);
        CHECK(rec[2] == (unsigned char)(i * 3) && y == i - 1);
        i++;
    }
    CHECK_INT(i, 5);
    CHECK(tp_reader_error(r) == NULL);
    tp_reader_close(r);

    /* truncated: promise 6, deliver 5 */
    unsigned char *t = make_stream(6, 5, &len, 0);
    r = tp_reader_open_mem(t, len, err, sizeof err);
    i = 0;
    while (tp_reader_next(r))
        i++;
    CHECK_INT(i, 5);
    CHECK(tp_reader_error(r) && strstr(tp_reader_error(r), "truncated"));
    tp_reader_close(r);

    /* a partial last record */
    r = tp_reader_open_mem(b, len - 2, err, sizeof err);
    while (tp_reader_next(r))
        ;
    CHECK(tp_reader_error(r) && strstr(tp_reader_error(r), "truncated record 4"));
    tp_reader_close(r);

    /* count unknown: records to the end */
    unsigned char *u = make_stream(0, 4, &len, 1);
    r = tp_reader_open_mem(u, len, err, sizeof err);
    i = 0;
    while (tp_reader_next(r))
        i++;
    CHECK_INT(i, 4);
    CHECK(tp_reader_error(r) == NULL);
    tp_reader_close(r);
    r = tp_reader_open_mem(u, len - 3, err, sizeof err);
    while (tp_reader_next(r))
        ;
    CHECK(tp_reader_error(r) != NULL);
    tp_reader_close(r);

    /* empty input and a lone partial header */
    CHECK(tp_reader_open_mem(b, 0, err, sizeof err) == NULL && strstr(err, "empty"));
    CHECK(tp_reader_open_mem(b, 40, err, sizeof err) == NULL && strstr(err, "truncated header"));
    CHECK(tp_reader_open_mem("hello world", 11, err, sizeof err) == NULL && strstr(err, "bad magic"));
    free(b);
    free(t);
    free(u);
}

static void test_concat(void)
{
    size_t la, lb;
    unsigned char *a = make_stream(2, 2, &la, 0), *b = make_stream(0, 0, &lb, 0);
    unsigned char *c = make_stream(3, 3, &lb, 0);
    size_t lz;
    unsigned char *z = make_stream(0, 0, &lz, 0);
    size_t len = la + lz + lb;
    unsigned char *all = malloc(len);
    memcpy(all, a, la);
    memcpy(all + la, z, lz); /* an empty segment in the middle */
    memcpy(all + la + lz, c, lb);
    char err[256];
    tp_reader *r = tp_reader_open_mem(all, len, err, sizeof err);
    int i = 0;
    while (tp_reader_next(r))
        i++;
    CHECK_INT(i, 5);
    CHECK_INT(tp_reader_segments(r), 3);
    CHECK(tp_reader_error(r) == NULL);
    tp_reader_close(r);

    /* different fields in the second segment */
    tp_header h;
    tp_header_init(&h);
    tp_header_add(&h, "x", TP_F32, 0, NULL);
    h.count = 0;
    size_t hl;
    char *hb = tp_header_format(&h, &hl);
    unsigned char *bad = malloc(la + hl);
    memcpy(bad, a, la);
    memcpy(bad + la, hb, hl);
    r = tp_reader_open_mem(bad, la + hl, err, sizeof err);
    while (tp_reader_next(r))
        ;
    CHECK(tp_reader_error(r) && strstr(tp_reader_error(r), "different fields"));
    tp_reader_close(r);

    /* garbage after the last record */
    memcpy(bad + la, "junk", 4);
    r = tp_reader_open_mem(bad, la + 4, err, sizeof err);
    while (tp_reader_next(r))
        ;
    CHECK(tp_reader_error(r) && strstr(tp_reader_error(r), "bad magic"));
    tp_reader_close(r);
    free(hb);
    tp_header_free(&h);
    free(a), free(b), free(c), free(z), free(all), free(bad);
}

/* Writer to a file, reader back; an unknown count is patched in place. */
static void test_writer_file(void)
{
    char dir[] = "/tmp/tp_test_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[300];
    snprintf(path, sizeof path, "%s/out.tp", dir);
    tp_header h;
    tp_header_init(&h);
    int64_t s = 1000;
    tp_header_add(&h, "v", TP_F32, 1, &s);
    h.count = -1;
    tp_writer *w = tp_writer_open(path, &h);
    CHECK(access(path, F_OK) != 0); /* nothing under the real name until close */
    float *v = malloc(sizeof(float) * 1000 * 3000);
    for (int i = 0; i < 1000 * 3000; i++)
        v[i] = (float)i * 0.5f;
    tp_writer_write(w, v, 3000); /* 12 MB: passes the buffer */
    tp_writer_close(w);
    char err[256];
    tp_reader *r = tp_reader_open(path, err, sizeof err);
    CHECK(r != NULL);
    CHECK_INT(tp_reader_header(r)->count, 3000);
    float *back = malloc(sizeof(float) * 1000 * 3000);
    CHECK_INT(tp_reader_read(r, back, 5000), 3000);
    CHECK(memcmp(back, v, sizeof(float) * 1000 * 3000) == 0);
    tp_reader_close(r);
    unlink(path);
    rmdir(dir);
    free(v);
    free(back);
    tp_header_free(&h);
}

/* A record larger than the read buffer, through a pipe written in small pieces. */
static void test_pipe_big_record(void)
{
    tp_header h;
    tp_header_init(&h);
    int64_t s[2] = {1500, 1000}; /* 1.5 MB records, above the 1 MiB buffer */
    tp_header_add(&h, "x", TP_U8, 2, s);
    h.count = 3;
    size_t hl;
    char *hb = tp_header_format(&h, &hl);
    int fd[2];
    CHECK(pipe(fd) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        tp_write_full(fd[1], hb, hl);
        unsigned char chunk[777];
        for (size_t off = 0; off < 3 * h.record_size;) {
            size_t n = 3 * h.record_size - off < sizeof chunk ? 3 * h.record_size - off : sizeof chunk;
            for (size_t i = 0; i < n; i++)
                chunk[i] = (unsigned char)((off + i) % 251);
            tp_write_full(fd[1], chunk, n);
            off += n;
        }
        _exit(0);
    }
    close(fd[1]);
    int saved = dup(0);
    dup2(fd[0], 0);
    close(fd[0]);
    char err[256];
    tp_reader *r = tp_reader_open("-", err, sizeof err);
    CHECK(r != NULL);
    const unsigned char *rec;
    int k = 0, ok = 1;
    while ((rec = tp_reader_next(r))) {
        for (size_t i = 0; i < h.record_size; i++)
            ok &= rec[i] == (unsigned char)(((size_t)k * h.record_size + i) % 251);
        k++;
    }
    CHECK(ok);
    CHECK_INT(k, 3);
    CHECK(tp_reader_error(r) == NULL);
    tp_reader_close(r);
    dup2(saved, 0);
    close(saved);
    waitpid(pid, NULL, 0);
    free(hb);
    tp_header_free(&h);
}

static void test_header_edit(void)
{
    tp_header h, c;
    tp_header_init(&h);
    int64_t s = 4;
    tp_header_add(&h, "a", TP_U8, 1, &s);
    tp_header_add(&h, "b", TP_F64, 1, &s);
    tp_header_add(&h, "c", TP_I16, 0, NULL);
    tp_header_remove_field(&h, 1);
    CHECK_INT(h.nfields, 2);
    CHECK_INT(h.record_size, 6);
    CHECK_INT(h.fields[1].offset, 4);
    CHECK_INT(tp_header_find(&h, "c"), 1);
    CHECK_INT(tp_header_find(&h, "b"), -1);
    tp_header_set_meta(&h, "k", "1");
    tp_header_set_meta(&h, "k", "2");
    tp_header_copy(&c, &h);
    tp_header_del_meta(&h, "k");
    CHECK(tp_header_get_meta(&h, "k") == NULL);
    CHECK(strcmp(tp_header_get_meta(&c, "k"), "2") == 0);
    char err[128];
    CHECK(tp_header_add_field(&h, "a", TP_U8, 0, NULL, err, sizeof err) == -1);
    /* class names: line k of the classes metadata, else the number */
    tp_header_set_meta(&h, "classes", "cat\n\ndog");
    char name[8];
    tp_class_name(&h, 0, name, sizeof name);
    CHECK(strcmp(name, "cat") == 0);
    tp_class_name(&h, 1, name, sizeof name); /* an empty line */
    CHECK(strcmp(name, "1") == 0);
    tp_class_name(&h, 2, name, sizeof name);
    CHECK(strcmp(name, "dog") == 0);
    tp_class_name(&h, 7, name, sizeof name);
    CHECK(strcmp(name, "7") == 0);
    tp_class_name(&h, -1, name, sizeof name);
    CHECK(strcmp(name, "-1") == 0);
    tp_header_set_meta(&h, "classes", "a-very-long-class-name");
    CHECK(tp_meta_line(&h, "classes", 0, name, sizeof name) == 0 && strcmp(name, "a-very-") == 0);
    CHECK(tp_meta_line(&h, "nothing", 0, name, sizeof name) == -1 && name[0] == 0);
    tp_header_free(&h);
    tp_header_free(&c);
}

/* Limits on fields and keys, and no quadratic cost at the 16 MiB header size. */
static void test_big_headers(void)
{
    size_t cap = 17u << 20, n = 0;
    char *t = malloc(cap);
    n += (size_t)sprintf(t + n, "TPIPE 1\n");
    for (int i = 0; i < TP_MAX_FIELDS; i++)
        n += (size_t)sprintf(t + n, "field f%d u8\n", i);
    for (int i = 0; i < TP_MAX_META_KEYS; i++)
        n += (size_t)sprintf(t + n, "meta k%d v\n", i);
    while (n < (15u << 20)) /* a long multi-line value, and lines returning to earlier keys */
        n += (size_t)sprintf(t + n, "meta k%d line of a long value\n", (int)(n / 4096 % 2 ? 0 : 7));
    n += (size_t)sprintf(t + n, "count 0\nend");
    while ((n + 1) % 64)
        t[n++] = ' ';
    t[n++] = '\n';
    tp_header h;
    tp_header_init(&h);
    char err[256] = "";
    clock_t t0 = clock(); /* CPU time: a loaded machine does not stretch it */
    CHECK(tp_header_parse(t, n, &h, err, sizeof err) == 0);
    double took = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(took < 30.0); /* about 0.1 s here (0.3 s under ASan); quadratic parsing took minutes */
    CHECK_INT(h.nfields, TP_MAX_FIELDS);
    CHECK_INT(h.nmeta, TP_MAX_META_KEYS);
    CHECK(strncmp(tp_header_get_meta(&h, "k0"), "v\nline of a long value", 22) == 0);
    CHECK(strncmp(tp_header_get_meta(&h, "k7"), "v\nline of a long value", 22) == 0);
    tp_header_free(&h);
    /* one field or key too many */
    const char *more[] = {"field extra u8\n", "meta extra v\n"};
    for (int k = 0; k < 2; k++) {
        size_t m = (size_t)sprintf(t, "TPIPE 1\n");
        int count = k ? TP_MAX_META_KEYS : TP_MAX_FIELDS;
        if (k)
            m += (size_t)sprintf(t + m, "field x u8\n");
        for (int i = 0; i < count; i++)
            m += (size_t)sprintf(t + m, k ? "meta k%d v\n" : "field f%d u8\n", i);
        m += (size_t)sprintf(t + m, "%scount 0\nend", more[k]);
        while ((m + 1) % 64)
            t[m++] = ' ';
        t[m++] = '\n';
        tp_header_init(&h);
        CHECK(tp_header_parse(t, m, &h, err, sizeof err) == -1);
        CHECK(strstr(err, k ? "more than 256 metadata keys" : "more than 4096 fields") != NULL);
    }
    free(t);
}

int main(void)
{
    test_big_headers();
    test_format_exact();
    test_parse_roundtrip();
    test_parse_errors();
    test_reader_mem();
    test_concat();
    test_writer_file();
    test_pipe_big_record();
    test_header_edit();
    return check_result();
}
