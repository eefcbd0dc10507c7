/* sample.c — choosing the next token from logits: repetition penalty, temperature, top-k, top-p,
 * min-p, then a draw from a seeded generator (rng.c), so the same seed gives the same text. */
#include <math.h>

#include "model.h"

mg_sampler_params mg_sampler_default_params(void) {
    mg_sampler_params p = {1.0f, 0, 1.0f, 0.0f, 1.0f, 64};
    return p;
}

/* Sorts ids by probability, highest first, ties by id (so the order is deterministic): a shell sort,
 * small and free of the global state qsort would need for its comparison. */
static void sort_by_prob(int *ids, int n, const float *prob) {
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

int32_t mg_sample(const mg_model *m, const float *logits, const mg_sampler_params *p, const mg_state *s, uint64_t *rng) {
    int V = m->cfg.num_tokens;
    float *z = m->scratch.probs;
    int *order = m->scratch.order;
    for (int i = 0; i < V; i++) z[i] = logits[i];

    /* repetition penalty (CTRL): a recent token's logit is divided by the penalty if positive, else
     * multiplied; once per token however often it recurs (order[] marks the tokens already done) */
    if (p->repetition_penalty != 1.0f) {
        uint64_t n = s->n_tokens < (uint64_t)p->penalty_window ? s->n_tokens : (uint64_t)p->penalty_window;
        for (int i = 0; i < V; i++) order[i] = 0;
        for (uint64_t j = 0; j < n; j++) {
            int t = s->recent[(s->n_tokens - 1 - j) % MG_RECENT];
            if (order[t]) continue;
            order[t] = 1;
            z[t] = z[t] > 0 ? z[t] / p->repetition_penalty : z[t] * p->repetition_penalty;
        }
    }

    /* temperature 0: greedy, the lowest id among equal maxima */
    int best = 0;
    for (int i = 1; i < V; i++)
        if (z[i] > z[best]) best = i;
    if (p->temperature == 0.0f) return best;

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
        if (r < acc) return order[i];
    }
    return order[n - 1];
}
