/* model.c — a language model from a .safetensors buffer: the config from __metadata__, every tensor
 * checked against it by name, dtype and shape, weights bound as views (in place) or converted copies,
 * and the scratch every pass reuses. Nothing is used before everything is checked. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

mg_model_params mg_model_default_params(void) {
    mg_model_params p = {MG_KERNEL_AUTO, 0};
    return p;
}

const char *mg_model_meta(const mg_model *m, const char *key) {
    if (!m || !key) return NULL;
    for (int i = 0; i < m->st.n_meta; i++)
        if (!strcmp(m->st.meta[i].key, key)) return m->st.meta[i].value;
    return NULL;
}

int mg_model_tokenizer(const mg_model *m, const uint8_t **bytes, size_t *size) {
    if (!m || !bytes || !size) return mg_fail(MG_EINVAL, "mg_model_tokenizer: NULL argument");
    const mg_tensor_info *t = mg_safetensors_find(&m->st, "tokenizer");
    *bytes = t ? m->st.data + t->begin : NULL;
    *size = t ? (size_t)(t->end - t->begin) : 0;
    return MG_OK;
}

int mg_model_meta_count(const mg_model *m) { return m ? m->st.n_meta : 0; }

const char *mg_model_meta_key(const mg_model *m, int i) {
    return m && i >= 0 && i < m->st.n_meta ? m->st.meta[i].key : NULL;
}

const mg_config *mg_model_config(const mg_model *m) { return m ? &m->cfg : NULL; }

int mg_model_set_threads(mg_model *m, int step_threads, int block_threads) {
    if (!m || (step_threads != 0 && step_threads != 1) || (block_threads != 0 && block_threads != 1))
        return mg_fail(MG_EINVAL, "mg_model_set_threads: threads must be 1 (the calling thread) or 0 (the pool), got %d and %d",
                       step_threads, block_threads);
    m->step_threads = step_threads;
    m->block_threads = block_threads;
    return MG_OK;
}

/* ---- the config */

static int meta_int(const mg_model *m, const char *key, long lo, long hi, int *out) {
    const char *v = mg_model_meta(m, key);
    if (!v) return mg_fail(MG_EBADFILE, "__metadata__ lacks \"%s\"", key);
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < lo || x > hi)
        return mg_fail(MG_EBADFILE, "__metadata__ \"%s\" is \"%.40s\", not an integer in [%ld, %ld]", key, v, lo, hi);
    *out = (int)x;
    return MG_OK;
}

static int meta_num(const mg_model *m, const char *key, double *out) {
    const char *v = mg_model_meta(m, key);
    if (!v) return mg_fail(MG_EBADFILE, "__metadata__ lacks \"%s\"", key);
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x) || x <= 0)
        return mg_fail(MG_EBADFILE, "__metadata__ \"%s\" is \"%.40s\", not a positive number", key, v);
    *out = x;
    return MG_OK;
}

static int meta_is(const mg_model *m, const char *key, const char *a, const char *b, int *which) {
    const char *v = mg_model_meta(m, key);
    if (!v) return mg_fail(MG_EBADFILE, "__metadata__ lacks \"%s\"", key);
    if (!strcmp(v, a)) return *which = 0, MG_OK;
    if (b && !strcmp(v, b)) return *which = 1, MG_OK;
    return mg_fail(MG_EBADFILE, "__metadata__ \"%s\" is \"%.40s\", not \"%s\"%s%s%s", key, v, a, b ? " or \"" : "",
                   b ? b : "", b ? "\"" : "");
}

