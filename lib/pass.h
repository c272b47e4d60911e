/* pass.h — a stage's output as its input passed through: every record again, in order, with
 * the fields the stage adds or replaces filled in and every other field copied
 * (tp_copy_fields), in chunks of bounded memory. For stages that have read all their input
 * first (tsne, gmm, confmat, pca), from the records' random access or from memory; for
 * stages that work as the records come (predict, pca --model), from a reader. */
#ifndef TP_PASS_H
#define TP_PASS_H

#include <stdint.h>

#include "progress.h"
#include "records.h"
#include "stream.h"

/* Fills the new fields of records first .. first + n - 1 of the output: dst holds them laid
 * out by the output header, the passed fields already copied; src the input's records. */
typedef void (*tp_fill_fn)(void *ctx, int64_t first, int64_t n, const unsigned char *src, unsigned char *dst);

/* All records of rs (scanned already) to path ("-": stdout) laid out by out, whose count is
 * set to theirs. */
void tp_pass_records(tp_records *rs, const tp_header *out, const char *path, tp_fill_fn fill, void *ctx);
/* The n records recs laid out by in, held in memory, to path laid out by out (count n). */
void tp_pass_buffer(const tp_header *in, const unsigned char *recs, int64_t n, const tp_header *out, const char *path,
                    tp_fill_fn fill, void *ctx);
/* The records of r as they come, per at a time (0: as many as fit a few MiB), to path laid
 * out by out; pr (may be NULL) is told the records done. Returns how many. */
int64_t tp_pass_stream(tp_reader *r, const tp_header *out, const char *path, int64_t per, tp_fill_fn fill, void *ctx,
                       tp_progress *pr);

#endif
