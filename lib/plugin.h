/* plugin.h — finding and opening a backend library that programs load at run time
 * (libtpipe-cuda.so, libtpipe-mpi.so), so that no program links what the library needs. */
#ifndef TP_PLUGIN_H
#define TP_PLUGIN_H

#include <stddef.h>

/* dlopen of so_name (with dlopen's flags): the path in $env when that is set and not empty,
 * else beside the program, else in ../ and ../build/ of it (bin/ or build-san/bin/ of the
 * source tree). The handle, or NULL with dlerror's reason in why, or with why
 * empty when there is no such file. The handle stays open for the process's life. */
void *tp_plugin_open(const char *so_name, const char *env, int flags, char *why, size_t len);

#endif
