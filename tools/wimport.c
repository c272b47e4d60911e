/* wimport — a model stream from weights trained elsewhere: a Keras .h5 file or a
 * TensorFlow.js layers model, mapped onto a tpipe network file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"
#include "net.h"
#include "nn.h"
#include "preprocess.h"
#include "stream.h"
#include "util.h"
#include "weights.h"

typedef struct {
    const char *netfile, *shape, *out, *classes, *weights;
    int prep, base_only, list, quiet;
    int64_t seed;
    double rescale;
    int h, w, c; /* --input */
} options;

/* "224x224x3" (or "HxW" for one channel) into h, w, c; 0 or -1. */
static int parse_shape(const char *s, int *h, int *w, int *c)
{
    char buf[64];
    int64_t a, b, cc = 1;
    if (strlen(s) >= sizeof buf)
        return -1;
    strcpy(buf, s);
    char *x2 = strrchr(buf, 'x');
    if (x2 && strchr(buf, 'x') != x2) { /* two x: the last part is the channels */
        *x2 = 0;
        if (tp_parse_i64(x2 + 1, &cc) || cc < 1 || cc > 65536)
            return -1;
    }
    if (tp_parse_hw(buf, &a, &b) || a < 1 || b < 1 || a > 65536 || b > 65536)
        return -1;
    *h = (int)a, *w = (int)b, *c = (int)cc;
    return 0;
}

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.shape = "224x224x3", .out = "-", .prep = TP_PREP_CAFFE, .seed = 42, .rescale = 1.0 / 255};
    const tp_option opts[] = {
        TP_STRING("net", 'n', &o->netfile, "FILE", "the network file the weights belong to"),
        TP_STRING("input", 'i', &o->shape, "HxWxC", "the input shape the model takes"),
        TP_STRING("output", 'o', &o->out, "FILE", "write the model to FILE"),
        TP_FLAG("base-only", 0, &o->base_only, "take only the file's conv and batchnorm layers; every dense layer is initialised"),
        TP_CHOICE("preprocess", 0, &o->prep, "MODE", "input preparation stored in the model: caffe (the published VGG16 weights), tf, torch or rescale",
                  "rescale", "caffe", "tf", "torch"),
        TP_DOUBLE("rescale", 0, &o->rescale, "X", "the scale of --preprocess rescale", TP_ABOVE(0)),
        TP_STRING("classes", 0, &o->classes, "FILE", "class names, one a line, for the model's metadata"),
        TP_INT("seed", 's', &o->seed, "N", "seed for the layers the file does not hold (Keras' initialisers)"),
        TP_FLAG("list", 'l', &o->list, "only list the file's layers and tensors on stdout"),
        TP_FLAG("quiet", 'q', &o->quiet, "do not report the mapping on stderr"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] --net FILE WEIGHTS",
        "Reads weights trained by Keras or TensorFlow.js and writes a tpipe model of the network\n"
        "in --net with them, ready for predict, train --init (fine-tuning, --freeze) and\n"
        "predict --features. WEIGHTS is a Keras .h5 file (model.save_weights or model.save;\n"
        "needs a build with libhdf5) or a TensorFlow.js layers model (model.json, or its folder,\n"
        "with the shard files beside it). The file's layers that hold weights are matched in\n"
        "order with the network's conv, dense and batchnorm layers; kernels are H x W x in x out\n"
        "and in x out in both, as in tpipe. Dense layers past the end of the file (a new head)\n"
        "are initialised from --seed. A layer missing from the file, or a tensor of another\n"
        "shape, is an error that names it. The mapping is reported on stderr.",
        opts,
        "Example (Keras' VGG16 without its top, as the VGG16 notebook uses it):\n"
        "  wimport --net pipelines/nets/vgg16.net --input 224x224x3 --preprocess caffe \\\n"
        "      vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 > vgg16.tp\n"
        "The file is at https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        1, 1,
    };
    char **args;
    tp_cli_parse(&cli, argc, argv, &args);
    o->weights = args[0];
    free(args);
    if (o->list)
        return; /* nothing but the file is needed */
    if (!o->netfile)
        tp_usage("give the network file with --net");
    if (parse_shape(o->shape, &o->h, &o->w, &o->c))
        tp_usage("--input wants HxWxC, e.g. 224x224x3, not '%s'", o->shape);
    char err[256];
    tp_prep prep = tp_prep_make((tp_prep_mode)o->prep, o->rescale);
    if (tp_prep_check(&prep, o->c, err, sizeof err))
        tp_usage("%s", err);
}

/* The file's layers and tensors on stdout, one tensor a line. */
static void list_layers(const tp_wset *ws)
{
    for (int i = 0; i < ws->n; i++)
        for (int k = 0; k < ws->l[i].nt; k++) {
            const tp_wtensor *t = &ws->l[i].t[k];
            printf("%s %s", ws->l[i].name, t->name);
            for (int d = 0; d < t->rank; d++)
                printf("%c%lld", d ? 'x' : ' ', (long long)t->shape[d]);
            printf("\n");
        }
    if (fflush(stdout))
        tp_die("stdout: write error");
}

/* The class names of file path, one a line, into meta's classes; the network has nclasses. */
static void read_classes(const char *path, int nclasses, tp_header *meta)
{
    FILE *f = fopen(path, "r");
    if (!f)
        tp_die("%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0, total = 0;
    ssize_t n;
    int k = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        if ((total += (size_t)n) > tp_max_text_bytes()) {
            char err[512];
            tp_text_too_large(err, sizeof err, path);
            tp_die("%s", err);
        }
        if (memchr(line, 0, (size_t)n))
            tp_die("%s: line %d holds a NUL byte", path, k + 1);
        line[strcspn(line, "\r\n")] = 0;
        if (tp_header_append_meta(meta, "classes", line, strlen(line)))
            tp_die("%s: too many metadata keys", path);
        k++;
    }
    free(line);
    fclose(f);
    if (k != nclasses)
        tp_die("%s: %d class names, the network has %d classes", path, k, nclasses);
}

/* The network of --net, its weights from ws (the others initialised from --seed), written
 * as a model with its preparation, source and classes. */
static void import(const options *o, const tp_wset *ws)
{
    char err[1024];
    tp_net net;
    memset(&net, 0, sizeof net);
    if (tp_net_load_file(&net, o->netfile, err, sizeof err) ||
        tp_net_build(&net, o->h, o->w, o->c, o->netfile, err, sizeof err))
        tp_die("%s", err);
    tp_net_init(&net, (uint64_t)o->seed);
    if (tp_wset_apply(ws, &net, o->base_only, o->quiet ? NULL : stderr, err, sizeof err) < 0)
        tp_die("%s: %s", o->weights, err);
    tp_header meta;
    tp_header_init(&meta);
    tp_prep prep = tp_prep_make((tp_prep_mode)o->prep, o->rescale);
    tp_prep_to_meta(&prep, &meta);
    tp_header_set_meta(&meta, "source", tp_basename(o->weights));
    if (o->classes)
        read_classes(o->classes, net.classes, &meta);
    tp_model_write_net(o->out, &net, &meta);
    tp_header_free(&meta);
    tp_net_free(&net);
}

static int run(const options *o)
{
    char err[1024];
    tp_wset ws;
    memset(&ws, 0, sizeof ws);
    if (tp_wset_read(&ws, o->weights, err, sizeof err))
        tp_die("%s", err);
    if (o->list)
        list_layers(&ws);
    else
        import(o, &ws);
    tp_wset_free(&ws);
    return 0;
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    options o;
    parse(argc, argv, &o);
    return run(&o);
}
