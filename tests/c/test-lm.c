/* Language models in C: every f32 fixture of tests/fixtures/lm/ gives the PyTorch reference's logits
 * (NAME.expected.bin, from tools/lm_fixtures.py) to 1e-4; forward over a prefix then step equals them
 * too; a saved state restores exactly; a cloned state, continued, equals them from where it was cloned; greedy
 * sampling picks the reference's next token; sampling with one seed repeats. */
#include <dirent.h>

#include "check.h"
#include "internal.h"

/* A forward without every row's logits computes the last layer's output for the last row (and its group of four)
 * alone (lm.c): its logits must be the bits of the last row of a forward with every row's, and the state after it
 * the same (a step from each gives the same bits), for every length, in one block and over several. */
static void check_last_row_alone(mg_model *m, const int32_t *fixture, int T) {
    int V = mg_model_config(m)->num_tokens, lengths[80], n_lengths = 0, most = 2 * MG_FORWARD_BLOCK + 7;
    for (int n = 1; n <= 24; n++) lengths[n_lengths++] = n;
    for (int n = MG_FORWARD_BLOCK - 2; n <= MG_FORWARD_BLOCK + 5; n++) lengths[n_lengths++] = n;
    lengths[n_lengths++] = most;
    int32_t *tokens = malloc((size_t)most * sizeof *tokens);
    float *all = malloc((size_t)most * V * sizeof(float)), *last = malloc((size_t)V * sizeof(float));
    float *step_a = malloc((size_t)V * sizeof(float)), *step_b = malloc((size_t)V * sizeof(float));
    for (int i = 0; i < most; i++) tokens[i] = fixture[i % T];
    int bad = 0;
    for (int i = 0; i < n_lengths; i++) {
        int n = lengths[i];
        mg_state *a, *b;
        mg_state_create(m, &a), mg_state_create(m, &b);
        mg_lm_forward(m, a, tokens, n, all, 1);
        mg_lm_forward(m, b, tokens, n, last, 0);
        mg_lm_step(m, a, tokens[n % most], step_a), mg_lm_step(m, b, tokens[n % most], step_b);
        int same = !memcmp(last, all + (size_t)(n - 1) * V, (size_t)V * sizeof(float)) &&
                   !memcmp(step_a, step_b, (size_t)V * sizeof(float));
        if (!same && bad++ < 3) CHECK(0, "%d tokens: the last row alone gives other bits than every row", n);
        mg_state_free(a), mg_state_free(b);
    }
    CHECK(bad == 0, "%d lengths differ", bad);
    free(tokens), free(all), free(last), free(step_a), free(step_b);
}

