/* lm.c — the language model's passes (minGRU-pytorch's minLM):
 *
 *   x = token_emb[tokens]
 *   per layer:  x = conv(x) + x                  (optional causal depthwise conv, then pointwise)
 *               x = cell(rmsnorm1(x)) + x        (minGRU or minLSTM, state carried in s->h)
 *               x = ff(rmsnorm2(x)) + x          (Linear -> GELU -> Linear)
 *   logits = to_logits(rmsnorm(x))
 *
 * A prefill runs in blocks of MG_BLOCK tokens; each block is one parallel pass (matrix products over all
 * its rows, the chunked scan over time) that starts from the state the previous block left. step is a
 * block of one token. Nothing here allocates: the model owns the scratch. */
#include <math.h>
#include <string.h>

#include "model.h"

/* torch.nn.RMSNorm(dim): out = x * r * w with r = rsqrt(mean(x^2) + eps), eps = float32 machine epsilon. */
#define RMS_EPS 1.1920928955078125e-07f
void mg_rmsnorm(float *out, const float *x, const float *w, int T, int D) {
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * D;
        float *ot = out + (size_t)t * D;
        float ss = 0.0f;
        for (int i = 0; i < D; i++) ss += xt[i] * xt[i];
        float r = 1.0f / sqrtf(ss / (float)D + RMS_EPS);
        for (int i = 0; i < D; i++) ot[i] = xt[i] * r * w[i];
    }
}

/* dw += dout * x * r;  dx += r * (dout * w) - x * r^3 / D * sum(dout * w * x) */
void mg_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w, int T, int D) {
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * D, *gt = dout + (size_t)t * D;
        float *dxt = dx + (size_t)t * D;
        double ss = 0.0, dot = 0.0;
        for (int i = 0; i < D; i++) ss += (double)xt[i] * xt[i], dot += (double)gt[i] * w[i] * xt[i];
        float r = 1.0f / sqrtf((float)(ss / D) + RMS_EPS), c = (float)(dot / D) * r * r * r;
        for (int i = 0; i < D; i++) {
            dw[i] += gt[i] * xt[i] * r;
            dxt[i] += r * gt[i] * w[i] - c * xt[i];
        }
    }
}

/* A norm of the model: RMSNorm (weight), or x * weight + bias (a folded BatchNorm: norm_affine). */
static void norm(const mg_model *m, float *out, const float *x, const float *w, const float *b, int T, int D) {
    if (!m->cfg.norm_affine) {
        mg_rmsnorm(out, x, w, T, D);
        return;
    }
    for (size_t i = 0, n = (size_t)T * D; i < n; i++) out[i] = x[i] * w[i % D] + b[i % D];
}

