/* Unit tests of weight import and grafting: the JSON reader (lib/json.c) on texts worked by
 * hand, Keras' tensor names (lib/weights.c), a TensorFlow.js model written here byte by
 * byte (float32, float16, int32 and uint8-quantized weights in two groups), the mapping
 * onto networks (conv, dense, batchnorm, and its errors), and lib/transfer.c's prefix view
 * and graft. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "json.h"
#include "net.h"
#include "transfer.h"
#include "util.h"
#include "nn.h"
#include "weights.h"

static tp_json *parse(const char *s, char *err)
{
    return tp_json_parse(s, strlen(s), err, 256);
}

static void test_json(void)
{
    char err[256];
    tp_json *j = parse(" {\"a\": [1, -2.5e3, true, null, \"x\\u00e9\\ud83d\\ude00\\n\\\"\"], \"b\": {}, \"a\": 0}\n", err);
    CHECK(j && j->type == TP_JSON_OBJ && j->n == 3);
    const tp_json *a = tp_json_get(j, "a");
    CHECK(a && a->type == TP_JSON_ARR && a->n == 5); /* the first of two members named a */
    if (a && a->n == 5) {
        CHECK(a->kids[0].type == TP_JSON_NUM && a->kids[0].num == 1);
        CHECK(a->kids[1].num == -2500);
        CHECK(a->kids[2].type == TP_JSON_BOOL && a->kids[2].num == 1);
        CHECK(a->kids[3].type == TP_JSON_NULL);
        /* e-acute is C3 A9, U+1F600 (a surrogate pair) is F0 9F 98 80 */
        CHECK(a->kids[4].type == TP_JSON_STR && strcmp(a->kids[4].str, "x\xC3\xA9\xF0\x9F\x98\x80\n\"") == 0);
    }
    const tp_json *b = tp_json_get(j, "b");
    CHECK(b && b->type == TP_JSON_OBJ && b->n == 0);
    CHECK(tp_json_get(j, "c") == NULL && tp_json_get(a, "a") == NULL);
    tp_json_free(j);

    const char *bad[][2] = {
        {"[1,]", "line 1: unexpected character ']'"},
        {"{\"a\" 1}", "line 1: expected ':' after a member name"},
        {"[1,\n2,\n03]", "line 3: expected ',' or ']'"},
        {"\"abc", "line 1: unterminated string"},
        {"\"\\ud800x\"", "line 1: a high surrogate without its low half"},
        {"1 2", "line 1: unexpected text after the value"},
        {"-", "line 1: bad number"},
        {"1.", "line 1: bad number: digits must follow '.'"},
        {"\"a\tb\"", "line 1: control character 0x09 inside a string"},
        {"", "line 1: unexpected end of text"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        j = parse(bad[i][0], err);
        CHECK(j == NULL);
        if (strcmp(err, bad[i][1]))
            fprintf(stderr, "json '%s': error '%s', expected '%s'\n", bad[i][0], err, bad[i][1]), check_failures++;
        tp_json_free(j);
    }
    char deep[700];
    memset(deep, '[', 300);
    memset(deep + 300, ']', 300);
    deep[600] = 0;
    CHECK(parse(deep, err) == NULL && strstr(err, "nested more than 256"));
    deep[200] = 0; /* 200 deep is fine */
    memset(deep + 100, ']', 100);
    j = parse(deep, err);
    CHECK(j != NULL);
    tp_json_free(j);
}

static void test_roles(void)
{
    CHECK(tp_wrole_of("block1_conv1_W_1:0", "block1_conv1") == TP_W_KERNEL);
    CHECK(tp_wrole_of("block1_conv1_b_1:0", "block1_conv1") == TP_W_BIAS);
    CHECK(tp_wrole_of("block1_conv1/kernel:0", "block1_conv1") == TP_W_KERNEL);
    CHECK(tp_wrole_of("model/block1_conv1/bias", "model/block1_conv1") == TP_W_BIAS);
    CHECK(tp_wrole_of("bn/moving_variance:0", "bn") == TP_W_VAR);
    CHECK(tp_wrole_of("bn/moving_mean", "bn") == TP_W_MEAN);
    CHECK(tp_wrole_of("bn/gamma:0", "bn") == TP_W_GAMMA);
    CHECK(tp_wrole_of("bn/beta", "bn") == TP_W_BETA);
    CHECK(tp_wrole_of("conv2d_1_W", "other") == TP_W_KERNEL); /* Keras 1 names under another layer name */
    CHECK(tp_wrole_of("kernel_2", "x") == TP_W_KERNEL);
    CHECK(tp_wrole_of("dw/depthwise_kernel:0", "dw") == TP_W_OTHER);
    CHECK(tp_wrole_of("lstm/recurrent_kernel", "lstm") == TP_W_OTHER);
    CHECK(tp_wrole_of("emb/embeddings", "emb") == TP_W_OTHER);
}

