/* preprocess.h — how raw inputs become network inputs: a scale, then one of Keras'
 * applications.*.preprocess_input modes. Stored in a model's metadata ('preprocess' and
 * 'rescale') so that predict prepares images exactly as train did.
 *
 *   rescale  x * scale (the VGG16 notebook: 1/255)
 *   caffe    RGB -> BGR, then minus the ImageNet means [103.939, 116.779, 123.68] (B, G, R);
 *            inputs in 0..255 (Keras' vgg16.preprocess_input, the published VGG16 weights)
 *   tf       x / 127.5 - 1
 *   torch    x / 255, minus [0.485, 0.456, 0.406], divided by [0.229, 0.224, 0.225] (R, G, B)
 */
#ifndef TP_PREPROCESS_H
#define TP_PREPROCESS_H

#include <stddef.h>

#include "hostdev.h"
#include "stream.h"

typedef enum { TP_PREP_RESCALE, TP_PREP_CAFFE, TP_PREP_TF, TP_PREP_TORCH } tp_prep_mode;

/* Values a mode's step takes at once: a pixel's 3 channels for the modes that mix or weigh
 * them, else one value. */
TP_HD static inline int tp_prep_width(int mode) { return mode == TP_PREP_CAFFE || mode == TP_PREP_TORCH ? 3 : 1; }

/* The step of mode after the scale, on tp_prep_width(mode) values v (RGB order for a pixel)
 * into o (o may be v): the one per-element preparation, on the CPU (tp_prep_apply) and in
 * the GPU's gather (cuda/nn_elem.h). The ImageNet statistics are Keras' (caffe: the means of
 * B, G, R in 0..255; torch: the means and deviations of R, G, B in 0..1). */
TP_HD static inline void tp_prep_values(int mode, const float *v, float *o)
{
    if (mode == TP_PREP_RESCALE) {
        o[0] = v[0];
    } else if (mode == TP_PREP_TF) {
        o[0] = v[0] - 1.0f;
    } else if (mode == TP_PREP_CAFFE) { /* BGR order, then the means of B, G, R */
        float r = v[0], g = v[1], b = v[2];
        o[0] = b - 103.939f;
        o[1] = g - 116.779f;
        o[2] = r - 123.68f;
    } else {
        const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
        for (int c = 0; c < 3; c++)
            o[c] = (v[c] - mean[c]) / sd[c];
    }
}

typedef struct {
    tp_prep_mode mode;
    double scale; /* applied first (tp_to_float's scale): rescale's own, 1, 1/127.5 or 1/255 */
} tp_prep;

/* The mode named s ("rescale", "caffe", "tf", "torch") into *m; 0, or -1. */
int tp_prep_parse(const char *s, tp_prep_mode *m);
/* The name of mode m. */
const char *tp_prep_name(tp_prep_mode m);
/* A preparation of mode m; scale is used by rescale only (the others fix their own). */
tp_prep tp_prep_make(tp_prep_mode m, double scale);
/* 0 when p suits inputs of c channels (caffe and torch need 3), else -1 with err. */
int tp_prep_check(const tp_prep *p, int c, char *err, size_t errlen);
/* Applies the mode's step after the scale, in place, to n values of interleaved c channels
 * (HWC order): nothing for rescale. */
void tp_prep_apply(const tp_prep *p, float *x, size_t n, int c);
/* Reads a model's preparation: 'preprocess' (absent: rescale) and 'rescale' (absent: 1).
 * 0, or -1 with err for an unknown mode or a bad scale. */
int tp_prep_from_meta(const tp_header *h, tp_prep *p, char *err, size_t errlen);
/* Writes p into h's 'preprocess' and 'rescale' metadata. */
void tp_prep_to_meta(const tp_prep *p, tp_header *h);

#endif
