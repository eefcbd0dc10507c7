/* matmul_q8.c — the int8 kernels, C = A W^T with int8 weights and one F32 scale per row: the one Q8 arithmetic
 * that every build shares, its plain-C reference, the packing, and the vector kernel, whose integer sums are the
 * plain builds' int16 dot products (i32x4.dot_i16x8_s) or the relaxed builds' 7-bit ones
 * (i32x4.relaxed_dot_i8x16_i7x16_add_s): two branches of one kernel, the same integers either way.
 * A: [M, K] with row stride lda; W: [N, K] row-major or packed by mg_pack_q8; C: [M, N], stride ldc.
 * kernels.c picks among them; linear.c splits them over the pool. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

float mg_row_amax(const float *x, int n) {
    uint32_t top = 0;
    for (int i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, x + i, sizeof bits);
        bits &= 0x7fffffffu;
        top = bits > top ? bits : top;
    }
    if (top >= 0x7f800000u) return NAN;
    float amax;
    memcpy(&amax, &top, sizeof amax);
    return amax;
}

/* ---- int8 weights: ONE arithmetic for every build and kernel (docs/kernels.md), so that Q8 results are the same
 * bits in every engine, build (plain, relaxed, single, threads) and thread count. Each row of A is rounded to integer
 * steps of max|row| / 63 (7 bits, in [-63, 63]: what relaxed SIMD's i32x4.relaxed_dot_i8x16_i7x16_add_s reads alike
 * in every engine, see dot_x4); the products with the int8 weights are summed exactly in integers over the whole row,
 * each kernel its own way (an integer sum does not depend on the order); and the exact sum d gives
 * C[m, n] = (float)d * step * scale[n]. The float parts are these three functions, shared by every kernel. A row
 * with a NaN or an infinity goes through float arithmetic instead (q8_float), so those still propagate. */
#define MG_Q8_STEPS 63
const int mg_q8_steps = MG_Q8_STEPS;

/* The row's step max|x| / 63; NaN for a row with a NaN or an infinity, 1 for an all-zero row. */
static float q7_step(const float *x, int K) {
    float amax = mg_row_amax(x, K);
    if (!(amax <= 3.4e38f)) return NAN;
    float step = amax / (float)MG_Q8_STEPS;
    return step >= 1e-30f ? step : 1.0f;
}

/* x in steps (inv = 1 / step), rounded to the nearest, ties to even: an integer in [-63, 63] */
static inline int q7(float x, float inv) { return (int)nearbyintf(x * inv); }

/* C[m, n] from the exact integer dot product d of row m's steps with weight row n */
static inline float q7_out(int64_t d, float step, float scale) { return (float)d * step * scale; }

/* Float arithmetic on row-major (pk 0) or packed (pk 1) int8 weights: for rows of A with a NaN or an infinity. */
static void q8_float(int pk, int M, int N, int K, const float *A, int lda, const int8_t *W, const float *scale,
                     float *C, int ldc) {
    for (int m = 0; m < M; m++) {
        const float *x = A + (size_t)m * lda;
        for (int n = 0; n < N; n++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += x[k] * (float)W[pk ? mg_q8_at(N, K, n, k) : (size_t)n * K + k];
            C[(size_t)m * ldc + n] = acc * scale[n];
        }
    }
}

/* The arithmetic in plain C, one product at a time (pk: packed weights): the reference kernel, and the vector
 * kernels' rows longer than their buffers. */
static void q8_scalar(int pk, int M, int N, int K, const float *A, int lda, const int8_t *W, const float *scale,
                      float *C, int ldc) {
    for (int m = 0; m < M; m++) {
        const float *x = A + (size_t)m * lda;
        float step = q7_step(x, K), inv = 1.0f / step;
        if (isnan(step)) {
            q8_float(pk, 1, N, K, x, lda, W, scale, C + (size_t)m * ldc, ldc);
            continue;
        }
        for (int n = 0; n < N; n++) {
            int64_t d = 0;
            for (int k = 0; k < K; k++) d += (int64_t)q7(x[k], inv) * W[pk ? mg_q8_at(N, K, n, k) : (size_t)n * K + k];
            C[(size_t)m * ldc + n] = q7_out(d, step, scale[n]);
        }
    }
}

void mg_matmul_q8_reference(int M, int N, int K, const float *A, int lda, const int8_t *W, const float *scale,
                            const int32_t *rowsum, float *C, int ldc) {
    (void)rowsum;
    q8_scalar(0, M, N, K, A, lda, W, scale, C, ldc);
}

