/* matmul_f32.c — the F32 kernels, C = A W^T: the plain-C reference, the row-major vector kernel, and the kernel on
 * weights packed in panels at load (with its fused multiply-add form in the relaxed builds); the packing.
 * A: [M, K] with row stride lda; W: [N, K] row-major (PyTorch's nn.Linear weight); C: [M, N], stride ldc.
 * kernels.c picks among them; linear.c splits them over the pool. */
#include <stdlib.h>
#include <string.h>

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

/* ---------------------------------------------------------------- vector kernels
 * Written with GCC/clang vector extensions, so the one source is wasm SIMD under Emscripten (-msimd128:
 * 4 lanes) and SSE/AVX in a native build (8 lanes with AVX; -march=native lets the compiler fuse the
 * multiply-adds). MG_VECTOR says they are compiled in. */
#ifdef MG_VECTOR
#if defined(__AVX__)
#define VL 8
#else
#define VL 4
#endif
typedef float vf __attribute__((vector_size(VL * sizeof(float))));

static inline vf vload(const float *p) {
    vf v;
    memcpy(&v, p, sizeof v); /* an unaligned vector load */
    return v;
}

/* x in every lane. (Not `(vf){0} + x`: adding +0 is not an identity for -0, so the compiler must keep the
 * add, one more instruction per broadcast in the inner loops.) */
static inline vf vsplat(float x) {
#if VL == 8
    return (vf){x, x, x, x, x, x, x, x};
#else
    return (vf){x, x, x, x};
#endif
}

static inline float hsum(vf v) {
    float s = 0;
    for (int i = 0; i < VL; i++) s += v[i];
    return s;
}

/* C[m, n..n+3] (and row m+1 when two) = rows x0 (x1) . w[0..3]: each weight vector loaded once serves
 * both rows; eight accumulators. */
static inline void dot_rows_x4(int two, const float *x0, const float *x1, const float *const w[4], int K,
                               float *c0, float *c1) {
    vf z = {0}, a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
    int k = 0;
    for (; k + VL <= K; k += VL) {
        vf b0 = vload(w[0] + k), b1 = vload(w[1] + k), b2 = vload(w[2] + k), b3 = vload(w[3] + k);
        vf x = vload(x0 + k);
        a00 += x * b0, a01 += x * b1, a02 += x * b2, a03 += x * b3;
        if (two) {
            x = vload(x1 + k);
            a10 += x * b0, a11 += x * b1, a12 += x * b2, a13 += x * b3;
        }
    }
    float t0[4] = {hsum(a00), hsum(a01), hsum(a02), hsum(a03)}, t1[4] = {hsum(a10), hsum(a11), hsum(a12), hsum(a13)};
    for (; k < K; k++)
        for (int j = 0; j < 4; j++) {
            t0[j] += x0[k] * w[j][k];
            if (two) t1[j] += x1[k] * w[j][k];
        }
    memcpy(c0, t0, sizeof t0);
    if (two) memcpy(c1, t1, sizeof t1);
}

void mg_matmul_simd(int M, int N, int K, const float *A, int lda, const float *W, float *C, int ldc) {
    int n = 0;
    for (; n + 4 <= N; n += 4) {
        const float *const w[4] = {W + (size_t)n * K, W + (size_t)(n + 1) * K, W + (size_t)(n + 2) * K,
                                   W + (size_t)(n + 3) * K};
        for (int m = 0; m < M; m += 2) {
            const float *x0 = A + (size_t)m * lda;
            float *c0 = C + (size_t)m * ldc + n;
            if (m + 1 < M)
                dot_rows_x4(1, x0, x0 + lda, w, K, c0, c0 + ldc);
            else
                dot_rows_x4(0, x0, x0, w, K, c0, c0);
        }
    }
    if (n < N) mg_matmul_reference(M, N - n, K, A, lda, W + (size_t)n * K, C + n, ldc);
}

/* ---- F32 weights packed once at load (mg_pack_f32): rows in panels of NR, each panel k-major (the NR
 * weights of column k side by side), so a kernel streams one contiguous panel and keeps a 4 x NR tile of C
 * in registers, each weight vector serving four rows of A; rows past the last whole panel stay row-major.
 * Measured in wasm: 1.1-1.3x the row-major kernels for prefill blocks, 1.2-1.8x for one row. */
#define NR 8
enum { NV = NR / VL };

void mg_pack_f32(const float *W, int N, int K, float *P) {
    int N8 = N / NR * NR;
    for (int p = 0; p < N8; p += NR)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < NR; j++) P[(size_t)p * K + (size_t)k * NR + j] = W[(size_t)(p + j) * K + k];
    memcpy(P + (size_t)N8 * K, W + (size_t)N8 * K, (size_t)(N - N8) * K * sizeof(float));
}

