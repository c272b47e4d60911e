/* Unit tests of lib/optim.c: single steps against the update formulas written out. */
#include <math.h>

#include "check.h"
#include "optim.h"

int main(void)
{
    float g[2] = {0.5f, -2.0f};
    /* Adam, step 1 and 2 from zero state: m1 = .1 g, v1 = .001 g^2, alpha1 = lr sqrt(.001)/.1 */
    tp_optim o;
    tp_optim_init(&o, TP_OPT_ADAM, 2);
    float p[2] = {1, 1};
    tp_optim_step(&o, p, g, 0.01);
    for (int i = 0; i < 2; i++) {
        double m = 0.1 * g[i], v = 0.001 * g[i] * g[i], a = 0.01 * sqrt(1 - 0.999) / (1 - 0.9);
        CHECK_NEAR(p[i], 1 - a * m / (sqrt(v) + 1e-7), 1e-6);
    }
    float p1[2] = {p[0], p[1]};
    tp_optim_step(&o, p, g, 0.01);
    for (int i = 0; i < 2; i++) {
        double m = 0.9 * 0.1 * g[i] + 0.1 * g[i], v = 0.999 * 0.001 * g[i] * g[i] + 0.001 * g[i] * g[i];
        double a = 0.01 * sqrt(1 - 0.999 * 0.999) / (1 - 0.81);
        CHECK_NEAR(p[i], p1[i] - a * m / (sqrt(v) + 1e-7), 1e-6);
    }
    tp_optim_free(&o);
    /* SGD with momentum 0.9, plain and Nesterov, two steps */
    for (int nest = 0; nest < 2; nest++) {
        tp_optim_init(&o, TP_OPT_SGD, 2);
        o.momentum = 0.9;
        o.nesterov = nest;
        float q[2] = {1, 1};
        tp_optim_step(&o, q, g, 0.1);
        tp_optim_step(&o, q, g, 0.1);
        for (int i = 0; i < 2; i++) {
            double v1 = -0.1 * g[i], v2 = 0.9 * v1 - 0.1 * g[i];
            double want = nest ? 1 + (0.9 * v1 - 0.1 * g[i]) + (0.9 * v2 - 0.1 * g[i]) : 1 + v1 + v2;
            CHECK_NEAR(q[i], want, 1e-6);
        }
        tp_optim_free(&o);
    }
    /* Adagrad: accumulator starts at 0.1 */
    tp_optim_init(&o, TP_OPT_ADAGRAD, 2);
    float r[2] = {1, 1};
    tp_optim_step(&o, r, g, 0.01);
    for (int i = 0; i < 2; i++)
        CHECK_NEAR(r[i], 1 - 0.01 * g[i] / (sqrt(0.1 + g[i] * g[i]) + 1e-7), 1e-6);
    tp_optim_free(&o);
    /* decoupled weight decay */
    tp_optim_init(&o, TP_OPT_SGD, 2);
    o.decay = 0.5;
    float d[2] = {2, 2};
    float zero[2] = {0, 0};
    tp_optim_step(&o, d, zero, 0.1);
    CHECK_NEAR(d[0], 2 * (1 - 0.1 * 0.5), 1e-6);
    tp_optim_free(&o);
    /* schedules */
    tp_sched s = {TP_SCHED_STEP, 0.1, 0.5, 2, 0, 0};
    CHECK_NEAR(tp_sched_lr(&s, 0, 100, 10), 0.1, 1e-12);
    CHECK_NEAR(tp_sched_lr(&s, 19, 100, 10), 0.1, 1e-12);
    CHECK_NEAR(tp_sched_lr(&s, 20, 100, 10), 0.05, 1e-12);
    tp_sched c = {TP_SCHED_COSINE, 0.1, 0, 0, 0.001, 0};
    CHECK_NEAR(tp_sched_lr(&c, 0, 101, 10), 0.1, 1e-12);
    CHECK_NEAR(tp_sched_lr(&c, 50, 101, 10), 0.0505, 1e-12);
    CHECK_NEAR(tp_sched_lr(&c, 100, 101, 10), 0.001, 1e-12);
    tp_sched oc = {TP_SCHED_ONECYCLE, 0.1, 0, 0, 0, 0.3};
    CHECK_NEAR(tp_sched_lr(&oc, 0, 101, 10), 0.004, 1e-12);
    CHECK_NEAR(tp_sched_lr(&oc, 30, 101, 10), 0.1, 1e-12);
    CHECK_NEAR(tp_sched_lr(&oc, 100, 101, 10), 1e-5, 1e-12);
    return check_result();
}
