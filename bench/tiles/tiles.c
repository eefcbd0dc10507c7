/* tiles.c: register tiles for the packed F32 kernel (src/matmul_f32.c's packed(), panels of 8 columns k-major),
 * each alone, to see which one V8 keeps in registers (docs/kernels.md, "F32: packed panels"). Kernel 2i is tile i with
 * mul + add (the plain builds), 2i + 1 with relaxed madd. Built by build.sh, run by tiles.mjs. */
#include <stddef.h>
#define memcpy __builtin_memcpy /* no libc: constant sizes, inlined */
#include <wasm_simd128.h>
typedef float vf __attribute__((vector_size(16)));
#define VL 4
#define NR 8
enum { NV = 2 };
static inline vf vload(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline vf vsplat(float x) { return (vf){x, x, x, x}; }
#define MADD(fused, a, b, c) ((fused) ? (vf)wasm_f32x4_relaxed_madd((v128_t)(a), (v128_t)(b), (v128_t)(c)) : (c) + (a) * (b))

/* V0: current 4x8 */
static inline __attribute__((always_inline)) void v0(int fused, int M, int N, int K, const float *A, int lda, const float *P, float *C, int ldc) {
    for (int n = 0; n < N; n += NR) {
        const float *p = P + (size_t)n * K;
        for (int m = 0; m + 4 <= M; m += 4) {
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
    }
}
/* generic R rows x (8*NP) cols: NP consecutive panels */
#define TILE(R, NP) \
static inline __attribute__((always_inline)) void t##R##x##NP(int fused, const float *A, int lda, const float *P, int K, float *C, int ldc) { \
    vf c[R][2*NP]; for (int r = 0; r < R; r++) for (int v = 0; v < 2*NP; v++) c[r][v] = (vf){0}; \
    for (int k = 0; k < K; k++) { \
        vf w[2*NP]; for (int q = 0; q < NP; q++) for (int v = 0; v < 2; v++) w[2*q+v] = vload(P + (size_t)q*8*K + (size_t)k*8 + v*4); \
        for (int r = 0; r < R; r++) { vf x = vsplat(A[(size_t)r*lda + k]); for (int v = 0; v < 2*NP; v++) c[r][v] = MADD(fused, x, w[v], c[r][v]); } \
    } \
    for (int r = 0; r < R; r++) for (int q = 0; q < NP; q++) memcpy(C + (size_t)r*ldc + q*8, &c[r][2*q], 32); \
}
TILE(6,1) TILE(5,1) TILE(3,2) TILE(2,2) TILE(4,1)
/* 4x12 over 3 panels: tile A = panel0 + panel1 lo, tile B = panel1 hi + panel2 */
static inline __attribute__((always_inline)) void t4x12(int fused, const float *A, int lda, const float *p0, const float *p1, int o1, int K, float *C0, float *C1, int ldc) {
    /* p0: panel with 2 vectors (cols C0..C0+7), p1 + o1: half panel (4 cols at C1) */
    vf c[4][3]; for (int r = 0; r < 4; r++) for (int v = 0; v < 3; v++) c[r][v] = (vf){0};
    for (int k = 0; k < K; k++) {
        vf w0 = vload(p0 + (size_t)k*8), w1 = vload(p0 + (size_t)k*8 + 4), w2 = vload(p1 + (size_t)k*8 + o1);
        for (int r = 0; r < 4; r++) { vf x = vsplat(A[(size_t)r*lda + k]); c[r][0] = MADD(fused, x, w0, c[r][0]); c[r][1] = MADD(fused, x, w1, c[r][1]); c[r][2] = MADD(fused, x, w2, c[r][2]); }
    }
    for (int r = 0; r < 4; r++) { memcpy(C0 + (size_t)r*ldc, &c[r][0], 32); memcpy(C1 + (size_t)r*ldc, &c[r][2], 16); }
}
static inline __attribute__((always_inline)) void v412(int fused, int M, int N, int K, const float *A, int lda, const float *P, float *C, int ldc) {
    for (int n = 0; n + 24 <= N; n += 24) {
        const float *p = P + (size_t)n * K;
        for (int m = 0; m + 4 <= M; m += 4) {
            const float *a = A + (size_t)m*lda; float *c = C + (size_t)m*ldc + n;
            t4x12(fused, a, lda, p, p + (size_t)8*K, 0, K, c, c + 8, ldc);
            t4x12(fused, a, lda, p + (size_t)16*K, p + (size_t)8*K, 4, K, c + 16, c + 12, ldc);
        }
    }
}
#define DRIVER(name, R, NP) \
static inline __attribute__((always_inline)) void name(int fused, int M, int N, int K, const float *A, int lda, const float *P, float *C, int ldc) { \
    for (int n = 0; n + 8*NP <= N; n += 8*NP) for (int m = 0; m + R <= M; m += R) t##R##x##NP(fused, A + (size_t)m*lda, lda, P + (size_t)n*K, K, C + (size_t)m*ldc + n, ldc); }
DRIVER(v6, 6, 1) DRIVER(v5, 5, 1) DRIVER(v316, 3, 2) DRIVER(v216, 2, 2) DRIVER(v4g, 4, 1)
/* V1: 4x8 k unrolled by 2 */
static inline __attribute__((always_inline)) void v1(int fused, int M, int N, int K, const float *A, int lda, const float *P, float *C, int ldc) {
    for (int n = 0; n < N; n += NR) {
        const float *p = P + (size_t)n * K;
        for (int m = 0; m + 4 <= M; m += 4) {
            const float *a0 = A + (size_t)m * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
            vf c0[NV] = {0}, c1[NV] = {0}, c2[NV] = {0}, c3[NV] = {0};
            for (int k = 0; k < K; k += 2) {
#pragma clang loop unroll(full)
              for (int kk = k; kk < k + 2; kk++) {
                vf w[NV];
                for (int v = 0; v < NV; v++) w[v] = vload(p + (size_t)kk * NR + v * VL);
                vf x0 = vsplat(a0[kk]), x1 = vsplat(a1[kk]), x2 = vsplat(a2[kk]), x3 = vsplat(a3[kk]);
                for (int v = 0; v < NV; v++) {
                    c0[v] = MADD(fused, x0, w[v], c0[v]), c1[v] = MADD(fused, x1, w[v], c1[v]);
                    c2[v] = MADD(fused, x2, w[v], c2[v]), c3[v] = MADD(fused, x3, w[v], c3[v]);
                }
              }
            }
            float *c = C + (size_t)m * ldc + n;
            memcpy(c, c0, sizeof c0), memcpy(c + ldc, c1, sizeof c1);
            memcpy(c + 2 * (size_t)ldc, c2, sizeof c2), memcpy(c + 3 * (size_t)ldc, c3, sizeof c3);
        }
    }
}
typedef void (*kfn)(int, int, int, const float *, int, const float *, float *, int);
#define WRAP(f) static void f##_p(int M,int N,int K,const float*A,int lda,const float*P,float*C,int ldc){f(0,M,N,K,A,lda,P,C,ldc);} \
                static void f##_f(int M,int N,int K,const float*A,int lda,const float*P,float*C,int ldc){f(1,M,N,K,A,lda,P,C,ldc);}
WRAP(v0) WRAP(v1) WRAP(v412) WRAP(v6) WRAP(v5) WRAP(v316) WRAP(v216) WRAP(v4g)
static kfn ks[] = {v0_p, v0_f, v1_p, v1_f, v412_p, v412_f, v6_p, v6_f, v5_p, v5_f, v316_p, v316_f, v216_p, v216_f, v4g_p, v4g_f};
enum { MAXA = 64 * 1024, MAXP = 1200 * 1024, MAXC = 64 * 1200 };
static float A[MAXA], P[MAXP], C[MAXC], C0[MAXC];
static unsigned seed = 1;
static float uniform(void) { seed = seed * 1664525u + 1013904223u; return (seed >> 8) / 16777216.0f - 0.5f; }
__attribute__((export_name("nk"))) int nk(void) { return sizeof ks / sizeof *ks; }
/* returns 0 when the shape does not fit the static buffers */
__attribute__((export_name("setup"))) int setup(int M, int N, int K) {
    if (M * K > MAXA || N * K > MAXP || M * N > MAXC) return 0;
    for (int i = 0; i < M * K; i++) A[i] = uniform();
    for (int i = 0; i < N * K; i++) P[i] = uniform();
    return 1;
}
/* kernel i, reps times, on the whole of A */
__attribute__((export_name("run"))) void run(int i, int M, int N, int K, int reps) {
    for (int r = 0; r < reps; r++) ks[i](M, N, K, A, K, P, C, N);
}
/* the largest |difference| from the 4 x 8 tile of the same arithmetic (0: the same bits) */
__attribute__((export_name("check"))) double check(int i, int M, int N, int K) {
    for (int j = 0; j < M*N; j++) C[j] = 0; ks[i](M, N, K, A, K, P, C, N); for (int j = 0; j < M*N; j++) C0[j] = C[j];
    for (int j = 0; j < M*N; j++) C[j] = 0; ks[i & 1](M, N, K, A, K, P, C, N);
    double d = 0; for (int j = 0; j < M*N; j++) { double e = C[j] - C0[j]; if (e < 0) e = -e; if (e > d) d = e; } return d;
}
