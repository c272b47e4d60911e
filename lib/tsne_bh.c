/* tsne_bh.c — t-SNE's repulsive forces by Barnes-Hut on a quadtree (d = 2) or octree
 * (d = 3), built afresh at every call.
 *
 * Cells are cubes. A cell is split while it holds more than LEAF points (or until its side
 * is too small to separate duplicates); a leaf's points are summed exactly. A cell of side
 * w whose centre of mass lies at distance r from the point is taken as one body of its
 * mass when w / r < theta. Points walk the tree in groups (Barnes 1990): the points of a
 * small cell share one interaction list, built with r measured from the cell's bounding
 * box, so the test holds for every member and the list is evaluated by vectorised loops. */
#include <float.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "parallel.h"
#include "tsne_rep.h"
#include "util.h"

#define LEAF 8
#define MAXDEPTH 48
#define GROUP 256

typedef struct {
    double com[3];
    double side2; /* squared side */
    int64_t count;
    int64_t child;      /* first of 2^d children, or -1 for a leaf */
    int64_t start, end; /* leaf points: perm[start..end) */
} node;

typedef struct {
    const double *y;
    int d, nch;
    int64_t *perm, *tmp;
    node *nodes;
    int64_t nn, cap;
} tree;

static int64_t new_nodes(tree *t, int k)
{
    if (t->nn + k > t->cap) {
        t->cap = t->cap ? 2 * t->cap : 1024;
        while (t->nn + k > t->cap)
            t->cap *= 2;
        t->nodes = tp_realloc(t->nodes, (size_t)t->cap, sizeof *t->nodes);
    }
    int64_t i = t->nn;
    t->nn += k;
    return i;
}

static void build(tree *t, int64_t ni, int64_t start, int64_t end, const double *cen, double hw, int depth)
{
    int d = t->d;
    node *nd = &t->nodes[ni];
    nd->count = end - start;
    nd->side2 = 4 * hw * hw;
    nd->start = start;
    nd->end = end;
    nd->child = -1;
    double com[3] = {0, 0, 0};
    for (int64_t s = start; s < end; s++)
        for (int e = 0; e < d; e++)
            com[e] += t->y[t->perm[s] * d + e];
    for (int e = 0; e < d; e++)
        nd->com[e] = nd->count ? com[e] / (double)nd->count : cen[e];
    if (end - start <= LEAF || depth >= MAXDEPTH || hw < 1e-12 * (1 + fabs(cen[0])))
        return;
    /* counting sort of the points into the 2^d orthants */
    int64_t cnt[9] = {0};
    for (int64_t s = start; s < end; s++) {
        const double *p = t->y + t->perm[s] * d;
        int o = 0;
        for (int e = 0; e < d; e++)
            o |= (p[e] >= cen[e]) << e;
        cnt[o + 1]++;
    }
    for (int o = 0; o < t->nch; o++)
        cnt[o + 1] += cnt[o];
    int64_t pos[8];
    for (int o = 0; o < t->nch; o++)
        pos[o] = start + cnt[o];
    for (int64_t s = start; s < end; s++) {
        const double *p = t->y + t->perm[s] * d;
        int o = 0;
        for (int e = 0; e < d; e++)
            o |= (p[e] >= cen[e]) << e;
        t->tmp[pos[o]++] = t->perm[s];
    }
    memcpy(t->perm + start, t->tmp + start, (size_t)(end - start) * sizeof *t->perm);
    int64_t c0 = new_nodes(t, t->nch); /* may move t->nodes */
    t->nodes[ni].child = c0;
    for (int o = 0; o < t->nch; o++) {
        double cc[3];
        for (int e = 0; e < d; e++)
            cc[e] = cen[e] + ((o >> e & 1) ? hw / 2 : -hw / 2);
        build(t, c0 + o, start + cnt[o], start + cnt[o + 1], cc, hw / 2, depth + 1);
    }
}

