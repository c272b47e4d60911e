/* Unit tests of the option parser (lib/cli.c); exits are checked in forked children. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"
#include "util.h"

static int64_t n;
static double lr;
static const char *out;
static int verbose;
static double ratio;
static const tp_option opts[] = {
    TP_INT("limit", 'n', &n, "N", "how many"),
    TP_DOUBLE("lr", 0, &lr, "X", "learning rate"),
    TP_STRING("output", 'o', &out, "FILE", "where"),
    TP_FLAG("verbose", 'v', &verbose, "talk"),
    TP_DOUBLE("ratio", 'r', &ratio, "R", "share (default 0.8 with a second output, else 1)"),
    {0},
};
static const tp_cli cli = {"[OPTIONS] FILE...", "A test program.", opts, NULL, 1, 3};

/* The checked kinds: ranges, choices, and options that set one int */
static int64_t threads, count, copies;
static double rate, frac, take;
static int method, channels;
static const tp_option checked[] = {
    TP_OPT_THREADS(&threads, "workers"),
    TP_INT("count", 'c', &count, "N", "how many", TP_MIN(0)),
    TP_INT("copies", 'k', &copies, "K", "variants", TP_RANGE(1, 1000000)),
    TP_DOUBLE("rate", 0, &rate, "X", "a rate", TP_ABOVE(0)),
    TP_DOUBLE("frac", 0, &frac, "F", "a share", TP_FRACTION),
    TP_DOUBLE("take", 0, &take, "N|F", "how much", TP_AMOUNT),
    TP_CHOICE("method", 'm', &method, "M", "how", "auto", "exact", "bh|barnes-hut"),
    TP_SET("rgb", 0, &channels, 3, "three channels"),
    TP_SET("gray", 0, &channels, 1, "one channel"),
    {0},
};
static const tp_cli checked_cli = {"[OPTIONS]", "Checks.", checked, NULL, 0, 0};
static int use_checked;

static int parse(char **argv, char ***args)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    n = 5, lr = 0.001, out = "-", verbose = 0, ratio = -1;
    threads = 2, count = 0, copies = 1, rate = 1, frac = 0.5, take = 0, method = 0, channels = 0;
    return tp_cli_parse(use_checked ? &checked_cli : &cli, argc, argv, args);
}

static char errbuf[4096];

/* Exit status of parsing argv in a child, its stdout captured into buf, its stderr into
 * errbuf. */
