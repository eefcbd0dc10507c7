/* train.c — learning: a minibatch through the model keeping what the backward pass needs, the backward pass, the
 * cross-entropy, and torch's clip_grad_norm_ + AdamW over flat arrays laid out as the parameters (m->params,
 * params.c's F32 masters).
 *
 * The forward is the inference code (block.c: mg_mix_forward, mg_ff_forward, mg_head_forward) run over
 * batch x seq_len rows from empty states (h0: zeros, or g(init_hidden_state)); the backward is block.c's beside it.
 * Every form the engine runs trains (minLM; the BorealisAI/minRNNs form: biases, learned h0, sigmoid minLSTM gates,
 * GEGLU or no feed-forward), except folded BatchNorm (batch statistics are not the folded affine) and task heads.
 * Saved per layer (rows N = batch * seq_len): its input x (N, D), the inputs of its two norms x1, x2 (N, D), the
 * cell's projection before the gates (N, G*Di) and the feed-forward's pre-activation (N, F or 2F); the norms'
 * outputs, the GELU and the scan are recomputed in the backward pass.
 * A top_only trainer can also learn from rows given as the last layer's x2 (mg_trainer_step_top: the coder keeps
 * them from its steps): then only that layer's feed-forward and the head run, forward and back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

struct mg_trainer {
    mg_model *m;
    mg_adamw_params p;
    size_t n;              /* parameters */
    size_t from;           /* the first that learns: 0, or with top_only the top's (the tensors after it are the top) */
    float *grad;           /* (n) dL/dparams, laid out as m->params */
    float *m1, *m2;        /* (n) AdamW's first and second moments */
    long steps;
    double beta1_t, beta2_t; /* beta1^steps, beta2^steps: AdamW's bias corrections */
    /* activations for up to `rows` rows (batch x seq_len), grown on demand; one allocation */
    size_t rows, seq_cap;
    float *mem;
    float **xin, **x1, **x2, **kp, **z1; /* per layer (depth + 1 inputs: xin[depth] is the final norm's input) */
    float *logits;         /* (N, V), then the softmax's gradient */
    float *xn, *y, *u, *hid, *proj, *dx, *dxn, *dhid, *dgelu, *win, *dwin, *work, *h0, *dh0;
    int32_t *targets;      /* (rows) each row's next token */
    double *row_loss;      /* (rows) each row's cross-entropy, summed in order (the same for any thread count) */
    double *norm_parts;    /* (n / NORM_BLOCK + 1) the gradient's squared norm, block by block */
};

enum { NORM_BLOCK = 1 << 14 };
/* Training's scans run whole (MG_SCAN_CHUNKS), so a step's arithmetic does not depend on the thread count: the
 * same gradients and weights on 1 or N threads (mg_coder's adaptation relies on it). */

mg_adamw_params mg_adamw_default_params(void) {
    mg_adamw_params p = {1e-3f, 0.9f, 0.999f, 1e-8f, 1e-2f, 0.0f, 0.0f, 0, 0};
    return p;
}

static int check_params(const mg_adamw_params *p) {
    if (!(p->lr > 0) || !isfinite(p->lr)) return mg_fail(MG_EINVAL, "lr must be a positive number, got %g", p->lr);
    if (!(p->beta1 >= 0 && p->beta1 < 1)) return mg_fail(MG_EINVAL, "beta1 must be in [0, 1), got %g", p->beta1);
    if (!(p->beta2 >= 0 && p->beta2 < 1)) return mg_fail(MG_EINVAL, "beta2 must be in [0, 1), got %g", p->beta2);
    if (!(p->eps > 0) || !isfinite(p->eps)) return mg_fail(MG_EINVAL, "eps must be a positive number, got %g", p->eps);
    if (!(p->weight_decay >= 0) || !isfinite(p->weight_decay))
        return mg_fail(MG_EINVAL, "weight_decay must be a number >= 0, got %g", p->weight_decay);
    if (!(p->clip >= 0) || !isfinite(p->clip))
        return mg_fail(MG_EINVAL, "clip must be a number >= 0 (0 = no clipping), got %g", p->clip);
    if (!(p->dropout >= 0 && p->dropout < 1)) return mg_fail(MG_EINVAL, "dropout must be in [0, 1), got %g", p->dropout);
    if (p->top_only != 0 && p->top_only != 1) return mg_fail(MG_EINVAL, "top_only must be 0 or 1, got %d", p->top_only);
    return MG_OK;
}

