/* cli.h — the one option parser and usage printer every tpipe program uses.
 *
 * A program declares its options in a table; tp_cli_parse fills the variables the table
 * points at, handles --help (usage with every option and its default, exit 0) and
 * --version, and turns unknown options and bad values into "PROGRAM: ... (see --help)",
 * exit 2. Accepted spellings: --name VALUE, --name=VALUE, -x VALUE, -xVALUE, and "--" to end
 * options. "-" alone is an argument (stdin/stdout).
 *
 * The table also says what a value may be, so that the parser checks it and every program
 * words the refusal alike: a range for numbers (TP_RANGE(1, 256), TP_MIN(0), TP_ABOVE(0),
 * TP_FRACTION, TP_AMOUNT), the names of a choice (TP_CHOICES("adam", "sgd", "adagrad"): the index goes to
 * an int; "bh|barnes-hut" spells one choice two ways), and options that set one int to
 * values of their own (TP_OPT_SET, as --rgb and --gray), which exclude each other.
 */
#ifndef TP_CLI_H
#define TP_CLI_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    TP_OPT_FLAG,   /* int *: set to 1 */
    TP_OPT_INT,    /* int64_t * */
    TP_OPT_DOUBLE, /* double * */
    TP_OPT_STRING, /* const char ** */
    TP_OPT_CHOICE, /* int *: the index of the name given among choices */
    TP_OPT_SET,    /* int *: set to value; two such options of one int exclude each other */
} tp_opt_type;

/* Bits of tp_option.range. */
enum { TP_HAS_LO = 1, TP_HAS_HI = 2, TP_LO_OPEN = 4, TP_HI_OPEN = 8, TP_AMOUNT_RANGE = 16 };
#define TP_RANGE(a, b) .range = TP_HAS_LO | TP_HAS_HI, .lo = (a), .hi = (b)
#define TP_MIN(a) .range = TP_HAS_LO, .lo = (a)
#define TP_ABOVE(a) .range = TP_HAS_LO | TP_LO_OPEN, .lo = (a)
#define TP_FRACTION .range = TP_HAS_LO | TP_HAS_HI | TP_HI_OPEN, .lo = 0, .hi = 1 /* [0, 1) */
/* (a compound literal: valid in the block of the table, which tp_cli_parse must share) */
/* a count (an integer >= 1) or a fraction in (0, 1): --take 500, --take 0.1 */
#define TP_AMOUNT .range = TP_AMOUNT_RANGE
#define TP_CHOICES(...) .choices = (const char *const[]){__VA_ARGS__, NULL}

/* Table entries by type (designated, so the checks' fields may be left out):
 *   TP_FLAG("verbose", 'v', &o->verbose, "help")
 *   TP_INT("threads", 't', &o->threads, "N", "help", TP_RANGE(1, 256))    (the range optional)
 *   TP_DOUBLE("lr", 0, &o->lr, "X", "help", TP_ABOVE(0))
 *   TP_STRING("output", 'o', &o->out, "FILE", "help")
 *   TP_CHOICE("method", 'm', &o->method, "M", "help", "auto", "exact", "bh|barnes-hut")
 *   TP_SET("rgb", 0, &o->channels, 3, "help")                               */
#define TP_OPT_(n, s, t, p, m, h, ...) {.name = (n), .short_name = (s), .type = (t), .ptr = (p), .metavar = (m), .help = (h), __VA_ARGS__}
#define TP_FLAG(n, s, p, h) TP_OPT_(n, s, TP_OPT_FLAG, p, NULL, h, .value = 0)
#define TP_INT(n, s, p, m, ...) TP_OPT_(n, s, TP_OPT_INT, p, m, __VA_ARGS__)
#define TP_DOUBLE(n, s, p, m, ...) TP_OPT_(n, s, TP_OPT_DOUBLE, p, m, __VA_ARGS__)
#define TP_STRING(n, s, p, m, h) TP_OPT_(n, s, TP_OPT_STRING, p, m, h, .value = 0)
#define TP_CHOICE(n, s, p, m, h, ...) TP_OPT_(n, s, TP_OPT_CHOICE, p, m, h, TP_CHOICES(__VA_ARGS__))
#define TP_SET(n, s, p, v, h) TP_OPT_(n, s, TP_OPT_SET, p, NULL, h, .value = (v))

/* The one limit of worker threads, for every program's --threads. */
#define TP_MAX_THREADS 256
#define TP_OPT_THREADS(ptr, help) TP_INT("threads", 't', ptr, "N", help, TP_RANGE(1, TP_MAX_THREADS))

typedef struct {
    const char *name; /* long name without "--"; NULL ends the table */
    char short_name;  /* 0 for none */
    tp_opt_type type;
    void *ptr;
    const char *metavar; /* shown after the option in --help, e.g. "FILE" */
    const char *help;    /* one line; the current value of *ptr is shown as the default, unless
                            the line says "(default" itself */
    const char *const *choices; /* TP_OPT_CHOICE: the names, NULL-ended */
    unsigned range;      /* TP_OPT_INT, TP_OPT_DOUBLE: TP_HAS_LO ... bits */
    double lo, hi;
    int value;           /* TP_OPT_SET */
} tp_option;

typedef struct {
    const char *synopsis; /* after the program name, e.g. "[OPTIONS] IMAGES [LABELS]" */
    const char *summary;  /* what the program does, one or more lines */
    const tp_option *opts;
    const char *epilog; /* examples etc., may be NULL */
    int min_args, max_args; /* positional argument bounds; max_args < 0 = unbounded */
} tp_cli;

/* Parses argv against cli. Returns the number of positional arguments and points *args at
 * them (in order; free(*args) when done). Exits for --help/--version (0) and bad usage (2). */
int tp_cli_parse(const tp_cli *cli, int argc, char **argv, char ***args);
/* tp_cli_parse for a program whose one argument, if any, is its input (min_args 0,
 * max_args 1): that argument, or "-" (stdin) when none is given. */
const char *tp_cli_parse_input(const tp_cli *cli, int argc, char **argv);

/* Prints the usage text to stdout. */
void tp_cli_help(const tp_cli *cli);

/* The index of s among the choices ("a|b" names one choice two ways), or -1. */
int tp_choice_index(const char *const *choices, const char *s);
/* The first spelling of choice i into buf. */
void tp_choice_name(const char *const *choices, int i, char *buf, size_t n);

#endif
