/* Unit tests of .npy headers (lib/npy.c) against header texts in numpy's own spelling. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "npy.h"
#include "util.h"

/* A .npy v1.0 preamble + dict, padded as numpy pads. */
static char *npy(const char *dict, size_t *len)
{
    size_t d = strlen(dict), total = (10 + d + 1 + 63) / 64 * 64;
    char *b = calloc(1, total + 16);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (char)((total - 10) & 0xff);
    b[9] = (char)((total - 10) >> 8);
    memcpy(b + 10, dict, d);
    memset(b + 10 + d, ' ', total - 10 - d - 1);
    b[total - 1] = '\n';
    *len = total;
    return b;
}

static int parse(const char *dict, tp_npy_info *info, char *err)
{
    size_t len;
    char *b = npy(dict, &len);
    tp_header_init(&info->h);
    int rc = tp_npy_parse(b, len, "x", info, err, 256);
    if (rc == 0)
        CHECK_INT(info->data_offset, len);
    tp_npy_info scratch;
    tp_header_init(&scratch.h);
    CHECK(tp_npy_parse(b, 9, "x", &scratch, err, 256) == 1); /* too short: wants more */
    CHECK(tp_npy_parse(b, len - 1, "x", &scratch, err, 256) == 1);
    tp_npy_info_free(&scratch);
    free(b);
    return rc;
}

int main(void)
{
    tp_npy_info in;
    char err[256];
    CHECK(parse("{'descr': '<f4', 'fortran_order': False, 'shape': (100, 28, 28), }", &in, err) == 0);
    CHECK_INT(in.count, 100);
    CHECK(in.h.nfields == 1 && in.h.fields[0].dtype == TP_F32 && in.h.fields[0].rank == 2);
    CHECK(strcmp(in.h.fields[0].name, "x") == 0 && in.swap[0] == 0);
    tp_npy_info_free(&in);

    CHECK(parse("{'descr': [('x', '|u1', (28, 28, 1)), ('y', '<i4')], 'fortran_order': False, 'shape': (5,), }",
                &in, err) == 0);
    CHECK(in.count == 5 && in.h.nfields == 2 && in.h.record_size == 788);
    tp_npy_info_free(&in);

    CHECK(parse("{'descr': '>i2', 'fortran_order': False, 'shape': (3L, 4L), }", &in, err) == 0);
    CHECK(in.count == 3 && in.h.fields[0].dtype == TP_I16 && in.swap[0] == 1 && in.h.fields[0].shape[0] == 4);
    tp_npy_info_free(&in);

    CHECK(parse("{\"descr\": \"|b1\", \"fortran_order\": True, \"shape\": (7,)}", &in, err) == 0);
    CHECK(in.count == 7 && in.h.fields[0].dtype == TP_U8 && in.h.fields[0].rank == 0);
    tp_npy_info_free(&in);

    CHECK(parse("{'descr': [(('title', 'a'), '<f8', 3)], 'fortran_order': False, 'shape': (2,), }", &in, err) == 0);
    CHECK(strcmp(in.h.fields[0].name, "a") == 0 && in.h.fields[0].shape[0] == 3);
    tp_npy_info_free(&in);

    static const struct {
        const char *dict, *words;
    } bad[] = {
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", "Fortran"},
        {"{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }", "no tpipe equivalent"},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", "no tpipe equivalent"},
        {"{'descr': [('', '|V4'), ('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "no tpipe equivalent"},
        {"{'descr': [('a', [('b', '<f4')])], 'fortran_order': False, 'shape': (2,), }", "nested"},
        {"{'descr': '<f4', 'shape': (2,), }", "lacks"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0), }", "dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,", "unterminated"},
        {"['descr']", "not a dict"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = parse(bad[i].dict, &in, err);
        if (rc != -1 || !strstr(err, bad[i].words)) {
            fprintf(stderr, "bad case %zu: rc %d, '%s', expected '%s'\n", i, rc, err, bad[i].words);
            check_failures++;
        }
        tp_npy_info_free(&in);
    }
    size_t len;
    CHECK(tp_npy_parse("\x93NUMPZ\x01\x00\x10\x00", 10, "x", &in, err, sizeof err) == -1 && strstr(err, "magic"));

    /* what we write parses back, and a rewrite with a larger count keeps the same length */
    tp_header h;
    tp_header_init(&h);
    int64_t s[3] = {28, 28, 1};
    tp_header_add(&h, "x", TP_U8, 3, s);
    tp_header_add(&h, "y", TP_I32, 0, NULL);
    char *b = tp_npy_header(&h, -1, 0, 0, &len);
    CHECK(len % 64 == 0);
    CHECK(strstr(b + 10, "{'descr': [('x', '|u1', (28, 28, 1)), ('y', '<i4')], 'fortran_order': False, 'shape': (0,), }"));
    size_t len2;
    char *b2 = tp_npy_header(&h, -1, 9223372036854775807LL, len, &len2);
    CHECK_INT(len2, len);
    tp_header_init(&in.h);
    CHECK(tp_npy_parse(b2, len2, "x", &in, err, sizeof err) == 0);
    CHECK(in.count == 9223372036854775807LL && tp_header_same_fields(&in.h, &h));
    tp_npy_info_free(&in);
    char *b3 = tp_npy_header(&h, 0, 60000, 0, &len);
    CHECK(strstr(b3 + 10, "{'descr': '|u1', 'fortran_order': False, 'shape': (60000, 28, 28, 1), }"));
    free(b), free(b2), free(b3);
    tp_header_free(&h);
    return check_result();
}
