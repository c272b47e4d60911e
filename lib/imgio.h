/* imgio.h — JPEG (libjpeg-turbo) and PNG (libpng) files to and from 8-bit pixels, HWC. */
#ifndef TP_IMGIO_H
#define TP_IMGIO_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the JPEG or PNG file at path (told apart by their magic bytes) into a malloc'd
 * *pix of h x w x c bytes. want_c: 1 (gray), 3 (RGB), or 0 to keep the file's own (gray
 * stays 1, colour 3; alpha is dropped, palettes expanded, 16-bit reduced). Returns 0, or -1
 * with "what is wrong" in err. */
int tp_image_load(const char *path, int want_c, uint8_t **pix, int *h, int *w, int *c, char *err, size_t errlen);

/* Encodes h x w x c (1 or 3) pixels as a JPEG of quality 1..100 or as a PNG, to the open
 * file f. Returns 0, or -1 with a message in err. */
int tp_jpeg_save(void *f, const uint8_t *pix, int h, int w, int c, int quality, char *err, size_t errlen);
int tp_png_save(void *f, const uint8_t *pix, int h, int w, int c, char *err, size_t errlen);

/* Writes h x w x c (1 or 3) pixels to path ("-" or NULL: stdout) as a PNG, or as a JPEG of
 * that quality (1..100) when quality > 0. A named file is written as PATH.tmp.PID and renamed
 * into place, so a failed run leaves no partial image; errors end the program ("PROGRAM:
 * PATH: ..."), a closed pipe quietly. */
void tp_image_write(const char *path, const uint8_t *pix, int h, int w, int c, int quality);

#endif
