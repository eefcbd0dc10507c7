/* state.c — a sequence's recurrent state: create, clone, reset, and its byte form.
 *
 * Saved form (little-endian, as wasm and x86 are): "MGST", u32 version 1, u64 model identity,
 * u32 depth, dim_inner, dim, conv_kernel_size, num_outputs, u64 n_tokens, then float32 h [depth*Di],
 * float32 conv [depth*(k-1)*D], float32 logits [num_outputs] and int32 recent [MG_RECENT].
 * An empty state's h is h0: zeros, or g(init_hidden_state) per layer for models that learned it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define STATE_MAGIC "MGST"
#define STATE_HEADER 44

static size_t n_h(const mg_model *m) { return (size_t)m->cfg.depth * m->cfg.dim_inner; }
static size_t n_conv(const mg_model *m) {
    int k = m->cfg.conv_kernel_size;
    return k > 1 ? (size_t)m->cfg.depth * (size_t)(k - 1) * m->cfg.dim : 0;
}
/* The floats of a state: h, then conv, then logits, in one buffer. */
static size_t n_floats(const mg_model *m) { return n_h(m) + n_conv(m) + (size_t)m->cfg.num_outputs; }

/* h0: g(init_hidden_state) of every layer (h0_learned), else zeros; the rest of the state zeros. */
static void empty(mg_state *s) {
    const mg_model *m = s->model;
    int Di = m->cfg.dim_inner;
    memset(s->floats, 0, n_floats(m) * sizeof(float));
    memset(s->recent, 0, sizeof s->recent);
    s->n_tokens = 0;
    for (int l = 0; m->cfg.h0_learned && l < m->cfg.depth; l++) {
        const float *init = m->layers[l].h0_init;
        float *h = s->h + (size_t)l * Di;
        for (int i = 0; i < Di; i++) h[i] = mg_g(init[i]);
    }
}

int mg_state_create(const mg_model *m, mg_state **out) {
    if (!m || !out) return mg_fail(MG_EINVAL, "mg_state_create: model and out must not be NULL");
    mg_state *s = calloc(1, sizeof *s);
    float *f = calloc(n_floats(m), sizeof(float));
    if (!s || !f) {
        free(s);
        free(f);
        return mg_fail(MG_ENOMEM, "out of memory for a state");
    }
    *s = (mg_state){.model = m, .floats = f, .h = f, .conv = f + n_h(m), .logits = f + n_h(m) + n_conv(m)};
    empty(s);
    *out = s;
    return MG_OK;
}

int mg_state_reset(mg_state *s) {
    if (!s) return mg_fail(MG_EINVAL, "mg_state_reset: state is NULL");
    empty(s);
    return MG_OK;
}

int mg_state_copy(mg_state *dst, const mg_state *src) {
    if (!dst || !src) return mg_fail(MG_EINVAL, "mg_state_copy: states must not be NULL");
    if (dst->model != src->model) return mg_fail(MG_EMISMATCH, "mg_state_copy: the states belong to different models");
    memcpy(dst->floats, src->floats, n_floats(src->model) * sizeof(float));
    memcpy(dst->recent, src->recent, sizeof src->recent);
    dst->n_tokens = src->n_tokens;
    return MG_OK;
}

int mg_state_clone(const mg_state *s, mg_state **out) {
    if (!s || !out) return mg_fail(MG_EINVAL, "mg_state_clone: state and out must not be NULL");
    int st = mg_state_create(s->model, out);
    return st ? st : mg_state_copy(*out, s);
}

uint64_t mg_state_tokens(const mg_state *s) { return s ? s->n_tokens : 0; }

const float *mg_state_logits(const mg_state *s) { return s && s->n_tokens ? s->logits : NULL; }

int mg_state_copy_logits(const mg_state *s, float *out) {
    if (!s || !out) return mg_fail(MG_EINVAL, "mg_state_copy_logits: state and out must not be NULL");
    if (!s->n_tokens) return mg_fail(MG_EINVAL, "the state is empty: it has no logits yet");
    memcpy(out, s->logits, (size_t)s->model->cfg.num_outputs * sizeof(float));
    return MG_OK;
}

void mg_state_free(mg_state *s) {
    if (!s) return;
    free(s->floats);
    free(s);
}

/* ---- the byte form */

size_t mg_state_save_size(const mg_state *s) {
    if (!s) return 0;
    const mg_model *m = s->model;
    return STATE_HEADER + 4 * (n_h(m) + n_conv(m) + (size_t)m->cfg.num_outputs + MG_RECENT);
}

