/* wset.c — see wset.h. */
#include "wset.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void tp_wset_free(tp_wset *s)
{
    for (int i = 0; i < s->n; i++) {
        for (int k = 0; k < s->l[i].nt; k++) {
            free(s->l[i].t[k].name);
            free(s->l[i].t[k].data);
        }
        free(s->l[i].t);
        free(s->l[i].name);
    }
    free(s->l);
    memset(s, 0, sizeof *s);
}

/* 1 when s equals one of the words in the NULL-terminated list. */
static int is_one_of(const char *s, size_t n, const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) == n && memcmp(s, *words, n) == 0)
            return 1;
    return 0;
}

static tp_wrole role_of_word(const char *s, size_t n)
{
    static const char *const kernel[] = {"kernel", "W", NULL}, *const bias[] = {"bias", "b", NULL};
    static const char *const gamma[] = {"gamma", NULL}, *const beta[] = {"beta", NULL};
    static const char *const mean[] = {"moving_mean", "running_mean", NULL}, *const var[] = {"moving_variance", NULL};
    return is_one_of(s, n, kernel) ? TP_W_KERNEL : is_one_of(s, n, bias) ? TP_W_BIAS
         : is_one_of(s, n, gamma)  ? TP_W_GAMMA  : is_one_of(s, n, beta) ? TP_W_BETA
         : is_one_of(s, n, mean)   ? TP_W_MEAN   : is_one_of(s, n, var)  ? TP_W_VAR : TP_W_OTHER;
}

tp_wrole tp_wrole_of(const char *tname, const char *lname)
{
    const char *s = strrchr(tname, '/');
    s = s ? s + 1 : tname;
    size_t n = strlen(s);
    const char *colon = strrchr(s, ':'); /* TensorFlow's ':0' output index */
    if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1))
        n = (size_t)(colon - s);
    size_t ln = lname ? strlen(lname) : 0;
    if (ln && n > ln + 1 && memcmp(s, lname, ln) == 0 && s[ln] == '_') { /* Keras 1: LAYER_W_1 */
        s += ln + 1;
        n -= ln + 1;
    }
    for (;;) { /* '_1', '_2': TensorFlow's suffixes for variables of one name */
        size_t d = n;
        while (d > 0 && s[d - 1] >= '0' && s[d - 1] <= '9')
            d--;
        if (d == n || d < 2 || s[d - 1] != '_')
            break;
        n = d - 1;
    }
    tp_wrole r = role_of_word(s, n);
    if (r == TP_W_OTHER) { /* Keras 1's 'conv1_W' under another layer name: the last word */
        static const char *const k1[] = {"W", "b", "gamma", "beta", NULL};
        const char *u = s + n;
        while (u > s && u[-1] != '_')
            u--;
        if (u > s && is_one_of(u, (size_t)(s + n - u), k1))
            r = role_of_word(u, (size_t)(s + n - u));
    }
    return r;
}

void tp_wset_add(tp_wset *s, const char *lname, const char *tname, int rank, const int64_t *shape, const float *data)
{
    TP_ASSERT(rank >= 0 && rank <= TP_MAX_RANK);
    if (s->n == 0 || strcmp(s->l[s->n - 1].name, lname)) {
        s->l = tp_realloc(s->l, (size_t)s->n + 1, sizeof *s->l);
        tp_wlayer *l = &s->l[s->n++];
        memset(l, 0, sizeof *l);
        l->name = tp_strdup(lname);
    }
    tp_wlayer *l = &s->l[s->n - 1];
    l->t = tp_realloc(l->t, (size_t)l->nt + 1, sizeof *l->t);
    tp_wtensor *t = &l->t[l->nt++];
    memset(t, 0, sizeof *t);
    t->name = tp_strdup(tname);
    t->role = tp_wrole_of(tname, lname);
    t->rank = rank;
    t->n = 1;
    for (int i = 0; i < rank; i++) {
        t->shape[i] = shape[i];
        t->n *= (size_t)shape[i];
    }
    t->data = tp_alloc(t->n, sizeof *t->data);
    memcpy(t->data, data, t->n * sizeof *t->data);
}

