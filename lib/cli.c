/* cli.c — see cli.h. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void format_default(const tp_option *o, char *buf, size_t n)
{
    buf[0] = 0;
    switch (o->type) {
    case TP_OPT_FLAG:
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

void tp_cli_help(const tp_cli *cli)
{
    const char *p = tp_progname();
    printf("Usage: %s %s\n%s\n", p, cli->synopsis, cli->summary);
    printf("\nOptions:\n");
    for (const tp_option *o = cli->opts; o && o->name; o++) {
        char left[80], def[128];
        snprintf(left, sizeof left, "%c%c%c --%s%s%s", o->short_name ? '-' : ' ', o->short_name ? o->short_name : ' ',
                 o->short_name ? ',' : ' ', o->name, o->type == TP_OPT_FLAG ? "" : " ",
                 o->type == TP_OPT_FLAG ? "" : (o->metavar ? o->metavar : "VALUE"));
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
    switch (o->type) {
    case TP_OPT_FLAG:
        *(int *)o->ptr = 1;
        break;
    case TP_OPT_INT:
        if (tp_parse_i64(v, (int64_t *)o->ptr))
            tp_usage("option --%s wants an integer, not '%s'", o->name, v);
        break;
    case TP_OPT_DOUBLE:
        if (tp_parse_f64(v, (double *)o->ptr))
            tp_usage("option --%s wants a number, not '%s'", o->name, v);
        break;
    case TP_OPT_STRING:
        *(const char **)o->ptr = v;
        break;
    }
}

int tp_cli_parse(const tp_cli *cli, int argc, char **argv, char ***args)
{
    char **pos = tp_alloc((size_t)argc + 1, sizeof *pos);
    int npos = 0, only_args = 0;
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
                if (o->type == TP_OPT_FLAG)
                    tp_usage("option --%s takes no value", o->name);
                val = eq + 1;
            }
        } else {
            o = find_short(cli, a[1]);
            if (!o)
                tp_usage("unknown option '-%c'", a[1]);
            if (a[2]) {
                if (o->type == TP_OPT_FLAG)
                    tp_usage("option -%c takes no value", a[1]);
                val = a + 2;
            }
        }
        if (o->type != TP_OPT_FLAG && !val) {
            if (i + 1 >= argc)
                tp_usage("option --%s needs a value", o->name);
            val = argv[++i];
        }
        set_value(o, val);
    }
    pos[npos] = NULL;
    if (npos < cli->min_args)
        tp_usage("missing argument (usage: %s %s)", tp_progname(), cli->synopsis);
    if (cli->max_args >= 0 && npos > cli->max_args)
        tp_usage("too many arguments (usage: %s %s)", tp_progname(), cli->synopsis);
    *args = pos;
    return npos;
}
