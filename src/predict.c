/* predict.c — the predictor's search: the most likely continuations of a text, each ending where the caller says
 * (the rest of a word, a line or sentence, a number of tokens).
 *
 * A beam search over tokens. Each hypothesis is a continuation so far with its log-probability and its state; at each
 * depth every hypothesis's next-token distribution, p(t) = softmax(logits)[t], is read in full:
 *   - a token that ends the continuation (the word ends inside it) makes a final text, whose probability adds up over
 *     the paths that give it (the word "LORD" is LORD followed by a space, a comma, ...: their sum, exactly);
 *   - a token that does not extends the hypothesis: the `beam` most likely extensions over all hypotheses go on.
 * An extension no more likely than the count-th best final cannot lead to a better one (probabilities only fall along
 * a path), so it is dropped, and the search ends when none is left (or at max_tokens). The extensions' states are
 * copies of their parents' stepped over their tokens together, as one batch (lm.c's mg_lm_step_many): a k-row pass
 * reads the weights once.
 *
 * Where a continuation ends is a small automaton over its bytes (WORD_LEAD: no word character yet; WORD_IN: in a
 * word; LINE), run once per token at creation into tables: end[a][t], the bytes of token t kept when a continuation in
 * state a ends inside it (-1: it does not), and to[a][t], the state after it. A suggestion is text, so a path whose
 * bytes are not UTF-8 (a byte-level model can draw any byte) goes no further: utf8[n][t] is the continuation bytes a
 * character still expects after token t when it expected n before it, -1 where t cannot follow so. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

enum { WORD_LEAD, WORD_IN, LINE, N_AUTOMATA };

static int word_char(int c) {
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '\'';
}

/* Runs automaton state *a over n bytes: the bytes kept where the continuation ends among them, else -1 (and *a is
 * the state after them). */
static int scan(int *a, const uint8_t *b, int n) {
    for (int i = 0; i < n; i++) {
        int c = b[i];
        if (*a == LINE) {
            if (c == '\n') return i;
            if (c == '.' || c == '!' || c == '?') return i + 1;
        } else if (word_char(c)) {
            *a = WORD_IN;
        } else if (*a == WORD_IN || c != ' ') { /* the word's end; or, before it, a byte that is neither it nor a space */
            return i;
        }
    }
    return -1;
}

/* The continuation bytes a character still expects after bytes b[0..n) when it expected `need` before them, or -1 where
 * they are not UTF-8. */
static int utf8_after(int need, const uint8_t *b, int n) {
    for (int i = 0; i < n; i++) {
        int c = b[i];
        if (need) {
            if ((c & 0xc0) != 0x80) return -1;
            need--;
        } else if (c >= 0x80) {
            need = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
            if (need < 0) return -1;
        }
    }
    return need;
}

struct mg_predictor {
    mg_model *m;
    int V;              /* tokens with bytes: [0, V) */
    uint8_t *bytes;     /* token t's bytes: bytes[off[t] .. off[t + 1]) */
    uint32_t *off;      /* (V + 1) */
    int max_len;        /* the longest token's bytes */
    int32_t *end;       /* (N_AUTOMATA, V) bytes of t kept where a continuation in state a ends inside t, or -1 */
    uint8_t *to;        /* (N_AUTOMATA, V) the state after t where it does not */
    int8_t *utf8;       /* (4, V) the continuation bytes a character expects after t, from 0-3 before it (-1: not UTF-8) */
    mg_state **slots;   /* (n_slots) the beams' states, two sets: this depth's and the next's */
    int n_slots;
    /* the last results */
    uint8_t *text;      /* their bytes, one after another */
    int *text_off;      /* (n_results + 1) */
    double *prob;       /* (n_results) */
    int n_results;
};

mg_predict_params mg_predict_default_params(void) {
    return (mg_predict_params){.count = 3, .until = MG_UNTIL_WORD, .tokens = 1, .max_tokens = 24, .beam = 0};
}

void mg_predictor_free(mg_predictor *p) {
    if (!p) return;
    for (int i = 0; i < p->n_slots; i++) mg_state_free(p->slots[i]);
    free(p->slots);
    free(p->bytes), free(p->off), free(p->end), free(p->to), free(p->utf8);
    free(p->text), free(p->text_off), free(p->prob);
    free(p);
}

