/* Training in C against PyTorch autograd (tests/fixtures/train/NAME.bin, from tools/train_fixtures.py, float64):
 * the step-0 gradient of every tensor to 1e-4 of its largest value, its global norm; then N clipped AdamW steps
 * from the same weights on the same batches give the reference's losses step by step (2e-4 relative) and its
 * final weights (5e-3 of the largest weight change: float32's own spread). Also on 2 threads and with the reference kernels, and
 * the errors of bad arguments. Dropout (PyTorch cannot draw our masks) against central finite differences of the loss. */
#include "check.h"
#include "model.h"

typedef struct {
    uint32_t batch, seq_len, steps, n_tensors;
    float hp[6]; /* lr, beta1, beta2, eps, weight_decay, clip */
    char names[64][64];
    uint32_t counts[64];
    int32_t *tokens;
    float *losses, *norms, *grads, *final;
    size_t n;
} fixture;

/* The model file of the fixture STEM (tests/fixtures/lm/STEM.safetensors; a BorealisAI/minRNNs one's is beside its
 * fixture, tests/fixtures/train/STEM.safetensors), or NULL. */
static unsigned char *read_model_file(const char *stem, size_t *size) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/%s/%s.safetensors", strncmp(stem, "minrnns-", 8) ? "lm" : "train", stem);
    return read_file(path, size);
}

static int read_fixture(const char *stem, fixture *f) {
    char path[256];
    size_t size, at = 8;
    snprintf(path, sizeof path, "tests/fixtures/train/%s.bin", stem);
    unsigned char *d = read_file(path, &size);
    if (!d || size < 48 || memcmp(d, "MGTRAIN1", 8)) return free(d), 0;
#define U32(x) (memcpy(&(x), d + at, 4), at += 4)
    U32(f->batch), U32(f->seq_len), U32(f->steps);
    for (int i = 0; i < 6; i++) U32(f->hp[i]);
    U32(f->n_tensors);
    f->n = 0;
    if (f->n_tensors > 64) return free(d), 0;
    for (uint32_t i = 0; i < f->n_tensors; i++) {
        uint32_t len;
        if (at + 4 > size) return free(d), 0;
        U32(len);
        if (len > 63 || at + len + 4 > size) return free(d), 0; /* a name, then its count */
        memcpy(f->names[i], d + at, len), f->names[i][len] = 0, at += len;
        U32(f->counts[i]);
        f->n += f->counts[i];
    }
#undef U32
    size_t nt = (size_t)f->steps * f->batch * (f->seq_len + 1);
    if (at + 4 * (nt + 2 * f->steps + 2 * f->n) != size) return free(d), 0;
    /* copied out: the names leave the arrays unaligned */
    f->tokens = malloc(4 * nt), f->losses = malloc(4 * f->steps), f->norms = malloc(4 * f->steps);
    f->grads = malloc(4 * f->n), f->final = malloc(4 * f->n);
    memcpy(f->tokens, d + at, 4 * nt), at += 4 * nt;
    memcpy(f->losses, d + at, 4 * f->steps), at += 4 * f->steps;
    memcpy(f->norms, d + at, 4 * f->steps), at += 4 * f->steps;
    memcpy(f->grads, d + at, 4 * f->n), at += 4 * f->n;
    memcpy(f->final, d + at, 4 * f->n);
    free(d);
    return 1;
}

/* The fixture's AdamW hyperparameters, without dropout. */
static mg_adamw_params fixture_params(const fixture *f, int top_only) {
    return (mg_adamw_params){.lr = f->hp[0], .beta1 = f->hp[1], .beta2 = f->hp[2], .eps = f->hp[3],
                             .weight_decay = f->hp[4], .clip = f->hp[5], .top_only = top_only};
}

/* max |a - b| over n values, relative to max |b| */
static double rel_max(const float *a, const float *b, size_t n) {
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        diff = e > diff || isnan(e) ? e : diff;
        scale = fabs(b[i]) > scale ? fabs(b[i]) : scale;
    }
    return diff / (scale > 0 ? scale : 1);
}