/* Where the top (the last layer's norm2, ff1, ff2 and their biases, the final norm, the head) starts in params:
 * slot order puts them last. */
static size_t top_offset(const mg_model *m) {
    const mg_lm_layer *L = &m->layers[m->cfg.depth - 1];
    return mg_model_offset(m, m->cfg.ff == MG_FF_NONE ? (const void *)&m->norm : (const void *)&L->norm2);
}

/* The BorealisAI/minRNNs form (mg_config.form): its dropout is their FeedForward's last module, and its RMSNorm is
 * F.normalize(x) sqrt(D) (gamma + 1), whose weight decay acts on gamma = weight - 1. minLM's dropout follows each
 * layer; its norms decay as weights. */
static int minrnns_form(const mg_model *m) { return m->cfg.form == MG_FORM_MINRNNS; }

/* Why this model cannot train (MG_EINVAL), or MG_OK. */
static int trainable(const mg_model *m) {
    const mg_config *c = &m->cfg;
    if (c->norm_affine)
        return mg_fail(MG_EINVAL, "training cannot train this model: its norms are BatchNorm folded into x * weight + bias "
                       "(the BorealisAI/minRNNs form with BatchNorm); training a BatchNorm needs the batch's statistics, "
                       "which the folded affine no longer has");
    if (c->num_outputs != c->num_tokens)
        return mg_fail(MG_EINVAL, "training cannot train this model: its head has %d outputs, not its %d tokens (a task "
                       "model, d_out != vocab_size); training learns to predict the next token", c->num_outputs, c->num_tokens);
    return MG_OK;
}

int mg_trainer_create(mg_model *m, const mg_adamw_params *p, mg_trainer **out) {
    if (!m || !out) return mg_fail(MG_EINVAL, "mg_trainer_create: model and out must not be NULL");
    *out = NULL;
    mg_adamw_params prm = p ? *p : mg_adamw_default_params();
    int st = trainable(m);
    if (st) return st;
    st = check_params(&prm);
    if (st) return st;
    size_t n = (size_t)m->cfg.n_params;
    mg_trainer *t = calloc(1, sizeof *t);
    if (t) {
        t->grad = calloc(n, sizeof(float));
        t->m1 = calloc(n, sizeof(float));
        t->m2 = calloc(n, sizeof(float));
        t->xin = calloc((size_t)m->cfg.depth + 1, sizeof(float *) * 5);
        t->norm_parts = malloc((n / NORM_BLOCK + 1) * sizeof(double));
    }
    if (!t || !t->grad || !t->m1 || !t->m2 || !t->xin || !t->norm_parts) {
        mg_trainer_free(t);
        return mg_fail(MG_ENOMEM, "out of memory for the gradients and AdamW's moments (%zu MB)", 3 * n * 4 >> 20);
    }
    size_t from = prm.top_only ? top_offset(m) : 0;
    if ((st = mg_model_make_trainable(m, from))) {
        mg_trainer_free(t);
        return st;
    }
    int L = m->cfg.depth + 1;
    t->x1 = t->xin + L, t->x2 = t->x1 + L, t->kp = t->x2 + L, t->z1 = t->kp + L;
    t->m = m, t->p = prm, t->n = n, t->from = from, t->beta1_t = 1.0, t->beta2_t = 1.0;
    *out = t;
    return MG_OK;
}

int mg_trainer_set_params(mg_trainer *t, const mg_adamw_params *p) {
    if (!t || !p) return mg_fail(MG_EINVAL, "mg_trainer_set_params: trainer and params must not be NULL");
    int st = check_params(p);
    if (!st && p->top_only != t->p.top_only)
        st = mg_fail(MG_EINVAL, "top_only is fixed when the trainer is made (%d), got %d", t->p.top_only, p->top_only);
    if (!st) t->p = *p;
    return st;
}

const float *mg_trainer_grads(const mg_trainer *t) { return t ? t->grad : NULL; }
long mg_trainer_steps(const mg_trainer *t) { return t ? t->steps : 0; }

void mg_trainer_free(mg_trainer *t) {
    if (!t) return;
    free(t->grad), free(t->m1), free(t->m2), free(t->xin), free(t->mem), free(t->row_loss), free(t->targets);
    free(t->norm_parts);
    free(t);
}

/* ---- memory for batch x seq_len */