int mg_predictor_create(mg_model *m, const uint8_t *bytes, const uint32_t *offsets, int n, mg_predictor **out) {
    if (!m || !out) return mg_fail(MG_EINVAL, "mg_predictor_create: model and out must not be NULL");
    const mg_config *c = &m->cfg;
    if (c->num_outputs != c->num_tokens)
        return mg_fail(MG_EINVAL, "this model's %d outputs are not its %d tokens (a task model): it does not predict "
                       "its next token", c->num_outputs, c->num_tokens);
    int byte_level = !bytes && !offsets && n == 0;
    if (byte_level && c->num_tokens != 256)
        return mg_fail(MG_EINVAL, "mg_predictor_create: no token bytes given, and the model has %d tokens, not the 256 "
                       "bytes", c->num_tokens);
    if (!byte_level && (!bytes || !offsets || n < 1 || n > c->num_tokens))
        return mg_fail(MG_EINVAL, "mg_predictor_create: the token bytes must cover 1 to %d tokens, got %d", c->num_tokens, n);
    int V = byte_level ? 256 : n;
    for (int t = 0; !byte_level && t < V; t++)
        if (offsets[t + 1] < offsets[t] || offsets[t + 1] - offsets[t] > 65535)
            return mg_fail(MG_EINVAL, "mg_predictor_create: token %d's offsets %u..%u are not a range of at most 65535 "
                           "bytes", t, offsets[t], offsets[t + 1]);
    size_t n_bytes = byte_level ? 256 : offsets[V] - offsets[0];
    mg_predictor *p = calloc(1, sizeof *p);
    if (!p) return mg_fail(MG_ENOMEM, "out of memory for a predictor");
    p->m = m, p->V = V;
    p->bytes = malloc(n_bytes ? n_bytes : 1);
    p->off = malloc(((size_t)V + 1) * sizeof *p->off);
    p->end = malloc((size_t)N_AUTOMATA * V * sizeof *p->end);
    p->to = malloc((size_t)N_AUTOMATA * V);
    p->utf8 = malloc((size_t)4 * V);
    if (!p->bytes || !p->off || !p->end || !p->to || !p->utf8) {
        mg_predictor_free(p);
        return mg_fail(MG_ENOMEM, "out of memory for a predictor's table of %d tokens", V);
    }
    for (int t = 0; t <= V; t++) p->off[t] = byte_level ? (uint32_t)t : offsets[t] - offsets[0];
    if (byte_level) for (int t = 0; t < 256; t++) p->bytes[t] = (uint8_t)t;
    else memcpy(p->bytes, bytes + offsets[0], n_bytes);
    for (int t = 0; t < V; t++) {
        int len = (int)(p->off[t + 1] - p->off[t]);
        if (len > p->max_len) p->max_len = len;
        for (int a = 0; a < N_AUTOMATA; a++) {
            int s = a;
            p->end[(size_t)a * V + t] = scan(&s, p->bytes + p->off[t], len);
            p->to[(size_t)a * V + t] = (uint8_t)s;
        }
        for (int need = 0; need < 4; need++) p->utf8[(size_t)need * V + t] = (int8_t)utf8_after(need, p->bytes + p->off[t], len);
    }
    *out = p;
    return MG_OK;
}

int mg_predictor_result(const mg_predictor *p, int i, const uint8_t **text, int *len, double *probability) {
    if (!p || !text || !len || !probability) return mg_fail(MG_EINVAL, "mg_predictor_result: NULL argument");
    if (i < 0 || i >= p->n_results) return mg_fail(MG_EINVAL, "mg_predictor_result: %d is not one of the %d results", i, p->n_results);
    *text = p->text + p->text_off[i];
    *len = p->text_off[i + 1] - p->text_off[i];
    *probability = p->prob[i];
    return MG_OK;
}

/* ---- the search */

typedef struct {
    double logp;
    int a;           /* the automaton's state after the text */
    int matched;     /* bytes of pending the path has covered */
    int need;        /* continuation bytes its last character still expects */
    int len;         /* the continuation's bytes (after pending) */
    uint8_t *text;   /* (cap) */
} hyp;

