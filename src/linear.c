/* linear.c — linear layers on the pool: y = x W^T (+ bias) (then GELU), the output columns cut into pieces that the
 * pool's threads take in turn, each piece computed by a kernel of matmul.c. */
#include <math.h>
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

/* nn.GELU(): x * Phi(x) with the exact erf; its derivative Phi(x) + x phi(x). */
float mg_gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
float mg_gelu_grad(float x) {
    return 0.5f * (1.0f + erff(x * 0.70710678118654752f)) + x * 0.39894228040143268f * expf(-0.5f * x * x);
}

/* Columns [n0, n1) of C, then their bias and activation. */
static void linear_rows(const linear_job *j, int n0, int n1) {
    const mg_matrix *w = j->w;
    size_t off = (size_t)n0 * w->cols;
    if (w->q8)
        j->k->q8(j->M, n1 - n0, w->cols, j->A, j->lda, w->q8 + off, w->scale + n0, j->C + n0, j->ldc);
    else if (w->packed)
        j->k->packed(j->M, n1 - n0, w->cols, j->A, j->lda, w->f32 + off, j->C + n0, j->ldc);
    else
        j->k->f32(j->M, n1 - n0, w->cols, j->A, j->lda, w->f32 + off, j->C + n0, j->ldc);
    if (!j->bias && j->act == MG_ACT_NONE) return;
    for (int m = 0; m < j->M; m++) {
        float *c = j->C + (size_t)m * j->ldc;
        for (int n = n0; n < n1; n++) {
            float v = j->bias ? c[n] + j->bias[n] : c[n];
            c[n] = j->act == MG_ACT_GELU ? mg_gelu(v) : v;
        }
    }
}

/* The threads take pieces of the output columns until none are left, rather than a fixed share each: a thread
 * that is slowed down (another program on its core, a slower core, the hypervisor) then holds up only its
 * current piece. About four pieces per thread, whole panels of 8 rows; one piece when the job runs on one
 * thread. Which thread does a piece does not change its result. */
static void linear_task(void *ctx, int ith, int nth) {
    linear_job *j = ctx;
    int rows = j->w->rows, chunk = nth == 1 ? rows : ((rows + 4 * nth - 1) / (4 * nth) + 7) / 8 * 8;
    (void)ith;
    for (;;) {
        int n0 = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed) * chunk;
        if (n0 >= rows) return;
        linear_rows(j, n0, n0 + chunk < rows ? n0 + chunk : rows);
    }
}

void mg_linear_act(const mg_kernels *k, const mg_matrix *w, int M, const float *A, int lda, float *C, int ldc,
                   const float *bias, int act) {
    linear_job j = {k, w, M, lda, ldc, act, A, bias, C, 0};
    size_t weight_bytes = (size_t)w->rows * w->cols * (w->q8 ? 1 : sizeof(float));
    mg_pool_run(linear_task, &j, weight_bytes * M);
}

void mg_linear(const mg_kernels *k, const mg_matrix *w, int M, const float *A, int lda, float *C, int ldc) {
    mg_linear_act(k, w, M, A, lda, C, ldc, NULL, MG_ACT_NONE);
}

/* ---- backward */

/* out [C, R] = in [R, C]^T (in has row stride ld) */
static void transpose(const float *in, int R, int C, int ld, float *out) {
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) out[(size_t)c * R + r] = in[(size_t)r * ld + c];
}

/* P = B [N, K] as the matrix the kernels multiply by: packed where they pack (into P), else B itself. */
static mg_matrix operand(const mg_kernels *k, const float *B, int N, int K, float *P) {
    if (!k->packed) return (mg_matrix){.f32 = B, .rows = N, .cols = K};
    mg_pack_f32(B, N, K, P);
    return (mg_matrix){.f32 = P, .rows = N, .cols = K, .packed = 1};
}

static void accumulate(float *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

size_t mg_linear_backward_scratch(int M, int N, int K) {
    size_t m = (size_t)M, n = (size_t)N, k = (size_t)K;
    size_t dA = 2 * k * n + m * k, dW = n * m + 2 * k * m + n * k;
    return dA > dW ? dA : dW;
}

void mg_linear_backward(const mg_kernels *k, const float *W, int N, int K, int M, const float *A, int lda,
                        const float *dC, int ldc, float *dA, float *dW, float *dbias, float *scratch) {
    size_t m = (size_t)M, n = (size_t)N, kk = (size_t)K;
    /* dA [M, K] += dC [M, N] W [N, K]: the kernels take W^T [K, N] as their row-major weights */
    if (dA) {
        float *Wt = scratch, *P = Wt + kk * n, *tmp = P + kk * n;
        transpose(W, N, K, K, Wt);
        mg_matrix op = operand(k, Wt, K, N, P);
        mg_linear(k, &op, M, dC, ldc, tmp, K);
        accumulate(dA, tmp, m * kk);
    }
    /* dW [N, K] += dC^T [N, M] A [M, K]: rows of dC^T times A^T [K, M] as the weights */
    if (dW) {
        float *dCt = scratch, *At = dCt + n * m, *P = At + kk * m, *tmp = P + kk * m;
        transpose(dC, M, N, ldc, dCt);
        transpose(A, M, K, lda, At);
        mg_matrix op = operand(k, At, K, M, P);
        mg_linear(k, &op, N, dCt, M, tmp, K);
        accumulate(dW, tmp, n * kk);
    }
    /* dbias [N] += sum over rows of dC */
    if (dbias)
        for (size_t r = 0; r < m; r++)
            for (size_t c = 0; c < n; c++) dbias[c] += dC[r * ldc + c];
}
