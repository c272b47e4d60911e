/* dtype.c — see dtype.h. */
#include "dtype.h"

#include <stdint.h>
#include <string.h>

#include "util.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[TP_NDTYPES] = {
    [TP_U8] = {"u8", 1},   [TP_I8] = {"i8", 1},   [TP_U16] = {"u16", 2},
    [TP_I16] = {"i16", 2}, [TP_I32] = {"i32", 4}, [TP_I64] = {"i64", 8},
    [TP_F16] = {"f16", 2}, [TP_F32] = {"f32", 4}, [TP_F64] = {"f64", 8},
};

size_t tp_dtype_size(tp_dtype d) { return (unsigned)d < TP_NDTYPES ? dtypes[d].size : 0; }
const char *tp_dtype_name(tp_dtype d) { return (unsigned)d < TP_NDTYPES ? dtypes[d].name : "?"; }
int tp_dtype_is_float(tp_dtype d) { return d == TP_F16 || d == TP_F32 || d == TP_F64; }

int tp_dtype_parse(const char *s, tp_dtype *d)
{
    for (int i = 0; i < TP_NDTYPES; i++)
        if (strcmp(s, dtypes[i].name) == 0) {
            *d = (tp_dtype)i;
            return 0;
        }
    return -1;
}

double tp_elem_as_double(const void *p, tp_dtype d, size_t i)
{
    TP_ASSERT((unsigned)d < TP_NDTYPES);
    return tp_elem_at(p, d, (int64_t)i);
}

int64_t tp_elem_as_int(const void *p, tp_dtype d)
{
    if (d == TP_I64) {
        int64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    double v = tp_elem_at(p, d, 0);
    return v == v && v > -9.2e18 && v < 9.2e18 ? (int64_t)v : INT64_MIN;
}

void tp_to_float(const void *p, tp_dtype d, size_t n, double scale, float *dst)
{
    if (d == TP_U8) {
        const uint8_t *u = p;
        for (size_t e = 0; e < n; e++)
            dst[e] = (float)(u[e] * scale);
    } else if (d == TP_F32 && scale == 1) {
        memcpy(dst, p, n * sizeof *dst);
    } else {
        for (size_t e = 0; e < n; e++)
            dst[e] = (float)(tp_elem_as_double(p, d, e) * scale);
    }
}
