/* raw2img — writes each record's image as a PNG or JPEG file into a folder per class. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "imgio.h"
#include "progress.h"
#include "dtype.h"
#include "stream.h"
#include "util.h"

/* mkdir -p for one level below an existing or just-made parent. */
static void make_dir(const char *path)
{
    if (mkdir(path, 0777) && errno != EEXIST)
        tp_die("%s: cannot create the folder: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) || !S_ISDIR(st.st_mode))
        tp_die("%s: not a folder", path);
}

/* A class name usable as a folder name. */
static void safe_name(char *s)
{
    if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return;
    for (; *s; s++)
        if (*s == '/')
            *s = '_';
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    const char *field = "x", *label = "y";
    int png = 0, jpeg = 0;
    int64_t quality = 95;
    const tp_option opts[] = {
        TP_FLAG("png", 0, &png, "write PNG files (lossless; the default)"),
        TP_FLAG("jpeg", 0, &jpeg, "write JPEG files"),
        TP_INT("quality", 'Q', &quality, "N", "JPEG quality, 1 to 100"),
        TP_STRING("field", 'f', &field, "NAME", "the image field (u8, H x W x 1 or 3)"),
        TP_STRING("label", 'l', &label, "NAME", "the label field choosing the sub-folder"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] DIR [FILE]",
        "Writes every record's image to DIR/CLASS/NNNNN.png (or .jpg), NNNNN being the record's\n"
        "index and CLASS its label's name from the classes metadata, else the label number.\n"
        "Records without a label field, or labelled -1, go to DIR/NNNNN.png. img2raw reads such\n"
        "a folder back.",
        opts,
        "Example (the JPEG notebook's data set from MNIST):\n"
        "  idx2raw train-images-idx3-ubyte train-labels-idx1-ubyte | raw2img --jpeg mnist-jpg/",
        1, 2,
    };
    char **args;
    int nargs = tp_cli_parse(&cli, argc, argv, &args);
    if (png && jpeg)
        tp_usage("--png and --jpeg exclude each other");
    if (quality < 1 || quality > 100)
        tp_usage("--quality must be 1 to 100");
    const char *dir = args[0];
    tp_reader *r = tp_open_or_die(nargs > 1 ? args[1] : "-");
    const char *name = tp_reader_name(r);
    const tp_header *h = tp_reader_header(r);
    int xi = tp_field_or_die(h, name, field);
    const tp_field *f = &h->fields[xi];
    int c = f->rank == 3 ? (int)f->shape[2] : f->rank == 2 ? 1 : 0;
    if (f->dtype != TP_U8 || (c != 1 && c != 3))
        tp_die("%s: field '%s' is %s with rank %d: raw2img writes u8 images of 1 or 3 channels", name, field,
               tp_dtype_name(f->dtype), f->rank);
    int li = tp_header_find_int(h, label);
    make_dir(dir);

    const char *ext = jpeg ? "jpg" : "png";
    size_t plen = strlen(dir) + 600;
    char *path = tp_alloc(plen, 1), *tmp = tp_alloc(plen + 32, 1), cls[256];
    tp_progress pr;
    tp_progress_start(&pr, "raw2img", h->count, "images");
    const unsigned char *rec;
    int64_t i = 0;
    while ((rec = tp_next_or_die(r))) {
        int64_t y = li >= 0 ? (int64_t)tp_elem_as_double(rec + h->fields[li].offset, h->fields[li].dtype, 0) : -1;
        if (y >= 0) {
            if (tp_meta_line(h, "classes", y, cls, sizeof cls) || strcmp(cls, ".") == 0 || strcmp(cls, "..") == 0)
                snprintf(cls, sizeof cls, "%lld", (long long)y);
            safe_name(cls);
            snprintf(path, plen, "%s/%s", dir, cls);
            make_dir(path);
            snprintf(path, plen, "%s/%s/%05lld.%s", dir, cls, (long long)i, ext);
        } else {
            snprintf(path, plen, "%s/%05lld.%s", dir, (long long)i, ext);
        }
        snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
        FILE *out = fopen(tmp, "wb");
        if (!out)
            tp_die("%s: cannot create: %s", path, strerror(errno));
        tp_register_tmp(tmp);
        char err[256];
        int rc = jpeg ? tp_jpeg_save(out, rec + f->offset, (int)f->shape[0], (int)f->shape[1], c, (int)quality, err, sizeof err)
                      : tp_png_save(out, rec + f->offset, (int)f->shape[0], (int)f->shape[1], c, err, sizeof err);
        if (rc)
            tp_die("%s: %s", path, err);
        if (fclose(out))
            tp_die("%s: write error: %s", path, strerror(errno));
        if (rename(tmp, path))
            tp_die("%s: cannot rename into place: %s", path, strerror(errno));
        tp_forget_tmp(tmp);
        tp_progress_update(&pr, ++i);
    }
    tp_progress_end(&pr, i);
    free(path);
    free(tmp);
    tp_reader_close(r);
    free(args);
    return 0;
}