static void put_f32(FILE *f, float v) { fwrite(&v, 4, 1, f); }

/* A TensorFlow.js model in dir: group 1 (one shard) holds conv/kernel f32 [1,1,1,2] and
 * conv/bias as uint8 codes 0 and 3 with scale 0.5, min -1 (so -1 and 0.5); group 2 (two
 * shards, split inside a tensor) holds dense/kernel as float16 [2,2] and dense/bias as int32. */
static void write_tfjs(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/model.json", dir);
    FILE *f = fopen(p, "w");
    fprintf(f, "{\"format\": \"layers-model\", \"modelTopology\": {}, \"weightsManifest\": [\n"
               " {\"paths\": [\"g1.bin\"], \"weights\": [\n"
               "  {\"name\": \"conv/kernel\", \"shape\": [1, 1, 1, 2], \"dtype\": \"float32\"},\n"
               "  {\"name\": \"conv/bias\", \"shape\": [2], \"dtype\": \"float32\",\n"
               "   \"quantization\": {\"dtype\": \"uint8\", \"scale\": 0.5, \"min\": -1}}]},\n"
               " {\"paths\": [\"g2a.bin\", \"g2b.bin\"], \"weights\": [\n"
               "  {\"name\": \"dense/kernel\", \"shape\": [2, 2], \"dtype\": \"float32\", \"quantization\": {\"dtype\": \"float16\"}},\n"
               "  {\"name\": \"dense/bias\", \"shape\": [2], \"dtype\": \"int32\"}]}]}\n");
    fclose(f);
    snprintf(p, sizeof p, "%s/g1.bin", dir);
    f = fopen(p, "wb");
    put_f32(f, 1.5f);
    put_f32(f, -2.0f);
    fputc(0, f);
    fputc(3, f);
    fclose(f);
    /* float16: 1.0 = 0x3C00, -0.5 = 0xB800, 2.0 = 0x4000, 0.25 = 0x3400 */
    const unsigned char half[8] = {0x00, 0x3C, 0x00, 0xB8, 0x00, 0x40, 0x00, 0x34};
    const int32_t ib[2] = {7, -3};
    snprintf(p, sizeof p, "%s/g2a.bin", dir);
    f = fopen(p, "wb");
    fwrite(half, 1, 5, f);
    fclose(f);
    snprintf(p, sizeof p, "%s/g2b.bin", dir);
    f = fopen(p, "wb");
    fwrite(half + 5, 1, 3, f);
    fwrite(ib, 4, 2, f);
    fclose(f);
}

