/* Sampling draws from the right distribution: with no filter the frequencies of 40000 draws match
 * softmax(logits / T) within 0.01; top-k, top-p and min-p never draw outside their sets and keep the
 * relative frequencies inside; the repetition penalty demotes recent tokens. Logits are made by hand. */
#include "check.h"
#include "model.h"

#define V 256
#define DRAWS 40000

static void softmax(const float *z, float t, double *p) {
    double mx = -1e30, sum = 0;
    for (int i = 0; i < V; i++) mx = z[i] > mx ? z[i] : mx;
    for (int i = 0; i < V; i++) sum += p[i] = exp((z[i] - mx) / t);
    for (int i = 0; i < V; i++) p[i] /= sum;
}

int main(void) {
    /* a model is needed only for its scratch and vocabulary: use a fixture */
    FILE *f = fopen("tests/fixtures/lm/gru-d32-l2.safetensors", "rb");
    CHECK(f != NULL, "fixture missing (run from the repository root)");
    if (!f) return check_report("test-sample");
    static unsigned char buf[1 << 20];
    size_t size = fread(buf, 1, sizeof buf, f);
    fclose(f);
    mg_model *m;
    CHECK(mg_model_load(buf, size, NULL, &m) == MG_OK, "%s", mg_last_error());
    mg_state *s;
    mg_state_create(m, &s);

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
        memset(count, 0, sizeof count);
        for (int i = 0; i < DRAWS; i++) count[mg_sample(m, logits, &sp, s, &rng)]++;
        double worst = 0;
        for (int i = 0; i < V; i++) worst = fmax(worst, fabs((double)count[i] / DRAWS - p[i]));
        CHECK(worst < 0.01, "temperature %.1f: frequencies off by %.4f", temps[ti], worst);
    }

    /* 2. top-k 3: only tokens 10..12, in proportion to their probabilities */
    mg_sampler_params sp = mg_sampler_default_params();
    sp.top_k = 3;
    softmax(logits, 1.0f, p);
    memset(count, 0, sizeof count);
    for (int i = 0; i < DRAWS; i++) count[mg_sample(m, logits, &sp, s, &rng)]++;
    double z3 = p[10] + p[11] + p[12];
    for (int i = 0; i < V; i++) {
        double want = i >= 10 && i <= 12 ? p[i] / z3 : 0;
        CHECK(fabs((double)count[i] / DRAWS - want) < 0.01, "top-k: token %d drawn %d times, want p %.3f", i, count[i], want);
    }

    /* 3. top-p: the smallest prefix of the sorted tokens reaching top_p */
    sp = mg_sampler_default_params();
    sp.top_p = 0.6f;
    double mass = 0;
    int nucleus = 0;
    while (mass < 0.6) mass += p[10 + nucleus++];
    memset(count, 0, sizeof count);
    for (int i = 0; i < DRAWS; i++) count[mg_sample(m, logits, &sp, s, &rng)]++;
    for (int i = 0; i < V; i++)
        if (i < 10 || i >= 10 + nucleus) CHECK(count[i] == 0, "top-p drew token %d outside the nucleus of %d", i, nucleus);
    CHECK(count[10 + nucleus - 1] > 0, "top-p never drew the last nucleus token");

    /* 4. min-p: nothing below min_p * the top probability */
    sp = mg_sampler_default_params();
    sp.min_p = 0.3f;
    memset(count, 0, sizeof count);
    for (int i = 0; i < DRAWS; i++) count[mg_sample(m, logits, &sp, s, &rng)]++;
    for (int i = 0; i < V; i++)
        if (p[i] < 0.3 * p[10]) CHECK(count[i] == 0, "min-p drew token %d (p %.4f < 0.3 * %.4f)", i, p[i], p[10]);

    /* 5. temperature 0 is argmax; a strong repetition penalty on recent tokens moves it */
    sp = mg_sampler_default_params();
    sp.temperature = 0;
    CHECK(mg_sample(m, logits, &sp, s, &rng) == 10, "greedy is not the argmax");
    int32_t recent[2] = {10, 11};
    mg_lm_forward(m, s, recent, 2, NULL, 0); /* the state's recent tokens are now 10, 11 */
    sp.repetition_penalty = 3.0f;
    CHECK(mg_sample(m, logits, &sp, s, &rng) == 12, "the penalty did not demote tokens 10 and 11");
    sp.penalty_window = 1; /* only 11 is recent enough */
    CHECK(mg_sample(m, logits, &sp, s, &rng) == 10, "the penalty window is not respected");

    mg_state_free(s);
    mg_model_free(m);
    return check_report("test-sample");
}
