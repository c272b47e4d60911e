/* plugin.c — see plugin.h. */
#include "plugin.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *open_one(const char *path, int flags, char *why, size_t len)
{
    void *h = dlopen(path, flags);
    if (!h)
        snprintf(why, len, "%s", dlerror());
    return h;
}

void *tp_plugin_open(const char *so_name, const char *env, int flags, char *why, size_t len)
{
    const char *path = env ? getenv(env) : NULL;
    if (path && *path)
        return open_one(path, flags, why, len);
    if (len)
        why[0] = 0;
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0)
        return NULL;
    exe[k] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = 0;
    /* beside it (installed), or the source tree's build/ from bin/ or build-san/bin/ */
    static const char *const rel[] = {"", "/..", "/../build", "/../../build"};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s%s/%s", exe, rel[i], so_name);
        if (access(p, F_OK) == 0)
            return open_one(p, flags, why, len);
    }
    return NULL;
}
