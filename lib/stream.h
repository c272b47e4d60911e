/* stream.h — the tpipe tensor stream, version 1: header model, reader, writer.
 *
 * FORMAT (the README's "Stream format" section says the same in more words)
 *
 *   TPIPE 1\n                         magic and major version: the first 8 bytes
 *   field NAME DTYPE [DIM ...]\n      one line per field, in record order; at least one
 *   meta KEY VALUE\n                  any number; a repeated KEY continues a multi-line value
 *   count N\n  |  count unknown\n     exactly one; trailing spaces allowed
 *   end<spaces>\n                     last line; spaces pad the header to a multiple of 64 bytes
 *   record 0, record 1, ...           fixed size, fields packed in order, little-endian
 *
 *   Lines end in \n alone (no empty line, UTF-8); tokens are one space apart, with no space
 *   at a line's start or end or beside another, but inside a meta VALUE and at the end of
 *   the count and end lines. Lines starting with '#' are comments. NAME and KEY: 1..63
 *   characters of [A-Za-z0-9_.-], first one not a digit, NAMEs unique. DTYPE: u8 i8 u16 i16 i32 i64 f16 f32 f64. DIM: 0..8 integers >= 1,
 *   row-major (the last varies fastest). VALUE: the rest of the line after KEY and one
 *   space, verbatim UTF-8 (no NUL or CR). The header is at most 16 MiB with at most 4096
 *   fields and 256 distinct keys; one record is at most 2^32 bytes. With "count unknown" records run to end of input. After the promised
 *   count, another header may follow with the same fields (concatenation: `cat a b`);
 *   readers keep the first segment's metadata.
 */
#ifndef TP_STREAM_H
#define TP_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

#define TP_MAX_RANK 8
#define TP_MAX_NAME 63
#define TP_HEADER_ALIGN 64
#define TP_MAX_HEADER (16u << 20)
#define TP_MAX_RECORD ((uint64_t)1 << 32)
#define TP_MAX_FIELDS 4096
#define TP_MAX_META_KEYS 256
/* The bytes tp_header_need_meta keeps free in the header for each key a stage adds. */
#define TP_META_ROOM 4096

typedef struct {
    char name[TP_MAX_NAME + 1];
    tp_dtype dtype;
    int rank;
    int64_t shape[TP_MAX_RANK];
    size_t nelem;  /* product of shape (1 for rank 0) */
    size_t nbytes; /* nelem * dtype size */
    size_t offset; /* byte offset within a record */
} tp_field;

typedef struct {
    char *key;
    char *value;     /* lines joined by \n */
    size_t len, cap; /* strlen(value) and its allocation, kept by the header functions */
} tp_meta;

typedef struct {
    int nfields;
    tp_field *fields;
    int nmeta;
    tp_meta *meta;
    int64_t count;      /* records promised, or -1 for unknown */
    size_t record_size; /* sum of field sizes */
} tp_header;

/* An empty header (no fields, no metadata, count unknown). */
void tp_header_init(tp_header *h);
/* Frees what h owns and leaves it empty. */
void tp_header_free(tp_header *h);
/* A deep copy of src into dst (dst must not own anything). */
void tp_header_copy(tp_header *dst, const tp_header *src);

/* Appends a field; returns its index, or -1 with a message in err (bad or duplicate name,
 * bad rank or dims, record too large, more than TP_MAX_FIELDS). */
int tp_header_add_field(tp_header *h, const char *name, tp_dtype dtype, int rank, const int64_t *shape,
                        char *err, size_t errlen);
/* Appends a field and dies on error: for programs whose fields are fixed by their code. */
int tp_header_add(tp_header *h, const char *name, tp_dtype dtype, int rank, const int64_t *shape);
/* Gives field i a new dtype and shape in place (it keeps its name and position; offsets
 * are recomputed). Returns 0, or -1 with a message in err. */
int tp_header_replace_field(tp_header *h, int i, tp_dtype dtype, int rank, const int64_t *shape, char *err,
                            size_t errlen);
/* Field name with this dtype and shape: replaced in place when h has one of that name, else
 * appended. Returns its index, or -1 with a message in err. */
int tp_header_set_field(tp_header *h, const char *name, tp_dtype dtype, int rank, const int64_t *shape, char *err,
                        size_t errlen);
/* Removes field i (offsets of later fields are recomputed). */
void tp_header_remove_field(tp_header *h, int i);
/* Index of the field called name, or -1. */
int tp_header_find(const tp_header *h, const char *name);
/* Index of the field called name, or dies with "PROGRAM: INPUT: no field 'NAME'". */
int tp_field_or_die(const tp_header *h, const char *input, const char *name);
/* Index of the field called name when it holds one integer per record (a label), or -1. */
int tp_header_find_int(const tp_header *h, const char *name);

/* The integer label that record rec holds in field f (one number a record: an integer
 * dtype read exactly, a float truncated): the one way every stage reads a label. */
int64_t tp_label_of(const tp_field *f, const void *rec);

/* Sets key to value (replacing any earlier value); value may hold \n. A bad key or a value
 * holding CR is an error in the caller (asserted); more than TP_MAX_META_KEYS keys dies,
 * which a stage avoids by tp_header_need_meta before its work. */
