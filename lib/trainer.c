/* trainer.c — see trainer.h: the seam, then its two backends. A backend is a table of four
 * operations; tp_trainer_step and tp_trainer_totals are the same code for every device. */
#include "trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "gpu_nn.h"
#include "infer.h"
#include "nn.h"
#include "parallel.h"
#include "util.h"

typedef struct {
    /* the batch's records (recs: fetched, or NULL when the device holds the data) through
     * the network: its mean gradient left for step */
    void (*gradient)(tp_trainer *t, const unsigned char *recs, const int64_t *idx, int m, const tp_rng *step,
                     const tp_rng *aug_epoch);
    /* the summed loss and right count since the last call, added to *loss and *right */
    void (*totals)(tp_trainer *t, double *loss, int64_t *right);
    /* one optimiser step on the trainable parameters after the frozen ones */
    void (*step)(tp_trainer *t, double lr);
    void (*sync)(tp_trainer *t);
    void (*close)(tp_trainer *t);
    int window; /* steps between reads of the totals */
} backend;

/* The CPU: one workspace for this rank's part of every batch, its layers' work shared by
 * the threads (nn.h); the sums over the batch go block by block, so the bytes depend on
 * neither the thread count nor the rank count. */
typedef struct {
    int T, B;            /* threads, samples per block */
    tp_nn w;
    int32_t *lab;
    float **scratch;     /* per thread: one augmented image */
    double *loss;        /* per sample of the job's batch, last step */
    int64_t *right;
    double pend_loss;    /* since the last totals */
    int64_t pend_right;
} cpu_state;

/* A GPU: the network's workspace there, the data kept there when it fits. */
typedef struct {
    const tp_gpu_nn_api *gn;
    tp_gnn *gw;
    int resident;        /* the training data is on the device */
    float *x, *scratch;  /* per-batch input prepared on the host */
    int32_t *lab;
    /* an MPI job (comm.h): each rank its block of every batch on its GPU; the gradient goes
     * through host memory (hgrad), is summed across the job, and the step is taken on the
     * host with the parameters read back and sent again */
    float *hgrad;
    float share;         /* this rank's part of the batch */
    int nccl;            /* or summed between the devices by NCCL, the step taken on each */
} gpu_state;

struct tp_trainer {
    const backend *be;
    tp_net *net;
    tp_recipe r;
    tp_dataset *train;
    size_t first_free;   /* the first parameter that learns */
    int unit;            /* an MPI job: each rank takes whole units of this many samples */
    tp_optim opt;
    tp_rng root, aug_root;
    unsigned char *recs; /* a batch's records */
    int unread;          /* steps since the totals were read */
    double loss;         /* totals read so far */
    int64_t right, unread_samples;
    double bad;          /* the mean loss that was not finite */
    tp_infer *inf;       /* evaluation, in batches of eval_batch on eval_threads */
    int eval_batch, eval_threads;
    char where[256];
    cpu_state cpu;
    gpu_state gpu;
};

/* ---- the CPU ---- */

typedef struct {
    tp_trainer *t;
    const unsigned char *recs;
    const int64_t *idx; /* this rank's */
    int n;
    const tp_rng *aug_epoch;
} input_job;

/* Block k of this rank's samples prepared (decoded, augmented) into the network's input. */
static void input_block(void *ctx, int64_t k, int thread)
{
    input_job *j = ctx;
    tp_trainer *t = j->t;
    cpu_state *c = &t->cpu;
    int lo = (int)k * c->B, n = j->n - lo < c->B ? j->n - lo : c->B;
    size_t in = tp_layer_out_size(t->net, -1);
    tp_batch b = {j->recs + (size_t)lo * t->train->rsz, j->idx + lo, n};
    tp_dataset_input(t->train, &b, &t->r.input, t->net, j->aug_epoch, c->scratch[thread], c->w.a[0] + (size_t)lo * in,
                     c->lab + lo);
}

