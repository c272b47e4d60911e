/* imgio.c — see imgio.h. */
#include "imgio.h"

#include <errno.h>
#include <limits.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* jpeglib.h needs stdio.h first */
#include <jpeglib.h>

#include "outfile.h"
#include "util.h"

static uint64_t max_pixels; /* 0: TPIPE_MAX_PIXELS or the default */

void tp_image_set_max_pixels(uint64_t n) { max_pixels = n; }

uint64_t tp_image_max_pixels(void)
{
    if (max_pixels)
        return max_pixels;
    const char *e = getenv("TPIPE_MAX_PIXELS");
    int64_t v;
    if (e && *e && tp_parse_i64(e, &v) == 0 && v > 0)
        return (uint64_t)v;
    return TP_IMAGE_MAX_PIXELS;
}

/* 0 when an image of w x h may be decoded, else -1 with the reason. */
static int size_ok(uint64_t w, uint64_t h, char *err, size_t errlen)
{
    if (w == 0 || h == 0) {
        snprintf(err, errlen, "an image of %llux%llu pixels", (unsigned long long)w, (unsigned long long)h);
        return -1;
    }
    if (w * h > tp_image_max_pixels()) {
        snprintf(err, errlen, "%llux%llu pixels, more than the limit of %llu (--max-pixels or TPIPE_MAX_PIXELS raises it)",
                 (unsigned long long)w, (unsigned long long)h, (unsigned long long)tp_image_max_pixels());
        return -1;
    }
    return 0;
}

/* PIL's luma of an RGB pixel (ITU-R 601-2, rounded): what Image.convert('L') gives. */
static uint8_t pil_luma(const uint8_t *p) { return (uint8_t)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16); }

/* n pixels of 3 channels at src as n of want_c (1: PIL's luma, 3: as they are) at dst (may be
 * src). */
static void rgb_to(uint8_t *dst, const uint8_t *src, size_t n, int want_c)
{
    for (size_t i = 0; i < n; i++) {
        if (want_c == 1) {
            dst[i] = pil_luma(src + 3 * i);
        } else if (dst != src) {
            dst[3 * i] = src[3 * i];
            dst[3 * i + 1] = src[3 * i + 1];
            dst[3 * i + 2] = src[3 * i + 2];
        }
    }
}

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jerr;

static void jpeg_fail(j_common_ptr cinfo)
{
    jerr *e = (jerr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, 1);
}

/* A warning (level -1: corrupt data, a file that ends early) fails the decoding: libjpeg
 * would go on and fill what is missing with grey, a silently wrong image. Trace messages
 * (level >= 0) are ignored. */
static void jpeg_warn(j_common_ptr cinfo, int level)
{
    if (level < 0)
        jpeg_fail(cinfo);
}

/* A progressive JPEG may hold any number of scans, each a pass over the whole image: a few
 * kilobytes can ask for hours of decoding. More than TP_JPEG_MAX_SCANS is refused. */
static void jpeg_scans(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (cinfo->is_decompressor && d->input_scan_number > TP_JPEG_MAX_SCANS) {
        jerr *e = (jerr *)cinfo->err;
        snprintf(e->msg, sizeof e->msg, "more than %d progressive scans", TP_JPEG_MAX_SCANS);
        longjmp(e->jump, 1);
    }
}

