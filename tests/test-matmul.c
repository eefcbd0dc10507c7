/* Every compiled matmul kernel equals a double-precision C = A W^T on awkward sizes (tails in M, N, K)
 * and a row stride wider than K, to 1e-5 relative to the sum of |products|. */
#include "check.h"
#include "internal.h"

int main(void) {
    int sizes[][3] = {{1, 1, 1}, {1, 4, 4}, {2, 5, 3}, {3, 7, 9}, {5, 8, 16}, {17, 33, 65}, {64, 48, 130}};
    int kernels[] = {MG_KERNEL_REFERENCE, MG_KERNEL_SIMD, MG_KERNEL_AUTO};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        int M = sizes[si][0], N = sizes[si][1], K = sizes[si][2], lda = K + 3, ldc = N + 2;
        float *A = malloc(sizeof(float) * M * lda), *W = malloc(sizeof(float) * N * K);
        float *C = malloc(sizeof(float) * M * ldc);
        fill_uniform(A, (size_t)M * lda, -1, 1);
        fill_uniform(W, (size_t)N * K, -1, 1);
        for (size_t ki = 0; ki < sizeof kernels / sizeof *kernels; ki++) {
            mg_matmul_fn mm = mg_matmul_select(kernels[ki]);
            if (!mm) {
                CHECK(kernels[ki] == MG_KERNEL_SIMD && !mg_has_simd(), "kernel %d missing", kernels[ki]);
                continue;
            }
            for (int i = 0; i < M * ldc; i++) C[i] = -12345.0f; /* padding must stay untouched */
            mm(M, N, K, A, lda, W, C, ldc);
            for (int m = 0; m < M; m++) {
                for (int n = 0; n < N; n++) {
                    double want = 0, mag = 0;
                    for (int k = 0; k < K; k++) {
                        want += (double)A[m * lda + k] * W[n * K + k];
                        mag += fabs((double)A[m * lda + k] * W[n * K + k]);
                    }
                    CHECK(fabs(C[m * ldc + n] - want) <= 1e-5 * (mag + 1e-3), "kernel %d %dx%dx%d at (%d,%d): %g vs %g",
                          kernels[ki], M, N, K, m, n, C[m * ldc + n], want);
                }
                for (int n = N; n < ldc; n++) CHECK(C[m * ldc + n] == -12345.0f, "kernel %d wrote past N", kernels[ki]);
            }
        }
        free(A);
        free(W);
        free(C);
    }
    return check_report("test-matmul");
}