static void check_case(const char *stem, int kernel) {
    fixture f;
    REQUIRE(read_fixture(stem, &f), "%s: fixture missing or malformed", stem);
    size_t size;
    unsigned char *file = read_model_file(stem, &size);
    mg_model_params mp = mg_model_default_params();
    mp.kernel = kernel;
    mg_model *m;
    REQUIRE(file && mg_model_load(file, size, &mp, &m) == MG_OK, "%s: %s", stem, mg_last_error());
    mg_adamw_params p = fixture_params(&f, 0);
    mg_trainer *t;
    REQUIRE(mg_trainer_create(m, &p, &t) == MG_OK, "%s: %s", stem, mg_last_error());
    CHECK(mg_model_n_tensors(m) == (int)f.n_tensors, "%s: %d tensors, the reference has %u", stem,
          mg_model_n_tensors(m), f.n_tensors);
    const float *initial = mg_model_weights(m);
    float *before = malloc(f.n * 4);
    memcpy(before, initial, f.n * 4);

    /* step 0's gradients, tensor by tensor */
    float loss;
    size_t row = (size_t)f.batch * (f.seq_len + 1);
    CHECK(mg_trainer_gradients(t, f.tokens, (int)f.batch, (int)f.seq_len, &loss) == MG_OK, "%s", mg_last_error());
    CHECK(fabs(loss - f.losses[0]) <= 2e-4 * f.losses[0], "%s: loss %.7g, PyTorch %.7g", stem, loss, f.losses[0]);
    CHECK(fabs(mg_trainer_grad_norm(t) - f.norms[0]) <= 1e-4 * f.norms[0], "%s: gradient norm %.7g, PyTorch %.7g",
          stem, mg_trainer_grad_norm(t), f.norms[0]);
    const float *g = mg_trainer_grads(t);
    for (int i = 0; i < mg_model_n_tensors(m) && i < (int)f.n_tensors; i++) {
        const char *name;
        size_t off;
        mg_model_tensor(m, i, &name, NULL, NULL, &off);
        CHECK(!strcmp(name, f.names[i]), "%s: tensor %d is %s, PyTorch's is %s", stem, i, name, f.names[i]);
        double r = rel_max(g + off, f.grads + off, f.counts[i]);
        CHECK(r <= 1e-4, "%s: gradient of %s off by %.3g of its largest value", stem, name, r);
    }

    /* N AdamW steps */
    for (uint32_t s = 0; s < f.steps; s++) {
        CHECK(mg_trainer_step(t, f.tokens + s * row, (int)f.batch, (int)f.seq_len, &loss) == MG_OK, "%s", mg_last_error());
        CHECK(fabs(loss - f.losses[s]) <= 2e-4 * f.losses[s], "%s: step %u loss %.7g, PyTorch %.7g", stem, s, loss,
              f.losses[s]);
    }
    CHECK(mg_trainer_steps(t) == (long)f.steps, "%s: steps", stem);
    const float *w = mg_model_weights(m);
    double change = 0, diff = 0;
    for (size_t i = 0; i < f.n; i++) {
        change = fmax(change, fabs((double)f.final[i] - before[i]));
        diff = fmax(diff, fabs((double)w[i] - f.final[i]));
    }
    /* AdamW divides each moment by the root of the second: where a gradient is tiny, float32 rounding moves its
     * update by up to lr. PyTorch's own float32 run of these cases ends up to 3e-3 of the largest weight change
     * away from its float64 one (printed by tools/train_fixtures.py); allow 5e-3. */
    CHECK(change > 0 && diff <= 5e-3 * change, "%s: final weights off by %.3g (weights moved up to %.3g)", stem, diff,
          change);

    /* the model runs on the trained weights: its logits equal, bit for bit (the same kernels, the same arithmetic),
     * those of a fresh model of the same file given the weights checked above (mg_model_weights), and differ from
     * that model's before */
    size_t nl = (size_t)f.seq_len * mg_model_config(m)->num_tokens;
    mg_model *fresh;
    mg_state *st, *sf;
    REQUIRE(mg_model_load(file, size, &mp, &fresh) == MG_OK && mg_model_make_trainable(fresh, 0) == MG_OK, "%s: %s", stem,
            mg_last_error());
    REQUIRE(mg_state_create(m, &st) == MG_OK && mg_state_create(fresh, &sf) == MG_OK, "%s: %s", stem, mg_last_error());
    float *logits = malloc(nl * 4), *want = malloc(nl * 4), *was = malloc(nl * 4);
    CHECK(mg_lm_forward(m, st, f.tokens, (int)f.seq_len, logits, 1) == MG_OK, "%s", mg_last_error());
    CHECK(mg_lm_forward(fresh, sf, f.tokens, (int)f.seq_len, was, 1) == MG_OK, "%s", mg_last_error());
    memcpy(fresh->params, w, f.n * 4), mg_model_params_changed(fresh);
    mg_state_reset(sf);
    CHECK(mg_lm_forward(fresh, sf, f.tokens, (int)f.seq_len, want, 1) == MG_OK, "%s", mg_last_error());
    CHECK(!memcmp(logits, want, nl * 4), "%s: the trained model's logits are not those of its weights (off by up to %.3g)",
          stem, close_ratio(logits, want, nl, 1, 0));
    CHECK(memcmp(want, was, nl * 4), "%s: the trained weights give the untrained model's logits", stem);

    mg_state_free(st), mg_state_free(sf);
    mg_model_free(fresh);
    free(f.tokens), free(f.losses), free(f.norms), free(f.grads), free(f.final);
    free(logits), free(want), free(was);
    free(before);
    mg_trainer_free(t);
    mg_model_free(m);
    free(file);
}

