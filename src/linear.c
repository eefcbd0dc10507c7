/* linear.c — linear layers on the pool: y = x W^T (+ bias) (then GELU), the output columns cut into pieces that the
 * pool's threads take in turn, each piece computed by a kernel of matmul_f32.c or matmul_q8.c. */
#include <stdatomic.h>

#include "internal.h"

typedef struct {
    const mg_kernels *k;
    const mg_matrix *w;
    int M, lda, ldc, act;
    const float *A, *bias;
    float *C;
    atomic_int next;    /* the next piece not yet taken */
} linear_job;

/* c [n] += bias (when there is one), then the activation: in one pass of wasm SIMD, else two plain loops, which the
 * compiler makes SIMD code. */
static void bias_act(float *c, const float *bias, int n, int act) {
    int i = 0;
#ifdef __wasm_simd128__
    if (act == MG_ACT_GELU)
        for (mg_act_k k = mg_act_consts(); i + 4 <= n; i += 4) {
            mg_f4 x = wasm_v128_load(c + i);
            wasm_v128_store(c + i, mg_gelu4(bias ? MG_ADD4(x, wasm_v128_load(bias + i)) : x, &k));
        }
#endif
    if (bias)
        for (int k = i; k < n; k++) c[k] += bias[k];
    if (act == MG_ACT_GELU)
        for (int k = i; k < n; k++) c[k] = mg_gelu(c[k]);
}

/* Rows [m0, m1) and columns [n0, n1) of C, then their bias and activation. */
static void linear_piece(const linear_job *j, int m0, int m1, int n0, int n1) {
    const mg_matrix *w = j->w;
    size_t off = (size_t)n0 * w->cols;
    const float *A = j->A + (size_t)m0 * j->lda;
    float *C = j->C + (size_t)m0 * j->ldc + n0;
    int M = m1 - m0;
    if (w->q8)
        (w->packed ? j->k->q8packed : j->k->q8)(M, n1 - n0, w->cols, A, j->lda, w->q8 + off, w->scale + n0,
                                                w->rowsum + n0, C, j->ldc);
    else if (w->packed)
        j->k->packed(M, n1 - n0, w->cols, A, j->lda, w->f32 + off, C, j->ldc);
    else
        j->k->f32(M, n1 - n0, w->cols, A, j->lda, w->f32 + off, C, j->ldc);
    for (int m = 0; m < M; m++) bias_act(C + (size_t)m * j->ldc, j->bias ? j->bias + n0 : NULL, n1 - n0, j->act);
}

/* The threads take pieces of C until none are left, rather than a fixed share each: a thread that is slowed down
 * (another program on its core, a slower core, the hypervisor) then holds up only its current piece. A piece is a
 * block of rows of A small enough to stay in the cache while every panel of weights in the piece passes over it
 * (A_BLOCK bytes; without it, each panel would stream all of a long A from memory), times a run of columns: about
 * four pieces per thread, whole panels of 8 rows of W, one piece on one thread. A step (one row of A) is cut in at
 * most one piece per thread: each piece takes its turn at the counter and, with int8 weights, quantizes the row
 * again, which cost more than the balance more pieces bring (the demo model's Q8 generate on 2 threads in Node:
 * 0.96x one thread in eight pieces, 1.45x in two; two pieces against four: 1.4x in Node, 1.06x in Chromium,
 * 2026-12-04). Which thread does a piece, and how they are cut, does not change a result: each element of C is the
 * same sum in the same order. */
enum { A_BLOCK = 64 << 10 };
static void linear_task(void *ctx, int ith, int nth) {
    linear_job *j = ctx;
    int rows = j->w->rows, mblock = A_BLOCK / (int)sizeof(float) / j->w->cols / 4 * 4;
    if (mblock < 4) mblock = 4;
    int mblocks = (j->M + mblock - 1) / mblock, want = j->M == 1 ? nth : (4 * nth + mblocks - 1) / mblocks;
    int chunk = nth == 1 ? rows : ((rows + want - 1) / want + 7) / 8 * 8, chunks = (rows + chunk - 1) / chunk;
    (void)ith;
    for (;;) {
        int p = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (p >= mblocks * chunks) return;
        int m0 = p / chunks * mblock, n0 = p % chunks * chunk;
        linear_piece(j, m0, m0 + mblock < j->M ? m0 + mblock : j->M, n0, n0 + chunk < rows ? n0 + chunk : rows);
    }
}

void mg_linear_act(const mg_kernels *k, const mg_matrix *w, int M, const float *A, int lda, float *C, int ldc,
                   const float *bias, int act) {
    if (M <= 0) return; /* nothing to compute (and no row blocks to cut) */
    linear_job j = {k, w, M, lda, ldc, act, A, bias, C, 0};
    /* the weights' bytes times the rows of A, saturated: in wasm32 a size_t overflowed on large products (a
     * 1 MB matrix times 8192 rows is 2^33), which put the largest jobs on one thread */
    size_t weight_bytes = (size_t)w->rows * w->cols * (w->q8 ? 1 : sizeof(float));
    size_t work = M > 0 && weight_bytes > SIZE_MAX / (size_t)M ? SIZE_MAX : weight_bytes * (size_t)M;
    mg_pool_run(linear_task, &j, work);
}

