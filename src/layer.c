/* layer.c — mg_layer, the public handle for one minGRU / minLSTM layer that owns its weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct mg_layer {
    mg_cell cell;        /* sizes and weight views into the two buffers below */
    mg_kernels kernels;
    int scan_chunks;     /* time chunks of forward's scan; 0 = one (the threads take channels) */
    float *w_in;         /* (n_gates*Di, D); laid out by mg_pack_f32 where the kernels pack (cell.w_in.packed) */
    float *w_out;        /* (D, Di), NULL when the cell has no to_out; packed as w_in */
    float *scratch;      /* step's buffer, for up to scratch_batch rows */
    int scratch_batch;
};

mg_layer_params mg_layer_default_params(void) {
    mg_layer_params p = {MG_CELL_GRU, 0, 1.0, MG_KERNEL_AUTO, 0};
    return p;
}

int mg_dim_inner(int dim, double expansion_factor) {
    if (dim <= 0) return mg_fail(MG_EINVAL, "dim must be a positive integer, got %d", dim);
    if (!(expansion_factor > 0) || !isfinite(expansion_factor))
        return mg_fail(MG_EINVAL, "expansion_factor must be a positive finite number, got %g", expansion_factor);
    double inner = floor((double)dim * expansion_factor);
    if (inner < 1 || inner > (double)(1 << 20))
        return mg_fail(MG_EINVAL, "dim * expansion_factor must give an inner width in [1, 2^20], got %g", inner);
    return (int)inner;
}

/* Rearranges a matrix the layer owns for the kernels that pack (as a model does at load): 1.1-1.3x for prefill
 * blocks in Node, and in a Chromium page the unpacked kernel ran the layer at a third of the model's speed. */
static int pack_in_place(const mg_kernels *k, mg_matrix *w) {
    if (!k->packed || !w->f32) return MG_OK;
    if (!mg_pack_f32_in_place((float *)w->f32, w->rows, w->cols))
        return mg_fail(MG_ENOMEM, "out of memory packing %zu weights", (size_t)w->rows * w->cols);
    w->packed = 1;
    return MG_OK;
}

/* The layer's matrices packed again after their row-major values were written. */
static int pack_weights(mg_layer *l) {
    l->cell.w_in.packed = l->cell.w_out.packed = 0;
    int st = pack_in_place(&l->kernels, &l->cell.w_in);
    return st ? st : pack_in_place(&l->kernels, &l->cell.w_out);
}

int mg_layer_create(const mg_layer_params *p, const float *w_in, const float *w_out, mg_layer **out) {
    if (!p || !out) return mg_fail(MG_EINVAL, "mg_layer_create: params and out must not be NULL");
    *out = NULL;
    if (p->cell != MG_CELL_GRU && p->cell != MG_CELL_LSTM)
        return mg_fail(MG_EINVAL, "cell must be MG_CELL_GRU (0) or MG_CELL_LSTM (1), got %d", p->cell);
    int di = mg_dim_inner(p->dim, p->expansion_factor);
    if (di < 0) return di;
    mg_kernels kernels;
    if (!mg_kernels_select(p->kernel, &kernels))
        return mg_fail(MG_EINVAL, "kernel %d is not available in this build", p->kernel);
    if (p->scan_chunks < 0 || p->scan_chunks > 1024)
        return mg_fail(MG_EINVAL, "scan_chunks must be in [0, 1024], got %d", p->scan_chunks);

    int n_gates = p->cell == MG_CELL_GRU ? 2 : 3;
    size_t n_in, n_out;
    if (!mg_mul_size((size_t)n_gates * di, (size_t)p->dim, MG_MAX_FLOATS, &n_in) ||
        !mg_mul_size((size_t)p->dim, (size_t)di, MG_MAX_FLOATS, &n_out))
        return mg_fail(MG_ESHAPE, "layer of dim %d and inner width %d is too large", p->dim, di);

    mg_layer *l = calloc(1, sizeof *l);
    if (!l) return mg_fail(MG_ENOMEM, "out of memory allocating a layer");
    int has_out = p->expansion_factor != 1.0;
    l->w_in = calloc(n_in, sizeof(float));
    l->w_out = has_out ? calloc(n_out, sizeof(float)) : NULL;
    if (!l->w_in || (has_out && !l->w_out)) {
        mg_layer_free(l);
        return mg_fail(MG_ENOMEM, "out of memory allocating %zu weights", n_in + (has_out ? n_out : 0));
    }
    if (w_in) memcpy(l->w_in, w_in, n_in * sizeof(float));
    if (w_out && has_out) memcpy(l->w_out, w_out, n_out * sizeof(float));
    l->cell = (mg_cell){.cell = p->cell, .dim = p->dim, .dim_inner = di, .n_gates = n_gates, .has_out = has_out,
                        .w_in = {.f32 = l->w_in, .rows = n_gates * di, .cols = p->dim},
                        .w_out = {.f32 = l->w_out, .rows = p->dim, .cols = di}};
    l->kernels = kernels;
    l->scan_chunks = p->scan_chunks;
    int st = pack_weights(l);
    if (st) {
        mg_layer_free(l);
        return st;
    }
    *out = l;
    return MG_OK;
}

