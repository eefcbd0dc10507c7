/* sample.c — choosing the next token from logits, standalone (no model, no state): repetition penalty,
 * temperature, top-k, top-p, min-p, then a draw from a seeded generator (rng.c), so the same seed gives the same
 * text. The sampler parameters are checked here, once for the C API (mg_lm_generate_next calls this). */
#include <math.h>

#include "internal.h"

mg_sampler_params mg_sampler_default_params(void) {
    mg_sampler_params p = {1.0f, 0, 1.0f, 0.0f, 1.0f, 64};
    return p;
}

/* Sorts ids (0..n-1 in order) by probability, highest first, ties by id, so the order is deterministic.
 * Probabilities are not negative, so their bit patterns order as they do: a stable radix sort of the patterns,
 * largest first, from the ids in order, gives that order in four passes of a byte with no comparisons (the shell
 * sort it replaced took a tenth of the demo model's step). With a NaN (a model that blew up) or more ids than its
 * buffer, a shell sort with the same order. */
enum { RADIX_MAX = 1024 };
static uint32_t prob_key(const float *prob, int id) {
    uint32_t bits;
    memcpy(&bits, prob + id, sizeof bits);
    return ~(bits & 0x7fffffffu); /* largest first; -0 as +0, as == compares them */
}

static void sort_by_prob(int *ids, int n, const float *prob) {
    int nan = 0;
    for (int i = 0; i < n; i++) nan |= isnan(prob[i]);
    if (n <= RADIX_MAX && !nan) {
        int buffer[RADIX_MAX], *from = ids, *to = buffer;
        for (int shift = 0; shift < 32; shift += 8) {
            int at[257] = {0};
            for (int i = 0; i < n; i++) at[(prob_key(prob, from[i]) >> shift & 255) + 1]++;
            if (at[(prob_key(prob, from[0]) >> shift & 255) + 1] == n) continue; /* one byte value: nothing moves */
            for (int b = 0; b < 256; b++) at[b + 1] += at[b];
            for (int i = 0; i < n; i++) to[at[prob_key(prob, from[i]) >> shift & 255]++] = from[i];
            int *t = from;
            from = to, to = t;
        }
        if (from != ids) memcpy(ids, from, (size_t)n * sizeof *ids);
        return;
    }
    for (int gap = n / 2; gap > 0; gap /= 2)
        for (int i = gap; i < n; i++) {
            int id = ids[i], j = i;
            for (; j >= gap; j -= gap) {
                int o = ids[j - gap];
                if (prob[o] > prob[id] || (prob[o] == prob[id] && o < id)) break;
                ids[j] = o;
            }
            ids[j] = id;
        }
}

/* The params' ranges, checked once here for the whole C API: MG_EINVAL naming the first one out of range. */
static int check_params(const mg_sampler_params *p, int V) {
    if (!(p->temperature >= 0) || !isfinite(p->temperature))
        return mg_fail(MG_EINVAL, "mg_sample: temperature must be finite and >= 0, got %g", p->temperature);
    if (p->top_k < 0 || p->top_k > V) return mg_fail(MG_EINVAL, "mg_sample: top_k must be in [0, %d], got %d", V, p->top_k);
    if (!(p->top_p > 0 && p->top_p <= 1)) return mg_fail(MG_EINVAL, "mg_sample: top_p must be in (0, 1], got %g", p->top_p);
    if (!(p->min_p >= 0 && p->min_p <= 1)) return mg_fail(MG_EINVAL, "mg_sample: min_p must be in [0, 1], got %g", p->min_p);
    if (!(p->repetition_penalty > 0) || !isfinite(p->repetition_penalty))
        return mg_fail(MG_EINVAL, "mg_sample: repetition_penalty must be finite and > 0, got %g", p->repetition_penalty);
    if (p->penalty_window < 0 || p->penalty_window > MG_MAX_PENALTY_WINDOW)
        return mg_fail(MG_EINVAL, "mg_sample: penalty_window must be in [0, %d], got %d", MG_MAX_PENALTY_WINDOW, p->penalty_window);
    return MG_OK;
}

int mg_sample(const float *logits, int V, const int32_t *recent, int n_recent, const mg_sampler_params *p, float *z,
              int *order, uint64_t *rng, int32_t *token) {
    if (!logits || !p || !z || !order || !rng || !token || (n_recent > 0 && !recent))
        return mg_fail(MG_EINVAL, "mg_sample: NULL argument");
    if (V <= 0 || n_recent < 0) return mg_fail(MG_EINVAL, "mg_sample: V must be > 0 and n_recent >= 0, got %d and %d", V, n_recent);
    int st = check_params(p, V);
    if (st) return st;
    int n_penalised = n_recent < p->penalty_window ? n_recent : p->penalty_window;
    for (int j = n_recent - n_penalised; j < n_recent; j++)
        if (recent[j] < 0 || recent[j] >= V) return mg_fail(MG_ERANGE, "mg_sample: recent token %d is outside [0, %d)", recent[j], V);
    for (int i = 0; i < V; i++) z[i] = logits[i];

    /* repetition penalty (CTRL): a recent token's logit is divided by the penalty if positive, else
     * multiplied; once per token however often it recurs (order[] marks the tokens already done) */
    if (p->repetition_penalty != 1.0f) {
        for (int i = 0; i < V; i++) order[i] = 0;
        for (int j = n_recent - n_penalised; j < n_recent; j++) {
            int t = recent[j];
            if (order[t]) continue;
            order[t] = 1;
            z[t] = z[t] > 0 ? z[t] / p->repetition_penalty : z[t] * p->repetition_penalty;
        }
    }

    /* temperature 0: greedy, the lowest id among equal maxima */
    int best = 0;
    for (int i = 1; i < V; i++)
        if (z[i] > z[best]) best = i;
    if (p->temperature == 0.0f) return *token = best, MG_OK;

    /* softmax(z / temperature), stable */
    double total = 0;
    const float top = z[best];
    for (int i = 0; i < V; i++) {
        z[i] = expf((z[i] - top) / p->temperature);
        total += z[i];
    }
    for (int i = 0; i < V; i++) z[i] = (float)(z[i] / total);

    /* the candidates, most likely first, cut by top-k, min-p and top-p */
    for (int i = 0; i < V; i++) order[i] = i;
    sort_by_prob(order, V, z);
    int keep = p->top_k > 0 && p->top_k < V ? p->top_k : V;
    float floor_p = p->min_p * z[order[0]];
    double mass = 0;
    int n = 0;
    while (n < keep && z[order[n]] >= floor_p) {
        mass += z[order[n++]];
        if (mass >= p->top_p) break;
    }
    if (n == 0) n = 1;

    /* draw from the kept candidates in proportion to their probability */
    double kept = 0;
    for (int i = 0; i < n; i++) kept += z[order[i]];
    double r = (double)mg_rng_uniform(rng) * kept, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += z[order[i]];
        if (r < acc) return *token = order[i], MG_OK;
    }
    return *token = order[n - 1], MG_OK;
}
