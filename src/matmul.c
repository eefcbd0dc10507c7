/* matmul.c — C = A W^T: plain-C reference kernels and wasm-SIMD kernels (same signatures), for F32
 * weights and for int8 weights with per-row scales.
 * A: [M, K] with row stride lda; W: [N, K] row-major (PyTorch's nn.Linear weight); C: [M, N], stride ldc. */
#include <math.h>

#include "internal.h"

void mg_matmul_reference(int M, int N, int K, const float *A, int lda, const float *W, float *C, int ldc) {
    for (int m = 0; m < M; m++) {
        const float *x = A + (size_t)m * lda;
        for (int n = 0; n < N; n++) {
            const float *w = W + (size_t)n * K;
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += x[k] * w[k];
            C[(size_t)m * ldc + n] = acc;
        }
    }
}

void mg_matmul_q8_reference(int M, int N, int K, const float *A, int lda, const int8_t *W, const float *scale,
                            float *C, int ldc) {
    for (int m = 0; m < M; m++) {
        const float *x = A + (size_t)m * lda;
        for (int n = 0; n < N; n++) {
            const int8_t *w = W + (size_t)n * K;
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += x[k] * (float)w[k];
            C[(size_t)m * ldc + n] = acc * scale[n];
        }
    }
}

#ifdef __wasm_simd128__
#include <wasm_simd128.h>

/* [sum(v0), sum(v1), sum(v2), sum(v3)] */
static inline v128_t sum4(v128_t v0, v128_t v1, v128_t v2, v128_t v3) {
    v128_t s01 = wasm_f32x4_add(wasm_i32x4_shuffle(v0, v1, 0, 1, 4, 5), wasm_i32x4_shuffle(v0, v1, 2, 3, 6, 7));
    v128_t s23 = wasm_f32x4_add(wasm_i32x4_shuffle(v2, v3, 0, 1, 4, 5), wasm_i32x4_shuffle(v2, v3, 2, 3, 6, 7));
    return wasm_f32x4_add(wasm_i32x4_shuffle(s01, s23, 0, 2, 4, 6), wasm_i32x4_shuffle(s01, s23, 1, 3, 5, 7));
}

/* Dot products of one row x with four weight rows w[0..3]: main loop of 4 lanes plus a scalar tail. */
static inline v128_t dot_1x4(const float *x, const float *const w[4], int K) {
    v128_t c0 = wasm_f32x4_splat(0), c1 = c0, c2 = c0, c3 = c0;
    int k = 0;
    for (; k + 4 <= K; k += 4) {
        v128_t a = wasm_v128_load(x + k);
        c0 = wasm_f32x4_add(c0, wasm_f32x4_mul(a, wasm_v128_load(w[0] + k)));
        c1 = wasm_f32x4_add(c1, wasm_f32x4_mul(a, wasm_v128_load(w[1] + k)));
        c2 = wasm_f32x4_add(c2, wasm_f32x4_mul(a, wasm_v128_load(w[2] + k)));
        c3 = wasm_f32x4_add(c3, wasm_f32x4_mul(a, wasm_v128_load(w[3] + k)));
    }
    float t[4] = {0, 0, 0, 0};
    for (; k < K; k++)
        for (int j = 0; j < 4; j++) t[j] += x[k] * w[j][k];
    return wasm_f32x4_add(sum4(c0, c1, c2, c3), wasm_v128_load(t));
}

/* The same for two rows x0, x1 at once: each weight vector loaded once serves both rows. */
static inline void dot_2x4(const float *x0, const float *x1, const float *const w[4], int K, v128_t *r0,
                           v128_t *r1) {
    v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c02 = c00, c03 = c00;
    v128_t c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    int k = 0;
    for (; k + 4 <= K; k += 4) {
        v128_t a0 = wasm_v128_load(x0 + k), a1 = wasm_v128_load(x1 + k);
        v128_t b0 = wasm_v128_load(w[0] + k), b1 = wasm_v128_load(w[1] + k);
        v128_t b2 = wasm_v128_load(w[2] + k), b3 = wasm_v128_load(w[3] + k);
        c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(a0, b0));
        c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(a0, b1));
        c02 = wasm_f32x4_add(c02, wasm_f32x4_mul(a0, b2));
        c03 = wasm_f32x4_add(c03, wasm_f32x4_mul(a0, b3));
        c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(a1, b0));
        c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(a1, b1));
        c12 = wasm_f32x4_add(c12, wasm_f32x4_mul(a1, b2));
        c13 = wasm_f32x4_add(c13, wasm_f32x4_mul(a1, b3));
    }
    float t0[4] = {0, 0, 0, 0}, t1[4] = {0, 0, 0, 0};
    for (; k < K; k++)
        for (int j = 0; j < 4; j++) {
            t0[j] += x0[k] * w[j][k];
            t1[j] += x1[k] * w[j][k];
        }
    *r0 = wasm_f32x4_add(sum4(c00, c01, c02, c03), wasm_v128_load(t0));
    *r1 = wasm_f32x4_add(sum4(c10, c11, c12, c13), wasm_v128_load(t1));
}

void mg_matmul_simd(int M, int N, int K, const float *A, int lda, const float *W, float *C, int ldc) {
    int n = 0;
    for (; n + 4 <= N; n += 4) {
        const float *const w[4] = {W + (size_t)n * K, W + (size_t)(n + 1) * K, W + (size_t)(n + 2) * K,
                                   W + (size_t)(n + 3) * K};
        int m = 0;
        for (; m + 2 <= M; m += 2) {
            v128_t r0, r1;
            dot_2x4(A + (size_t)m * lda, A + (size_t)(m + 1) * lda, w, K, &r0, &r1);
            wasm_v128_store(C + (size_t)m * ldc + n, r0);
            wasm_v128_store(C + (size_t)(m + 1) * ldc + n, r1);
        }
        for (; m < M; m++) wasm_v128_store(C + (size_t)m * ldc + n, dot_1x4(A + (size_t)m * lda, w, K));
    }
    if (n < N) mg_matmul_reference(M, N - n, K, A, lda, W + (size_t)n * K, C + n, ldc);
}

