/* A whole small network against PyTorch (tests/fixtures/make_nn.py made the fixtures):
 * forward probabilities, loss, and the gradient of every trainable tensor.
 * Tolerances: both sides compute in float32 with different summation orders, so values
 * agree to about 1e-6 relative; 1e-5 absolute on probabilities and the loss, and 2e-4
 * relative (plus 1e-6 absolute) on gradients, which pass through more reductions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "net.h"
#include "nn.h"
#include "stream.h"
#include "util.h"

static char path[1024];

static const char *fixture(const char *name)
{
    const char *t = getenv("TESTS");
    snprintf(path, sizeof path, "%s/fixtures/%s", t ? t : "tests", name);
    return path;
}

/* Field name of record rec in reader r's header, as floats. */
static const float *field(tp_reader *r, const unsigned char *rec, const char *name, size_t *n)
{
    const tp_header *h = tp_reader_header(r);
    int i = tp_header_find(h, name);
    if (i < 0) {
        fprintf(stderr, "fixture lacks %s\n", name);
        exit(1);
    }
    *n = h->fields[i].nelem;
    return (const float *)(rec + h->fields[i].offset);
}

int main(void)
{
    tp_init("test_torch");
    tp_net net;
    tp_model_read_net(fixture("nn_model.tp"), &net, NULL);
    tp_nn w;
    tp_nn_init(&w, &net, 4);
    tp_reader *in = tp_open_or_die(fixture("nn_input.tp"));
    int32_t y[4];
    for (int s = 0; s < 4; s++) {
        const unsigned char *rec = tp_next_or_die(in);
        memcpy(w.a[0] + (size_t)s * 98, rec, 98 * sizeof(float));
        memcpy(&y[s], rec + 98 * sizeof(float), 4);
    }
    tp_nn_forward(&w, 4, 1, NULL);
    tp_reader *want = tp_open_or_die(fixture("nn_want.tp"));
    const unsigned char *rec = tp_next_or_die(want);
    size_t n;
    const float *prob = field(want, rec, "prob", &n);
    CHECK_INT(n, 12);
    for (size_t k = 0; k < n; k++)
        CHECK_NEAR(w.a[net.n][k], prob[k], 1e-5);
    double loss = tp_nn_backward(&w, 4, y, 0);
    CHECK_NEAR(loss, *field(want, rec, "loss", &n), 1e-5);
    /* the gradients, in the order the model's tensors are laid out */
    struct {
        const char *name;
        size_t off, len;
    } t[] = {
        {"L1.w", net.l[0].w, net.l[0].nw}, {"L1.b", net.l[0].b, net.l[0].nb},
        {"L2.gamma", net.l[1].w, net.l[1].nw}, {"L2.beta", net.l[1].b, net.l[1].nb},
        {"L4.w", net.l[3].w, net.l[3].nw}, {"L4.b", net.l[3].b, net.l[3].nb},
        {"L7.w", net.l[6].w, net.l[6].nw}, {"L7.b", net.l[6].b, net.l[6].nb},
        {"L8.w", net.l[7].w, net.l[7].nw}, {"L8.b", net.l[7].b, net.l[7].nb},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        const float *g = field(want, rec, t[i].name, &n);
        CHECK_INT(n, t[i].len);
        int bad = 0;
        for (size_t k = 0; k < n && k < t[i].len; k++) {
            double a = w.grad[t[i].off + k], b = g[k];
            if (fabs(a - b) > 1e-6 + 2e-4 * fmax(fabs(a), fabs(b)) && bad++ < 3)
                fprintf(stderr, "%s[%zu]: tpipe %.8g, torch %.8g\n", t[i].name, k, a, b);
        }
        if (bad) {
            fprintf(stderr, "%s: %d gradients differ\n", t[i].name, bad);
            check_failures++;
        }
    }
    tp_reader_close(in);
    tp_reader_close(want);
    tp_nn_free(&w);
    tp_net_free(&net);
    return check_result();
}
