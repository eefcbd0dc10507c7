/* libFuzzer harness: the entry points with hostile arguments. The first byte picks the part:
 *   - a layer: the input picks a cell, sizes and options, call shapes and values (including NaN and
 *     infinity); every call must return a status, never crash or read out of bounds;
 *   - language models: two small models (tests/fixtures/lm, read at start) and a sequence of calls on
 *     their states: forward with any token ids and lengths, step, sampling with any parameters, save and
 *     load of (corrupted) states, a state of one model used with the other, reset, clone, copy. Besides
 *     "no crash", it checks the contract: a refused call leaves the state as it was, a state of another
 *     model is refused, logits of a finite model on valid tokens are finite, a saved state loads back; suggestions
 *     (mg_predict) with any parameters and pending bytes leave the state as it was and come most likely first;
 *   - training (first byte odd and >= 201): a fresh copy of a model, a trainer with any hyperparameters, steps
 *     with any batch shapes and token ids, new hyperparameters, saves in every dtype, coding while the top learns.
 *     A refused call changes neither the weights nor the step count; a saved model loads back; a decoder learning
 *     as the encoder did gives back the tokens and the same weights.
 *   run: build/fuzz/fuzz-api -max_total_time=60 tests/fuzz/seeds-api   (seeds: tests/fuzz/make-seeds.mjs) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mingru.h"

#ifndef MINGRU_SOURCE_DIR
#define MINGRU_SOURCE_DIR "."
#endif

/* A contract broken: report it and crash, so that libFuzzer keeps the input. */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz-api: %s:%d: REQUIRE(%s) failed (%s)\n", __FILE__, __LINE__, #cond, \
                    mg_last_error());                                                              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct {
    const uint8_t *p;
    size_t n;
} input;

static unsigned take(input *in, unsigned mod) {
    if (!in->n || !mod) return 0;
    unsigned v = *in->p++;
    in->n--;
    return v % mod;
}

/* A token id: mostly in range, sometimes just outside it or anywhere in int32. */
static int32_t take_token(input *in, int V) {
    unsigned kind = take(in, 16), v = take(in, 256);
    if (kind < 12) return (int32_t)(v % (unsigned)V);
    if (kind == 12) return -1 - (int32_t)(v & 3);
    if (kind == 13) return V + (int32_t)(v & 3);
    if (kind == 14) return (int32_t)(0x80000000u | v << 23);
    return (int32_t)(v << 23 | v);
}

static float take_float(input *in, const float *table, unsigned n) { return table[take(in, n)]; }

static void fuzz_layer(input *in, size_t size) {
    mg_layer_params p = mg_layer_default_params();
    p.cell = (int)take(in, 3);                               /* 2 is invalid */
    p.dim = (int)take(in, 40) - 2;                           /* may be <= 0 */
    static const double expansions[] = {1.0, 1.5, 2.0, 0.5, 0.01, -1.0, 1e9, 1.1};
    p.expansion_factor = expansions[take(in, 8)];
    p.kernel = (int)take(in, 4);                             /* 3 is invalid */
    p.scan_chunks = (int)take(in, 6) - 1;                    /* -1 is invalid */
    mg_layer *l = NULL;
    if (mg_layer_create(&p, NULL, NULL, &l) != MG_OK) return;
    int dim, di;
    mg_layer_shape(l, &dim, &di, NULL, NULL);
    mg_layer_init_uniform(l, size);
    int B = (int)take(in, 4), T = (int)take(in, 20);        /* may be 0 */
    size_t nx = (size_t)(B > 0 ? B : 1) * (T > 0 ? T : 1) * dim, nh = (size_t)(B > 0 ? B : 1) * di;
    float *x = calloc(nx, sizeof(float)), *y = calloc(nx, sizeof(float)), *h = calloc(nh, sizeof(float));
    for (size_t i = 0; i < nx && in->n; i++) {
        unsigned v = take(in, 256);
        x[i] = v == 255 ? NAN : v == 254 ? INFINITY : ((float)v - 127.0f) / 16.0f;
    }
    int with_h = (int)take(in, 2);
    mg_layer_forward(l, x, B, T, with_h ? h : NULL, y, h);
    mg_layer_step(l, x, B, with_h ? h : NULL, y, h);
    free(x), free(y), free(h);
    mg_layer_free(l);
}

