/* preprocess.c — see preprocess.h. */
#include "preprocess.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const names[] = {"rescale", "caffe", "tf", "torch"};

int tp_prep_parse(const char *s, tp_prep_mode *m)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *m = (tp_prep_mode)i;
            return 0;
        }
    return -1;
}

const char *tp_prep_name(tp_prep_mode m) { return names[m]; }

tp_prep tp_prep_make(tp_prep_mode m, double scale)
{
    tp_prep p = {m, scale};
    if (m == TP_PREP_CAFFE)
        p.scale = 1;
    else if (m == TP_PREP_TF)
        p.scale = 1 / 127.5;
    else if (m == TP_PREP_TORCH)
        p.scale = 1 / 255.0;
    return p;
}

int tp_prep_check(const tp_prep *p, int c, char *err, size_t errlen)
{
    if ((p->mode == TP_PREP_CAFFE || p->mode == TP_PREP_TORCH) && c != 3) {
        snprintf(err, errlen, "%s preprocessing needs RGB images (3 channels), not %d channel%s (resize --rgb makes them)",
                 names[p->mode], c, c == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

void tp_prep_apply(const tp_prep *p, float *x, size_t n, int c)
{
    if (p->mode == TP_PREP_RESCALE)
        return;
    size_t w = (size_t)tp_prep_width(p->mode);
    TP_ASSERT(w == 1 || c == 3);
    for (size_t e = 0; e + w <= n; e += w)
        tp_prep_values(p->mode, x + e, x + e);
}

int tp_prep_from_meta(const tp_header *h, tp_prep *p, char *err, size_t errlen)
{
    const char *mode = tp_header_get_meta(h, "preprocess"), *rs = tp_header_get_meta(h, "rescale");
    tp_prep_mode m = TP_PREP_RESCALE;
    double scale = 1;
    if (mode && tp_prep_parse(mode, &m)) {
        snprintf(err, errlen, "unknown preprocessing '%s' in the model's metadata (rescale, caffe, tf, torch)", mode);
        return -1;
    }
    if (rs && (tp_parse_f64(rs, &scale) || !(scale >= 0))) {
        snprintf(err, errlen, "bad 'rescale' metadata '%s'", rs);
        return -1;
    }
    *p = tp_prep_make(m, scale);
    return 0;
}

void tp_prep_to_meta(const tp_prep *p, tp_header *h)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", p->scale);
    tp_header_set_meta(h, "rescale", buf);
    tp_header_set_meta(h, "preprocess", names[p->mode]);
}
