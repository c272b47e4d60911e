/* Unit tests of lib/progress.c in its plain-line mode (stderr captured in a file). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "progress.h"
#include "util.h"

static char text[4096];

/* Runs fn with stderr sent to a file; leaves what it printed in text. */
static void capture(void (*fn)(void))
{
    char path[] = "/tmp/tp_progress_XXXXXX";
    int fd = mkstemp(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    long long n = tp_read_full(fd, text, sizeof text - 1);
    text[n > 0 ? n : 0] = 0;
    close(fd);
    unlink(path);
}

static void quick_run(void)
{
    tp_progress p;
    tp_progress_start(&p, "job", 100, "items");
    for (int i = 1; i <= 100; i++)
        tp_progress_update(&p, i);
    tp_progress_end(&p, 100);
}

static void slow_run(void)
{
    tp_progress p;
    tp_progress_start(&p, "job", 40, "items");
    for (int i = 1; i <= 39; i++) {
        usleep(5000);
        tp_progress_update(&p, i);
    }
    tp_progress_end(&p, 40); /* the last step is reported only at the end */
}

static void unknown_total(void)
{
    tp_progress p;
    tp_progress_start(&p, "job", -1, "records");
    usleep(80000);
    tp_progress_update(&p, 7);
    tp_progress_end(&p, 7);
}

int main(void)
{
    tp_init("progtest");
    setenv("TP_PROGRESS", "1", 1);
    setenv("TP_PROGRESS_INTERVAL", "10", 1);
    capture(quick_run);
    CHECK(text[0] == 0); /* a run shorter than the interval prints nothing */

    setenv("TP_PROGRESS_INTERVAL", "0.05", 1);
    capture(slow_run);
    CHECK(strstr(text, "progtest: ") == text);
    CHECK(strstr(text, "/40 items (") && strstr(text, "items/s, ETA "));
    CHECK(strstr(text, "progtest: done 40/40 items (100%)") != NULL);
    int lines = 0;
    for (char *p = text; *p; p++)
        lines += *p == '\n';
    CHECK(lines >= 2 && lines <= 6); /* ~0.2 s at one line per 0.05 s, plus the final one */

    capture(unknown_total);
    CHECK(strstr(text, "progtest: 7 records, ") && strstr(text, "elapsed"));

    setenv("TP_PROGRESS", "0", 1);
    capture(slow_run);
    CHECK(text[0] == 0);

    char buf[32];
    tp_format_duration(3725, buf);
    CHECK(strcmp(buf, "1:02:05") == 0);
    tp_format_duration(65, buf);
    CHECK(strcmp(buf, "1:05") == 0);
    return check_result();
}
