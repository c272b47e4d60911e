/* device.c — see device.h. */
#include "device.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm.h"
#include "plugin.h"
#include "util.h"

#define SO_NAME "libtpipe-cuda.so"

const tp_gpu_api *tp_gpu_load(char *why, size_t len)
{
    void *h = tp_plugin_open(SO_NAME, "TPIPE_CUDA_LIB", RTLD_NOW | RTLD_LOCAL, why, len);
    if (!h) {
        if (!why[0])
            snprintf(why, len, "no CUDA backend: " SO_NAME " is not beside the program (nvcc was missing when it was built, or it was not installed)");
        return NULL;
    }
    tp_gpu_api_get_fn get;
    *(void **)&get = dlsym(h, TP_GPU_SYMBOL);
    const tp_gpu_api *api = get ? get(TP_GPU_ABI) : NULL;
    if (!api) {
        snprintf(why, len, SO_NAME ": not a tpipe CUDA backend of this version (ABI %d)", TP_GPU_ABI);
        dlclose(h);
    }
    return api;
}

static void die_cuda(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tp_die("%s", msg);
}

void tp_device_open(tp_device *d, const char *spec, int prec, int verbose)
{
    memset(d, 0, sizeof *d);
    TP_ASSERT(prec >= TP_PREC_FP32 && prec <= TP_PREC_BF16);
    d->prec = (tp_precision)prec;
    int want = 0, index = 0; /* want: 0 auto, 1 cpu, 2 cuda */
    const char *from = "--device";
    if (!spec && getenv("TPIPE_DEVICE") && *getenv("TPIPE_DEVICE")) { /* the default, which --device overrides */
        spec = getenv("TPIPE_DEVICE");
        from = "TPIPE_DEVICE";
    }
    if (!spec || !strcmp(spec, "auto"))
        want = 0;
    else if (!strcmp(spec, "cpu"))
        want = 1;
    else if (!strncmp(spec, "cuda", 4) && (!spec[4] || spec[4] == ':')) {
        want = 2;
        if (spec[4]) {
            char *end;
            long v = strtol(spec + 5, &end, 10);
            if (end == spec + 5 || *end || v < 0 || v > 255)
                tp_usage("%s cuda:N needs a device number, not '%s'", from, spec);
            index = (int)v;
        }
    } else
        tp_usage("%s must be auto, cpu, cuda or cuda:N, not '%s'", from, spec);
    snprintf(d->name, sizeof d->name, "cpu");
    if (want == 1)
        return;
    char why[512];
    const tp_gpu_api *api = tp_gpu_load(why, sizeof why);
    tp_gpu *g = NULL;
    /* ranks of an MPI job on one host take a GPU each, by their local number, unless one is
     * named (or the launcher left each rank one device: then device 0) */
    int local = want != 2 || !strchr(spec, ':') ? tp_comm_local_rank() : 0;
    if (api && local > 0 && (g = api->open(index + local, d->prec, die_cuda, why, sizeof why)))
        index += local;
    if (api && !g && !(g = api->open(index, d->prec, die_cuda, why, sizeof why)))
        api = NULL;
    if (!api) {
        if (want == 2)
            tp_die("%s %s: %s", from, spec, why);
        if (verbose)
            tp_warn("running on the CPU: %s", why);
        return;
    }
    d->api = api;
    d->gpu = g;
    api->describe(g, d->name, sizeof d->name);
    if (verbose)
        tp_warn("running on %s", d->name);
}

void tp_device_close(tp_device *d)
{
    if (d->api)
        d->api->close(d->gpu);
    memset(d, 0, sizeof *d);
}

int tp_device_is_gpu(const tp_device *d) { return d->api != NULL; }