void mg_linear(const mg_kernels *k, const mg_matrix *w, int M, const float *A, int lda, float *C, int ldc) {
    mg_linear_act(k, w, M, A, lda, C, ldc, NULL, MG_ACT_NONE);
}

/* ---- backward */

/* The backward pass's data movement, on the pool: each piece of work is a range of columns of B [R, C] (row stride
 * ld), which the threads share; no sum depends on how they are cut. */
typedef struct {
    const float *B;
    int R, C, ld;
    float *out;
} columns_job;

/* out [C, R] = B^T, columns [c0, c1) (rows of out), in tiles that stay in cache */
static void transpose_columns(void *ctx, size_t c0, size_t c1) {
    const columns_job *j = ctx;
    enum { TILE = 32 };
    for (int r0 = 0; r0 < j->R; r0 += TILE)
        for (size_t c = c0; c < c1; c++)
            for (int r = r0; r < r0 + TILE && r < j->R; r++) j->out[c * j->R + r] = j->B[(size_t)r * j->ld + c];
}

/* mg_pack_f32 of B^T: panels [8 p0, 8 p1) of its rows (the last takes the rows past the last whole panel) */
static void pack_transposed_panels(void *ctx, size_t p0, size_t p1) {
    const columns_job *j = ctx;
    int c0 = (int)p0 * 8, c1 = (size_t)p1 * 8 >= (size_t)j->C / 8 * 8 ? j->C : (int)p1 * 8;
    mg_pack_f32_transposed(j->B + c0, j->R, c1 - c0, j->ld, j->out + (size_t)c0 * j->R);
}

/* out [C] += the sum over rows of B, columns [c0, c1) */
static void sum_rows(void *ctx, size_t c0, size_t c1) {
    const columns_job *j = ctx;
    for (int r = 0; r < j->R; r++)
        for (size_t c = c0; c < c1; c++) j->out[c] += j->B[(size_t)r * j->ld + c];
}

/* out [R, C] (row stride C) += B, columns [c0, c1) */
static void add_columns(void *ctx, size_t c0, size_t c1) {
    const columns_job *j = ctx;
    for (int r = 0; r < j->R; r++)
        for (size_t c = c0; c < c1; c++) j->out[(size_t)r * j->C + c] += j->B[(size_t)r * j->ld + c];
}

static void on_columns(mg_range_fn fn, const float *B, int R, int C, int ld, float *out, size_t items) {
    columns_job j = {B, R, C, ld, out};
    mg_pool_for(fn, &j, items, (size_t)R * C * 2 * sizeof(float));
}

/* The matrix the kernels multiply by for B^T, with B [R, C] of row stride ld: packed straight from B where the
 * kernels pack (into P), else B^T written out (into P). */
static mg_matrix transposed_operand(const mg_kernels *k, const float *B, int R, int C, int ld, float *P) {
    if (k->packed) {
        on_columns(pack_transposed_panels, B, R, C, ld, P, (size_t)(C + 7) / 8);
        return (mg_matrix){.f32 = P, .rows = C, .cols = R, .packed = 1};
    }
    on_columns(transpose_columns, B, R, C, ld, P, (size_t)C);
    return (mg_matrix){.f32 = P, .rows = C, .cols = R};
}

size_t mg_linear_backward_scratch(int M, int N, int K) {
    size_t m = (size_t)M, n = (size_t)N, k = (size_t)K;
    size_t dA = k * n + m * k, dW = n * m + k * m + n * k;
    return dA > dW ? dA : dW;
}

void mg_linear_backward(const mg_kernels *k, const float *W, int N, int K, int M, const float *A, int lda,
                        const float *dC, int ldc, float *dA, float *dW, float *dbias, float *scratch) {
    size_t m = (size_t)M, n = (size_t)N, kk = (size_t)K;
    /* dA [M, K] += dC [M, N] W [N, K]: the kernels take W^T [K, N] as their weights */
    if (dA) {
        float *P = scratch, *tmp = P + kk * n;
        mg_matrix op = transposed_operand(k, W, N, K, K, P);
        mg_linear(k, &op, M, dC, ldc, tmp, K);
        on_columns(add_columns, tmp, M, K, K, dA, kk);
    }
    /* dW [N, K] += dC^T [N, M] A [M, K]: the rows of dC^T times A^T [K, M] as the weights */
    if (dW) {
        float *dCt = scratch, *P = dCt + n * m, *tmp = P + kk * m;
        on_columns(transpose_columns, dC, M, N, ldc, dCt, n);
        mg_matrix op = transposed_operand(k, A, M, K, lda, P);
        mg_linear(k, &op, N, dCt, M, tmp, K);
        on_columns(add_columns, tmp, N, K, K, dW, kk);
    }
    /* dbias [N] += sum over rows of dC */
    if (dbias) on_columns(sum_rows, dC, M, N, ldc, dbias, n);
}