/* recs: this rank's records of the batch (all of them for one process), its block of m */
static void cpu_gradient(tp_trainer *t, const unsigned char *recs, const int64_t *idx, int m, const tp_rng *step,
                         const tp_rng *aug_epoch)
{
    cpu_state *c = &t->cpu;
    int64_t lo, hi;
    tp_comm_block(m, c->B, &lo, &hi);
    int n = (int)(hi - lo);
    input_job j = {t, recs, idx + lo, n, aug_epoch};
    tp_parallel_for((n + c->B - 1) / c->B, c->T, input_block, &j);
    c->w.first = lo;
    c->w.job_n = m;
    tp_nn_forward(&c->w, n, 1, step);
    tp_nn_backward(&c->w, n, c->lab, t->r.input.smoothing);
    const float *p = c->w.a[t->net->n];
    int K = t->net->classes;
    for (int s = 0; s < n; s++) {
        c->loss[lo + s] = c->w.sample_loss[s];
        c->right[lo + s] = tp_argmax(p + (size_t)s * (size_t)K, K) == c->lab[s];
    }
    tp_comm_share_rows(c->loss, sizeof *c->loss, m, c->B);
    tp_comm_share_rows(c->right, sizeof *c->right, m, c->B);
    double loss = 0;
    for (int s = 0; s < m; s++) { /* in sample order */
        loss += c->loss[s];
        c->pend_right += c->right[s];
    }
    c->pend_loss += loss;
}

static void cpu_totals(tp_trainer *t, double *loss, int64_t *right)
{
    *loss += t->cpu.pend_loss;
    *right += t->cpu.pend_right;
    t->cpu.pend_loss = 0;
    t->cpu.pend_right = 0;
}

static void cpu_step(tp_trainer *t, double lr)
{
    tp_optim_step(&t->opt, t->net->params + t->first_free, t->cpu.w.grad + t->first_free, lr);
}

/* Nothing to bring together: every rank took the same steps from the same sums, and the
 * moving statistics from the same whole-batch statistics. */
static void cpu_sync(tp_trainer *t) { (void)t; }

static void cpu_close(tp_trainer *t)
{
    cpu_state *c = &t->cpu;
    tp_nn_free(&c->w);
    for (int k = 0; k < c->T; k++)
        free(c->scratch[k]);
    free(c->scratch), free(c->lab), free(c->loss), free(c->right);
}

static const backend cpu_backend = {cpu_gradient, cpu_totals, cpu_step, cpu_sync, cpu_close, 1};

static void cpu_open(tp_trainer *t)
{
    cpu_state *c = &t->cpu;
    tp_blas_serial(); /* the threads share each layer's work between them */
    int batch = t->r.batch, cap = 1;
    c->T = t->r.threads;
    c->B = tp_nn_block(batch);
    if ((batch + c->B - 1) / c->B < tp_comm_size())
        tp_die("a batch of %d is %d blocks of %d samples: too few for %d ranks (at least one block each)", batch,
               (batch + c->B - 1) / c->B, c->B, tp_comm_size());
    for (int r = 0; r < tp_comm_size(); r++) { /* the most samples a rank takes */
        int64_t lo, hi;
        tp_comm_block_of(r, batch, c->B, &lo, &hi);
        cap = (int)(hi - lo) > cap ? (int)(hi - lo) : cap;
    }
    t->unit = c->B;
    tp_nn_init(&c->w, t->net, cap);
    c->w.job = 1; /* before the scratch is sized: a job keeps every block's gradient */
    tp_nn_threads(&c->w, c->T, c->B);
    c->lab = tp_alloc((size_t)cap, sizeof *c->lab);
    c->loss = tp_alloc((size_t)batch, sizeof *c->loss);
    c->right = tp_alloc((size_t)batch, sizeof *c->right);
    c->scratch = tp_alloc((size_t)c->T, sizeof *c->scratch);
    for (int k = 0; k < c->T; k++)
        c->scratch[k] = tp_alloc(tp_layer_out_size(t->net, -1), sizeof(float));
    t->be = &cpu_backend;
}

/* ---- a GPU ---- */

/* Keeps all of d's records (random access only) on the device, labels checked first (as
 * tp_dataset_input does per batch); 1 when they fit, 0 to go on with per-batch copies. */
static int gpu_keep(tp_trainer *t, tp_dataset *d)
{
    if (!d->rs || (double)d->n * (double)d->rsz > 16e9)
        return 0;
    unsigned char *all = tp_alloc((size_t)d->n, d->rsz);
    int64_t idx[1024];
    for (int64_t b = 0; b < d->n; b += 1024) {
        int q = (int)(d->n - b < 1024 ? d->n - b : 1024);
        for (int s = 0; s < q; s++)
            idx[s] = b + s;
        tp_dataset_fetch(d, idx, q, all + (size_t)b * d->rsz);
    }
    for (int64_t i = 0; i < d->n; i++)
        tp_dataset_label(d, all + (size_t)i * d->rsz, i, t->net->classes);
    const tp_prep *p = &t->r.input.prep;
    tp_gnn_records f = {d->rsz, d->x->offset, d->y->offset, d->x->dtype, d->y->dtype, (int64_t)d->x->nelem,
                        p->scale, (int)p->mode, t->net->ic};
    int rc = t->gpu.gn->load_records(t->gpu.gw, 0, all, d->n, &f);
    free(all);
    return rc == 0;
}

