/* json.c — see json.h. A recursive-descent parser over the whole text. */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_DEPTH 256

typedef struct {
    const char *p, *end, *start;
    char *err;
    size_t errlen;
    int failed;
} parser;

static int line_of(const parser *ps)
{
    int line = 1;
    for (const char *q = ps->start; q < ps->p && q < ps->end; q++)
        line += *q == '\n';
    return line;
}

static int fail(parser *ps, const char *fmt, ...) TP_PRINTF(2, 3);
static int fail(parser *ps, const char *fmt, ...)
{
    if (ps->failed)
        return -1;
    ps->failed = 1;
    int k = snprintf(ps->err, ps->errlen, "line %d: ", line_of(ps));
    va_list ap;
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < ps->errlen)
        vsnprintf(ps->err + k, ps->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int hex4(parser *ps, unsigned *out)
{
    if (ps->end - ps->p < 4)
        return fail(ps, "a \\u escape needs four hex digits");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = ps->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return fail(ps, "bad hex digit '%c' in a \\u escape", c);
    }
    ps->p += 4;
    *out = v;
    return 0;
}

/* Appends code point cp as UTF-8 to buf at *n (buf has room for 4 more bytes). */
static void put_utf8(char *buf, size_t *n, unsigned cp)
{
    if (cp < 0x80) {
        buf[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        buf[(*n)++] = (char)(0xC0 | (cp >> 6));
        buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        buf[(*n)++] = (char)(0xE0 | (cp >> 12));
        buf[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        buf[(*n)++] = (char)(0xF0 | (cp >> 18));
        buf[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        buf[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
    }
}

/* A string at ps->p (on its opening quote) into a malloc'd buffer. */
static char *parse_string(parser *ps)
{
    ps->p++;
    const char *q = ps->p;
    while (q < ps->end && *q != '"') /* the decoded string is never longer than the text */
        q += *q == '\\' && q + 1 < ps->end ? 2 : 1;
    char *out = tp_alloc((size_t)(q - ps->p) + 5, 1);
    size_t n = 0;
    for (;;) {
        if (ps->p >= ps->end) {
            fail(ps, "unterminated string");
            break;
        }
        unsigned char c = (unsigned char)*ps->p++;
        if (c == '"')
            break;
        if (c < 0x20) {
            fail(ps, "control character 0x%02x inside a string", c);
            break;
        }
        if (c != '\\') {
            out[n++] = (char)c;
            continue;
        }
        if (ps->p >= ps->end) {
            fail(ps, "unterminated string");
            break;
        }
        char e = *ps->p++;
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t", *at = strchr(from, e);
        if (e && at) {
            out[n++] = to[at - from];
            continue;
        }
        unsigned cp;
        if (e != 'u' || hex4(ps, &cp)) {
            fail(ps, "bad escape '\\%c' in a string", e);
            break;
        }
        if (cp >= 0xD800 && cp < 0xDC00) { /* a surrogate pair */
            unsigned lo;
            if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                fail(ps, "a high surrogate without its low half");
                break;
            }
            ps->p += 2;
            if (hex4(ps, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                fail(ps, "a high surrogate without its low half");
                break;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail(ps, "a lone low surrogate");
            break;
        }
        put_utf8(out, &n, cp);
    }
    out[n] = 0;
    return out;
}

static int parse_value(parser *ps, tp_json *v, int depth);

static int parse_number(parser *ps, tp_json *v)
{
    const char *s = ps->p;
    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
        return fail(ps, "bad number");
    if (*ps->p == '0')
        ps->p++;
    else
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return fail(ps, "bad number: digits must follow '.'");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return fail(ps, "bad number: digits must follow the exponent");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    char buf[64];
    size_t n = (size_t)(ps->p - s);
    if (n >= sizeof buf)
        n = sizeof buf - 1; /* a longer number loses only digits beyond double precision */
    memcpy(buf, s, n);
    buf[n] = 0;
    v->type = TP_JSON_NUM;
    v->num = strtod(buf, NULL);
    return 0;
}

/* Elements of an array or members of an object, after the opening bracket. */
static int parse_items(parser *ps, tp_json *v, int depth, char close)
{
    int cap = 0;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 0;
    }
    for (;;) {
        tp_json item;
        memset(&item, 0, sizeof item);
        skip_ws(ps);
        if (close == '}') {
            if (ps->p >= ps->end || *ps->p != '"')
                return fail(ps, "expected a member name in quotes");
            item.key = parse_string(ps);
            skip_ws(ps);
            if (ps->failed || ps->p >= ps->end || *ps->p != ':') {
                free(item.key);
                return fail(ps, "expected ':' after a member name");
            }
            ps->p++;
        }
        int rc = parse_value(ps, &item, depth + 1);
        if (v->n == cap)
            v->kids = tp_realloc(v->kids, (size_t)(cap = cap ? 2 * cap : 4), sizeof *v->kids);
        v->kids[v->n++] = item; /* kept even on failure, so tp_json_free releases it */
        if (rc)
            return -1;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return 0;
        }
        return fail(ps, "expected ',' or '%c'", close);
    }
}

static int parse_value(parser *ps, tp_json *v, int depth)
{
    if (depth > MAX_DEPTH)
        return fail(ps, "nested more than %d levels deep", MAX_DEPTH);
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end of text");
    static const struct { const char *word; tp_json_type t; double num; } words[] = {
        {"null", TP_JSON_NULL, 0}, {"true", TP_JSON_BOOL, 1}, {"false", TP_JSON_BOOL, 0}};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        size_t n = strlen(words[i].word);
        if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, words[i].word, n) == 0) {
            ps->p += n;
            v->type = words[i].t;
            v->num = words[i].num;
            return 0;
        }
    }
    switch (*ps->p) {
    case '"':
        v->type = TP_JSON_STR;
        v->str = parse_string(ps);
        return ps->failed ? -1 : 0;
    case '[':
        ps->p++;
        v->type = TP_JSON_ARR;
        return parse_items(ps, v, depth, ']');
    case '{':
        ps->p++;
        v->type = TP_JSON_OBJ;
        return parse_items(ps, v, depth, '}');
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return parse_number(ps, v);
        return fail(ps, "unexpected character '%c'", *ps->p);
    }
}

static void free_kids(tp_json *j)
{
    for (int i = 0; i < j->n; i++) {
        free_kids(&j->kids[i]);
        free(j->kids[i].key);
        free(j->kids[i].str);
    }
    free(j->kids);
}

void tp_json_free(tp_json *j)
{
    if (!j)
        return;
    free_kids(j);
    free(j->str);
    free(j);
}

tp_json *tp_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    parser ps = {text, text + len, text, err, errlen, 0};
    tp_json *j = tp_calloc(1, sizeof *j);
    if (parse_value(&ps, j, 0) == 0) {
        skip_ws(&ps);
        if (ps.p < ps.end)
            fail(&ps, "unexpected text after the value");
    }
    if (ps.failed) {
        tp_json_free(j);
        return NULL;
    }
    return j;
}

const tp_json *tp_json_get(const tp_json *j, const char *key)
{
    if (!j || j->type != TP_JSON_OBJ)
        return NULL;
    for (int i = 0; i < j->n; i++)
        if (strcmp(j->kids[i].key, key) == 0)
            return &j->kids[i];
    return NULL;
}
