/* pass.c — see pass.h. */
#include "pass.h"

#include <stdlib.h>

#include "util.h"

#define CHUNK_BYTES ((size_t)4 << 20)

/* Records per chunk: as many of the larger layout as fit CHUNK_BYTES, at least 1. */
static int64_t chunk_of(const tp_header *in, const tp_header *out)
{
    size_t sz = in->record_size > out->record_size ? in->record_size : out->record_size;
    return sz >= CHUNK_BYTES ? 1 : (int64_t)(CHUNK_BYTES / (sz ? sz : 1));
}

/* The output records of n input records: passed fields copied, then the stage's own. */
static void fill_chunk(const tp_header *in, const tp_header *out, int64_t first, int64_t n, const unsigned char *src,
                       unsigned char *dst, tp_fill_fn fill, void *ctx)
{
    for (int64_t i = 0; i < n; i++)
        tp_copy_fields(in, src + (size_t)i * in->record_size, out, dst + (size_t)i * out->record_size);
    fill(ctx, first, n, src, dst);
}

void tp_pass_records(tp_records *rs, const tp_header *out, const char *path, tp_fill_fn fill, void *ctx)
{
    const tp_header *in = tp_records_header(rs);
    int64_t n = tp_records_count(rs), per = chunk_of(in, out);
    tp_header oh;
    tp_header_copy(&oh, out);
    oh.count = n;
    unsigned char *src = tp_alloc((size_t)per, in->record_size), *dst = tp_calloc((size_t)per, out->record_size);
    int64_t *idx = tp_alloc((size_t)per, sizeof *idx);
    tp_writer *w = tp_writer_open(path, &oh);
    for (int64_t s = 0; s < n; s += per) {
        int64_t m = n - s < per ? n - s : per;
        for (int64_t i = 0; i < m; i++)
            idx[i] = s + i;
        tp_records_get(rs, idx, m, src);
        fill_chunk(in, out, s, m, src, dst, fill, ctx);
        tp_writer_write(w, dst, m);
    }
    tp_writer_close(w);
    tp_header_free(&oh);
    free(idx);
    free(dst);
    free(src);
}

void tp_pass_buffer(const tp_header *in, const unsigned char *recs, int64_t n, const tp_header *out, const char *path,
                    tp_fill_fn fill, void *ctx)
{
    int64_t per = chunk_of(in, out);
    tp_header oh;
    tp_header_copy(&oh, out);
    oh.count = n;
    unsigned char *dst = tp_calloc((size_t)per, out->record_size);
    tp_writer *w = tp_writer_open(path, &oh);
    for (int64_t s = 0; s < n; s += per) {
        int64_t m = n - s < per ? n - s : per;
        fill_chunk(in, out, s, m, recs + (size_t)s * in->record_size, dst, fill, ctx);
        tp_writer_write(w, dst, m);
    }
    tp_writer_close(w);
    tp_header_free(&oh);
    free(dst);
}

int64_t tp_pass_stream(tp_reader *r, const tp_header *out, const char *path, int64_t per, tp_fill_fn fill, void *ctx,
                       tp_progress *pr)
{
    const tp_header *in = tp_reader_header(r);
    if (per <= 0)
        per = chunk_of(in, out);
    unsigned char *src = tp_alloc((size_t)per, in->record_size), *dst = tp_calloc((size_t)per, out->record_size);
    tp_writer *w = tp_writer_open(path, out);
    int64_t done = 0;
    for (;;) {
        int64_t k = tp_reader_read(r, src, per);
        if (k < 0)
            tp_die("%s: %s", tp_reader_name(r), tp_reader_error(r));
        if (k == 0)
            break;
        fill_chunk(in, out, done, k, src, dst, fill, ctx);
        tp_writer_write(w, dst, k);
        done += k;
        if (pr)
            tp_progress_update(pr, done);
    }
    tp_writer_close(w);
    free(dst);
    free(src);
    return done;
}
