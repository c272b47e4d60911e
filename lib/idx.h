/* idx.h — reader for IDX files (LeCun's MNIST format), plain or gzip-compressed.
 *
 * IDX: two zero bytes, a type byte (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32,
 * 0x0E f64), the number of dimensions, then each dimension as a big-endian u32, then the
 * data big-endian, row-major. The first dimension counts items.
 */
#ifndef TP_IDX_H
#define TP_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"

typedef struct {
    void *gz; /* gzFile */
    tp_dtype dtype;
    int rank;                 /* dimensions after the first (0..TP_MAX_RANK) */
    int64_t shape[TP_MAX_RANK];
    int64_t count;            /* items in the file */
    int64_t next;             /* index of the next item to read */
    size_t item_bytes;        /* bytes of one item */
    int64_t plain_size;       /* size of an uncompressed regular file, -1 otherwise */
    char err[256];
} tp_idx;

/* Opens path (plain or gzip) and reads its header. 0, or -1 with the reason in x->err;
 * a failed open leaves nothing open. */
int tp_idx_open(tp_idx *x, const char *path);
/* The same on an open descriptor (the reader takes it over). */
int tp_idx_open_fd(tp_idx *x, int fd);
/* Skips n items. 0 or -1 (x->err). */
int tp_idx_skip(tp_idx *x, int64_t n);
/* Reads n items into dst, converted to little-endian. 0 or -1 (x->err: truncated, corrupt). */
int tp_idx_read(tp_idx *x, void *dst, int64_t n);
/* After all items: 0 when nothing follows them, -1 (x->err) when bytes are left over. */
int tp_idx_check_end(tp_idx *x);
void tp_idx_close(tp_idx *x);

#endif