static uint8_t *put_u32(uint8_t *p, uint32_t v) {
    memcpy(p, &v, 4);
    return p + 4;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v) {
    memcpy(p, &v, 8);
    return p + 8;
}

static uint32_t get_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

int mg_state_save(const mg_state *s, void *buf, size_t size) {
    if (!s || !buf) return mg_fail(MG_EINVAL, "mg_state_save: state and buffer must not be NULL");
    if (size != mg_state_save_size(s))
        return mg_fail(MG_EINVAL, "mg_state_save: the buffer is %zu bytes, a state takes %zu", size, mg_state_save_size(s));
    const mg_config *c = &s->model->cfg;
    uint8_t *p = buf;
    memcpy(p, STATE_MAGIC, 4);
    p = put_u32(p + 4, 1);
    p = put_u64(p, c->identity);
    p = put_u32(p, (uint32_t)c->depth);
    p = put_u32(p, (uint32_t)c->dim_inner);
    p = put_u32(p, (uint32_t)c->dim);
    p = put_u32(p, (uint32_t)c->conv_kernel_size);
    p = put_u32(p, (uint32_t)c->num_outputs);
    p = put_u64(p, s->n_tokens);
    memcpy(p, s->h, n_h(s->model) * 4), p += n_h(s->model) * 4;
    memcpy(p, s->conv, n_conv(s->model) * 4), p += n_conv(s->model) * 4;
    memcpy(p, s->logits, (size_t)c->num_outputs * 4), p += (size_t)c->num_outputs * 4;
    memcpy(p, s->recent, sizeof s->recent);
    return MG_OK;
}

static int all_finite(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float f;
        memcpy(&f, p + 4 * i, 4);
        if (!isfinite(f)) return 0;
    }
    return 1;
}

int mg_state_load(const mg_model *m, const void *buf, size_t size, mg_state **out) {
    if (!m || !buf || !out) return mg_fail(MG_EINVAL, "mg_state_load: model, buffer and out must not be NULL");
    *out = NULL;
    const mg_config *c = &m->cfg;
    const uint8_t *p = buf;
    if (size < STATE_HEADER || memcmp(p, STATE_MAGIC, 4))
        return mg_fail(MG_EBADFILE, "not a saved mingru state (%zu bytes, no MGST header)", size);
    if (get_u32(p + 4) != 1) return mg_fail(MG_EBADFILE, "saved state has version %u, this engine reads version 1", get_u32(p + 4));
    if (get_u64(p + 8) != c->identity)
        return mg_fail(MG_EMISMATCH, "the state belongs to another model (identity %016llx, this model is %016llx)",
                       (unsigned long long)get_u64(p + 8), (unsigned long long)c->identity);
    if (get_u32(p + 16) != (uint32_t)c->depth || get_u32(p + 20) != (uint32_t)c->dim_inner ||
        get_u32(p + 24) != (uint32_t)c->dim || get_u32(p + 28) != (uint32_t)c->conv_kernel_size ||
        get_u32(p + 32) != (uint32_t)c->num_outputs)
        return mg_fail(MG_EBADFILE, "saved state's sizes do not match the model's");
    size_t want = STATE_HEADER + 4 * (n_h(m) + n_conv(m) + (size_t)c->num_outputs + MG_RECENT);
    if (size != want) return mg_fail(MG_EBADFILE, "saved state is %zu bytes, this model's take %zu", size, want);
    const uint8_t *f = p + STATE_HEADER, *recent = f + 4 * (n_h(m) + n_conv(m) + (size_t)c->num_outputs);
    if (!all_finite(f, n_h(m) + n_conv(m) + (size_t)c->num_outputs))
        return mg_fail(MG_EBADFILE, "saved state holds a NaN or infinity");
    for (int i = 0; i < MG_RECENT; i++) {
        int32_t t;
        memcpy(&t, recent + 4 * i, 4);
        if (t < 0 || t >= c->num_outputs) return mg_fail(MG_EBADFILE, "saved state holds token id %d, out of range", (int)t);
    }
    mg_state *s;
    int st = mg_state_create(m, &s);
    if (st) return st;
    s->n_tokens = get_u64(p + 36);
    memcpy(s->h, f, n_h(m) * 4), f += n_h(m) * 4;
    memcpy(s->conv, f, n_conv(m) * 4), f += n_conv(m) * 4;
    memcpy(s->logits, f, (size_t)c->num_outputs * 4);
    memcpy(s->recent, recent, sizeof s->recent);
    *out = s;
    return MG_OK;
}