/* Lays out (or, with base NULL, only counts) the activation buffers for N rows of sequences of T. */
static uint64_t layout(mg_trainer *t, float *base, uint64_t N, uint64_t T) {
    const mg_config *c = &t->m->cfg;
    uint64_t D = (uint64_t)c->dim, F = (uint64_t)c->ff_inner, V = (uint64_t)c->num_tokens, k = (uint64_t)c->conv_kernel_size;
    /* the sequences' start states g(init_hidden_state), one per row at most (a batch of N rows of one) */
    uint64_t F1 = c->ff == MG_FF_GEGLU ? 2 * F : F, H0 = c->h0_learned ? N * (uint64_t)c->dim_inner : 0;
    const mg_cell *cell = &t->m->layers[0].cell;
    uint64_t G = (uint64_t)cell->n_gates * c->dim_inner, at = 0;
    int chunks = MG_SCAN_CHUNKS;
    /* counted in 64 bits: in wasm32 a large batch's sizes would wrap around size_t (reserve refuses them first) */
#define TAKE(ptr, count) (base ? (ptr) = base + (size_t)at : 0, at += (uint64_t)(count))
    for (int l = 0; l <= c->depth; l++) {
        TAKE(t->xin[l], N * D);
        if (l == c->depth) break;
        TAKE(t->x1[l], N * D), TAKE(t->x2[l], N * D), TAKE(t->kp[l], N * G), TAKE(t->z1[l], N * F1);
    }
    TAKE(t->logits, N * V);
    TAKE(t->xn, N * D), TAKE(t->y, N * D), TAKE(t->u, N * D), TAKE(t->dx, N * D), TAKE(t->dxn, N * D);
    TAKE(t->hid, N * F1), TAKE(t->dhid, N * F), TAKE(t->dgelu, N * F1), TAKE(t->h0, H0), TAKE(t->dh0, H0);
    TAKE(t->proj, mg_cell_scratch(cell, (size_t)N, chunks));
    TAKE(t->win, (T + k) * D), TAKE(t->dwin, (T + k) * D);
    /* the largest scratch of a backward step: the cell's, or a linear layer's (ff, conv, head) */
    uint64_t work = mg_cell_backward_scratch(cell, (int)N, chunks);
    size_t lin[] = {mg_linear_backward_scratch((int)N, (int)F1, (int)D), mg_linear_backward_scratch((int)N, (int)D, (int)F),
                    mg_linear_backward_scratch((int)N, (int)D, (int)D), mg_linear_backward_scratch((int)N, (int)V, (int)D)};
    for (size_t i = 0; i < sizeof lin / sizeof *lin; i++) work = lin[i] > work ? lin[i] : work;
    TAKE(t->work, work);
#undef TAKE
    return at;
}

static int reserve(mg_trainer *t, int batch, int seq_len) {
    size_t N = (size_t)batch * seq_len, T = (size_t)seq_len;
    if (N <= t->rows && T <= t->seq_cap) return MG_OK;
    size_t rows = N > t->rows ? N : t->rows, seq = T > t->seq_cap ? T : t->seq_cap;
    /* every row's widths at most MG_MAX_FLOATS in all: then no scratch size below wraps around a 32-bit size_t */
    const mg_config *c = &t->m->cfg;
    uint64_t widths = (uint64_t)c->dim + (uint64_t)t->m->layers[0].cell.n_gates * c->dim_inner + 2 * (uint64_t)c->ff_inner + c->num_tokens;
    uint64_t floats = (uint64_t)rows * widths > MG_MAX_FLOATS ? (uint64_t)rows * widths : layout(t, NULL, rows, seq);
    float *mem = floats <= MG_MAX_FLOATS ? malloc((size_t)floats * sizeof(float)) : NULL;
    double *row_loss = mem ? malloc(rows * sizeof(double)) : NULL;
    int32_t *targets = row_loss ? malloc(rows * sizeof(int32_t)) : NULL;
    if (!targets) free(mem), free(row_loss), mem = NULL;
    if (!mem)
        return mg_fail(MG_ENOMEM, "training on batch %d x seq_len %d needs at least %llu MB of activations and scratch, which "
                       "could not be allocated (the weights, gradients and moments take %llu MB more); use a smaller "
                       "batch or seq_len", batch, seq_len, (unsigned long long)(floats >> 18), (unsigned long long)((uint64_t)t->n >> 16));
    free(t->mem), free(t->row_loss), free(t->targets);
    t->mem = mem, t->row_loss = row_loss, t->targets = targets, t->rows = rows, t->seq_cap = seq;
    layout(t, mem, rows, seq);
    return MG_OK;
}

