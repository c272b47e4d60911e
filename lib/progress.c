/* progress.c — see progress.h. */
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm.h"
#include "util.h"

void tp_format_duration(double s, char *buf)
{
    if (s < 0 || s > 1e7) {
        strcpy(buf, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, 32, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, 32, "%ld:%02ld", t / 60, t % 60);
}

static void format_rate(double r, char *buf)
{
    if (r >= 1e6)
        snprintf(buf, 16, "%.1fM", r / 1e6);
    else if (r >= 1e4)
        snprintf(buf, 16, "%.1fk", r / 1e3);
    else
        snprintf(buf, 16, "%.1f", r);
}

void tp_progress_start(tp_progress *p, const char *label, int64_t total, const char *unit)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->unit = unit;
    p->total = total;
    p->t0 = p->last = tp_now();
    const char *env = getenv("TP_PROGRESS");
    const char *iv = getenv("TP_PROGRESS_INTERVAL");
    p->interval = 10;
    if (iv && tp_parse_f64(iv, &p->interval) == 0 && p->interval < 0.05)
        p->interval = 0.05;
    if ((env && strcmp(env, "0") == 0) || !tp_comm_root()) /* one rank of a job speaks for it */
        p->mode = 0;
    else if (env && strcmp(env, "1") == 0)
        p->mode = 1;
    else
        p->mode = isatty(2) ? 2 : 1;
}

static void draw(tp_progress *p, double now, int final)
{
    double el = now - p->t0;
    double rate = el > 0 ? (double)p->done / el : 0;
    char rs[32], eta[32], els[32];
    format_rate(rate, rs);
    tp_format_duration(el, els);
    if (p->total > 0 && rate > 0 && !final)
        tp_format_duration((double)(p->total - p->done) / rate, eta);
    else
        strcpy(eta, "?");
    if (p->mode == 2) {
        char bar[31];
        int w = 30, fill = 0;
        if (p->total > 0)
            fill = (int)((double)w * (double)p->done / (double)p->total);
        if (fill > w)
            fill = w;
        for (int i = 0; i < w; i++)
            bar[i] = i < fill ? '=' : (i == fill && p->total > 0 ? '>' : ' ');
        bar[w] = 0;
        if (p->total > 0)
            fprintf(stderr, "\r%s [%s] %3.0f%% %lld/%lld %s %s/s %s %s\033[K", p->label, bar,
                    100.0 * (double)p->done / (double)p->total, (long long)p->done, (long long)p->total, p->unit,
                    rs, final ? "in" : "ETA", final ? els : eta);
        else
            fprintf(stderr, "\r%s %lld %s %s/s %s\033[K", p->label, (long long)p->done, p->unit, rs, els);
        if (final)
            fputc('\n', stderr);
    } else {
        if (p->total > 0)
            fprintf(stderr, "%s: %s%lld/%lld %s (%.0f%%), %s %s/s, %s %s\n", tp_progname(),
                    final ? "done " : "", (long long)p->done, (long long)p->total, p->unit,
                    100.0 * (double)p->done / (double)p->total, rs, p->unit, final ? "took" : "ETA",
                    final ? els : eta);
        else
            fprintf(stderr, "%s: %s%lld %s, %s %s/s, %s elapsed\n", tp_progname(), final ? "done " : "",
                    (long long)p->done, p->unit, rs, p->unit, els);
    }
    fflush(stderr);
    p->printed = 1;
}

void tp_progress_update(tp_progress *p, int64_t done)
{
    p->done = done;
    if (!p->mode)
        return;
    double now = tp_now();
    double gap = p->mode == 2 ? 0.125 : p->interval;
    if (now - p->last < gap)
        return;
    p->last = now;
    draw(p, now, 0);
}

void tp_progress_end(tp_progress *p, int64_t done)
{
    p->done = done;
    if (p->mode && p->printed)
        draw(p, tp_now(), 1);
    p->mode = 0;
}
