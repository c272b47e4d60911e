/* raw2img — writes each record's image as a PNG or JPEG file into a folder per class. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "dtype.h"
#include "imgio.h"
#include "progress.h"
#include "stream.h"
#include "util.h"

typedef struct {
    const char *dir, *in, *field, *label;
    int jpeg; /* 1: JPEG files, 0: PNG */
    int64_t quality;
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.field = "x", .label = "y", .quality = 95};
    const tp_option opts[] = {
        TP_SET("png", 0, &o->jpeg, 0, "write PNG files (lossless; the default)"),
        TP_SET("jpeg", 0, &o->jpeg, 1, "write JPEG files"),
        TP_INT("quality", 'Q', &o->quality, "N", "JPEG quality, 1 to 100", TP_RANGE(1, 100)),
        TP_STRING("field", 'f', &o->field, "NAME", "the image field (u8, H x W x 1 or 3)"),
        TP_STRING("label", 'l', &o->label, "NAME", "the label field choosing the sub-folder"),
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
    o->dir = args[0];
    o->in = nargs > 1 ? args[1] : "-";
    free(args);
}

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

/* The file of record i with label y (-1: none) into path: STAGE/CLASS/NNNNN.EXT, making the
 * class's folder, or STAGE/NNNNN.EXT. */
static void image_path(const options *o, const char *stage, const tp_header *h, int64_t y, int64_t i, char *path,
                       size_t plen)
{
    const char *ext = o->jpeg ? "jpg" : "png";
    char cls[256];
    if (y < 0) {
        snprintf(path, plen, "%s/%05lld.%s", stage, (long long)i, ext);
        return;
    }
    if (tp_meta_line(h, "classes", y, cls, sizeof cls) || strcmp(cls, ".") == 0 || strcmp(cls, "..") == 0)
        snprintf(cls, sizeof cls, "%lld", (long long)y);
    safe_name(cls);
    snprintf(path, plen, "%s/%s", stage, cls);
    make_dir(path);
    snprintf(path, plen, "%s/%s/%05lld.%s", stage, cls, (long long)i, ext);
}

/* Moves what the staging folder from/ holds into to/ (class folders one level down, made
 * where missing), replacing files of the same names, and removes from/. */
static void commit(const char *from, const char *to, int depth)
{
    DIR *d = opendir(from);
    if (!d)
        tp_die("%s: cannot read the staging folder: %s", from, strerror(errno));
    struct dirent *e;
    size_t n = strlen(from) + strlen(to) + 512;
    char *a = tp_alloc(n, 1), *b = tp_alloc(n, 1);
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(a, n, "%s/%s", from, e->d_name);
        snprintf(b, n, "%s/%s", to, e->d_name);
        struct stat st;
        if (depth > 0 && lstat(a, &st) == 0 && S_ISDIR(st.st_mode)) {
            make_dir(b);
            commit(a, b, depth - 1);
        } else if (rename(a, b)) {
            tp_die("%s: cannot move %s into place: %s", b, a, strerror(errno));
        }
    }
    closedir(d);
    if (rmdir(from))
        tp_die("%s: cannot remove the staging folder: %s", from, strerror(errno));
    free(a);
    free(b);
}

static int run(const options *o)
{
    tp_reader *r = tp_open_or_die(o->in);
    const char *name = tp_reader_name(r);
    const tp_header *h = tp_reader_header(r);
    const tp_field *f = &h->fields[tp_field_or_die(h, name, o->field)];
    int c = f->rank == 3 ? (int)f->shape[2] : f->rank == 2 ? 1 : 0;
    if (f->dtype != TP_U8 || (c != 1 && c != 3))
        tp_die("%s: field '%s' is %s with rank %d: raw2img writes u8 images of 1 or 3 channels", name, o->field,
               tp_dtype_name(f->dtype), f->rank);
    int li = tp_header_find_int(h, o->label);
    /* The images go to a staging folder first, moved into place once the whole stream has
     * been read: a refused stream leaves DIR as it was (or absent). */
    struct stat st;
    int existed = stat(o->dir, &st) == 0;
    if (existed && !S_ISDIR(st.st_mode))
        tp_die("%s: not a folder", o->dir);
    size_t plen = strlen(o->dir) + 600;
    char *stage = tp_alloc(plen, 1), *path = tp_alloc(plen, 1);
    /* A new DIR is the staging folder renamed; into an existing one the files are moved. */
    if (existed)
        snprintf(stage, plen, "%s/.raw2img.tmp.%ld", o->dir, (long)getpid());
    else
        snprintf(stage, plen, "%s.tmp.%ld", o->dir, (long)getpid());
    make_dir(stage);
    tp_register_tmp_tree(stage);
    tp_progress pr;
    tp_progress_start(&pr, "raw2img", h->count, "images");
    const unsigned char *rec;
    int64_t i = 0;
    while ((rec = tp_next_or_die(r))) {
        image_path(o, stage, h, li >= 0 ? tp_label_of(&h->fields[li], rec) : -1, i, path, plen);
        tp_image_write(path, rec + f->offset, (int)f->shape[0], (int)f->shape[1], c, o->jpeg ? (int)o->quality : 0);
        tp_progress_update(&pr, ++i);
    }
    tp_progress_end(&pr, i);
    if (existed || rename(stage, o->dir)) {
        make_dir(o->dir);
        commit(stage, o->dir, 1);
    }
    tp_forget_tmp_tree();
    free(stage);
    free(path);
    tp_reader_close(r);
    return 0;
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    options o;
    parse(argc, argv, &o);
    return run(&o);
}
