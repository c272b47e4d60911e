/* frame.h — MNIST's framing of one image: the ink's bounding box scaled, aspect kept, so
 * that its longer side fills a box (20 pixels), then placed on a canvas (28 x 28) so that
 * the ink's centre of mass falls on the canvas centre, shifted by whole pixels as MNIST
 * was made ("size normalized to fit in a 20x20 pixel box while preserving their aspect
 * ratio ... centered in a 28x28 image by computing the center of mass of the pixels").
 *
 * Ink is measured on a gray map of the image (the channel itself for 1 or 2 channels, the
 * luma 0.2989 R + 0.5870 G + 0.1140 B for 3 or 4, the mean otherwise) after inversion, and
 * pixels whose ink is at most the threshold are background: set to 0 in every channel,
 * outside the bounding box and without weight in the centre of mass. A light background
 * (dark digits on paper) is inverted, so the output has MNIST's light ink on black. */
#ifndef TP_FRAME_H
#define TP_FRAME_H

#include <stddef.h>

typedef enum { TP_FRAME_INVERT_AUTO, TP_FRAME_INVERT_NO, TP_FRAME_INVERT_YES } tp_frame_invert;
typedef enum { TP_FRAME_CENTER_MASS, TP_FRAME_CENTER_BOX } tp_frame_center;

/* The names in their order, for TP_CHOICE options. */
#define TP_FRAME_INVERTS "auto", "no", "yes"
#define TP_FRAME_CENTERS "mass", "box"
/* -m: auto (area to shrink, bilinear to grow), then the tp_resize_method names */
#define TP_FRAME_METHODS "auto", "bilinear", "nearest", "area"

typedef struct {
    int out_h, out_w; /* the canvas */
    int box;          /* the longer side of the scaled ink, at most min(out_h, out_w) */
    double threshold; /* ink above it counts (0 to 255) */
    int invert;       /* a tp_frame_invert */
    int center;       /* a tp_frame_center */
    int method;       /* 0 auto, else 1 + a tp_resize_method */
    int no_upscale;   /* ink smaller than the box keeps its size */
} tp_frame;

/* What framing one image found. */
typedef struct {
    int inverted; /* the image was inverted (auto: its border's median was above 127.5) */
    int empty;    /* no ink above the threshold: the canvas is left black */
    int clipped;  /* the centring shift moved ink off the canvas */
} tp_frame_result;

/* Frames the h x w x c image src (values 0 to 255) into dst (out_h x out_w x c). */
void tp_frame_image(const tp_frame *f, const float *src, int h, int w, int c, float *dst, tp_frame_result *res);

#endif
