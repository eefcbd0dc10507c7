/* The three-phase chunked scan gives the values of the plain recurrence h_t = a_t h_{t-1} + b_t for
 * every chunk count, with and without an initial state, on a row stride wider than the channels. */
#include "check.h"
#include "internal.h"

static void direct(const float *a, const float *b, int ld, int T, int n, const float *h0, double *h) {
    for (int i = 0; i < n; i++) {
        double prev = h0 ? h0[i] : 0.0;
        for (int t = 0; t < T; t++) {
            prev = (double)a[t * ld + i] * prev + b[t * ld + i];
            h[t * n + i] = prev;
        }
    }
}

int main(void) {
    const int n = 5, ld = 12; /* a at offset 6 of each row, b at offset 0 */
    int lengths[] = {1, 2, 3, 7, 64, 257};
    for (size_t li = 0; li < sizeof lengths / sizeof *lengths; li++) {
        int T = lengths[li];
        float *ab = malloc(sizeof(float) * T * ld), *work = malloc(sizeof(float) * T * ld);
        float h0[5], carry[9 * 5];
        double *want = malloc(sizeof(double) * T * n);
        fill_uniform(ab, (size_t)T * ld, 0.0f, 1.0f);
        fill_uniform(h0, n, -2.0f, 2.0f);
        for (int with_h0 = 0; with_h0 < 2; with_h0++) {
            direct(ab + 6, ab, ld, T, n, with_h0 ? h0 : NULL, want);
            for (int chunks = 1; chunks <= 9; chunks++) {
                memcpy(work, ab, sizeof(float) * T * ld);
                mg_scan_chunked(work + 6, work, ld, T, n, with_h0 ? h0 : NULL, chunks, carry);
                double worst = 0;
                for (int t = 0; t < T; t++)
                    for (int i = 0; i < n; i++) {
                        double e = fabs(work[t * ld + i] - want[t * n + i]) / (1e-6 + 1e-5 * fabs(want[t * n + i]));
                        if (e > worst) worst = e;
                    }
                CHECK(worst <= 1, "T=%d chunks=%d h0=%d: off by %.2f x tolerance", T, chunks, with_h0, worst);
            }
        }
        free(ab);
        free(work);
        free(want);
    }
    return check_report("test-scan");
}
