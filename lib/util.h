/* util.h — process set-up, errors, checked allocation, atomic output files.
 *
 * Two error tiers (see README "Conventions"):
 *  - invariants: TP_ASSERT(cond) aborts with file:line; a failing one is a bug in tpipe.
 *  - user-facing failures: tp_die() prints "PROGRAM: message" and exits 1; tp_usage()
 *    exits 2. Library readers never call these: they return -1 and leave a message that
 *    the caller (a tool's main) turns into one line with tp_die().
 */
#ifndef TP_UTIL_H
#define TP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tpipe assumes a little-endian host (the stream format is little-endian)"
#endif

#define TP_VERSION "0.1.0"

#define TP_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* TP_ASAN: 1 in a build with AddressSanitizer (GCC says so by __SANITIZE_ADDRESS__, clang
 * by __has_feature), else 0. */
#if defined(__SANITIZE_ADDRESS__)
#define TP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TP_ASAN 1
#endif
#endif
#ifndef TP_ASAN
#define TP_ASAN 0
#endif
#define TP_NORETURN __attribute__((noreturn))

/* Sets the program name used in messages and installs the signal handlers that remove
 * unfinished output files on SIGINT/SIGTERM/SIGHUP/SIGPIPE. Call first in main. */
void tp_init(const char *argv0);

/* The program name given to tp_init ("tpipe" before it). */
const char *tp_progname(void);

/* Prints "PROGRAM: message\n" on stderr, removes unfinished outputs, exits 1. */
TP_NORETURN void tp_die(const char *fmt, ...) TP_PRINTF(1, 2);

/* Like tp_die but exits 2 and adds a hint to run --help: for bad usage. */
TP_NORETURN void tp_usage(const char *fmt, ...) TP_PRINTF(1, 2);

/* Prints "PROGRAM: warning: message\n" on stderr and returns. */
void tp_warn(const char *fmt, ...) TP_PRINTF(1, 2);

/* Ends the process quietly as a closed downstream pipe does (SIGPIPE), after removing
 * unfinished outputs. Used when a write fails with EPIPE. */
TP_NORETURN void tp_exit_pipe(void);

/* For a process that is one of a job's (comm.h): where ("rank 1 of 4") goes after the
 * program's name in every message, a signal that ends the process says so on stderr, and
 * hook(status) runs before tp_die or tp_usage exits (to end the whole job). NULL, NULL: none. */
void tp_set_die_hook(void (*hook)(int status), const char *where);

TP_NORETURN void tp_assert_fail(const char *expr, const char *file, int line);
#define TP_ASSERT(c) ((c) ? (void)0 : tp_assert_fail(#c, __FILE__, __LINE__))

/* a*b into *out; returns 0, or -1 when it overflows size_t (then *out is unchanged). */
int tp_mul_ok(size_t a, size_t b, size_t *out);

/* malloc of n elements of size bytes, overflow-checked; dies with a clear message when
 * the product overflows or memory is short. Never returns NULL (n == 0 gives 1 byte). */
void *tp_alloc(size_t n, size_t size);
/* The same, zero-filled. */
void *tp_calloc(size_t n, size_t size);
/* realloc of p to n elements of size bytes, overflow-checked, dies on failure. */
void *tp_realloc(void *p, size_t n, size_t size);
/* strdup that dies on failure. */
char *tp_strdup(const char *s);

/* The most bytes a program reads whole from one text file (a network file, a TF.js
 * model.json, npy2tp --meta, wimport --classes): TPIPE_MAX_BYTES from the environment
 * (a byte count), else TP_MAX_TEXT_BYTES. A larger file is refused before it is held. */
#define TP_MAX_TEXT_BYTES ((size_t)64 << 20)
size_t tp_max_text_bytes(void);
/* "... larger than N bytes (TPIPE_MAX_BYTES raises the limit)" into err. */
void tp_text_too_large(char *err, size_t errlen, const char *path);

/* Registers path as an unfinished output: it is unlinked if the process dies through
 * tp_die or a handled signal before tp_forget_tmp(path). At most 16 at once. */
void tp_register_tmp(const char *path);
void tp_forget_tmp(const char *path);
/* Registers one folder of unfinished outputs: it is removed with what it holds (three
 * levels deep at most) in the same cases, until tp_forget_tmp_tree. One at a time. */
void tp_register_tmp_tree(const char *path);
/* In a forked child: forgets the parent's unfinished outputs (without removing them), so
 * that the child's end, however it comes, leaves them to the parent. */
void tp_forget_tmps_in_child(void);
void tp_forget_tmp_tree(void);

/* Full-buffer I/O on file descriptors: retries short transfers and EINTR.
 * tp_read_full returns bytes read (< n only at end of file) or -1 (errno set).
 * tp_write_full returns 0 or -1 (errno set). */
long long tp_read_full(int fd, void *buf, size_t n);
int tp_write_full(int fd, const void *buf, size_t n);

/* Enlarges the kernel buffer of fd to 1 MiB when fd is a pipe (fewer wake-ups per byte);
 * does nothing otherwise or where the system refuses. */
void tp_pipe_grow(int fd);

/* Strict number parsing: whole string, no overflow. Return 0 or -1. */
int tp_parse_i64(const char *s, int64_t *out);
int tp_parse_f64(const char *s, double *out);

/* "HxW" (or "N" for N x N) into *h and *w, both integers; 0, or -1 when s is not of
 * that form (the caller checks the range). */
int tp_parse_hw(const char *s, int64_t *h, int64_t *w);

/* Seconds from a monotonic clock. */
double tp_now(void);

/* IEEE half <-> single conversions (round to nearest even), for f16 fields. */
float tp_half_to_float(uint16_t h);
uint16_t tp_float_to_half(float f);

/* Byte-swaps n elements of size (1, 2, 4 or 8) bytes at p in place. */
void tp_swap_bytes(void *p, size_t n, size_t size);

/* The length of the longest prefix of s[0..n) that is well-formed UTF-8 (no overlong forms,
 * no surrogates, nothing above U+10FFFF): n when all of it is. */
size_t tp_utf8_valid(const char *s, size_t n);

/* The last path component of path (a pointer into path). */
const char *tp_basename(const char *path);

#endif