/* An optional key: absent gives 0; else one of the n words (its index). */
static int meta_word(const mg_model *m, const char *key, const char *const *words, int n, int *which) {
    const char *v = mg_model_meta(m, key);
    *which = 0;
    if (!v) return MG_OK;
    for (int i = 0; i < n; i++)
        if (!strcmp(v, words[i])) return *which = i, MG_OK;
    char list[128] = "";
    for (int i = 0; i < n; i++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", i ? ", " : "", words[i]);
    return mg_fail(MG_EBADFILE, "__metadata__ \"%s\" is \"%.40s\", not one of %s", key, v, list);
}

/* The keys of the BorealisAI/minRNNs form (docs/format.md), each optional with minLM's meaning as default. */
static int read_minrnns_config(mg_model *m) {
    mg_config *c = &m->cfg;
    static const char *const cell_out[] = {"auto", "always"}, *const bias[] = {"0", "1"}, *const h0[] = {"zeros", "learned"},
                             *const gates[] = {"normalized", "sigmoid"}, *const norm[] = {"rms", "affine"},
                             *const ff[] = {"gelu", "geglu", "none"};
    int st, always;
    if ((st = meta_word(m, "cell_out", cell_out, 2, &always))) return st;
    if ((st = meta_word(m, "cell_bias", bias, 2, &c->cell_bias))) return st;
    if ((st = meta_word(m, "h0", h0, 2, &c->h0_learned))) return st;
    if ((st = meta_word(m, "lstm_gates", gates, 2, &c->lstm_sigmoid))) return st;
    if ((st = meta_word(m, "norm", norm, 2, &c->norm_affine))) return st;
    if ((st = meta_word(m, "ff", ff, 3, &c->ff))) return st;
    if (c->lstm_sigmoid && c->cell != MG_CELL_LSTM) return mg_fail(MG_EBADFILE, "__metadata__ \"lstm_gates\" is for minLSTM cells, not minGRU");
    c->has_out = c->has_out || always;
    c->num_outputs = c->num_tokens;
    if (mg_model_meta(m, "num_outputs") && (st = meta_int(m, "num_outputs", 1, 1 << 24, &c->num_outputs))) return st;
    c->form = mg_model_minrnns_feature(m) ? MG_FORM_MINRNNS : MG_FORM_MINLM;
    return MG_OK;
}

/* __metadata__ "tokenizer" and the "tokenizer" tensor agree (docs/format.md): "tokenizer.json" and
 * "sentencepiece" come with the tokenizer file's bytes as a U8 [n] tensor; "bytes" and "none" without it.
 * (Whether its vocabulary fits num_tokens is the converter's check and the JS tokenizer's: C never reads it.) */
static int read_tokenizer(mg_model *m) {
    static const char *const kinds[] = {"none", "bytes", "tokenizer.json", "sentencepiece"}; /* MG_TOKENIZER_* */
    mg_config *c = &m->cfg;
    const char *v = mg_model_meta(m, "tokenizer");
    if (!v) return mg_fail(MG_EBADFILE, "__metadata__ lacks \"tokenizer\"");
    c->tokenizer = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(v, kinds[i])) c->tokenizer = i;
    if (c->tokenizer < 0)
        return mg_fail(MG_EBADFILE, "__metadata__ \"tokenizer\" is \"%.40s\", not one of \"none\", \"bytes\", "
                       "\"tokenizer.json\", \"sentencepiece\"", v);
    if (c->tokenizer == MG_TOKENIZER_BYTES && c->num_tokens != 256)
        return mg_fail(MG_EBADFILE, "tokenizer \"bytes\" needs num_tokens 256, the file says %d", c->num_tokens);
    const mg_tensor_info *t = mg_safetensors_find(&m->st, "tokenizer");
    int carried = c->tokenizer == MG_TOKENIZER_JSON || c->tokenizer == MG_TOKENIZER_SENTENCEPIECE;
    if (carried && !t)
        return mg_fail(MG_EBADFILE, "__metadata__ \"tokenizer\" is \"%s\" but the file has no tensor tokenizer "
                       "(the tokenizer file's bytes, U8)", v);
    if (!carried && t)
        return mg_fail(MG_EBADFILE, "the file has a tensor tokenizer but __metadata__ \"tokenizer\" is \"%s\" "
                       "(a file that carries its tokenizer says \"tokenizer.json\" or \"sentencepiece\")", v);
    if (t && (t->dtype != MG_DT_U8 || t->ndim != 1 || t->shape[0] == 0))
        return mg_fail(MG_EBADFILE, "tensor tokenizer (__metadata__ \"tokenizer\" \"%s\") must be U8 of shape [n], "
                       "n > 0: the tokenizer file's bytes", v);
    return MG_OK;
}

