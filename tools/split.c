/* split — divides a stream into two (train/test), stratified by label, or takes a subset. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "outfile.h"
#include "records.h"
#include "rng.h"
#include "split.h"
#include "stream.h"
#include "util.h"

#define COPY_BYTES (4u << 20)

typedef struct {
    const char *train, *test, *rest, *field, *in, *shard;
    const char *second; /* --test or --rest, or NULL */
    double ratio, take; /* take: 0 for all */
    int64_t seed;
    int shuffle, stratify, quiet; /* stratify: 1, 0 (--no-stratify), -1 (by label when there is one) */
    int64_t shard_k, shard_n;     /* --shard K/N (1-based), 0/0 without */
} options;

static void parse(int argc, char **argv, options *o)
{
    *o = (options){.train = "-", .field = "y", .ratio = -1, .seed = 42, .stratify = -1};
    const tp_option opts[] = {
        TP_DOUBLE("ratio", 'r', &o->ratio, "R", "fraction of the records for the first output (default 0.8 with a second output, else 1)",
                  TP_RANGE(0, 1)),
        TP_STRING("train", 0, &o->train, "FILE", "the first output"),
        TP_STRING("test", 0, &o->test, "FILE", "the second output"),
        TP_STRING("rest", 0, &o->rest, "FILE", "the second output (another name for --test)"),
        TP_DOUBLE("take", 0, &o->take, "N|F", "keep only N records (a count >= 1) or a fraction F < 1 of them first", TP_AMOUNT),
        TP_FLAG("shuffle", 0, &o->shuffle, "write each output in random order (default: input order)"),
        TP_INT("seed", 's', &o->seed, "N", "random seed: the same seed picks the same records"),
        TP_SET("stratify", 0, &o->stratify, 1, "keep each class's share in every part (the default when the label field exists)"),
        TP_SET("no-stratify", 0, &o->stratify, 0, "pick records regardless of class"),
        TP_STRING("field", 'f', &o->field, "NAME", "the label field"),
        TP_FLAG("quiet", 'q', &o->quiet, "do not print the per-class counts on stderr"),
        TP_STRING("shard", 0, &o->shard, "K/N",
                  "write only share K of N (1 <= K <= N): records from floor((K-1) n / N) up to floor(K n / N), "
                  "in order, so the N shares concatenated (cat) are the input; alone, to --train"),
        {0},
    };
    const tp_cli cli = {
        "[OPTIONS] [FILE]",
        "Splits a stream into two outputs, the first with a fraction --ratio of the records and\n"
        "the second (--test or --rest) with the others, after an optional --take of a subset.\n"
        "Stratified by label by default: every class keeps its share, within one record. Records\n"
        "keep their input order unless --shuffle. Memory grows with the record count, not the\n"
        "bytes: a file input is read twice, a pipe is spooled to a temporary file.",
        opts,
        "Examples (the VGG16 notebook: 10% of MNIST, then 80/20):\n"
        "  idx2raw train-images-idx3-ubyte train-labels-idx1-ubyte | split --take 0.1 > small.tp\n"
        "  split --ratio 0.8 --train train.tp --test val.tp small.tp",
        0, 1,
    };
    o->in = tp_cli_parse_input(&cli, argc, argv);
    if (o->test && o->rest)
        tp_usage("--test and --rest name the same output; give one");
    o->second = o->test ? o->test : o->rest;
    if (o->shard) {
        char *slash = strchr(o->shard, '/');
        int64_t k, n;
        char kb[32];
        size_t kl = slash ? (size_t)(slash - o->shard) : 0;
        if (!slash || kl == 0 || kl >= sizeof kb)
            tp_usage("option --shard must be K/N, not '%s'", o->shard);
        memcpy(kb, o->shard, kl);
        kb[kl] = 0;
        if (tp_parse_i64(kb, &k) || tp_parse_i64(slash + 1, &n) || n < 1 || n > 1000000 || k < 1 || k > n)
            tp_usage("option --shard must be K/N with 1 <= K <= N <= 1000000, not '%s'", o->shard);
        if (o->second || o->take > 0 || o->ratio >= 0 || o->shuffle || o->stratify == 1)
            tp_usage("--shard takes no --test, --rest, --take, --ratio, --shuffle or --stratify: it writes one share");
        o->shard_k = k;
        o->shard_n = n;
    }
    if (o->ratio < 0)
        o->ratio = o->second ? 0.8 : 1;
    if (o->ratio < 1 && !o->second)
        tp_usage("--ratio %g leaves records for a second output: name it with --test or --rest", o->ratio);
    if (o->second && strcmp(o->second, "-") == 0 && strcmp(o->train, "-") == 0)
        tp_usage("both outputs cannot be stdout");
    if (o->second && tp_same_output(o->train, o->second))
        tp_usage("--train and --%s name the same file: the second would replace the first", o->test ? "test" : "rest");
}