/* ---- int8 weights packed once at load (mg_pack_q8; the layout is mg_q8_at's). Measured in Chromium 156
 * (2026-12-03, AMD EPYC, one thread): a four-row relaxed dot product read 5-9 GB/s of weights that do not fit in
 * the caches from four rows K bytes apart, 22-32 GB/s from the packed stream; 1.3x in the caches. */
int mg_q8_packs(int K) { return K > 0 && K % 16 == 0; }

void mg_pack_q8(const int8_t *W, int N, int K, int8_t *P) {
    int N4 = N / 4 * 4;
    for (int n = 0; n < N4; n += 4) /* 16 bytes at a time (an adaptation step packs the top again) */
        for (int k = 0; k < K; k += 16)
            for (int j = 0; j < 4; j++) memcpy(P + mg_q8_at(N, K, n + j, k), W + (size_t)(n + j) * K + k, 16);
    memcpy(P + (size_t)N4 * K, W + (size_t)N4 * K, (size_t)(N - N4) * K);
}

/* Rows n..n+3 of W (row-major, or packed with pk) from column k0 (a multiple of 16 when packed): the vector kernels
 * read weight k of row j at w[j] + k * (pk ? 4 : 1). */
static inline void q8_rows4(int pk, const int8_t *W, int K, int n, int k0, const int8_t *w[4]) {
    for (int j = 0; j < 4; j++) w[j] = pk ? W + (size_t)n * K + (size_t)k0 * 4 + (size_t)j * 16 : W + (size_t)(n + j) * K + k0;
}

/* ---------------------------------------------------------------- vector kernels (MG_VECTOR: compiled in) */
#ifdef MG_VECTOR
/* ---- int8 weights, vector kernels: the arithmetic above (q7_step, q7, q7_out), the sums by SIMD. */
enum { K7 = 8192, R7 = 4 }; /* the longest row done this way (longer ones by q8_scalar), rows of A at a time */

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
/* (the sum of a's four int32 lanes, of b's, c's, d's): a four-row int8 kernel's four dot products */
static inline v128_t hsum_x4(v128_t a, v128_t b, v128_t c, v128_t d) {
    v128_t ab = wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 1, 4, 5), wasm_i32x4_shuffle(a, b, 2, 3, 6, 7));
    v128_t cd = wasm_i32x4_add(wasm_i32x4_shuffle(c, d, 0, 1, 4, 5), wasm_i32x4_shuffle(c, d, 2, 3, 6, 7));
    return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 2, 4, 6), wasm_i32x4_shuffle(ab, cd, 1, 3, 5, 7));
}
#endif

/* Row x in steps (q7) into xq: with relaxed, as bytes x + 64 (relaxed SIMD's 7-bit operand is read alike by every
 * engine only while its top bit is clear: x + 64 is in [1, 127]); else as int16 (plain SIMD's i32x4.dot_i16x8_s
 * operand: the same values, stored wider so that the inner loop widens only the weights). Returns the step (NaN:
 * the row is q8_float's). */
static float q7_row(const float *x, int K, int relaxed, int16_t *xq) {
    float step = q7_step(x, K), inv = 1.0f / step;
    if (isnan(step)) return step;
    if (relaxed)
        for (int k = 0; k < K; k++) ((int8_t *)xq)[k] = (int8_t)(q7(x[k], inv) + 64);
    else
        for (int k = 0; k < K; k++) xq[k] = (int16_t)q7(x[k], inv); /* rint's rounding, vectorized */
    return step;
}

/* Activation k of a row q7_row stored */
static inline int32_t xq_at(int relaxed, const int16_t *xq, int k) { return relaxed ? ((const int8_t *)xq)[k] : xq[k]; }

/* The exact sum of a row's steps with weight row r from a dot product s of what q7_row stored: relaxed's offset
 * (64 x the row's sum of weights) taken back. */
static inline int32_t unoffset(int32_t s, int relaxed, const int32_t *rowsum, int r) { return relaxed ? s - 64 * rowsum[r] : s; }

/* The four int32 sums x . w[j][0..n) (x as q7_row stored it; w as q8_rows4 gives it, kmul 4 when packed); the tail
 * past the last whole 16 (row-major only) in plain C. relaxed: i32x4.relaxed_dot_i8x16_i7x16_add_s, 16 products four
 * to a lane in one instruction; plain wasm SIMD: the weights widened to int16 and i32x4.dot_i16x8_s; natively, the
 * plain loop that the compiler vectorizes. Lanes group the products differently; the sums are the same integers. */