static int read_config(mg_model *m) {
    mg_config *c = &m->cfg;
    int st, dummy;
    if ((st = meta_is(m, "format", "mingru", NULL, &dummy))) return st;
    if ((st = meta_is(m, "version", "1", NULL, &dummy))) return st;
    if ((st = meta_is(m, "cell", "gru", "lstm", &c->cell))) return st;
    if ((st = meta_int(m, "num_tokens", 1, 1 << 24, &c->num_tokens))) return st;
    if ((st = meta_int(m, "dim", 1, 1 << 16, &c->dim))) return st;
    if ((st = meta_int(m, "depth", 1, 1024, &c->depth))) return st;
    if ((st = meta_num(m, "expansion_factor", &c->expansion_factor))) return st;
    if ((st = meta_num(m, "ff_mult", &c->ff_mult))) return st;
    if ((st = meta_int(m, "conv_kernel_size", 0, 1024, &c->conv_kernel_size))) return st;
    if ((st = read_tokenizer(m))) return st;
    c->dim_inner = mg_dim_inner(c->dim, c->expansion_factor);
    if (c->dim_inner < 0) return mg_fail(MG_EBADFILE, "__metadata__: %s", mg_last_error());
    c->has_out = c->expansion_factor != 1.0;
    double ff = floor((double)c->dim * c->ff_mult);
    if (ff < 1 || ff > (double)(1 << 20)) return mg_fail(MG_EBADFILE, "__metadata__: dim * ff_mult gives %g", ff);
    c->ff_inner = (int)ff;
    return read_minrnns_config(m);
}

