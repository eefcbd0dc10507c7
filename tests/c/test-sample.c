/* Sampling draws from the right distribution: with no filter the frequencies of 40000 draws match
 * softmax(logits / T) within 0.01; top-k, top-p and min-p never draw outside their sets; top-k and top-p keep the
 * relative frequencies inside; the repetition penalty demotes recent tokens; the same seed gives the same
 * draws; bad parameters are refused, naming them. Logits are made by hand: the sampler needs no model. */
#include "check.h"
#include "internal.h"

#define V 256
#define DRAWS 40000

static void softmax(const float *z, float t, double *p) {
    double mx = -1e30, sum = 0;
    for (int i = 0; i < V; i++) mx = z[i] > mx ? z[i] : mx;
    for (int i = 0; i < V; i++) sum += p[i] = exp((z[i] - mx) / t);
    for (int i = 0; i < V; i++) p[i] /= sum;
}

static float probs[V];
static int order[V];
static int32_t recent[2];
static int n_recent;

/* One draw; -1 (and a failed check) if the sampler refuses. */
static int32_t sample(const float *logits, const mg_sampler_params *sp, uint64_t *rng) {
    int32_t t = -1;
    int st = mg_sample(logits, V, recent, n_recent, sp, probs, order, rng, &t);
    CHECK(st == MG_OK, "mg_sample refused: %s", mg_last_error());
    return st == MG_OK ? t : -1;
}

/* count[t]: how many of DRAWS draws gave token t. A refused draw, or a token outside [0, V), fails and ends the tally. */
static void tally(const float *logits, const mg_sampler_params *sp, uint64_t *rng, int *count) {
    memset(count, 0, V * sizeof *count);
    for (int i = 0; i < DRAWS; i++) {
        int32_t t = sample(logits, sp, rng);
        REQUIRE(t >= 0 && t < V, "draw %d gave token %d", i, t);
        count[t]++;
    }
}

