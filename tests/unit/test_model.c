#define _GNU_SOURCE
/* test_model.c — model streams (model.h): a written model reads back, and each of the
 * checks every kind shares refuses what it should: another kind, no record, a second record,
 * bytes after the record, a count that lies, a cut, a missing tensor, another dtype or shape,
 * a value that is not finite, a field left over. A network model round-trips through
 * tp_model_write_net / tp_model_read_net, and a history record is packed field by field. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "model.h"
#include "nn.h"
#include "util.h"

static char path[64];

/* A model of kind "demo": a f64[2,3] tensor "a" and an i32 scalar "b", whose header and record
 * are written as the bytes of a file, with extra appended (may be NULL). */
static void write_demo(const char *kind, const double *a, const char *extra, size_t extra_len)
{
    tp_header meta;
    tp_header_init(&meta);
    tp_header_set_meta(&meta, "kind", kind);
    int32_t b = 7;
    tp_tensor t[2] = {{"a", TP_F64, 2, {2, 3}, a}, {"b", TP_I32, 0, {0}, &b}};
    tp_model_write(path, &meta, t, 2);
    tp_header_free(&meta);
    if (extra) {
        FILE *f = fopen(path, "ab");
        CHECK(f && fwrite(extra, 1, extra_len, f) == extra_len);
        fclose(f);
    }
}

/* Opens the demo model and takes its tensors as written: 0, or -1 with err. */
static int read_demo(double *a, int32_t *b, char *err, size_t n)
{
    tp_model m;
    int rc = -1;
    int64_t sa[2] = {-1, 3};
    const tp_field *fa, *fb;
    if (tp_model_open(&m, path, "demo", err, n) == 0 && (fa = tp_model_tensor(&m, "a", TP_F64, 2, sa, err, n)) &&
        (fb = tp_model_tensor(&m, "b", TP_I32, 0, NULL, err, n)) && tp_model_all_taken(&m, err, n) == 0) {
        CHECK_INT(sa[0], 2);
        tp_model_take(&m, fa, a);
        tp_model_take(&m, fb, b);
        rc = 0;
    }
    tp_model_close(&m);
    return rc;
}

static void expect_refused(const char *want)
{
    double a[6];
    int32_t b;
    char err[512] = "";
    CHECK_INT(read_demo(a, &b, err, sizeof err), -1);
    if (!strstr(err, want)) {
        fprintf(stderr, "expected '%s' in '%s'\n", want, err);
        CHECK(0);
    }
}

