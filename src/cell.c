/* cell.c — the minGRU and minLSTM maths: projection, gates, the scan (scan.c), output projection.
 *
 * minGRU:  [k_h, k_z] = x W_in^T;  z = sigmoid(k_z);  h_t = (1 - z) h_{t-1} + z g(k_h)
 * minLSTM: [k_h, k_f, k_i] = x W_in^T;  f = sigmoid(k_f), i = sigmoid(k_i);
 *          h_t = f/(f+i) h_{t-1} + i/(f+i) g(k_h)
 * then y = h W_out^T (only when expansion_factor != 1), with g(x) = x >= 0 ? x + 0.5 : sigmoid(x).
 * The BorealisAI/minRNNs cells add biases to both projections (b_in, b_out; to_out always), and their minLSTM
 * without coefficient norm (c->sigmoid) takes h_t = f h_{t-1} + i g(k_h).
 * Both are the linear recurrence h_t = a_t h_{t-1} + b_t, evaluated directly (no logs needed in C). */
#include <math.h>
#include <string.h>

#include "internal.h"

/* Gates, in place on the projection rows [rows, n_gates*Di], the pool splitting the channels: the hidden
 * slot becomes b_t, the next slot a_t.
 *   GRU:  a = 1 - sigmoid(k_z) = sigmoid(-k_z),  b = sigmoid(k_z) g(k_h)
 *   LSTM: a = f / (f + i),  b = i / (f + i) g(k_h),  f = sigmoid(k_f), i = sigmoid(k_i) */
typedef struct {
    const mg_cell *c;
    float *proj;
    size_t rows;
} gates_job;

static void gates(void *ctx, int ith, int nth) {
    const gates_job *j = ctx;
    const mg_cell *c = j->c;
    int di = c->dim_inner, ld = c->n_gates * di, i0, i1;
    mg_split(di, ith, nth, 4, &i0, &i1);
#ifdef __wasm_simd128__
    const mg_act_k k = mg_act_consts();
#endif
    for (size_t r = 0; r < j->rows; r++) {
        float *kh = j->proj + r * ld, *k1 = kh + di;
        int i = i0;
#ifdef __wasm_simd128__
        if (c->cell == MG_CELL_GRU) /* the loops below, four channels at a time (the same bits) */
            for (; i + 4 <= i1; i += 4) {
                mg_f4 h = wasm_v128_load(kh + i), z = wasm_v128_load(k1 + i);
                wasm_v128_store(kh + i, MG_MUL4(mg_sigmoid4(z, &k), mg_g4(h, &k)));
                wasm_v128_store(k1 + i, mg_sigmoid4(wasm_f32x4_neg(z), &k));
            }
        else if (c->sigmoid)
            for (; i + 4 <= i1; i += 4) {
                mg_f4 h = wasm_v128_load(kh + i), f = wasm_v128_load(k1 + i), in = wasm_v128_load(k1 + di + i);
                wasm_v128_store(kh + i, MG_MUL4(mg_sigmoid4(in, &k), mg_g4(h, &k)));
                wasm_v128_store(k1 + i, mg_sigmoid4(f, &k));
            }
        else
            for (; i + 4 <= i1; i += 4) {
                mg_f4 h = wasm_v128_load(kh + i), f = mg_sigmoid4(wasm_v128_load(k1 + i), &k);
                mg_f4 in = mg_sigmoid4(wasm_v128_load(k1 + di + i), &k), s = MG_ADD4(f, in);
                wasm_v128_store(kh + i, MG_MUL4(wasm_f32x4_div(in, s), mg_g4(h, &k)));
                wasm_v128_store(k1 + i, wasm_f32x4_div(f, s));
            }
#endif
        if (c->cell == MG_CELL_GRU) {
            for (; i < i1; i++) {
                float z = mg_sigmoid(k1[i]);
                kh[i] = z * mg_g(kh[i]);
                k1[i] = mg_sigmoid(-k1[i]);
            }
        } else if (c->sigmoid) {
            const float *k2 = k1 + di;
            for (; i < i1; i++) {
                kh[i] = mg_sigmoid(k2[i]) * mg_g(kh[i]);
                k1[i] = mg_sigmoid(k1[i]);
            }
        } else {
            const float *k2 = k1 + di;
            for (; i < i1; i++) {
                float f = mg_sigmoid(k1[i]), in = mg_sigmoid(k2[i]), s = f + in;
                kh[i] = in / s * mg_g(kh[i]);
                k1[i] = f / s;
            }
        }
    }
}

