/* The predictor (src/predict.c): one token's suggestions are the exact top tokens of the softmax; two tokens' are the
 * most likely of every two-token path, enumerated (of those that can be text); a word's probability is its bytes'
 * times that of a byte that ends it; pending bytes give what reading them gives, divided by their probability; bad
 * parameters get MG_EINVAL naming them; a cache of words mixes in its probabilities, exactly. */
#include <ctype.h>

#include "check.h"
#include "internal.h"

static mg_model *load(const char *path, unsigned char **file) {
    size_t size;
    *file = read_file(path, &size);
    mg_model *m = NULL;
    if (*file && mg_model_load(*file, size, NULL, &m)) m = NULL;
    return m;
}

static void softmax(const float *logits, int V, double *p) {
    double top = logits[0], sum = 0;
    for (int t = 1; t < V; t++) top = logits[t] > top ? logits[t] : top;
    for (int t = 0; t < V; t++) sum += p[t] = exp(logits[t] - top);
    for (int t = 0; t < V; t++) p[t] /= sum;
}

/* Whether n bytes can begin UTF-8 text (a character may be unfinished at the end). */
static int utf8_start(const uint8_t *b, int n) {
    for (int i = 0, need = 0; i < n; i++) {
        if (need) {
            if ((b[i] & 0xc0) != 0x80) return 0;
            need--;
        } else if (b[i] >= 0x80) {
            need = b[i] >= 0xc2 && b[i] <= 0xdf ? 1 : b[i] >= 0xe0 && b[i] <= 0xef ? 2 : b[i] >= 0xf0 && b[i] <= 0xf4 ? 3 : -1;
            if (need < 0) return 0;
        }
    }
    return 1;
}

/* until one or two tokens: the suggestions are the count most likely paths of the full enumeration (of those that can
 * be text) */
static void check_exhaustive(mg_model *m, const char *stem) {
    const int V = 256;
    mg_predictor *p;
    REQUIRE(mg_predictor_create(m, NULL, NULL, 0, &p) == MG_OK, "%s: %s", stem, mg_last_error());
    mg_state *s, *c;
    mg_state_create(m, &s);
    mg_state_create(m, &c);
    int32_t prompt[4] = {'T', 'h', 'e', ' '};
    mg_lm_forward(m, s, prompt, 4, NULL, 0);
    double *p1 = malloc(V * sizeof(double)), *p2 = malloc(V * sizeof(double)), *paths = malloc((size_t)V * V * sizeof(double));
    softmax(mg_state_logits(s), V, p1);
    for (int a = 0; a < V; a++) {
        mg_state_copy(c, s);
        mg_lm_step(m, c, a, NULL);
        softmax(mg_state_logits(c), V, p2);
        for (int b = 0; b < V; b++) paths[a * V + b] = utf8_start((const uint8_t[]){(uint8_t)a, (uint8_t)b}, 2) ? p1[a] * p2[b] : 0;
    }
    for (int a = 0; a < V; a++) p1[a] = utf8_start((const uint8_t[]){(uint8_t)a}, 1) ? p1[a] : 0;
    for (int n = 1; n <= 2; n++) {
        mg_predict_params o = mg_predict_default_params();
        o.until = MG_UNTIL_TOKENS, o.tokens = n, o.count = 5, o.min_chars = 1, o.budget = MG_PREDICT_MAX_BUDGET;
        int found;
        REQUIRE(mg_predict(p, s, NULL, 0, ' ', &o, &found) == MG_OK, "%s: %s", stem, mg_last_error());
        CHECK(found == 5, "%s: %d found", stem, found);
        double previous = 1;
        for (int i = 0; i < found; i++) {
            const uint8_t *text;
            int len;
            double prob;
            mg_predictor_result(p, i, &text, &len, &prob);
            /* the i-th largest of the enumeration */
            double *all = n == 1 ? p1 : paths, best = -1;
            int at = -1, size = n == 1 ? V : V * V;
            for (int j = 0; j < size; j++)
                if (all[j] < previous && all[j] > best) best = all[j], at = j;
            previous = best;
            CHECK(len == n && (n == 1 ? text[0] == at : text[0] == at / V && text[1] == at % V), "%s: %d tokens: result %d is "
                  "not the enumeration's (%d)", stem, n, i, at);
            CHECK(fabs(prob - best) <= 1e-6 * best, "%s: %d tokens: result %d has p %.9g, the enumeration %.9g", stem, n, i, prob, best);
        }
    }
    /* a word: each suggestion is word characters (after spaces, at a boundary); its probability is its bytes' times
     * the probability that a byte that is not a word character follows */
    mg_predict_params o = mg_predict_default_params();
    o.budget = MG_PREDICT_MAX_BUDGET; /* (a random model's likeliest words are of one letter, left out: it looks further) */
    int found;
    REQUIRE(mg_predict(p, s, NULL, 0, ' ', &o, &found) == MG_OK, "%s: %s", stem, mg_last_error());
    CHECK(found == 3, "%s: %d words", stem, found);
    for (int i = 0; i < found; i++) {
        const uint8_t *text;
        int len;
        double prob, want = 1;
        mg_predictor_result(p, i, &text, &len, &prob);
        CHECK(len >= 2, "%s: a one-letter completion (min_chars 2)", stem);
        int j = 0;
        while (j < len && text[j] == ' ') j++;
        CHECK(j < len, "%s: a suggestion without a word", stem);
        for (; j < len; j++) CHECK(text[j] >= 0x80 || isalnum(text[j]) || text[j] == '\'', "%s: byte %d in a word", stem, text[j]);
        mg_state_copy(c, s);
        for (j = 0; j < len; j++) {
            softmax(mg_state_logits(c), V, p1);
            want *= p1[text[j]];
            mg_lm_step(m, c, text[j], NULL);
        }
        softmax(mg_state_logits(c), V, p1);
        double ends = 0;
        for (int t = 0; t < V; t++) ends += t >= 0x80 || isalnum(t) || t == '\'' ? 0 : p1[t];
        CHECK(fabs(prob - want * ends) <= 1e-6 * prob, "%s: word %d: p %.9g, its bytes and end give %.9g", stem, i, prob, want * ends);
    }
    free(p1), free(p2), free(paths);
    mg_state_free(s), mg_state_free(c);
    mg_predictor_free(p);
}

