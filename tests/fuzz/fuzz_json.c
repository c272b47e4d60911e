/* fuzz_json.c — libFuzzer target for the JSON reader (lib/json.c), which reads the
 * model.json of TensorFlow.js weights given to wimport.
 *
 * Each input is parsed; a tree that comes back is walked (every string read to its end,
 * every object's members looked up by name) and freed, so ASan sees any bad pointer or
 * leak. A failed parse must leave a message.
 *
 * Built and run by tests/fuzz/run.sh json (make fuzz).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static volatile size_t sink;

static void walk(const tp_json *j)
{
    if (j->type == TP_JSON_STR)
        sink += strlen(j->str);
    for (int i = 0; i < j->n; i++) {
        if (j->type == TP_JSON_OBJ) {
            sink += strlen(j->kids[i].key);
            if (!tp_json_get(j, j->kids[i].key))
                abort();
        }
        walk(&j->kids[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256] = "";
    tp_json *j = tp_json_parse((const char *)data, size, err, sizeof err);
    if (j) {
        walk(j);
        tp_json_free(j);
    } else if (!err[0]) {
        abort();
    }
    return 0;
}