/* ---- the passes */

/* Dropout after layer l: out *= keep ? 1 / (1 - p) : 0, where element i is kept unless a uniform number drawn from
 * (seed, step, l, i) alone is below p (so the backward pass draws the same mask again, and threads cannot change it). */
typedef struct {
    float *out;
    uint64_t key;
    float p, scale;
} dropout_job;

static void dropout_range(void *c, size_t i0, size_t i1) {
    const dropout_job *j = c;
    for (size_t i = i0; i < i1; i++) {
        uint64_t s = j->key ^ ((uint64_t)i * 0xD6E8FEB86659FD93u);
        j->out[i] = mg_rng_uniform(&s) < j->p ? 0.0f : j->out[i] * j->scale;
    }
}

static void dropout(const mg_trainer *t, int l, float *x, size_t n) {
    if (t->p.dropout <= 0) return;
    uint64_t key = ((uint64_t)t->p.seed << 32 | (uint32_t)t->steps) * 0x9E3779B97F4A7C15u + (uint64_t)l * 0xBF58476D1CE4E5B9u;
    dropout_job j = {x, key, t->p.dropout, 1.0f / (1.0f - t->p.dropout)};
    mg_pool_for(dropout_range, &j, n, n * 2 * sizeof(float));
}

/* Layer l's dropout as block.c's hook on the feed-forward's output (the BorealisAI/minRNNs form). */
typedef struct {
    const mg_trainer *t;
    int l;
} ff_drop;

static void ff_dropout(void *c, float *x, size_t n) {
    const ff_drop *d = c;
    dropout(d->t, d->l, x, n);
}

/* Rows [r0, r1) of the softmax cross-entropy: row_loss[r] = log sum exp(z) - z[target]; z becomes dL/dz =
 * (softmax(z) - onehot(target)) / N. */
typedef struct {
    mg_trainer *t;
    int N;
} ce_job;

static void cross_entropy_rows(void *c, size_t r0, size_t r1) {
    const ce_job *j = c;
    int V = j->t->m->cfg.num_tokens, N = j->N;
    for (size_t r = r0; r < r1; r++) {
        float *z = j->t->logits + r * V, mx = z[0];
        int target = j->t->targets[r];
        for (int v = 1; v < V; v++) mx = z[v] > mx ? z[v] : mx;
        float zt = z[target];
        double sum = 0.0;
        for (int v = 0; v < V; v++) sum += (z[v] = expf(z[v] - mx)); /* z: exp(logit - max) */
        j->t->row_loss[r] = (double)logf((float)sum) + mx - zt;
        float scale = (float)(1.0 / sum / N);
        for (int v = 0; v < V; v++) z[v] *= scale;
        z[target] -= 1.0f / (float)N;
    }
}

/* The working memory of block.c's forward over the trainer's rows. */
static mg_block_work work_of(const mg_trainer *t) {
    return (mg_block_work){.xn = t->xn, .y = t->y, .u = t->u, .window = t->win, .hidden = t->hid, .proj = t->proj,
                           .h0 = t->m->cfg.h0_learned ? t->h0 : NULL};
}

/* Where layer l's dropout goes: after the layer (minLM), or on the feed-forward's output (minRNNs: ff_drop). */
static int drop_after(const mg_trainer *t) { return t->p.dropout > 0 && !minrnns_form(t->m); }
static int drop_in_ff(const mg_trainer *t) { return t->p.dropout > 0 && minrnns_form(t->m); }

/* Layer l over B sequences of T rows, each from an empty state: xin[l + 1] = layer(xin[l]), keeping x1, x2, the
 * cell's projection and the feed-forward's pre-activation; dropout where the model's form has it. */
static void layer_forward(mg_trainer *t, int l, int B, int T) {
    mg_model *m = t->m;
    size_t ND = (size_t)B * T * m->cfg.dim;
    mg_block_work w = work_of(t);
    ff_drop drop = {t, l};
    mg_block_keep keep = {t->x1[l], t->kp[l], t->x2[l], t->z1[l], drop_in_ff(t) ? ff_dropout : NULL, &drop};
    memcpy(t->xin[l + 1], t->xin[l], ND * sizeof(float));
    mg_mix_forward(m, &m->layers[l], B, T, t->xin[l + 1], NULL, NULL, &w, &keep);
    mg_ff_forward(m, &m->layers[l], B * T, t->xin[l + 1], &w, &keep);
    if (drop_after(t)) dropout(t, l, t->xin[l + 1], ND);
}