size_t mg_cell_scratch(const mg_cell *c, size_t rows, int n_chunks) {
    return rows * c->n_gates * c->dim_inner + (size_t)n_chunks * c->dim_inner;
}

/* Gates and scan in place on the projection rows: afterwards the hidden slot of row t holds h_t. */
static void recur(const mg_cell *c, float *proj, int B, int T, const float *h0, float *hidden, int n_chunks) {
    int di = c->dim_inner, ld = c->n_gates * di;
    size_t rows = (size_t)B * T;
    float *carry = proj + rows * ld;
    gates_job gj = {c, proj, rows};
    mg_pool_run(gates, &gj, rows * ld * sizeof(float) * 4); /* counted 4 times over for the exponentials */
    /* h_t = a_t h_{t-1} + b_t, per sequence of the batch */
    for (int s = 0; s < B; s++) {
        float *ps = proj + (size_t)s * T * ld;
        mg_scan(ps + di, ps, ld, T, di, h0 ? h0 + (size_t)s * di : NULL, n_chunks, carry);
        if (hidden) memcpy(hidden + (size_t)s * di, ps + (size_t)(T - 1) * ld, di * sizeof(float));
    }
}

void mg_cell_run_proj(const mg_cell *c, const mg_kernels *k, int B, int T, const float *h0, float *y, float *hidden,
                      float *proj, int n_chunks, int y_from) {
    int D = c->dim, ld = c->n_gates * c->dim_inner;
    size_t rows = (size_t)B * T, from = (size_t)y_from;
    recur(c, proj, B, T, h0, hidden, n_chunks);
    /* y = to_out(h), from row y_from on */
    if (c->has_out) {
        mg_linear_act(k, &c->w_out, (int)(rows - from), proj + from * ld, ld, y + from * D, D, c->b_out, MG_ACT_NONE);
    } else {
        for (size_t r = from; r < rows; r++) memcpy(y + r * D, proj + r * ld, D * sizeof(float));
    }
}

void mg_cell_run(const mg_cell *c, const mg_kernels *k, const float *x, int B, int T, const float *h0, float *y,
                 float *hidden, float *proj, int n_chunks) {
    /* hidden, gate(s) = to_hidden_and_gate(x).chunk(...) */
    mg_linear_act(k, &c->w_in, B * T, x, c->dim, proj, c->n_gates * c->dim_inner, c->b_in, MG_ACT_NONE);
    mg_cell_run_proj(c, k, B, T, h0, y, hidden, proj, n_chunks, 0);
}

/* ---- backward */

static float dg(float x) { /* g'(x) */
    float s = mg_sigmoid(x);
    return x >= 0.0f ? 1.0f : s * (1.0f - s);
}

size_t mg_cell_backward_scratch(const mg_cell *c, int rows, int n_chunks) {
    size_t r = (size_t)rows, di = (size_t)c->dim_inner, ld = (size_t)c->n_gates * di;
    size_t lin_in = mg_linear_backward_scratch(rows, (int)ld, c->dim);
    size_t lin_out = c->has_out ? mg_linear_backward_scratch(rows, c->dim, (int)di) : 0;
    return mg_cell_scratch(c, r, n_chunks) + 4 * r * di + r * ld + (lin_in > lin_out ? lin_in : lin_out);
}

/* a_t, the factor of h_{t-1}: GRU 1 - z; LSTM f / (f + i), or f (sigmoid gates) */
static float decay_of(const mg_cell *c, float k1, float k2) {
    if (c->cell == MG_CELL_GRU) return mg_sigmoid(-k1);
    float f = mg_sigmoid(k1);
    return c->sigmoid ? f : f / (f + mg_sigmoid(k2));
}

