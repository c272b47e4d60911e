/* dtype.h — the element types of tensor fields, and their conversion to numbers.
 *
 * The ground floor of every tensor: the stream format (stream.h), the models (model.h)
 * and the GPU's record layouts (gpu_nn.h) name element types with tp_dtype. */
#ifndef TP_DTYPE_H
#define TP_DTYPE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hostdev.h"

typedef enum { TP_U8, TP_I8, TP_U16, TP_I16, TP_I32, TP_I64, TP_F16, TP_F32, TP_F64, TP_NDTYPES } tp_dtype;

/* Bytes per element of dtype d. */
size_t tp_dtype_size(tp_dtype d);
/* The format's spelling of d ("u8", ...). */
const char *tp_dtype_name(tp_dtype d);
/* The dtype named s into *d; 0, or -1 for an unknown name. */
int tp_dtype_parse(const char *s, tp_dtype *d);
/* 1 for f16/f32/f64. */
int tp_dtype_is_float(tp_dtype d);

/* IEEE half bits as a float (exact). */
TP_HD static inline float tp_half_bits(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0 ? (float)m * 0x1p-24f : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(1024 + m), e - 25);
    return (h & 0x8000) ? -v : v;
}

/* Element j of data of dtype d at p (p need not be aligned), as a double: the one reading of
 * an element, on the CPU and in the GPU's kernels. */
TP_HD static inline double tp_elem_at(const unsigned char *p, tp_dtype d, int64_t j)
{
    switch (d) {
    case TP_U8: return p[j];
    case TP_I8: return (int8_t)p[j];
    case TP_U16: { uint16_t v; memcpy(&v, p + 2 * j, 2); return v; }
    case TP_I16: { int16_t v; memcpy(&v, p + 2 * j, 2); return v; }
    case TP_I32: { int32_t v; memcpy(&v, p + 4 * j, 4); return v; }
    case TP_I64: { int64_t v; memcpy(&v, p + 8 * j, 8); return (double)v; }
    case TP_F16: { uint16_t v; memcpy(&v, p + 2 * j, 2); return tp_half_bits(v); }
    case TP_F32: { float v; memcpy(&v, p + 4 * j, 4); return v; }
    case TP_F64: { double v; memcpy(&v, p + 8 * j, 8); return v; }
    default: return NAN;
    }
}

/* Element i of data of dtype d at p, as a double (tp_elem_at). */
double tp_elem_as_double(const void *p, tp_dtype d, size_t i);
/* The integer at p of an integer dtype d, exactly (int64 values beyond 2^53 included); a
 * float dtype's value truncated toward zero. */
int64_t tp_elem_as_int(const void *p, tp_dtype d);
/* n elements of dtype d at p, each times scale, as floats into dst: how every stage turns a
 * field into network or image input (u8 and f32 take fast paths with the same results). */
void tp_to_float(const void *p, tp_dtype d, size_t n, double scale, float *dst);

#endif