static inline __attribute__((always_inline)) void dot_x4(int relaxed, const int16_t *x, const int8_t *const w[4], int n,
                                                         int kmul, int32_t out[4]) {
    int k = 0;
#ifdef __wasm_simd128__
    v128_t s0 = wasm_i32x4_splat(0), s1 = s0, s2 = s0, s3 = s0;
    for (; k + 16 <= n; k += 16) {
        size_t at = (size_t)k * kmul;
#ifdef __wasm_relaxed_simd__
        if (relaxed) {
            v128_t xv = wasm_v128_load((const int8_t *)x + k);
            s0 = wasm_i32x4_relaxed_dot_i8x16_i7x16_add(wasm_v128_load(w[0] + at), xv, s0);
            s1 = wasm_i32x4_relaxed_dot_i8x16_i7x16_add(wasm_v128_load(w[1] + at), xv, s1);
            s2 = wasm_i32x4_relaxed_dot_i8x16_i7x16_add(wasm_v128_load(w[2] + at), xv, s2);
            s3 = wasm_i32x4_relaxed_dot_i8x16_i7x16_add(wasm_v128_load(w[3] + at), xv, s3);
            continue;
        }
#endif
        v128_t xl = wasm_v128_load(x + k), xh = wasm_v128_load(x + k + 8);
#define MG_IDOT(s, j)                                                                                      \
    do {                                                                                                   \
        v128_t q = wasm_v128_load(w[j] + at);                                                              \
        s = wasm_i32x4_add(s, wasm_i32x4_add(wasm_i32x4_dot_i16x8(xl, wasm_i16x8_extend_low_i8x16(q)),   \
                                             wasm_i32x4_dot_i16x8(xh, wasm_i16x8_extend_high_i8x16(q)))); \
    } while (0)
        MG_IDOT(s0, 0);
        MG_IDOT(s1, 1);
        MG_IDOT(s2, 2);
        MG_IDOT(s3, 3);
#undef MG_IDOT
    }
    wasm_v128_store(out, hsum_x4(s0, s1, s2, s3));
#else
    (void)kmul; /* 1: native builds keep int8 weights row-major (MG_Q8_PACKED in kernels.c) */
    for (int j = 0; j < 4; j++) out[j] = 0;
#endif
    for (int j = 0; j < 4; j++) {
        int32_t t = 0;
        for (int kk = k; kk < n; kk++) t += xq_at(relaxed, x, kk) * w[j][kk];
        out[j] += t;
    }
}

#ifdef __wasm_relaxed_simd__
/* A step (M = 1) on packed int8 weights reads STREAMS groups of four rows at once, each a third of the matrix
 * apart: more reads on their way from memory than one stream gets. Measured 2026-12-04 in Chromium 156 on an AMD
 * EPYC (Zen 1) core, against one stream, in turn: Q8 generate 1.05x (demo, weights in the caches), 1.11x (13M),
 * 1.16x (45M); two streams gave about half that, four (16 accumulators, more than the registers) 0.95x of three.
 * (The plain builds' int16 path with two streams: 0.74-1.06x in Node 20, so it keeps one.) */
enum { STREAMS = 3 };

/* dot_x4 (relaxed) for STREAMS groups of packed rows (w[g]: a group's start) at once: out[4 g + j] is row j of group
 * g's sum. */
static inline __attribute__((always_inline)) void dot_streams(const int8_t *x, const int8_t *const w[STREAMS], int n,
                                                              int32_t out[4 * STREAMS]) {
    v128_t s[STREAMS][4];
    for (int g = 0; g < STREAMS; g++)
        for (int j = 0; j < 4; j++) s[g][j] = wasm_i32x4_splat(0);
    for (int k = 0; k < n; k += 16) {
        v128_t xv = wasm_v128_load(x + k);
        for (int j = 0; j < 4; j++)
            for (int g = 0; g < STREAMS; g++)
                s[g][j] = wasm_i32x4_relaxed_dot_i8x16_i7x16_add(wasm_v128_load(w[g] + (size_t)k * 4 + j * 16), xv, s[g][j]);
    }
    for (int g = 0; g < STREAMS; g++) wasm_v128_store(out + 4 * g, hsum_x4(s[g][0], s[g][1], s[g][2], s[g][3]));
}
#endif

/* R7 rows of A at a time, each quantized whole; then each group of four weight rows (a few KB, in L1) meets all of
 * them, so a step (M = 1) reads every weight row once, start to end. relaxed: relaxed SIMD's dot product. */
