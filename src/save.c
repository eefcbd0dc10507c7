/* save.c — models to bytes: save() in F32, F16 or Q8 with the bytes tools/convert.py writes for the same weights,
 * and create(), a new model initialised as PyTorch initialises minLM (written as a file, then loaded). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* float32 -> float16, round to nearest even (numpy's astype(float16)); beyond the range: infinity. */
static uint16_t half_of(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = x >> 16 & 0x8000, a = x & 0x7FFFFFFF;
    if (a > 0x7F800000) return (uint16_t)(sign | 0x7E00);          /* NaN */
    if (a >= 0x477FF000) return (uint16_t)(sign | 0x7C00);         /* rounds to infinity (>= 65520) */
    if (a < 0x38800000) {                                          /* below 2^-14: a multiple of 2^-24 */
        float v;
        memcpy(&v, &a, 4);
        return (uint16_t)(sign | (uint32_t)rintf(v * 16777216.0f)); /* 1024 carries into the exponent */
    }
    uint32_t h = ((a >> 23) - 112) << 10 | (a >> 13 & 0x3FF), rest = a & 0x1FFF;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}


/* The file's metadata with the caller's pairs applied (a NULL value removes a key). */
static int metadata(const mg_model *m, const char *const *kv, int n_kv, mg_meta **out, int *n) {
    mg_meta *meta = calloc((size_t)(m->st.n_meta + n_kv), sizeof *meta);
    if (!meta) return mg_fail(MG_ENOMEM, "out of memory for the metadata");
    int count = 0;
    for (int i = 0; i < m->st.n_meta; i++) meta[count++] = m->st.meta[i];
    for (int j = 0; j < n_kv; j++) {
        const char *key = kv[2 * j], *value = kv[2 * j + 1];
        if (!key) continue;
        int at = 0;
        while (at < count && strcmp(meta[at].key, key)) at++;
        if (value) {
            meta[at] = (mg_meta){(char *)key, (char *)value};
            if (at == count) count++;
        } else if (at < count) {
            memmove(meta + at, meta + at + 1, (size_t)(count - at - 1) * sizeof *meta);
            count--;
        }
    }
    *out = meta, *n = count;
    return MG_OK;
}

static const char *const STRUCTURAL[] = {"format", "version", "cell", "num_tokens", "dim", "depth", "expansion_factor",
                                         "ff_mult", "conv_kernel_size", "tokenizer", "cell_out", "cell_bias", "h0",
                                         "lstm_gates", "norm", "ff", "num_outputs"};