/* The bytes given as a table, with a byte pending: the state before it gives the suggestions of the state after it,
 * each times the pending byte's probability */
static void check_pending(mg_model *m, const char *stem) {
    uint8_t bytes[256];
    uint32_t off[257];
    for (int t = 0; t < 256; t++) bytes[t] = (uint8_t)t, off[t] = (uint32_t)t;
    off[256] = 256;
    mg_predictor *p;
    REQUIRE(mg_predictor_create(m, bytes, off, 256, &p) == MG_OK, "%s: %s", stem, mg_last_error());
    mg_state *s, *c;
    mg_state_create(m, &s);
    int32_t prompt[4] = {'T', 'h', 'e', ' '};
    mg_lm_forward(m, s, prompt, 4, NULL, 0);
    mg_state_clone(s, &c);
    mg_lm_step(m, c, 'w', NULL);
    /* "The " with "w" pending gives what "The w" gives, with probabilities divided by p(w) */
    mg_predict_params o = mg_predict_default_params();
    int n1, n2;
    REQUIRE(mg_predict(p, c, NULL, 0, 'w', &o, &n1) == MG_OK, "%s", mg_last_error());
    const uint8_t *t1[3];
    int l1[3];
    double q1[3];
    for (int i = 0; i < n1; i++) mg_predictor_result(p, i, &t1[i], &l1[i], &q1[i]);
    uint8_t copy[3][64];
    for (int i = 0; i < n1; i++) memcpy(copy[i], t1[i], (size_t)l1[i]);
    REQUIRE(mg_predict(p, s, (const uint8_t *)"w", 1, 'w', &o, &n2) == MG_OK, "%s", mg_last_error());
    CHECK(n1 == n2, "%s: %d and %d found", stem, n1, n2);
    double pw[256];
    softmax(mg_state_logits(s), 256, pw);
    for (int i = 0; i < n1 && i < n2; i++) {
        const uint8_t *text;
        int len;
        double prob;
        mg_predictor_result(p, i, &text, &len, &prob);
        CHECK(len == l1[i] && !memcmp(text, copy[i], (size_t)len), "%s: pending: result %d differs", stem, i);
        CHECK(fabs(prob - q1[i] * pw['w']) <= 1e-6 * prob, "%s: pending: p %.9g, want %.9g", stem, prob, q1[i] * pw['w']);
    }
    mg_state_free(s), mg_state_free(c);
    mg_predictor_free(p);
}

