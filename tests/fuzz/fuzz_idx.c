/* fuzz_idx.c — libFuzzer target for the IDX reader (plain and gzip).
 *
 * Each input becomes a memfd file (a regular file, so the plain-size checks run too) that
 * tp_idx_open_fd opens. When it opens and items are at most 1 MiB, the target skips a few
 * items (how many: the input's last byte), reads the rest in chunks of about 4 KiB into a
 * fixed buffer, then calls tp_idx_check_end. Inputs starting with the gzip magic (1f 8b)
 * take zlib's path.
 *
 * Built and run by tests/fuzz/run.sh (make fuzz).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_file.h"
#include "idx.h"

#define MAX_ITEM (1u << 20)
#define CHUNK (4u << 10)

static unsigned char buf[MAX_ITEM];
static volatile unsigned char sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_file("fuzz_idx", data, size, path, sizeof path);
    if (lseek(fd, 0, SEEK_SET) != 0) {
        perror("fuzz_idx: lseek");
        abort();
    }

    tp_idx x;
    if (tp_idx_open_fd(&x, fd) != 0) {
        /* The reader took the descriptor over: a failed open must release it and zlib's
         * state by itself (LeakSanitizer reports it otherwise) and say why it failed. */
        if (x.err[0] == 0 || fcntl(fd, F_GETFD) != -1)
            abort();
        return 0;
    }
    if (x.count < 0 || x.rank < 0 || x.rank > TP_MAX_RANK || x.item_bytes == 0)
        abort();
    if (x.item_bytes <= MAX_ITEM) {
        int64_t per = x.item_bytes >= CHUNK ? 1 : (int64_t)(CHUNK / x.item_bytes);
        int64_t skip = size ? data[size - 1] % 4 : 0;
        int ok = 1;
        if (skip > x.count)
            skip = x.count;
        if (skip && tp_idx_skip(&x, skip) != 0)
            ok = 0;
        while (ok && x.next < x.count) {
            int64_t k = x.count - x.next < per ? x.count - x.next : per;
            if (tp_idx_read(&x, buf, k) != 0) {
                ok = 0;
                break;
            }
            unsigned char s = 0;
            for (size_t i = 0; i < (size_t)k * x.item_bytes; i++)
                s ^= buf[i];
            sink ^= s;
        }
        if (ok)
            (void)tp_idx_check_end(&x);
        /* Reading past the end is refused, not attempted. */
        if (ok && tp_idx_read(&x, buf, 1) == 0)
            abort();
    }
    tp_idx_close(&x);
    if (fcntl(fd, F_GETFD) != -1) /* closing the reader closes the descriptor */
        abort();
    return 0;
}