/* Four int8 weights widened to floats. */
static inline v128_t load_q4(const int8_t *p) {
    v128_t v = wasm_v128_load32_zero(p);
    return wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(wasm_i16x8_extend_low_i8x16(v)));
}

/* As dot_2x4 with int8 weight rows: each widened weight vector serves two rows of A. */
static inline void dot_q8_2x4(const float *x0, const float *x1, const int8_t *const w[4], int K, v128_t *r0,
                              v128_t *r1) {
    v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c02 = c00, c03 = c00;
    v128_t c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    int k = 0;
    for (; k + 4 <= K; k += 4) {
        v128_t a0 = wasm_v128_load(x0 + k), a1 = wasm_v128_load(x1 + k);
        v128_t b0 = load_q4(w[0] + k), b1 = load_q4(w[1] + k), b2 = load_q4(w[2] + k), b3 = load_q4(w[3] + k);
        c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(a0, b0));
        c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(a0, b1));
        c02 = wasm_f32x4_add(c02, wasm_f32x4_mul(a0, b2));
        c03 = wasm_f32x4_add(c03, wasm_f32x4_mul(a0, b3));
        c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(a1, b0));
        c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(a1, b1));
        c12 = wasm_f32x4_add(c12, wasm_f32x4_mul(a1, b2));
        c13 = wasm_f32x4_add(c13, wasm_f32x4_mul(a1, b3));
    }
    float t0[4] = {0, 0, 0, 0}, t1[4] = {0, 0, 0, 0};
    for (; k < K; k++)
        for (int j = 0; j < 4; j++) {
            t0[j] += x0[k] * (float)w[j][k];
            t1[j] += x1[k] * (float)w[j][k];
        }
    *r0 = wasm_f32x4_add(sum4(c00, c01, c02, c03), wasm_v128_load(t0));
    *r1 = wasm_f32x4_add(sum4(c10, c11, c12, c13), wasm_v128_load(t1));
}

void mg_matmul_q8_simd(int M, int N, int K, const float *A, int lda, const int8_t *W, const float *scale, float *C,
                       int ldc) {
    int n = 0;
    for (; n + 4 <= N; n += 4) {
        const int8_t *const w[4] = {W + (size_t)n * K, W + (size_t)(n + 1) * K, W + (size_t)(n + 2) * K,
                                    W + (size_t)(n + 3) * K};
        v128_t s = wasm_v128_load(scale + n);
        for (int m = 0; m < M; m += 2) {
            /* an odd last row is paired with itself and stored once */
            const float *x0 = A + (size_t)m * lda, *x1 = m + 1 < M ? x0 + lda : x0;
            v128_t r0, r1;
            dot_q8_2x4(x0, x1, w, K, &r0, &r1);
            wasm_v128_store(C + (size_t)m * ldc + n, wasm_f32x4_mul(r0, s));
            if (m + 1 < M) wasm_v128_store(C + (size_t)(m + 1) * ldc + n, wasm_f32x4_mul(r1, s));
        }
    }
    if (n < N) mg_matmul_q8_reference(M, N - n, K, A, lda, W + (size_t)n * K, scale + n, C + n, ldc);
}
#endif

int mg_has_simd(void) {
#ifdef __wasm_simd128__
    return 1;
#else
    return 0;
#endif
}

int mg_kernels_select(int kernel, mg_kernels *k) {
    switch (kernel) {
    case MG_KERNEL_REFERENCE: *k = (mg_kernels){mg_matmul_reference, mg_matmul_q8_reference}; return 1;
#ifdef __wasm_simd128__
    case MG_KERNEL_AUTO:
    case MG_KERNEL_SIMD: *k = (mg_kernels){mg_matmul_simd, mg_matmul_q8_simd}; return 1;
#else
    case MG_KERNEL_AUTO: *k = (mg_kernels){mg_matmul_reference, mg_matmul_q8_reference}; return 1;
#endif
    default: return 0;
    }
}

typedef struct {
    const mg_kernels *k;
    const mg_matrix *w;
    int M, lda, ldc, act;
    const float *A, *bias;
    float *C;
} linear_job;

/* nn.GELU(): x * Phi(x) with the exact erf. */
static float gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

/* Thread ith's columns [n0, n1) of C, then their bias and activation. */
static void linear_task(void *ctx, int ith, int nth) {
    const linear_job *j = ctx;
    const mg_matrix *w = j->w;
    int n0, n1;
    mg_split(w->rows, ith, nth, 4, &n0, &n1);
    if (n0 >= n1) return;
    size_t off = (size_t)n0 * w->cols;
    if (w->q8)
        j->k->q8(j->M, n1 - n0, w->cols, j->A, j->lda, w->q8 + off, w->scale + n0, j->C + n0, j->ldc);
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

void mg_linear_act(const mg_kernels *k, const mg_matrix *w, int M, const float *A, int lda, float *C, int ldc,
                   const float *bias, int act) {
    linear_job j = {k, w, M, lda, ldc, act, A, bias, C};
    mg_pool_run(linear_task, &j);
}

void mg_linear(const mg_kernels *k, const mg_matrix *w, int M, const float *A, int lda, float *C, int ldc) {
    mg_linear_act(k, w, M, A, lda, C, ldc, NULL, MG_ACT_NONE);
}