int mg_model_save(const mg_model *m, int dtype, const char *const *kv, int n_kv, uint8_t **out, size_t *size) {
    if (!m || !out || !size || (n_kv && !kv)) return mg_fail(MG_EINVAL, "mg_model_save: NULL argument");
    if (dtype != MG_DTYPE_F32 && dtype != MG_DTYPE_F16 && dtype != MG_DTYPE_Q8)
        return mg_fail(MG_EINVAL, "dtype must be MG_DTYPE_F32, MG_DTYPE_F16 or MG_DTYPE_Q8, got %d", dtype);
    for (int j = 0; j < n_kv; j++)
        for (size_t s = 0; kv[2 * j] && s < sizeof STRUCTURAL / sizeof *STRUCTURAL; s++)
            if (!strcmp(kv[2 * j], STRUCTURAL[s]))
                return mg_fail(MG_EINVAL, "metadata \"%s\" describes the model's structure and cannot be set", kv[2 * j]);
    /* F16 or I8 bytes go to `coded`, then the Q8 scales (one per matrix row) */
    size_t n_floats = (size_t)m->cfg.n_params, rows = 0, at = 0;
    for (int i = 0; i < m->n_tensors; i++) rows += m->tensors[i].q8 ? m->tensors[i].shape[0] : 0;
    size_t scales_at = (n_floats * 2 + 3) & ~(size_t)3;
    mg_tensor_out *t = calloc((size_t)m->n_tensors * 2 + 1, sizeof *t); /* + the q8 scales, the tokenizer */
    float *values = malloc(n_floats * sizeof(float));
    uint8_t *coded = malloc(scales_at + rows * sizeof(float));
    char (*scale_names)[80] = calloc((size_t)m->n_tensors, sizeof *scale_names);
    mg_meta *meta = NULL;
    int n_meta = 0, n = 0, st = MG_OK;
    if (!t || !values || !coded || !scale_names) st = mg_fail(MG_ENOMEM, "out of memory saving the model");
    if (!st) st = metadata(m, kv, n_kv, &meta, &n_meta);
    float *scales = coded ? (float *)(void *)(coded + scales_at) : NULL;
    for (int i = 0; !st && i < m->n_tensors; i++) {
        const mg_tensor_slot *s = &m->tensors[i];
        float *v = values + s->offset;
        mg_tensor_values(s, v);
        mg_tensor_out *o = &t[n++];
        *o = (mg_tensor_out){s->name, MG_DT_F32, s->ndim, {s->shape[0], s->shape[1], s->shape[2]}, v, s->count * 4};
        for (size_t j = 0; dtype != MG_DTYPE_F32 && !st && j < s->count; j++)
            if (!isfinite(v[j]))
                st = mg_fail(MG_EINVAL, "tensor %s has a non-finite value (%g at %zu): it cannot be saved as %s", s->name,
                             v[j], j, dtype == MG_DTYPE_Q8 ? "q8" : "f16");
        if (st) break;
        if (dtype == MG_DTYPE_Q8 && s->q8) {
            int R = (int)s->shape[0], C = (int)(s->count / s->shape[0]);
            int8_t *q = (int8_t *)(coded + at);
            mg_quantize_rows(v, R, C, q, scales, NULL);
            o->dtype = MG_DT_I8, o->data = q, o->bytes = s->count, at += s->count;
            snprintf(scale_names[i], sizeof scale_names[i], "%s.scale", s->name);
            t[n++] = (mg_tensor_out){scale_names[i], MG_DT_F32, 1, {(uint64_t)R, 1, 1}, scales, (size_t)R * 4};
            scales += R;
        } else if (dtype == MG_DTYPE_F16) {
            uint16_t *h = (uint16_t *)(void *)(coded + at);
            for (size_t j = 0; j < s->count; j++) {
                h[j] = half_of(v[j]);
                if ((h[j] & 0x7C00) == 0x7C00)
                    st = mg_fail(MG_EINVAL, "tensor %s has values beyond the float16 range (%g); save as f32 or q8",
                                 s->name, v[j]);
            }
            o->dtype = MG_DT_F16, o->data = h, o->bytes = s->count * 2, at += s->count * 2;
        }
    }
    /* the tokenizer the file carries, its bytes unchanged (written last: U8) */
    const uint8_t *tok_bytes;
    size_t tok_size;
    if (!st && !mg_model_tokenizer(m, &tok_bytes, &tok_size) && tok_bytes)
        t[n++] = (mg_tensor_out){"tokenizer", MG_DT_U8, 1, {(uint64_t)tok_size, 1, 1}, tok_bytes, tok_size};
    if (!st) st = mg_safetensors_write(meta, n_meta, t, n, out, size);
    free(t), free(values), free(coded), free(scale_names), free(meta);
    return st;
}

/* ---- a new model */

mg_create_params mg_create_default_params(void) {
    mg_create_params p = {MG_CELL_GRU, 256, 256, 4, 1.5, 4.0, 0, 0};
    return p;
}

/* Python's repr of a float: the shortest decimal that reads back, with ".0" on whole numbers. */
static void float_repr(double x, char *buf, size_t size) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    if (!strpbrk(buf, ".eEn")) strncat(buf, ".0", size - strlen(buf) - 1);
}