void mg_pack_f32_transposed(const float *B, int R, int C, int ld, float *P) {
    /* B^T [C, R]: its panels of 8 rows are 8 side-by-side columns of B, copied row by row, 16 rows of B at a time
     * for every panel (reading B in order, not down its columns once per panel) */
    int C8 = C / NR * NR;
    for (int k0 = 0; k0 < R; k0 += 16)
        for (int p = 0; p < C8; p += NR)
            for (int k = k0; k < R && k < k0 + 16; k++)
                memcpy(P + (size_t)p * R + (size_t)k * NR, B + (size_t)k * ld + p, NR * sizeof(float));
    for (int r = C8; r < C; r++)
        for (int k = 0; k < R; k++) P[(size_t)r * R + k] = B[(size_t)k * ld + r];
}

void mg_unpack_f32(const float *P, int N, int K, float *W) {
    int N8 = N / NR * NR;
    for (int p = 0; p < N8; p += NR)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < NR; j++) W[(size_t)(p + j) * K + k] = P[(size_t)p * K + (size_t)k * NR + j];
    memcpy(W + (size_t)N8 * K, P + (size_t)N8 * K, (size_t)(N - N8) * K * sizeof(float));
}

/* a * b + c: two instructions in the plain builds; in the relaxed builds, fused where the engine fuses
 * (f32x4.relaxed_madd: one FMA on x86 with FMA and on ARM, the same two instructions elsewhere), so its last bit
 * may differ from machine to machine. */
#ifdef __wasm_relaxed_simd__
#include <wasm_simd128.h>
#define MADD(fused, a, b, c) ((fused) ? (vf)wasm_f32x4_relaxed_madd((v128_t)(a), (v128_t)(b), (v128_t)(c)) : (c) + (a) * (b))
#else
#define MADD(fused, a, b, c) ((c) + (a) * (b))
#endif

static inline __attribute__((always_inline)) void packed(int fused, int M, int N, int K, const float *A, int lda,
                                                         const float *P, float *C, int ldc) {
    int N8 = N / NR * NR;
    for (int n = 0; n < N8; n += NR) {
        const float *p = P + (size_t)n * K;
        int m = 0;
        for (; m + 4 <= M; m += 4) {
            const float *a0 = A + (size_t)m * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
            vf c0[NV] = {0}, c1[NV] = {0}, c2[NV] = {0}, c3[NV] = {0};
            for (int k = 0; k < K; k++) {
                vf w[NV];
                for (int v = 0; v < NV; v++) w[v] = vload(p + (size_t)k * NR + v * VL);
                vf x0 = vsplat(a0[k]), x1 = vsplat(a1[k]), x2 = vsplat(a2[k]), x3 = vsplat(a3[k]);
                for (int v = 0; v < NV; v++) {
                    c0[v] = MADD(fused, x0, w[v], c0[v]), c1[v] = MADD(fused, x1, w[v], c1[v]);
                    c2[v] = MADD(fused, x2, w[v], c2[v]), c3[v] = MADD(fused, x3, w[v], c3[v]);
                }
            }
            float *c = C + (size_t)m * ldc + n;
            memcpy(c, c0, sizeof c0), memcpy(c + ldc, c1, sizeof c1);
            memcpy(c + 2 * (size_t)ldc, c2, sizeof c2), memcpy(c + 3 * (size_t)ldc, c3, sizeof c3);
        }
        for (; m < M; m++) { /* one row (a step): two interleaved sums over even and odd k */
            const float *a = A + (size_t)m * lda;
            vf e[NV] = {0}, o[NV] = {0};
            int k = 0;
            for (; k + 2 <= K; k += 2) {
                vf x = vsplat(a[k]), y = vsplat(a[k + 1]);
                for (int v = 0; v < NV; v++) {
                    e[v] = MADD(fused, x, vload(p + (size_t)k * NR + v * VL), e[v]);
                    o[v] = MADD(fused, y, vload(p + (size_t)(k + 1) * NR + v * VL), o[v]);
                }
            }
            if (k < K)
                for (int v = 0; v < NV; v++) e[v] = MADD(fused, vsplat(a[k]), vload(p + (size_t)k * NR + v * VL), e[v]);
            for (int v = 0; v < NV; v++) e[v] += o[v];
            memcpy(C + (size_t)m * ldc + n, e, sizeof e);
        }
    }
    if (N8 < N) mg_matmul_simd(M, N - N8, K, A, lda, P + (size_t)N8 * K, C + N8, ldc);
}

void mg_matmul_packed(int M, int N, int K, const float *A, int lda, const float *P, float *C, int ldc) {
    packed(0, M, N, K, A, lda, P, C, ldc);
}

#ifdef __wasm_relaxed_simd__
/* The relaxed builds' F32 kernel (MG_KERNEL_SIMD and AUTO; MG_KERNEL_PORTABLE keeps mg_matmul_packed). */
void mg_matmul_packed_fused(int M, int N, int K, const float *A, int lda, const float *P, float *C, int ldc) {
    packed(1, M, N, K, A, lda, P, C, ldc);
}
#endif
#endif /* MG_VECTOR */
