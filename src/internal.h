/* internal.h — declarations shared by the C core's files; not part of the public API. */
#ifndef MINGRU_INTERNAL_H
#define MINGRU_INTERNAL_H

#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "mingru.h"

/* error.c: records a message for mg_last_error() and returns status, so a check reads
 *   if (dim <= 0) return mg_fail(MG_EINVAL, "dim must be > 0, got %d", dim); */
int mg_fail(int status, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Largest tensor or buffer the engine accepts, in floats: keeps every byte size within 2^31 (wasm32). */
#define MG_MAX_FLOATS ((size_t)1 << 29)

/* Multiplies a count of elements, returning 0 (and leaving *out alone) if the product does not fit
 * in size_t or exceeds max. */
int mg_mul_size(size_t a, size_t b, size_t max, size_t *out);

/* match.c: the coder's match models. refine changes the distribution p[V] (summing to 1) with their predictions;
 * add appends the token that came to the history (after a refine: learning from it; MG_ENOMEM). */
typedef struct mg_match mg_match;
int mg_match_create(mg_match **out);
void mg_match_refine(mg_match *mm, double *p, int V);
int mg_match_add(mg_match *mm, int32_t token);
void mg_match_free(mg_match *mm);

/* rng.c: splitmix64, a small seeded generator identical on every platform. */
uint64_t mg_rng_u64(uint64_t *state);
float mg_rng_uniform(uint64_t *state); /* in [0, 1) with 24 random bits */

/* pool.c: runs fn(ctx, ith, nth) on every thread of the pool (the caller is ith 0) and waits for all; a job
 * whose work (about the bytes it reads and writes) is below the pool's minimum (mingru.h's
 * mg_set_min_parallel_work, MG_DEFAULT_MIN_PARALLEL_WORK until set) runs as fn(ctx, 0, 1) on
 * the caller alone: waking the others and waiting for them would cost about as much as the job. So does one
 * below 8 times the minimum while a worker sleeps (after a pause, as between step() calls from a page's main
 * thread: a thread takes longer to wake than such a job lasts); the sleepers are woken for the jobs after it,
 * which they take at once if those come while they still spin (a few tens of microseconds), as the next
 * matrices of a step do. */
typedef void (*mg_task_fn)(void *ctx, int ith, int nth);
void mg_pool_run(mg_task_fn fn, void *ctx, size_t work);
/* While on is 1, every job runs on the caller alone (a model's passes, mg_model_set_threads); returns the
 * setting it replaces, for the caller to put back. */
int mg_pool_serial(int on);
/* fn(ctx, i0, i1) over the threads' shares of [0, n): for loops whose items are independent (elementwise), so
 * the result never depends on the number of threads. work as for mg_pool_run. */
typedef void (*mg_range_fn)(void *ctx, size_t i0, size_t i1);
void mg_pool_for(mg_range_fn fn, void *ctx, size_t n, size_t work);
/* Thread ith's share [*i0, *i1) of n items, cut on multiples of align. */
void mg_split(int n, int ith, int nth, int align, int *i0, int *i1);

/* The kernels: matmul_f32.c (F32 weights), matmul_q8.c (int8 weights), kernels.c (which a handle uses).
 * C[m, n] = sum_k A[m*lda + k] * W[n*K + k]   for m < M, n < N (so C = A W^T, W row-major
 * [N, K] as PyTorch stores nn.Linear weights); C has row stride ldc. The q8 form has int8 W and
 * C[m, n] = scale[n] * sum_k A[m, k] W[n, k]; rowsum[n] = sum_k W[n, k] (kernels that offset the activations
 * take it back with it). */
typedef void (*mg_matmul_fn)(int M, int N, int K, const float *A, int lda, const float *W, float *C,
                             int ldc);
typedef void (*mg_matmul_q8_fn)(int M, int N, int K, const float *A, int lda, const int8_t *W,
                                const float *scale, const int32_t *rowsum, float *C, int ldc);
void mg_matmul_reference(int M, int N, int K, const float *A, int lda, const float *W, float *C, int ldc);
void mg_matmul_q8_reference(int M, int N, int K, const float *A, int lda, const int8_t *W, const float *scale,
                            const int32_t *rowsum, float *C, int ldc);
/* Int8 weights W [N, K] rearranged for the kernels' q8packed (mg_pack_q8, K a multiple of 16): rows in groups of
 * four, each group 16 columns at a time, the four rows' 16 bytes side by side (64 bytes), so that a kernel reading
 * four rows reads one contiguous stream; rows past the last whole group stay row-major. Rows [n0, n1) from n0 a
 * multiple of 4 start at P + n0*K and are themselves a packed matrix. mg_q8_at is where weight (n, k) of an N-row
 * packed matrix is: the layout's one definition. */
static inline size_t mg_q8_at(int N, int K, int n, int k) {
    return n < N / 4 * 4 ? (size_t)(n & ~3) * K + (size_t)(k & ~15) * 4 + (size_t)(n & 3) * 16 + (size_t)(k & 15)
                         : (size_t)n * K + (size_t)k;
}
int mg_q8_packs(int K); /* whether mg_pack_q8 takes rows of K columns */
void mg_pack_q8(const int8_t *W, int N, int K, int8_t *P);
/* mg_pack_q8 of W into W itself, through a temporary copy; 0 (W left as it was) when the copy cannot be had. */
int mg_pack_q8_in_place(int8_t *W, int N, int K);
/* Every q8 kernel, in every build, computes one arithmetic (matmul_q8.c): each row of A rounded to integer steps of
 * max|row| / mg_q8_steps (63: 7 bits, what relaxed SIMD's i32x4.relaxed_dot_i8x16_i7x16_add_s reads alike in every
 * engine), exact integer sums, then C = sum * step * scale; so their results are the same bits. */
extern const int mg_q8_steps;
/* max |x[i]| over n floats, NaN when one is a NaN or an infinity: the largest of the bit patterns without the sign
 * (they order as the magnitudes do; an infinity's and a NaN's are the largest), which the compiler vectorizes. */
float mg_row_amax(const float *x, int n);
/* The vector kernels: vector extensions over wasm SIMD, SSE/AVX or NEON. */
#if defined(__wasm_simd128__) || defined(__SSE2__) || defined(__ARM_NEON)
#define MG_VECTOR 1
void mg_matmul_simd(int M, int N, int K, const float *A, int lda, const float *W, float *C, int ldc);
void mg_matmul_q8_simd(int M, int N, int K, const float *A, int lda, const int8_t *W, const float *scale,
                       const int32_t *rowsum, float *C, int ldc);
/* The int8 kernel without relaxed SIMD: the plain builds' mg_matmul_q8_simd, and in every build the portable one. */
void mg_matmul_q8_portable(int M, int N, int K, const float *A, int lda, const int8_t *W, const float *scale,
                           const int32_t *rowsum, float *C, int ldc);
/* The same two kernels on weights laid out by mg_pack_q8: the same sums in the same order, so the same results. */
void mg_matmul_q8_simd_packed(int M, int N, int K, const float *A, int lda, const int8_t *P, const float *scale,
                              const int32_t *rowsum, float *C, int ldc);
void mg_matmul_q8_portable_packed(int M, int N, int K, const float *A, int lda, const int8_t *P, const float *scale,
                                  const int32_t *rowsum, float *C, int ldc);
/* Weights W [N, K] rearranged for mg_matmul_packed (P has N*K floats; rows [n0, n1) of the packed matrix,
 * n0 a multiple of 8, start at P + n0*K and are themselves a packed matrix). */
void mg_pack_f32(const float *W, int N, int K, float *P);
/* mg_pack_f32 of W into W itself, through a temporary copy; 0 (W left as it was) when the copy cannot be had. */
int mg_pack_f32_in_place(float *W, int N, int K);
void mg_unpack_f32(const float *P, int N, int K, float *W); /* the inverse */
/* mg_pack_f32 of B^T, for B [R, C] with row stride ld (the backward pass multiplies by transposes) */
void mg_pack_f32_transposed(const float *B, int R, int C, int ld, float *P);
void mg_matmul_packed(int M, int N, int K, const float *A, int lda, const float *P, float *C, int ldc);
#ifdef __wasm_relaxed_simd__
/* mg_matmul_packed with f32x4.relaxed_madd: the relaxed builds' F32 kernel (fused where the machine fuses). */
void mg_matmul_packed_fused(int M, int N, int K, const float *A, int lda, const float *P, float *C, int ldc);
#endif
#endif

/* Rows of A the F32 packed kernel takes together (a 4 x 8 tile of C); rows past the last whole tile of a product
 * take its one-row path, whose sums pair even and odd k: a row's bits depend on which it falls in. A product over
 * the rows of a prefill from a multiple of MG_TILE_ROWS on gives those rows the bits they get among all the rows. */
enum { MG_TILE_ROWS = 4 };

/* The kernels one handle uses, chosen once from an MG_KERNEL_* value. */
typedef struct {
    mg_matmul_fn f32;
    mg_matmul_q8_fn q8;
    mg_matmul_fn packed; /* on weights rearranged by mg_pack_f32; NULL: this choice does not pack */
    mg_matmul_q8_fn q8packed; /* on int8 weights rearranged by mg_pack_q8; NULL: this choice does not pack them */
} mg_kernels;

/* Fills *k for an MG_KERNEL_* choice; returns 0 if that kernel is not compiled in. */
int mg_kernels_select(int kernel, mg_kernels *k);

/* A weight matrix [rows, cols], row-major: F32, or int8 with one scale per row (q8 != NULL). */
typedef struct {
    const float *f32;   /* (rows, cols), NULL when quantized */
    const int8_t *q8;   /* (rows, cols) */
    const float *scale; /* (rows) */
    const int32_t *rowsum; /* (rows) the sum of each int8 row */
    int rows, cols;
    int packed;         /* f32 is laid out by mg_pack_f32, or q8 by mg_pack_q8 (models pack at load for kernels that can) */
} mg_matrix;

/* linear.c: C[M, w->rows] = A[M, w->cols] W^T, with A's row stride lda and C's ldc, split over the pool by
 * output columns. mg_linear_act then adds bias[w->rows] (if not NULL) and applies act to its columns. */
enum { MG_ACT_NONE = 0, MG_ACT_GELU = 1 };
void mg_linear(const mg_kernels *k, const mg_matrix *w, int M, const float *A, int lda, float *C, int ldc);
void mg_linear_act(const mg_kernels *k, const mg_matrix *w, int M, const float *A, int lda, float *C, int ldc,
                   const float *bias, int act);

/* Backward of C = A W^T (+ bias), with W the row-major F32 [N, K] weights (the training masters):
 *   dA [M, K] += dC W,  dW [N, K] += dC^T A,  dbias [N] += sum over rows of dC   (NULL ones are skipped)
 * dC has row stride ldc, A lda; scratch holds mg_linear_backward_scratch(M, N, K) floats. On the pool. */
size_t mg_linear_backward_scratch(int M, int N, int K);
void mg_linear_backward(const mg_kernels *k, const float *W, int N, int K, int M, const float *A, int lda,
                        const float *dC, int ldc, float *dA, float *dW, float *dbias, float *scratch);

/* e^x and erf(x) without calls or branches, so that the loops over them (GELU, the gates) become SIMD code, and
 * in plain IEEE float arithmetic, so that every engine computes the same bits (libm's expf and erff took a
 * quarter of a forward: 18% and 8.5% of a native prefill's time, a profile of 2026-12-02). NaN propagates.
 * mg_expf: x = n ln2 + r (|r| <= ln2 / 2, Cody-Waite's two-part ln2), e^r by its Taylor series to r^7 (error
 * below 3e-9 of it), times 2^n written into the exponent; x is clamped to [-87, 88], the normal range.
 * mg_erff: x P(x^2) / Q(x^2), the coefficients fitted here to erf on [0, 4] (relative error 7e-8 in double,
 * within 3.3e-7 of erf in float), then clamped to [-1, 1]; erf(4) is 1 in float to 1.5e-8. */
/* Their constants, named once for the scalar forms here and the vector forms below (src/activation.c). */
#define MG_EXP_LO (-87.0f)
#define MG_EXP_HI 88.0f
#define MG_LOG2E 1.44269504088896341f
#define MG_EXP_SHIFT 12582912.0f /* 1.5 x 2^23: x log2(e) + it has n rounded to nearest in its low bits */
#define MG_LN2_HI 0.693359375f
#define MG_LN2_LO 2.12194440e-4f
#define MG_EXP_BIAS 0x4B3FFF81u /* the bits of MG_EXP_SHIFT less the exponent's bias: (bits - it) << 23 is 2^n */
#define MG_ERF_P0 1.1283790945289172f
#define MG_ERF_P1 0.2072101984708671f
#define MG_ERF_P2 0.05153655212649003f
#define MG_ERF_P3 0.003993681309293312f
#define MG_ERF_P4 0.00014732335603180667f
#define MG_ERF_P5 (-1.941733911259985e-06f)
#define MG_ERF_P6 1.9097678022328424e-08f
#define MG_ERF_Q1 0.5169665163004512f
#define MG_ERF_Q2 0.1180061480202685f
#define MG_ERF_Q3 0.014965145631775797f
#define MG_ERF_Q4 0.0010217273700146444f
#define MG_RSQRT2 0.70710678118654752f
#define MG_RSQRT2PI 0.39894228040143268f

static inline float mg_expf(float x) {
    x = x < MG_EXP_LO ? MG_EXP_LO : x > MG_EXP_HI ? MG_EXP_HI : x;
    float t = x * MG_LOG2E + MG_EXP_SHIFT;
    float n = t - MG_EXP_SHIFT, r = (x - n * MG_LN2_HI) + n * MG_LN2_LO;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    uint32_t tb, sb;
    memcpy(&tb, &t, sizeof tb);
    sb = (tb - MG_EXP_BIAS) << 23; /* 2^n */
    float scale;
    memcpy(&scale, &sb, sizeof scale);
    return p * scale;
}

static inline float mg_erff(float x) {
    float c = x < -4.0f ? -4.0f : x > 4.0f ? 4.0f : x, t = c * c;
    float p = MG_ERF_P0 + t * (MG_ERF_P1 + t * (MG_ERF_P2 + t * (MG_ERF_P3 + t * (MG_ERF_P4 + t * (MG_ERF_P5 + t * MG_ERF_P6)))));
    float q = 1.0f + t * (MG_ERF_Q1 + t * (MG_ERF_Q2 + t * (MG_ERF_Q3 + t * MG_ERF_Q4)));
    float y = c * p / q;
    return y > 1.0f ? 1.0f : y < -1.0f ? -1.0f : y;
}

static inline float mg_sigmoid(float x) { return 1.0f / (1.0f + mg_expf(-x)); }

/* nn.GELU() (the exact form: x Phi(x)) and its derivative Phi(x) + x phi(x); *gelu = mg_gelu(x). */
static inline float mg_gelu(float x) { return 0.5f * x * (1.0f + mg_erff(x * MG_RSQRT2)); }
static inline float mg_gelu_grad(float x, float *gelu) {
    float phi = 0.5f * (1.0f + mg_erff(x * MG_RSQRT2));
    *gelu = x * phi;
    return phi + x * MG_RSQRT2PI * mg_expf(-0.5f * x * x);
}

/* The cells' activation g(x) = x >= 0 ? x + 0.5 : sigmoid(x) (cell.c; state.c for a learned h0 = g(init)). */
static inline float mg_g(float x) { return x >= 0.0f ? x + 0.5f : mg_sigmoid(x); }

#ifdef __wasm_simd128__
/* The same functions on four floats at once, operation for operation in the same order, so the same bits as the
 * scalar ones above (tests/c/test-layer.c compares them on every kind of float). Written out because clang makes
 * the scalar clamps (x < lo ? lo : x) into f32x4.min/max, which engines lower to about eight instructions each for
 * their NaN and -0 rules, where f32x4.pmax(x, lo) is exactly that ternary in one: a GELU 1.8x faster in Node.
 * Their constants come in k, loaded once before a loop by mg_act_consts() from src/activation.c's table, which the
 * compiler cannot see here: as v128.const in the loop, Chromium 156 built each one again at every turn (three or four
 * instructions each), and the GELU took 2.3 ns a float in Chromium against 1.2 with them loaded before the loop. */
#include <wasm_simd128.h>
typedef v128_t mg_f4;
#define MG_ADD4 wasm_f32x4_add
#define MG_MUL4 wasm_f32x4_mul

typedef struct {
    mg_f4 exp_lo, exp_hi, log2e, exp_shift, ln2_hi, ln2_lo, exp_bias, e[5] /* 1/5040, 1/720, 1/120, 1/24, 1/6 */;
    mg_f4 erf_lo, erf_hi, p[7] /* P6 ... P0 */, q[4] /* Q4 ... Q1 */, zero, half, one, minus_one, minus_half;
    mg_f4 rsqrt2, rsqrt2pi;
} mg_act_k;
/* mg_act_k's fields in order, as 32-bit patterns (src/activation.c) */
extern const union mg_act_value { float f; uint32_t u; } mg_act_table[];
static inline mg_act_k mg_act_consts(void) {
    mg_act_k k;
    mg_f4 *v = (mg_f4 *)&k;
    for (size_t i = 0; i < sizeof k / sizeof *v; i++) v[i] = wasm_v128_load32_splat(&mg_act_table[i]);
    return k;
}

static inline mg_f4 mg_expf4(mg_f4 x, const mg_act_k *k) {
    x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, k->exp_lo), k->exp_hi);
    mg_f4 t = MG_ADD4(MG_MUL4(x, k->log2e), k->exp_shift), n = wasm_f32x4_sub(t, k->exp_shift);
    mg_f4 r = MG_ADD4(wasm_f32x4_sub(x, MG_MUL4(n, k->ln2_hi)), MG_MUL4(n, k->ln2_lo)), p = k->e[0];
    for (int i = 1; i < 5; i++) p = MG_ADD4(k->e[i], MG_MUL4(r, p));
    p = MG_ADD4(k->half, MG_MUL4(r, p)), p = MG_ADD4(k->one, MG_MUL4(r, p)), p = MG_ADD4(k->one, MG_MUL4(r, p));
    return MG_MUL4(p, wasm_i32x4_shl(wasm_i32x4_sub(t, k->exp_bias), 23));
}

