/* fuzz_tfjs.c — libFuzzer target for the TensorFlow.js weight reader (lib/weights.c):
 * model.json's manifest and the shard files it names.
 *
 * Each input is split at the first "\n--shard--\n": what comes before is written as
 * model.json, what comes after (if the separator is there) as group1-shard1of1.bin, in a
 * fresh directory under $TMPDIR (default /tmp) that tp_wset_read_tfjs is given and that is
 * removed afterwards. Invariants (abort() otherwise): a failed read leaves a message; one
 * that succeeds gives what fuzz_wset.h checks. The set is freed each time.
 *
 * Built and run by tests/fuzz/run.sh tfjs (make fuzz).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_wset.h"
#include "weights.h"

#define SEP "\n--shard--\n"
#define SHARD "group1-shard1of1.bin"

static void put(const char *dir, const char *name, const uint8_t *data, size_t size)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(path);
        abort();
    }
    size_t off = 0;
    while (off < size) {
        ssize_t k = write(fd, data + off, size - off);
        if (k <= 0) {
            perror(path);
            abort();
        }
        off += (size_t)k;
    }
    close(fd);
}

static void drop(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    char dir[4096], err[1024] = "";
    snprintf(dir, sizeof dir, "%s/fuzz_tfjs.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    const uint8_t *sep = memmem(data, size, SEP, strlen(SEP));
    size_t jlen = sep ? (size_t)(sep - data) : size;
    put(dir, "model.json", data, jlen);
    if (sep)
        put(dir, SHARD, sep + strlen(SEP), size - jlen - strlen(SEP));
    tp_wset s;
    memset(&s, 0, sizeof s);
    if (tp_wset_read_tfjs(&s, dir, err, sizeof err) == 0)
        fuzz_wset_check(&s);
    else if (!err[0])
        abort();
    tp_wset_free(&s);
    drop(dir, "model.json");
    drop(dir, SHARD);
    if (rmdir(dir) != 0) {
        perror(dir);
        abort();
    }
    return 0;
}
