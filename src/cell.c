/* cell.c — the minGRU and minLSTM maths: projection, gates, the scan (scan.c), output projection.
 *
 * minGRU:  [k_h, k_z] = x W_in^T;  z = sigmoid(k_z);  h_t = (1 - z) h_{t-1} + z g(k_h)
 * minLSTM: [k_h, k_f, k_i] = x W_in^T;  f = sigmoid(k_f), i = sigmoid(k_i);
 *          h_t = f/(f+i) h_{t-1} + i/(f+i) g(k_h)
 * then y = h W_out^T (only when expansion_factor != 1), with g(x) = x >= 0 ? x + 0.5 : sigmoid(x).
 * Both are the linear recurrence h_t = a_t h_{t-1} + b_t, evaluated directly (no logs needed in C). */
#include <math.h>
#include <string.h>

#include "internal.h"

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
static float g(float x) { return x >= 0.0f ? x + 0.5f : sigmoid(x); }

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
    for (size_t r = 0; r < j->rows; r++) {
        float *kh = j->proj + r * ld, *k1 = kh + di;
        if (c->cell == MG_CELL_GRU) {
            for (int i = i0; i < i1; i++) {
                float z = sigmoid(k1[i]);
                kh[i] = z * g(kh[i]);
                k1[i] = sigmoid(-k1[i]);
            }
        } else {
            const float *k2 = k1 + di;
            for (int i = i0; i < i1; i++) {
                float f = sigmoid(k1[i]), in = sigmoid(k2[i]), s = f + in;
                kh[i] = in / s * g(kh[i]);
                k1[i] = f / s;
            }
        }
    }
}

size_t mg_cell_scratch(const mg_cell *c, size_t rows, int n_chunks) {
    return rows * c->n_gates * c->dim_inner + (size_t)n_chunks * c->dim_inner;
}

void mg_cell_run(const mg_cell *c, const mg_kernels *k, const float *x, int B, int T, const float *h0, float *y,
                 float *hidden, float *proj, int n_chunks) {
    int D = c->dim, di = c->dim_inner, ld = c->n_gates * di;
    size_t rows = (size_t)B * T;
    float *carry = proj + rows * ld;

    /* hidden, gate(s) = to_hidden_and_gate(x).chunk(...) */
    mg_linear(k, &c->w_in, (int)rows, x, D, proj, ld);
    gates_job gj = {c, proj, rows};
    mg_pool_run(gates, &gj, rows * ld * sizeof(float) * 4); /* counted 4 times over for the exponentials */

    /* h_t = a_t h_{t-1} + b_t, per sequence of the batch */
    for (int s = 0; s < B; s++) {
        float *ps = proj + (size_t)s * T * ld;
        mg_scan(ps + di, ps, ld, T, di, h0 ? h0 + (size_t)s * di : NULL, n_chunks, carry);
        if (hidden) memcpy(hidden + (size_t)s * di, ps + (size_t)(T - 1) * ld, di * sizeof(float));
    }

    /* y = to_out(h) */
    if (c->has_out) {
        mg_linear(k, &c->w_out, (int)rows, proj, ld, y, D);
    } else {
        for (size_t r = 0; r < rows; r++) memcpy(y + r * D, proj + r * ld, D * sizeof(float));
    }
}