void tp_header_set_meta(tp_header *h, const char *key, const char *value);
/* Dies "PROGRAM: NAME: ..." unless h's metadata has room for the n keys (the ones it does
 * not hold already), and its header TP_META_ROOM bytes for each within TP_MAX_HEADER: what
 * a stage that adds metadata checks before its work. A writer refuses a header over
 * TP_MAX_HEADER in any case. */
void tp_header_need_meta(const tp_header *h, const char *name, const char *const *keys, int n);
/* The value of key, or NULL. */
const char *tp_header_get_meta(const tp_header *h, const char *key);
/* Appends one line of n bytes to key's value (creating key): how a multi-line value is read
 * back. Amortised O(n). Returns 0, or -1 when key would be one too many. */
int tp_header_append_meta(tp_header *h, const char *key, const char *line, size_t n);
/* Line k (from 0) of key's multi-line value into buf; returns 0, or -1 (buf "") when the
 * key or the line is absent or empty. */
int tp_meta_line(const tp_header *h, const char *key, int64_t k, char *buf, size_t n);
/* The name of class k: line k of the classes metadata, else the number k. */
void tp_class_name(const tp_header *h, int64_t k, char *buf, size_t n);
/* Removes key if present. */
void tp_header_del_meta(tp_header *h, const char *key);

/* Copies, from record src laid out by in to record dst laid out by out, every field of out
 * that in has with the same name, dtype and shape: how a stage passes through what it does
 * not touch. */
void tp_copy_fields(const tp_header *in, const void *src, const tp_header *out, void *dst);

/* 1 when a and b have the same fields (names, dtypes, shapes, order). */
int tp_header_same_fields(const tp_header *a, const tp_header *b);

/* The header as bytes (malloc'd, length in *len, a multiple of 64). With count unknown
 * the count line leaves room for a writer to patch the count in place later. */
char *tp_header_format(const tp_header *h, size_t *len);

/* The metadata as header lines, "meta KEY LINE\n" for each line of each value (malloc'd,
 * length in *len): what tp2npy --meta saves beside a .npy. */
char *tp_header_meta_text(const tp_header *h, size_t *len);
/* Parses one "meta KEY VALUE" line (without its \n) into h, as the header parser does.
 * Returns 0, or -1 with a message in err. */
int tp_header_parse_meta(tp_header *h, const char *line, size_t n, char *err, size_t errlen);

/* Parses a complete header held in buf[0..len), where len is the position after the
 * end line's \n. Returns 0, or -1 with a message in err. h must be empty. */
int tp_header_parse(const char *buf, size_t len, tp_header *h, char *err, size_t errlen);

/* ---- reader ---- */

typedef struct tp_reader tp_reader;

/* Opens path ("-" or NULL = stdin) and reads the first header. On failure returns NULL
 * with "what is wrong" in err (the caller adds program and file names). */
tp_reader *tp_reader_open(const char *path, char *err, size_t errlen);
/* The same over a memory buffer (no copy; buf must outlive the reader). For tests/fuzzing. */
tp_reader *tp_reader_open_mem(const void *buf, size_t len, char *err, size_t errlen);
/* The header of the first segment. */
const tp_header *tp_reader_header(const tp_reader *r);
/* The name used in messages: the path, or "stdin". */
const char *tp_reader_name(const tp_reader *r);
/* The next record, or NULL at the end (tp_reader_error() == NULL) or on error. The pointer
 * stays valid until the next call. Crosses into concatenated segments by itself. */
const void *tp_reader_next(tp_reader *r);
/* Copies up to n records into dst; returns how many (0 at the end) or -1 on error. */
int64_t tp_reader_read(tp_reader *r, void *dst, int64_t n);
/* Records returned so far (over all segments). */
int64_t tp_reader_index(const tp_reader *r);
/* Input byte offset of the record last returned by tp_reader_next (file offsets when the
 * input is a regular file). */
int64_t tp_reader_offset(const tp_reader *r);
/* The input's file descriptor (-1 for a memory reader). */
int tp_reader_fd(const tp_reader *r);
/* Segments begun so far (1 after open). */
int tp_reader_segments(const tp_reader *r);
/* The last error, or NULL. */
const char *tp_reader_error(const tp_reader *r);
/* Closes the input (not stdin's descriptor) and frees r. NULL is allowed. */
void tp_reader_close(tp_reader *r);

/* Opens path or dies with "PROGRAM: FILE: what is wrong". */
tp_reader *tp_open_or_die(const char *path);
/* tp_reader_next, dying on an error with "PROGRAM: FILE: what is wrong". */
const void *tp_next_or_die(tp_reader *r);

/* ---- writer ----
 * Writes to path (or stdout for "-"/NULL). A named file is written as PATH.tmp.PID and
 * renamed into place by tp_writer_close, so a failed or interrupted run leaves no partial
 * file. Write errors end the program: EPIPE quietly, others through tp_die. */

typedef struct tp_writer tp_writer;

/* Opens the output and writes the header (copied; count -1 = unknown). */
tp_writer *tp_writer_open(const char *path, const tp_header *h);
/* Appends n records of h->record_size bytes each. Records beyond the count the header
 * promised (a filter fed concatenated input) start a new segment with count unknown. */
void tp_writer_write(tp_writer *w, const void *recs, int64_t n);
/* Flushes, checks the promised count was written (patching an unknown count in place where
 * the output is a regular file), renames the temporary file into place, frees w. */
void tp_writer_close(tp_writer *w);
/* Records written so far. */
int64_t tp_writer_count(const tp_writer *w);

#endif