static void check_case(const char *stem) {
    char path[512];
    size_t size, esize;
    snprintf(path, sizeof path, "tests/fixtures/lm/%s.safetensors", stem);
    unsigned char *file = read_file(path, &size);
    snprintf(path, sizeof path, "tests/fixtures/lm/%s.expected.bin", stem);
    unsigned char *exp = read_file(path, &esize);
    CHECK(file && exp && esize > 16 && !memcmp(exp, "MGLMEXP1", 8), "%s: fixture files missing", stem);
    if (!file || !exp) return;
    uint32_t T, V;
    memcpy(&T, exp + 8, 4);
    memcpy(&V, exp + 12, 4);
    int32_t *tokens = (int32_t *)malloc(T * 4);
    float *want = malloc((size_t)T * V * 4), *got = malloc((size_t)T * V * 4);
    memcpy(tokens, exp + 16, T * 4);
    memcpy(want, exp + 16 + 4 * T, (size_t)T * V * 4);

    mg_model *m;
    int st = mg_model_load(file, size, NULL, &m);
    CHECK(st == MG_OK, "%s: %s", stem, mg_last_error());
    if (st) return;
    CHECK(mg_model_config(m)->num_tokens == (int)V, "%s: vocabulary", stem);
    mg_state *s, *r;
    mg_state_create(m, &s);
    CHECK(mg_lm_forward(m, s, tokens, (int)T, got, 1) == MG_OK, "%s", mg_last_error());
    CHECK(close_ratio(got, want, (size_t)T * V, 1e-4, 1e-4) <= 1, "%s: forward off by %.2fx", stem,
          close_ratio(got, want, (size_t)T * V, 1e-4, 1e-4));

    /* prefix by forward, the rest by step; halfway, save and restore the state, and clone it */
    mg_state_reset(s);
    int split = (int)T / 3, half = (int)T / 2;
    mg_state *c = NULL;
    mg_lm_forward(m, s, tokens, split, got, 1);
    for (int t = split; t < (int)T; t++) {
        if (t == half) {
            size_t n = mg_state_save_size(s);
            unsigned char *bytes = malloc(n);
            CHECK(mg_state_save(s, bytes, n) == MG_OK, "save");
            CHECK(mg_state_load(m, bytes, n, &r) == MG_OK, "load: %s", mg_last_error());
            mg_state_free(s);
            s = r;
            free(bytes);
            CHECK(mg_state_clone(s, &c) == MG_OK, "clone: %s", mg_last_error());
        }
        mg_lm_step(m, s, tokens[t], got + (size_t)t * V);
    }
    CHECK(close_ratio(got, want, (size_t)T * V, 1e-4, 1e-4) <= 1, "%s: forward + step off", stem);

    /* the clone, continued once the original has gone on to the end, gives the reference's logits from there: it
     * copied the state (an empty one would not) and shares nothing with the original */
    CHECK(c && mg_lm_forward(m, c, tokens + half, (int)T - half, got, 1) == MG_OK, "%s: %s", stem, mg_last_error());
    CHECK(close_ratio(got, want + (size_t)half * V, (size_t)(T - half) * V, 1e-4, 1e-4) <= 1, "%s: the clone continued off by %.2fx",
          stem, close_ratio(got, want + (size_t)half * V, (size_t)(T - half) * V, 1e-4, 1e-4));

    /* greedy sampling after the sequence picks the reference's most likely next token (to the 1e-4 the logits
     * carry); the same seed and state give the same tokens */
    const float *last = want + (size_t)(T - 1) * V;
    float top = last[0];
    for (uint32_t i = 1; i < V; i++) top = fmaxf(top, last[i]);
    mg_state *a, *b;
    mg_state_clone(s, &a);
    mg_state_clone(s, &b);
    mg_sampler_params p = mg_sampler_default_params();
    p.temperature = 0;
    uint64_t ra = 99, rb = 99;
    int32_t greedy = -1;
    CHECK(mg_lm_generate_next(m, a, &p, &ra, &greedy) == MG_OK && greedy >= 0 && greedy < (int32_t)V &&
              last[greedy] >= top - 2e-4f * (1 + fabsf(top)), "%s: greedy drew %d (logit %g), the reference's largest is %g",
          stem, greedy, greedy >= 0 && greedy < (int32_t)V ? last[greedy] : NAN, top);
    CHECK(mg_lm_step(m, b, greedy, NULL) == MG_OK, "%s", mg_last_error());
    p = mg_sampler_default_params();
    p.top_k = 40, p.top_p = 0.9f, p.repetition_penalty = 1.2f;
    for (int i = 0; i < 50; i++) {
        int32_t ta = -1, tb = -2;
        CHECK(mg_lm_generate_next(m, a, &p, &ra, &ta) == MG_OK && mg_lm_generate_next(m, b, &p, &rb, &tb) == MG_OK, "generate");
        CHECK(ta == tb && ta >= 0 && ta < (int32_t)V, "%s: sample %d differs: %d vs %d", stem, i, ta, tb);
    }
    check_last_row_alone(m, tokens, (int)T);
    int32_t bad = (int32_t)V;
    CHECK(mg_lm_forward(m, a, &bad, 1, NULL, 0) == MG_ERANGE, "token V accepted");
    mg_state_free(a), mg_state_free(b), mg_state_free(c), mg_state_free(s);
    mg_model_free(m);
    free(file), free(exp), free(tokens), free(want), free(got);
}

int main(void) {
    DIR *d = opendir("tests/fixtures/lm");
    CHECK(d != NULL, "cannot open tests/fixtures/lm (run from the repository root)");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        const char *suffix = ".expected.bin";
        size_t len = strlen(e->d_name), k = strlen(suffix);
        if (len <= k || strcmp(e->d_name + len - k, suffix)) continue;
        char stem[256];
        snprintf(stem, sizeof stem, "%.*s", (int)(len - k), e->d_name);
        check_case(stem);
        n++;
    }
    if (d) closedir(d);
    CHECK(n >= 6, "only %d cases", n);
    printf("%d language-model cases\n", n);
    return check_report("test-lm");
}