/* ---- language models */

static mg_model *models[2];
static void *model_bytes[2]; /* the files, for fresh copies */
static size_t model_sizes[2];
static const char *model_files[2] = {"tiny-gru-d4-l2-conv2.q8.safetensors", "lstm-d16-l2-conv4-e1.safetensors"};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    for (int i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/fixtures/lm/%s", MINGRU_SOURCE_DIR, model_files[i]);
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "fuzz-api: cannot open %s\n", path);
            abort();
        }
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        void *buf = malloc((size_t)n);
        REQUIRE(buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
        fclose(f);
        mg_model_params p = mg_model_default_params();
        p.take_ownership = 1;
        model_bytes[i] = malloc((size_t)n);
        memcpy(model_bytes[i], buf, (size_t)n);
        model_sizes[i] = (size_t)n;
        REQUIRE(mg_model_load(buf, (size_t)n, &p, &models[i]) == MG_OK);
    }
    return 0;
}

/* The state's saved bytes, malloc'd (the caller frees). */
static uint8_t *saved(const mg_state *s, size_t *n) {
    *n = mg_state_save_size(s);
    uint8_t *b = malloc(*n);
    REQUIRE(b && mg_state_save(s, b, *n) == MG_OK);
    return b;
}

static int same_state(const mg_state *a, const uint8_t *bytes, size_t n) {
    size_t k;
    uint8_t *b = saved(a, &k);
    int same = k == n && !memcmp(b, bytes, n);
    free(b);
    return same;
}

static void require_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) REQUIRE(isfinite(x[i]));
}

