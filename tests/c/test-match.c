/* The coder's match models (src/match.c): a sequence of random tokens seen before costs almost nothing the second
 * time, even when the model behind them is confidently wrong; tokens that never repeat cost about what the model
 * says; refined distributions stay distributions (positive, summing to 1). Distributions are made by hand: the
 * match models need no network. */
#include "check.h"
#include "internal.h"

#define V 256
#define N 3000

static uint32_t rng_state = 7;
static int32_t random_token(void) {
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 17, rng_state ^= rng_state << 5;
    return (int32_t)(rng_state & (V - 1));
}

/* Codes `n` tokens with the match models over a distribution that puts `peak` on a token unrelated to the data
 * (a model that is confidently wrong) and spreads the rest; returns the bits of tokens [from, n) and checks every
 * refined distribution. */
static double bits_of(const int32_t *tokens, int n, int from, double peak) {
    mg_match *mm = NULL;
    CHECK(mg_match_create(&mm) == MG_OK, "mg_match_create");
    double p[V], bits = 0, worst_sum = 0;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < V; k++) p[k] = (1 - peak) / V;
        p[(i * 31 + 5) % V] += peak;
        mg_match_refine(mm, p, V);
        double sum = 0;
        for (int k = 0; k < V; k++) sum += p[k], bad += !(p[k] > 0);
        if (fabs(sum - 1) > worst_sum) worst_sum = fabs(sum - 1);
        if (i >= from) bits -= log2(p[tokens[i]]);
        CHECK(mg_match_add(mm, tokens[i]) == MG_OK, "mg_match_add");
    }
    CHECK(bad == 0 && worst_sum < 1e-9, "%d probabilities not positive; sums off by up to %g", bad, worst_sum);
    mg_match_free(mm);
    return bits;
}

int main(void) {
    static int32_t twice[2 * N];
    for (int i = 0; i < N; i++) twice[i] = twice[N + i] = random_token();
    for (int w = 0; w < 2; w++) {
        double peak = w ? 0.9 : 0;
        double first = bits_of(twice, N, 0, peak) / N, second = bits_of(twice, 2 * N, N, peak) / N;
        double model = -((N - 1) * log2((1 - peak) / V) + log2((1 - peak) / V + peak)) / N; /* the model's own */
        CHECK(second < 0.1, "peak %g: the repeat costs %.3f bits a token", peak, second);
        CHECK(first < model + 0.1, "peak %g: random tokens seen once cost %.3f bits a token, the model alone %.3f", peak, first, model);
        printf("peak %.1f: random tokens %.3f bits each (the model alone %.3f), their repeat %.4f\n", peak, first, model, second);
    }
    return check_report("test-match");
}
