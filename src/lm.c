/* lm.c — the language model's passes over a state: forward (a prefill, in blocks), step, generate.
 *
 * A prefill runs in blocks of MG_BLOCK tokens; each block is one parallel pass of block.c's layers (matrix
 * products over all its rows, the scan over time) that starts from the state the previous block left. step is a
 * block of one token. Steps, and blocks, run on the calling thread alone where the model says so (mg_model_set_threads).
 * Nothing here allocates: the model owns the scratch. */
#include <string.h>

#include "model.h"

/* One parallel pass over T <= MG_BLOCK tokens from state st; logits for every row (all) or the last. */
static void run_block(mg_model *m, mg_state *st, const int32_t *tokens, int T, float *logits, int all) {
    const mg_config *c = &m->cfg;
    const mg_scratch *s = &m->scratch;
    int D = c->dim, k = c->conv_kernel_size;
    mg_block_work w = {.xn = s->xn, .y = s->y, .u = s->xn, .window = s->window, .hidden = s->hidden, .proj = s->cell};
    mg_embed(m, tokens, T, s->x);
    for (int l = 0; l < c->depth; l++) {
        const mg_lm_layer *L = &m->layers[l];
        float *past = k ? st->conv + (size_t)l * (k - 1) * D : NULL;
        /* Without every row's logits, the last layer's output is needed for the last row alone: the state takes every
         * row's scan, but the cell's output projection, the residual, the feed-forward and the head run from the last
         * row's group of MG_TILE_ROWS on (18% fewer multiply-adds in a block of the demo model), which gives the last
         * row the bits it gets when every row is computed. */
        w.out_from = l == c->depth - 1 && !all ? (T - 1) / MG_TILE_ROWS * MG_TILE_ROWS : 0;
        mg_mix_forward(m, L, 1, T, s->x, st->h + (size_t)l * c->dim_inner, past, &w, NULL);
        if (l == c->depth - 1) memcpy(s->top_in, s->x + (size_t)(T - 1) * D, (size_t)D * sizeof(float));
        mg_ff_forward(m, L, T - w.out_from, s->x + (size_t)w.out_from * D, &w, NULL);
    }
    /* logits = to_logits(norm(x)), for every row or the last row's group; the last row's are the state's (a step's
     * straight into it) */
    int first = w.out_from, Vo = c->num_outputs;
    float *out = all ? logits : first == T - 1 ? st->logits : s->head;
    mg_head_forward(m, T - first, s->x + (size_t)first * D, s->xn, out);
    if (out != st->logits) memcpy(st->logits, out + (size_t)(T - 1 - first) * Vo, (size_t)Vo * sizeof(float));

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
        int was = mg_pool_serial((T == 1 ? m->step_threads : m->block_threads) == 1); /* one thread where that is faster */
        run_block(m, s, tokens + at, T, all_logits && logits ? logits + (size_t)at * V : NULL, all_logits && logits);
        mg_pool_serial(was);
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
