/* cell.c — the minGRU and minLSTM maths: projection, gates, the chunked scan, output projection.
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

/* Phase 1 of the chunked scan on steps [t0, t1): a local scan from `from` (NULL = zeros). With
 * keep_prod, a_t becomes prod_{s=t0..t} a_s, the factor by which the chunk's true start state
 * reaches step t. */
static void scan_local(float *a, float *b, int ld, int t0, int t1, int n, const float *from, int keep_prod) {
    for (int t = t0; t < t1; t++) {
        float *at = a + (size_t)t * ld, *bt = b + (size_t)t * ld;
        const float *hp = t > t0 ? b + (size_t)(t - 1) * ld : from;
        const float *ap = t > t0 ? a + (size_t)(t - 1) * ld : NULL;
        for (int i = 0; i < n; i++) {
            if (hp) bt[i] += at[i] * hp[i];    /* h_t = a_t h_{t-1} + b_t */
            if (keep_prod && ap) at[i] *= ap[i]; /* A_t = a_t A_{t-1} */
        }
    }
}

static int chunk_start(int T, int c, int n_chunks) { return (int)((long long)T * c / n_chunks); }

void mg_scan_chunked(float *a, float *b, int ld, int T, int n, const float *h0, int n_chunks, float *carry) {
    if (n_chunks > T) n_chunks = T;
    if (n_chunks < 1) n_chunks = 1;
    /* Phase 1: every chunk scans locally; chunk 0 starts from h0 itself, so it is already exact. */
    for (int c = 0; c < n_chunks; c++)
        scan_local(a, b, ld, chunk_start(T, c, n_chunks), chunk_start(T, c + 1, n_chunks), n, c == 0 ? h0 : NULL, c > 0);
    /* Phase 2, in order: the true state entering chunk c is carry_c = A_last(c-1) carry_{c-1} + h_last(c-1),
     * where chunk 0's last state is already exact. */
    for (int c = 1; c < n_chunks; c++) {
        int prev_last = chunk_start(T, c, n_chunks) - 1;
        float *cc = carry + (size_t)c * n;
        const float *hl = b + (size_t)prev_last * ld, *al = a + (size_t)prev_last * ld;
        for (int i = 0; i < n; i++) cc[i] = c == 1 ? hl[i] : al[i] * carry[(size_t)(c - 1) * n + i] + hl[i];
    }
    /* Phase 3: add the carried-in state to every step of chunks 1..P-1: h_t += A_t carry_c. */
    for (int c = 1; c < n_chunks; c++) {
        const float *cc = carry + (size_t)c * n;
        for (int t = chunk_start(T, c, n_chunks); t < chunk_start(T, c + 1, n_chunks); t++) {
            float *at = a + (size_t)t * ld, *bt = b + (size_t)t * ld;
            for (int i = 0; i < n; i++) bt[i] += at[i] * cc[i];
        }
    }
}

/* Gates, in place on the projection rows [rows, n_gates*Di]: the hidden slot becomes b_t, the next slot a_t.
 *   GRU:  a = 1 - sigmoid(k_z) = sigmoid(-k_z),  b = sigmoid(k_z) g(k_h)
 *   LSTM: a = f / (f + i),  b = i / (f + i) g(k_h),  f = sigmoid(k_f), i = sigmoid(k_i) */
static void gates(const mg_cell *c, float *proj, size_t rows) {
    int di = c->dim_inner, ld = c->n_gates * di;
    for (size_t r = 0; r < rows; r++) {
        float *kh = proj + r * ld, *k1 = kh + di;
        if (c->cell == MG_CELL_GRU) {
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
    gates(c, proj, rows);

    /* h_t = a_t h_{t-1} + b_t, per sequence of the batch */
    for (int s = 0; s < B; s++) {
        float *ps = proj + (size_t)s * T * ld;
        mg_scan_chunked(ps + di, ps, ld, T, di, h0 ? h0 + (size_t)s * di : NULL, n_chunks, carry);
        if (hidden) memcpy(hidden + (size_t)s * di, ps + (size_t)(T - 1) * ld, di * sizeof(float));
    }

    /* y = to_out(h) */
    if (c->has_out) {
        mg_linear(k, &c->w_out, (int)rows, proj, ld, y, D);
    } else {
        for (size_t r = 0; r < rows; r++) memcpy(y + r * D, proj + r * ld, D * sizeof(float));
    }
}