static void add(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

/* x = token_emb[tokens] (an int8 row is scaled back to floats). Its backward, a scatter-add into the
 * embedding's gradient rows, is one line in train.c. */
void mg_embed(const mg_model *m, const int32_t *tokens, int T, float *x) {
    const mg_matrix *e = &m->token_emb;
    int D = e->cols;
    for (int t = 0; t < T; t++) {
        float *xt = x + (size_t)t * D;
        if (e->q8) {
            const int8_t *q = e->q8 + (size_t)tokens[t] * D;
            float s = e->scale[tokens[t]];
            for (int i = 0; i < D; i++) xt[i] = (float)q[i] * s;
        } else {
            memcpy(xt, e->f32 + (size_t)tokens[t] * D, (size_t)D * sizeof(float));
        }
    }
}

/* The causal depthwise conv over a window of k-1 earlier inputs then T new ones (rows of D):
 *   u_t = b_dw + sum_j w_dw[:, j] * win_{t+j}     (win_{t+k-1} is input t) */
void mg_conv_depthwise(const mg_lm_layer *L, int D, int k, const float *win, int T, float *u) {
    for (int t = 0; t < T; t++) {
        float *ut = u + (size_t)t * D;
        for (int c = 0; c < D; c++) {
            float acc = L->conv_dw_b[c];
            for (int j = 0; j < k; j++) acc += L->conv_dw[(size_t)c * k + j] * win[(size_t)(t + j) * D + c];
            ut[c] = acc;
        }
    }
}

/* dtaps[:, j] += sum_t du_t * win_{t+j};  dbias += sum_t du_t;  dwin_{t+j} += du_t * w_dw[:, j] */
void mg_conv_depthwise_backward(const mg_lm_layer *L, int D, int k, const float *win, int T, const float *du,
                                float *dwin, float *dtaps, float *dbias) {
    for (int t = 0; t < T; t++) {
        const float *dut = du + (size_t)t * D;
        for (int c = 0; c < D; c++) {
            dbias[c] += dut[c];
            for (int j = 0; j < k; j++) {
                dtaps[(size_t)c * k + j] += dut[c] * win[(size_t)(t + j) * D + c];
                dwin[(size_t)(t + j) * D + c] += dut[c] * L->conv_dw[(size_t)c * k + j];
            }
        }
    }
}

/* x = conv(x) + x over T rows, where the conv sees the layer's last k-1 inputs (kept in `past`) first:
 *   u = depthwise(past, x);  x_t += u_t W_pw^T + b_pw   (pointwise) */
static void conv_block(const mg_model *m, const mg_lm_layer *L, float *x, int T, float *past) {
    const mg_scratch *s = &m->scratch;
    int D = m->cfg.dim, k = m->cfg.conv_kernel_size;
    float *win = s->window; /* rows: k-1 past inputs, then the T new ones */
    memcpy(win, past, (size_t)(k - 1) * D * sizeof(float));
    memcpy(win + (size_t)(k - 1) * D, x, (size_t)T * D * sizeof(float));
    mg_conv_depthwise(L, D, k, win, T, s->xn);
    mg_linear_act(&m->kernels, &L->conv_pw, T, s->xn, D, s->y, D, L->conv_pw_b, MG_ACT_NONE);
    add(x, s->y, (size_t)T * D);
    memcpy(past, win + (size_t)T * D, (size_t)(k - 1) * D * sizeof(float));
}

/* One parallel pass over T <= MG_BLOCK tokens from state s; logits for every row (all) or the last. */
static void run_block(mg_model *m, mg_state *st, const int32_t *tokens, int T, float *logits, int all) {
    const mg_config *c = &m->cfg;
    const mg_scratch *s = &m->scratch;
    int D = c->dim, F = c->ff_inner, k = c->conv_kernel_size;
    float *x = s->x;

    mg_embed(m, tokens, T, x);
    for (int l = 0; l < c->depth; l++) {
        const mg_lm_layer *L = &m->layers[l];
        /* x = conv(x) + x */
        if (k) conv_block(m, L, x, T, st->conv + (size_t)l * (k - 1) * D);
        /* x = cell(norm1(x), h) + x */
        norm(m, s->xn, x, L->norm1, L->norm1_b, T, D);
        float *h = st->h + (size_t)l * c->dim_inner;
        mg_cell_run(&L->cell, &m->kernels, s->xn, 1, T, h, s->y, h, s->cell, MG_SCAN_CHUNKS);
        add(x, s->y, (size_t)T * D);
        if (l == c->depth - 1) memcpy(s->top_in, x + (size_t)(T - 1) * D, (size_t)D * sizeof(float));
        /* x = ff(norm2(x)) + x,  ff = Linear(D, F) -> GELU -> Linear(F, D), or GEGLU, or none */
        if (c->ff == MG_FF_NONE) continue;
        norm(m, s->xn, x, L->norm2, L->norm2_b, T, D);
        if (c->ff == MG_FF_GEGLU) {
            /* [u | gate] = Linear(D, 2F);  u * gelu(gate) * mult_bias */
            mg_linear_act(&m->kernels, &L->ff1, T, s->xn, D, s->hidden, 2 * F, L->ff1_b, MG_ACT_NONE);
            for (int t = 0; t < T; t++) {
                float *u = s->hidden + (size_t)t * 2 * F, *out = s->hidden + (size_t)t * F;
                for (int i = 0; i < F; i++) out[i] = u[i] * mg_gelu(u[F + i]) * L->ff_mult_bias[i];
            }
        } else {
            mg_linear_act(&m->kernels, &L->ff1, T, s->xn, D, s->hidden, F, L->ff1_b, MG_ACT_GELU);
        }
        mg_linear_act(&m->kernels, &L->ff2, T, s->hidden, F, s->y, D, L->ff2_b, MG_ACT_NONE);
        add(x, s->y, (size_t)T * D);
    }
    /* logits = to_logits(norm(x)), for every row or only the last */
    int first = all ? 0 : T - 1, Vo = c->num_outputs;
    norm(m, s->xn, x + (size_t)first * D, m->norm, m->norm_b, T - first, D);
    mg_linear(&m->kernels, &m->to_logits, T - first, s->xn, D, all ? logits : st->logits, Vo);
    if (all) memcpy(st->logits, logits + (size_t)(T - 1) * Vo, (size_t)Vo * sizeof(float));

    for (int t = 0; t < T; t++) st->recent[(st->n_tokens + (uint64_t)t) % MG_RECENT] = tokens[t];
    st->n_tokens += (uint64_t)T;
}

int mg_lm_forward(mg_model *m, mg_state *s, const int32_t *tokens, int n, float *logits, int all_logits) {
    if (!m || !s || (!tokens && n)) return mg_fail(MG_EINVAL, "mg_lm_forward: model, state and tokens must not be NULL");
    if (s->model != m) return mg_fail(MG_EMISMATCH, "mg_lm_forward: the state belongs to another model");
    if (n <= 0) return mg_fail(MG_EINVAL, "mg_lm_forward: needs at least one token, got %d", n);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->cfg.num_tokens)
            return mg_fail(MG_ERANGE, "token %d at position %d is outside [0, %d)", (int)tokens[i], i, m->cfg.num_tokens);
    int V = m->cfg.num_outputs;
    for (int at = 0; at < n; at += MG_BLOCK) {
        int T = n - at < MG_BLOCK ? n - at : MG_BLOCK;
        run_block(m, s, tokens + at, T, all_logits && logits ? logits + (size_t)at * V : NULL, all_logits && logits);
    }
    if (logits && !all_logits) memcpy(logits, s->logits, (size_t)V * sizeof(float));
    return MG_OK;
}