/* The backward's elementwise passes over rows [r0, r1), on the pool (each row is its own: the same bits on any number
 * of threads). */
typedef struct {
    const mg_cell *c;
    const float *kproj, *proj, *h0, *dh; /* the saved projection, h (its hidden slots), h0, c_t */
    float *a, *dk, *dh0;
    int T, ld, di;
} back_job;

/* a_t from the projection */
static void decay_rows(void *ctx, size_t r0, size_t r1) {
    const back_job *j = ctx;
    const mg_cell *c = j->c;
#ifdef __wasm_simd128__
    const mg_act_k k = mg_act_consts();
#endif
    for (size_t r = r0; r < r1; r++) {
        const float *k1 = j->kproj + r * j->ld + j->di, *k2 = k1 + j->di;
        float *ar = j->a + r * j->di;
        int i = 0;
#ifdef __wasm_simd128__
        if (c->cell == MG_CELL_GRU) /* four at a time, the same bits */
            for (; i + 4 <= j->di; i += 4) wasm_v128_store(ar + i, mg_sigmoid4(wasm_f32x4_neg(wasm_v128_load(k1 + i)), &k));
#endif
        for (; i < j->di; i++) ar[i] = decay_of(c, k1[i], c->n_gates > 2 ? k2[i] : 0.0f);
    }
}

/* dk from c_t and da_t = c_t h_{t-1} (below), and dh0 */
static void gate_grad_rows(void *ctx, size_t r0, size_t r1) {
    const back_job *j = ctx;
    const mg_cell *c = j->c;
    int T = j->T, di = j->di;
#ifdef __wasm_simd128__
    const mg_act_k k = mg_act_consts();
#endif
    for (size_t r = r0; r < r1; r++) {
        const float *kh = j->kproj + r * j->ld, *k1 = kh + di, *k2 = k1 + di, *cg = j->dh + r * di;
        const float *hp = r % T ? j->proj + (r - 1) * j->ld : j->h0 ? j->h0 + (r / T) * di : NULL;
        float *dkh = j->dk + r * j->ld, *dk1 = dkh + di, *dk2 = dk1 + di;
        int i = 0;
#ifdef __wasm_simd128__
        if (c->cell == MG_CELL_GRU) /* the GRU's lines below, four at a time (the same bits) */
            for (; i + 4 <= di; i += 4) {
                mg_f4 h = wasm_v128_load(kh + i), cv = wasm_v128_load(cg + i), s = mg_sigmoid4(h, &k), one = k.one;
                mg_f4 da = hp ? MG_MUL4(cv, wasm_v128_load(hp + i)) : k.zero, pos = wasm_f32x4_ge(h, k.zero);
                mg_f4 gv = wasm_v128_bitselect(MG_ADD4(h, k.half), s, pos);
                mg_f4 dgv = wasm_v128_bitselect(one, MG_MUL4(s, wasm_f32x4_sub(one, s)), pos);
                mg_f4 z = mg_sigmoid4(wasm_v128_load(k1 + i), &k);
                wasm_v128_store(dkh + i, MG_MUL4(MG_MUL4(cv, z), dgv));
                wasm_v128_store(dk1 + i, MG_MUL4(MG_MUL4(wasm_f32x4_sub(MG_MUL4(cv, gv), da), z), wasm_f32x4_sub(one, z)));
            }
#endif
        for (; i < di; i++) {
            float da = hp ? cg[i] * hp[i] : 0.0f, gv = mg_g(kh[i]);
            if (c->cell == MG_CELL_GRU) {
                float z = mg_sigmoid(k1[i]);
                dkh[i] = cg[i] * z * dg(kh[i]);
                dk1[i] = (cg[i] * gv - da) * z * (1.0f - z);
            } else if (c->sigmoid) {
                float f = mg_sigmoid(k1[i]), in = mg_sigmoid(k2[i]);
                dkh[i] = cg[i] * in * dg(kh[i]);
                dk2[i] = cg[i] * gv * in * (1.0f - in);
                dk1[i] = da * f * (1.0f - f);
            } else {
                float f = mg_sigmoid(k1[i]), in = mg_sigmoid(k2[i]), sum = f + in, p = in / sum;
                float dp = cg[i] * gv - da;
                dkh[i] = cg[i] * p * dg(kh[i]);
                dk2[i] = dp * f / (sum * sum) * in * (1.0f - in);
                dk1[i] = -dp * in / (sum * sum) * f * (1.0f - f);
            }
        }
        if (j->dh0 && r % T == 0) { /* each sequence's first row: its own row of dh0 */
            const float *ar = j->a + r * di;
            float *d0 = j->dh0 + (r / T) * di;
            for (int ch = 0; ch < di; ch++) d0[ch] += ar[ch] * cg[ch];
        }
    }
}

