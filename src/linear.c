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

/* nn.GELU(): x * Phi(x) with the exact erf. */
static float gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

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
            c[n] = j->act == MG_ACT_GELU ? gelu(v) : v;
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