static inline __attribute__((always_inline)) void q8_kernel(int relaxed, int pk, int M, int N, int K, const float *A,
                                                            int lda, const int8_t *W, const float *scale,
                                                            const int32_t *rowsum, float *C, int ldc) {
    if (K > K7) {
        q8_scalar(pk, M, N, K, A, lda, W, scale, C, ldc);
        return;
    }
    int16_t xq[R7][K7] __attribute__((aligned(16)));
    float sx[R7];
    for (int m0 = 0; m0 < M; m0 += R7) {
        int mr = M - m0 < R7 ? M - m0 : R7;
        for (int i = 0; i < mr; i++) sx[i] = q7_row(A + (size_t)(m0 + i) * lda, K, relaxed, xq[i]);
        int n = 0;
#ifdef __wasm_relaxed_simd__
        if (relaxed && pk && mr == 1) { /* a step: STREAMS parts of the whole groups at once */
            int part = N / (4 * STREAMS) * 4;
            for (; n < part; n += 4) {
                const int8_t *w[STREAMS];
                int32_t s[4 * STREAMS];
                for (int g = 0; g < STREAMS; g++) w[g] = W + (size_t)(n + g * part) * K;
                dot_streams((const int8_t *)xq[0], w, K, s);
                for (int g = 0; g < STREAMS; g++)
                    for (int j = 0; j < 4; j++) {
                        int r = n + g * part + j;
                        C[(size_t)m0 * ldc + r] = q7_out(unoffset(s[4 * g + j], relaxed, rowsum, r), sx[0], scale[r]);
                    }
            }
            n = STREAMS * part;
        }
#endif
        for (; n + 4 <= N; n += 4) {
            const int8_t *w[4];
            q8_rows4(pk, W, K, n, 0, w);
            for (int i = 0; i < mr; i++) {
                int32_t s[4];
                dot_x4(relaxed, xq[i], w, K, pk ? 4 : 1, s);
                float *c = C + (size_t)(m0 + i) * ldc + n;
                for (int j = 0; j < 4; j++) c[j] = q7_out(unoffset(s[j], relaxed, rowsum, n + j), sx[i], scale[n + j]);
            }
        }
        for (; n < N; n++) { /* rows past the last group of four (row-major in both layouts) */
            const int8_t *w = W + (size_t)n * K;
            for (int i = 0; i < mr; i++) {
                int32_t s = 0;
                for (int k = 0; k < K; k++) s += xq_at(relaxed, xq[i], k) * w[k];
                C[(size_t)(m0 + i) * ldc + n] = q7_out(unoffset(s, relaxed, rowsum, n), sx[i], scale[n]);
            }
        }
        for (int i = 0; i < mr; i++)
            if (isnan(sx[i])) q8_float(pk, 1, N, K, A + (size_t)(m0 + i) * lda, lda, W, scale, C + (size_t)(m0 + i) * ldc, ldc);
    }
}

/* The plain SIMD sums: the plain builds' kernel, and every build's portable one (MG_KERNEL_PORTABLE: no relaxed
 * instruction; the same results as the others all the same). */
void mg_matmul_q8_portable(int M, int N, int K, const float *A, int lda, const int8_t *W, const float *scale,
                           const int32_t *rowsum, float *C, int ldc) {
    q8_kernel(0, 0, M, N, K, A, lda, W, scale, rowsum, C, ldc);
}

void mg_matmul_q8_portable_packed(int M, int N, int K, const float *A, int lda, const int8_t *P, const float *scale,
                                  const int32_t *rowsum, float *C, int ldc) {
    q8_kernel(0, 1, M, N, K, A, lda, P, scale, rowsum, C, ldc);
}

#ifdef __wasm_relaxed_simd__
#define MG_RELAXED 1
#else
#define MG_RELAXED 0
#endif

void mg_matmul_q8_simd(int M, int N, int K, const float *A, int lda, const int8_t *W, const float *scale,
                       const int32_t *rowsum, float *C, int ldc) {
    q8_kernel(MG_RELAXED, 0, M, N, K, A, lda, W, scale, rowsum, C, ldc);
}

void mg_matmul_q8_simd_packed(int M, int N, int K, const float *A, int lda, const int8_t *P, const float *scale,
                              const int32_t *rowsum, float *C, int ldc) {
    q8_kernel(MG_RELAXED, 1, M, N, K, A, lda, P, scale, rowsum, C, ldc);
}
#endif /* MG_VECTOR */