/* logits = to_logits(norm(x)) over N rows; returns the mean cross-entropy against t->targets and leaves
 * dL/dlogits = (softmax - onehot(target)) / N in t->logits. */
static double head_forward(mg_trainer *t, int N) {
    mg_model *m = t->m;
    int V = m->cfg.num_tokens;
    mg_head_forward(m, N, t->xin[m->cfg.depth], t->xn, t->logits);
    ce_job ce = {t, N};
    mg_pool_for(cross_entropy_rows, &ce, (size_t)N, (size_t)N * V * sizeof(float) * 4);
    double loss = 0.0;
    for (int r = 0; r < N; r++) loss += t->row_loss[r];
    return loss / N;
}

/* The forward pass over B rows of T inputs (each row of `tokens` holds T + 1: the inputs, then the targets
 * shifted by one), saving the activations. */
static double forward(mg_trainer *t, const int32_t *tokens, int B, int T) {
    mg_model *m = t->m;
    int D = m->cfg.dim, Di = m->cfg.dim_inner, N = B * T;
    for (int r = 0; r < N; r++) t->targets[r] = tokens[(size_t)(r / T) * (T + 1) + r % T + 1];
    for (int s = 0; s < B; s++) mg_embed(m, tokens + (size_t)s * (T + 1), T, t->xin[0] + (size_t)s * T * D);
    for (int l = 0; l < m->cfg.depth; l++) {
        /* each sequence starts from h0 = g(init_hidden_state) (a learned h0) */
        for (int s = 0; m->cfg.h0_learned && s < B; s++)
            for (int i = 0; i < Di; i++) t->h0[(size_t)s * Di + i] = mg_g(m->layers[l].h0_init[i]);
        layer_forward(t, l, B, T);
    }
    return head_forward(t, N);
}

/* The backward pass: gradients of every parameter into t->grad (zeroed first), layer by layer from the top (with
 * top_only, the last layer's feed-forward alone). */
static void backward(mg_trainer *t, const int32_t *tokens, int B, int T) {
    mg_model *m = t->m;
    const mg_config *c = &m->cfg;
    int D = c->dim, Di = c->dim_inner, N = B * T;
    memset(t->grad + t->from, 0, (t->n - t->from) * sizeof(float));
    mg_block_work w = work_of(t);
    ff_drop drop = {t, 0};
    mg_block_back b = {t->grad, t->dxn, t->dhid, t->dgelu, t->dwin, t->dh0, t->work, drop_in_ff(t) ? ff_dropout : NULL, &drop};
    mg_head_backward(m, N, t->xin[c->depth], t->logits, t->dx, &w, &b);
    for (int l = c->depth - 1; l >= 0; l--) {
        const mg_lm_layer *L = &m->layers[l];
        drop.l = l;
        if (drop_after(t)) dropout(t, l, t->dx, (size_t)N * D); /* the same mask again */
        mg_ff_backward(m, L, N, t->x2[l], t->z1[l], t->dx, &w, &b);
        if (t->from) return; /* top_only: nothing below learns */
        for (int s = 0; c->h0_learned && s < B; s++)
            for (int i = 0; i < Di; i++) t->h0[(size_t)s * Di + i] = mg_g(L->h0_init[i]);
        mg_mix_backward(m, L, B, T, t->xin[l], t->x1[l], t->kp[l], t->dx, &w, &b);
    }
    /* x = token_emb[inputs]: scatter the rows back */
    float *gemb = t->grad + mg_model_offset(m, &m->token_emb);
    for (int r = 0; r < N; r++) {
        const float *d = t->dx + (size_t)r * D;
        float *row = gemb + (size_t)tokens[(size_t)(r / T) * (T + 1) + r % T] * D;
        for (int i = 0; i < D; i++) row[i] += d[i];
    }
}