typedef struct {
    double logp;
    int from;        /* the hypothesis it extends */
    int32_t token;
    int a, matched, need, skip; /* after the token; skip: its bytes that were pending's */
} extension;

typedef struct {
    double p;
    int len;
    uint8_t *text;   /* (cap) */
} final;

typedef struct {
    const mg_predict_params *o;
    int cap;         /* bytes of a text */
    final *finals;
    int n_finals, max_finals;
    double threshold; /* log of the count-th best final's probability (-inf while there are fewer) */
} search;

/* Adds probability p to the final text a + b (empty ones are not suggestions). The finals are kept most likely first,
 * so the threshold is the count-th's; when they are full, a new one takes the last's place if it is more likely. */
static void add_final(search *s, const uint8_t *a, int n_a, const uint8_t *b, int n_b, double p) {
    int len = n_a + n_b, i = 0;
    if (len == 0) return;
    while (i < s->n_finals && !(s->finals[i].len == len && !memcmp(s->finals[i].text, a, (size_t)n_a) &&
                                (!n_b || !memcmp(s->finals[i].text + n_a, b, (size_t)n_b))))
        i++;
    if (i < s->n_finals) {
        s->finals[i].p += p;
    } else {
        if (i == s->max_finals && s->finals[--i].p >= p) return;
        if (i == s->n_finals) s->n_finals++;
        final *f = &s->finals[i];
        memcpy(f->text, a, (size_t)n_a);
        if (n_b) memcpy(f->text + n_a, b, (size_t)n_b);
        f->len = len, f->p = p;
    }
    for (; i > 0 && s->finals[i - 1].p < s->finals[i].p; i--) {
        final t = s->finals[i - 1];
        s->finals[i - 1] = s->finals[i], s->finals[i] = t;
    }
    if (s->n_finals >= s->o->count) s->threshold = log(s->finals[s->o->count - 1].p);
}

/* Inserts e into the list of the best extensions (most likely first; of equal ones, the first come), n of at most max. */
static void keep_extension(extension *list, int *n, int max, const extension *e) {
    if (*n == max && list[max - 1].logp >= e->logp) return;
    int i = *n < max ? (*n)++ : max - 1;
    for (; i > 0 && list[i - 1].logp < e->logp; i--) list[i] = list[i - 1];
    list[i] = *e;
}

static int check_params(const mg_predict_params *o) {
    if (o->count < 1 || o->count > MG_PREDICT_MAX_COUNT)
        return mg_fail(MG_EINVAL, "count must be in [1, %d], got %d", MG_PREDICT_MAX_COUNT, o->count);
    if (o->until < MG_UNTIL_WORD || o->until > MG_UNTIL_TOKENS) return mg_fail(MG_EINVAL, "until must be MG_UNTIL_*, got %d", o->until);
    if (o->max_tokens < 1 || o->max_tokens > MG_PREDICT_MAX_TOKENS)
        return mg_fail(MG_EINVAL, "max_tokens must be in [1, %d], got %d", MG_PREDICT_MAX_TOKENS, o->max_tokens);
    if (o->until == MG_UNTIL_TOKENS && (o->tokens < 1 || o->tokens > o->max_tokens))
        return mg_fail(MG_EINVAL, "tokens must be in [1, max_tokens = %d], got %d", o->max_tokens, o->tokens);
    if (o->beam && (o->beam < o->count || o->beam > MG_PREDICT_MAX_BEAM))
        return mg_fail(MG_EINVAL, "beam must be 0 (the default) or in [count = %d, %d], got %d", o->count, MG_PREDICT_MAX_BEAM, o->beam);
    return MG_OK;
}

/* Makes sure the predictor has n states. */
static int grow_slots(mg_predictor *p, int n) {
    if (p->n_slots >= n) return MG_OK;
    mg_state **slots = realloc(p->slots, (size_t)n * sizeof *slots);
    if (!slots) return mg_fail(MG_ENOMEM, "out of memory for the predictor's states");
    p->slots = slots;
    for (; p->n_slots < n; p->n_slots++) {
        int st = mg_state_create(p->m, &p->slots[p->n_slots]);
        if (st) return st;
    }
    return MG_OK;
}