static void gpu_gradient(tp_trainer *t, const unsigned char *recs, const int64_t *idx, int m, const tp_rng *step,
                         const tp_rng *aug_epoch)
{
    gpu_state *g = &t->gpu;
    int64_t lo, hi; /* an MPI job: this rank's block of the batch, as tp_trainer_step fetched it */
    tp_comm_block(m, 1, &lo, &hi);
    int n = (int)(hi - lo);
    g->share = (float)n / (float)m;
    if (n == 0)
        return;
    if (g->resident) {
        g->gn->gather(g->gw, 0, idx + lo, n);
    } else {
        tp_batch b = {recs, idx + lo, n};
        tp_dataset_input(t->train, &b, &t->r.input, t->net, aug_epoch, g->scratch, g->x, g->lab);
        g->gn->set_batch(g->gw, g->x, g->lab, n);
    }
    g->gn->forward(g->gw, n, 1, step->key, lo); /* dropout keyed by the sample's place in the whole batch */
    g->gn->backward(g->gw, n, t->r.input.smoothing);
}

/* The device's totals; in an MPI job, summed in rank order (counts are exact in a double). */
static void gpu_totals(tp_trainer *t, double *loss, int64_t *right)
{
    int64_t k = 0;
    double v[2] = {t->gpu.gn->totals(t->gpu.gw, &k), 0}, *vp = v;
    v[1] = (double)k;
    tp_comm_sum_f64(&vp, 1, 2);
    *loss += v[0];
    *right += (int64_t)v[1];
}

static void gpu_step(tp_trainer *t, double lr)
{
    gpu_state *g = &t->gpu;
    if (tp_comm_size() == 1) {
        g->gn->step(g->gw, &t->opt, t->first_free, lr);
        return;
    }
    if (g->nccl) { /* the sum between the devices, then each device's own step */
        g->gn->job_sum(g->gw, t->first_free, g->share);
        g->gn->step(g->gw, &t->opt, t->first_free, lr);
        return;
    }
    tp_net *net = t->net;
    size_t P = net->ntrain - t->first_free;
    float *part = g->hgrad + t->first_free;
    if (g->share > 0) {
        g->gn->read(g->gw, -1, 1, 0, g->hgrad);
        for (size_t q = 0; q < P; q++) /* this rank's mean, weighted by its part of the batch */
            part[q] *= g->share;
    } else {
        memset(part, 0, P * sizeof *part);
    }
    tp_comm_sum_f32(&part, 1, P);
    g->gn->get_params(g->gw, net->params); /* the moving statistics are the device's */
    tp_optim_step(&t->opt, net->params + t->first_free, part, lr);
    g->gn->set_params(g->gw, net->params);
}

/* net->params from the device; in an MPI job, rank 0's moving statistics on every device. */
static void gpu_sync(tp_trainer *t)
{
    tp_net *net = t->net;
    t->gpu.gn->get_params(t->gpu.gw, net->params);
    if (tp_comm_size() > 1) {
        tp_comm_bcast(net->params + net->ntrain, (net->nparams - net->ntrain) * sizeof *net->params, 0);
        t->gpu.gn->set_params(t->gpu.gw, net->params);
    }
}

static void gpu_close(tp_trainer *t)
{
    t->gpu.gn->destroy(t->gpu.gw);
    free(t->gpu.x), free(t->gpu.scratch), free(t->gpu.lab), free(t->gpu.hgrad);
}

/* the loss is read back every 16 steps: the host runs ahead of the GPU between */
static const backend gpu_backend = {gpu_gradient, gpu_totals, gpu_step, gpu_sync, gpu_close, 16};

/* An MPI job's devices: NCCL between them where the CUDA library has it (and TPIPE_NCCL is not
 * 0), else host memory. Rank 0 makes the id and says whether there is one. */
