/* Unit tests of the IDX reader (lib/idx.c) on files written here, plain and gzip. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "idx.h"
#include "util.h"

static char dir[] = "/tmp/tp_idx_XXXXXX";

/* Writes an IDX file: header for type/dims, then data bytes as given (big-endian already). */
static const char *write_idx(const char *name, int gz, unsigned char type, int nd, const uint32_t *dims,
                             const void *data, size_t n)
{
    static char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unsigned char h[4 + 4 * 9] = {0, 0, type, (unsigned char)nd};
    for (int i = 0; i < nd; i++) {
        h[4 + 4 * i] = (unsigned char)(dims[i] >> 24), h[5 + 4 * i] = (unsigned char)(dims[i] >> 16);
        h[6 + 4 * i] = (unsigned char)(dims[i] >> 8), h[7 + 4 * i] = (unsigned char)dims[i];
    }
    if (gz) {
        gzFile g = gzopen(path, "wb");
        gzwrite(g, h, 4 + 4 * (unsigned)nd);
        if (n)
            gzwrite(g, data, (unsigned)n);
        gzclose(g);
    } else {
        FILE *f = fopen(path, "wb");
        fwrite(h, 1, 4 + 4 * (size_t)nd, f);
        fwrite(data, 1, n, f);
        fclose(f);
    }
    return path;
}

static void test_types(void)
{
    for (int gz = 0; gz < 2; gz++) {
        uint32_t d[3] = {2, 2, 3};
        unsigned char u8[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 250, 255};
        tp_idx x;
        CHECK(tp_idx_open(&x, write_idx("u8", gz, 0x08, 3, d, u8, 12)) == 0);
        CHECK(x.dtype == TP_U8 && x.count == 2 && x.rank == 2 && x.shape[1] == 3 && x.item_bytes == 6);
        unsigned char got[12];
        CHECK(tp_idx_read(&x, got, 2) == 0 && memcmp(got, u8, 12) == 0);
        CHECK(tp_idx_check_end(&x) == 0);
        tp_idx_close(&x);

        /* i16 -2 and 258 big-endian: ff fe, 01 02 */
        uint32_t d1[1] = {2};
        unsigned char i16[4] = {0xff, 0xfe, 0x01, 0x02};
        CHECK(tp_idx_open(&x, write_idx("i16", gz, 0x0B, 1, d1, i16, 4)) == 0);
        int16_t s[2];
        CHECK(x.rank == 0 && tp_idx_read(&x, s, 2) == 0 && s[0] == -2 && s[1] == 258);
        tp_idx_close(&x);

        /* f32 1.5 = 0x3fc00000, f64 -0.25 = 0xbfd0000000000000 */
        unsigned char f32[4] = {0x3f, 0xc0, 0, 0};
        uint32_t one[1] = {1};
        CHECK(tp_idx_open(&x, write_idx("f32", gz, 0x0D, 1, one, f32, 4)) == 0);
        float f;
        CHECK(tp_idx_read(&x, &f, 1) == 0 && f == 1.5f);
        tp_idx_close(&x);
        unsigned char f64[8] = {0xbf, 0xd0, 0, 0, 0, 0, 0, 0};
        CHECK(tp_idx_open(&x, write_idx("f64", gz, 0x0E, 1, one, f64, 8)) == 0);
        double g;
        CHECK(tp_idx_read(&x, &g, 1) == 0 && g == -0.25);
        tp_idx_close(&x);
        unsigned char i8[1] = {0x80};
        CHECK(tp_idx_open(&x, write_idx("i8", gz, 0x09, 1, one, i8, 1)) == 0);
        int8_t c;
        CHECK(tp_idx_read(&x, &c, 1) == 0 && c == -128);
        tp_idx_close(&x);
        unsigned char i32[4] = {0x80, 0, 0, 1};
        CHECK(tp_idx_open(&x, write_idx("i32", gz, 0x0C, 1, one, i32, 4)) == 0);
        int32_t v;
        CHECK(tp_idx_read(&x, &v, 1) == 0 && v == (int32_t)0x80000001u);
        tp_idx_close(&x);

        /* skip, then read the rest */
        uint32_t d5[2] = {5, 2};
        unsigned char five[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
        CHECK(tp_idx_open(&x, write_idx("five", gz, 0x08, 2, d5, five, 10)) == 0);
        CHECK(tp_idx_skip(&x, 3) == 0 && tp_idx_read(&x, got, 2) == 0 && got[0] == 6 && got[3] == 9);
        CHECK(tp_idx_read(&x, got, 1) == -1);
        tp_idx_close(&x);
    }
}

static void expect_error(const char *path, const char *words, int read_all)
{
    tp_idx x;
    int rc = tp_idx_open(&x, path);
    if (rc == 0 && read_all) {
        unsigned char *b = malloc(x.item_bytes * (size_t)(x.count ? x.count : 1));
        rc = tp_idx_read(&x, b, x.count);
        if (rc == 0)
            rc = tp_idx_check_end(&x);
        free(b);
    }
    if (rc != -1 || !strstr(x.err, words)) {
        fprintf(stderr, "%s: rc %d, '%s', expected '%s'\n", path, rc, x.err, words);
        check_failures++;
    }
    tp_idx_close(&x);
}

static void test_errors(void)
{
    unsigned char data[64] = {0};
    uint32_t d[3] = {3, 2, 2};
    for (int gz = 0; gz < 2; gz++) {
        expect_error(write_idx("short", gz, 0x08, 3, d, data, 11), "truncated", 1);
        expect_error(write_idx("long", gz, 0x08, 3, d, data, 13), "follow", 1);
        expect_error(write_idx("type", gz, 0x07, 3, d, data, 12), "unknown IDX data type", 0);
        uint32_t zero[2] = {3, 0};
        expect_error(write_idx("zero", gz, 0x08, 2, zero, data, 0), "is zero", 0);
        uint32_t huge[4] = {1, 65536, 65536, 2};
        expect_error(write_idx("huge", gz, 0x08, 4, huge, data, 0), "larger than 2^32", 0);
        expect_error(write_idx("nd0", gz, 0x08, 0, d, data, 0), "dimensions", 0);
    }
    char path[400];
    snprintf(path, sizeof path, "%s/magic", dir);
    FILE *f = fopen(path, "wb");
    fwrite("\x01\x00\x08\x01\x00\x00\x00\x00", 1, 8, f);
    fclose(f);
    expect_error(path, "bad magic", 0);
    snprintf(path, sizeof path, "%s/empty", dir);
    fclose(fopen(path, "wb"));
    expect_error(path, "truncated IDX header", 0);
    expect_error("/nonexistent/file", "No such file", 0);

    /* a gzip file with its deflate data damaged */
    unsigned char big[4096];
    for (int i = 0; i < 4096; i++)
        big[i] = (unsigned char)(i * 7 % 13);
    uint32_t db[2] = {1024, 4};
    const char *p = write_idx("corrupt.gz", 1, 0x08, 2, db, big, 4096);
    FILE *g = fopen(p, "r+b");
    fseek(g, 30, SEEK_SET);
    fwrite("\xff\xff\xff\xff\xff\xff", 1, 6, g);
    fclose(g);
    expect_error(p, "corrupt gzip", 1);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    test_types();
    test_errors();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    return check_result();
}
