/* Unit tests of lib/util.c: half floats, checked arithmetic, strict parsing, pipe I/O. */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "util.h"

static void test_half(void)
{
    /* values worked by hand from the IEEE 754 binary16 layout */
    CHECK_INT(tp_float_to_half(1.0f), 0x3c00);
    CHECK_INT(tp_float_to_half(-2.0f), 0xc000);
    CHECK_INT(tp_float_to_half(65504.0f), 0x7bff);
    CHECK_INT(tp_float_to_half(65520.0f), 0x7c00);  /* rounds up to infinity */
    CHECK_INT(tp_float_to_half(0x1p-24f), 0x0001);  /* smallest subnormal */
    CHECK_INT(tp_float_to_half(0x1p-25f), 0x0000);  /* a tie: rounds to even (zero) */
    CHECK_INT(tp_float_to_half(0x1.8p-24f), 0x0002); /* tie between 1 and 2: to even */
    CHECK_INT(tp_float_to_half(1.0f + 0x1p-11f), 0x3c00); /* tie: to even */
    CHECK_INT(tp_float_to_half(1.0f + 0x1.8p-11f), 0x3c01);
    CHECK_INT(tp_float_to_half(1.0f + 0x1p-10f + 0x1p-11f), 0x3c02); /* tie: odd rounds up */
    CHECK_INT(tp_float_to_half(0x1p-14f), 0x0400); /* smallest normal */
    CHECK(tp_half_to_float(0x3555) > 0.333f && tp_half_to_float(0x3555) < 0.3334f);
    CHECK(isinf(tp_half_to_float(0xfc00)) && tp_half_to_float(0xfc00) < 0);
    CHECK(isnan(tp_half_to_float(0x7e00)));
    CHECK(isnan(tp_half_to_float(tp_float_to_half(NAN))) );
    /* every half that is not NaN survives half -> float -> half */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            continue;
        bad += tp_float_to_half(tp_half_to_float((uint16_t)h)) != h;
    }
    CHECK_INT(bad, 0);
}

static void test_numbers(void)
{
    size_t r = 0;
    CHECK(tp_mul_ok(1u << 20, 1u << 20, &r) == 0 && r == (size_t)1 << 40);
    CHECK(tp_mul_ok(SIZE_MAX / 2 + 1, 2, &r) == -1);
    int64_t v;
    CHECK(tp_parse_i64("123", &v) == 0 && v == 123);
    CHECK(tp_parse_i64("-7", &v) == 0 && v == -7);
    CHECK(tp_parse_i64("12x", &v) == -1);
    CHECK(tp_parse_i64("", &v) == -1);
    CHECK(tp_parse_i64("99999999999999999999", &v) == -1);
    double d;
    CHECK(tp_parse_f64("0.25", &d) == 0 && d == 0.25);
    CHECK(tp_parse_f64("1e-3", &d) == 0 && d == 1e-3);
    CHECK(tp_parse_f64("abc", &d) == -1);
    CHECK(tp_parse_f64("1.5.2", &d) == -1);
    CHECK(tp_parse_f64("1e999", &d) == -1);
    int64_t hh, ww;
    CHECK(tp_parse_hw("224x128", &hh, &ww) == 0 && hh == 224 && ww == 128);
    CHECK(tp_parse_hw("28", &hh, &ww) == 0 && hh == 28 && ww == 28);
    CHECK(tp_parse_hw("3x", &hh, &ww) == -1 && tp_parse_hw("x3", &hh, &ww) == -1 && tp_parse_hw("3x4x5", &hh, &ww) == -1);
    CHECK(tp_parse_hw("abc", &hh, &ww) == -1 && tp_parse_hw("", &hh, &ww) == -1);
    CHECK(strcmp(tp_basename("a/b/c.tp"), "c.tp") == 0);
    CHECK(strcmp(tp_basename("c.tp"), "c.tp") == 0);
    uint32_t w[2] = {0x01020304, 0x0a0b0c0d};
    tp_swap_bytes(w, 2, 4);
    CHECK(w[0] == 0x04030201 && w[1] == 0x0d0c0b0a);
}

/* tp_read_full gathers a pipe's short writes into one full buffer. */
static void test_read_full(void)
{
    int fd[2];
    CHECK(pipe(fd) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        for (int i = 0; i < 100; i++) {
            unsigned char b[7];
            for (int k = 0; k < 7; k++)
                b[k] = (unsigned char)(i * 7 + k);
            tp_write_full(fd[1], b, 7);
            usleep(100);
        }
        _exit(0);
    }
    close(fd[1]);
    unsigned char buf[800];
    CHECK_INT(tp_read_full(fd[0], buf, 800), 700);
    int ok = 1;
    for (int i = 0; i < 700; i++)
        ok &= buf[i] == (unsigned char)i;
    CHECK(ok);
    close(fd[0]);
    waitpid(pid, NULL, 0);
}

int main(void)
{
    test_half();
    test_numbers();
    test_read_full();
    return check_result();
}