static void gpu_join(tp_trainer *t)
{
    gpu_state *g = &t->gpu;
    const char *off = getenv("TPIPE_NCCL");
    struct {
        int32_t ok;
        unsigned char id[252];
    } m = {0, {0}};
    char err[256] = "TPIPE_NCCL=0";
    if (tp_comm_root() && !(off && !strcmp(off, "0")))
        m.ok = g->gn->job_id(m.id, sizeof m.id, err, sizeof err) == 0;
    tp_comm_bcast(&m, sizeof m, 0);
    if (m.ok && g->gn->job_join(g->gw, tp_comm_size(), tp_comm_rank(), m.id, err, sizeof err))
        tp_die("NCCL: %s (TPIPE_NCCL=0 sums through host memory)", err);
    g->nccl = m.ok;
    size_t at = strlen(t->where);
    if (m.ok)
        snprintf(t->where + at, sizeof t->where - at, "; gradients summed between %d GPUs by NCCL", tp_comm_size());
    else if (tp_comm_root())
        snprintf(t->where + at, sizeof t->where - at, "; gradients summed through host memory (%s)", err);
}

static void gpu_open(tp_trainer *t, const tp_device *dev)
{
    gpu_state *g = &t->gpu;
    if (tp_comm_size() > 1)
        g->hgrad = tp_alloc(t->net->ntrain ? t->net->ntrain : 1, sizeof *g->hgrad);
    g->gn = dev->api->nn;
    g->gw = g->gn->create(dev->gpu, t->net, t->r.batch);
    g->resident = !t->r.input.aug && gpu_keep(t, t->train);
    size_t in = tp_layer_out_size(t->net, -1);
    g->x = tp_alloc((size_t)t->r.batch, in * sizeof *g->x);
    g->scratch = tp_alloc(in, sizeof *g->scratch);
    g->lab = tp_alloc((size_t)t->r.batch, sizeof *g->lab);
    snprintf(t->where, sizeof t->where, "on %s%s", dev->name, g->resident ? ", the training data kept on the device" : "");
    if (tp_comm_size() > 1)
        gpu_join(t);
    t->be = &gpu_backend;
}

/* ---- the seam ---- */

tp_trainer *tp_trainer_open(tp_net *net, const tp_device *dev, const tp_recipe *r, tp_dataset *train,
                            tp_dataset *val)
{
    TP_ASSERT(r->batch >= 1 && r->threads >= 1 && r->freeze >= 0 && r->freeze <= net->n);
    if (r->batch < tp_comm_size())
        tp_die("a batch of %d cannot be shared by %d ranks", r->batch, tp_comm_size());
    tp_trainer *t = tp_calloc(1, sizeof *t);
    t->net = net;
    t->r = *r;
    t->train = train;
    /* frozen layers get no updates (their parameters precede all others in the block), and
     * backward passes stop at the first layer that learns, as in Keras */
    net->frozen = r->freeze;
    t->first_free = net->ntrain;
    for (int i = 0; i < net->n; i++)
        if (i >= r->freeze && net->l[i].nw + net->l[i].nb > 0) {
            t->first_free = net->l[i].w;
            break;
        }
    tp_optim_init(&t->opt, r->optimizer, net->ntrain - t->first_free);
    t->opt.momentum = r->momentum;
    t->opt.nesterov = r->nesterov;
    t->opt.decay = r->decay;
    tp_rng_seed(&t->root, r->seed);
    t->aug_root = tp_rng_split(&t->root, 0x415547ull); /* "AUG" */
    (void)val; /* scored through tp_infer, whose batches are copied to a device */
    t->recs = tp_alloc((size_t)r->batch, train->rsz);
    t->unit = 1;
    if (tp_device_is_gpu(dev))
        gpu_open(t, dev);
    else
        cpu_open(t);
    /* validation: the CPU's batches of inference's own size (so the scores do not depend on
     * the thread count either), a GPU's of the training batch */
    t->eval_threads = t->be == &cpu_backend ? t->cpu.T : 1;
    t->inf = tp_infer_open(net, dev, t->be == &cpu_backend ? 0 : r->batch, t->eval_threads);
    t->eval_batch = tp_infer_batch(t->inf);
    return t;
}

const char *tp_trainer_where(const tp_trainer *t) { return t->where[0] ? t->where : NULL; }

void tp_trainer_order(const tp_trainer *t, int64_t e, int64_t *order)
{
    const tp_dataset *d = t->train;
    for (int64_t i = 0; i < d->n; i++) /* a stream: records are numbered in arrival order */
        order[i] = d->r ? e * d->n + i : i;
    if (d->rs) {
        tp_rng sr = tp_rng_split(&t->root, 0x5348554600000000ull | (uint64_t)e);
        tp_rng_shuffle(&sr, order, d->n);
    }
}

