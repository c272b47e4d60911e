/* imgio.h — JPEG (libjpeg-turbo) and PNG (libpng) files to and from 8-bit pixels, HWC. */
#ifndef TP_IMGIO_H
#define TP_IMGIO_H

#include <stddef.h>
#include <stdint.h>

/* The most pixels (width x height) an image may have to be decoded, by default: 4096 x 4096.
 * It bounds what any program holds for one image whatever a file's header claims (a few
 * hundred bytes can claim 65500 x 65500): the decoded bytes are at most 3 per pixel, and a
 * program's float copies 4 per value. */
#define TP_IMAGE_MAX_PIXELS ((uint64_t)1 << 24)
/* Other decoder limits, fixed: a progressive JPEG's scans, and the bytes of one PNG chunk
 * other than the image data (its text and ICC profile, decompressed). */
#define TP_JPEG_MAX_SCANS 1000
#define TP_PNG_MAX_CHUNK (8u << 20)
/* Sets the limit (0: TPIPE_MAX_PIXELS from the environment, else the default). */
void tp_image_set_max_pixels(uint64_t n);
uint64_t tp_image_max_pixels(void);

/* Decodes the JPEG or PNG file at path (told apart by their magic bytes) into a malloc'd
 * *pix of h x w x c bytes, as Keras' loader (PIL) reads it. want_c: 1 (gray), 3 (RGB), or 0
 * to keep the file's own (gray stays 1, colour 3). Palettes are expanded, 16-bit samples
 * taken by their high byte, alpha and transparency dropped (not blended), CMYK JPEGs
 * converted to RGB as PIL does, colour made gray by PIL's luma (0.299 R + 0.587 G +
 * 0.114 B, rounded). A JPEG that libjpeg can decode only with a warning (cut short, corrupt
 * data) is refused, as is an image of more than tp_image_max_pixels() pixels, before its
 * pixels are allocated. Returns 0, or -1 with "what is wrong" in err. */
int tp_image_load(const char *path, int want_c, uint8_t **pix, int *h, int *w, int *c, char *err, size_t errlen);

/* Encodes h x w x c (1 or 3) pixels as a JPEG of quality 1..100 or as a PNG, to the open
 * file f. Returns 0, or -1 with a message in err. */
int tp_jpeg_save(void *f, const uint8_t *pix, int h, int w, int c, int quality, char *err, size_t errlen);
int tp_png_save(void *f, const uint8_t *pix, int h, int w, int c, char *err, size_t errlen);

/* Writes h x w x c (1 or 3) pixels to path ("-" or NULL: stdout) as a PNG, or as a JPEG of
 * that quality (1..100) when quality > 0. A named file is written as PATH.tmp.PID and renamed
 * into place, so a failed run leaves no partial image; errors end the program ("PROGRAM:
 * PATH: ..."), a closed pipe quietly. An existing device or FIFO (/dev/null) is written
 * directly, never replaced (tp_outfile). */
void tp_image_write(const char *path, const uint8_t *pix, int h, int w, int c, int quality);

#endif