typedef struct {
    const tp_field *f; /* label field, or NULL */
    int64_t *labels;
    int64_t cap;
} index_ctx;

static void collect(void *ctx, int64_t i, const void *rec)
{
    index_ctx *x = ctx;
    if (!x->f)
        return;
    if (i == x->cap)
        x->labels = tp_realloc(x->labels, (size_t)(x->cap = x->cap ? 2 * x->cap : 1024), sizeof *x->labels);
    x->labels[i] = tp_label_of(x->f, rec);
}

/* Writes records idx[0..n) of rs to path. */
static void write_part(tp_records *rs, const char *path, const int64_t *idx, int64_t n)
{
    tp_header h;
    tp_header_copy(&h, tp_records_header(rs));
    h.count = n;
    size_t size = h.record_size;
    int64_t per = size >= COPY_BYTES ? 1 : (int64_t)(COPY_BYTES / size);
    unsigned char *buf = tp_alloc((size_t)per, size);
    tp_writer *w = tp_writer_open(path, &h);
    for (int64_t k = 0; k < n; k += per) {
        int64_t m = n - k < per ? n - k : per;
        tp_records_get(rs, idx + k, m, buf);
        tp_writer_write(w, buf, m);
    }
    tp_writer_close(w);
    free(buf);
    tp_header_free(&h);
}

/* Per-class counts on stderr: total, taken, and in each output. */
static void report(const int64_t *labels, const int8_t *part, int64_t n, const char *name1)
{
    int64_t tot[2] = {0, 0};
    for (int64_t i = 0; i < n; i++)
        if (part[i] >= 0)
            tot[part[i]]++;
    fprintf(stderr, "%s: %8s %8s %8s %8s %8s\n", tp_progname(), "class", "total", "taken", "train", name1);
    if (labels) {
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (int64_t i = 0; i < n; i++) {
            lo = labels[i] < lo ? labels[i] : lo;
            hi = labels[i] > hi ? labels[i] : hi;
        }
        if (n && hi - lo < 100000) { /* a table per class when the labels are a small range */
            int64_t span = hi - lo + 1, *c = tp_calloc((size_t)span * 3, sizeof *c);
            for (int64_t i = 0; i < n; i++) {
                int64_t *row = c + (labels[i] - lo) * 3;
                row[0]++;
                if (part[i] >= 0)
                    row[1 + part[i]]++;
            }
            for (int64_t v = 0; v < span; v++)
                if (c[3 * v])
                    fprintf(stderr, "%s: %8lld %8lld %8lld %8lld %8lld\n", tp_progname(), (long long)(v + lo),
                            (long long)c[3 * v], (long long)(c[3 * v + 1] + c[3 * v + 2]), (long long)c[3 * v + 1],
                            (long long)c[3 * v + 2]);
            free(c);
        }
    }
    fprintf(stderr, "%s: %8s %8lld %8lld %8lld %8lld\n", tp_progname(), "all", (long long)n,
            (long long)(tot[0] + tot[1]), (long long)tot[0], (long long)tot[1]);
}

