/* fuzz_stream.c — libFuzzer target for the tpipe stream reader and header parser.
 *
 * Each input is opened with tp_reader_open_mem and read to its end (every byte of every
 * record is touched, so ASan sees any record pointer that runs past the input). When the
 * header is accepted, the same bytes are read again through a file descriptor (a memfd
 * opened by path, so the buffered read()/compaction path runs) with tp_reader_read: both
 * readers must agree on the header, the records, the segment count and the error. When the
 * input's length is a multiple of 64 it is also fed to tp_header_parse directly. Every
 * header that parses is formatted and parsed again: the copy must match field for field
 * and key for key, or the target aborts (a bug in tp_header_format or tp_header_parse).
 *
 * Built and run by tests/fuzz/run.sh (make fuzz).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stream.h"

static volatile unsigned char sink;

static void mismatch(const char *what)
{
    fprintf(stderr, "fuzz_stream: check failed: %s\n", what);
    abort();
}

static void same_header(const tp_header *a, const tp_header *b)
{
    if (a->nfields != b->nfields)
        mismatch("headers differ: number of fields");
    if (!tp_header_same_fields(a, b))
        mismatch("headers differ: fields");
    for (int i = 0; i < a->nfields; i++) {
        const tp_field *x = &a->fields[i], *y = &b->fields[i];
        if (x->nelem != y->nelem || x->nbytes != y->nbytes || x->offset != y->offset)
            mismatch("headers differ: a field's sizes or offset");
    }
    if (a->record_size != b->record_size)
        mismatch("headers differ: record size");
    if (a->count != b->count)
        mismatch("headers differ: count");
    if (a->nmeta != b->nmeta)
        mismatch("headers differ: number of metadata keys");
    for (int i = 0; i < a->nmeta; i++) {
        if (strcmp(a->meta[i].key, b->meta[i].key) != 0)
            mismatch("headers differ: a metadata key");
        if (strcmp(a->meta[i].value, b->meta[i].value) != 0)
            mismatch("headers differ: a metadata value");
    }
}

/* Formats h, checks the shape of the bytes, parses them back and compares. */
static void round_trip(const tp_header *h)
{
    size_t len;
    char *buf = tp_header_format(h, &len);
    if (len == 0 || len % TP_HEADER_ALIGN != 0 || buf[len - 1] != '\n')
        mismatch("tp_header_format: length not a multiple of 64 or no final newline");
    tp_header back;
    tp_header_init(&back);
    char err[512];
    if (tp_header_parse(buf, len, &back, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_stream: a formatted header does not parse: %s\n", err);
        abort();
    }
    same_header(h, &back);

    /* A reader over the formatted header alone must see the same header and no records
     * (count 0 or unknown) or report truncation (count > 0), never crash. */
    tp_reader *r = tp_reader_open_mem(buf, len, err, sizeof err);
    if (!r) {
        fprintf(stderr, "fuzz_stream: a formatted header does not open: %s\n", err);
        abort();
    }
    same_header(h, tp_reader_header(r));
    if (tp_reader_next(r) != NULL)
        mismatch("a formatted header alone gave a record");
    if ((h->count > 0) != (tp_reader_error(r) != NULL))
        mismatch("a formatted header alone: truncation reported wrongly");
    tp_reader_close(r);
    tp_header_free(&back);
    free(buf);
}

/* What a reader saw: records, a hash of their bytes, segments, how it ended. */
typedef struct {
    int opened;
    int64_t records;
    uint64_t hash;
    int segments;
    char err[512];
} outcome;

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* Reads data through a memfd opened by path with tp_reader_read; fills *o. */
static void read_by_fd(const uint8_t *data, size_t size, const tp_header *expect, outcome *o)
{
    memset(o, 0, sizeof *o);
    o->hash = 0xcbf29ce484222325ull;
    int fd = memfd_create("fuzz_stream", MFD_CLOEXEC);
    if (fd < 0) {
        perror("fuzz_stream: memfd_create");
        abort();
    }
    for (size_t off = 0; off < size;) {
        ssize_t k = write(fd, data + off, size - off);
        if (k <= 0) {
            perror("fuzz_stream: write");
            abort();
        }
        off += (size_t)k;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    tp_reader *r = tp_reader_open(path, o->err, sizeof o->err);
    close(fd); /* the reader opened its own descriptor */
    if (!r)
        return;
    o->opened = 1;
    if (expect)
        same_header(expect, tp_reader_header(r));
    size_t rs = tp_reader_header(r)->record_size;
    /* A record larger than the input cannot be complete: read one at a time then. */
    int64_t per = rs > size ? 1 : rs >= 4096 ? 1 : (int64_t)(4096 / rs);
    unsigned char *dst = rs > size ? NULL : malloc((size_t)per * rs);
    for (;;) {
        int64_t got;
        if (dst) {
            int64_t before = tp_reader_index(r);
            got = tp_reader_read(r, dst, per);
            /* -1 does not say how many records came first; the index does. */
            int64_t copied = tp_reader_index(r) - before;
            if (copied < 0 || copied > per || (got >= 0 && copied != got))
                mismatch("tp_reader_read's count disagrees with tp_reader_index");
            o->hash = fnv(o->hash, dst, (size_t)copied * rs);
            o->records += copied;
        } else {
            const unsigned char *rec = tp_reader_next(r);
            if (rec)
                mismatch("a record larger than the whole input");
            got = tp_reader_error(r) ? -1 : 0;
        }
        if (got < 0) {
            if (!tp_reader_error(r))
                mismatch("tp_reader_read returned -1 without an error");
            break;
        }
        if (got < per)
            break;
    }
    if (tp_reader_index(r) != o->records)
        mismatch("fd reader: tp_reader_index differs from records read");
    o->segments = tp_reader_segments(r);
    if (tp_reader_error(r))
        snprintf(o->err, sizeof o->err, "%s", tp_reader_error(r));
    free(dst);
    tp_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    outcome m, f;
    memset(&m, 0, sizeof m);
    m.hash = 0xcbf29ce484222325ull;

    tp_reader *r = tp_reader_open_mem(data, size, err, sizeof err);
    if (r) {
        m.opened = 1;
        const tp_header *h = tp_reader_header(r);
        round_trip(h);
        size_t rs = h->record_size;
        if (rs == 0)
            mismatch("record size 0 after a successful open");
        const unsigned char *rec;
        while ((rec = tp_reader_next(r)) != NULL) {
            unsigned char x = 0;
            for (size_t i = 0; i < rs; i++)
                x ^= rec[i];
            sink ^= x;
            m.hash = fnv(m.hash, rec, rs);
            m.records++;
        }
        if (tp_reader_index(r) != m.records)
            mismatch("tp_reader_index differs from records read");
        /* After the end (or an error) the reader stays there. */
        if (tp_reader_next(r) != NULL)
            mismatch("a record after the end");
        m.segments = tp_reader_segments(r);
        if (tp_reader_error(r))
            snprintf(m.err, sizeof m.err, "%s", tp_reader_error(r));
        read_by_fd(data, size, h, &f);
        tp_reader_close(r);
    } else {
        /* Rejected headers are not re-read through a descriptor: that costs a 1 MiB read
         * buffer per input (fuzzing ~7x slower) for little new code (the reading loop
         * runs on every accepted header anyway). */
        snprintf(m.err, sizeof m.err, "%s", err);
        f = m;
    }
    if (m.opened != f.opened || m.records != f.records || m.hash != f.hash || m.segments != f.segments ||
        strcmp(m.err, f.err) != 0) {
        fprintf(stderr, "fuzz_stream: memory reader: open %d, %lld records, %d segments, '%s'\n", m.opened,
                (long long)m.records, m.segments, m.err);
        fprintf(stderr, "fuzz_stream: fd reader:     open %d, %lld records, %d segments, '%s'\n", f.opened,
                (long long)f.records, f.segments, f.err);
        mismatch("the memory and descriptor readers disagree");
    }

    if (size % TP_HEADER_ALIGN == 0) {
        tp_header h;
        tp_header_init(&h);
        if (tp_header_parse((const char *)data, size, &h, err, sizeof err) == 0) {
            round_trip(&h);
            tp_header_free(&h);
        } else if (h.nfields != 0 || h.nmeta != 0 || h.fields || h.meta) {
            mismatch("a failed tp_header_parse left the header non-empty");
        }
    }
    return 0;
}
