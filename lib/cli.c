/* cli.c — see cli.h. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void format_default(const tp_option *o, char *buf, size_t n)
{
    buf[0] = 0;
    switch (o->type) {
    case TP_OPT_FLAG:
    case TP_OPT_SET:
        break;
    case TP_OPT_CHOICE:
        tp_choice_name(o->choices, *(int *)o->ptr, buf, n);
        break;
    case TP_OPT_INT:
        snprintf(buf, n, "%lld", (long long)*(int64_t *)o->ptr);
        break;
    case TP_OPT_DOUBLE:
        snprintf(buf, n, "%g", *(double *)o->ptr);
        break;
    case TP_OPT_STRING: {
        const char *s = *(const char **)o->ptr;
        if (s)
            snprintf(buf, n, "%s", s);
        break;
    }
    }
}

int tp_choice_index(const char *const *choices, const char *s)
{
    size_t n = strlen(s);
    for (int i = 0; choices[i]; i++)
        for (const char *c = choices[i]; *c;) {
            const char *bar = strchr(c, '|');
            size_t len = bar ? (size_t)(bar - c) : strlen(c);
            if (len == n && memcmp(c, s, n) == 0)
                return i;
            c += len + (bar != NULL);
        }
    return -1;
}

void tp_choice_name(const char *const *choices, int i, char *buf, size_t n)
{
    int k = 0;
    while (choices[k] && k < i)
        k++;
    const char *c = choices[k] ? choices[k] : "?";
    snprintf(buf, n, "%.*s", (int)strcspn(c, "|"), c);
}

/* "a, b or c": the choices' first spellings. */
static void choice_list(const char *const *choices, char *buf, size_t n)
{
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; choices[i] && at < n; i++) {
        char one[64];
        tp_choice_name(choices, i, one, sizeof one);
        at += (size_t)snprintf(buf + at, n - at, "%s%s", i == 0 ? "" : choices[i + 1] ? ", " : " or ", one);
    }
}

/* What o's range allows, in words: "1 to 256", "at least 0", "more than 0", ... */
static void range_words(const tp_option *o, char *buf, size_t n)
{
    unsigned r = o->range;
    if (r & TP_AMOUNT_RANGE)
        snprintf(buf, n, "a count of at least 1 or a fraction between 0 and 1");
    else if ((r & TP_HAS_LO) && (r & TP_HAS_HI) && !(r & (TP_LO_OPEN | TP_HI_OPEN)))
        snprintf(buf, n, "%g to %g", o->lo, o->hi);
    else if ((r & TP_HAS_LO) && (r & TP_HAS_HI))
        snprintf(buf, n, "%s %g and %s %g", r & TP_LO_OPEN ? "more than" : "at least", o->lo,
                 r & TP_HI_OPEN ? "less than" : "at most", o->hi);
    else if (r & TP_HAS_LO)
        snprintf(buf, n, "%s %g", r & TP_LO_OPEN ? "more than" : "at least", o->lo);
    else
        snprintf(buf, n, "%s %g", r & TP_HI_OPEN ? "less than" : "at most", o->hi);
}

/* Whether v lies in o's range (NaN lies in none). */
static int in_range(const tp_option *o, double v)
{
    unsigned r = o->range;
    if (r & TP_AMOUNT_RANGE)
        return v > 0 && (v < 1 || (v == floor(v) && v <= 1e15));
    if ((r & TP_HAS_LO) && !((r & TP_LO_OPEN) ? v > o->lo : v >= o->lo))
        return 0;
    if ((r & TP_HAS_HI) && !((r & TP_HI_OPEN) ? v < o->hi : v <= o->hi))
        return 0;
    return v == v;
}

void tp_cli_help(const tp_cli *cli)
{
    const char *p = tp_progname();
    printf("Usage: %s %s\n%s\n", p, cli->synopsis, cli->summary);
    printf("\nOptions:\n");
    for (const tp_option *o = cli->opts; o && o->name; o++) {
        char left[80], def[128];
        int bare = o->type == TP_OPT_FLAG || o->type == TP_OPT_SET;
        snprintf(left, sizeof left, "%c%c%c --%s%s%s", o->short_name ? '-' : ' ', o->short_name ? o->short_name : ' ',
                 o->short_name ? ',' : ' ', o->name, bare ? "" : " ", bare ? "" : (o->metavar ? o->metavar : "VALUE"));
        format_default(o, def, sizeof def);
        if (strstr(o->help, "(default")) /* the help states its own default: no second one */
            def[0] = 0;
        printf("  %-26s %s", left, o->help);
        if (def[0])
            printf(" (default: %s)", def);
        printf("\n");
    }
    printf("  %-26s %s\n", " -h, --help", "show this help and exit");
    printf("  %-26s %s\n", "     --version", "show the version and exit");
    if (cli->epilog)
        printf("\n%s\n", cli->epilog);
}