/* nn.Linear's default init: kaiming_uniform(a = sqrt(5)), i.e. uniform in +-1/sqrt(fan_in). */
static void init_uniform(float *w, size_t n, int fan_in, uint64_t *rng) {
    float bound = 1.0f / sqrtf((float)fan_in);
    for (size_t i = 0; i < n; i++) w[i] = (2.0f * mg_rng_uniform(rng) - 1.0f) * bound;
}

int mg_layer_init_uniform(mg_layer *l, uint64_t seed) {
    if (!l) return mg_fail(MG_EINVAL, "mg_layer_init_uniform: layer is NULL");
    const mg_cell *c = &l->cell;
    uint64_t rng = seed;
    init_uniform(l->w_in, (size_t)c->n_gates * c->dim_inner * c->dim, c->dim, &rng);
    if (c->has_out) init_uniform(l->w_out, (size_t)c->dim * c->dim_inner, c->dim_inner, &rng);
    return pack_weights(l);
}

int mg_layer_shape(const mg_layer *l, int *dim, int *dim_inner, int *cell, int *has_out) {
    if (!l) return mg_fail(MG_EINVAL, "mg_layer_shape: layer is NULL");
    if (dim) *dim = l->cell.dim;
    if (dim_inner) *dim_inner = l->cell.dim_inner;
    if (cell) *cell = l->cell.cell;
    if (has_out) *has_out = l->cell.has_out;
    return MG_OK;
}

int mg_layer_get_weights(const mg_layer *l, float *w_in, float *w_out) {
    if (!l) return mg_fail(MG_EINVAL, "mg_layer_get_weights: layer is NULL");
    const mg_cell *c = &l->cell;
    const mg_matrix *m[2] = {&c->w_in, &c->w_out};
    float *to[2] = {w_in, c->has_out ? w_out : NULL};
    for (int i = 0; i < 2; i++) {
        if (!to[i]) continue;
        if (m[i]->packed) mg_unpack_f32(m[i]->f32, m[i]->rows, m[i]->cols, to[i]);
        else memcpy(to[i], m[i]->f32, (size_t)m[i]->rows * m[i]->cols * sizeof(float));
    }
    return MG_OK;
}

void mg_layer_free(mg_layer *l) {
    if (!l) return;
    free(l->w_in);
    free(l->w_out);
    free(l->scratch);
    free(l);
}

/* Validates the common arguments of forward and step. */
static int check_call(const char *fn, const mg_layer *l, const float *x, int B, int T, const float *y) {
    if (!l) return mg_fail(MG_EINVAL, "%s: layer is NULL", fn);
    if (!x || !y) return mg_fail(MG_EINVAL, "%s: x and y must not be NULL", fn);
    if (B <= 0) return mg_fail(MG_EINVAL, "%s: batch must be > 0, got %d", fn, B);
    if (T <= 0) return mg_fail(MG_EINVAL, "%s: seq_len must be > 0, got %d", fn, T);
    size_t rows, n; /* size_t is 32 bits in wasm32: every product is checked */
    if (!mg_mul_size((size_t)B, (size_t)T, MG_MAX_FLOATS, &rows) ||
        !mg_mul_size(rows, (size_t)l->cell.n_gates * l->cell.dim_inner + l->cell.dim, MG_MAX_FLOATS, &n))
        return mg_fail(MG_ESHAPE, "%s: batch %d x seq_len %d is too large for one call", fn, B, T);
    return MG_OK;
}

int mg_layer_forward(mg_layer *l, const float *x, int B, int T, const float *h0, float *y, float *hidden) {
    int st = check_call("mg_layer_forward", l, x, B, T, y);
    if (st) return st;
    int chunks = l->scan_chunks ? l->scan_chunks : MG_SCAN_CHUNKS;
    size_t n = mg_cell_scratch(&l->cell, (size_t)B * T, chunks);
    float *scratch = malloc(n * sizeof(float));
    if (!scratch) return mg_fail(MG_ENOMEM, "mg_layer_forward: out of memory for %zu floats of scratch", n);
    mg_cell_run(&l->cell, &l->kernels, x, B, T, h0, y, hidden, scratch, chunks);
    free(scratch);
    return MG_OK;
}

int mg_layer_step(mg_layer *l, const float *x, int B, const float *h0, float *y, float *hidden) {
    int st = check_call("mg_layer_step", l, x, B, 1, y);
    if (st) return st;
    if (B > l->scratch_batch) {
        float *s = realloc(l->scratch, mg_cell_scratch(&l->cell, (size_t)B, 1) * sizeof(float));
        if (!s) return mg_fail(MG_ENOMEM, "mg_layer_step: out of memory for a batch of %d", B);
        l->scratch = s;
        l->scratch_batch = B;
    }
    mg_cell_run(&l->cell, &l->kernels, x, B, 1, h0, y, hidden, l->scratch, 1);
    return MG_OK;
}