static inline mg_f4 mg_erff4(mg_f4 x, const mg_act_k *k) {
    mg_f4 c = wasm_f32x4_pmin(wasm_f32x4_pmax(x, k->erf_lo), k->erf_hi), t = MG_MUL4(c, c), p = k->p[0], q = k->q[0];
    for (int i = 1; i < 7; i++) p = MG_ADD4(k->p[i], MG_MUL4(t, p));
    for (int i = 1; i < 4; i++) q = MG_ADD4(k->q[i], MG_MUL4(t, q));
    q = MG_ADD4(k->one, MG_MUL4(t, q));
    mg_f4 y = wasm_f32x4_div(MG_MUL4(c, p), q);
    return wasm_f32x4_pmax(wasm_f32x4_pmin(y, k->one), k->minus_one);
}

static inline mg_f4 mg_sigmoid4(mg_f4 x, const mg_act_k *k) {
    return wasm_f32x4_div(k->one, MG_ADD4(k->one, mg_expf4(wasm_f32x4_neg(x), k)));
}
static inline mg_f4 mg_gelu4(mg_f4 x, const mg_act_k *k) {
    return MG_MUL4(MG_MUL4(k->half, x), MG_ADD4(k->one, mg_erff4(MG_MUL4(x, k->rsqrt2), k)));
}
static inline mg_f4 mg_gelu_grad4(mg_f4 x, mg_f4 *gelu, const mg_act_k *k) {
    mg_f4 phi = MG_MUL4(k->half, MG_ADD4(k->one, mg_erff4(MG_MUL4(x, k->rsqrt2), k)));
    *gelu = MG_MUL4(x, phi);
    mg_f4 e = mg_expf4(MG_MUL4(MG_MUL4(k->minus_half, x), x), k);
    return MG_ADD4(phi, MG_MUL4(MG_MUL4(x, k->rsqrt2pi), e));
}
static inline mg_f4 mg_g4(mg_f4 x, const mg_act_k *k) {
    return wasm_v128_bitselect(MG_ADD4(x, k->half), mg_sigmoid4(x, k), wasm_f32x4_ge(x, k->zero));
}
#endif