/* The model's probability of the word `w` after state s (its bytes', times that of a byte that is not a word's). */
static double word_p(mg_model *m, const mg_state *s, const char *w) {
    double p[256], want = 1, ends = 0;
    mg_state *c;
    mg_state_clone(s, &c);
    for (const char *b = w; *b; b++) {
        softmax(mg_state_logits(c), 256, p);
        want *= p[(uint8_t)*b];
        mg_lm_step(m, c, (uint8_t)*b, NULL);
    }
    softmax(mg_state_logits(c), 256, p);
    for (int t = 0; t < 256; t++) ends += t >= 0x80 || isalnum(t) || t == '\'' ? 0 : p[t];
    mg_state_free(c);
    return want * ends;
}

/* A cache: each suggestion's probability is 0.6 times the model's plus 0.4 times the cache's, most likely first, and
 * every cached word likelier than the last suggestion is one; without it (n = 0) the suggestions are the model's again;
 * bad caches get MG_EINVAL. */
static void check_cache(mg_model *m, const char *stem) {
    mg_predictor *p;
    REQUIRE(mg_predictor_create(m, NULL, NULL, 0, &p) == MG_OK, "%s: %s", stem, mg_last_error());
    mg_state *s;
    mg_state_create(m, &s);
    int32_t prompt[4] = {'T', 'h', 'e', ' '};
    mg_lm_forward(m, s, prompt, 4, NULL, 0);
    mg_predict_params o = mg_predict_default_params();
    o.budget = MG_PREDICT_MAX_BUDGET, o.count = 4;
    const char *words[3] = {"wolf", "word", "ox"};
    const double cp[3] = {0.05, 0.03, 0.02}; /* given out of order: the predictor sorts them */
    uint32_t off[4] = {0, 4, 8, 10};
    REQUIRE(mg_predictor_cache(p, (const uint8_t *)"wolfwordox", off, cp, 3, 0.4) == MG_OK, "%s: %s", stem, mg_last_error());
    int found;
    REQUIRE(mg_predict(p, s, NULL, 0, ' ', &o, &found) == MG_OK, "%s: %s", stem, mg_last_error());
    CHECK(found == 4, "%s: %d found with a cache", stem, found);
    double last = 1;
    for (int i = 0; i < found; i++) {
        const uint8_t *text;
        int len;
        double prob, c = 0;
        mg_predictor_result(p, i, &text, &len, &prob);
        char w[64];
        snprintf(w, sizeof w, "%.*s", len, (const char *)text);
        for (int j = 0; j < 3; j++) c += strcmp(w, words[j]) ? 0 : cp[j];
        double want = 0.6 * word_p(m, s, w) + 0.4 * c;
        CHECK(fabs(prob - want) <= 1e-6 * want, "%s: cache: %s has p %.9g, the mixture %.9g", stem, w, prob, want);
        CHECK(prob <= last, "%s: cache: not most likely first", stem);
        last = prob;
    }
    for (int j = 0; j < 3; j++) {
        double mix = 0.6 * word_p(m, s, words[j]) + 0.4 * cp[j];
        int in = 0;
        for (int i = 0; i < found; i++) {
            const uint8_t *text;
            int len;
            double prob;
            mg_predictor_result(p, i, &text, &len, &prob);
            in |= len == (int)strlen(words[j]) && !memcmp(text, words[j], (size_t)len);
        }
        CHECK(in || mix <= last, "%s: cache: %s (p %.9g) is missing, the last has %.9g", stem, words[j], mix, last);
    }
    /* removed: the model's own */
    int n1, n2;
    REQUIRE(mg_predictor_cache(p, NULL, NULL, NULL, 0, 0.4) == MG_OK, "%s", mg_last_error());
    REQUIRE(mg_predict(p, s, NULL, 0, ' ', &o, &n1) == MG_OK, "%s", mg_last_error());
    mg_predictor *q;
    REQUIRE(mg_predictor_create(m, NULL, NULL, 0, &q) == MG_OK, "%s", mg_last_error());
    REQUIRE(mg_predict(q, s, NULL, 0, ' ', &o, &n2) == MG_OK, "%s", mg_last_error());
    CHECK(n1 == n2, "%s: %d and %d found", stem, n1, n2);
    for (int i = 0; i < n1 && i < n2; i++) {
        const uint8_t *a, *b;
        int la, lb;
        double pa, pb;
        mg_predictor_result(p, i, &a, &la, &pa), mg_predictor_result(q, i, &b, &lb, &pb);
        CHECK(la == lb && !memcmp(a, b, (size_t)la) && pa == pb, "%s: without its cache, result %d differs", stem, i);
    }
    /* bad caches */
    uint32_t empty[2] = {0, 0};
    const double half[2] = {0.5, 0.6};
    CHECK(mg_predictor_cache(p, (const uint8_t *)"a", empty, cp, 1, 0.4) == MG_EINVAL, "an empty word");
    CHECK(mg_predictor_cache(p, (const uint8_t *)"wolfwordox", off, half, 2, 0.4) == MG_EINVAL, "probabilities over 1");
    CHECK(strstr(mg_last_error(), "sum"), "the message says why: %s", mg_last_error());
    CHECK(mg_predictor_cache(p, (const uint8_t *)"wolfwordox", off, cp, 3, 1.0) == MG_EINVAL, "weight 1");
    CHECK(mg_predictor_cache(p, NULL, off, cp, 3, 0.4) == MG_EINVAL, "no bytes");
    CHECK(mg_predictor_cache(p, (const uint8_t *)"wolfwordox", off, cp, MG_PREDICT_MAX_CACHE + 1, 0.4) == MG_EINVAL, "too many");
    mg_state_free(s);
    mg_predictor_free(p), mg_predictor_free(q);
}

