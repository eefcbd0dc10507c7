/* Writing models: mg_model_save gives tools/convert.py's bytes for the same weights in F32, F16 and Q8 (the
 * committed fixtures of tests/fixtures/lm were written by it); a trained model saved and loaded again gives the
 * same logits; mg_model_create is seeded, initialised as PyTorch's minLM, and refuses bad sizes by name. */
#include "check.h"
#include "internal.h"
#include "model.h"

static unsigned char *fixture(const char *name, size_t *size) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/lm/%s", name);
    return read_file(path, size);
}

static void check_same_bytes(const char *stem) {
    size_t size;
    char name[128];
    snprintf(name, sizeof name, "%s.safetensors", stem);
    unsigned char *f32 = fixture(name, &size);
    mg_model *m;
    REQUIRE(f32 && mg_model_load(f32, size, NULL, &m) == MG_OK, "%s: %s", stem, mg_last_error());
    const char *suffix[] = {"", ".f16", ".q8"};
    for (int dtype = MG_DTYPE_F32; dtype <= MG_DTYPE_Q8; dtype++) {
        size_t want_size, got_size;
        snprintf(name, sizeof name, "%s%s.safetensors", stem, suffix[dtype]);
        unsigned char *want = fixture(name, &want_size);
        if (!want) continue; /* not every case has every dtype */
        uint8_t *got;
        CHECK(mg_model_save(m, dtype, NULL, 0, &got, &got_size) == MG_OK, "%s: %s", name, mg_last_error());
        CHECK(got_size == want_size && !memcmp(got, want, want_size), "%s: mg_model_save's bytes differ from convert.py's "
              "(%zu vs %zu bytes)", name, got_size, want_size);
        free(got);
        free(want);
    }
    mg_model_free(m);
    free(f32);
}

static void logits_of(mg_model *m, const int32_t *tokens, int n, float *out) {
    mg_state *s;
    mg_state_create(m, &s);
    CHECK(mg_lm_forward(m, s, tokens, n, out, 1) == MG_OK, "%s", mg_last_error());
    mg_state_free(s);
}

static void check_round_trip(void) {
    size_t size;
    unsigned char *file = fixture("gru-d24-l3-conv3.safetensors", &size);
    mg_model *m, *back;
    REQUIRE(file && mg_model_load(file, size, NULL, &m) == MG_OK, "%s", mg_last_error());
    mg_trainer *t;
    CHECK(mg_trainer_create(m, NULL, &t) == MG_OK, "%s", mg_last_error());
    int32_t tokens[2 * 9];
    for (int i = 0; i < 18; i++) tokens[i] = (i * 37 + 11) % 256;
    for (int s = 0; s < 3; s++) CHECK(mg_trainer_step(t, tokens, 2, 8, NULL) == MG_OK, "%s", mg_last_error());
    const char *kv[] = {"name", "fine-tuned \xc3\xa9\xf0\x9f\x98\x80 \"q\"", "description", NULL, "license", "MIT"};
    uint8_t *saved;
    size_t saved_size;
    CHECK(mg_model_save(m, MG_DTYPE_F32, kv, 3, &saved, &saved_size) == MG_OK, "%s", mg_last_error());
    mg_model_params p = mg_model_default_params();
    p.take_ownership = 1;
    REQUIRE(mg_model_load(saved, saved_size, &p, &back) == MG_OK, "saved model: %s", mg_last_error());
    int V = mg_model_config(m)->num_tokens;
    float *a = malloc(sizeof(float) * 16 * V), *b = malloc(sizeof(float) * 16 * V);
    logits_of(m, tokens, 16, a);
    logits_of(back, tokens, 16, b);
    CHECK(!memcmp(a, b, sizeof(float) * 16 * V), "the saved trained model gives other logits");
    CHECK(!strcmp(mg_model_meta(back, "name"), kv[1]), "name: %s", mg_model_meta(back, "name"));
    CHECK(!mg_model_meta(back, "description"), "a NULL value removes the key");
    CHECK(!strcmp(mg_model_meta(back, "license"), "MIT") && !strcmp(mg_model_meta(back, "cell"), "gru"), "metadata");
    const char *bad[] = {"dim", "12"};
    CHECK(mg_model_save(m, MG_DTYPE_F32, bad, 1, &saved, &saved_size) == MG_EINVAL && strstr(mg_last_error(), "dim"),
          "structural key: %s", mg_last_error());
    CHECK(mg_model_save(m, 7, NULL, 0, &saved, &saved_size) == MG_EINVAL, "dtype 7");
    free(a), free(b);
    mg_model_free(back);
    mg_trainer_free(t);
    mg_model_free(m);
    free(file);
}

