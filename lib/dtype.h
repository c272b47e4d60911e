/* dtype.h — the element types of tensor fields, and their conversion to numbers.
 *
 * The ground floor of every tensor: the stream format (stream.h), the models (model.h)
 * and the GPU's record layouts (gpu_nn.h) name element types with tp_dtype. */
#ifndef TP_DTYPE_H
#define TP_DTYPE_H

#include <stddef.h>

typedef enum { TP_U8, TP_I8, TP_U16, TP_I16, TP_I32, TP_I64, TP_F16, TP_F32, TP_F64, TP_NDTYPES } tp_dtype;

/* Bytes per element of dtype d. */
size_t tp_dtype_size(tp_dtype d);
/* The format's spelling of d ("u8", ...). */
const char *tp_dtype_name(tp_dtype d);
/* The dtype named s into *d; 0, or -1 for an unknown name. */
int tp_dtype_parse(const char *s, tp_dtype *d);
/* 1 for f16/f32/f64. */
int tp_dtype_is_float(tp_dtype d);

/* Element i of data of dtype d at p (p need not be aligned), as a double. */
double tp_elem_as_double(const void *p, tp_dtype d, size_t i);
/* n elements of dtype d at p, each times scale, as floats into dst: how every stage turns a
 * field into network or image input (u8 and f32 take fast paths with the same results). */
void tp_to_float(const void *p, tp_dtype d, size_t n, double scale, float *dst);

#endif
