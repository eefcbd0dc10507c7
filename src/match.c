/* match.c — match models: the coder's refinement of the model's distribution with what followed the last
 * time the same tokens came (lpaq's match model, used by zpaq and cmix).
 *
 * Each of MODELS match models looks for the most recent earlier place in the history (the prime and the tokens
 * coded so far) where the last LEN[j] tokens came too, and predicts the token that followed there; while its
 * predictions come true it follows that place on, its match growing longer. Its prediction m takes the
 * probability q = sigmoid(w0 logit(p[m]) + w1 logit(r) + w2), the other tokens share 1 - q in their old
 * proportions: r is how often its predictions came true at this length of match (in half-octaves) and agreement
 * (whether the model's own most likely token is m), counted; (w0, w1, w2) per agreement are learned while coding
 * (a logistic mixer's gradient step after each token, larger while they have seen few). So a long match in a text
 * that repeats itself comes to be trusted within a few tokens, even where the model knows nothing (random bytes
 * seen before), and a match in a text that does not repeat, ignored. Chosen on the demo model, the end of the
 * Bible and random bytes repeated (docs/compress.md).
 *
 * Only arithmetic the same on every wasm engine goes in (IEEE doubles; exp from libm, compiled into the module),
 * so the decoder rebuilds the same distributions. */
#include <stdlib.h>

#include "internal.h"

enum {
    MODELS = 4,
    BUCKETS = 20,          /* match lengths in half-octaves: floor(2 log2(len + 1)), at most 19 */
    MAX_LEN = 400,         /* the longest match measured when one is found */
    MIN_TABLE_BITS = 12,   /* each model's table grows with the history, up to */
    MAX_TABLE_BITS = 22,   /* 2^22 places (16 MB) */
};
static const int LEN[MODELS] = {3, 6, 12, 24};
static const double RATE_SCALE = 0.002, RATE_BIAS = 0.02, P_MIN = 1e-6;

typedef struct {
    uint32_t *table;       /* hash of LEN tokens -> 1 + the place after the last time they came (0: never) */
    int bits;              /* the table has 2^bits places */
    size_t ptr, len;       /* the place whose token is predicted (0: no match), the match's length */
    double hits[BUCKETS][2][2]; /* per length and agreement: predictions come true, predictions (halved past 255) */
    double w[2][3];             /* per agreement: (w0, w1, w2) */
    double seen[2];             /* per agreement: the tokens its weights have learned from */
    int predicted, bucket, agree; /* what the last refine used, for learning (predicted -1: nothing) */
    double logit, rate_logit, q;
} matcher;

struct mg_match {
    int32_t *h; /* the history */
    size_t n, cap;
    matcher model[MODELS];
};

int mg_match_create(mg_match **out) {
    mg_match *mm = calloc(1, sizeof *mm);
    if (!mm) return mg_fail(MG_ENOMEM, "out of memory for the coder's match models");
    for (int j = 0; j < MODELS; j++) {
        mm->model[j].predicted = -1;
        mm->model[j].w[0][0] = mm->model[j].w[1][0] = 1;
        for (int k = 0; k < BUCKETS; k++)
            for (int a = 0; a < 2; a++) mm->model[j].hits[k][a][0] = 0.5, mm->model[j].hits[k][a][1] = 1;
    }
    *out = mm;
    return MG_OK;
}

void mg_match_free(mg_match *mm) {
    if (!mm) return;
    free(mm->h);
    for (int j = 0; j < MODELS; j++) free(mm->model[j].table);
    free(mm);
}

/* The hash of the len tokens before place `end`, in `bits` bits. */
static uint32_t hash(const int32_t *h, size_t end, int len, int bits) {
    uint32_t x = 0;
    for (int i = 1; i <= len; i++) x = (x + (uint32_t)h[end - i] + 1) * 0x9E3779B1u;
    return x >> (32 - bits);
}

/* Model j's table sized for the history (twice as many places as tokens, within the bounds), rebuilt from the
 * history when it grows: the same on both sides, since both grow it at the same token. */
static int fit_table(mg_match *mm, int j) {
    int bits = mm->model[j].bits;
    if (bits && (bits >= MAX_TABLE_BITS || mm->n <= ((size_t)1 << bits) / 2)) return MG_OK;
    int want = bits ? bits + 1 : MIN_TABLE_BITS;
    uint32_t *t = calloc((size_t)1 << want, sizeof *t);
    if (!t) return mg_fail(MG_ENOMEM, "out of memory for the coder's match models (%zu places)", (size_t)1 << want);
    for (size_t end = (size_t)LEN[j]; end < mm->n; end++) t[hash(mm->h, end, LEN[j], want)] = (uint32_t)end + 1;
    free(mm->model[j].table);
    mm->model[j].table = t, mm->model[j].bits = want;
    return MG_OK;
}

