/* image.h — operations on HWC images held as floats: separable resampling and channel
 * conversion. Programs convert u8 pixels to float, call these, and round back. */
#ifndef TP_IMAGE_H
#define TP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    TP_RESIZE_BILINEAR, /* half-pixel centres: src = (dst + 0.5) * in / out - 0.5, clamped (tf.image.resize) */
    TP_RESIZE_NEAREST,  /* src = floor((dst + 0.5) * in / out) (PIL's NEAREST, used by Keras' loaders) */
    TP_RESIZE_AREA,     /* each output pixel averages the input area it covers (box filter): for shrinking */
} tp_resize_method;

/* The methods' names in their order, for an option's TP_CHOICE (cli.h). */
#define TP_RESIZE_METHODS "bilinear", "nearest", "area"

/* Per-axis taps: output index o reads input idx[o*taps + k] with weight w[o*taps + k]. */
typedef struct {
    int in, out, taps;
    int32_t *idx;
    float *w;
} tp_axis;

typedef struct {
    tp_axis y, x;
    int c; /* channels */
} tp_resize_plan;

/* Plans a resize of in_h x in_w x c images to out_h x out_w x c. */
void tp_resize_plan_init(tp_resize_plan *p, int in_h, int in_w, int out_h, int out_w, int c, tp_resize_method m);
void tp_resize_plan_free(tp_resize_plan *p);
/* Floats needed for the scratch buffer of tp_resize. */
size_t tp_resize_scratch(const tp_resize_plan *p);
/* Resizes one image src (in_h x in_w x c) into dst (out_h x out_w x c); tmp holds
 * tp_resize_scratch(p) floats. */
void tp_resize(const tp_resize_plan *p, const float *src, float *dst, float *tmp);
/* One image src (h x w x c) resized into dst (oh x ow x c), with a plan and scratch of its
 * own: for single images of any size (a stage resizing many of one size keeps a plan). */
void tp_resize_one(const float *src, int h, int w, int c, int oh, int ow, tp_resize_method m, float *dst);

/* The median of channel k over the border pixels of the h x w x c image (the upper median
 * of an even count). */
float tp_border_median(const float *img, int h, int w, int c, int k);
/* src (h x w x c) resized by m, aspect kept, to the largest size that fits oh x ow, and
 * centred in dst (oh x ow x c) on a background: fill[k] for channel k, or with fill NULL the
 * median of that channel over src's border (PIL's ImageOps.pad, with a background that
 * continues the image's own). */
void tp_pad_fit(const float *src, int h, int w, int c, int oh, int ow, tp_resize_method m, const float *fill,
                float *dst);

/* Luma of n RGB pixels, 0.2989 R + 0.5870 G + 0.1140 B (tf.image.rgb_to_grayscale). */
void tp_rgb_to_gray(const float *rgb, float *gray, size_t n);
/* n gray pixels replicated into RGB (tf.image.grayscale_to_rgb). */
void tp_gray_to_rgb(const float *gray, float *rgb, size_t n);

/* Floats to u8, rounded to nearest (halves up) and clamped to [0, 255]. */
void tp_float_to_u8(const float *src, uint8_t *dst, size_t n);
/* u8 to floats. */
void tp_u8_to_float(const uint8_t *src, float *dst, size_t n);

/* The JPEG or PNG file at path as h x w x c floats (0 to 255) into x: decoded with c
 * channels (1, else 3) and resized by nearest neighbour when its size differs, as Keras'
 * load_img(target_size=...) does. Returns 0, or -1 with "what is wrong" in err. */
int tp_image_load_as(const char *path, int h, int w, int c, float *x, char *err, size_t errlen);

#endif