/* ---- tensors */

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = h >> 10 & 31, man = h & 1023, bits;
    if (exp == 31) bits = sign | 0x7F800000u | man << 13;            /* inf, nan */
    else if (exp) bits = sign | (exp + 112) << 23 | man << 13;       /* normal */
    else if (!man) bits = sign;                                      /* zero */
    else {                                                           /* subnormal: renormalise */
        int e = -1;
        do man <<= 1, e++; while (!(man & 1024));
        bits = sign | (uint32_t)(112 - e) << 23 | (man & 1023) << 13;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void *mg_model_own(mg_model *m, size_t bytes) {
    void **list = realloc(m->owned, sizeof *list * (size_t)(m->n_owned + 1));
    if (!list) return NULL;
    m->owned = list;
    void *p = malloc(bytes ? bytes : 1);
    if (p) m->owned[m->n_owned++] = p;
    return p;
}

/* Claims tensor `name` with exactly the given shape (dims of `shape`, ndim of them). */
static int claim(mg_model *m, const char *name, int ndim, const uint64_t *shape, mg_tensor_info **out) {
    mg_tensor_info *t = mg_safetensors_find(&m->st, name);
    if (!t) return mg_fail(MG_EBADFILE, "tensor %s is missing", name);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char want[96] = "", got[96] = "";
        for (int i = 0; i < ndim; i++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%llu", i ? ", " : "", (unsigned long long)shape[i]);
        for (int i = 0; i < t->ndim; i++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", i ? ", " : "", (unsigned long long)t->shape[i]);
        return mg_fail(MG_ESHAPE, "tensor %s has shape [%s], the config needs [%s]", name, got, want);
    }
    t->used = 1;
    *out = t;
    return MG_OK;
}

/* F32 values of a tensor: in place when aligned, else a converted copy (F16, BF16, unaligned F32). */
static int floats_of(mg_model *m, mg_tensor_info *t, const float **out) {
    const uint8_t *src = m->st.data + t->begin;
    size_t n = (size_t)((t->end - t->begin) / (t->dtype == MG_DT_F32 ? 4 : 2));
    if (t->dtype == MG_DT_I8) return mg_fail(MG_EBADFILE, "tensor %s is I8, which is only allowed for matrices", t->name);
    if (t->dtype == MG_DT_U8) return mg_fail(MG_EBADFILE, "tensor %s is U8, which is only allowed for the tokenizer", t->name);
    if (t->dtype == MG_DT_F32 && ((uintptr_t)src & 3) == 0) {
        *out = (const float *)(const void *)src;
        return MG_OK;
    }
    float *dst = mg_model_own(m, n * sizeof(float));
    if (!dst) return mg_fail(MG_ENOMEM, "out of memory converting tensor %s", t->name);
    for (size_t i = 0; i < n; i++) {
        if (t->dtype == MG_DT_F32) {
            memcpy(dst + i, src + 4 * i, 4);
        } else {
            uint16_t h = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
            if (t->dtype == MG_DT_F16) {
                dst[i] = half_to_float(h);
            } else {
                uint32_t bits = (uint32_t)h << 16;
                memcpy(dst + i, &bits, 4);
            }
        }
    }
    *out = dst;
    return MG_OK;
}

static int vector(mg_model *m, const char *name, uint64_t n, const float **out) {
    mg_tensor_info *t = NULL;
    int st = claim(m, name, 1, &n, &t);
    return st ? st : floats_of(m, t, out);
}


/* The sum of each row of an int8 matrix [rows, cols] (the relaxed kernel's offset: docs/kernels.md). */
static void q8_row_sums(const int8_t *q8, int rows, int cols, int32_t *out) {
    for (int r = 0; r < rows; r++) {
        int32_t sum = 0;
        for (int c = 0; c < cols; c++) sum += q8[(size_t)r * cols + c];
        out[r] = sum;
    }
}

static uint64_t identity_of(const uint8_t *p, size_t n);

/* The loops of a load over the whole file or every weight are called through these pointers, so that no compiler
 * inlines them into mg_model_load (binaryen inlines a function called once, whatever C says): V8 compiles again with
 * its optimizing tier any function that has run a while, in the background, and with these loops inside,
 * mg_model_load, a large function that never runs again, was compiled for 40-150 ms (2026-12-07, Node 20, 2 busy
 * cores) ahead of the functions load()'s warm-up makes hot (js/warm.js). Alone, each loop is small and quick to
 * compile. */
static uint64_t (*volatile const identity_loop)(const uint8_t *p, size_t n) = identity_of;
static void (*volatile const row_sums_loop)(const int8_t *q8, int rows, int cols, int32_t *out) = q8_row_sums;

/* A matrix [rows, cols] (extra trailing dims of size 1 allowed, e.g. a pointwise conv [D, D, 1]):
 * floats, or I8 with its F32 NAME.scale [rows]. */
static int matrix(mg_model *m, const char *name, int rows, int cols, int ndim, mg_matrix *w) {
    uint64_t shape[3] = {(uint64_t)rows, (uint64_t)cols, 1};
    mg_tensor_info *t = NULL;
    int st = claim(m, name, ndim, shape, &t);
    if (st) return st;
    w->rows = rows, w->cols = cols;
    if (t->dtype != MG_DT_I8) return floats_of(m, t, &w->f32);
    char scale_name[MG_MAX_NAME + 16];
    snprintf(scale_name, sizeof scale_name, "%s.scale", name);
    mg_tensor_info *s = mg_safetensors_find(&m->st, scale_name);
    if (!s) return mg_fail(MG_EBADFILE, "tensor %s is I8 but %s is missing", name, scale_name);
    if (s->dtype != MG_DT_F32) return mg_fail(MG_EBADFILE, "tensor %s must be F32", scale_name);
    if ((st = vector(m, scale_name, (uint64_t)rows, &w->scale))) return st;
    w->q8 = (const int8_t *)(m->st.data + t->begin);
    int32_t *rowsum = mg_model_own(m, (size_t)rows * sizeof *rowsum);
    if (!rowsum) return mg_fail(MG_ENOMEM, "out of memory for the row sums of %s", name);
    row_sums_loop(w->q8, rows, cols, rowsum);
    w->rowsum = rowsum;
    m->cfg.quantized = 1;
    return MG_OK;
}

/* The model's tensors in PyTorch's order (the views they bind are set up here too). */
int mg_model_list_tensors(mg_model *m) {
    const mg_config *c = &m->cfg;
    int D = c->dim, V = c->num_tokens, Di = c->dim_inner, F = c->ff_inner, k = c->conv_kernel_size;
    int G = c->cell == MG_CELL_GRU ? 2 : 3;
    m->layers = calloc((size_t)c->depth, sizeof *m->layers);
    m->tensors = calloc((size_t)c->depth * 19 + 4, sizeof *m->tensors);
    if (!m->layers || !m->tensors) return mg_fail(MG_ENOMEM, "out of memory for %d layers", c->depth);
    int n = 0;
#define SLOT(view_matrix, view_vector, init_, fan, nd, d0, d1, d2, ...)                                         \
    do {                                                                                                        \
        mg_tensor_slot *t = &m->tensors[n++];                                                                   \
        *t = (mg_tensor_slot){.ndim = nd, .shape = {d0, d1, d2}, .count = (size_t)(d0) * (d1) * (d2),           \
                              .init = init_, .fan_in = fan, .matrix = view_matrix, .vector = view_vector,        \
                              .q8 = view_matrix != NULL, .name = {0}};                                           \
        snprintf(t->name, sizeof t->name, __VA_ARGS__);                                                         \
    } while (0)
    int Vo = c->num_outputs, F2 = c->ff == MG_FF_GEGLU ? 2 * F : F;
    SLOT(&m->token_emb, NULL, MG_INIT_NORMAL, 0, 2, V, D, 1, "token_emb.weight");
    for (int i = 0; i < c->depth; i++) {
        mg_lm_layer *L = &m->layers[i];
        L->cell = (mg_cell){.cell = c->cell, .dim = D, .dim_inner = Di, .n_gates = G, .has_out = c->has_out, .sigmoid = c->lstm_sigmoid};
        if (k) {
            SLOT(NULL, &L->conv_dw, MG_INIT_UNIFORM, k, 3, D, 1, k, "layers.%d.0.net.0.weight", i);
            SLOT(NULL, &L->conv_dw_b, MG_INIT_UNIFORM, k, 1, D, 1, 1, "layers.%d.0.net.0.bias", i);
            SLOT(&L->conv_pw, NULL, MG_INIT_UNIFORM, D, 3, D, D, 1, "layers.%d.0.net.1.weight", i);
            m->tensors[n - 1].q8 = 0; /* docs/format.md: q8 files keep the conv in F32 */
            SLOT(NULL, &L->conv_pw_b, MG_INIT_UNIFORM, D, 1, D, 1, 1, "layers.%d.0.net.1.bias", i);
        }
        const char *proj = c->cell == MG_CELL_GRU ? "to_hidden_and_gate" : "to_hidden_and_f_i_gate";
        SLOT(NULL, &L->norm1, MG_INIT_ONES, 0, 1, D, 1, 1, "layers.%d.1.weight", i);
        if (c->norm_affine) SLOT(NULL, &L->norm1_b, MG_INIT_ZEROS, 0, 1, D, 1, 1, "layers.%d.1.bias", i);
        if (c->h0_learned) SLOT(NULL, &L->h0_init, MG_INIT_NORMAL, 0, 1, Di, 1, 1, "layers.%d.2.init_hidden_state", i);
        SLOT(&L->cell.w_in, NULL, MG_INIT_UNIFORM, D, 2, G * Di, D, 1, "layers.%d.2.%s.weight", i, proj);
        if (c->cell_bias) SLOT(NULL, &L->cell.b_in, MG_INIT_UNIFORM, D, 1, G * Di, 1, 1, "layers.%d.2.%s.bias", i, proj);
        if (c->has_out) SLOT(&L->cell.w_out, NULL, MG_INIT_UNIFORM, Di, 2, D, Di, 1, "layers.%d.2.to_out.weight", i);
        if (c->has_out && c->cell_bias) SLOT(NULL, &L->cell.b_out, MG_INIT_UNIFORM, Di, 1, D, 1, 1, "layers.%d.2.to_out.bias", i);
        if (c->ff == MG_FF_NONE) continue;
        SLOT(NULL, &L->norm2, MG_INIT_ONES, 0, 1, D, 1, 1, "layers.%d.3.weight", i);
        if (c->norm_affine) SLOT(NULL, &L->norm2_b, MG_INIT_ZEROS, 0, 1, D, 1, 1, "layers.%d.3.bias", i);
        SLOT(&L->ff1, NULL, MG_INIT_UNIFORM, D, 2, F2, D, 1, "layers.%d.4.0.weight", i);
        SLOT(NULL, &L->ff1_b, MG_INIT_UNIFORM, D, 1, F2, 1, 1, "layers.%d.4.0.bias", i);
        if (c->ff == MG_FF_GEGLU) SLOT(NULL, &L->ff_mult_bias, MG_INIT_ONES, 0, 1, F, 1, 1, "layers.%d.4.1.mult_bias", i);
        SLOT(&L->ff2, NULL, MG_INIT_UNIFORM, F, 2, D, F, 1, "layers.%d.4.2.weight", i);
        SLOT(NULL, &L->ff2_b, MG_INIT_UNIFORM, F, 1, D, 1, 1, "layers.%d.4.2.bias", i);
    }
    SLOT(NULL, &m->norm, MG_INIT_ONES, 0, 1, D, 1, 1, "norm.weight");
    if (c->norm_affine) SLOT(NULL, &m->norm_b, MG_INIT_ZEROS, 0, 1, D, 1, 1, "norm.bias");
    SLOT(&m->to_logits, NULL, MG_INIT_UNIFORM, D, 2, Vo, D, 1, "to_logits.weight");
#undef SLOT
    size_t at = 0;
    for (int i = 0; i < n; i++) m->tensors[i].offset = at, at += m->tensors[i].count;
    m->n_tensors = n;
    return MG_OK;
}

static int bind_weights(mg_model *m) {
    int st = mg_model_list_tensors(m);
    for (int i = 0; !st && i < m->n_tensors; i++) {
        mg_tensor_slot *s = &m->tensors[i];
        mg_tensor_info *t = NULL;
        if (s->matrix) {
            st = matrix(m, s->name, (int)s->shape[0], (int)s->shape[1], s->ndim, s->matrix);
        } else if (!(st = claim(m, s->name, s->ndim, s->shape, &t))) {
            st = floats_of(m, t, s->vector);
        }
    }
    if (st) return st;
    mg_tensor_info *tokenizer = mg_safetensors_find(&m->st, "tokenizer");
    if (tokenizer) tokenizer->used = 1; /* read_tokenizer checked it; the JS tokenizer reads it, the model never does */
    for (int i = 0; i < m->st.n_tensors; i++) {
        const mg_tensor_info *t = &m->st.tensors[i];
        if (!t->used)
            return mg_fail(MG_EBADFILE, "tensor %s is not part of a %s model of this config", t->name,
                           m->cfg.cell ? "minLSTM" : "minGRU");
    }
    for (int i = 0; i < m->n_tensors; i++) m->cfg.n_params += m->tensors[i].count;
    return MG_OK;
}

/* 64-bit hash of the whole file (FNV-1a over 8-byte words, then a final mix): a state's tag. */
static uint64_t identity_of(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

static int alloc_scratch(mg_model *m) {
    const mg_config *c = &m->cfg;
    size_t D = (size_t)c->dim, B = MG_BLOCK, k = (size_t)(c->conv_kernel_size ? c->conv_kernel_size : 1);
    mg_scratch *s = &m->scratch;
    s->x = mg_model_own(m, B * D * sizeof(float));
    s->xn = mg_model_own(m, B * D * sizeof(float));
    s->y = mg_model_own(m, B * D * sizeof(float));
    s->window = mg_model_own(m, (B + k - 1) * D * sizeof(float));
    s->hidden = mg_model_own(m, B * (size_t)c->ff_inner * (c->ff == MG_FF_GEGLU ? 2 : 1) * sizeof(float));
    s->cell = mg_model_own(m, mg_cell_scratch(&m->layers[0].cell, B, MG_BLOCK) * sizeof(float));
    s->top_in = mg_model_own(m, D * sizeof(float));
    s->head = mg_model_own(m, MG_TILE_ROWS * (size_t)c->num_outputs * sizeof(float));
    s->probs = mg_model_own(m, (size_t)c->num_outputs * sizeof(float));
    s->order = mg_model_own(m, (size_t)c->num_outputs * sizeof(int));
    if (!s->x || !s->xn || !s->y || !s->window || !s->hidden || !s->top_in || !s->head || !s->cell || !s->probs ||
        !s->order)
        return mg_fail(MG_ENOMEM, "out of memory for the model's scratch buffers");
    return MG_OK;
}

/* Rearranges a weight matrix for the kernels' packed layout (mg_pack_f32, mg_pack_q8): in place when the model
 * may write it (its own copy, or a file it owns), else into a new copy. Never fails: without memory for
 * the copy the matrix stays row-major, which the kernels also take. */
static void pack(mg_model *m, const uint8_t *data, size_t size, int writable_data, mg_matrix *w) {
    int q8 = w->q8 != NULL;
    if (q8 ? !m->kernels.q8packed || !mg_q8_packs(w->cols) : !m->kernels.packed || !w->f32) return;
    const uint8_t *at = q8 ? (const uint8_t *)w->q8 : (const uint8_t *)w->f32;
    size_t bytes = (size_t)w->rows * w->cols * (q8 ? 1 : sizeof(float));
    /* Overwrite the matrix where it is when the model may write there: a copy it made at load (outside the
     * file: converted or realigned) or a file it owns. The caller's own bytes are never written (it may reuse
     * them), so those matrices are packed into a new buffer the model owns. */
    int in_file = at >= data && at < data + size;
    void *packed = (void *)at;
    if (!in_file || writable_data) {
        if (!(q8 ? mg_pack_q8_in_place(packed, w->rows, w->cols) : mg_pack_f32_in_place(packed, w->rows, w->cols))) return;
    } else {
        if (!(packed = mg_model_own(m, bytes))) return;
        if (q8) mg_pack_q8(w->q8, w->rows, w->cols, packed);
        else mg_pack_f32(w->f32, w->rows, w->cols, packed);
    }
    if (q8) w->q8 = packed;
    else w->f32 = packed;
    w->packed = 1;
}

/* Packs every weight matrix the kernels multiply by (not the embedding: it is a lookup table). */
static void pack_weights(mg_model *m, const void *data, size_t size, int writable_data) {
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].matrix && m->tensors[i].matrix != &m->token_emb)
            pack(m, data, size, writable_data, m->tensors[i].matrix);
}

/* ---- a tensor's values (saving; training's F32 masters, params.c) */

/* tools/convert.py's quantize_rows: scale = max|w[r, :]| / 127 (1 for a zero row; max|w[r, :]| itself for a row of
 * subnormals so small that the division underflows to zero, where w / scale would be NaN),
 * q = clip(rint(w / scale)).
 * A row holding a NaN or an infinity (weights a training run blew up) gets q = 0 and scale NaN: its outputs are
 * NaN, as the F32 weights' would be. With rowsum, each row's sum of q too. Written for the compiler to vectorize
 * (every adaptation step requantizes the top). */
void mg_quantize_rows(const float *restrict w, int rows, int cols, int8_t *restrict q, float *restrict scale,
                      int32_t *restrict rowsum) {
    for (int r = 0; r < rows; r++) {
        const float *wr = w + (size_t)r * cols;
        int8_t *qr = q + (size_t)r * cols;
        float amax = mg_row_amax(wr, cols);
        int32_t sum = 0;
        if (isnan(amax)) { /* an infinity or a NaN */
            scale[r] = NAN;
            memset(qr, 0, (size_t)cols);
        } else {
            float s = amax > 0.0f ? amax / 127.0f : 1.0f;
            if (s == 0.0f) s = amax;
            scale[r] = s;
            for (int c = 0; c < cols; c++) {
                float v = nearbyintf(wr[c] / s); /* rint's rounding, which the compiler vectorizes (rintf it does not) */
                int32_t x = (int32_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
                qr[c] = (int8_t)x;
                sum += x;
            }
        }
        if (rowsum) rowsum[r] = sum;
    }
}

/* Row-major F32 values of a bound matrix: unpacked, or dequantized (q * scale). */
static void matrix_values(const mg_matrix *w, float *out) {
    size_t C = (size_t)w->cols;
    if (w->q8) {
        for (int r = 0; r < w->rows; r++)
            for (int c = 0; c < w->cols; c++)
                out[(size_t)r * C + c] = (float)w->q8[w->packed ? mg_q8_at(w->rows, w->cols, r, c) : (size_t)r * C + c] * w->scale[r];
    } else if (w->packed) {
        mg_unpack_f32(w->f32, w->rows, w->cols, out);
    } else {
        memcpy(out, w->f32, (size_t)w->rows * C * sizeof(float));
    }
}

void mg_tensor_values(const mg_tensor_slot *s, float *out) {
    if (s->vector) memcpy(out, *s->vector, s->count * sizeof(float));
    else matrix_values(s->matrix, out);
}

const char *mg_model_minrnns_feature(const mg_model *m) {
    const mg_config *c = &m->cfg;
    return c->cell_bias ? "biases in the cell" : c->h0_learned ? "a learned h0" : c->lstm_sigmoid ? "sigmoid minLSTM gates"
                        : c->norm_affine ? "affine (BatchNorm) norms" : c->ff != MG_FF_GELU ? (c->ff == MG_FF_GEGLU ? "a GEGLU feed-forward" : "no feed-forward")
                        : c->num_outputs != c->num_tokens ? "a head of another size than the vocabulary"
                        : c->has_out != (c->expansion_factor != 1.0) ? "to_out at expansion 1" : NULL;
}

int mg_model_load(const void *data, size_t size, const mg_model_params *params, mg_model **out) {
    if (!out) return mg_fail(MG_EINVAL, "mg_model_load: out is NULL");
    *out = NULL;
    mg_model_params p = params ? *params : mg_model_default_params();
    mg_model *m = calloc(1, sizeof *m);
    if (!m) return mg_fail(MG_ENOMEM, "out of memory allocating a model");
    if (!mg_kernels_select(p.kernel, &m->kernels)) {
        free(m);
        return mg_fail(MG_EINVAL, "kernel %d is not available in this build", p.kernel);
    }
    int st = mg_safetensors_parse(data, size, &m->st);
    if (!st) st = read_config(m);
    if (!st) st = bind_weights(m);
    if (!st) st = alloc_scratch(m);
    if (st) {
        mg_model_free(m);
        return st;
    }
    m->cfg.identity = identity_loop(data, size); /* before packing, which may rewrite an owned file */
    pack_weights(m, data, size, p.take_ownership);
    m->data = data;
    m->owns_data = p.take_ownership;
    *out = m;
    return MG_OK;
}

void mg_model_free(mg_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    free(m->tensors);
    mg_safetensors_free(&m->st);
    if (m->owns_data) free((void *)m->data);
    free(m);
}

/* ---- the model's tensors */

int mg_model_n_tensors(const mg_model *m) { return m ? m->n_tensors : 0; }

int mg_model_tensor(const mg_model *m, int i, const char **name, int *ndim, uint64_t shape[3], size_t *offset) {
    if (!m || i < 0 || i >= m->n_tensors)
        return mg_fail(MG_EINVAL, "tensor index %d is outside [0, %d)", i, m ? m->n_tensors : 0);
    const mg_tensor_slot *s = &m->tensors[i];
    if (name) *name = s->name;
    if (ndim) *ndim = s->ndim;
    if (shape) memcpy(shape, s->shape, sizeof s->shape);
    if (offset) *offset = s->offset;
    return MG_OK;
}

const float *mg_model_weights(const mg_model *m) { return m ? m->params : NULL; }

size_t mg_model_offset(const mg_model *m, const void *view) {
    for (int i = 0; i < m->n_tensors; i++)
        if ((const void *)m->tensors[i].matrix == view || (const void *)m->tensors[i].vector == view)
            return m->tensors[i].offset;
    return 0; /* not reached: every view has a slot */
}