/* An interaction list, structure of arrays: bodies at (x, y, z) of mass m, in single
 * precision relative to the group's centre (small numbers, so nothing is lost that the
 * Barnes-Hut approximation keeps; twice the SIMD width of double). */
typedef struct {
    float *x[3], *m;
    int64_t n, cap;
} ilist;

static void ilist_add(ilist *l, const double *p, const double *g0, int d, double m)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        for (int e = 0; e < 3; e++)
            l->x[e] = tp_realloc(l->x[e], (size_t)l->cap, sizeof(float));
        l->m = tp_realloc(l->m, (size_t)l->cap, sizeof(float));
    }
    for (int e = 0; e < 3; e++)
        l->x[e][l->n] = e < d ? (float)(p[e] - g0[e]) : 0;
    l->m[l->n++] = (float)m;
}

typedef struct {
    tree *t;
    double theta2, dof;
    double *rep, *zpart;
    const int64_t *groups;
    ilist *lists; /* one per thread */
} walk_job;

/* 2^y for y in (-126, 0] (a Taylor polynomial on (-1, 0]; the caller keeps y in range),
 * and log2(x) for normal x > 0, in single precision with
 * relative errors near 1e-6: plain arithmetic and bit moves, so that loops calling them
 * vectorise (the C library's powf does not). Used for kernels of any degrees of freedom,
 * (1 + r2/dof)^-((dof+1)/2) = 2^(-(dof+1)/2 log2(1 + r2/dof)). */
