/* net.c — see net.h. */
#include "net.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *kind_names[] = {"conv", "maxpool", "avgpool", "gap", "flatten", "dense", "dropout", "batchnorm", "relu"};

const char *tp_layer_name(tp_lkind k) { return kind_names[k]; }

static int lerr(char *err, size_t errlen, const char *name, int line, const char *fmt, ...) TP_PRINTF(5, 6);
static int lerr(char *err, size_t errlen, const char *name, int line, const char *fmt, ...)
{
    int k = snprintf(err, errlen, "%s:%d: ", name, line);
    va_list ap;
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < errlen)
        vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

/* A positive integer word, at most max. */
static int pos_int(const char *s, int max, int *out)
{
    int64_t v;
    if (tp_parse_i64(s, &v) || v < 1 || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

/* "3x3" or "3" into a, b, each 1 to 1024. */
static int pair(const char *s, int *a, int *b)
{
    int64_t h, w;
    if (tp_parse_hw(s, &h, &w) || h < 1 || w < 1 || h > 1024 || w > 1024)
        return -1;
    *a = (int)h;
    *b = (int)w;
    return 0;
}

static int parse_layer(tp_layer *l, char **w, int nw, const char *name, char *err, size_t errlen)
{
    int k = -1;
    for (int i = 0; i < (int)(sizeof kind_names / sizeof *kind_names); i++)
        if (strcmp(w[0], kind_names[i]) == 0)
            k = i;
    if (k < 0)
        return lerr(err, errlen, name, l->line, "unknown layer '%s' (conv, maxpool, avgpool, gap, flatten, dense, dropout, batchnorm, relu)", w[0]);
    l->kind = (tp_lkind)k;
    l->momentum = 0.99f;
    l->eps = 1e-3f;
    int pos = 1; /* words after the kind: positional values, then key=value options */
    switch (l->kind) {
    case TP_L_CONV:
        if (nw < 3 || pos_int(w[1], 65536, &l->units) || pair(w[2], &l->kh, &l->kw))
            return lerr(err, errlen, name, l->line, "conv wants FILTERS KHxKW, e.g. 'conv 32 3x3 relu'");
        l->sh = l->sw = 1;
        pos = 3;
        break;
    case TP_L_MAXPOOL:
    case TP_L_AVGPOOL:
        if (nw < 2 || pair(w[1], &l->kh, &l->kw))
            return lerr(err, errlen, name, l->line, "%s wants a pool size, e.g. '%s 2'", w[0], w[0]);
        l->sh = l->kh;
        l->sw = l->kw;
        pos = 2;
        break;
    case TP_L_DENSE:
        if (nw < 2 || pos_int(w[1], 1 << 24, &l->units))
            return lerr(err, errlen, name, l->line, "dense wants a number of units, e.g. 'dense 128 relu'");
        pos = 2;
        break;
    case TP_L_DROPOUT: {
        double r;
        if (nw < 2 || tp_parse_f64(w[1], &r) || !(r >= 0 && r < 1))
            return lerr(err, errlen, name, l->line, "dropout wants a rate in [0, 1), e.g. 'dropout 0.5'");
        l->rate = (float)r;
        pos = 2;
        break;
    }
    default:
        break;
    }
    for (; pos < nw; pos++) {
        char *eq = strchr(w[pos], '=');
        if (!eq) {
            if ((l->kind == TP_L_CONV || l->kind == TP_L_DENSE) && l->act == TP_ACT_NONE) {
                if (strcmp(w[pos], "relu") == 0)
                    l->act = TP_ACT_RELU;
                else if (strcmp(w[pos], "softmax") == 0)
                    l->act = TP_ACT_SOFTMAX;
                else if (strcmp(w[pos], "linear") != 0 && strcmp(w[pos], "none") != 0)
                    return lerr(err, errlen, name, l->line, "unknown activation '%s' (relu, softmax, linear)", w[pos]);
                continue;
            }
            return lerr(err, errlen, name, l->line, "unexpected '%s' after %s", w[pos], w[0]);
        }
        *eq = 0;
        const char *key = w[pos], *val = eq + 1;
        double d;
        if (strcmp(key, "stride") == 0 && l->kind != TP_L_DENSE && l->kind != TP_L_DROPOUT && l->kh) {
            if (pair(val, &l->sh, &l->sw))
                return lerr(err, errlen, name, l->line, "bad stride '%s'", val);
        } else if (strcmp(key, "pad") == 0 && l->kind == TP_L_CONV) {
            if (strcmp(val, "same") && strcmp(val, "valid"))
                return lerr(err, errlen, name, l->line, "pad is valid or same, not '%s'", val);
            l->same = strcmp(val, "same") == 0;
        } else if (strcmp(key, "init") == 0 && (l->kind == TP_L_CONV || l->kind == TP_L_DENSE)) {
            if (strcmp(val, "he") && strcmp(val, "glorot"))
                return lerr(err, errlen, name, l->line, "init is glorot or he, not '%s'", val);
            l->he = strcmp(val, "he") == 0;
        } else if (strcmp(key, "momentum") == 0 && l->kind == TP_L_BATCHNORM && !tp_parse_f64(val, &d) && d >= 0 && d < 1) {
            l->momentum = (float)d;
        } else if (strcmp(key, "eps") == 0 && l->kind == TP_L_BATCHNORM && !tp_parse_f64(val, &d) && d > 0) {
            l->eps = (float)d;
        } else {
            return lerr(err, errlen, name, l->line, "option '%s=%s' does not apply to %s", key, val, w[0]);
        }
    }
    return 0;
}

/* The text as it is kept (CRLF line ends made LF), or NULL with "NAME:LINE: what" in err for
 * bytes a network file cannot hold: invalid UTF-8, a control character other than a tab, a
 * carriage return not ending a line. */
static char *clean_text(const char *text, const char *name, char *err, size_t errlen)
{
    size_t n = strlen(text), ok = tp_utf8_valid(text, n);
    char *out = tp_alloc(n + 1, 1);
    size_t k = 0;
    int line = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        const char *bad = i >= ok ? "bytes that are not UTF-8" : NULL;
        if (!bad && c == '\r' && text[i + 1] != '\n')
            bad = "a carriage return inside a line";
        if (!bad && c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            bad = "a control character";
        if (bad) {
            free(out);
            lerr(err, errlen, name, line, "%s", bad);
            return NULL;
        }
        if (c == '\n')
            line++;
        if (c != '\r')
            out[k++] = (char)c;
    }
    out[k] = 0;
    return out;
}

int tp_net_parse(tp_net *net, const char *text, const char *name, char *err, size_t errlen)
{
    memset(net, 0, sizeof *net);
    if (!(net->text = clean_text(text, name, err, errlen)))
        return -1;
    char *copy = tp_strdup(net->text), *save = NULL;
    int line = 0, rc = 0;
    char *p = copy;
    while (p && rc == 0) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        line++;
        char *hash = strchr(p, '#');
        if (hash)
            *hash = 0;
        char *w[32];
        int nw = 0;
        for (char *t = strtok_r(p, " \t", &save); t && nw < 32 && rc == 0; t = strtok_r(NULL, " \t", &save)) {
            const char *eq = strchr(t, '=');
            if (t[0] == '+' || (eq && eq[1] == '+'))
                rc = lerr(err, errlen, name, line, "'%s': numbers are written without a '+'", t);
            w[nw++] = t;
        }
        if (nw && rc == 0) {
            net->l = tp_realloc(net->l, (size_t)net->n + 1, sizeof *net->l);
            tp_layer *l = &net->l[net->n++];
            memset(l, 0, sizeof *l);
            l->line = line;
            rc = parse_layer(l, w, nw, name, err, errlen);
        }
        p = nl ? nl + 1 : NULL;
    }
    free(copy);
    if (rc)
        return -1;
    if (net->n == 0)
        return lerr(err, errlen, name, 1, "no layers");
    tp_layer *last = &net->l[net->n - 1];
    if (last->kind != TP_L_DENSE || last->act != TP_ACT_SOFTMAX)
        return lerr(err, errlen, name, last->line, "the last layer must be 'dense K softmax' (class probabilities)");
    for (int i = 0; i + 1 < net->n; i++)
        if (net->l[i].act == TP_ACT_SOFTMAX)
            return lerr(err, errlen, name, net->l[i].line, "softmax only on the last layer");
    net->classes = last->units;
    return 0;
}

int tp_net_load_file(tp_net *net, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *text = tp_alloc(cap, 1);
    size_t got;
    while ((got = fread(text + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n > tp_max_text_bytes()) {
            fclose(f);
            free(text);
            tp_text_too_large(err, errlen, path);
            return -1;
        }
        if (n + 1 == cap)
            text = tp_realloc(text, cap *= 2, 1);
    }
    fclose(f);
    text[n] = 0;
    const char *nul = memchr(text, 0, n);
    if (nul) {
        int line = 1;
        for (const char *q = text; q < nul; q++)
            line += *q == '\n';
        free(text);
        return lerr(err, errlen, path, line, "a NUL byte: not a network file");
    }
    int rc = tp_net_parse(net, text, path, err, errlen);
    free(text);
    return rc;
}

/* The most parameters a network may have: a model stream holds them, moving statistics
 * included, as f32 in one record of at most 2^32 bytes (TP_MAX_RECORD). */
#define MAX_PARAMS ((size_t)1 << 30)
#define TOO_MANY "the network has more than 2^30 parameters (a model holds at most 4 GiB)"

static int too_many(const tp_net *net, char *err, size_t errlen, const char *name, int line)
{
    if (net->max_params && net->max_params < MAX_PARAMS)
        return lerr(err, errlen, name, line, "the network needs more than the %zu parameters its model's record holds",
                    net->max_params);
    return lerr(err, errlen, name, line, TOO_MANY);
}

int tp_net_build(tp_net *net, int h, int w, int c, const char *name, char *err, size_t errlen)
{
    net->ih = h, net->iw = w, net->ic = c;
    /* checked before anything is allocated: a model file's 'net' metadata may claim more
     * parameters than the file holds */
    size_t limit = net->max_params && net->max_params < MAX_PARAMS ? net->max_params : MAX_PARAMS;
    int first = net->n ? net->l[0].line : 1;
    if (h < 1 || w < 1 || c < 1 || (double)h * w * c > 1e9)
        return lerr(err, errlen, name, first, "the input is %dx%dx%d; a network takes 1 to 10^9 values", h, w, c);
    size_t np = 0, ns = 0;
    int flat = 0; /* after flatten/gap/dense: the shape is 1 x 1 x C */
    for (int i = 0; i < net->n; i++) {
        tp_layer *l = &net->l[i];
        l->ih = h, l->iw = w, l->ic = c;
        switch (l->kind) {
        case TP_L_CONV:
        case TP_L_MAXPOOL:
        case TP_L_AVGPOOL: {
            if (flat)
                return lerr(err, errlen, name, l->line, "%s needs an image, but the input here is flat", kind_names[l->kind]);
            int oh, ow;
            if (l->kind == TP_L_CONV && l->same) {
                oh = (h + l->sh - 1) / l->sh;
                ow = (w + l->sw - 1) / l->sw;
                int ph = (oh - 1) * l->sh + l->kh - h, pw = (ow - 1) * l->sw + l->kw - w;
                l->pad_t = ph > 0 ? ph / 2 : 0; /* Keras/TF: the extra row goes at the bottom */
                l->pad_l = pw > 0 ? pw / 2 : 0;
            } else {
                if (l->kh > h || l->kw > w)
                    return lerr(err, errlen, name, l->line, "%dx%d %s does not fit a %dx%d input", l->kh, l->kw,
                                kind_names[l->kind], h, w);
                oh = (h - l->kh) / l->sh + 1;
                ow = (w - l->kw) / l->sw + 1;
            }
            h = oh, w = ow;
            if (l->kind == TP_L_CONV) {
                if ((double)l->kh * l->kw * l->ic * l->units > (double)limit) /* before size_t can wrap */
                    return too_many(net, err, errlen, name, l->line);
                l->nw = (size_t)l->kh * (size_t)l->kw * (size_t)l->ic * (size_t)l->units;
                l->nb = (size_t)l->units;
                c = l->units;
            }
            break;
        }
        case TP_L_GAP:
            if (flat)
                return lerr(err, errlen, name, l->line, "gap needs an image, but the input here is flat");
            h = w = 1;
            flat = 1;
            break;
        case TP_L_FLATTEN:
            c = h * w * c;
            h = w = 1;
            flat = 1;
            break;
        case TP_L_DENSE:
            if (!flat && (h != 1 || w != 1))
                return lerr(err, errlen, name, l->line, "dense needs a flat input: put 'flatten' or 'gap' before it");
            l->nw = (size_t)h * (size_t)w * (size_t)c * (size_t)l->units;
            l->nb = (size_t)l->units;
            c = l->units;
            h = w = 1;
            flat = 1;
            break;
        case TP_L_BATCHNORM:
            l->nw = l->nb = (size_t)c;
            break;
        default:
            break;
        }
        l->oh = h, l->ow = w, l->oc = c;
        l->flat = flat;
        if ((double)h * w * c > 1e9)
            return lerr(err, errlen, name, l->line, "the output of this layer is too large");
        /* np + ns stays far below SIZE_MAX: each layer adds at most 2^30 + 3 * 1e9 */
        if (l->nw > limit || np + ns + l->nw + (l->kind == TP_L_BATCHNORM ? 3 : 1) * l->nb > limit)
            return too_many(net, err, errlen, name, l->line);
        if (l->kind == TP_L_BATCHNORM)
            ns += 2 * l->nb;
        l->w = np;
        np += l->nw;
        l->b = np;
        np += l->nb;
    }
    ns = 0;
    for (int i = 0; i < net->n; i++) /* moving statistics after every trainable parameter */
        if (net->l[i].kind == TP_L_BATCHNORM) {
            net->l[i].mean = np + ns;
            ns += net->l[i].nb;
            net->l[i].var = np + ns;
            ns += net->l[i].nb;
        }
    net->ntrain = np;
    net->nparams = np + ns;
    free(net->params);
    net->params = tp_calloc(net->nparams + 1, sizeof *net->params);
    return 0;
}

void tp_net_free(tp_net *net)
{
    free(net->l);
    free(net->params);
    free(net->text);
    memset(net, 0, sizeof *net);
}

size_t tp_layer_out_size(const tp_net *net, int i)
{
    if (i < 0)
        return (size_t)net->ih * (size_t)net->iw * (size_t)net->ic;
    const tp_layer *l = &net->l[i];
    return (size_t)l->oh * (size_t)l->ow * (size_t)l->oc;
}

void tp_net_summary(const tp_net *net, FILE *f)
{
    fprintf(f, "%-6s %-28s %-20s %12s\n", "layer", "type", "output shape", "params");
    fprintf(f, "%-6s %-28s (None, %d, %d, %d) %*s\n", "input", "", net->ih, net->iw, net->ic, 4, "0");
    for (int i = 0; i < net->n; i++) {
        const tp_layer *l = &net->l[i];
        char type[64], shape[48];
        switch (l->kind) {
        case TP_L_CONV: snprintf(type, sizeof type, "conv %d %dx%d%s", l->units, l->kh, l->kw, l->same ? " same" : ""); break;
        case TP_L_MAXPOOL:
        case TP_L_AVGPOOL: snprintf(type, sizeof type, "%s %dx%d", kind_names[l->kind], l->kh, l->kw); break;
        case TP_L_DENSE: snprintf(type, sizeof type, "dense %d", l->units); break;
        case TP_L_DROPOUT: snprintf(type, sizeof type, "dropout %g", l->rate); break;
        default: snprintf(type, sizeof type, "%s", kind_names[l->kind]); break;
        }
        if (l->act == TP_ACT_RELU)
            strcat(type, " relu");
        else if (l->act == TP_ACT_SOFTMAX)
            strcat(type, " softmax");
        if (l->flat)
            snprintf(shape, sizeof shape, "(None, %d)", l->oc);
        else
            snprintf(shape, sizeof shape, "(None, %d, %d, %d)", l->oh, l->ow, l->oc);
        size_t p = l->nw + l->nb + (l->kind == TP_L_BATCHNORM ? 2 * l->nb : 0);
        fprintf(f, "%-6d %-28s %-20s %12zu\n", i + 1, type, shape, p);
    }
    size_t nontrain = net->nparams - net->ntrain;
    fprintf(f, "Total params: %zu\nTrainable params: %zu\nNon-trainable params: %zu\n", net->nparams, net->ntrain, nontrain);
}