static void check_create(void) {
    mg_create_params p = mg_create_default_params();
    p.dim = 64, p.depth = 2, p.conv_kernel_size = 3, p.seed = 42;
    mg_model *a, *b, *c;
    REQUIRE(mg_model_create(&p, NULL, &a) == MG_OK, "%s", mg_last_error());
    REQUIRE(mg_model_create(&p, NULL, &b) == MG_OK, "%s", mg_last_error());
    p.seed = 43;
    REQUIRE(mg_model_create(&p, NULL, &c) == MG_OK, "%s", mg_last_error());
    uint8_t *fa, *fb, *fc;
    size_t na, nb, nc;
    REQUIRE(mg_model_save(a, MG_DTYPE_F32, NULL, 0, &fa, &na) == MG_OK &&
            mg_model_save(b, MG_DTYPE_F32, NULL, 0, &fb, &nb) == MG_OK &&
            mg_model_save(c, MG_DTYPE_F32, NULL, 0, &fc, &nc) == MG_OK, "%s", mg_last_error());
    CHECK(na == nb && !memcmp(fa, fb, na), "the same seed gives the same model");
    CHECK(na == nc && memcmp(fa, fc, na), "another seed gives another model");
    const mg_config *cfg = mg_model_config(a);
    CHECK(cfg->dim == 64 && cfg->depth == 2 && cfg->dim_inner == 96 && cfg->ff_inner == 256 && cfg->conv_kernel_size == 3 &&
          cfg->tokenizer == MG_TOKENIZER_BYTES, "config");
    CHECK(!strcmp(mg_model_meta(a, "expansion_factor"), "1.5") && !strcmp(mg_model_meta(a, "ff_mult"), "4.0"),
          "factors written as Python's repr: %s %s", mg_model_meta(a, "expansion_factor"), mg_model_meta(a, "ff_mult"));
    /* the distributions, tensor by tensor */
    mg_trainer *t;
    CHECK(mg_trainer_create(a, NULL, &t) == MG_OK, "%s", mg_last_error());
    const float *w = mg_model_weights(a);
    for (int i = 0; i < mg_model_n_tensors(a); i++) {
        const char *name;
        int ndim;
        uint64_t shape[3];
        size_t off;
        mg_model_tensor(a, i, &name, &ndim, shape, &off);
        size_t n = 1;
        for (int d = 0; d < ndim; d++) n *= shape[d];
        double sum = 0, sq = 0, mx = 0;
        for (size_t j = 0; j < n; j++) sum += w[off + j], sq += (double)w[off + j] * w[off + j], mx = fmax(mx, fabs(w[off + j]));
        double mean = sum / n, sd = sqrt(sq / n - mean * mean);
        size_t len = strlen(name);
        int norm = ndim == 1 && strstr(name, ".net.") == NULL && strstr(name, "bias") == NULL;
        if (!strcmp(name, "token_emb.weight")) {
            CHECK(fabs(mean) < 0.02 && fabs(sd - 1) < 0.02, "%s: N(0, 1)? mean %g sd %g", name, mean, sd);
        } else if (norm) {
            CHECK(sd == 0 && mean == 1, "%s: ones", name);
        } else {
            /* U(-b, b) with b = 1/sqrt(fan_in): sd b/sqrt(3), nothing beyond b */
            double fan = !strcmp(name + len - 11, "0.2.weight") || strstr(name, "4.2.") ? 256
                       : strstr(name, "to_out") ? 96 : strstr(name, "net.0.") ? 3 : 64;
            double bound = 1 / sqrt(fan);
            CHECK(mx <= bound * 1.0000001, "%s: beyond U(+-%g): %g", name, bound, mx);
            if (n > 1000) CHECK(fabs(sd - bound / sqrt(3)) < 0.05 * bound, "%s: sd %g, U(+-%g) has %g", name, sd, bound, bound / sqrt(3));
        }
    }
    int32_t tokens[4] = {1, 2, 3, 4};
    float *logits = malloc(sizeof(float) * 4 * 256);
    logits_of(a, tokens, 4, logits);
    CHECK(isfinite(logits[0]), "a new model runs");
    free(logits);
    mg_trainer_free(t);
    free(fa), free(fb), free(fc);
    mg_model_free(a), mg_model_free(b), mg_model_free(c);

    mg_model *m;
    p = mg_create_default_params(), p.dim = 0;
    CHECK(mg_model_create(&p, NULL, &m) == MG_EINVAL && strstr(mg_last_error(), "dim"), "dim 0: %s", mg_last_error());
    p = mg_create_default_params(), p.expansion_factor = 0;
    CHECK(mg_model_create(&p, NULL, &m) == MG_EINVAL && strstr(mg_last_error(), "expansion"), "%s", mg_last_error());
    p = mg_create_default_params(), p.conv_kernel_size = 1;
    CHECK(mg_model_create(&p, NULL, &m) == MG_EINVAL && strstr(mg_last_error(), "convKernelSize"), "%s", mg_last_error());
    p = mg_create_default_params(), p.cell = MG_CELL_LSTM, p.expansion_factor = 1.0, p.num_tokens = 100, p.dim = 16;
    REQUIRE(mg_model_create(&p, NULL, &m) == MG_OK, "%s", mg_last_error());
    CHECK(mg_model_config(m)->tokenizer == MG_TOKENIZER_NONE && !mg_model_config(m)->has_out &&
          !strcmp(mg_model_meta(m, "expansion_factor"), "1.0"), "lstm, no to_out, tokenizer none");
    mg_model_free(m);
}