static int build(tp_net *net, const char *text, int h, int w, int c)
{
    char err[256];
    memset(net, 0, sizeof *net);
    int rc = tp_net_parse(net, text, "t", err, sizeof err) || tp_net_build(net, h, w, c, "t", err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    return rc;
}

static void test_tfjs(const char *dir)
{
    char err[512];
    tp_wset s;
    memset(&s, 0, sizeof s);
    write_tfjs(dir);
    CHECK(tp_wset_read(&s, dir, err, sizeof err) == 0);
    CHECK_INT(s.n, 2);
    if (s.n != 2) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK(strcmp(s.l[0].name, "conv") == 0 && s.l[0].nt == 2 && strcmp(s.l[1].name, "dense") == 0);
    CHECK(s.l[0].t[0].role == TP_W_KERNEL && s.l[0].t[0].rank == 4 && s.l[0].t[0].shape[3] == 2);
    CHECK(s.l[0].t[1].role == TP_W_BIAS && s.l[0].t[1].data[0] == -1 && s.l[0].t[1].data[1] == 0.5f);
    const float *dk = s.l[1].t[0].data, *db = s.l[1].t[1].data;
    CHECK(dk[0] == 1 && dk[1] == -0.5f && dk[2] == 2 && dk[3] == 0.25f);
    CHECK(db[0] == 7 && db[1] == -3);

    tp_net net;
    CHECK(build(&net, "conv 2 1x1\nflatten\ndense 2 softmax\n", 1, 1, 1) == 0);
    tp_net_init(&net, 1);
    CHECK_INT(tp_wset_apply(&s, &net, 0, NULL, err, sizeof err), 2);
    const float *P = net.params;
    CHECK(P[net.l[0].w] == 1.5f && P[net.l[0].w + 1] == -2 && P[net.l[0].b] == -1 && P[net.l[0].b + 1] == 0.5f);
    CHECK(P[net.l[2].w + 1] == -0.5f && P[net.l[2].b + 1] == -3);
    /* --base-only: the dense layer keeps its initial values */
    tp_net_init(&net, 1);
    float before = P[net.l[2].w];
    CHECK_INT(tp_wset_apply(&s, &net, 1, NULL, err, sizeof err), 1);
    CHECK(P[net.l[2].w] == before && P[net.l[0].w] == 1.5f);
    tp_net_free(&net);

    /* errors name the tensor and the layer */
    CHECK(build(&net, "conv 2 1x1\nflatten\ndense 3 softmax\n", 1, 1, 1) == 0);
    CHECK(tp_wset_apply(&s, &net, 0, NULL, err, sizeof err) == -1);
    CHECK(strcmp(err, "'dense/kernel' is 2x2, the network's layer 3 (dense 3) wants 2x3") == 0);
    tp_net_free(&net);
    CHECK(build(&net, "conv 2 1x1\nconv 2 1x1\nflatten\ndense 2 softmax\n", 1, 1, 1) == 0);
    CHECK(tp_wset_apply(&s, &net, 0, NULL, err, sizeof err) == -1);
    CHECK(strstr(err, "layer 'dense' holds dense weights, the network's layer 2 (conv 2 1x1) is conv") != NULL);
    tp_net_free(&net);
    CHECK(build(&net, "flatten\ndense 2 softmax\n", 1, 1, 1) == 0);
    CHECK(tp_wset_apply(&s, &net, 0, NULL, err, sizeof err) == -1);
    CHECK(strstr(err, "layer 'conv' holds conv weights, the network's layer 2 (dense 2) is dense") != NULL);
    tp_net_free(&net);
    tp_wset_free(&s);

    /* bad manifests */
    char p[512];
    snprintf(p, sizeof p, "%s/g2b.bin", dir);
    FILE *f = fopen(p, "ab");
    fputc(0, f);
    fclose(f);
    CHECK(tp_wset_read(&s, dir, err, sizeof err) == -1 && strstr(err, "its shards hold 17 bytes, its weights 16"));
    tp_wset_free(&s);
    snprintf(p, sizeof p, "%s/model.json", dir);
    f = fopen(p, "w");
    fprintf(f, "{\"weightsManifest\": [{\"paths\": [], \"weights\": [{\"name\": \"a/b\", \"shape\": [1], \"dtype\": \"string\"}]}]}");
    fclose(f);
    CHECK(tp_wset_read(&s, dir, err, sizeof err) == -1 && strstr(err, "'a/b': dtype 'string' is not a number type"));
    tp_wset_free(&s);
    f = fopen(p, "w");
    fprintf(f, "{\"modelTopology\": {}}");
    fclose(f);
    CHECK(tp_wset_read(&s, dir, err, sizeof err) == -1 && strstr(err, "no weightsManifest"));
    tp_wset_free(&s);
}

/* A batchnorm layer from Keras' four tensors, and a conv layer without a bias. */
static void test_batchnorm(void)
{
    tp_wset s;
    memset(&s, 0, sizeof s);
    int64_t k4[4] = {1, 1, 1, 2}, two = 2;
    const float kernel[2] = {3, 4}, g[2] = {1.5f, 2}, b[2] = {0.1f, 0.2f}, m[2] = {5, 6}, v[2] = {7, 8};
    tp_wset_add(&s, "conv", "conv/kernel:0", 4, k4, kernel);
    tp_wset_add(&s, "bn", "bn/gamma:0", 1, &two, g);
    tp_wset_add(&s, "bn", "bn/beta:0", 1, &two, b);
    tp_wset_add(&s, "bn", "bn/moving_mean:0", 1, &two, m);
    tp_wset_add(&s, "bn", "bn/moving_variance:0", 1, &two, v);
    tp_net net;
    char err[256];
    CHECK(build(&net, "conv 2 1x1\nbatchnorm\nflatten\ndense 2 softmax\n", 1, 1, 1) == 0);
    tp_net_init(&net, 3);
    net.params[net.l[0].b] = 9;
    CHECK_INT(tp_wset_apply(&s, &net, 0, NULL, err, sizeof err), 2);
    const tp_layer *l = &net.l[1];
    const float *P = net.params;
    CHECK(P[net.l[0].w + 1] == 4 && P[net.l[0].b] == 0); /* no bias in the file: zero */
    CHECK(P[l->w + 1] == 2 && P[l->b] == 0.1f && P[l->mean + 1] == 6 && P[l->var] == 7);
    tp_net_free(&net);
    tp_wset_free(&s);
}

/* The prefix view runs the first k layers; a graft of a base's first k layers and a head
 * has both texts and both sets of parameters. */
static void test_graft(void)
{
    tp_net base, head, out, view;
    char err[512];
    CHECK(build(&base, "# base\nconv 2 3x3 relu pad=same\n\nmaxpool 2\nflatten\ndense 3 softmax\n", 4, 4, 1) == 0);
    CHECK(build(&head, "flatten\ndense 5 relu\ndense 2 softmax", 2, 2, 2) == 0);
    tp_net_init(&base, 1);
    tp_net_init(&head, 2);
    CHECK_INT(tp_net_base_layers(&base), 2);
    int k = 0;
    CHECK(tp_net_layer_arg(&base, "base", &k, err, sizeof err) == 0 && k == 2);
    CHECK(tp_net_layer_arg(&base, "4", &k, err, sizeof err) == 0 && k == 4);
    CHECK(tp_net_layer_arg(&base, "5", &k, err, sizeof err) == -1);
    CHECK(tp_net_layer_arg(&head, "base", &k, err, sizeof err) == -1 && strstr(err, "no convolutional base"));
    tp_net_prefix(&base, 2, &view);
    CHECK(view.n == 2 && view.params == base.params && view.ntrain == base.l[0].b + base.l[0].nb);
    memset(&out, 0, sizeof out);
    CHECK(tp_net_graft(&base, 2, &head, &out, err, sizeof err) == 0);
    CHECK(strcmp(out.text, "# base\nconv 2 3x3 relu pad=same\n\nmaxpool 2\nflatten\ndense 5 relu\ndense 2 softmax") == 0);
    CHECK(out.n == 5 && out.ih == 4 && out.classes == 2);
    CHECK(memcmp(out.params + out.l[0].w, base.params + base.l[0].w, (base.l[0].nw + base.l[0].nb) * sizeof(float)) == 0);
    CHECK(memcmp(out.params + out.l[3].w, head.params + head.l[1].w, (head.l[1].nw + head.l[1].nb) * sizeof(float)) == 0);
    CHECK(memcmp(out.params + out.l[4].w, head.params + head.l[2].w, (head.l[2].nw + head.l[2].nb) * sizeof(float)) == 0);
    tp_net_free(&out);
    CHECK(tp_net_graft(&base, 1, &head, &out, err, sizeof err) == -1);
    CHECK(strcmp(err, "the head takes 2x2x2 inputs, the base's layer 1 puts out 4x4x2") == 0);
    tp_net_free(&out);
    tp_net_free(&base);
    tp_net_free(&head);
}

int main(void)
{
    test_json();
    test_roles();
    char dir[] = "/tmp/tp_weights_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_tfjs(dir);
    const char *files[] = {"model.json", "g1.bin", "g2a.bin", "g2b.bin"};
    for (int i = 0; i < 4; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
    test_batchnorm();
    test_graft();
    return check_result();
}