static void check_errors(void) {
    size_t size;
    unsigned char *file = read_file("tests/fixtures/lm/gru-d32-l2.q8.safetensors", &size);
    mg_model *m;
    REQUIRE(file && mg_model_load(file, size, NULL, &m) == MG_OK, "q8 model: %s", mg_last_error());
    mg_adamw_params p = mg_adamw_default_params();
    mg_trainer *t;
    p.lr = -1;
    CHECK(mg_trainer_create(m, &p, &t) == MG_EINVAL && strstr(mg_last_error(), "lr"), "negative lr: %s", mg_last_error());
    p = mg_adamw_default_params(), p.beta2 = 1;
    CHECK(mg_trainer_create(m, &p, &t) == MG_EINVAL && strstr(mg_last_error(), "beta2"), "beta2 1: %s", mg_last_error());
    CHECK(mg_model_weights(m) == NULL, "a refused trainer leaves the model as it was");
    CHECK(mg_trainer_create(m, NULL, &t) == MG_OK, "%s", mg_last_error());
    CHECK(!mg_model_config(m)->quantized && mg_model_weights(m), "a q8 model trains on F32 weights");
    int32_t tokens[2 * 5] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 300};
    float loss;
    CHECK(mg_trainer_step(t, tokens, 2, 4, &loss) == MG_ERANGE && strstr(mg_last_error(), "300"), "token 300: %s",
          mg_last_error());
    CHECK(mg_trainer_steps(t) == 0, "a refused step takes no step");
    CHECK(mg_trainer_step(t, tokens, 0, 4, &loss) == MG_EINVAL, "batch 0");
    CHECK(mg_trainer_step(t, tokens, 1 << 20, 1 << 20, &loss) == MG_EINVAL, "huge batch: %s", mg_last_error());
    tokens[9] = 10;
    CHECK(mg_trainer_step(t, tokens, 2, 4, &loss) == MG_OK && mg_trainer_steps(t) == 1, "%s", mg_last_error());
    mg_trainer_free(t);
    mg_model_free(m);
    free(file);
}

/* With dropout, the gradient is the loss's: the masks of a step depend on (seed, steps, layer, element) only, so the
 * loss at w +- h is the same function; central differences at each tensor's largest gradient agree within 3%. */
static void check_dropout(void) {
    size_t size;
    unsigned char *file = read_file("tests/fixtures/lm/gru-d24-l3-conv3.safetensors", &size);
    mg_model *m;
    REQUIRE(file && mg_model_load(file, size, NULL, &m) == MG_OK, "%s", mg_last_error());
    mg_adamw_params p = mg_adamw_default_params();
    p.dropout = 0.3f, p.seed = 5;
    mg_trainer *t;
    REQUIRE(mg_trainer_create(m, &p, &t) == MG_OK, "%s", mg_last_error());
    enum { B = 2, T = 12 };
    int32_t tokens[B * (T + 1)];
    for (int i = 0; i < B * (T + 1); i++) tokens[i] = (i * 37 + 11) % mg_model_config(m)->num_tokens;
    float loss, again, other, plain;
    CHECK(mg_trainer_gradients(t, tokens, B, T, &loss) == MG_OK, "%s", mg_last_error());
    size_t n = (size_t)mg_model_config(m)->n_params;
    float *g = malloc(n * sizeof *g);
    memcpy(g, mg_trainer_grads(t), n * sizeof *g);
    CHECK(mg_trainer_gradients(t, tokens, B, T, &again) == MG_OK && again == loss, "the same step draws the same masks");
    p.seed = 6;
    mg_trainer_set_params(t, &p);
    CHECK(mg_trainer_gradients(t, tokens, B, T, &other) == MG_OK && other != loss, "another seed, other masks");
    p.dropout = 0;
    mg_trainer_set_params(t, &p);
    CHECK(mg_trainer_gradients(t, tokens, B, T, &plain) == MG_OK && plain != loss, "dropout changes the loss");
    p.dropout = 0.3f, p.seed = 5;
    mg_trainer_set_params(t, &p);
    int worst = 0;
    for (int k = 0; k < mg_model_n_tensors(m); k++) {
        uint64_t shape[3];
        int ndim;
        size_t off, count = 1, at;
        mg_model_tensor(m, k, NULL, &ndim, shape, &off);
        for (int d = 0; d < ndim; d++) count *= shape[d];
        at = off; /* the tensor's largest |gradient| */
        for (size_t i = off; i < off + count; i++) at = fabsf(g[i]) > fabsf(g[at]) ? i : at;
        float w = m->params[at], h = 1e-2f, up, down;
        m->params[at] = w + h, mg_model_params_changed(m);
        mg_trainer_gradients(t, tokens, B, T, &up);
        m->params[at] = w - h, mg_model_params_changed(m);
        mg_trainer_gradients(t, tokens, B, T, &down);
        m->params[at] = w, mg_model_params_changed(m);
        double fd = ((double)up - down) / (2.0 * h);
        if (fabs(fd - g[at]) > 0.03 * fabs(g[at]) + 1e-4) {
            worst = 1;
            fprintf(stderr, "dropout: tensor %d, parameter %zu: gradient %.6g, finite difference %.6g\n", k, at, g[at], fd);
        }
    }
    CHECK(!worst, "dropout gradients equal the finite differences of the loss");
    p.dropout = 1.0f;
    CHECK(mg_trainer_set_params(t, &p) == MG_EINVAL && strstr(mg_last_error(), "dropout"), "dropout 1: %s", mg_last_error());
    free(g);
    mg_trainer_free(t);
    mg_model_free(m);
    free(file);
}

