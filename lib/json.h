/* json.h — a small JSON reader (RFC 8259) into a tree: enough for configuration files
 * such as TensorFlow.js' model.json. Numbers are doubles; strings are UTF-8 with their
 * escapes resolved (\u escapes, surrogate pairs included); nesting is limited to 256 levels. */
#ifndef TP_JSON_H
#define TP_JSON_H

#include <stddef.h>

typedef enum { TP_JSON_NULL, TP_JSON_BOOL, TP_JSON_NUM, TP_JSON_STR, TP_JSON_ARR, TP_JSON_OBJ } tp_json_type;

typedef struct tp_json {
    tp_json_type type;
    double num;           /* a number; 0 or 1 for a boolean */
    char *str;            /* a string's value (NUL-terminated; may hold NULs from \u0000) */
    char *key;            /* a member of an object: its name; else NULL */
    int n;                /* elements of an array, members of an object */
    struct tp_json *kids; /* them, in document order */
} tp_json;

/* Parses text[0..len) as one JSON value (surrounding white space allowed). Returns the
 * tree, or NULL with "line L: what is wrong" in err. */
tp_json *tp_json_parse(const char *text, size_t len, char *err, size_t errlen);
/* Frees a tree from tp_json_parse (NULL is allowed). */
void tp_json_free(tp_json *j);
/* The member key of object j (the first of that name), or NULL when j is not an object or
 * has no such member. */
const tp_json *tp_json_get(const tp_json *j, const char *key);

#endif