/* The file's bytes, or with its header's count line replaced by count. */
static void set_count(const char *count)
{
    FILE *f = fopen(path, "rb");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char *c = memmem(buf, n, "count 1", 7);
    CHECK(c != NULL);
    memcpy(c, count, 7);
    f = fopen(path, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
}

static void test_generic(void)
{
    double a[6] = {1, -2, 3.5, 4, 5e300, -6e-300}, got[6];
    int32_t b = 0;
    char err[512];
    write_demo("demo", a, NULL, 0);
    CHECK_INT(read_demo(got, &b, err, sizeof err), 0);
    CHECK(memcmp(a, got, sizeof a) == 0);
    CHECK_INT(b, 7);

    write_demo("other", a, NULL, 0);
    expect_refused("not a demo model (its metadata says kind other)");
    write_demo("demo", a, NULL, 0);
    set_count("count 2");
    expect_refused("truncated: the header promised 1 more records");
    write_demo("demo", a, NULL, 0);
    set_count("count 0");
    expect_refused("not a tpipe stream");
    write_demo("demo", a, "trailing", 8);
    expect_refused("not a tpipe stream");
    /* a second record of the same stream, concatenated */
    write_demo("demo", a, NULL, 0);
    FILE *f = fopen(path, "rb");
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    f = fopen(path, "ab");
    fwrite(buf, 1, n, f);
    fclose(f);
    expect_refused("a model holds one record, this more");
    /* cut short inside the record */
    write_demo("demo", a, NULL, 0);
    CHECK(truncate(path, (off_t)n - 5) == 0);
    expect_refused("truncated record 0");
    /* a non-finite value */
    double bad[6] = {1, 2, NAN, 4, 5, 6};
    write_demo("demo", bad, NULL, 0);
    expect_refused("tensor 'a' holds a value that is not finite (element 2)");
    bad[2] = INFINITY;
    write_demo("demo", bad, NULL, 0);
    expect_refused("not finite");
}

/* Models whose tensors differ from what the reader asks for. */
static void test_tensors(void)
{
    tp_header meta;
    tp_header_init(&meta);
    tp_header_set_meta(&meta, "kind", "demo");
    double a[8] = {0};
    float af[6] = {0};
    int32_t b = 1;
    tp_tensor wrong_dtype[2] = {{"a", TP_F32, 2, {2, 3}, af}, {"b", TP_I32, 0, {0}, &b}};
    tp_model_write(path, &meta, wrong_dtype, 2);
    expect_refused("tensor 'a' is f32[2,3], not f64[2,3]");
    tp_tensor wrong_shape[2] = {{"a", TP_F64, 2, {2, 4}, a}, {"b", TP_I32, 0, {0}, &b}};
    tp_model_write(path, &meta, wrong_shape, 2);
    expect_refused("tensor 'a' is f64[2,4], not f64[2,3]");
    tp_tensor missing[1] = {{"a", TP_F64, 2, {2, 3}, a}};
    tp_model_write(path, &meta, missing, 1);
    expect_refused("the demo model has no tensor 'b'");
    tp_tensor extra[3] = {{"a", TP_F64, 2, {2, 3}, a}, {"b", TP_I32, 0, {0}, &b}, {"c", TP_U8, 1, {1}, a}};
    tp_model_write(path, &meta, extra, 3);
    expect_refused("field 'c' is no tensor of a demo model");
    tp_header_free(&meta);
}

/* tp_net_build refuses what no model could hold before it allocates: parameters past 2^30
 * (once a sum that wrapped around size_t and allocated a short block), and an input whose
 * flatten overflowed an int. */
static void test_network_limits(void)
{
    static const struct {
        const char *text;
        int h, w, c;
        const char *want;
    } cases[] = {
        {"conv 65536 1024x1024 pad=same\ndense 2 softmax\n", 28, 28, 1, "big.net:1: the network has more than 2^30"},
        {"flatten\ndense 16777216\ndense 16777216\ndense 2 softmax\n", 28, 28, 1, "big.net:2: the network has more than 2^30"},
        {"flatten\ndense 2 softmax\n", 65536, 65536, 1, "big.net:1: the input is 65536x65536x1; a network takes"},
        {"flatten\ndense 2 softmax\n", 1, 1, 0, "big.net:1: the input is 1x1x0;"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        tp_net net;
        char err[512] = "";
        memset(&net, 0, sizeof net);
        CHECK_INT(tp_net_parse(&net, cases[i].text, "big.net", err, sizeof err), 0);
        CHECK_INT(tp_net_build(&net, cases[i].h, cases[i].w, cases[i].c, "big.net", err, sizeof err), -1);
        CHECK(strncmp(err, cases[i].want, strlen(cases[i].want)) == 0);
        tp_net_free(&net);
    }
    /* convolutions of 2^26 + 2^8 parameters each: past 2^30 at the 16th */
    size_t cap = 64 * 32 + 32, k = 0;
    char *text = malloc(cap), err[512] = "";
    CHECK(text != NULL);
    for (int i = 0; i < 64; i++)
        k += (size_t)snprintf(text + k, cap - k, "conv 256 32x32 pad=same\n");
    snprintf(text + k, cap - k, "gap\ndense 2 softmax\n");
    tp_net net;
    memset(&net, 0, sizeof net);
    CHECK_INT(tp_net_parse(&net, text, "deep.net", err, sizeof err), 0);
    CHECK_INT(tp_net_build(&net, 4, 4, 256, "deep.net", err, sizeof err), -1);
    const char *want = "deep.net:16: the network has more than 2^30 parameters";
    CHECK(strncmp(err, want, strlen(want)) == 0);
    tp_net_free(&net);
    free(text);
}

static void test_network(void)
{
    const char *text = "conv 3 3x3 relu\nbatchnorm\nmaxpool 2\nflatten\ndense 4 softmax\n";
    tp_net net, back;
    char err[512];
    memset(&net, 0, sizeof net);
    CHECK_INT(tp_net_parse(&net, text, "t.net", err, sizeof err), 0);
    CHECK_INT(tp_net_build(&net, 8, 8, 1, "t.net", err, sizeof err), 0);
    tp_net_init(&net, 3);
    for (size_t i = 0; i < net.nparams; i++)
        net.params[i] += (float)i * 1e-3f; /* moving statistics too */
    tp_header meta, h;
    tp_header_init(&meta);
    tp_header_set_meta(&meta, "classes", "a\nb\nc\nd");
    tp_model_write_net(path, &net, &meta);
    tp_model_read_net(path, &back, &h);
    CHECK_INT(back.nparams, net.nparams);
    CHECK(memcmp(back.params, net.params, net.nparams * sizeof(float)) == 0);
    CHECK(strcmp(tp_header_get_meta(&h, "classes"), "a\nb\nc\nd") == 0);
    CHECK(strcmp(tp_header_get_meta(&h, "input"), "8 8 1") == 0);
    CHECK(strcmp(tp_header_get_meta(&h, "kind"), "model") == 0);
    /* the fields in Keras' layouts, in layer order */
    const char *names[] = {"L1.w", "L1.b", "L2.gamma", "L2.beta", "L2.mean", "L2.var", "L5.w", "L5.b"};
    CHECK_INT(h.nfields, 8);
    for (int i = 0; i < 8 && i < h.nfields; i++)
        CHECK(strcmp(h.fields[i].name, names[i]) == 0);
    CHECK(h.fields[0].rank == 4 && h.fields[0].shape[0] == 3 && h.fields[0].shape[2] == 1 && h.fields[0].shape[3] == 3);
    CHECK(h.fields[6].rank == 2 && h.fields[6].shape[0] == 27 && h.fields[6].shape[1] == 4);
    tp_header_free(&h);
    tp_header_free(&meta);
    tp_net_free(&back);
    tp_net_free(&net);
}

/* A history record: epoch i32 then six f32, packed at their offsets. */
static void test_pack(void)
{
    int32_t epoch = 3;
    float v[2] = {0.5f, -1.25f};
    tp_tensor t[3] = {{"epoch", TP_I32, 0, {0}, &epoch}, {"loss", TP_F32, 0, {0}, v}, {"lr", TP_F32, 0, {0}, v + 1}};
    tp_header h;
    tp_model_header(&h, NULL, t, 3);
    CHECK_INT(h.record_size, 12);
    CHECK_INT(h.nmeta, 0);
    unsigned char rec[12], want[12];
    tp_model_pack(&h, t, 3, rec);
    memcpy(want, &epoch, 4);
    memcpy(want + 4, v, 8);
    CHECK(memcmp(rec, want, 12) == 0);
    tp_header_free(&h);
}

int main(void)
{
    tp_init("test_model");
    snprintf(path, sizeof path, "/tmp/tp_model_%d.tp", (int)getpid());
    test_generic();
    test_tensors();
    test_network();
    test_network_limits();
    test_pack();
    unlink(path);
    return check_result();
}
