/* outfile.h — buffered output to stdout or to a named file written atomically.
 *
 * A named file is written as PATH.tmp.PID and renamed into place by tp_out_close, so a
 * failed or interrupted run never leaves a partial file under the real name (the signal
 * handlers of tp_init remove the temporary). Through a symbolic link the file it points
 * at is replaced; an existing device or FIFO (/dev/null, a named pipe) is written
 * directly, never replaced. Write errors end the program: EPIPE quietly
 * as a closed pipe does, anything else with "PROGRAM: PATH: write error: ...".
 */
#ifndef TP_OUTFILE_H
#define TP_OUTFILE_H

#include <stddef.h>

typedef struct {
    int fd;
    char *path;   /* NULL for stdout */
    char *target; /* the file renamed over (path, or a symbolic link's target) */
    char *tmp;    /* NULL when written directly (stdout, a device, a FIFO) */
    unsigned char *buf;
    size_t len;
} tp_outfile;

/* Opens path ("-" or NULL = stdout); dies if it cannot be created. */
void tp_out_open(tp_outfile *o, const char *path);
/* Appends n bytes. */
void tp_out_write(tp_outfile *o, const void *p, size_t n);
/* Writes out the buffer. */
void tp_out_flush(tp_outfile *o);
/* The file offset where the next byte will land when the output is a regular file that can
 * be rewritten in place (not O_APPEND), else -1. Flushes first. */
long long tp_out_tell(tp_outfile *o);
/* Rewrites n bytes at file offset off (from tp_out_tell); dies on failure. */
void tp_out_rewrite(tp_outfile *o, const void *p, size_t n, long long off);
/* Flushes, closes a named file and renames it into place; frees the buffer. */
void tp_out_close(tp_outfile *o);
/* 1 when outputs a and b ("-" or NULL: stdout) would be the same file, so that writing both
 * loses one: both stdout, or the same regular file by any path (through links and ./..);
 * devices and FIFOs such as /dev/null may be named twice. */
int tp_same_output(const char *a, const char *b);
/* "stdout" or the path. */
const char *tp_out_name(const tp_outfile *o);

#endif
