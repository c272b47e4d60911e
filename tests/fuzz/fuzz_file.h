/* fuzz_file.h — for targets whose reader takes a path: the input as a memfd file, named
 * "/proc/self/fd/N" (a regular file, so size checks and seeks behave as on disk). */
#ifndef FUZZ_FILE_H
#define FUZZ_FILE_H

#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Writes data to a fresh memfd, its path into path; returns the descriptor (close it). */
static int fuzz_file(const char *tag, const uint8_t *data, size_t size, char *path, size_t pathlen)
{
    int fd = memfd_create(tag, MFD_CLOEXEC);
    if (fd < 0) {
        perror("memfd_create");
        abort(); /* most likely descriptors leaked by earlier inputs */
    }
    size_t off = 0;
    while (off < size) {
        ssize_t k = write(fd, data + off, size - off);
        if (k <= 0) {
            perror("write");
            abort();
        }
        off += (size_t)k;
    }
    snprintf(path, pathlen, "/proc/self/fd/%d", fd);
    return fd;
}

#endif