/* Keeps the finals as the results, most likely first (of equal ones, the shorter, then the bytes' order). */
static int cmp_final(const void *x, const void *y) {
    const final *a = x, *b = y;
    if (a->p != b->p) return a->p < b->p ? 1 : -1;
    if (a->len != b->len) return a->len - b->len;
    return memcmp(a->text, b->text, (size_t)a->len);
}

static int keep_results(mg_predictor *p, search *s) {
    qsort(s->finals, (size_t)s->n_finals, sizeof *s->finals, cmp_final);
    int n = s->n_finals < s->o->count ? s->n_finals : s->o->count, total = 0;
    for (int i = 0; i < n; i++) total += s->finals[i].len;
    free(p->text), free(p->text_off), free(p->prob);
    p->text = malloc((size_t)total + 1);
    p->text_off = malloc(((size_t)n + 1) * sizeof *p->text_off);
    p->prob = malloc(((size_t)n + 1) * sizeof *p->prob);
    p->n_results = 0;
    if (!p->text || !p->text_off || !p->prob) return mg_fail(MG_ENOMEM, "out of memory for the predictions");
    p->text_off[0] = 0;
    for (int i = 0; i < n; i++) {
        memcpy(p->text + p->text_off[i], s->finals[i].text, (size_t)s->finals[i].len);
        p->text_off[i + 1] = p->text_off[i] + s->finals[i].len;
        p->prob[i] = s->finals[i].p;
    }
    p->n_results = n;
    return MG_OK;
}

/* log sum_t exp(logits[t]) over n */
static double log_sum_exp(const float *logits, int n) {
    float top = logits[0];
    for (int t = 1; t < n; t++) top = logits[t] > top ? logits[t] : top;
    double sum = 0;
    for (int t = 0; t < n; t++) sum += exp((double)logits[t] - top);
    return top + log(sum);
}

