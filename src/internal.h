/* internal.h — declarations shared by the C core's files; not part of the public API. */
#ifndef MINGRU_INTERNAL_H
#define MINGRU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mingru.h"

/* error.c: records a message for mg_last_error() and returns status, so a check reads
 *   if (dim <= 0) return mg_fail(MG_EINVAL, "dim must be > 0, got %d", dim); */
int mg_fail(int status, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Multiplies a count of elements, returning 0 (and leaving *out alone) if the product does not fit
 * in size_t or exceeds max. */
int mg_mul_size(size_t a, size_t b, size_t max, size_t *out);

/* rng.c: splitmix64, a small seeded generator identical on every platform. */
uint64_t mg_rng_u64(uint64_t *state);
float mg_rng_uniform(uint64_t *state); /* in [0, 1) with 24 random bits */

/* matmul.c: C[m, n] = sum_k A[m*lda + k] * W[n*K + k]   for m < M, n < N (so C = A W^T, W row-major
 * [N, K] as PyTorch stores nn.Linear weights); C has row stride ldc. */
typedef void (*mg_matmul_fn)(int M, int N, int K, const float *A, int lda, const float *W, float *C,
                             int ldc);
void mg_matmul_reference(int M, int N, int K, const float *A, int lda, const float *W, float *C, int ldc);
#ifdef __wasm_simd128__
void mg_matmul_simd(int M, int N, int K, const float *A, int lda, const float *W, float *C, int ldc);
#endif
/* The kernel for an MG_KERNEL_* choice, or NULL if it is not compiled in. */
mg_matmul_fn mg_matmul_select(int kernel);

/* cell.c: the linear recurrence h_t = a_t * h_{t-1} + b_t over T steps of n channels, in place.
 * Step t's a and b are at a[t*ld + i] and b[t*ld + i]; on return b holds h_t (a is overwritten).
 * h0 is the state before step 0 (NULL = zeros). The steps are cut into n_chunks pieces evaluated by
 * the three-phase chunked scan (local scans, carries in order, fix-up); carry needs n_chunks * n floats.
 * Any n_chunks >= 1 gives the same values up to rounding. */
void mg_scan_chunked(float *a, float *b, int ld, int T, int n, const float *h0, int n_chunks, float *carry);

#endif
