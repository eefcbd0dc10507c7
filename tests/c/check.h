/* check.h — the few helpers the C tests share: CHECK and REQUIRE, closeness, a seeded filler, the golden reader. */
#ifndef MINGRU_TEST_CHECK_H
#define MINGRU_TEST_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;

/* Counts and reports a failed condition (evaluated once), then does `then` (nothing, or return). */
#define CHECK_THEN(then, what, cond, ...)                                  \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: %s(%s) failed: ", __FILE__, __LINE__, what, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
            check_failures++;                                              \
            then;                                                          \
        }                                                                  \
    } while (0)

/* A failed CHECK is reported and the test goes on. */
#define CHECK(cond, ...) CHECK_THEN((void)0, "CHECK", cond, __VA_ARGS__)
/* For a step the rest of a (void) function needs, such as a model it loads or a fixture it reads: on failure,
 * reported as CHECK, the function returns instead of going on with what the step did not make. */
#define REQUIRE(cond, ...) CHECK_THEN(return, "REQUIRE", cond, __VA_ARGS__)

/* Largest violation of |a - b| <= atol + rtol |b| over n values, as a multiple of the allowance
 * (<= 1 means every value is within tolerance). */
static inline double close_ratio(const float *a, const float *b, size_t n, double atol, double rtol) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double allow = atol + rtol * fabs((double)b[i]);
        double r = fabs((double)a[i] - (double)b[i]) / allow;
        if (!(r <= worst)) worst = isnan(r) ? INFINITY : r;
    }
    return worst;
}

static uint64_t fill_state = 88172645463325252ull;
/* Uniform in [lo, hi) from a fixed xorshift, so every run sees the same numbers. */
static inline void fill_uniform(float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) {
        fill_state ^= fill_state << 13;
        fill_state ^= fill_state >> 7;
        fill_state ^= fill_state << 17;
        x[i] = lo + (hi - lo) * (float)(fill_state >> 40) / 16777216.0f;
    }
}

/* The whole file in a malloc'd buffer of exactly its size (so ASan sees a read past its end); NULL and size 0 if
 * absent. */
static inline unsigned char *read_file(const char *path, size_t *size) {
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    *size = fread(buf, 1, n > 0 ? (size_t)n : 0, f);
    fclose(f);
    return buf;
}

static inline int check_report(const char *name) {
    if (check_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
