/* fuzz_h5.c — libFuzzer target for the Keras .h5 weight reader (lib/h5weights.c), which
 * reads through libhdf5. Built only where libhdf5 is (run.sh passes -DTP_HDF5 and its
 * flags). libhdf5 itself is not robust against hostile files (it loops, reads out of
 * bounds, asks for terabytes), so the reader runs it in a child process under limits:
 * this target checks the parent's side, that whatever the child does ends in a set or a
 * message, never a crash or a hang of the caller. Each input costs a fork.
 *
 * Each input becomes a file in /dev/shm (or /tmp) that tp_wset_read_h5 opens, removed
 * afterwards (not a memfd: libhdf5 resolves a path to its real name, which a memfd lacks).
 * Invariants (abort() otherwise): a failed read leaves a message; one that succeeds gives
 * what fuzz_wset.h checks. The set is freed each time.
 *
 * Built and run by tests/fuzz/run.sh h5 (make fuzz).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_wset.h"
#include "h5weights.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1); /* a scratch file needs no lock */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[1024] = "";
    snprintf(path, sizeof path, "%s/fuzz_h5.XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("fuzz_h5: mkstemp");
        abort();
    }
    for (size_t off = 0; off < size;) {
        ssize_t k = write(fd, data + off, size - off);
        if (k <= 0) {
            perror("fuzz_h5: write");
            abort();
        }
        off += (size_t)k;
    }
    tp_wset s;
    memset(&s, 0, sizeof s);
    if (tp_wset_read_h5(&s, path, err, sizeof err) == 0)
        fuzz_wset_check(&s);
    else if (!err[0])
        abort();
    tp_wset_free(&s);
    close(fd);
    unlink(path);
    return 0;
}
