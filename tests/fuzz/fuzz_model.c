/* fuzz_model.c — libFuzzer target for model files (lib/model.c over the stream reader):
 * what predict, pca --model and gmm --model open.
 *
 * Each input becomes a memfd file that tp_model_open opens as each kind in turn (model, pca
 * and gmm: one of them at most matches its metadata). When it opens, every field is asked for as a tensor of its
 * own dtype and shape and taken into a buffer (xor-summed), then tp_model_all_taken and
 * tp_model_close. For a network model the target then does what tp_model_read_net does
 * before it loads parameters (that function dies on errors, so it is not called here):
 * parse the 'net' metadata and build it for the 'input' metadata's shape, unless
 * fuzz_net.h's bound puts it above 50 million parameters. Invariants (abort() otherwise):
 * failures leave a message; a tensor of a field's own dtype and shape is refused only for a
 * value that is not finite; all_taken agrees with what was taken.
 *
 * Built and run by tests/fuzz/run.sh model (make fuzz).
 */
#include "fuzz_file.h"

#include <string.h>

#include "fuzz_net.h"
#include "model.h"

#define MAX_PARAMS 50e6

static volatile unsigned char sink;

static void build_net(const tp_model *m)
{
    const char *text = tp_header_get_meta(&m->h, "net"), *in = tp_header_get_meta(&m->h, "input");
    int ih, iw, ic;
    char tail, err[768] = "";
    if (!text || !in || sscanf(in, "%d %d %d%c", &ih, &iw, &ic, &tail) != 3 || ih < 1 || iw < 1 || ic < 1)
        return;
    tp_net net;
    memset(&net, 0, sizeof net);
    if (tp_net_parse(&net, text, "net", err, sizeof err) != 0) {
        if (!err[0])
            abort();
    } else if (fuzz_net_param_bound(&net, ih, iw, ic) <= MAX_PARAMS) {
        if (tp_net_build(&net, ih, iw, ic, "net", err, sizeof err) == 0)
            net.params[net.nparams] = 1; /* the block is as large as it says */
        else if (!err[0])
            abort();
    }
    tp_net_free(&net);
}

static void open_as(const char *path, const char *kind)
{
    char err[768] = "";
    tp_model m;
    if (tp_model_open(&m, path, kind, err, sizeof err) != 0) {
        if (!err[0] || !m.name)
            abort();
        tp_model_close(&m);
        return;
    }
    int all = 1;
    for (int i = 0; i < m.h.nfields; i++) {
        const tp_field fl = m.h.fields[i];
        int64_t shape[TP_MAX_RANK];
        memcpy(shape, fl.shape, sizeof shape);
        err[0] = 0;
        const tp_field *f = tp_model_tensor(&m, fl.name, fl.dtype, fl.rank, shape, err, sizeof err);
        if (!f) {
            if (!err[0] || !strstr(err, "not finite"))
                abort();
            all = 0;
            continue;
        }
        if (f->nbytes != fl.nbytes || memcmp(shape, fl.shape, (size_t)fl.rank * sizeof *shape))
            abort();
        unsigned char *buf = malloc(f->nbytes + 1);
        if (!buf)
            abort();
        tp_model_take(&m, f, buf);
        unsigned char s = 0;
        for (size_t k = 0; k < f->nbytes; k++)
            s ^= buf[k];
        sink ^= s;
        free(buf);
    }
    err[0] = 0;
    if ((tp_model_all_taken(&m, err, sizeof err) == 0) != all || (!all && !err[0]))
        abort();
    if (strcmp(kind, "model") == 0)
        build_net(&m);
    tp_model_close(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const kinds[3] = {"model", "pca", "gmm"};
    char path[64];
    int fd = fuzz_file("fuzz_model", data, size, path, sizeof path);
    for (int k = 0; k < 3; k++)
        open_as(path, kinds[k]);
    close(fd);
    return 0;
}