/* torch.nn.utils.clip_grad_norm_(params, clip): scale by min(1, clip / (norm + 1e-6)); then torch.optim.AdamW:
 *   p *= 1 - lr wd;  m1 = b1 m1 + (1 - b1) g;  m2 = b2 m2 + (1 - b2) g^2;
 *   p -= lr / (1 - b1^t) * m1 / (sqrt(m2) / sqrt(1 - b2^t) + eps) */
typedef struct {
    mg_trainer *t;
    float scale, step_size, bc2_sqrt, decay;
} adamw_job;

static void adamw_range(void *c, size_t i0, size_t i1) {
    const adamw_job *j = c;
    const mg_trainer *t = j->t;
    /* in locals and restrict: the loop's stores cannot change them, and the compiler vectorizes it */
    const float b1 = t->p.beta1, b2 = t->p.beta2, eps = t->p.eps, scale = j->scale, decay = j->decay;
    const float step_size = j->step_size, bc2_sqrt = j->bc2_sqrt;
    float *restrict w = t->m->params + t->from, *restrict m1 = t->m1 + t->from, *restrict m2 = t->m2 + t->from;
    const float *restrict grad = t->grad + t->from;
    for (size_t i = i0; i < i1; i++) {
        float g = grad[i] * scale;
        float wi = w[i] * decay;
        float a = m1[i] * b1 + g * (1.0f - b1), b = m2[i] * b2 + g * g * (1.0f - b2);
        m1[i] = a, m2[i] = b;
        w[i] = wi - step_size * a / (sqrtf(b) / bc2_sqrt + eps);
    }
}

/* Whether slot s is one of the model's RMSNorm weights. */
static int is_norm(const mg_model *m, const mg_tensor_slot *s) {
    if (s->vector == &m->norm) return 1;
    for (int l = 0; l < m->cfg.depth; l++)
        if (s->vector == &m->layers[l].norm1 || s->vector == &m->layers[l].norm2) return 1;
    return 0;
}

/* The minRNNs form's RMSNorm weights are gamma + 1, and AdamW's decoupled decay acts on gamma: after the step's
 * w (1 - lr wd) - update, add lr wd, which gives gamma (1 - lr wd) - update + 1. */
static void decay_gamma(mg_trainer *t) {
    mg_model *m = t->m;
    float lr_wd = t->p.lr * t->p.weight_decay;
    if (!minrnns_form(m) || lr_wd == 0.0f) return;
    for (int i = 0; i < m->n_tensors; i++) {
        const mg_tensor_slot *s = &m->tensors[i];
        if (s->offset < t->from || !is_norm(m, s)) continue;
        for (size_t j = 0; j < s->count; j++) m->params[s->offset + j] += lr_wd;
    }
}

static void adamw(mg_trainer *t) {
    const mg_adamw_params *p = &t->p;
    float scale = 1.0f;
    if (p->clip > 0) {
        float coef = (float)(p->clip / (mg_trainer_grad_norm(t) + 1e-6));
        scale = coef < 1.0f ? coef : 1.0f;
    }
    t->steps++;
    t->beta1_t *= p->beta1, t->beta2_t *= p->beta2; /* beta^steps, as the betas were at each step */
    double bc1 = 1.0 - t->beta1_t, bc2 = 1.0 - t->beta2_t;
    adamw_job j = {t, scale, (float)(p->lr / bc1), (float)sqrt(bc2), 1.0f - p->lr * p->weight_decay};
    mg_pool_for(adamw_range, &j, t->n - t->from, (t->n - t->from) * 4 * sizeof(float));
    decay_gamma(t);
    mg_model_params_changed(t->m);
}

/* The gradient's squared norm over blocks [b0, b1) of NORM_BLOCK parameters (from t->from: the rest is zero). */
static void norm_blocks(void *c, size_t b0, size_t b1) {
    mg_trainer *t = c;
    for (size_t b = b0; b < b1; b++) {
        size_t i0 = t->from + b * NORM_BLOCK, i1 = i0 + NORM_BLOCK < t->n ? i0 + NORM_BLOCK : t->n;
        double ss = 0.0;
        for (size_t i = i0; i < i1; i++) ss += (double)t->grad[i] * t->grad[i];
        t->norm_parts[b] = ss;
    }
}

/* The gradient's global norm (of t->grad, which the step leaves as it is: computed when asked for, or when the
 * step clips). */