/* Is tensor `name` in the top of a model of `depth` layers (layers.{depth-1}.3 and .4, norm, to_logits)? */
static int in_top(const char *name, int depth) {
    char norm2[32], ff[32];
    snprintf(norm2, sizeof norm2, "layers.%d.3.", depth - 1);
    snprintf(ff, sizeof ff, "layers.%d.4.", depth - 1);
    return !strncmp(name, norm2, strlen(norm2)) || !strncmp(name, ff, strlen(ff)) || !strcmp(name, "norm.weight") ||
           !strcmp(name, "to_logits.weight");
}

/* The top learning from its input rows alone (mg_trainer_top_gradients): the rows the model's steps leave in
 * scratch.top_in, each sequence stepped from an empty state, give PyTorch's loss and top gradients again. */
static void check_top_rows(const char *stem, mg_model *m, mg_trainer *t, const fixture *f) {
    int B = (int)f->batch, T = (int)f->seq_len, D = m->cfg.dim, N = B * T;
    float *rows = malloc((size_t)N * D * 4), loss;
    int32_t *targets = malloc((size_t)N * 4);
    for (int b = 0; b < B; b++) {
        mg_state *s;
        CHECK(mg_state_create(m, &s) == MG_OK, "%s", mg_last_error());
        for (int i = 0; i < T; i++) {
            const int32_t *row = f->tokens + (size_t)b * (T + 1);
            CHECK(mg_lm_step(m, s, row[i], NULL) == MG_OK, "%s", mg_last_error());
            memcpy(rows + (size_t)(b * T + i) * D, m->scratch.top_in, (size_t)D * 4);
            targets[b * T + i] = row[i + 1];
        }
        mg_state_free(s);
    }
    CHECK(mg_trainer_top_gradients(t, rows, targets, N, &loss) == MG_OK, "%s: %s", stem, mg_last_error());
    CHECK(fabs(loss - f->losses[0]) <= 2e-4 * f->losses[0], "%s: top from rows: loss %.7g, PyTorch %.7g", stem, loss,
          f->losses[0]);
    const float *g = mg_trainer_grads(t);
    for (int i = 0; i < mg_model_n_tensors(m); i++) {
        const char *name;
        size_t off;
        mg_model_tensor(m, i, &name, NULL, NULL, &off);
        double r = in_top(name, m->cfg.depth) ? rel_max(g + off, f->grads + off, f->counts[i]) : 0;
        CHECK(r <= 1e-4, "%s: top from rows: gradient of %s off by %.3g of its largest value", stem, name, r);
    }
    targets[N - 1] = m->cfg.num_tokens;
    CHECK(mg_trainer_top_gradients(t, rows, targets, N, &loss) == MG_ERANGE, "%s: a bad target: %s", stem, mg_last_error());
    CHECK(mg_trainer_top_gradients(t, rows, targets, 0, &loss) == MG_EINVAL, "%s: no rows: %s", stem, mg_last_error());
    free(rows), free(targets);
}

