/* Every compiled matmul kernel (F32 and int8-with-row-scales) equals a double-precision C = A W^T on
 * awkward sizes (tails in M, N, K; more rows and columns than the q8 kernel's blocks; random shapes) and row strides
 * wider than K, to 1e-5 relative to the sum of |products|, and writes nothing outside C's N columns. Every q8
 * kernel rounds each row of A to steps of max|row| / mg_q8_steps first (7 bits), so it may also be off by half a
 * step times sum |w|; and every q8 kernel (the reference, the plain SIMD one, the portable one and, in the relaxed
 * build of this test, the relaxed one; row-major and packed) gives the reference's results bit for bit. A row of zeros gives zeros, a NaN in a row makes that row NaN. Single rows (steps) take
 * their own q8 path up to K = 8192, checked on both sides of that. Int8 weights packed by mg_pack_q8 give the row-major
 * kernel's results bit for bit (whole, and from row 8 on, as a thread's piece). */
#include "check.h"
#include "internal.h"

int main(void) {
    int sizes[][3] = {{1, 1, 1}, {1, 4, 4}, {2, 5, 3}, {3, 7, 9}, {5, 8, 16}, {17, 33, 65}, {64, 48, 130}, {20, 9, 300}, {3, 6, 700}, {6, 24, 33},
                     {1, 13, 600}, {1, 6, 601}, {1, 5, 8200}, /* M = 1: the q8 step path, with a NaN; K past it */
                     {9, 11, 64}, {33, 20, 272}, {1, 13, 608}, {1, 5, 8208}, /* K a multiple of 16: packed q8 */
                     {1, 30, 32}, {1, 50, 64}, /* a packed step in streams of row groups, then groups, then rows */
                     {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}}; /* random */
    int nsizes = sizeof sizes / sizeof *sizes;
    uint32_t seed = 12345;
    for (int si = nsizes - 8; si < nsizes; si++) { /* random shapes; every other one with K a multiple of 16 (packed) */
        for (int d = 0; d < 3; d++) seed = seed * 1664525u + 1013904223u, sizes[si][d] = 1 + (int)(seed >> 8) % (d == 0 ? 11 : d == 1 ? 45 : 1300);
        if (si % 2) sizes[si][2] = (sizes[si][2] + 15) / 16 * 16;
    }
    int choices[] = {MG_KERNEL_REFERENCE, MG_KERNEL_SIMD, MG_KERNEL_AUTO, MG_KERNEL_PORTABLE};
    for (int si = 0; si < nsizes; si++) {
        int M = sizes[si][0], N = sizes[si][1], K = sizes[si][2], lda = K + 3, ldc = N + 2;
        float *A = malloc(sizeof(float) * M * lda), *W = malloc(sizeof(float) * N * K);
        float *scale = malloc(sizeof(float) * N), *C = malloc(sizeof(float) * M * ldc), *C1 = malloc(sizeof(float) * M * ldc);
        float *Cq = malloc(sizeof(float) * M * ldc); /* the reference q8 kernel's result */
        int8_t *QP = malloc((size_t)N * K);
        int8_t *Q = malloc((size_t)N * K);
        float *P = malloc(sizeof(float) * N * K);
        fill_uniform(A, (size_t)M * lda, -1, 1);
        fill_uniform(W, (size_t)N * K, -1, 1);
        fill_uniform(scale, N, 0.01f, 0.1f);
        for (int i = 0; i < N * K; i++) Q[i] = (int8_t)(W[i] * 127.0f);
        Q[0] = -128; /* the full int8 range */
        int32_t *rowsum = calloc(N, sizeof *rowsum);
        for (int i = 0; i < N * K; i++) rowsum[i / K] += Q[i];
        if (M > 2) {
            for (int j = 0; j < K; j++) A[lda + j] = 0; /* row 1: zeros */
            A[2 * lda + K / 2] = NAN;                   /* row 2: one NaN */
        }
        if (M == 1 && K == 601) A[K / 3] = NAN;
        for (size_t ki = 0; ki < sizeof choices / sizeof *choices; ki++) {
            mg_kernels k;
            if (!mg_kernels_select(choices[ki], &k)) {
                CHECK(choices[ki] == MG_KERNEL_SIMD && !mg_has_simd(), "kernel %d missing", choices[ki]);
                continue;
            }
            /* form 0: F32, 1: int8, 2: F32 packed by mg_pack_f32 (whole, then rows 8.. alone as a thread does),
             * 3: int8 packed by mg_pack_q8 (the same) */
            for (int form = 0; form < 4; form++) {
                int q8 = form == 1 || form == 3;
                if (form == 2 && !k.packed) continue;
                if (form == 3 && (!k.q8packed || !mg_q8_packs(K))) continue;
                for (int i = 0; i < M * ldc; i++) C[i] = -12345.0f; /* padding must stay untouched */
                if (form == 0) k.f32(M, N, K, A, lda, W, C, ldc);
                if (form == 1) k.q8(M, N, K, A, lda, Q, scale, rowsum, C, ldc);
                if (form == 3) {
                    mg_pack_q8(Q, N, K, QP);
                    k.q8packed(M, N, K, A, lda, QP, scale, rowsum, C, ldc);
                    if (N > 8) { /* rows [8, N) again, from their own part of QP, over the first result */
                        for (int m = 0; m < M; m++) C[m * ldc + 8] = -1;
                        k.q8packed(M, N - 8, K, A, lda, QP + 8 * K, scale + 8, rowsum + 8, C + 8, ldc);
                    }
                    memcpy(C1, C, sizeof(float) * M * ldc);
                    k.q8(M, N, K, A, lda, Q, scale, rowsum, C, ldc);
                    CHECK(!memcmp(C1, C, sizeof(float) * M * ldc), "kernel %d: packed int8 weights give other bits, %dx%dx%d",
                          choices[ki], M, N, K);
                    memcpy(C, C1, sizeof(float) * M * ldc);
                }
                if (q8 && choices[ki] == MG_KERNEL_REFERENCE) memcpy(Cq, C, sizeof(float) * M * ldc);
                else if (q8)
                    CHECK(!memcmp(Cq, C, sizeof(float) * M * ldc), "kernel %d form %d: other bits than the reference q8 kernel, %dx%dx%d",
                          choices[ki], form, M, N, K);
#ifdef MG_VECTOR
                if (form == 2) {
                    mg_pack_f32(W, N, K, P);
                    k.packed(M, N, K, A, lda, P, C, ldc);
                    if (N > 8) { /* rows [8, N) again, from their own part of P, over the first result */
                        for (int m = 0; m < M; m++) C[m * ldc + 8] = -1;
                        k.packed(M, N - 8, K, A, lda, P + 8 * K, C + 8, ldc);
                    }
                }
#endif
                for (int m = 0; m < M; m++) {
                    for (int n = 0; n < N; n++) {
                        double want = 0, mag = 0, amax = 0, wsum = 0;
                        for (int j = 0; j < K; j++) {
                            double w = q8 ? (double)Q[n * K + j] * scale[n] : W[n * K + j];
                            want += (double)A[m * lda + j] * w;
                            mag += fabs((double)A[m * lda + j] * w);
                            amax = fmax(amax, fabs(A[m * lda + j]));
                            wsum += fabs(w);
                        }
                        double rounding = q8 ? 0.5 * amax / mg_q8_steps * wsum : 0;
                        if (isnan(want))
                            CHECK(isnan(C[m * ldc + n]), "kernel %d form %d: NaN lost at (%d,%d)", choices[ki], form, m, n);
                        else
                            CHECK(fabs(C[m * ldc + n] - want) <= 1e-5 * (mag + 1e-3) + rounding,
                                  "kernel %d form %d %dx%dx%d at (%d,%d): %g vs %g", choices[ki], form, M, N, K, m, n,
                                  C[m * ldc + n], want);
                    }
                    for (int n = N; n < ldc; n++) CHECK(C[m * ldc + n] == -12345.0f, "kernel %d form %d wrote past N", choices[ki], form);
                }
            }
        }
        /* activations that are whole quantization steps (k / mg_q8_steps of a row whose largest is 1): the vector
         * q8 kernel rounds nothing, so it must give the exact product (to float rounding), offsets and all */
        mg_kernels k;
        if (mg_kernels_select(MG_KERNEL_SIMD, &k)) {
            for (int m = 0; m < M; m++)
                for (int j = 0; j < K; j++)
                    A[m * lda + j] = j == 0 ? 1.0f : (float)((m * 7 + j * 13) % (2 * mg_q8_steps + 1) - mg_q8_steps) / mg_q8_steps;
            k.q8(M, N, K, A, lda, Q, scale, rowsum, C, ldc);
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) {
                    double want = 0, mag = 0;
                    for (int j = 0; j < K; j++) {
                        double p = (double)A[m * lda + j] * Q[n * K + j] * scale[n];
                        want += p, mag += fabs(p);
                    }
                    CHECK(fabs(C[m * ldc + n] - want) <= 1e-5 * (mag + 1e-3), "q8 on whole steps %dx%dx%d at (%d,%d): %g vs %g",
                          M, N, K, m, n, C[m * ldc + n], want);
                }
        }
        free(A), free(W), free(scale), free(C), free(C1), free(Q), free(QP), free(P), free(rowsum), free(Cq);
    }
    return check_report("test-matmul");
}