static void fuzz_lm(input *in) {
    static const float temperatures[] = {1.0f, 0.0f, 0.7f, 2.0f, NAN, -1.0f, INFINITY, 1e-30f, 1e30f};
    static const float probs[] = {1.0f, 0.5f, 0.0f, 0.9f, NAN, -0.5f, 1.5f, 1e-20f};
    static const float penalties[] = {1.0f, 1.3f, 0.0f, 0.5f, NAN, INFINITY, -1.0f, 1e20f};
    mg_state *s[2] = {NULL, NULL}; /* s[i] belongs to models[i] */
    for (int i = 0; i < 2; i++) REQUIRE(mg_state_create(models[i], &s[i]) == MG_OK);
    for (int op = 0; op < 24 && in->n; op++) {
        int which = (int)take(in, 2), cross = take(in, 8) == 0; /* cross: a state of the other model */
        mg_model *m = models[which];
        mg_state *st = s[cross ? 1 - which : which];
        int V = mg_model_config(m)->num_tokens;
        size_t n_before;
        uint8_t *before = saved(st, &n_before);
        int status = MG_OK, changes = 0;
        switch (take(in, 10)) {
        case 0: case 1: { /* forward over n tokens, n possibly <= 0 or beyond a block */
            int n = (int)take(in, 200) - 2;
            if (take(in, 4) == 0) n += 256;
            int32_t *tokens = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
            int valid = n > 0;
            for (int i = 0; i < n; i++) {
                tokens[i] = take_token(in, V);
                valid &= tokens[i] >= 0 && tokens[i] < V;
            }
            int all = (int)take(in, 2), want = (int)take(in, 3);
            size_t nl = (size_t)V * (size_t)(all && n > 0 ? n : 1);
            float *logits = malloc(nl * sizeof(float));
            status = mg_lm_forward(m, st, n > 0 || want != 2 ? tokens : NULL, n, want ? logits : NULL, all);
            if (!cross && valid) {
                REQUIRE(status == MG_OK);
                if (want) require_finite(logits, nl);
            } else if (cross) {
                REQUIRE(status == MG_EMISMATCH || status == MG_EINVAL);
            } else {
                REQUIRE(status == MG_ERANGE || status == MG_EINVAL);
            }
            changes = 1;
            free(tokens);
            free(logits);
            break;
        }
        case 2: { /* one step */
            int32_t t = take_token(in, V);
            float logits[256];
            status = mg_lm_step(m, st, t, V <= 256 ? logits : NULL);
            if (!cross && t >= 0 && t < V) {
                REQUIRE(status == MG_OK);
                if (V <= 256) require_finite(logits, (size_t)V);
            } else {
                REQUIRE(status != MG_OK);
            }
            changes = 1;
            break;
        }
        case 3: { /* sample the next token with any parameters */
            mg_sampler_params p = mg_sampler_default_params();
            p.temperature = take_float(in, temperatures, 9);
            p.top_k = (int)take(in, 255) - 4;
            p.top_p = take_float(in, probs, 8);
            p.min_p = take_float(in, probs, 8);
            p.repetition_penalty = take_float(in, penalties, 8);
            p.penalty_window = (int)take(in, 255) * 2 - 4;
            uint64_t rng = take(in, 256);
            int32_t t = -7;
            status = mg_lm_generate_next(m, st, &p, &rng, &t);
            if (status == MG_OK) REQUIRE(t >= 0 && t < V && !cross);
            changes = 1;
            break;
        }
        case 4: { /* save, corrupt a few bytes, load into either model */
            size_t n;
            uint8_t *b = saved(st, &n);
            int flips = (int)take(in, 4);
            for (int i = 0; i < flips; i++) {
                size_t at = ((size_t)take(in, 256) << 8 | take(in, 256)) % n;
                b[at] ^= (uint8_t)(1u << take(in, 8));
            }
            size_t len = take(in, 16) == 0 ? n - take(in, 64) % n : n;
            mg_state *r = NULL;
            status = mg_state_load(m, b, len, &r);
            REQUIRE((status == MG_OK) == (r != NULL));
            if (!flips && len == n) REQUIRE(cross ? status == MG_EMISMATCH : status == MG_OK && same_state(r, b, n));
            if (r && mg_state_tokens(r)) {
                float logits[256];
                if (V <= 256) REQUIRE(mg_lm_step(m, r, 0, logits) == MG_OK); /* a loaded state is usable */
            }
            mg_state_free(r);
            free(b);
            break;
        }
        case 5: /* reset */
            REQUIRE(mg_state_reset(st) == MG_OK && mg_state_tokens(st) == 0);
            break;
        case 7: { /* decode any bytes after the state and a prime the match models remember (refused whole if it has
                   * a token out of range); coding the tokens they gave decodes to the same tokens */
            int32_t prime[8];
            int np = (int)take(in, 9), prime_status = MG_OK;
            for (int i = 0; i < np; i++) {
                prime[i] = (int32_t)take(in, 255) - 1; /* -1 and tokens past V are refused */
                if (prime[i] < 0 || prime[i] >= V) prime_status = MG_ERANGE;
            }
            size_t n = take(in, 24);
            const uint8_t *code = in->p;
            n = n < in->n ? n : in->n;
            in->p += n, in->n -= n;
            int k = (int)take(in, 12);
            int32_t got[12], again[12];
            mg_coder *dec = NULL, *enc = NULL, *dec2 = NULL;
            mg_state *a = NULL, *b = NULL, *c = NULL;
            REQUIRE(mg_state_clone(st, &a) == MG_OK && mg_state_clone(st, &b) == MG_OK && mg_state_clone(st, &c) == MG_OK);
            REQUIRE(mg_coder_create(m, code, n, &dec) == MG_OK && mg_coder_create(m, NULL, 0, &enc) == MG_OK);
            REQUIRE(mg_coder_remember(dec, prime, np) == prime_status && mg_coder_remember(enc, prime, np) == prime_status);
            status = mg_coder_decode(dec, a, got, k);
            if (cross) REQUIRE(status == MG_EMISMATCH);
            else {
                REQUIRE(status == MG_OK);
                for (int i = 0; i < k; i++) REQUIRE(got[i] >= 0 && got[i] < V);
                const uint8_t *out;
                size_t size;
                REQUIRE(mg_coder_encode(enc, b, got, k) == MG_OK && mg_coder_finish(enc, &out, &size) == MG_OK);
                REQUIRE(mg_coder_create(m, out, size, &dec2) == MG_OK && mg_coder_remember(dec2, prime, np) == prime_status);
                REQUIRE(mg_coder_decode(dec2, c, again, k) == MG_OK);
                REQUIRE(!memcmp(got, again, (size_t)k * sizeof *got));
                REQUIRE(mg_coder_encode(dec, a, got, 1) == MG_EINVAL); /* a decoder does not encode */
            }
            mg_coder_free(dec), mg_coder_free(enc), mg_coder_free(dec2);
            mg_state_free(a), mg_state_free(b), mg_state_free(c);
            status = MG_OK; /* st itself is untouched */
            break;
        }
        case 8: { /* suggestions with any parameters and pending bytes (the fixtures are byte-level) */
            mg_predictor *pr = NULL;
            REQUIRE(mg_predictor_create(m, NULL, NULL, 0, &pr) == MG_OK);
            mg_predict_params o = {(int)take(in, 20) - 1, (int)take(in, 4), (int)take(in, 10) - 1, (int)take(in, 70) - 1,
                                   (int)take(in, 11) - 1, (int)take(in, 40) - 1};
            uint8_t pending[8];
            int np = (int)take(in, 9), before_byte = (int)take(in, 256) - 1, found = -1;
            for (int i = 0; i < np; i++) pending[i] = (uint8_t)take(in, 256);
            status = mg_predict(pr, st, pending, np, before_byte, &o, &found);
            if (cross) REQUIRE(status == MG_EMISMATCH);
            else REQUIRE(status == MG_OK || status == MG_EINVAL);
            double previous = 1 + 1e-9;
            for (int i = 0; status == MG_OK && i < found; i++) {
                const uint8_t *text;
                int len;
                double prob;
                REQUIRE(found <= o.count && mg_predictor_result(pr, i, &text, &len, &prob) == MG_OK);
                REQUIRE(len > 0 && prob > 0 && prob <= previous);
                previous = prob;
            }
            mg_predictor_free(pr);
            REQUIRE(same_state(st, before, n_before)); /* the search steps copies */
            status = MG_OK;
            break;
        }
        case 6: { /* clone, then copy back (and across models: refused) */
            mg_state *c = NULL;
            REQUIRE(mg_state_clone(st, &c) == MG_OK);
            mg_state *other = st == s[0] ? s[1] : s[0];
            REQUIRE(mg_state_copy(other, c) == MG_EMISMATCH && mg_state_copy(c, other) == MG_EMISMATCH);
            REQUIRE(mg_state_copy(st, c) == MG_OK);
            mg_state_free(c);
            break;
        }
        default: { /* the logits after the last token */
            const float *l = mg_state_logits(st);
            REQUIRE((l != NULL) == (mg_state_tokens(st) != 0));
            if (l) require_finite(l, (size_t)mg_model_config(st == s[0] ? models[0] : models[1])->num_tokens);
            break;
        }
        }
        /* a refused call leaves the state exactly as it was */
        if (changes && status != MG_OK) REQUIRE(same_state(st, before, n_before));
        free(before);
    }
    mg_state_free(s[0]);
    mg_state_free(s[1]);
}