static int load_jpeg(FILE *f, int want_c, uint8_t **pix, int *h, int *w, int *c, char *err, size_t errlen)
{
    struct jpeg_decompress_struct d;
    struct jpeg_progress_mgr prog = {.progress_monitor = jpeg_scans};
    jerr e;
    uint8_t *volatile out = NULL;
    d.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jpeg_fail;
    e.mgr.emit_message = jpeg_warn;
    e.msg[0] = 0;
    if (setjmp(e.jump)) {
        jpeg_destroy_decompress(&d);
        free(out);
        if (e.msg[0])
            snprintf(err, errlen, "corrupt JPEG (%s)", e.msg);
        return -1;
    }
    jpeg_create_decompress(&d);
    d.progress = &prog;
    /* libjpeg's own buffers (a progressive image's coefficients: 2 bytes a sample) within
     * what the pixel limit allows, and no more */
    d.mem->max_memory_to_use = (long)(tp_image_max_pixels() * 6 < (uint64_t)LONG_MAX / 2
                                          ? tp_image_max_pixels() * 6 + (16 << 20) : (uint64_t)LONG_MAX / 2);
    jpeg_stdio_src(&d, f);
    jpeg_read_header(&d, TRUE);
    if (size_ok(d.image_width, d.image_height, err, errlen))
        longjmp(e.jump, 1); /* before any buffer of that size exists */
    int cmyk = d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK;
    int cc = want_c ? want_c : d.num_components == 1 ? 1 : 3;
    /* colour to gray as PIL does it (decode RGB, then its luma), not libjpeg's Y channel */
    d.out_color_space = cmyk ? JCS_CMYK : d.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&d);
    int oc = d.output_components;
    size_t stride = (size_t)d.output_width * (size_t)oc, n = (size_t)d.output_width * (size_t)d.output_height;
    out = tp_alloc((size_t)d.output_height, stride > 3 * (size_t)d.output_width ? stride : 3 * (size_t)d.output_width);
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = out + (size_t)d.output_scanline * stride;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    if (cmyk) {
        /* PIL reads a CMYK JPEG's values as Adobe's inverted ones (C = 255 - stored) and makes
         * each pixel RGB as R = (255 - K) - C (255 - K) / 255, the product rounded as its
         * MULDIV255; with the stored values that is k - muldiv255(255 - c, k) */
        for (size_t i = 0; i < n; i++) {
            const uint8_t *q = out + 4 * i;
            unsigned k = q[3], v[3];
            for (int ch = 0; ch < 3; ch++) {
                unsigned t = (255u - q[ch]) * k + 128u;
                v[ch] = k - (((t >> 8) + t) >> 8);
            }
            uint8_t *o = out + 3 * i;
            o[0] = (uint8_t)v[0];
            o[1] = (uint8_t)v[1];
            o[2] = (uint8_t)v[2];
        }
        oc = 3;
    }
    if (oc == 3 && cc == 1)
        rgb_to(out, out, n, 1);
    else if (oc == 1 && cc == 3)
        for (size_t i = n; i-- > 0;)
            out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = out[i];
    *h = (int)d.output_height;
    *w = (int)d.output_width;
    *c = cc;
    jpeg_destroy_decompress(&d);
    *pix = out;
    return 0;
}

typedef struct {
    jmp_buf jump;
    char msg[256];
} perr;

static void png_fail(png_structp p, png_const_charp msg)
{
    perr *e = png_get_error_ptr(p);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jump, 1);
}

static void png_quiet(png_structp p, png_const_charp msg) { (void)p, (void)msg; }

/* PNG as PIL and Keras' loader read it: palettes expanded, 1, 2 and 4-bit gray widened,
 * 16-bit samples taken by their high byte, alpha and transparency dropped (not blended),
 * no gamma applied; colour to gray by PIL's luma. */
static int load_png(FILE *f, int want_c, uint8_t **pix, int *h, int *w, int *c, char *err, size_t errlen)
{
    perr e = {.msg = ""};
    png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, &e, png_fail, png_quiet);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    uint8_t *volatile out = NULL;
    png_bytep *volatile rows = NULL;
    if (!info) {
        png_destroy_read_struct(&p, NULL, NULL);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (setjmp(e.jump)) {
        png_destroy_read_struct(&p, &info, NULL);
        free(out);
        free(rows);
        if (e.msg[0])
            snprintf(err, errlen, "corrupt PNG (%s)", e.msg);
        return -1;
    }
    png_init_io(p, f);
    /* ancillary chunks (text, ICC profiles, compressed or not) at most 8 MiB each and 256 in
     * all: they are skipped anyway, and a zTXt chunk can inflate a thousandfold */
    png_set_chunk_malloc_max(p, TP_PNG_MAX_CHUNK);
    png_set_chunk_cache_max(p, 256);
    png_read_info(p, info);
    png_uint_32 iw = png_get_image_width(p, info), ih = png_get_image_height(p, info);
    if (size_ok(iw, ih, err, errlen))
        longjmp(e.jump, 1);
    int type = png_get_color_type(p, info);
    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(p);
    if (type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(p, info) < 8)
        png_set_expand_gray_1_2_4_to_8(p);
    png_set_strip_16(p);
    png_set_strip_alpha(p);
    png_set_interlace_handling(p);
    png_read_update_info(p, info);
    int fc = png_get_channels(p, info); /* 1 or 3 now */
    if (fc != 1 && fc != 3) {
        snprintf(e.msg, sizeof e.msg, "%d channels after decoding", fc);
        longjmp(e.jump, 1);
    }
    int cc = want_c ? want_c : fc;
    size_t stride = (size_t)iw * (size_t)fc, n = (size_t)iw * (size_t)ih;
    out = tp_alloc(n, 3);
    rows = tp_alloc(ih, sizeof *rows);
    for (png_uint_32 y = 0; y < ih; y++)
        rows[y] = out + (size_t)y * stride;
    png_read_image(p, rows);
    png_read_end(p, NULL);
    if (fc == 3 && cc == 1)
        rgb_to(out, out, n, 1);
    else if (fc == 1 && cc == 3)
        for (size_t i = n; i-- > 0;)
            out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = out[i];
    free(rows);
    png_destroy_read_struct(&p, &info, NULL);
    *h = (int)ih;
    *w = (int)iw;
    *c = cc;
    *pix = out;
    return 0;
}

