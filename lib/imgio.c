/* imgio.c — see imgio.h. */
#include "imgio.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* jpeglib.h needs stdio.h first */
#include <jpeglib.h>

#include "util.h"

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

static void jpeg_quiet(j_common_ptr cinfo, int level) { (void)cinfo, (void)level; }

static int load_jpeg(FILE *f, int want_c, uint8_t **pix, int *h, int *w, int *c, char *err, size_t errlen)
{
    struct jpeg_decompress_struct d;
    jerr e;
    uint8_t *volatile out = NULL;
    d.err = jpeg_std_error(&e.mgr);
    e.mgr.error_exit = jpeg_fail;
    e.mgr.emit_message = jpeg_quiet; /* corrupt-data warnings: the data is still decoded */
    if (setjmp(e.jump)) {
        jpeg_destroy_decompress(&d);
        free(out);
        snprintf(err, errlen, "corrupt JPEG (%s)", e.msg);
        return -1;
    }
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, f);
    jpeg_read_header(&d, TRUE);
    int cc = want_c ? want_c : d.num_components == 1 ? 1 : 3;
    d.out_color_space = cc == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&d);
    if (d.output_components != cc || d.output_width > 65535 || d.output_height > 65535)
        longjmp(e.jump, 1);
    size_t stride = (size_t)d.output_width * (size_t)cc;
    out = tp_alloc((size_t)d.output_height, stride);
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = out + (size_t)d.output_scanline * stride;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    *h = (int)d.output_height;
    *w = (int)d.output_width;
    *c = cc;
    jpeg_destroy_decompress(&d);
    *pix = out;
    return 0;
}

static int load_png(FILE *f, int want_c, uint8_t **pix, int *h, int *w, int *c, char *err, size_t errlen)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&im, f)) {
        snprintf(err, errlen, "corrupt PNG (%s)", im.message);
        return -1;
    }
    int cc = want_c ? want_c : (im.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
    im.format = cc == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    if (im.width > 65535 || im.height > 65535) {
        png_image_free(&im);
        snprintf(err, errlen, "PNG of %ux%u is too large", im.width, im.height);
        return -1;
    }
    uint8_t *out = tp_alloc(PNG_IMAGE_SIZE(im), 1);
    if (!png_image_finish_read(&im, NULL, out, 0, NULL)) {
        snprintf(err, errlen, "corrupt PNG (%s)", im.message);
        free(out);
        png_image_free(&im);
        return -1;
    }
    *h = (int)im.height;
    *w = (int)im.width;
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
    char err[256], *tmp = NULL;
    FILE *f = stdout;
    if (path && strcmp(path, "-") != 0) {
        size_t n = strlen(path) + 32;
        tmp = tp_alloc(n, 1);
        snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
        if (!(f = fopen(tmp, "wb")))
            tp_die("%s: cannot create: %s", path, strerror(errno));
        tp_register_tmp(tmp);
    }
    const char *name = tmp ? path : "stdout";
    if (quality > 0 ? tp_jpeg_save(f, pix, h, w, c, quality, err, sizeof err) : tp_png_save(f, pix, h, w, c, err, sizeof err))
        tp_die("%s: %s", name, err);
    if (fflush(f) || ferror(f)) {
        if (errno == EPIPE)
            tp_exit_pipe();
        tp_die("%s: write error: %s", name, strerror(errno));
    }
    if (tmp) {
        if (fclose(f))
            tp_die("%s: write error: %s", path, strerror(errno));
        if (rename(tmp, path))
            tp_die("%s: cannot rename into place: %s", path, strerror(errno));
        tp_forget_tmp(tmp);
        free(tmp);
    }
}