/* top_only: the top's gradients are PyTorch's (the layers below only feed it), the rest gets none and keeps its
 * weights through a step; top_only cannot change on a trainer, nor be other than 0 or 1. */
static void check_top(const char *stem) {
    fixture f;
    REQUIRE(read_fixture(stem, &f), "%s: fixture missing or malformed", stem);
    size_t size;
    unsigned char *file = read_model_file(stem, &size);
    mg_model *m;
    REQUIRE(file && mg_model_load(file, size, NULL, &m) == MG_OK, "%s: %s", stem, mg_last_error());
    mg_adamw_params p = fixture_params(&f, 2);
    mg_trainer *t;
    CHECK(mg_trainer_create(m, &p, &t) == MG_EINVAL && strstr(mg_last_error(), "top_only"), "%s: top_only 2: %s", stem,
          mg_last_error());
    p.top_only = 1;
    REQUIRE(mg_trainer_create(m, &p, &t) == MG_OK, "%s: %s", stem, mg_last_error());
    float *before = malloc(f.n * 4);
    memcpy(before, mg_model_weights(m), f.n * 4);
    float loss;
    CHECK(mg_trainer_gradients(t, f.tokens, (int)f.batch, (int)f.seq_len, &loss) == MG_OK, "%s", mg_last_error());
    CHECK(fabs(loss - f.losses[0]) <= 2e-4 * f.losses[0], "%s: top_only loss %.7g, PyTorch %.7g", stem, loss, f.losses[0]);
    const float *g = mg_trainer_grads(t);
    int tops = 0;
    for (int i = 0; i < mg_model_n_tensors(m); i++) {
        const char *name;
        size_t off;
        mg_model_tensor(m, i, &name, NULL, NULL, &off);
        int top = in_top(name, m->cfg.depth);
        tops += top;
        if (top) {
            double r = rel_max(g + off, f.grads + off, f.counts[i]);
            CHECK(r <= 1e-4, "%s: top_only gradient of %s off by %.3g of its largest value", stem, name, r);
        } else {
            size_t nonzero = 0;
            for (size_t j = 0; j < f.counts[i]; j++) nonzero += g[off + j] != 0.0f;
            CHECK(nonzero == 0, "%s: top_only: %s (frozen) has %zu nonzero gradients", stem, name, nonzero);
        }
    }
    CHECK(tops == 7, "%s: top_only: %d tensors in the top, expected 7", stem, tops);
    check_top_rows(stem, m, t, &f);
    CHECK(mg_trainer_step(t, f.tokens, (int)f.batch, (int)f.seq_len, &loss) == MG_OK, "%s", mg_last_error());
    const float *w = mg_model_weights(m);
    for (int i = 0; i < mg_model_n_tensors(m); i++) {
        const char *name;
        size_t off;
        mg_model_tensor(m, i, &name, NULL, NULL, &off);
        int same = !memcmp(w + off, before + off, f.counts[i] * 4);
        int top = in_top(name, m->cfg.depth);
        CHECK(top ? !same : same, "%s: top_only: %s %s after a step", stem, name, same ? "unchanged" : "changed");
    }
    p.top_only = 0;
    CHECK(mg_trainer_set_params(t, &p) == MG_EINVAL && strstr(mg_last_error(), "top_only is fixed"), "%s: %s", stem,
          mg_last_error());
    mg_trainer_free(t);
    CHECK(mg_trainer_create(m, &p, &t) == MG_OK, "%s: %s", stem, mg_last_error());
    CHECK(mg_trainer_step_top(t, mg_model_weights(m), f.tokens, 1, &loss) == MG_EINVAL && strstr(mg_last_error(), "top_only"),
          "%s: rows on a trainer of everything: %s", stem, mg_last_error());
    mg_trainer_free(t);
    mg_model_free(m);
    free(before), free(file);
    free(f.tokens), free(f.losses), free(f.norms), free(f.grads), free(f.final);
}

/* top_only on a Q8 model: the top's matrices learn as F32 masters and run as int8 again (their views Q8, quantized
 * after each step as tools/convert.py's quantize_rows does, written out again here); the frozen ones keep their
 * bytes; a trainer of everything afterwards makes every view F32. */
