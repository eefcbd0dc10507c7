/* cell.c — the minGRU and minLSTM layers: projection, gates, the chunked scan, output projection.
 *
 * minGRU:  [k_h, k_z] = x W_in^T;  z = sigmoid(k_z);  h_t = (1 - z) h_{t-1} + z g(k_h)
 * minLSTM: [k_h, k_f, k_i] = x W_in^T;  f = sigmoid(k_f), i = sigmoid(k_i);
 *          h_t = f/(f+i) h_{t-1} + i/(f+i) g(k_h)
 * then y = h W_out^T (only when expansion_factor != 1), with g(x) = x >= 0 ? x + 0.5 : sigmoid(x).
 * Both are the linear recurrence h_t = a_t h_{t-1} + b_t, evaluated directly (no logs needed in C). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Largest tensor the engine accepts, in floats: keeps every byte size within 2^31 (wasm32). */
#define MG_MAX_FLOATS ((size_t)1 << 29)

struct mg_layer {
    int cell;       /* MG_CELL_GRU or MG_CELL_LSTM */
    int dim;        /* D */
    int dim_inner;  /* Di = floor(D * expansion_factor) */
    int n_gates;    /* rows of W_in per inner channel: 2 (hidden|gate) or 3 (hidden|f|i) */
    int has_out;    /* expansion_factor != 1 */
    mg_matmul_fn matmul;
    int scan_chunks;  /* time chunks of forward's scan */
    float *w_in;    /* (n_gates*Di, D) */
    float *w_out;   /* (D, Di), NULL when !has_out */
    float *scratch; /* step's projection buffer, (scratch_batch, n_gates*Di) */
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

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
static float g(float x) { return x >= 0.0f ? x + 0.5f : sigmoid(x); }

int mg_layer_create(const mg_layer_params *p, const float *w_in, const float *w_out, mg_layer **out) {
    if (!p || !out) return mg_fail(MG_EINVAL, "mg_layer_create: params and out must not be NULL");
    *out = NULL;
    if (p->cell != MG_CELL_GRU && p->cell != MG_CELL_LSTM)
        return mg_fail(MG_EINVAL, "cell must be MG_CELL_GRU (0) or MG_CELL_LSTM (1), got %d", p->cell);
    int di = mg_dim_inner(p->dim, p->expansion_factor);
    if (di < 0) return di;
    mg_matmul_fn matmul = mg_matmul_select(p->kernel);
    if (!matmul) return mg_fail(MG_EINVAL, "kernel %d is not available in this build", p->kernel);
    if (p->scan_chunks < 0 || p->scan_chunks > 1024)
        return mg_fail(MG_EINVAL, "scan_chunks must be in [0, 1024], got %d", p->scan_chunks);

    int n_gates = p->cell == MG_CELL_GRU ? 2 : 3;
    size_t n_in, n_out;
    if (!mg_mul_size((size_t)n_gates * di, (size_t)p->dim, MG_MAX_FLOATS, &n_in) ||
        !mg_mul_size((size_t)p->dim, (size_t)di, MG_MAX_FLOATS, &n_out))
        return mg_fail(MG_ESHAPE, "layer of dim %d and inner width %d is too large", p->dim, di);

    mg_layer *l = calloc(1, sizeof *l);
    if (!l) return mg_fail(MG_ENOMEM, "out of memory allocating a layer");
    l->cell = p->cell;
    l->dim = p->dim;
    l->dim_inner = di;
    l->n_gates = n_gates;
    l->has_out = p->expansion_factor != 1.0;
    l->matmul = matmul;
    l->scan_chunks = p->scan_chunks ? p->scan_chunks : 1; /* one thread until the pool exists */
    l->w_in = calloc(n_in, sizeof(float));
    l->w_out = l->has_out ? calloc(n_out, sizeof(float)) : NULL;
    if (!l->w_in || (l->has_out && !l->w_out)) {
        mg_layer_free(l);
        return mg_fail(MG_ENOMEM, "out of memory allocating %zu weights", n_in + (l->has_out ? n_out : 0));
    }
    if (w_in) memcpy(l->w_in, w_in, n_in * sizeof(float));
    if (w_out && l->has_out) memcpy(l->w_out, w_out, n_out * sizeof(float));
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
    uint64_t rng = seed;
    init_uniform(l->w_in, (size_t)l->n_gates * l->dim_inner * l->dim, l->dim, &rng);
    if (l->has_out) init_uniform(l->w_out, (size_t)l->dim * l->dim_inner, l->dim_inner, &rng);
    return MG_OK;
}

int mg_layer_shape(const mg_layer *l, int *dim, int *dim_inner, int *cell, int *has_out) {
    if (!l) return mg_fail(MG_EINVAL, "mg_layer_shape: layer is NULL");
    if (dim) *dim = l->dim;
    if (dim_inner) *dim_inner = l->dim_inner;
    if (cell) *cell = l->cell;
    if (has_out) *has_out = l->has_out;
    return MG_OK;
}

int mg_layer_get_weights(const mg_layer *l, float *w_in, float *w_out) {
    if (!l) return mg_fail(MG_EINVAL, "mg_layer_get_weights: layer is NULL");
    if (w_in) memcpy(w_in, l->w_in, (size_t)l->n_gates * l->dim_inner * l->dim * sizeof(float));
    if (w_out && l->has_out) memcpy(w_out, l->w_out, (size_t)l->dim * l->dim_inner * sizeof(float));
    return MG_OK;
}

void mg_layer_free(mg_layer *l) {
    if (!l) return;
    free(l->w_in);
    free(l->w_out);
    free(l->scratch);
    free(l);
}

/* Phase 1 of the chunked scan on steps [t0, t1): a local scan from `from` (NULL = zeros). With
 * keep_prod, a_t becomes prod_{s=t0..t} a_s, the factor by which the chunk's true start state
 * reaches step t. */
static void scan_local(float *a, float *b, int ld, int t0, int t1, int n, const float *from, int keep_prod) {
    for (int t = t0; t < t1; t++) {
        float *at = a + (size_t)t * ld, *bt = b + (size_t)t * ld;
        const float *hp = t > t0 ? b + (size_t)(t - 1) * ld : from;
        const float *ap = t > t0 ? a + (size_t)(t - 1) * ld : NULL;
        for (int i = 0; i < n; i++) {
            if (hp) bt[i] += at[i] * hp[i];               /* h_t = a_t h_{t-1} + b_t */
            if (keep_prod && ap) at[i] *= ap[i];            /* A_t = a_t A_{t-1} */
        }
    }
}

void mg_scan_chunked(float *a, float *b, int ld, int T, int n, const float *h0, int n_chunks, float *carry) {
    if (n_chunks > T) n_chunks = T;
    if (n_chunks < 1) n_chunks = 1;
    /* Phase 1: every chunk scans locally; chunk 0 starts from h0 itself, so it is already exact. */
    for (int c = 0; c < n_chunks; c++) {
        int t0 = (int)((long long)T * c / n_chunks), t1 = (int)((long long)T * (c + 1) / n_chunks);
        scan_local(a, b, ld, t0, t1, n, c == 0 ? h0 : NULL, c > 0);
    }
    /* Phase 2: in order, the true state entering chunk c: carry_c = A_last(c-1) carry_{c-1} + h_last(c-1),
     * where chunk 0's last state is exact. */
    for (int c = 1; c < n_chunks; c++) {
        int prev_last = (int)((long long)T * c / n_chunks) - 1;
        float *cc = carry + (size_t)c * n;
        const float *hl = b + (size_t)prev_last * ld, *al = a + (size_t)prev_last * ld;
        for (int i = 0; i < n; i++) cc[i] = c == 1 ? hl[i] : al[i] * carry[(size_t)(c - 1) * n + i] + hl[i];
    }
    /* Phase 3: add the carried-in state to every step of chunks 1..P-1: h_t += A_t carry_c. */
    for (int c = 1; c < n_chunks; c++) {
        int t0 = (int)((long long)T * c / n_chunks), t1 = (int)((long long)T * (c + 1) / n_chunks);
        const float *cc = carry + (size_t)c * n;
        for (int t = t0; t < t1; t++) {
            float *at = a + (size_t)t * ld, *bt = b + (size_t)t * ld;
            for (int i = 0; i < n; i++) bt[i] += at[i] * cc[i];
        }
    }
}

/* Gates, in place on the projection rows [B*T, n_gates*Di]: the hidden slot becomes b_t, the next slot a_t.
 *   GRU:  a = 1 - sigmoid(k_z) = sigmoid(-k_z),  b = sigmoid(k_z) g(k_h)
 *   LSTM: a = f / (f + i),  b = i / (f + i) g(k_h),  f = sigmoid(k_f), i = sigmoid(k_i) */
static void gates(const mg_layer *l, float *proj, size_t rows) {
    int di = l->dim_inner, ld = l->n_gates * di;
    for (size_t r = 0; r < rows; r++) {
        float *kh = proj + r * ld, *k1 = kh + di;
        if (l->cell == MG_CELL_GRU) {
            for (int i = 0; i < di; i++) {
                float z = sigmoid(k1[i]);
                kh[i] = z * g(kh[i]);
                k1[i] = sigmoid(-k1[i]);
            }
        } else {
            const float *k2 = k1 + di;
            for (int i = 0; i < di; i++) {
                float f = sigmoid(k1[i]), in = sigmoid(k2[i]), s = f + in;
                kh[i] = in / s * g(kh[i]);
                k1[i] = f / s;
            }
        }
    }
}

/* One pass over [B, T] with scratch of B*T*n_gates*Di + n_chunks*Di floats: the path shared by
 * forward and step (step is the case T = 1). */
static void run(const mg_layer *l, const float *x, int B, int T, const float *h0, float *y, float *hidden,
                float *proj, int n_chunks) {
    int D = l->dim, di = l->dim_inner, ld = l->n_gates * di;
    size_t rows = (size_t)B * T;
    float *carry = proj + rows * ld;

    /* hidden, gate(s) = to_hidden_and_gate(x).chunk(...) */
    l->matmul((int)rows, ld, D, x, D, l->w_in, proj, ld);
    gates(l, proj, rows);

    /* h_t = a_t h_{t-1} + b_t, per sequence of the batch */
    for (int s = 0; s < B; s++) {
        float *ps = proj + (size_t)s * T * ld;
        mg_scan_chunked(ps + di, ps, ld, T, di, h0 ? h0 + (size_t)s * di : NULL, n_chunks, carry);
        if (hidden) memcpy(hidden + (size_t)s * di, ps + (size_t)(T - 1) * ld, di * sizeof(float));
    }

    /* y = to_out(h) */
    if (l->has_out) {
        l->matmul((int)rows, D, di, proj, ld, l->w_out, y, D);
    } else {
        for (size_t r = 0; r < rows; r++) memcpy(y + r * D, proj + r * ld, D * sizeof(float));
    }
}

/* Validates the common arguments of forward and step. */
static int check_call(const char *fn, const mg_layer *l, const float *x, int B, int T, const float *y) {
    if (!l) return mg_fail(MG_EINVAL, "%s: layer is NULL", fn);
    if (!x || !y) return mg_fail(MG_EINVAL, "%s: x and y must not be NULL", fn);
    if (B <= 0) return mg_fail(MG_EINVAL, "%s: batch must be > 0, got %d", fn, B);
    if (T <= 0) return mg_fail(MG_EINVAL, "%s: seq_len must be > 0, got %d", fn, T);
    size_t rows, n; /* size_t is 32 bits in wasm32: every product is checked */
    if (!mg_mul_size((size_t)B, (size_t)T, MG_MAX_FLOATS, &rows) ||
        !mg_mul_size(rows, (size_t)l->n_gates * l->dim_inner + l->dim, MG_MAX_FLOATS, &n))
        return mg_fail(MG_ESHAPE, "%s: batch %d x seq_len %d is too large for one call", fn, B, T);
    return MG_OK;
}

int mg_layer_forward(mg_layer *l, const float *x, int B, int T, const float *h0, float *y, float *hidden) {
    int st = check_call("mg_layer_forward", l, x, B, T, y);
    if (st) return st;
    size_t n = (size_t)B * T * l->n_gates * l->dim_inner + (size_t)l->scan_chunks * l->dim_inner;
    float *proj = malloc(n * sizeof(float));
    if (!proj) return mg_fail(MG_ENOMEM, "mg_layer_forward: out of memory for %zu floats of scratch", n);
    run(l, x, B, T, h0, y, hidden, proj, l->scan_chunks);
    free(proj);
    return MG_OK;
}

int mg_layer_step(mg_layer *l, const float *x, int B, const float *h0, float *y, float *hidden) {
    int st = check_call("mg_layer_step", l, x, B, 1, y);
    if (st) return st;
    if (B > l->scratch_batch) {
        float *s = realloc(l->scratch, ((size_t)B * l->n_gates + 1) * l->dim_inner * sizeof(float));
        if (!s) return mg_fail(MG_ENOMEM, "mg_layer_step: out of memory for a batch of %d", B);
        l->scratch = s;
        l->scratch_batch = B;
    }
    run(l, x, B, 1, h0, y, hidden, l->scratch, 1);
    return MG_OK;
}
