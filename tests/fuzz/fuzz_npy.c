/* fuzz_npy.c — libFuzzer target for the .npy header parser (lib/npy.c), which npy2tp reads
 * a NumPy file's header with.
 *
 * Each input is parsed whole (plain arrays become a field "x"), then its first half, as
 * npy2tp does while it reads more. Invariants (abort() otherwise): 0, 1 or -1 comes back;
 * -1 leaves a message; 0 gives a header that starts past the preamble and within the
 * input, at least one field, records of at least one byte, a byte-swap flag per field and
 * a count of rows >= 0; a prefix of a header that parses asks for more (1) when it ends
 * before the data, else parses to the same result; a prefix of one that needs more needs
 * more, and one of a header that fails never parses. Everything is freed with tp_npy_info_free, so LeakSanitizer sees what is left.
 *
 * Built and run by tests/fuzz/run.sh npy (make fuzz).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"

static volatile unsigned sink;

static int parse(const uint8_t *data, size_t len, tp_npy_info *info)
{
    char err[300] = "";
    memset(info, 0, sizeof *info);
    tp_header_init(&info->h);
    int rc = tp_npy_parse((const char *)data, len, "x", info, err, sizeof err);
    if (rc < -1 || rc > 1 || (rc == -1 && !err[0]))
        abort();
    if (rc == 0) {
        const tp_header *h = &info->h;
        if (info->data_offset < 10 || info->data_offset > len || h->nfields < 1 || h->record_size == 0 ||
            !info->swap || info->count < 0)
            abort();
        for (int f = 0; f < h->nfields; f++)
            sink += info->swap[f] + (unsigned)strlen(h->fields[f].name);
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tp_npy_info whole, half;
    int rc = parse(data, size, &whole);
    int rh = parse(data, size / 2, &half);
    if (rc == 0) {
        if (size / 2 < whole.data_offset ? rh != 1
                                          : rh != 0 || half.data_offset != whole.data_offset ||
                                                half.count != whole.count ||
                                                half.h.record_size != whole.h.record_size)
            abort();
    } else if (rc == 1 ? rh != 1 : rh == 0) {
        abort();
    }
    tp_npy_info_free(&whole);
    tp_npy_info_free(&half);
    return 0;
}