void mg_cell_backward(const mg_cell *c, const mg_kernels *k, const float *w_in, const float *w_out, const float *x,
                      const float *kproj, int B, int T, const float *h0, const float *dy, float *dx,
                      const mg_cell_grads *g, float *scratch, int n_chunks) {
    int D = c->dim, di = c->dim_inner, ld = c->n_gates * di, rows = B * T;
    float *proj = scratch, *dh = proj + mg_cell_scratch(c, (size_t)rows, n_chunks), *a = dh + (size_t)rows * di;
    float *rev = a + (size_t)rows * di, *dk = rev + 2 * (size_t)rows * di, *lin = dk + (size_t)rows * ld;
    float *carry = proj + (size_t)rows * ld;

    /* h again, by the forward's own gates and scan from the saved projection */
    memcpy(proj, kproj, (size_t)rows * ld * sizeof(float));
    recur(c, proj, B, T, h0, NULL, n_chunks);

    /* dh = dy W_out (dW_out += dy^T h, db_out += dy), or dy itself without to_out */
    if (c->has_out) {
        memset(dh, 0, (size_t)rows * di * sizeof(float));
        mg_linear_backward(k, w_out, D, di, rows, proj, ld, dy, D, dh, g->w_out, g->b_out, lin);
    } else {
        memcpy(dh, dy, (size_t)rows * di * sizeof(float));
    }

    /* a_t from the projection; then c_t = dh_t + a_{t+1} c_{t+1} in dh, per sequence */
    back_job j = {c, kproj, proj, h0, dh, a, dk, g->h0, T, ld, di};
    size_t work = (size_t)rows * ld * sizeof(float) * 4; /* counted 4 times over for the exponentials */
    mg_pool_for(decay_rows, &j, (size_t)rows, work);
    for (int s = 0; s < B; s++)
        mg_scan_reverse(a + (size_t)s * T * di, dh + (size_t)s * T * di, di, T, di, n_chunks, carry, rev);

    /* db_t = c_t, da_t = c_t h_{t-1} (h_{-1} = h0), through the gates to dk:
     *   GRU:  a = 1 - z, b = z g(k_h):          dk_h = c z g'(k_h),  dk_z = (c g(k_h) - da) z (1 - z)
     *   LSTM: a = f/(f+i), b = p g(k_h), p = i/(f+i):  dk_h = c p g'(k_h),  dp = c g(k_h) - da,
     *         dk_i = dp f/(f+i)^2 i (1 - i),  dk_f = -dp i/(f+i)^2 f (1 - f)
     *   LSTM, sigmoid gates: a = f, b = i g(k_h):  dk_h = c i g'(k_h),  dk_i = c g(k_h) i (1 - i),  dk_f = da f (1 - f)
     * and dh0 = a_0 c_0 for each sequence. */
    mg_pool_for(gate_grad_rows, &j, (size_t)rows, work);

    /* dx += dk W_in,  dW_in += dk^T x,  db_in += dk */
    mg_linear_backward(k, w_in, ld, D, rows, x, D, dk, ld, dx, g->w_in, g->b_in, lin);
}