double mg_trainer_grad_norm(const mg_trainer *t) {
    if (!t) return 0.0;
    size_t blocks = (t->n - t->from + NORM_BLOCK - 1) / NORM_BLOCK;
    mg_pool_for(norm_blocks, (void *)t, blocks, (t->n - t->from) * sizeof(float)); /* writes t->norm_parts only */
    double ss = 0.0;
    for (size_t b = 0; b < blocks; b++) ss += t->norm_parts[b];
    return sqrt(ss);
}

static int check_batch(const mg_trainer *t, const int32_t *tokens, int batch, int seq_len) {
    if (!t || !tokens) return mg_fail(MG_EINVAL, "trainer and tokens must not be NULL");
    if (batch < 1 || seq_len < 1) return mg_fail(MG_EINVAL, "batch and seq_len must be >= 1, got %d and %d", batch, seq_len);
    if ((long long)batch * seq_len > (1 << 24)) return mg_fail(MG_EINVAL, "batch x seq_len must be <= 2^24, got %d x %d", batch, seq_len);
    int V = t->m->cfg.num_tokens;
    for (size_t i = 0; i < (size_t)batch * (seq_len + 1); i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return mg_fail(MG_ERANGE, "token %d at position %zu (row %zu, column %zu) is outside [0, %d)", (int)tokens[i],
                           i, i / (size_t)(seq_len + 1), i % (size_t)(seq_len + 1), V);
    return MG_OK;
}

int mg_trainer_gradients(mg_trainer *t, const int32_t *tokens, int batch, int seq_len, float *loss) {
    int st = check_batch(t, tokens, batch, seq_len);
    if (!st) st = reserve(t, batch, seq_len);
    if (st) return st;
    double l = forward(t, tokens, batch, seq_len);
    backward(t, tokens, batch, seq_len);
    if (loss) *loss = (float)l;
    return MG_OK;
}

int mg_trainer_step(mg_trainer *t, const int32_t *tokens, int batch, int seq_len, float *loss) {
    int st = mg_trainer_gradients(t, tokens, batch, seq_len, loss);
    if (st) return st;
    adamw(t);
    return MG_OK;
}

/* The top alone, from the rows that enter it: they stand in the last layer's x2, then its feed-forward and
 * the head run forward and back (backward stops below the top: it never reads tokens). */
int mg_trainer_top_gradients(mg_trainer *t, const float *rows, const int32_t *targets, int n, float *loss) {
    if (!t || !rows || !targets) return mg_fail(MG_EINVAL, "mg_trainer_top_gradients: trainer, rows and targets must not be NULL");
    if (!t->p.top_only) return mg_fail(MG_EINVAL, "learning from the top's rows needs a trainer made with top_only = 1");
    if (n < 1 || n > (1 << 24)) return mg_fail(MG_EINVAL, "the number of rows must be in [1, 2^24], got %d", n);
    int V = t->m->cfg.num_tokens, D = t->m->cfg.dim, last = t->m->cfg.depth - 1;
    for (int i = 0; i < n; i++)
        if (targets[i] < 0 || targets[i] >= V)
            return mg_fail(MG_ERANGE, "target %d of row %d is outside [0, %d)", (int)targets[i], i, V);
    int st = reserve(t, 1, n);
    if (st) return st;
    memcpy(t->x2[last], rows, (size_t)n * D * sizeof(float));
    memcpy(t->targets, targets, (size_t)n * sizeof(int32_t));
    mg_block_work w = work_of(t);
    ff_drop drop = {t, last};
    mg_block_keep keep = {.z1 = t->z1[last], .drop = drop_in_ff(t) ? ff_dropout : NULL, .drop_ctx = &drop};
    memcpy(t->xin[last + 1], rows, (size_t)n * D * sizeof(float));
    mg_ff_forward(t->m, &t->m->layers[last], n, t->xin[last + 1], &w, &keep);
    if (drop_after(t)) dropout(t, last, t->xin[last + 1], (size_t)n * D);
    double l = head_forward(t, n);
    backward(t, NULL, 1, n);
    if (loss) *loss = (float)l;
    return MG_OK;
}

int mg_trainer_step_top(mg_trainer *t, const float *rows, const int32_t *targets, int n, float *loss) {
    int st = mg_trainer_top_gradients(t, rows, targets, n, loss);
    if (st) return st;
    adamw(t);
    return MG_OK;
}

const mg_model *mg_trainer_model(const mg_trainer *t) { return t ? t->m : NULL; }
int mg_trainer_top_only(const mg_trainer *t) { return t && t->p.top_only; }
