/* bandwidth.c — how fast this machine reads memory, for npm run bench's bound on step speed: a step reads every
 * weight once, so weight bytes / read bandwidth is the least time a step can take once the weights do not fit
 * in the caches. Sums a 256 MB buffer split between N threads; prints the best of 5 passes as JSON.
 *
 *   bandwidth N        (built by bench/bench.mjs with gcc -O3 -march=native -pthread) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef float v8 __attribute__((vector_size(32)));

typedef struct {
    const v8 *p;
    size_t n;
    float sum;
} part;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *read_part(void *arg) {
    part *q = arg;
    v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (size_t i = 0; i + 4 <= q->n; i += 4) s0 += q->p[i], s1 += q->p[i + 1], s2 += q->p[i + 2], s3 += q->p[i + 3];
    v8 s = s0 + s1 + s2 + s3;
    q->sum = s[0] + s[7];
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 16) {
        fprintf(stderr, "usage: bandwidth THREADS (1..16)\n");
        return 2;
    }
    size_t bytes = (size_t)256 << 20, n = bytes / sizeof(v8);
    v8 *p = aligned_alloc(64, bytes);
    if (!p) return 1;
    for (size_t i = 0; i < n; i++) p[i] = (v8){0} + (float)(i & 7);
    double best = 0, check = 0;
    for (int pass = 0; pass < 5; pass++) {
        pthread_t th[16];
        part q[16];
        double t0 = now();
        for (int t = 0; t < threads; t++) {
            q[t] = (part){p + n / threads * t, n / threads, 0};
            pthread_create(&th[t], NULL, read_part, &q[t]);
        }
        for (int t = 0; t < threads; t++) pthread_join(th[t], NULL), check += q[t].sum;
        double gbs = bytes / (now() - t0) / 1e9;
        if (gbs > best) best = gbs;
    }
    printf("{\"threads\":%d,\"readGBps\":%.2f,\"check\":%.0f}\n", threads, best, check);
    free(p);
    return 0;
}