static void check_top_q8(const char *stem) {
    size_t size, qsize;
    unsigned char *file = read_model_file(stem, &size);
    mg_model *f32, *m, *ref;
    uint8_t *q8file;
    REQUIRE(file && mg_model_load(file, size, NULL, &f32) == MG_OK, "%s: %s", stem, mg_last_error());
    REQUIRE(mg_model_save(f32, MG_DTYPE_Q8, NULL, 0, &q8file, &qsize) == MG_OK, "%s", mg_last_error());
    REQUIRE(mg_model_load(q8file, qsize, NULL, &m) == MG_OK && m->cfg.quantized, "%s: %s", stem, mg_last_error());
    REQUIRE(mg_model_load(q8file, qsize, NULL, &ref) == MG_OK, "%s: %s", stem, mg_last_error());
    mg_adamw_params p = mg_adamw_default_params();
    p.top_only = 1, p.lr = 1e-2f;
    mg_trainer *t;
    REQUIRE(mg_trainer_create(m, &p, &t) == MG_OK, "%s: %s", stem, mg_last_error());
    int32_t tokens[2 * 17];
    for (int i = 0; i < 2 * 17; i++) tokens[i] = (i * 7 + 3) % m->cfg.num_tokens;
    float loss;
    for (int k = 0; k < 2; k++) CHECK(mg_trainer_step(t, tokens, 2, 16, &loss) == MG_OK, "%s", mg_last_error());
    CHECK(m->cfg.quantized, "%s: a Q8 model learning its top is still quantized", stem);
    const mg_lm_layer *L = &m->layers[m->cfg.depth - 1];
    const mg_matrix *top[] = {&L->ff1, &L->ff2, &m->to_logits};
    for (int i = 0; i < mg_model_n_tensors(m); i++) {
        const mg_tensor_slot *s = &m->tensors[i];
        if (!s->matrix) continue;
        int learns = s->matrix == top[0] || s->matrix == top[1] || s->matrix == top[2];
        const mg_matrix *w = s->matrix, *was = ref->tensors[i].matrix;
        if (!was->q8) continue; /* a matrix the Q8 file stores as floats */
        CHECK(w->q8 && !w->f32, "%s: %s is not Q8 after top-only steps", stem, s->name);
        if (!w->q8) continue;
        int same = !memcmp(w->q8, was->q8, (size_t)w->rows * w->cols) && !memcmp(w->scale, was->scale, (size_t)w->rows * 4);
        CHECK(learns ? !same : same, "%s: %s %s after top-only steps", stem, s->name, same ? "unchanged" : "changed");
        if (!learns) continue;
        const float *master = mg_model_weights(m) + s->offset;
        int bad = 0;
        for (int r = 0; r < w->rows; r++) {
            float amax = 0.0f;
            int32_t sum = 0;
            for (int c = 0; c < w->cols; c++) amax = fmaxf(amax, fabsf(master[(size_t)r * w->cols + c]));
            float scale = amax > 0.0f ? amax / 127.0f : 1.0f;
            for (int c = 0; c < w->cols; c++) {
                float q = fminf(127.0f, fmaxf(-127.0f, rintf(master[(size_t)r * w->cols + c] / scale)));
                bad += w->q8[w->packed ? mg_q8_at(w->rows, w->cols, r, c) : (size_t)r * w->cols + c] != (int8_t)q;
                sum += (int32_t)q;
            }
            bad += w->scale[r] != scale || w->rowsum[r] != sum;
        }
        CHECK(!bad, "%s: %s: %d int8 values, scales or row sums are not the learned weights quantized", stem, s->name, bad);
    }
    mg_trainer *all;
    p.top_only = 0;
    CHECK(mg_trainer_create(m, &p, &all) == MG_OK, "%s: %s", stem, mg_last_error());
    for (int i = 0; i < mg_model_n_tensors(m); i++) {
        const mg_tensor_slot *s = &m->tensors[i];
        if (s->matrix && s->matrix != &m->token_emb)
            CHECK(s->matrix->f32 && !s->matrix->q8, "%s: %s is not F32 once everything learns", stem, s->name);
    }
    CHECK(mg_trainer_step(all, tokens, 2, 16, &loss) == MG_OK && isfinite(loss), "%s: %s", stem, mg_last_error());
    mg_trainer_free(all), mg_trainer_free(t);
    mg_model_free(m), mg_model_free(ref), mg_model_free(f32);
    free(q8file), free(file);
}

/* The coder learning while it codes (mg_coder_set_learner / mg_coder_learn, twice) does exactly what a trainer's
 * mg_trainer_step_top does on the rows the model's steps leave in scratch.top_in, each paired with the token
 * that followed it, the newest row waiting for the next call: the same losses and weights, bit for bit. */