int mg_lm_step(mg_model *m, mg_state *s, int32_t token, float *logits) {
    return mg_lm_forward(m, s, &token, 1, logits, 0);
}

int mg_lm_generate_next(mg_model *m, mg_state *s, const mg_sampler_params *p, uint64_t *rng, int32_t *token) {
    if (!m || !s || !p || !rng || !token) return mg_fail(MG_EINVAL, "mg_lm_generate_next: NULL argument");
    if (s->model != m) return mg_fail(MG_EMISMATCH, "mg_lm_generate_next: the state belongs to another model");
    if (!s->n_tokens) return mg_fail(MG_EINVAL, "mg_lm_generate_next: the state is empty; feed a prompt first");
    if (m->cfg.num_outputs != m->cfg.num_tokens)
        return mg_fail(MG_EINVAL, "this model's %d outputs are not its %d tokens (a task model, d_out != vocab_size): it "
                       "does not predict its next token, so it cannot generate", m->cfg.num_outputs, m->cfg.num_tokens);
    /* the state's recent tokens, oldest first, from its ring */
    int32_t recent[MG_RECENT];
    int n = s->n_tokens < MG_RECENT ? (int)s->n_tokens : MG_RECENT;
    for (int j = 0; j < n; j++) recent[j] = s->recent[(s->n_tokens - (uint64_t)n + (uint64_t)j) % MG_RECENT];
    int32_t t;
    int st = mg_sample(s->logits, m->cfg.num_tokens, recent, n, p, m->scratch.probs, m->scratch.order, rng, &t);
    if (st) return st;
    *token = t;
    return mg_lm_step(m, s, t, NULL);
}