/* Rows of the smallest subnormals, where max|w| / 127 underflows to zero (the fuzzer's find: w / 0 was NaN, cast to
 * int), a zero row and an ordinary one: finite scales, every q within [-127, 127], the ordinary row as defined. */
static void check_quantize_edges(void) {
    enum { C = 5 };
    const float tiny = 1.4e-45f, w[4][C] = {{tiny, -tiny, 0.0f, tiny, 0.0f}, {2 * tiny, tiny, -2 * tiny, 0, 0},
                                            {0, 0, 0, 0, 0}, {1.0f, -0.5f, 0.25f, 127.0f, -3.0f}};
    int8_t q[4][C];
    float scale[4];
    int32_t rowsum[4];
    mg_quantize_rows(&w[0][0], 4, C, &q[0][0], scale, rowsum);
    for (int r = 0; r < 4; r++) CHECK(isfinite(scale[r]) && scale[r] > 0.0f, "row %d: scale %g", r, scale[r]);
    CHECK(q[0][0] == 1 && q[0][1] == -1 && q[0][2] == 0 && rowsum[0] == 1, "the smallest subnormals: q %d %d %d, sum %d",
          q[0][0], q[0][1], q[0][2], rowsum[0]);
    CHECK(q[1][0] == 1 && q[1][2] == -1 && scale[1] == 2 * tiny, "twice the smallest: q %d %d, scale %g", q[1][0], q[1][2], scale[1]);
    CHECK(scale[2] == 1.0f && rowsum[2] == 0, "a zero row: scale %g", scale[2]);
    CHECK(scale[3] == 1.0f && q[3][0] == 1 && q[3][1] == 0 && q[3][3] == 127 && q[3][4] == -3, "an ordinary row");
}

int main(void) {
    check_quantize_edges();
    check_same_bytes("gru-d32-l2");
    check_same_bytes("lstm-d32-l2");
    check_same_bytes("tiny-gru-d4-l2-conv2");
    check_same_bytes("gru-d24-l3-conv3");
    check_round_trip();
    check_create();
    return check_report("test-save");
}