static inline float exp2_neg(float y)
{
    int32_t k = (int32_t)y; /* towards zero: f = y - k in (-1, 0] */
    float f = y - (float)k;
    float p = 1.0f + f * (0.69314718f + f * (0.24022651f + f * (0.05550411f + f * (0.00961813f +
              f * (0.00133336f + f * (1.5403530e-4f + f * 1.5252734e-5f))))));
    uint32_t bits = (uint32_t)(k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float log2_pos(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    float e = (float)((int32_t)(b >> 23 & 255) - 127), m;
    b = (b & 0x007fffffu) | 0x3f800000u; /* the mantissa, in [1, 2) */
    memcpy(&m, &b, sizeof m);
    float z = (m - 1) / (m + 1), z2 = z * z; /* log2 m = 2/ln 2 (z + z^3/3 + z^5/5 + ...) */
    return e + z * (2.88539008f + z2 * (0.96179669f + z2 * (0.57707802f + z2 * (0.41219859f +
                    z2 * (0.32059891f + z2 * 0.26230820f)))));
}

/* Sums over the list for one point at yi (relative to the group's centre): Z's share into
 * *z, R into r. One loop per dimension and kernel, so that each vectorises. */
static void eval_list(const ilist *l, const float *yi, int d, double dof, double *z, double *r)
{
    const float *X = l->x[0], *Y = l->x[1], *Zc = l->x[2], *M = l->m;
    float y0 = yi[0], y1 = yi[1], y2 = yi[2];
    float zs = 0, r0 = 0, r1 = 0, r2s = 0;
    int64_t n = l->n;
    if (d == 2 && dof == 1) {
#pragma omp simd reduction(+ : zs, r0, r1)
        for (int64_t q = 0; q < n; q++) {
            float a = y0 - X[q], b = y1 - Y[q];
            float t = 1 / (1 + a * a + b * b), mk1 = M[q] * t, mk2 = mk1 * t;
            zs += mk1;
            r0 += mk2 * a;
            r1 += mk2 * b;
        }
    } else if (d == 3 && dof == 2) {
#pragma omp simd reduction(+ : zs, r0, r1, r2s)
        for (int64_t q = 0; q < n; q++) {
            float a = y0 - X[q], b = y1 - Y[q], c = y2 - Zc[q];
            float t = 1 / (1 + (a * a + b * b + c * c) * 0.5f), mk1 = M[q] * t * sqrtf(t), mk2 = mk1 * t;
            zs += mk1;
            r0 += mk2 * a;
            r1 += mk2 * b;
            r2s += mk2 * c;
        }
    } else if (dof == 1) {
#pragma omp simd reduction(+ : zs, r0, r1, r2s)
        for (int64_t q = 0; q < n; q++) {
            float a = y0 - X[q], b = y1 - Y[q], c = y2 - Zc[q];
            float t = 1 / (1 + a * a + b * b + c * c), mk1 = M[q] * t, mk2 = mk1 * t;
            zs += mk1;
            r0 += mk2 * a;
            r1 += mk2 * b;
            r2s += mk2 * c;
        }
    } else {
        /* in chunks: kernel values by elementwise loops, then the sums */
        float inv = (float)(1 / dof), ex = (float)(-(dof + 1) / 2), u[64], k1[64];
        float umax = (float)fmin(exp2(125.0 / ((dof + 1) / 2)), 1e30); /* K1(umax) ~ 2^-125 */
        for (int64_t q0 = 0; q0 < n; q0 += 64) {
            int m = n - q0 < 64 ? (int)(n - q0) : 64;
            const float *Xq = X + q0, *Yq = Y + q0, *Zq = Zc + q0, *Mq = M + q0;
            for (int j = 0; j < m; j++) {
                float a = y0 - Xq[j], b = y1 - Yq[j], c = y2 - Zq[j];
                float v = 1 + (a * a + b * b + c * c) * inv;
                u[j] = v < umax ? v : umax; /* keeps exp2_neg in range */
            }
            for (int j = 0; j < m; j++)
                k1[j] = exp2_neg(ex * log2_pos(u[j]));
#pragma omp simd reduction(+ : zs, r0, r1, r2s)
            for (int j = 0; j < m; j++) {
                float a = y0 - Xq[j], b = y1 - Yq[j], c = y2 - Zq[j];
                float mk1 = Mq[j] * k1[j], mk2 = mk1 / u[j];
                zs += mk1;
                r0 += mk2 * a;
                r1 += mk2 * b;
                r2s += mk2 * c;
            }
        }
    }
    *z = zs;
    r[0] = r0;
    r[1] = r1;
    r[2] = r2s;
}

/* Group g (a cell of at most GROUP points): one walk with the opening test taken at the
 * group's bounding box (so every member sees cells at least as open as its own walk
 * would), then the shared list evaluated for each member. */
static void walk_group(void *ctx, int64_t g, int th)
{
    walk_job *j = ctx;
    tree *t = j->t;
    int d = t->d;
    const node *gn = &t->nodes[j->groups[g]];
    ilist *l = &j->lists[th];
    l->n = 0;
    double lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
    for (int e = 0; e < d; e++)
        lo[e] = DBL_MAX, hi[e] = -DBL_MAX;
    for (int64_t s = gn->start; s < gn->end; s++)
        for (int e = 0; e < d; e++) {
            double v = t->y[t->perm[s] * d + e];
            lo[e] = v < lo[e] ? v : lo[e];
            hi[e] = v > hi[e] ? v : hi[e];
        }
    double g0[3] = {0, 0, 0};
    for (int e = 0; e < d; e++)
        g0[e] = (lo[e] + hi[e]) / 2;
    int64_t stack[MAXDEPTH * 8 + 8];
    int sp = 0;
    stack[sp++] = 0;
    while (sp) {
        const node *nd = &t->nodes[stack[--sp]];
        if (!nd->count)
            continue;
        double r2 = 0;
        for (int e = 0; e < d; e++) {
            double c = nd->com[e], gap = c < lo[e] ? lo[e] - c : c > hi[e] ? c - hi[e] : 0;
            r2 += gap * gap;
        }
        if (nd->child >= 0 && nd->side2 < j->theta2 * r2)
            ilist_add(l, nd->com, g0, d, (double)nd->count);
        else if (nd->child >= 0)
            for (int o = 0; o < t->nch; o++)
                stack[sp++] = nd->child + o;
        else
            for (int64_t q = nd->start; q < nd->end; q++)
                ilist_add(l, t->y + t->perm[q] * d, g0, d, 1);
    }
    double z = 0;
    for (int64_t s = gn->start; s < gn->end; s++) {
        int64_t i = t->perm[s];
        double zi, r[3];
        float yi[3] = {0, 0, 0};
        for (int e = 0; e < d; e++)
            yi[e] = (float)(t->y[i * d + e] - g0[e]);
        eval_list(l, yi, d, j->dof, &zi, r);
        z += zi - 1; /* the point itself is on the list: K1(0) = 1, no force */
        for (int e = 0; e < d; e++)
            j->rep[i * d + e] = r[e];
    }
    j->zpart[g] = z;
}

/* The groups: the highest cells holding at most GROUP points. */
static void find_groups(const tree *t, int64_t ni, int64_t **g, int64_t *ng, int64_t *cap)
{
    const node *nd = &t->nodes[ni];
    if (!nd->count)
        return;
    if (nd->child < 0 || nd->count <= GROUP) {
        if (*ng == *cap)
            *g = tp_realloc(*g, (size_t)(*cap = *cap ? 2 * *cap : 256), sizeof **g);
        (*g)[(*ng)++] = ni;
        return;
    }
    for (int o = 0; o < t->nch; o++)
        find_groups(t, nd->child + o, g, ng, cap);
}

double tp_tsne_rep_bh(const double *y, int64_t n, const tp_tsne_cfg *c, double *rep)
{
    int d = c->d;
    TP_ASSERT(d >= 1 && d <= 3);
    tree t = {y, d, 1 << d, tp_alloc((size_t)n, sizeof(int64_t)), tp_alloc((size_t)n, sizeof(int64_t)), NULL, 0, 0};
    double lo[3], hi[3], cen[3], hw = 0;
    for (int e = 0; e < d; e++)
        lo[e] = DBL_MAX, hi[e] = -DBL_MAX;
    for (int64_t i = 0; i < n; i++) {
        t.perm[i] = i;
        for (int e = 0; e < d; e++) {
            double v = y[i * d + e];
            lo[e] = v < lo[e] ? v : lo[e];
            hi[e] = v > hi[e] ? v : hi[e];
        }
    }
    for (int e = 0; e < d; e++) {
        cen[e] = (lo[e] + hi[e]) / 2;
        hw = fmax(hw, (hi[e] - lo[e]) / 2);
    }
    hw = hw * (1 + 1e-9) + 1e-300;
    build(&t, new_nodes(&t, 1), 0, n, cen, hw, 0);
    int64_t *groups = NULL, ng = 0, gcap = 0;
    find_groups(&t, 0, &groups, &ng, &gcap);
    walk_job j = {&t, c->theta * c->theta, c->dof, rep, tp_calloc((size_t)ng, sizeof(double)), groups,
                  tp_calloc((size_t)c->nthreads, sizeof(ilist))};
    if (tp_comm_size() > 1) /* a job's ranks: each its groups (points in tree order), merged */
        memset(rep, 0, (size_t)n * (size_t)d * sizeof *rep);
    tp_comm_parallel_for(ng, 1, c->nthreads, walk_group, &j);
    tp_comm_merge_f64(rep, (size_t)n * (size_t)d);
    tp_comm_share_rows(j.zpart, sizeof *j.zpart, ng, 1);
    double z = 0;
    for (int64_t b = 0; b < ng; b++) /* in a fixed order: the same bytes for any thread count */
        z += j.zpart[b];
    for (int th = 0; th < c->nthreads; th++) {
        for (int e = 0; e < 3; e++)
            free(j.lists[th].x[e]);
        free(j.lists[th].m);
    }
    free(j.lists);
    free(j.zpart);
    free(groups);
    free(t.nodes);
    free(t.tmp);
    free(t.perm);
    return z;
}
