/* graft — joins a base model and a head trained on its cached features into one model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"
#include "net.h"
#include "preprocess.h"
#include "stream.h"
#include "transfer.h"
#include "util.h"

typedef struct {
    const char *out, *layer, *base, *head;
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.out = "-", .layer = "base"};
    const tp_option opts[] = {
        TP_STRING("layer", 'k', &o->layer, "LAYER", "keep the base's layers up to LAYER: a number, or 'base' (before its first flatten, gap or dense)"),
        TP_STRING("output", 'o', &o->out, "FILE", "write the model to FILE"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] BASE HEAD",
        "Writes one model made of the first layers of model BASE and all of model HEAD, where\n"
        "HEAD was trained on what those layers put out (predict --features LAYER BASE). The\n"
        "result takes BASE's inputs with BASE's preprocessing and gives HEAD's classes, so\n"
        "predict runs it on images, and train --init fine-tunes it (--freeze N keeps the\n"
        "first N layers fixed). Use the same LAYER as predict --features did.",
        opts,
        "Example (the VGG16 notebook with a frozen base computed once):\n"
        "  predict --features base vgg16.tp < train.tp > feat.tp\n"
        "  train --net pipelines/nets/vgg16-head.net feat.tp > head.tp\n"
        "  graft vgg16.tp head.tp > model.tp\n"
        "  predict model.tp < val.tp | confmat",
        2, 2,
    };
    char **args;
    tp_cli_parse(&cli, argc, argv, &args);
    o->base = args[0];
    o->head = args[1];
    free(args);
}

/* The joined model's metadata, in bh: the base's, with the base's input preparation and the
 * head's classes. */
static void joined_meta(const options *o, tp_header *bh, const tp_header *hh)
{
    char err[768];
    tp_prep prep; /* the head saw features: the joined model prepares inputs as the base did */
    if (tp_prep_from_meta(bh, &prep, err, sizeof err))
        tp_die("%s: %s", o->base, err);
    tp_prep_to_meta(&prep, bh);
    const char *classes = tp_header_get_meta(hh, "classes");
    if (classes)
        tp_header_set_meta(bh, "classes", classes);
    else
        tp_header_del_meta(bh, "classes");
}

static int run(const options *o)
{
    tp_net base, head, joined;
    tp_header bh, hh;
    tp_model_read_net(o->base, &base, &bh);
    tp_model_read_net(o->head, &head, &hh);
    char err[768];
    int k;
    if (tp_net_layer_arg(&base, o->layer, &k, err, sizeof err))
        tp_usage("--layer: %s", err);
    memset(&joined, 0, sizeof joined);
    if (tp_net_graft(&base, k, &head, &joined, err, sizeof err))
        tp_die("%s, %s: %s", o->base, o->head, err);
    joined_meta(o, &bh, &hh);
    tp_model_write_net(o->out, &joined, &bh);
    tp_header_free(&bh);
    tp_header_free(&hh);
    tp_net_free(&joined);
    tp_net_free(&head);
    tp_net_free(&base);
    return 0;
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    options o;
    parse(argc, argv, &o);
    return run(&o);
}