/* cell.c: the minGRU / minLSTM maths on weight views (shared by layers and language models). */
typedef struct {
    int cell;        /* MG_CELL_GRU or MG_CELL_LSTM */
    int dim;         /* D */
    int dim_inner;   /* Di */
    int n_gates;     /* 2 (hidden|gate) or 3 (hidden|f|i) */
    int has_out;     /* expansion_factor != 1 (or a minRNNs cell) */
    int sigmoid;     /* minLSTM gates without the coefficient norm: a = sigmoid(f), b = sigmoid(i) g(k_h) */
    mg_matrix w_in;  /* (n_gates*Di, D) */
    mg_matrix w_out; /* (D, Di), when has_out */
    const float *b_in, *b_out; /* (n_gates*Di), (D): biases, or NULL */
} mg_cell;

/* Floats of scratch mg_cell_run needs for `rows` = B*T rows and n_chunks scan chunks. */
size_t mg_cell_scratch(const mg_cell *c, size_t rows, int n_chunks);

/* y[B, T, D] and hidden[B, Di] (NULL allowed; may alias h0) from x[B, T, D] and h0[B, Di] (NULL = zeros).
 * The scan runs in n_chunks time chunks spread over the pool; with one chunk, the pool splits channels. */
void mg_cell_run(const mg_cell *c, const mg_kernels *k, const float *x, int B, int T, const float *h0, float *y,
                 float *hidden, float *scratch, int n_chunks);