/* A hash of the trainable weights, to see that a refused call left them alone. */
static uint64_t weights_hash(const mg_model *m) {
    const float *w = mg_model_weights(m);
    uint64_t h = 1469598103934665603ull;
    size_t n = (size_t)mg_model_config(m)->n_params;
    for (size_t i = 0; w && i < n; i++) {
        uint32_t b;
        memcpy(&b, &w[i], 4);
        h = (h ^ b) * 1099511628211ull;
    }
    return h;
}

/* Coding while the top learns (mg_coder_set_learner / mg_coder_learn), on two fresh copies of a model with the
 * same trainer settings: the decoder, learning the same way, gives back the tokens and ends with the same weights.
 * A learner that is not top_only, or of another model, is refused. */
static void fuzz_coder_learning(input *in, int which, const mg_adamw_params *p) {
    mg_model *m[2];
    mg_trainer *t[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        REQUIRE(mg_model_load(model_bytes[which], model_sizes[which], NULL, &m[i]) == MG_OK);
        REQUIRE(mg_trainer_create(m[i], p, &t[i]) == MG_OK);
    }
    int V = mg_model_config(m[0])->num_tokens, n = (int)take(in, 40), every = 1 + (int)take(in, 9);
    int32_t tokens[40], back[40];
    for (int i = 0; i < n; i++) tokens[i] = (int32_t)take(in, (unsigned)V);
    mg_coder *enc = NULL, *dec = NULL;
    mg_state *s[2] = {NULL, NULL};
    const uint8_t *out;
    size_t size;
    float loss;
    REQUIRE(mg_coder_create(m[0], NULL, 0, &enc) == MG_OK && mg_state_create(m[0], &s[0]) == MG_OK);
    REQUIRE(mg_coder_learn(enc, &loss) == MG_EINVAL); /* no learner yet */
    REQUIRE(mg_coder_set_learner(enc, t[1]) == MG_EMISMATCH);
    REQUIRE(mg_coder_set_learner(enc, t[0]) == (p->top_only ? MG_OK : MG_EINVAL));
    for (int i = 0; p->top_only && i < n; i += every) {
        int k = n - i < every ? n - i : every;
        REQUIRE(mg_coder_encode(enc, s[0], tokens + i, k) == MG_OK);
        /* the first loss is finite (later ones may not be, with hostile hyperparameters); < 2 rows: no step */
        REQUIRE(mg_coder_learn(enc, &loss) == MG_OK && (i || isfinite(loss)));
    }
    if (p->top_only) {
        REQUIRE(mg_coder_finish(enc, &out, &size) == MG_OK);
        REQUIRE(mg_coder_create(m[1], out, size, &dec) == MG_OK && mg_state_create(m[1], &s[1]) == MG_OK);
        REQUIRE(mg_coder_set_learner(dec, t[1]) == MG_OK);
        for (int i = 0; i < n; i += every) {
            int k = n - i < every ? n - i : every;
            REQUIRE(mg_coder_decode(dec, s[1], back + i, k) == MG_OK && mg_coder_learn(dec, &loss) == MG_OK);
        }
        REQUIRE(!memcmp(tokens, back, (size_t)n * sizeof *tokens) && weights_hash(m[0]) == weights_hash(m[1]));
        REQUIRE(mg_trainer_steps(t[0]) == mg_trainer_steps(t[1]));
    }
    mg_coder_free(enc), mg_coder_free(dec);
    for (int i = 0; i < 2; i++) mg_state_free(s[i]), mg_trainer_free(t[i]), mg_model_free(m[i]);
}