int tp_image_load(const char *path, int want_c, uint8_t **pix, int *h, int *w, int *c, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    unsigned char m[8] = {0};
    size_t got = fread(m, 1, 8, f);
    rewind(f);
    int rc;
    if (got >= 3 && m[0] == 0xff && m[1] == 0xd8 && m[2] == 0xff)
        rc = load_jpeg(f, want_c, pix, h, w, c, err, errlen);
    else if (got == 8 && memcmp(m, "\x89PNG\r\n\x1a\n", 8) == 0)
        rc = load_png(f, want_c, pix, h, w, c, err, errlen);
    else {
        snprintf(err, errlen, "not a JPEG or PNG file");
        rc = -1;
    }
    fclose(f);
    return rc;
}

int tp_jpeg_save(void *f, const uint8_t *pix, int h, int w, int c, int quality, char *err, size_t errlen)
{
    struct jpeg_compress_struct d;
    jerr e;
    d.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jpeg_fail;
    if (setjmp(e.jump)) {
        jpeg_destroy_compress(&d);
        snprintf(err, errlen, "JPEG encoding failed (%s)", e.msg);
        return -1;
    }
    jpeg_create_compress(&d);
    jpeg_stdio_dest(&d, (FILE *)f);
    d.image_width = (JDIMENSION)w;
    d.image_height = (JDIMENSION)h;
    d.input_components = c;
    d.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&d);
    jpeg_set_quality(&d, quality, TRUE);
    jpeg_start_compress(&d, TRUE);
    while (d.next_scanline < d.image_height) {
        JSAMPROW row = (JSAMPROW)(pix + (size_t)d.next_scanline * (size_t)w * (size_t)c);
        jpeg_write_scanlines(&d, &row, 1);
    }
    jpeg_finish_compress(&d);
    jpeg_destroy_compress(&d);
    return 0;
}

int tp_png_save(void *f, const uint8_t *pix, int h, int w, int c, char *err, size_t errlen)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    if (!png_image_write_to_stdio(&im, (FILE *)f, 0, pix, 0, NULL)) {
        snprintf(err, errlen, "PNG encoding failed (%s)", im.message);
        return -1;
    }
    return 0;
}

void tp_image_write(const char *path, const uint8_t *pix, int h, int w, int c, int quality)
{
    /* Encoded in memory, then written through tp_outfile: one atomic rename for a named
     * file, and a device or FIFO (/dev/null) written directly, never replaced. */
    char err[256], *mem = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&mem, &len);
    if (!f)
        tp_die("out of memory");
    const char *name = path && strcmp(path, "-") != 0 ? path : "stdout";
    int rc = quality > 0 ? tp_jpeg_save(f, pix, h, w, c, quality, err, sizeof err)
                         : tp_png_save(f, pix, h, w, c, err, sizeof err);
    if (fclose(f))
        tp_die("out of memory");
    if (rc)
        tp_die("%s: %s", name, err);
    tp_outfile o;
    tp_out_open(&o, path);
    tp_out_write(&o, mem, len);
    tp_out_close(&o);
    free(mem);
}
