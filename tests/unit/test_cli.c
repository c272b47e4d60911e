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
    {"limit", 'n', TP_OPT_INT, &n, "N", "how many"},
    {"lr", 0, TP_OPT_DOUBLE, &lr, "X", "learning rate"},
    {"output", 'o', TP_OPT_STRING, &out, "FILE", "where"},
    {"verbose", 'v', TP_OPT_FLAG, &verbose, NULL, "talk"},
    {"ratio", 'r', TP_OPT_DOUBLE, &ratio, "R", "share (default 0.8 with a second output, else 1)"},
    {0},
};
static const tp_cli cli = {"[OPTIONS] FILE...", "A test program.", opts, NULL, 1, 3};

static int parse(char **argv, char ***args)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    n = 5, lr = 0.001, out = "-", verbose = 0, ratio = -1;
    return tp_cli_parse(&cli, argc, argv, args);
}

/* Exit status of parsing argv in a child, its stdout captured into buf. */
static int child_status(char **argv, char *buf, size_t cap)
{
    int fd[2];
    if (pipe(fd))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        char **args;
        parse(argv, &args);
        fflush(stdout);
        _exit(100);
    }
    close(fd[1]);
    long long got = tp_read_full(fd[0], buf, cap - 1);
    buf[got > 0 ? got : 0] = 0;
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
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
    return check_result();
}
