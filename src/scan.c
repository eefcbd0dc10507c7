/* scan.c — the linear recurrence h_t = a_t h_{t-1} + b_t over time, for every channel: both cells reduce to it.
 *
 * The three-phase chunked scan (docs/kernels.md): the T steps are cut into chunks; (1) each chunk scans from a zero
 * state, keeping the running product of a; (2) the states entering the chunks are carried in order; (3) each
 * chunk adds prod(a) * carry_in to its steps. Phases 1 and 3 run on the pool, a chunk a thread; with a single
 * chunk the threads take disjoint channels instead. Every chunking gives the same values up to rounding. */
#include <string.h>

#include "internal.h"

/* Phase 1 of the chunked scan on steps [t0, t1): a local scan from `from` (NULL = zeros). With
 * keep_prod, a_t becomes prod_{s=t0..t} a_s, the factor by which the chunk's true start state
 * reaches step t. */
static void scan_local(float *a, float *b, int ld, int t0, int t1, int n, const float *from, int keep_prod) {
    for (int t = t0; t < t1; t++) {
        float *at = a + (size_t)t * ld, *bt = b + (size_t)t * ld;
        const float *hp = t > t0 ? b + (size_t)(t - 1) * ld : from;
        const float *ap = t > t0 ? a + (size_t)(t - 1) * ld : NULL;
        for (int i = 0; i < n; i++) {
            if (hp) bt[i] += at[i] * hp[i];    /* h_t = a_t h_{t-1} + b_t */
            if (keep_prod && ap) at[i] *= ap[i]; /* A_t = a_t A_{t-1} */
        }
    }
}

static int chunk_start(int T, int c, int n_chunks) { return (int)((long long)T * c / n_chunks); }

int mg_scan_chunks_for(int T) {
    int nth = mg_get_threads();
    return nth > 1 && T >= 8 * nth ? nth : 1;
}

/* One scan: chunks are distributed over the pool's threads (phases 1 and 3 in parallel, 2 in order);
 * with a single chunk and several threads, the threads take disjoint channel ranges instead. */
typedef struct {
    float *a, *b;
    int ld, T, n, n_chunks;
    const float *h0;
    float *carry;
} scan_job;

/* Phase 1: every chunk scans locally; chunk 0 starts from h0 itself, so it is already exact. */
static void scan_phase1(void *ctx, int ith, int nth) {
    const scan_job *j = ctx;
    if (j->n_chunks == 1) { /* split the channels */
        int i0, i1;
        mg_split(j->n, ith, nth, 4, &i0, &i1);
        if (i0 < i1) scan_local(j->a + i0, j->b + i0, j->ld, 0, j->T, i1 - i0, j->h0 ? j->h0 + i0 : NULL, 0);
        return;
    }
    for (int c = ith; c < j->n_chunks; c += nth)
        scan_local(j->a, j->b, j->ld, chunk_start(j->T, c, j->n_chunks), chunk_start(j->T, c + 1, j->n_chunks), j->n,
                   c == 0 ? j->h0 : NULL, c > 0);
}

/* Phase 2, in order: the true state entering chunk c is carry_c = A_last(c-1) carry_{c-1} + h_last(c-1),
 * where chunk 0's last state is already exact. */
static void scan_phase2(const scan_job *j) {
    for (int c = 1; c < j->n_chunks; c++) {
        int prev_last = chunk_start(j->T, c, j->n_chunks) - 1;
        float *cc = j->carry + (size_t)c * j->n;
        const float *hl = j->b + (size_t)prev_last * j->ld, *al = j->a + (size_t)prev_last * j->ld;
        for (int i = 0; i < j->n; i++) cc[i] = c == 1 ? hl[i] : al[i] * j->carry[(size_t)(c - 1) * j->n + i] + hl[i];
    }
}

/* Phase 3: add the carried-in state to every step of chunks 1..P-1: h_t += A_t carry_c. */
static void scan_phase3(void *ctx, int ith, int nth) {
    const scan_job *j = ctx;
    for (int c = 1 + ith; c < j->n_chunks; c += nth) {
        const float *cc = j->carry + (size_t)c * j->n;
        for (int t = chunk_start(j->T, c, j->n_chunks); t < chunk_start(j->T, c + 1, j->n_chunks); t++) {
            float *at = j->a + (size_t)t * j->ld, *bt = j->b + (size_t)t * j->ld;
            for (int i = 0; i < j->n; i++) bt[i] += at[i] * cc[i];
        }
    }
}

static void scan(float *a, float *b, int ld, int T, int n, const float *h0, int n_chunks, float *carry, int parallel) {
    if (n_chunks > T) n_chunks = T;
    if (n_chunks < 1) n_chunks = 1;
    scan_job j = {a, b, ld, T, n, n_chunks, h0, carry};
    size_t work = parallel ? (size_t)T * n * 3 * sizeof(float) : 0; /* read a and b, write h */
    mg_pool_run(scan_phase1, &j, work);
    if (n_chunks == 1) return;
    scan_phase2(&j);
    mg_pool_run(scan_phase3, &j, work);
}

void mg_scan(float *a, float *b, int ld, int T, int n, const float *h0, int n_chunks, float *carry) {
    scan(a, b, ld, T, n, h0, n_chunks, carry, 1);
}

void mg_scan_chunked(float *a, float *b, int ld, int T, int n, const float *h0, int n_chunks, float *carry) {
    scan(a, b, ld, T, n, h0, n_chunks, carry, 0);
}

void mg_scan_reverse(const float *a, float *g, int ld, int T, int n, int n_chunks, float *carry, float *rev) {
    /* reversed step s is step T-1-s: C_s = a_{T-s} C_{s-1} + g_{T-1-s}, with C_{-1} = 0 */
    float *ra = rev, *rg = rev + (size_t)T * n;
    for (int s = 0; s < T; s++) {
        const float *as = s ? a + (size_t)(T - s) * ld : NULL, *gs = g + (size_t)(T - 1 - s) * ld;
        float *ras = ra + (size_t)s * n, *rgs = rg + (size_t)s * n;
        for (int i = 0; i < n; i++) ras[i] = as ? as[i] : 0.0f, rgs[i] = gs[i];
    }
    mg_scan(ra, rg, n, T, n, NULL, n_chunks, carry);
    for (int s = 0; s < T; s++) memcpy(g + (size_t)(T - 1 - s) * ld, rg + (size_t)s * n, (size_t)n * sizeof(float));
}