int main(void) {
    float logits[V];
    for (int i = 0; i < V; i++) logits[i] = -6.0f;
    for (int i = 0; i < 8; i++) logits[10 + i] = 2.0f - 0.4f * (float)i; /* eight likely tokens, 10..17 */
    static double p[V];
    static int count[V];
    uint64_t rng = 7;

    /* 1. no filter: empirical frequencies match the softmax at two temperatures */
    float temps[2] = {1.0f, 0.7f};
    for (int ti = 0; ti < 2; ti++) {
        mg_sampler_params sp = mg_sampler_default_params();
        sp.temperature = temps[ti];
        softmax(logits, temps[ti], p);
        tally(logits, &sp, &rng, count);
        double worst = 0;
        for (int i = 0; i < V; i++) worst = fmax(worst, fabs((double)count[i] / DRAWS - p[i]));
        CHECK(worst < 0.01, "temperature %.1f: frequencies off by %.4f", temps[ti], worst);
    }

    /* 2. top-k 3: only tokens 10..12, in proportion to their probabilities */
    mg_sampler_params sp = mg_sampler_default_params();
    sp.top_k = 3;
    softmax(logits, 1.0f, p);
    tally(logits, &sp, &rng, count);
    double z3 = p[10] + p[11] + p[12];
    for (int i = 0; i < V; i++) {
        double want = i >= 10 && i <= 12 ? p[i] / z3 : 0;
        CHECK(fabs((double)count[i] / DRAWS - want) < 0.01, "top-k: token %d drawn %d times, want p %.3f", i, count[i], want);
    }

    /* 3. top-p: the smallest prefix of the sorted tokens reaching top_p (here 10..12), in proportion to their
     * probabilities, nothing else */
    sp = mg_sampler_default_params();
    sp.top_p = 0.6f;
    double mass = 0;
    int nucleus = 0;
    while (mass < 0.6) mass += p[10 + nucleus++];
    CHECK(nucleus == 3, "the nucleus of these logits has %d tokens, expected 3", nucleus);
    tally(logits, &sp, &rng, count);
    for (int i = 0; i < V; i++) {
        double want = i >= 10 && i < 10 + nucleus ? p[i] / mass : 0;
        CHECK(fabs((double)count[i] / DRAWS - want) < 0.01, "top-p: token %d drawn %d times, want p %.3f", i, count[i], want);
    }

    /* 4. min-p: nothing below min_p * the top probability */
    sp = mg_sampler_default_params();
    sp.min_p = 0.3f;
    tally(logits, &sp, &rng, count);
    for (int i = 0; i < V; i++)
        if (p[i] < 0.3 * p[10]) CHECK(count[i] == 0, "min-p drew token %d (p %.4f < 0.3 * %.4f)", i, p[i], p[10]);

    /* 5. temperature 0 is argmax; a strong repetition penalty on recent tokens moves it */
    sp = mg_sampler_default_params();
    sp.temperature = 0;
    CHECK(sample(logits, &sp, &rng) == 10, "greedy is not the argmax");
    recent[0] = 10, recent[1] = 11, n_recent = 2; /* the tokens read so far, oldest first */
    sp.repetition_penalty = 3.0f;
    CHECK(sample(logits, &sp, &rng) == 12, "the penalty did not demote tokens 10 and 11");
    sp.penalty_window = 1; /* only 11 is recent enough */
    CHECK(sample(logits, &sp, &rng) == 10, "the penalty window is not respected");
    n_recent = 0;

    /* 6. the same seed, the same draws; another seed, other draws */
    sp = mg_sampler_default_params();
    int32_t a[64], b[64], c[64];
    uint64_t r1 = 42, r2 = 42, r3 = 43;
    int same = 1, differ = 0;
    for (int i = 0; i < 64; i++) a[i] = sample(logits, &sp, &r1), b[i] = sample(logits, &sp, &r2), c[i] = sample(logits, &sp, &r3);
    for (int i = 0; i < 64; i++) same &= a[i] == b[i], differ |= a[i] != c[i];
    CHECK(same && differ, "seeded draws: same seed %s, another seed %s", same ? "same" : "DIFFERENT", differ ? "differs" : "THE SAME");

    /* 7. the candidates in order of probability, ties by id (order as mg_sample leaves it), for a vocabulary the
     * radix sort takes and one past its buffer (the shell sort), with many ties */
    for (int big = 0; big < 2; big++) {
        int n = big ? 3000 : V, perm = 1, sorted = 1;
        float *lg = malloc(n * sizeof *lg), *pr = malloc(n * sizeof *pr);
        int *od = malloc(n * sizeof *od), *seen = calloc(n, sizeof *seen);
        uint64_t g = 5;
        for (int i = 0; i < n; i++) lg[i] = floorf(mg_rng_uniform(&g) * 40.0f) * 0.25f - 5.0f; /* 40 values */
        mg_sampler_params q = mg_sampler_default_params();
        int32_t tok = -1;
        CHECK(mg_sample(lg, n, NULL, 0, &q, pr, od, &g, &tok) == MG_OK && tok >= 0 && tok < n, "V %d: %s", n, mg_last_error());
        for (int i = 0; i < n; i++) perm &= od[i] >= 0 && od[i] < n && !seen[od[i]]++;
        for (int i = 0; perm && i + 1 < n; i++) {
            int x = od[i], y = od[i + 1];
            sorted &= pr[x] > pr[y] || (pr[x] == pr[y] && x < y);
        }
        CHECK(perm && sorted, "V %d: the candidates are %s", n, !perm ? "not a permutation" : "out of order");
        free(lg), free(pr), free(od), free(seen);
    }

    /* 8. bad parameters and arguments are refused, naming the problem; the token is left alone */
    struct { const char *name; mg_sampler_params p; int status; } bad[] = {
        {"temperature", {-1.0f, 0, 1.0f, 0.0f, 1.0f, 64}, MG_EINVAL}, {"temperature", {INFINITY, 0, 1.0f, 0.0f, 1.0f, 64}, MG_EINVAL},
        {"top_k", {1.0f, -1, 1.0f, 0.0f, 1.0f, 64}, MG_EINVAL},      {"top_k", {1.0f, V + 1, 1.0f, 0.0f, 1.0f, 64}, MG_EINVAL},
        {"top_p", {1.0f, 0, 0.0f, 0.0f, 1.0f, 64}, MG_EINVAL},       {"top_p", {1.0f, 0, 1.5f, 0.0f, 1.0f, 64}, MG_EINVAL},
        {"min_p", {1.0f, 0, 1.0f, -0.1f, 1.0f, 64}, MG_EINVAL},      {"min_p", {1.0f, 0, 1.0f, NAN, 1.0f, 64}, MG_EINVAL},
        {"repetition_penalty", {1.0f, 0, 1.0f, 0.0f, 0.0f, 64}, MG_EINVAL},
        {"penalty_window", {1.0f, 0, 1.0f, 0.0f, 1.0f, 257}, MG_EINVAL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int32_t t = 77;
        int st = mg_sample(logits, V, NULL, 0, &bad[i].p, probs, order, &rng, &t);
        CHECK(st == bad[i].status && strstr(mg_last_error(), bad[i].name) && t == 77, "bad %s: status %d, \"%s\"", bad[i].name, st, mg_last_error());
    }
    int32_t t = 77, far[1] = {V};
    sp = mg_sampler_default_params();
    sp.top_k = V, sp.penalty_window = MG_MAX_PENALTY_WINDOW, sp.min_p = 1.0f; /* the ends of the ranges are taken */
    CHECK(mg_sample(logits, V, NULL, 0, &sp, probs, order, &rng, &t) == MG_OK && t == 10, "the ends of the ranges were refused: %s", mg_last_error());
    sp = mg_sampler_default_params();
    sp.repetition_penalty = 2.0f, t = 77;
    CHECK(mg_sample(logits, V, far, 1, &sp, probs, order, &rng, &t) == MG_ERANGE && t == 77, "a recent token outside [0, V) was taken");
    CHECK(mg_sample(logits, 0, NULL, 0, &sp, probs, order, &rng, &t) == MG_EINVAL, "V = 0 was taken");
    CHECK(mg_sample(NULL, V, NULL, 0, &sp, probs, order, &rng, &t) == MG_EINVAL, "NULL logits were taken");
    return check_report("test-sample");
}