/* The records of each part: their indices into idx[p] (input order, shuffled with
 * --shuffle), their number into cnt[p]. */
static void part_indices(const options *o, const int8_t *part, int64_t n, int64_t *idx[2], int64_t cnt[2])
{
    idx[0] = tp_alloc((size_t)n + 1, sizeof *idx[0]);
    idx[1] = tp_alloc((size_t)n + 1, sizeof *idx[1]);
    cnt[0] = cnt[1] = 0;
    for (int64_t i = 0; i < n; i++)
        if (part[i] >= 0)
            idx[part[i]][cnt[part[i]]++] = i;
    if (o->shuffle) {
        tp_rng root;
        tp_rng_seed(&root, (uint64_t)o->seed);
        for (int p = 0; p < 2; p++) {
            tp_rng r = tp_rng_split(&root, 0x5348554646ull + (uint64_t)p); /* "SHUFF" + part */
            tp_rng_shuffle(&r, idx[p], cnt[p]);
        }
    }
}

/* --shard K/N: the K-th of N contiguous blocks, in input order. */
static int run_shard(const options *o)
{
    tp_records *rs = tp_records_open(o->in);
    tp_records_scan(rs, NULL, NULL);
    int64_t n = tp_records_count(rs);
    /* floor((K-1) n / N) without overflow: n < 2^63 and N <= 10^6 */
    int64_t lo = (int64_t)((__int128)(o->shard_k - 1) * n / o->shard_n);
    int64_t hi = (int64_t)((__int128)o->shard_k * n / o->shard_n);
    int64_t *idx = tp_alloc((size_t)(hi - lo) + 1, sizeof *idx);
    for (int64_t i = lo; i < hi; i++)
        idx[i - lo] = i;
    if (!o->quiet)
        fprintf(stderr, "%s: shard %lld/%lld: records %lld to %lld of %lld\n", tp_progname(), (long long)o->shard_k,
                (long long)o->shard_n, (long long)lo, (long long)hi - 1, (long long)n);
    write_part(rs, o->train, idx, hi - lo);
    free(idx);
    tp_records_close(rs);
    return 0;
}

static int run(const options *o)
{
    if (o->shard)
        return run_shard(o);
    tp_records *rs = tp_records_open(o->in);
    const char *name = tp_records_name(rs);
    const tp_header *h = tp_records_header(rs);
    int li = tp_header_find_int(h, o->field);
    if (o->stratify == 1 && li < 0)
        tp_die("%s: --stratify needs an integer label field '%s'", name, o->field);
    index_ctx ix = {li >= 0 ? &h->fields[li] : NULL, NULL, 0};
    tp_records_scan(rs, collect, &ix);
    int64_t n = tp_records_count(rs);
    int8_t *part = tp_alloc((size_t)n + 1, 1);
    int64_t take = n;
    if (o->take > 0) {
        take = o->take < 1 ? (int64_t)llround(o->take * (double)n) : (int64_t)o->take;
        if (take > n)
            tp_die("%s: --take %lld, but the input holds %lld records", name, (long long)take, (long long)n);
    }
    tp_split_assign(li >= 0 && o->stratify ? ix.labels : NULL, n, take, o->ratio, (uint64_t)o->seed, part);
    int64_t *idx[2], cnt[2];
    part_indices(o, part, n, idx, cnt);
    if (!o->quiet)
        report(ix.labels, part, n, o->rest ? "rest" : "test");
    if (o->second)
        write_part(rs, o->second, idx[1], cnt[1]);
    write_part(rs, o->train, idx[0], cnt[0]);
    free(idx[0]);
    free(idx[1]);
    free(part);
    free(ix.labels);
    tp_records_close(rs);
    return 0;
}

int main(int argc, char **argv)
{
    tp_init(argv[0]);
    options o;
    parse(argc, argv, &o);
    return run(&o);
}