static void check_errors(mg_model *m) {
    mg_predictor *p;
    REQUIRE(mg_predictor_create(m, NULL, NULL, 0, &p) == MG_OK, "%s", mg_last_error());
    mg_state *s;
    mg_state_create(m, &s);
    mg_predict_params o = mg_predict_default_params();
    int n;
    CHECK(mg_predict(p, s, NULL, 0, -1, &o, &n) == MG_EINVAL, "an empty state");
    mg_lm_step(m, s, 'a', NULL);
    mg_predict_params bad[6] = {o, o, o, o, o, o};
    bad[0].count = 0, bad[1].until = 7, bad[5].min_chars = 9, bad[2].max_tokens = MG_PREDICT_MAX_TOKENS + 1, bad[3].until = MG_UNTIL_TOKENS;
    bad[3].tokens = 25, bad[4].budget = -1;
    for (int i = 0; i < 6; i++) CHECK(mg_predict(p, s, NULL, 0, 'a', &bad[i], &n) == MG_EINVAL, "bad params %d", i);
    CHECK(strstr(mg_last_error(), "min_chars"), "the message names the parameter: %s", mg_last_error());
    uint32_t off[2] = {0, 1};
    mg_predictor *q;
    CHECK(mg_predictor_create(m, (const uint8_t *)"a", off, 300, &q) == MG_EINVAL, "more tokens than the model's");
    mg_state_free(s);
    mg_predictor_free(p);
}

int main(void) {
    const char *stems[] = {"gru-d32-l2", "gru-d32-l2.q8", "lstm-d16-l2-conv4-e1", "gru-d24-l3-conv3"};
    for (int i = 0; i < 4; i++) {
        char path[256];
        unsigned char *file;
        snprintf(path, sizeof path, "tests/fixtures/lm/%s.safetensors", stems[i]);
        mg_model *m = load(path, &file);
        CHECK(m, "%s: %s", stems[i], mg_last_error());
        if (!m) continue;
        check_exhaustive(m, stems[i]);
        check_pending(m, stems[i]);
        check_cache(m, stems[i]);
        if (i == 0) check_errors(m);
        mg_model_free(m);
        free(file);
    }
    if (check_failures) return fprintf(stderr, "%d checks failed\n", check_failures), 1;
    printf("all checks passed\n");
    return 0;
}