static void fuzz_train(input *in) {
    static const float lrs[] = {1e-3f, 3e-2f, 0.0f, -1.0f, NAN, INFINITY, 10.0f, 1e-30f};
    static const float betas[] = {0.9f, 0.999f, 0.0f, 1.0f, -0.1f, NAN, 0.5f, 0.95f};
    static const float small[] = {1e-8f, 0.0f, 0.1f, -1e-3f, NAN, INFINITY, 1.0f, 1e30f};
    int which = (int)take(in, 2);
    mg_model *m;
    REQUIRE(mg_model_load(model_bytes[which], model_sizes[which], NULL, &m) == MG_OK);
    int V = mg_model_config(m)->num_tokens;
    /* field by field: the input's bytes are taken in this order (an initializer list's are not sequenced) */
    mg_adamw_params p = {0};
    p.lr = take_float(in, lrs, 8), p.beta1 = take_float(in, betas, 8), p.beta2 = take_float(in, betas, 8);
    p.eps = take_float(in, small, 8), p.weight_decay = take_float(in, small, 8), p.clip = take_float(in, small, 8);
    p.top_only = (int)take(in, 3); /* 2 is invalid */
    mg_trainer *t = NULL;
    int valid = p.top_only <= 1 && p.lr > 0 && isfinite(p.lr) && p.beta1 >= 0 && p.beta1 < 1 && p.beta2 >= 0 && p.beta2 < 1 && p.eps > 0 &&
                isfinite(p.eps) && p.weight_decay >= 0 && isfinite(p.weight_decay) && p.clip >= 0 && isfinite(p.clip);
    int status = mg_trainer_create(m, &p, &t);
    REQUIRE(valid ? status == MG_OK : status == MG_EINVAL && t == NULL);
    if (!valid) REQUIRE(mg_model_weights(m) == NULL); /* a refused trainer leaves the model as it was */
    for (int op = 0; t && op < 6 && in->n; op++) {
        uint64_t before = weights_hash(m);
        long steps = mg_trainer_steps(t);
        switch (take(in, 5)) {
        case 4: /* coding while the top learns, on fresh copies */
            fuzz_coder_learning(in, which, &p);
            break;
        case 0: case 1: { /* a step on any shape and ids */
            int batch = (int)take(in, 5) - 1, seq_len = (int)take(in, 40) - 1;
            size_t n = batch > 0 && seq_len > 0 ? (size_t)batch * (size_t)(seq_len + 1) : 1;
            int32_t *tokens = malloc(n * sizeof(int32_t));
            int ok = batch > 0 && seq_len > 0;
            for (size_t i = 0; i < n; i++) ok &= (tokens[i] = take_token(in, V)) >= 0 && tokens[i] < V;
            float loss = NAN;
            status = mg_trainer_step(t, tokens, batch, seq_len, &loss);
            REQUIRE(ok ? status == MG_OK : status == MG_EINVAL || status == MG_ERANGE);
            if (status == MG_OK) REQUIRE(mg_trainer_steps(t) == steps + 1 && (steps > 0 || isfinite(loss)));
            else REQUIRE(mg_trainer_steps(t) == steps && weights_hash(m) == before);
            free(tokens);
            break;
        }
        case 2: { /* new hyperparameters: refused ones change nothing */
            mg_adamw_params q = {.beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f, .clip = 1.0f};
            q.lr = take_float(in, lrs, 8), q.weight_decay = take_float(in, small, 8);
            q.top_only = take(in, 4) ? p.top_only : !p.top_only; /* at times a change, refused */
            status = mg_trainer_set_params(t, &q);
            REQUIRE(status == MG_OK || status == MG_EINVAL);
            break;
        }
        case 3: { /* save in any dtype; what is saved loads back */
            int dtype = (int)take(in, 4); /* 3 is invalid */
            uint8_t *file = NULL;
            size_t size = 0;
            status = mg_model_save(m, dtype, NULL, 0, &file, &size);
            REQUIRE(status == MG_OK || status == MG_EINVAL);
            if (dtype == 3 || dtype == MG_DTYPE_F32) REQUIRE((status == MG_OK) == (dtype == MG_DTYPE_F32));
            if (status == MG_OK) {
                mg_model *back;
                REQUIRE(mg_model_load(file, size, NULL, &back) == MG_OK);
                mg_model_free(back);
            }
            free(file);
            REQUIRE(weights_hash(m) == before);
            break;
        }
        }
    }
    mg_trainer_free(t);
    mg_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    input in = {data, size};
    unsigned part = take(&in, 256); /* even: layers; odd: language models, training from 201 on */
    if (part % 2 == 0) fuzz_layer(&in, size);
    else if (part < 201) fuzz_lm(&in);
    else fuzz_train(&in);
    return 0;
}
