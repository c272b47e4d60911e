/* cli.h — the one option parser and usage printer every tpipe program uses.
 *
 * A program declares its options in a table; tp_cli_parse fills the variables the table
 * points at, handles --help (usage with every option and its default, exit 0) and
 * --version, and turns unknown options and bad values into "PROGRAM: ... (see --help)",
 * exit 2. Accepted spellings: --name VALUE, --name=VALUE, -x VALUE, -xVALUE, and "--" to end
 * options. "-" alone is an argument (stdin/stdout).
 */
#ifndef TP_CLI_H
#define TP_CLI_H

#include <stdint.h>

typedef enum {
    TP_OPT_FLAG,   /* int *: set to 1 */
    TP_OPT_INT,    /* int64_t * */
    TP_OPT_DOUBLE, /* double * */
    TP_OPT_STRING, /* const char ** */
} tp_opt_type;

typedef struct {
    const char *name; /* long name without "--"; NULL ends the table */
    char short_name;  /* 0 for none */
    tp_opt_type type;
    void *ptr;
    const char *metavar; /* shown after the option in --help, e.g. "FILE" */
    const char *help;    /* one line; the current value of *ptr is shown as the default, unless
                            the line says "(default" itself */
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

/* Prints the usage text to stdout. */
void tp_cli_help(const tp_cli *cli);

#endif
