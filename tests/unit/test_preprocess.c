/* Unit tests of the input preparations (lib/preprocess.c) against values worked by hand
 * from Keras' imagenet_utils.preprocess_input: caffe flips RGB to BGR and subtracts
 * [103.939, 116.779, 123.68]; tf maps 0..255 to -1..1; torch scales to 0..1 and
 * standardises with ImageNet's mean and std. */
#include <string.h>

#include "check.h"
#include "preprocess.h"
#include "dtype.h"
#include "stream.h"

/* Two RGB pixels of u8 values through the scale and the mode, as train and predict do. */
static void run(tp_prep_mode m, const unsigned char *px, float *out)
{
    tp_prep p = tp_prep_make(m, 0.5);
    tp_to_float(px, TP_U8, 6, p.scale, out);
    tp_prep_apply(&p, out, 6, 3);
}

int main(void)
{
    const unsigned char px[6] = {10, 20, 30, 255, 0, 128};
    float y[6];

    run(TP_PREP_CAFFE, px, y); /* (R, G, B) = (10, 20, 30) -> (30 - 103.939, 20 - 116.779, 10 - 123.68) */
    CHECK_NEAR(y[0], -73.939, 1e-4);
    CHECK_NEAR(y[1], -96.779, 1e-4);
    CHECK_NEAR(y[2], -113.68, 1e-4);
    CHECK_NEAR(y[3], 128 - 103.939, 1e-4); /* (255, 0, 128) -> (128 - 103.939, -116.779, 255 - 123.68) */
    CHECK_NEAR(y[4], -116.779, 1e-4);
    CHECK_NEAR(y[5], 131.32, 1e-4);

    run(TP_PREP_TF, px, y);
    CHECK_NEAR(y[0], 10 / 127.5 - 1, 1e-6);
    CHECK_NEAR(y[3], 1, 1e-6);
    CHECK_NEAR(y[4], -1, 1e-6);

    run(TP_PREP_TORCH, px, y); /* (x / 255 - mean[c]) / std[c], channels in RGB order */
    CHECK_NEAR(y[0], (10 / 255.0 - 0.485) / 0.229, 1e-5);
    CHECK_NEAR(y[1], (20 / 255.0 - 0.456) / 0.224, 1e-5);
    CHECK_NEAR(y[2], (30 / 255.0 - 0.406) / 0.225, 1e-5);
    CHECK_NEAR(y[3], (1 - 0.485) / 0.229, 1e-5);

    run(TP_PREP_RESCALE, px, y); /* the scale alone (0.5 here) */
    CHECK_NEAR(y[0], 5, 0);
    CHECK_NEAR(y[3], 127.5, 0);

    /* names, channel checks, and the round trip through a model's metadata */
    tp_prep_mode m;
    CHECK(tp_prep_parse("caffe", &m) == 0 && m == TP_PREP_CAFFE);
    CHECK(tp_prep_parse("Caffe", &m) == -1);
    CHECK(strcmp(tp_prep_name(TP_PREP_TORCH), "torch") == 0);
    char err[256];
    tp_prep p = tp_prep_make(TP_PREP_CAFFE, 0.25);
    CHECK_NEAR(p.scale, 1, 0); /* caffe works on 0..255: the scale is its own */
    CHECK(tp_prep_check(&p, 3, err, sizeof err) == 0);
    CHECK(tp_prep_check(&p, 1, err, sizeof err) == -1 && strstr(err, "3 channels"));
    p = tp_prep_make(TP_PREP_TF, 0);
    CHECK(tp_prep_check(&p, 1, err, sizeof err) == 0);
    tp_header h;
    tp_header_init(&h);
    tp_prep q;
    CHECK(tp_prep_from_meta(&h, &q, err, sizeof err) == 0 && q.mode == TP_PREP_RESCALE && q.scale == 1);
    p = tp_prep_make(TP_PREP_RESCALE, 1.0 / 255);
    tp_prep_to_meta(&p, &h);
    CHECK(tp_prep_from_meta(&h, &q, err, sizeof err) == 0 && q.mode == TP_PREP_RESCALE && q.scale == 1.0 / 255);
    p = tp_prep_make(TP_PREP_TORCH, 3);
    tp_prep_to_meta(&p, &h);
    CHECK(tp_prep_from_meta(&h, &q, err, sizeof err) == 0 && q.mode == TP_PREP_TORCH && q.scale == 1 / 255.0);
    tp_header_set_meta(&h, "preprocess", "inception");
    CHECK(tp_prep_from_meta(&h, &q, err, sizeof err) == -1 && strstr(err, "inception"));
    tp_header_set_meta(&h, "preprocess", "rescale");
    tp_header_set_meta(&h, "rescale", "x");
    CHECK(tp_prep_from_meta(&h, &q, err, sizeof err) == -1);
    tp_header_free(&h);
    return check_result();
}
