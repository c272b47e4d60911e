/* augment.h — Keras ImageDataGenerator's geometric transforms, as one affine warp.
 *
 * Meanings follow Keras: rotation in degrees, angle ~ U(-r, r); shifts as a fraction of the
 * side when < 1, else pixels (a whole number n: an integer in (-n, n), as np.random.choice
 * with a random sign; otherwise U(-v, v)); shear in degrees; zoom factors zx, zy drawn
 * independently from [lo, hi] (Keras' zoom_range z means [1 - z, 1 + z]); flips with
 * probability 1/2. The matrix is Keras': rotation . shift . shear . zoom, about the image
 * centre, mapping output (row, col) to the input point that is sampled bilinearly.
 * One difference on purpose: Keras applies its height shift along columns and its width
 * shift along rows (keras #17398); here height moves rows and width moves columns, and
 * keras_axes = 1 reproduces Keras exactly.
 */
#ifndef TP_AUGMENT_H
#define TP_AUGMENT_H

#include "cli.h"
#include "rng.h"

typedef enum { TP_FILL_NEAREST, TP_FILL_CONSTANT, TP_FILL_REFLECT, TP_FILL_WRAP } tp_fill;

/* Parses "nearest", "constant", "reflect", "wrap"; 0 or -1. */
int tp_fill_parse(const char *s, tp_fill *f);

/* A parameter drawn from [lo, hi] instead of Keras' symmetric range (set), so that lo = hi
 * pins one value. */
typedef struct {
    double lo, hi;
    int set;
} tp_aug_range;

typedef struct {
    double rotation;                  /* degrees */
    double width_shift, height_shift; /* fraction (< 1) or pixels */
    double shear;                     /* degrees */
    tp_aug_range rotation_r, width_r, height_r, shear_r; /* LO,HI forms, when set */
    double zoom_lo, zoom_hi;          /* 1, 1 for none */
    int hflip, vflip;
    tp_fill fill;
    float cval;
    int keras_axes;
} tp_augment;

/* One draw of the random parameters. */
typedef struct {
    double theta, tx, ty, shear, zx, zy; /* degrees, pixels (rows, cols), degrees, factors */
    int flip_h, flip_v;
} tp_augment_draw;

/* Draws the parameters for an h x w image: always 10 draws in a fixed order, so each
 * parameter's value does not depend on which other transforms are enabled. */
void tp_augment_sample(const tp_augment *a, tp_rng *r, int h, int w, tp_augment_draw *d);

/* The 2x3 matrix m mapping output (row, col) to input (row, col) for draw d. */
void tp_augment_matrix(const tp_augment *a, const tp_augment_draw *d, int h, int w, double m[6]);

/* Warps src (h x w x c floats) into dst with matrix m, bilinear, filling outside points by
 * a->fill (cval for constant), then applies d's flips. */
void tp_augment_warp(const tp_augment *a, const tp_augment_draw *d, const double m[6], const float *src, float *dst,
                     int h, int w, int c);

/* The augmentation options shared by augment and train: a program reserves
 * TP_AUGMENT_NOPTS entries of its option table for them, then calls tp_augment_cli_finish
 * after parsing. */
typedef struct {
    tp_augment a;
    double zoom, cval;
    int fill; /* a tp_fill */
    const char *zoom_range, *rotation, *width_shift, *height_shift, *shear; /* "A" or "LO,HI" */
} tp_augment_cli;

#define TP_AUGMENT_NOPTS 11
/* Defaults (no transform) and the option entries, written to out[0..TP_AUGMENT_NOPTS). */
void tp_augment_cli_init(tp_augment_cli *c, tp_option *out);
/* Checks the values (tp_usage on a bad one) and completes c->a. */
void tp_augment_cli_finish(tp_augment_cli *c);
/* 1 when any transform is on. */
int tp_augment_active(const tp_augment *a);

#endif
