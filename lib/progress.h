/* progress.h — progress on stderr for long work.
 *
 * On a terminal: one bar redrawn in place at most 8 times a second, with count, rate and
 * ETA. Otherwise (a log file, CI): a plain line every TP_PROGRESS_INTERVAL seconds
 * (default 10), and a closing line only if a periodic one was printed, so quick runs stay
 * silent. Only rank 0 of an MPI job (comm.h) shows it. TP_PROGRESS=0 turns it off; TP_PROGRESS=1 forces plain lines even on a terminal.
 */
#ifndef TP_PROGRESS_H
#define TP_PROGRESS_H

#include <stdint.h>

typedef struct {
    const char *label;
    const char *unit; /* "records", "images", ... */
    int64_t total;    /* -1 when unknown */
    int64_t done;
    double t0, last;
    double interval; /* seconds between plain lines */
    int mode;        /* 0 off, 1 plain lines, 2 terminal bar */
    int printed;
} tp_progress;

/* Starts timing; total < 0 means unknown. label and unit must outlive p. */
void tp_progress_start(tp_progress *p, const char *label, int64_t total, const char *unit);
/* Records that done units are finished; prints when it is time. Cheap enough per batch. */
void tp_progress_update(tp_progress *p, int64_t done);
/* Records the final count done, prints the final state where anything was shown, and ends
 * the bar's line. */
void tp_progress_end(tp_progress *p, int64_t done);

/* Formats seconds as "1:02:03" or "2:03" into buf (at least 32 bytes). */
void tp_format_duration(double s, char *buf);

#endif