/* N(0, 1) by Box-Muller from two uniforms of the seeded generator. */
static float normal(uint64_t *rng) {
    float u1 = ((float)(mg_rng_u64(rng) >> 40) + 1.0f) / 16777216.0f, u2 = mg_rng_uniform(rng); /* u1 in (0, 1] */
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

int mg_model_create(const mg_create_params *p, const mg_model_params *mp, mg_model **out) {
    if (!p || !out) return mg_fail(MG_EINVAL, "mg_model_create: params and out must not be NULL");
    *out = NULL;
    if (p->cell != MG_CELL_GRU && p->cell != MG_CELL_LSTM) return mg_fail(MG_EINVAL, "cell must be gru or lstm");
    if (p->num_tokens < 1 || p->num_tokens > 1 << 24)
        return mg_fail(MG_EINVAL, "numTokens must be an integer in [1, 2^24], got %d", p->num_tokens);
    if (p->dim < 1 || p->dim > 1 << 16) return mg_fail(MG_EINVAL, "dim must be an integer in [1, 65536], got %d", p->dim);
    if (p->depth < 1 || p->depth > 1024) return mg_fail(MG_EINVAL, "depth must be an integer in [1, 1024], got %d", p->depth);
    if (p->conv_kernel_size < 0 || p->conv_kernel_size == 1 || p->conv_kernel_size > 1024)
        return mg_fail(MG_EINVAL, "convKernelSize must be 0 (no conv) or an integer in [2, 1024], got %d",
                       p->conv_kernel_size);
    int st = mg_dim_inner(p->dim, p->expansion_factor);
    if (st < 0) return mg_fail(st, "expansionFactor: %s", mg_last_error());
    if (!(p->ff_mult > 0) || !isfinite(p->ff_mult) || floor(p->dim * p->ff_mult) < 1 || floor(p->dim * p->ff_mult) > 1 << 20)
        return mg_fail(MG_EINVAL, "ffMult must give a feed-forward width dim * ffMult in [1, 2^20], got %g", p->ff_mult);

    /* the config and its tensor table, as a loaded file would give them */
    mg_model shape = {0};
    mg_config *c = &shape.cfg;
    *c = (mg_config){.cell = p->cell, .num_tokens = p->num_tokens, .dim = p->dim, .depth = p->depth,
                     .expansion_factor = p->expansion_factor, .dim_inner = st, .has_out = p->expansion_factor != 1.0,
                     .ff_mult = p->ff_mult, .ff_inner = (int)floor(p->dim * p->ff_mult),
                     .conv_kernel_size = p->conv_kernel_size, .num_outputs = p->num_tokens};
    if ((st = mg_model_list_tensors(&shape))) {
        free(shape.layers), free(shape.tensors);
        return st;
    }
    size_t n = 0;
    for (int i = 0; i < shape.n_tensors; i++) n += shape.tensors[i].count;
    float *w = n <= MG_MAX_FLOATS ? malloc(n * sizeof(float)) : NULL;
    mg_tensor_out *t = calloc((size_t)shape.n_tensors, sizeof *t);
    if (!w || !t) {
        free(w), free(t), free(shape.layers), free(shape.tensors);
        return mg_fail(MG_ENOMEM, "a model of %zu parameters does not fit in memory", n);
    }
    /* nn.Embedding: N(0, 1); nn.Linear and nn.Conv1d: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), weights and biases;
     * RMSNorm: ones. Tensor by tensor in PyTorch's order from one generator: the same seed, the same model. */
    uint64_t rng = p->seed;
    for (int i = 0; i < shape.n_tensors; i++) {
        const mg_tensor_slot *s = &shape.tensors[i];
        float *v = w + s->offset, bound = s->fan_in ? 1.0f / sqrtf((float)s->fan_in) : 0.0f;
        for (size_t j = 0; j < s->count; j++)
            v[j] = s->init == MG_INIT_ZEROS ? 0.0f : s->init == MG_INIT_ONES ? 1.0f : s->init == MG_INIT_NORMAL ? normal(&rng)
                                                    : (2.0f * mg_rng_uniform(&rng) - 1.0f) * bound;
        t[i] = (mg_tensor_out){s->name, MG_DT_F32, s->ndim, {s->shape[0], s->shape[1], s->shape[2]}, v, s->count * 4};
    }
    char num[9][32];
    snprintf(num[0], 32, "%d", p->num_tokens), snprintf(num[1], 32, "%d", p->dim), snprintf(num[2], 32, "%d", p->depth);
    float_repr(p->expansion_factor, num[3], 32), float_repr(p->ff_mult, num[4], 32);
    snprintf(num[5], 32, "%d", p->conv_kernel_size);
    mg_meta meta[] = {{"format", "mingru"}, {"version", "1"}, {"cell", p->cell ? "lstm" : "gru"},
                      {"num_tokens", num[0]}, {"dim", num[1]}, {"depth", num[2]}, {"expansion_factor", num[3]},
                      {"ff_mult", num[4]}, {"conv_kernel_size", num[5]},
                      {"tokenizer", p->num_tokens == 256 ? "bytes" : "none"}};
    uint8_t *file = NULL;
    size_t size = 0;
    st = mg_safetensors_write(meta, (int)(sizeof meta / sizeof *meta), t, shape.n_tensors, &file, &size);
    free(w), free(t), free(shape.layers), free(shape.tensors);
    if (st) return st;
    mg_model_params lp = mp ? *mp : mg_model_default_params();
    lp.take_ownership = 1;
    if ((st = mg_model_load(file, size, &lp, out))) free(file);
    return st;
}
