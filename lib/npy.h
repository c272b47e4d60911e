/* npy.h — NumPy .npy headers: write one for a stream's records, parse one into fields.
 *
 * .npy: "\x93NUMPY", major, minor, header length (u16 LE in 1.0, u32 LE in 2.0), then a
 * Python dict literal {'descr': ..., 'fortran_order': False, 'shape': (N, ...), } padded with
 * spaces and a final \n so the data starts at a multiple of 64. A stream's records map to a
 * structured descr [('x', '|u1', (28, 28, 1)), ('y', '<i4')] with the same bytes, so the body
 * of a .npy written here is exactly the stream's body.
 */
#ifndef TP_NPY_H
#define TP_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"

/* The .npy header for count records: field < 0 gives a structured array of all fields;
 * field >= 0 gives a plain array of that field, shape (count, *field shape). With total == 0
 * the padding keeps at least 24 spare bytes, so that any later count fits in a header of the
 * same length; with total > 0 the header is exactly total bytes (it must fit). Returns a
 * malloc'd buffer, length in *len (a multiple of 64). */
char *tp_npy_header(const tp_header *h, int field, int64_t count, size_t total, size_t *len);

typedef struct {
    tp_header h;      /* the fields of one row (a plain array gives one field named by the caller) */
    int64_t count;    /* rows (the first dimension; 1 for a 0-d array) */
    size_t data_offset; /* where the data starts */
    unsigned char *swap; /* per field: 1 when stored big-endian (swap before use) */
} tp_npy_info;

/* Frees what tp_npy_parse put in info. */
void tp_npy_info_free(tp_npy_info *info);

/* Parses the header at the start of buf[0..len) (len may extend past it). A plain array
 * becomes one field called plain_name with the dimensions after the first; a structured one
 * its own fields. Returns 0, 1 when buf holds too few bytes for the whole header (read more),
 * or -1 with a message in err. info->h must be initialised with tp_header_init. */
int tp_npy_parse(const char *buf, size_t len, const char *plain_name, tp_npy_info *info, char *err, size_t errlen);

#endif