int mg_predict(mg_predictor *p, const mg_state *s, const uint8_t *pending, int n_pending, int before,
               const mg_predict_params *params, int *n_found) {
    if (!p || !s || !params || !n_found || (!pending && n_pending)) return mg_fail(MG_EINVAL, "mg_predict: NULL argument");
    if (s->model != p->m) return mg_fail(MG_EMISMATCH, "mg_predict: the state belongs to another model");
    if (!s->n_tokens) return mg_fail(MG_EINVAL, "mg_predict: the state is empty; it must have read the text");
    if (n_pending < 0 || before < -1 || before > 255)
        return mg_fail(MG_EINVAL, "mg_predict: n_pending must be >= 0 and before a byte or -1, got %d and %d", n_pending, before);
    int st = check_params(params);
    if (st) return st;
    *n_found = 0;
    const mg_predict_params *o = params;
    mg_model *m = p->m;
    int V = p->V, Vo = m->cfg.num_outputs, B = o->beam ? o->beam : o->count > 4 ? o->count : 4;
    int depth_max = o->until == MG_UNTIL_TOKENS ? o->tokens : o->max_tokens;
    if ((st = grow_slots(p, 2 * B))) return st;

    /* one allocation: two sets of hypotheses, the extensions, the finals, their texts, the batch's work */
    search S = {.o = o, .cap = n_pending + depth_max * p->max_len, .max_finals = 4 * o->count + 16, .threshold = -INFINITY};
    size_t work_n = (mg_lm_step_many_work(m, B) + 1) & ~(size_t)1; /* an even count: what follows is 8-byte aligned */
    size_t texts = (size_t)(2 * B + S.max_finals) * (size_t)S.cap;
    size_t bytes = work_n * sizeof(float) + 2 * B * sizeof(hyp) + B * sizeof(extension) + S.max_finals * sizeof(final) +
                   B * sizeof(mg_state *) + B * sizeof(int32_t) + texts;
    char *arena = malloc(bytes);
    if (!arena) return mg_fail(MG_ENOMEM, "out of memory for the search (%zu bytes)", bytes);
    float *work = (float *)arena;
    hyp *cur = (hyp *)(work + work_n), *next = cur + B;
    extension *ext = (extension *)(next + B);
    S.finals = (final *)(ext + B);
    mg_state **batch = (mg_state **)(S.finals + S.max_finals);
    int32_t *tokens = (int32_t *)(batch + B);
    uint8_t *text = (uint8_t *)(tokens + B);
    for (int i = 0; i < B; i++) cur[i].text = text + (size_t)i * S.cap, next[i].text = text + (size_t)(B + i) * S.cap;
    for (int i = 0; i < S.max_finals; i++) S.finals[i].text = text + (size_t)(2 * B + i) * S.cap;
    mg_state **states = p->slots, **next_states = p->slots + B;

    int start = o->until == MG_UNTIL_LINE ? LINE : before >= 0 && word_char(before) ? WORD_IN : WORD_LEAD;
    cur[0] = (hyp){.logp = 0, .a = start, .matched = 0, .need = 0, .len = 0, .text = cur[0].text};
    int n_cur = 1;
    for (int depth = 0; depth < depth_max && n_cur; depth++) {
        int last = depth + 1 == depth_max, n_ext = 0;
        for (int i = 0; i < n_cur; i++) {
            const hyp *h = &cur[i];
            const float *logits = depth ? states[i]->logits : s->logits;
            double lse = log_sum_exp(logits, Vo), ends_here = 0; /* the probability that the text ends as it is */
            for (int t = 0; t < V; t++) {
                const uint8_t *b = p->bytes + p->off[t];
                int len = (int)(p->off[t + 1] - p->off[t]), skip = 0, a = h->a, kept;
                if (!len) continue;
                double lp = h->logp + ((double)logits[t] - lse);
                if (h->matched < n_pending) { /* the token must agree with what is pending */
                    int need = n_pending - h->matched;
                    skip = len < need ? len : need;
                    if (memcmp(b, pending + h->matched, (size_t)skip)) continue;
                    kept = skip == len || o->until == MG_UNTIL_TOKENS ? -1 : scan(&a, b + skip, len - skip);
                } else {
                    kept = o->until == MG_UNTIL_TOKENS ? -1 : p->end[(size_t)a * V + t];
                    if (o->until != MG_UNTIL_TOKENS) a = p->to[(size_t)a * V + t];
                }
                if (kept == 0) { /* (whatever follows the end) */
                    ends_here += exp(lp);
                } else if (lp > S.threshold && kept > 0) {
                    if (!utf8_after(h->need, b + skip, kept)) add_final(&S, h->text, h->len, b + skip, kept, exp(lp));
                } else if (lp > S.threshold) {
                    int need = skip == len ? h->need : skip ? utf8_after(h->need, b + skip, len - skip) : p->utf8[(size_t)h->need * V + t];
                    if (need < 0) continue;
                    if (!last) keep_extension(ext, &n_ext, B, &(extension){lp, i, t, a, h->matched + skip, need, skip});
                    else if (h->matched + skip == n_pending) add_final(&S, h->text, h->len, b + skip, len - skip, exp(lp));
                }
            }
            if (ends_here > 0 && !h->need) add_final(&S, h->text, h->len, NULL, 0, ends_here);
        }
        /* the next depth: the extensions still more likely than the count-th best final, stepped as one batch */
        while (n_ext && ext[n_ext - 1].logp <= S.threshold) n_ext--;
        for (int j = 0; j < n_ext; j++) {
            const extension *e = &ext[j];
            const hyp *h = &cur[e->from];
            int len = (int)(p->off[e->token + 1] - p->off[e->token]) - e->skip;
            next[j].logp = e->logp, next[j].a = e->a, next[j].matched = e->matched, next[j].need = e->need;
            next[j].len = h->len + len;
            memcpy(next[j].text, h->text, (size_t)h->len);
            memcpy(next[j].text + h->len, p->bytes + p->off[e->token] + e->skip, (size_t)len);
            mg_state_copy(next_states[j], depth ? states[e->from] : s);
            batch[j] = next_states[j], tokens[j] = e->token;
        }
        if (n_ext) mg_lm_step_many(m, batch, tokens, n_ext, work);
        hyp *th = cur;
        cur = next, next = th;
        mg_state **ts = states;
        states = next_states, next_states = ts;
        n_cur = n_ext;
    }
    st = keep_results(p, &S);
    free(arena);
    if (st) return st;
    *n_found = p->n_results;
    return MG_OK;
}
