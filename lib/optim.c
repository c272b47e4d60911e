/* optim.c — see optim.h. */
#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int tp_optim_parse(const char *s, tp_opt_kind *k)
{
    static const char *names[] = {"sgd", "adam", "adagrad"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *k = (tp_opt_kind)i;
            return 0;
        }
    return -1;
}

void tp_optim_init(tp_optim *o, tp_opt_kind k, size_t n)
{
    memset(o, 0, sizeof *o);
    o->kind = k;
    o->n = n;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-7;
    o->init_acc = 0.1;
    o->m = tp_calloc(n + 1, sizeof *o->m);
    o->v = tp_calloc(n + 1, sizeof *o->v);
    if (k == TP_OPT_ADAGRAD)
        for (size_t i = 0; i < n; i++)
            o->v[i] = (float)o->init_acc;
}

void tp_optim_free(tp_optim *o)
{
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

void tp_optim_step(tp_optim *o, float *p, const float *g, double lr)
{
    o->t++;
    if (o->decay > 0) {
        float k = (float)(1 - lr * o->decay);
        for (size_t i = 0; i < o->n; i++)
            p[i] *= k;
    }
    switch (o->kind) {
    case TP_OPT_SGD: {
        float mu = (float)o->momentum, a = (float)lr;
        if (mu == 0) {
            for (size_t i = 0; i < o->n; i++)
                p[i] -= a * g[i];
            break;
        }
        for (size_t i = 0; i < o->n; i++) {
            o->m[i] = mu * o->m[i] - a * g[i];
            p[i] += o->nesterov ? mu * o->m[i] - a * g[i] : o->m[i];
        }
        break;
    }
    case TP_OPT_ADAM: {
        float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
        float a = (float)(lr * sqrt(1 - pow(o->beta2, (double)o->t)) / (1 - pow(o->beta1, (double)o->t)));
        for (size_t i = 0; i < o->n; i++) {
            o->m[i] = b1 * o->m[i] + (1 - b1) * g[i];
            o->v[i] = b2 * o->v[i] + (1 - b2) * g[i] * g[i];
            p[i] -= a * o->m[i] / (sqrtf(o->v[i]) + eps);
        }
        break;
    }
    case TP_OPT_ADAGRAD: {
        float a = (float)lr, eps = (float)o->eps;
        for (size_t i = 0; i < o->n; i++) {
            o->v[i] += g[i] * g[i];
            p[i] -= a * g[i] / (sqrtf(o->v[i]) + eps);
        }
        break;
    }
    }
}

int tp_sched_parse(const char *s, tp_sched_kind *k)
{
    static const char *names[] = {"constant", "step", "cosine", "onecycle"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *k = (tp_sched_kind)i;
            return 0;
        }
    return -1;
}

double tp_sched_lr(const tp_sched *s, int64_t t, int64_t total, int64_t steps_per_epoch)
{
    double x = total > 1 ? (double)t / (double)(total - 1) : 0;
    switch (s->kind) {
    case TP_SCHED_CONSTANT: return s->lr;
    case TP_SCHED_STEP: {
        int64_t epoch = steps_per_epoch > 0 ? t / steps_per_epoch : 0;
        return s->lr * pow(s->gamma, (double)(epoch / (s->every > 0 ? s->every : 1)));
    }
    case TP_SCHED_COSINE: return s->min_lr + 0.5 * (s->lr - s->min_lr) * (1 + cos(M_PI * x));
    case TP_SCHED_ONECYCLE: { /* rise from lr/25 to lr, then cosine down to lr/1e4 */
        double w = s->warm > 0 ? s->warm : 0.3, lo = s->lr / 25, end = s->lr / 1e4;
        if (x < w)
            return lo + (s->lr - lo) * 0.5 * (1 - cos(M_PI * x / w));
        return end + (s->lr - end) * 0.5 * (1 + cos(M_PI * (x - w) / (1 - w)));
    }
    }
    return s->lr;
}