static int child_status(char **argv, char *buf, size_t cap)
{
    int fd[2], fe[2];
    if (pipe(fd) || pipe(fe))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        dup2(fe[1], 2);
        close(fd[0]);
        close(fe[0]);
        char **args;
        parse(argv, &args);
        fflush(stdout);
        _exit(100);
    }
    close(fe[1]);
    close(fd[1]);
    long long got = tp_read_full(fd[0], buf, cap - 1);
    buf[got > 0 ? got : 0] = 0;
    close(fd[0]);
    got = tp_read_full(fe[0], errbuf, sizeof errbuf - 1);
    errbuf[got > 0 ? got : 0] = 0;
    close(fe[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One refusal of the checked table: exit 2, one line on stderr holding want. */
static void refused(char **argv, const char *want)
{
    char buf[256];
    int st = child_status(argv, buf, sizeof buf);
    if (st != 2 || !strstr(errbuf, want) || strchr(errbuf, '\n') != errbuf + strlen(errbuf) - 1) {
        fprintf(stderr, "'%s %s': status %d, stderr '%s', expected '%s'\n", argv[1], argv[2] ? argv[2] : "", st,
                errbuf, want);
        check_failures++;
    }
}

static void test_checked(void)
{
    use_checked = 1;
    char **args;
    char *ok[] = {"prog", "-t", "256", "--count", "0", "--rate=1e-9", "--frac", "0", "-m", "barnes-hut", "--rgb", "--rgb",
                  NULL};
    parse(ok, &args);
    CHECK(threads == 256 && count == 0 && rate == 1e-9 && frac == 0 && method == 2 && channels == 3);
    free(args);
    char *ok2[] = {"prog", "--gray", "--method", "exact", NULL};
    parse(ok2, &args);
    CHECK(channels == 1 && method == 1);
    free(args);
    refused((char *[]){"prog", "--threads", "257", NULL}, "prog: option --threads must be 1 to 256, not '257'");
    refused((char *[]){"prog", "-t0", NULL}, "option --threads must be 1 to 256, not '0'");
    refused((char *[]){"prog", "--count", "-1", NULL}, "option --count must be at least 0, not '-1'");
    refused((char *[]){"prog", "-k", "0", NULL}, "option --copies must be 1 to 1000000, not '0'"); /* not 1e+06 */
    refused((char *[]){"prog", "--rate", "0", NULL}, "option --rate must be more than 0, not '0'");
    refused((char *[]){"prog", "--rate", "nan", NULL}, "option --rate must be more than 0, not 'nan'");
    refused((char *[]){"prog", "--frac", "1", NULL}, "option --frac must be at least 0 and less than 1, not '1'");
    refused((char *[]){"prog", "--take", "1.5", NULL},
            "option --take must be a count of at least 1 or a fraction between 0 and 1, not '1.5'");
    refused((char *[]){"prog", "--take", "0", NULL}, "not '0'");
    char *amounts[] = {"prog", "--take", "0.25", NULL}, *counts[] = {"prog", "--take", "300", NULL};
    parse(amounts, &args);
    CHECK(take == 0.25);
    free(args);
    parse(counts, &args);
    CHECK(take == 300);
    free(args);
    refused((char *[]){"prog", "--method", "fft", NULL}, "option --method must be auto, exact or bh, not 'fft'");
    refused((char *[]){"prog", "--rgb", "--gray", NULL}, "options --rgb and --gray exclude each other");
    refused((char *[]){"prog", "--gray=1", NULL}, "option --gray takes no value");
    /* --help shows a choice's default by name */
    char buf[4096];
    CHECK_INT(child_status((char *[]){"prog", "--help", NULL}, buf, sizeof buf), 0);
    CHECK(strstr(buf, "-m, --method M") && strstr(buf, "how (default: auto)"));
    CHECK(strstr(buf, "     --rgb ") != NULL);
    /* a program of one input: the argument, else stdin */
    static const tp_cli one_input = {"[OPTIONS] [FILE]", "One input.", checked, NULL, 0, 1};
    CHECK(strcmp(tp_cli_parse_input(&one_input, 2, (char *[]){"prog", "in.tp", NULL}), "in.tp") == 0);
    CHECK(strcmp(tp_cli_parse_input(&one_input, 3, (char *[]){"prog", "-k", "2", NULL}), "-") == 0 && copies == 2);
    /* a default the range refuses (--take 0: none given) is not shown as one */
    CHECK(strstr(buf, "how much\n") && strstr(buf, "variants (default: 1)"));
    use_checked = 0;
}

int main(void)
{
    tp_init("prog");
    char **args;
    char *a1[] = {"prog", "a", "--limit", "7", "-ofile", "--lr=0.5", "b", "-v", "--", "-c", NULL};
    int k = parse(a1, &args);
    CHECK_INT(k, 3);
    CHECK(strcmp(args[0], "a") == 0 && strcmp(args[1], "b") == 0 && strcmp(args[2], "-c") == 0);
    CHECK_INT(n, 7);
    CHECK(lr == 0.5);
    CHECK(strcmp(out, "file") == 0);
    CHECK_INT(verbose, 1);
    free(args);
    char *a2[] = {"prog", "-", "-n", "-3", "-o", "-", NULL};
    CHECK_INT(parse(a2, &args), 1);
    CHECK(strcmp(args[0], "-") == 0 && n == -3 && strcmp(out, "-") == 0);
    free(args);

    char buf[4096];
    char *help[] = {"prog", "--help", NULL};
    CHECK_INT(child_status(help, buf, sizeof buf), 0);
    CHECK(strstr(buf, "Usage: prog [OPTIONS] FILE...") != NULL);
    CHECK(strstr(buf, "-n, --limit N") && strstr(buf, "(default: 5)"));
    CHECK(strstr(buf, "--lr X") && strstr(buf, "(default: 0.001)"));
    CHECK(strstr(buf, "-v, --verbose") && strstr(buf, "--version"));
    /* a help line that states its default gets no second, automatic one (here -1) */
    const char *rl = strstr(buf, "--ratio R");
    CHECK(rl && strstr(rl, "share (default 0.8 with a second output, else 1)\n") != NULL);
    CHECK(strstr(buf, "(default: -1)") == NULL);
    char *ver[] = {"prog", "--version", NULL};
    CHECK_INT(child_status(ver, buf, sizeof buf), 0);
    CHECK(strstr(buf, TP_VERSION) != NULL);
    char *bad[][5] = {
        {"prog", "a", "--nope", NULL},      {"prog", "a", "--limit", NULL},   {"prog", "a", "--limit", "x", NULL},
        {"prog", "a", "--lr", "1.2.3", NULL}, {"prog", NULL},                   {"prog", "a", "b", "c", "d"},
        {"prog", "a", "-v3", NULL},         {"prog", "a", "--verbose=1", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *argv[6] = {0};
        memcpy(argv, bad[i], sizeof bad[i]);
        int st = child_status(argv, buf, sizeof buf);
        if (st != 2 || buf[0]) {
            fprintf(stderr, "bad usage case %zu: status %d, stdout '%s'\n", i, st, buf);
            check_failures++;
        }
    }
    test_checked();
    return check_result();
}