static const tp_option *find_long(const tp_cli *cli, const char *name, size_t n)
{
    for (const tp_option *o = cli->opts; o && o->name; o++)
        if (strlen(o->name) == n && memcmp(o->name, name, n) == 0)
            return o;
    return NULL;
}

static const tp_option *find_short(const tp_cli *cli, char c)
{
    for (const tp_option *o = cli->opts; o && o->name; o++)
        if (o->short_name == c)
            return o;
    return NULL;
}

static void set_value(const tp_option *o, const char *v)
{
    char words[256];
    switch (o->type) {
    case TP_OPT_FLAG:
        *(int *)o->ptr = 1;
        break;
    case TP_OPT_SET:
        *(int *)o->ptr = o->value;
        break;
    case TP_OPT_CHOICE: {
        int i = tp_choice_index(o->choices, v);
        if (i < 0) {
            choice_list(o->choices, words, sizeof words);
            tp_usage("option --%s must be %s, not '%s'", o->name, words, v);
        }
        *(int *)o->ptr = i;
        break;
    }
    case TP_OPT_INT:
        if (tp_parse_i64(v, (int64_t *)o->ptr))
            tp_usage("option --%s wants an integer, not '%s'", o->name, v);
        if (o->range && !in_range(o, (double)*(int64_t *)o->ptr)) {
            range_words(o, words, sizeof words);
            tp_usage("option --%s must be %s, not '%s'", o->name, words, v);
        }
        break;
    case TP_OPT_DOUBLE:
        if (tp_parse_f64(v, (double *)o->ptr))
            tp_usage("option --%s wants a number, not '%s'", o->name, v);
        if (o->range && !in_range(o, *(double *)o->ptr)) {
            range_words(o, words, sizeof words);
            tp_usage("option --%s must be %s, not '%s'", o->name, words, v);
        }
        break;
    case TP_OPT_STRING:
        *(const char **)o->ptr = v;
        break;
    }
}

/* The parse's allocations while it runs: a refused option ends the program inside the parse,
 * where the compiler may already have dropped its own pointers to them (the call does not
 * return), and a leak checker must still find them reachable. */
static char **volatile parsing_pos;
static char *volatile parsing_set_by;

int tp_cli_parse(const tp_cli *cli, int argc, char **argv, char ***args)
{
    char **pos = tp_alloc((size_t)argc + 1, sizeof *pos);
    parsing_pos = pos;
    int npos = 0, only_args = 0, nopts = 0;
    while (cli->opts && cli->opts[nopts].name)
        nopts++;
    char *set_by = tp_calloc((size_t)nopts + 1, 1); /* TP_OPT_SET options given */
    parsing_set_by = set_by;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_args || a[0] != '-' || a[1] == 0) {
            pos[npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_args = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            tp_cli_help(cli);
            exit(0);
        }
        if (strcmp(a, "--version") == 0) {
            printf("%s (tpipe) %s\n", tp_progname(), TP_VERSION);
            exit(0);
        }
        const tp_option *o;
        const char *val = NULL;
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(cli, name, n);
            if (!o)
                tp_usage("unknown option '--%.*s'", (int)n, name);
            if (eq) {
                if (o->type == TP_OPT_FLAG || o->type == TP_OPT_SET)
                    tp_usage("option --%s takes no value", o->name);
                val = eq + 1;
            }
        } else {
            o = find_short(cli, a[1]);
            if (!o)
                tp_usage("unknown option '-%c'", a[1]);
            if (a[2]) {
                if (o->type == TP_OPT_FLAG || o->type == TP_OPT_SET)
                    tp_usage("option -%c takes no value", a[1]);
                val = a + 2;
            }
        }
        if (o->type == TP_OPT_SET) { /* another option that sets the same int otherwise excludes this one */
            for (const tp_option *q = cli->opts; q->name; q++)
                if (q != o && q->ptr == o->ptr && q->value != o->value && set_by[q - cli->opts])
                    tp_usage("options --%s and --%s exclude each other", q->name, o->name);
            set_by[o - cli->opts] = 1;
        }
        if (o->type != TP_OPT_FLAG && o->type != TP_OPT_SET && !val) {
            if (i + 1 >= argc)
                tp_usage("option --%s needs a value", o->name);
            val = argv[++i];
        }
        set_value(o, val);
    }
    free(set_by);
    parsing_set_by = NULL;
    pos[npos] = NULL;
    if (npos < cli->min_args)
        tp_usage("missing argument (usage: %s %s)", tp_progname(), cli->synopsis);
    if (cli->max_args >= 0 && npos > cli->max_args)
        tp_usage("too many arguments (usage: %s %s)", tp_progname(), cli->synopsis);
    parsing_pos = NULL;
    *args = pos;
    return npos;
}
