/* records.h — random access to the records of a stream read once from start to end.
 *
 * When the input is a regular file the records are read again from it by their offsets
 * (concatenated files included); otherwise they are spooled to an unlinked temporary file
 * while the first pass reads them. Memory is 8 bytes per record, never the bytes. */
#ifndef TP_RECORDS_H
#define TP_RECORDS_H

#include <stdint.h>

#include "stream.h"

typedef struct tp_records tp_records;

/* Opens path ("-" = stdin) and reads its header; dies with "PROGRAM: FILE: ..." on bad input. */
tp_records *tp_records_open(const char *path);
/* The first pass: reads every record, calling visit(ctx, i, rec) on each if visit is not
 * NULL (to build an index of labels, say). Call once, before tp_records_get. Dies on bad input. */
void tp_records_scan(tp_records *rs, void (*visit)(void *ctx, int64_t i, const void *rec), void *ctx);
const tp_header *tp_records_header(const tp_records *rs);
int64_t tp_records_count(const tp_records *rs);
/* The input's name for messages ("stdin" or the path). */
const char *tp_records_name(const tp_records *rs);
/* Copies the records idx[0..n) into dst, in that order; reads of consecutive records on
 * disk are merged. */
void tp_records_get(tp_records *rs, const int64_t *idx, int64_t n, void *dst);
void tp_records_close(tp_records *rs);

#endif