static void check_coder_learning(const char *stem) {
    size_t size;
    unsigned char *file = read_model_file(stem, &size);
    mg_model_params mp = mg_model_default_params();
    mp.kernel = MG_KERNEL_PORTABLE; /* the coder's */
    mg_model *a, *b;
    REQUIRE(file && mg_model_load(file, size, &mp, &a) == MG_OK && mg_model_load(file, size, &mp, &b) == MG_OK, "%s: %s",
            stem, mg_last_error());
    mg_adamw_params p = mg_adamw_default_params();
    p.top_only = 1, p.lr = 1e-2f;
    mg_trainer *ta, *tb;
    REQUIRE(mg_trainer_create(a, &p, &ta) == MG_OK && mg_trainer_create(b, &p, &tb) == MG_OK, "%s", mg_last_error());
    enum { N = 40 };
    int D = a->cfg.dim;
    int32_t tokens[2 * N];
    for (int i = 0; i < 2 * N; i++) tokens[i] = (i * 13 + 5) % a->cfg.num_tokens;
    /* a: the coder, learning after N tokens and after 2N */
    mg_coder *c;
    mg_state *sa, *sb;
    float la[2], lb[2];
    REQUIRE(mg_coder_create(a, NULL, 0, &c) == MG_OK && mg_state_create(a, &sa) == MG_OK, "%s", mg_last_error());
    CHECK(mg_coder_set_learner(c, ta) == MG_OK, "%s", mg_last_error());
    for (int k = 0; k < 2; k++)
        CHECK(mg_coder_encode(c, sa, tokens + k * N, N) == MG_OK && mg_coder_learn(c, &la[k]) == MG_OK, "%s", mg_last_error());
    /* b: the rows of its own steps, then the trainer on rows [0, N-1) and [N-1, 2N-1) */
    float *rows = malloc((size_t)2 * N * D * 4);
    CHECK(mg_state_create(b, &sb) == MG_OK, "%s", mg_last_error());
    for (int i = 0; i < 2 * N; i++) {
        CHECK(mg_lm_step(b, sb, tokens[i], NULL) == MG_OK, "%s", mg_last_error());
        memcpy(rows + (size_t)i * D, b->scratch.top_in, (size_t)D * 4);
    }
    CHECK(mg_trainer_step_top(tb, rows, tokens + 1, N - 1, &lb[0]) == MG_OK, "%s", mg_last_error());
    CHECK(mg_trainer_step_top(tb, rows + (size_t)(N - 1) * D, tokens + N, N, &lb[1]) == MG_OK, "%s", mg_last_error());
    CHECK(la[0] == lb[0] && la[1] == lb[1], "%s: the coder's losses %.9g %.9g, the trainer's %.9g %.9g", stem, la[0], la[1],
          lb[0], lb[1]);
    CHECK(!memcmp(mg_model_weights(a), mg_model_weights(b), (size_t)a->cfg.n_params * 4),
          "%s: the coder's learner and the trainer on the same rows end with other weights", stem);
    CHECK(mg_trainer_steps(ta) == 2, "%s: %ld learning steps, expected 2", stem, mg_trainer_steps(ta));
    mg_trainer *all;
    mg_coder *c2;
    p.top_only = 0;
    REQUIRE(mg_trainer_create(b, &p, &all) == MG_OK && mg_coder_create(a, NULL, 0, &c2) == MG_OK, "%s", mg_last_error());
    CHECK(mg_coder_learn(c2, NULL) == MG_EINVAL, "%s: learning without a learner: %s", stem, mg_last_error());
    CHECK(mg_coder_set_learner(c2, tb) == MG_EMISMATCH, "%s: a learner of another model: %s", stem, mg_last_error());
    mg_coder_free(c2);
    REQUIRE(mg_coder_create(b, NULL, 0, &c2) == MG_OK, "%s", mg_last_error());
    CHECK(mg_coder_set_learner(c2, all) == MG_EINVAL && strstr(mg_last_error(), "top_only"), "%s: %s", stem, mg_last_error());
    mg_coder_free(c2), mg_coder_free(c);
    mg_state_free(sa), mg_state_free(sb);
    mg_trainer_free(all), mg_trainer_free(ta), mg_trainer_free(tb);
    mg_model_free(a), mg_model_free(b);
    free(rows), free(file);
}

/* Channels alike: weights that give every channel of a cell the same inputs (the hidden rows of W_in all one row, the
 * gate rows another, each row of W_out one value, h0 one value) must give every channel the same bits, forward (h)
 * and backward (the gradients of b_in, which for one token are dk itself, and of h0). With 7 channels, the wasm
 * builds take the first four four at a time (internal.h's vector activations) and the last three one at a time: a
 * vector path that computed anything else than the scalar one would show here. One token a trial, since a sum over
 * tokens would hide a difference in the last bit of one term. */