/* Reads the totals from the backend into the run's sums; 0, or -1 when not finite. */
static int read_totals(tp_trainer *t)
{
    double loss = 0;
    t->be->totals(t, &loss, &t->right);
    int64_t over = t->unread_samples;
    t->unread = 0;
    t->unread_samples = 0;
    if (!isfinite(loss)) {
        t->bad = loss / (double)(over ? over : 1);
        return -1;
    }
    t->loss += loss;
    return 0;
}

int tp_trainer_step(tp_trainer *t, const int64_t *idx, int m, int64_t step, int64_t e, double lr)
{
    const unsigned char *recs = NULL;
    if (!(t->be == &gpu_backend && t->gpu.resident)) {
        if (tp_comm_size() > 1) { /* each rank reads its block of the batch (a file: m is known) */
            int64_t lo, hi;
            tp_comm_block(m, t->unit, &lo, &hi);
            tp_dataset_fetch(t->train, idx + lo, (int)(hi - lo), t->recs);
        } else {
            m = tp_dataset_fetch(t->train, idx, m, t->recs);
        }
        recs = t->recs;
    }
    if (m == 0)
        return 0;
    tp_rng st = tp_rng_split(&t->root, (uint64_t)step), aug_epoch = tp_rng_split(&t->aug_root, (uint64_t)e);
    t->be->gradient(t, recs, idx, m, &st, &aug_epoch);
    t->unread_samples += m;
    if (++t->unread >= t->be->window && read_totals(t))
        return -1;
    t->be->step(t, lr);
    return m;
}

int tp_trainer_totals(tp_trainer *t, double *loss, int64_t *right)
{
    if (t->unread && read_totals(t))
        return -1;
    *loss = t->loss;
    *right = t->right;
    t->loss = 0;
    t->right = 0;
    return 0;
}

double tp_trainer_bad_loss(const tp_trainer *t) { return t->bad; }

void tp_trainer_sync(tp_trainer *t) { t->be->sync(t); }

/* Each rank scores its block of d; the samples' losses and hits are gathered and summed in
 * sample order on every rank, so the figures are those of one process. */
void tp_trainer_evaluate(tp_trainer *t, tp_dataset *d, double *loss, double *acc)
{
    tp_trainer_sync(t);
    tp_infer_sync(t->inf);
    int64_t per = (int64_t)t->eval_batch * t->eval_threads, chunk = per * ((4096 + per - 1) / per), lo, hi;
    tp_comm_block(d->n, t->eval_batch, &lo, &hi); /* whole batches: the same batches as one process */
    size_t K = tp_infer_outputs(t->inf);
    unsigned char *recs = tp_alloc((size_t)chunk, d->rsz);
    int64_t *idx = tp_alloc((size_t)chunk, sizeof *idx);
    float *p = tp_alloc((size_t)chunk, K * sizeof *p);
    double *ls = tp_alloc((size_t)d->n + 1, sizeof *ls), *hits = tp_alloc((size_t)d->n + 1, sizeof *hits);
    for (int64_t b = lo; b < hi; b += chunk) {
        int m = (int)(hi - b < chunk ? hi - b : chunk);
        for (int s = 0; s < m; s++)
            idx[s] = b + s;
        tp_dataset_fetch(d, idx, m, recs);
        tp_infer_records(t->inf, recs, d->rsz, d->x, m, &t->r.input.prep, p);
        for (int s = 0; s < m; s++) {
            int32_t y = tp_dataset_label(d, recs + (size_t)s * d->rsz, b + s, t->net->classes);
            const float *ps = p + (size_t)s * K;
            ls[b + s] = -log(ps[y] > 1e-30f ? ps[y] : 1e-30f);
            hits[b + s] = tp_argmax(ps, (int)K) == y;
        }
    }
    tp_comm_share_rows(ls, sizeof *ls, d->n, t->eval_batch);
    tp_comm_share_rows(hits, sizeof *hits, d->n, t->eval_batch);
    double sum = 0;
    int64_t right = 0;
    for (int64_t i = 0; i < d->n; i++) { /* in sample order */
        sum += ls[i];
        right += (int64_t)hits[i];
    }
    *loss = d->n ? sum / (double)d->n : NAN;
    *acc = d->n ? (double)right / (double)d->n : NAN;
    free(recs), free(idx), free(p), free(ls), free(hits);
}

void tp_trainer_close(tp_trainer *t)
{
    if (!t)
        return;
    t->be->close(t);
    tp_infer_close(t->inf);
    tp_optim_free(&t->opt);
    free(t->recs);
    free(t);
}