static double clamp(double p) { return p < P_MIN ? P_MIN : p > 1 - P_MIN ? 1 - P_MIN : p; }
/* ln x for x > 0, within 1e-15 relative (libm's log would add its tables to every build):
 * x = m 2^e, m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m - 1) / (m + 1)) by its series. */
static double ln(double x) {
    int e;
    double m = frexp(x, &e);
    if (m < 0.70710678118654752) m *= 2, e--;
    double t = (m - 1) / (m + 1), t2 = t * t, sum = 0;
    for (int k = 17; k >= 1; k -= 2) sum = sum * t2 + 1.0 / k;
    return e * 0.69314718055994531 + 2 * t * sum;
}

static double logit(double p) { return ln(clamp(p) / (1 - clamp(p))); }

static int bucket(size_t len) {
    size_t x = (len + 1) * (len + 1);
    int b = 0;
    while (x >>= 1) b++;
    return b < BUCKETS ? b : BUCKETS - 1;
}

void mg_match_refine(mg_match *mm, double *p, int V) {
    int best = 0; /* the model's most likely token */
    for (int i = 1; i < V; i++)
        if (p[i] > p[best]) best = i;
    for (int j = 0; j < MODELS; j++) {
        matcher *md = &mm->model[j];
        md->predicted = -1;
        if (!md->ptr || mm->h[md->ptr] < 0 || mm->h[md->ptr] >= V) continue;
        int m = mm->h[md->ptr], k = bucket(md->len), a = m == best;
        const double *w = md->w[a], *h = md->hits[k][a];
        double s = logit(p[m]), t = logit(h[0] / h[1]);
        double q = clamp(1 / (1 + exp(-(w[0] * s + w[1] * t + w[2]))));
        double pm = clamp(p[m]);
        double scale = (1 - q) / (1 - pm);
        for (int i = 0; i < V; i++) p[i] *= scale;
        p[m] = q;
        md->predicted = m, md->bucket = k, md->agree = a, md->logit = s, md->rate_logit = t, md->q = q;
    }
}

int mg_match_add(mg_match *mm, int32_t token) {
    if (mm->n == mm->cap) {
        size_t cap = mm->cap ? 2 * mm->cap : 4096;
        int32_t *h = realloc(mm->h, cap * sizeof *h);
        if (!h) return mg_fail(MG_ENOMEM, "out of memory for the coder's history (%zu tokens)", cap);
        mm->h = h, mm->cap = cap;
    }
    mm->h[mm->n++] = token;
    for (int j = 0; j < MODELS; j++) {
        matcher *md = &mm->model[j];
        if (md->predicted >= 0) { /* learn: the gradient of the log loss of whether the prediction came */
            double y = md->predicted == token, g = y - md->q, *w = md->w[md->agree], n = ++md->seen[md->agree];
            double boost = 1 / (n + 1.5) > RATE_BIAS ? 1 / (n + 1.5) / RATE_BIAS : 1;
            w[0] += boost * RATE_SCALE * g * md->logit;
            w[1] += boost * RATE_SCALE * g * md->rate_logit;
            w[2] += boost * RATE_BIAS * g;
            double *h = md->hits[md->bucket][md->agree];
            h[0] += y, h[1] += 1;
            if (h[1] > 255) h[0] /= 2, h[1] /= 2;
            md->predicted = -1;
        }
        if (md->ptr && mm->h[md->ptr] == token) md->ptr++, md->len++;
        else md->ptr = 0, md->len = 0;
        int st = fit_table(mm, j);
        if (st) return st;
        size_t L = (size_t)LEN[j], n = mm->n;
        if (n < L) continue;
        uint32_t *slot = &md->table[hash(mm->h, n, (int)L, md->bits)];
        if (!md->ptr && *slot) { /* a new match: how long it really is (the hash may collide) */
            size_t c = *slot - 1, len = 0;
            while (len < MAX_LEN && len < c && mm->h[c - 1 - len] == mm->h[n - 1 - len]) len++;
            if (len >= L) md->ptr = c, md->len = len;
        }
        *slot = (uint32_t)n + 1;
    }
    return MG_OK;
}