static void check_channels_alike(int cell, int sigmoid) {
    enum { D = 3, DI = 7, TRIALS = 200 };
    int ng = cell == MG_CELL_GRU ? 2 : 3, ld = ng * DI, differ = 0, nonzero = 0;
    mg_kernels k;
    mg_kernels_select(MG_KERNEL_AUTO, &k);
    for (int trial = 0; trial < TRIALS; trial++) {
        float w_in[3 * DI * D], w_out[D * DI], x[D], h0[DI], kproj[3 * DI], dy[D], y[D], hid[DI], row[3][D], col[D], h0v;
        fill_uniform(&row[0][0], sizeof row / sizeof(float), -2.0f, 2.0f), fill_uniform(col, D, -1.0f, 1.0f);
        fill_uniform(&h0v, 1, -1.0f, 2.0f), fill_uniform(x, D, -3.0f, 3.0f), fill_uniform(dy, D, -1.0f, 1.0f);
        for (int j = 0; j < ld; j++) memcpy(w_in + j * D, row[j / DI], sizeof row[0]);
        for (int d = 0; d < D; d++)
            for (int i = 0; i < DI; i++) w_out[d * DI + i] = col[d];
        for (int i = 0; i < DI; i++) h0[i] = h0v;
        for (int j = 0; j < ld; j++) {
            float sum = 0.0f;
            for (int d = 0; d < D; d++) sum += x[d] * w_in[j * D + d];
            kproj[j] = sum;
        }
        mg_cell c = {cell, D, DI, ng, 1, sigmoid, {.f32 = w_in, .rows = ld, .cols = D},
                     {.f32 = w_out, .rows = D, .cols = DI}, NULL, NULL};
        float scratch[4096], gb_in[3 * DI] = {0}, gh0[DI] = {0}, dx[D] = {0};
        REQUIRE(mg_cell_backward_scratch(&c, 1, 1) <= sizeof scratch / sizeof *scratch, "scratch too small");
        mg_cell_run(&c, &k, x, 1, 1, h0, y, hid, scratch, 1);
        mg_cell_grads g = {NULL, gb_in, NULL, NULL, gh0};
        mg_cell_backward(&c, &k, w_in, w_out, x, kproj, 1, 1, h0, dy, dx, &g, scratch, 1);
        for (int i = 1; i < DI; i++) {
            differ += memcmp(&hid[i], &hid[0], sizeof(float)) != 0 || memcmp(&gh0[i], &gh0[0], sizeof(float)) != 0;
            for (int j = 0; j < ng; j++) differ += memcmp(&gb_in[j * DI + i], &gb_in[j * DI], sizeof(float)) != 0;
        }
        nonzero += gb_in[0] != 0.0f && gh0[0] != 0.0f;
    }
    CHECK(differ == 0, "cell %d (sigmoid %d): %d values differ between channels that had the same inputs", cell, sigmoid, differ);
    CHECK(nonzero > TRIALS / 2, "cell %d: the gradients are mostly zero", cell);
}

int main(void) {
    const char *cases[] = {"gru-d32-l2", "gru-d24-l3-conv3", "lstm-d32-l2", "lstm-d16-l2-conv4-e1", "gru-d40-l1-e1",
                           /* the BorealisAI/minRNNs form (tools/minrnns_ref.py's modules) */
                           "minrnns-lstm-h0-ff-d16-l2", "minrnns-lstm-coeffnorm-d16-l2", "minrnns-gru-h0-ff-d16-l2",
                           "minrnns-gru-e1-d16-l2", "minrnns-gru-conv4-ff-d16-l2"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_case(cases[i], MG_KERNEL_AUTO);
    check_case("gru-d24-l3-conv3", MG_KERNEL_REFERENCE);
    mg_set_min_parallel_work(0);
    if (mg_set_threads(2) == MG_OK) {
        check_case("lstm-d16-l2-conv4-e1", MG_KERNEL_AUTO);
        check_case("gru-d32-l2", MG_KERNEL_AUTO);
        mg_set_threads(1);
    }
    check_errors();
    check_dropout();
    check_channels_alike(MG_CELL_GRU, 0);
    check_channels_alike(MG_CELL_LSTM, 0);
    check_channels_alike(MG_CELL_LSTM, 1);
    check_top("gru-d32-l2");
    check_top("gru-d24-l3-conv3");
    check_top("lstm-d32-l2");
    check_coder_learning("gru-d32-l2");
    check_coder_learning("lstm-d32-l2");
    check_top_q8("gru-d32-l2");
    check_top_q8("gru-d24-l3-conv3");
    return check_report("test-train");
}