/* The same from the projection rows proj [B*T, n_gates*Di] already computed (mg_cell_run = the projection, then
 * this); y is written from row y_from on (the rows before it are not needed: a prefill's last layer). */
void mg_cell_run_proj(const mg_cell *c, const mg_kernels *k, int B, int T, const float *h0, float *y, float *hidden,
                      float *proj, int n_chunks, int y_from);

/* The gradients mg_cell_backward accumulates (+=) into; NULL ones are not computed. h0: [B, Di], each sequence's. */
typedef struct {
    float *w_in, *b_in, *w_out, *b_out, *h0;
} mg_cell_grads;

/* Backward of mg_cell_run from h0 [B, Di] (NULL = zeros), given its input x [B*T, D] and its projection kproj
 * (before the gates, biases included), with the row-major weights w_in, w_out (the training masters): recomputes h
 * by the forward's own code, then dx += ... and the gradients g, for the output gradient dy [B*T, D].
 * scratch: mg_cell_backward_scratch(c, B*T, n_chunks) floats; n_chunks as the forward used. */
size_t mg_cell_backward_scratch(const mg_cell *c, int rows, int n_chunks);
void mg_cell_backward(const mg_cell *c, const mg_kernels *k, const float *w_in, const float *w_out, const float *x,
                      const float *kproj, int B, int T, const float *h0, const float *dy, float *dx,
                      const mg_cell_grads *g, float *scratch, int n_chunks);

