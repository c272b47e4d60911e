/* fuzz_image.c — libFuzzer target for the JPEG and PNG loader (lib/imgio.c, libjpeg-turbo
 * and libpng underneath).
 *
 * Each input becomes a memfd file that tp_image_load opens by its /proc/self/fd path, with
 * the pixel limit set to 2^20 (so no input decodes to more than 3 MiB) and want_c 0, 1 or 3
 * chosen by the input's last byte. Invariants (abort() otherwise): a load that succeeds
 * gives h, w > 0, h * w within the limit, c as asked (1 or 3 when the file decides), and
 * h * w * c readable bytes (xor-summed, so ASan sees every one); a load that fails says why.
 *
 * Built and run by tests/fuzz/run.sh image (make fuzz).
 */
#include "fuzz_file.h"

#include <string.h>

#include "imgio.h"

#define LIMIT ((uint64_t)1 << 20)

static volatile unsigned char sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int wants[3] = {0, 1, 3};
    char path[64], err[512] = "";
    int fd = fuzz_file("fuzz_image", data, size, path, sizeof path);
    int want = size ? wants[data[size - 1] % 3] : 0;
    tp_image_set_max_pixels(LIMIT);
    uint8_t *pix = NULL;
    int h = 0, w = 0, c = 0;
    int rc = tp_image_load(path, want, &pix, &h, &w, &c, err, sizeof err);
    if (rc == 0) {
        if (h <= 0 || w <= 0 || (uint64_t)h * (uint64_t)w > LIMIT || !pix)
            abort();
        if (want ? c != want : c != 1 && c != 3)
            abort();
        unsigned char s = 0;
        for (size_t i = 0; i < (size_t)h * (size_t)w * (size_t)c; i++)
            s ^= pix[i];
        sink ^= s;
        free(pix);
    } else if (rc != -1 || !err[0]) {
        abort();
    }
    close(fd);
    return 0;
}