/* scan.c. The engine's scans run whole: one chunk of time, the pool's threads taking channels, so their bits
 * are those of the sequential recurrence on any thread count (mg_layer's scan_chunks may ask for time chunks). */
enum { MG_SCAN_CHUNKS = 1 };

/* The linear recurrence h_t = a_t * h_{t-1} + b_t over T steps of n channels, in place.
 * Step t's a and b are at a[t*ld + i] and b[t*ld + i]; on return b holds h_t (a is overwritten).
 * h0 is the state before step 0 (NULL = zeros). The steps are cut into n_chunks pieces evaluated by
 * the three-phase chunked scan (local scans, carries in order, fix-up); carry needs n_chunks * n floats.
 * Any n_chunks >= 1 gives the same values up to rounding. */
void mg_scan_chunked(float *a, float *b, int ld, int T, int n, const float *h0, int n_chunks, float *carry);
/* The same on the pool (phases 1 and 3 in parallel when the job is large enough): the cells' scan. */
void mg_scan(float *a, float *b, int ld, int T, int n, const float *h0, int n_chunks, float *carry);

/* The reverse recurrence of the backward pass, c_t = g_t + a_{t+1} c_{t+1} (c_{T-1} = g_{T-1}), in place on g:
 * the forward scan over reversed time, so it is chunked and on the pool like the forward. Step t's a and g at
 * a[t*ld + i], g[t*ld + i]; rev: 2*T*n floats of scratch; carry: n_chunks * n floats. */
void mg_scan_reverse(const float *a, float *g, int ld, int T, int n, int n_chunks, float *carry, float *rev);

/* train.c: the coder's learning (mg_coder_learn). A top_only trainer's step on the top alone: `rows` (n x dim) are
 * what entered the last layer's norm2 (the top's input) at n positions, `targets` the n tokens that followed them.
 * The layers below are not run: the rows come from wherever they were computed, e.g. the coder's steps with their
 * whole context. MG_EINVAL for a trainer that is not top_only or n outside [1, 2^24], MG_ERANGE for a target
 * outside [0, num_tokens). mg_trainer_top_gradients: the same without the update. */
int mg_trainer_step_top(mg_trainer *t, const float *rows, const int32_t *targets, int n, float *loss);
int mg_trainer_top_gradients(mg_trainer *t, const float *rows, const int32_t *targets, int n, float *loss);

#endif
