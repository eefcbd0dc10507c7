/* predict.c — the predictor's search: the most likely continuations of a text, each ending where the caller says
 * (the rest of a word, a line or sentence, a number of tokens).
 *
 * A best-first search over tokens. A node is a continuation so far, with its log-probability and the state after it.
 * Expanding a node reads its whole next-token distribution, p(t) = softmax(logits)[t]:
 *   - a token that ends the continuation (the word ends inside it) gives a final text, whose probability adds up over
 *     the paths that give it (the word "LORD" is LORD followed by a space, a comma, ...: their sum, exactly);
 *   - a token that does not is a candidate: the node extended by it, not stepped yet.
 * The most likely candidate is stepped next (a copy of its parent's state, stepped over its token) and expanded. A
 * continuation is never more likely than its beginning, so once no candidate is more likely than the count-th best
 * final, none can lead to a better one and the search ends: the finals are then the count most likely continuations
 * (where a text has one path, as with bytes; of the candidates each node keeps, its PER_NODE best). It also
 * ends after `budget` steps, the time it may take, with the best found by then.
 *
 * Where a continuation ends is a small automaton over its bytes (WORD_LEAD: no word character yet; WORD_IN: in a
 * word; LINE), run once per token at creation into tables: end[a][t], the bytes of token t kept when a continuation in
 * state a ends inside it (-1: it does not), and to[a][t], the state after it. A suggestion is text, so a path whose
 * bytes are not UTF-8 (a byte-level model can draw any byte) goes no further: utf8[n][t] is the continuation bytes a
 * character still expects after token t when it expected n before it, -1 where t cannot follow so.
 *
 * The cache (mg_predictor_cache): words the text has used, given as continuations with a probability of their own.
 * With weight w, a continuation's probability is (1 - w) p_model + w p_cache, and a candidate is searched in the
 * order of its bound, (1 - w) p_model(so far) + w max p_cache(of the cached words it begins), which no continuation
 * it leads to exceeds: the results are then the count most likely under the mixture, as exactly as without it. Each
 * node keeps the range of the sorted cached words its text begins. */
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
    mg_state **slots;   /* (n_slots) the states of the nodes a search steps */
    int n_slots;
    /* the last results */
    uint8_t *text;      /* their bytes, one after another */
    int *text_off;      /* (n_results + 1) */
    double *prob;       /* (n_results) */
    int n_results;
    /* the cache: its words sorted by their bytes (a word before those it begins) */
    uint8_t *cache_bytes;
    int *cache_off;     /* (n_cache + 1) */
    double *cache_p;    /* (n_cache) */
    int n_cache;
    double cache_weight;
};

mg_predict_params mg_predict_default_params(void) {
    return (mg_predict_params){.count = 3, .until = MG_UNTIL_WORD, .tokens = 1, .max_tokens = 24, .min_chars = 2, .budget = 0};
}

void mg_predictor_free(mg_predictor *p) {
    if (!p) return;
    for (int i = 0; i < p->n_slots; i++) mg_state_free(p->slots[i]);
    free(p->slots);
    free(p->bytes), free(p->off), free(p->end), free(p->to), free(p->utf8);
    free(p->text), free(p->text_off), free(p->prob);
    free(p->cache_bytes), free(p->cache_off), free(p->cache_p);
    free(p);
}

/* Whether word i sorts before word j (by their bytes; a word before those it begins). */
static int before_word(const uint8_t *bytes, const uint32_t *off, uint32_t i, uint32_t j) {
    uint32_t li = off[i + 1] - off[i], lj = off[j + 1] - off[j];
    int c = memcmp(bytes + off[i], bytes + off[j], li < lj ? li : lj);
    return c ? c < 0 : li < lj;
}

/* order[0..n) sorted by the words' bytes: a merge sort through tmp (n) (qsort has no context argument). */
static void sort_words(const uint8_t *bytes, const uint32_t *off, uint32_t *order, uint32_t *tmp, int n) {
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n, i = lo, j = mid, k = lo;
            while (i < mid || j < hi)
                tmp[k++] = j >= hi || (i < mid && !before_word(bytes, off, order[j], order[i])) ? order[i++] : order[j++];
        }
        memcpy(order, tmp, (size_t)n * sizeof *order);
    }
}

int mg_predictor_cache(mg_predictor *p, const uint8_t *bytes, const uint32_t *offsets, const double *prob, int n,
                       double weight) {
    if (!p) return mg_fail(MG_EINVAL, "mg_predictor_cache: NULL predictor");
    if (n < 0 || n > MG_PREDICT_MAX_CACHE || (n && (!bytes || !offsets || !prob)))
        return mg_fail(MG_EINVAL, "mg_predictor_cache: n must be in [0, %d] with its bytes, offsets and probabilities, got %d",
                       MG_PREDICT_MAX_CACHE, n);
    if (!(weight >= 0 && weight < 1)) return mg_fail(MG_EINVAL, "mg_predictor_cache: weight must be in [0, 1), got %g", weight);
    double total = 0;
    for (int i = 0; i < n; i++) {
        if (offsets[i + 1] <= offsets[i] || offsets[i + 1] - offsets[i] > 1024)
            return mg_fail(MG_EINVAL, "mg_predictor_cache: word %d's offsets %u..%u are not a range of 1 to 1024 bytes", i,
                           offsets[i], offsets[i + 1]);
        if (!(prob[i] >= 0 && prob[i] <= 1)) return mg_fail(MG_EINVAL, "mg_predictor_cache: word %d's probability %g is not in [0, 1]", i, prob[i]);
        total += prob[i];
    }
    if (total > 1 + 1e-9) return mg_fail(MG_EINVAL, "mg_predictor_cache: the probabilities sum to %g, more than 1", total);
    size_t n_bytes = n ? offsets[n] - offsets[0] : 0;
    uint8_t *b = malloc(n_bytes + 1);
    int *off = malloc(((size_t)n + 1) * sizeof *off);
    double *pr = malloc(((size_t)n + 1) * sizeof *pr);
    uint32_t *order = malloc(((size_t)n + 1) * 2 * sizeof *order);
    if (!b || !off || !pr || !order) {
        free(b), free(off), free(pr), free(order);
        return mg_fail(MG_ENOMEM, "out of memory for the predictor's cache of %d words", n);
    }
    for (int i = 0; i < n; i++) order[i] = (uint32_t)i;
    sort_words(bytes, offsets, order, order + n + 1, n);
    off[0] = 0;
    for (int i = 0; i < n; i++) {
        uint32_t j = order[i], len = offsets[j + 1] - offsets[j];
        memcpy(b + off[i], bytes + offsets[j], len);
        off[i + 1] = off[i] + (int)len, pr[i] = prob[j];
    }
    free(order);
    free(p->cache_bytes), free(p->cache_off), free(p->cache_p);
    p->cache_bytes = b, p->cache_off = off, p->cache_p = pr, p->n_cache = n, p->cache_weight = n ? weight : 0;
    return MG_OK;
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

/* log sum_t exp(logits[t]) over n */
static double log_sum_exp(const float *logits, int n) {
    float top = logits[0];
    for (int t = 1; t < n; t++) top = logits[t] > top ? logits[t] : top;
    double sum = 0;
    for (int t = 0; t < n; t++) sum += exp((double)logits[t] - top);
    return top + log(sum);
}

enum { PER_NODE = 256 }; /* candidates a node keeps at most: its most likely continuations (all of a byte-level model's) */

typedef struct {
    double logp;
    int depth;       /* tokens */
    int a;           /* the automaton's state after the text */
    int matched;     /* bytes of pending the path has covered */
    int need;        /* continuation bytes its last character still expects */
    int len;         /* the continuation's bytes (after pending) */
    uint8_t *text;   /* (cap) */
    const mg_state *state; /* after the path */
    int lo, hi;      /* the cached words the text begins: [lo, hi) */
    double cmax;     /* the most likely of them (0: none) */
} node;

typedef struct {
    double logp;
    double key;      /* the log of its bound: the most likely any continuation it leads to can be (logp without a cache) */
    int lo, hi;      /* as a node's */
    double cmax;
    int from;        /* the node it extends */
    int32_t token;
    int a, matched, need, skip; /* after the token; skip: its bytes that were pending's */
    int order;       /* of equally likely ones, the first made comes first */
} candidate;

typedef struct {
    double p;        /* the model's probability */
    double score;    /* its probability: with a cache, (1 - w) p + w p_cache */
    int len;
    uint8_t *text;   /* (cap) */
} final;

typedef struct {
    const mg_predict_params *o;
    int cap;         /* bytes of a text */
    final *finals;
    int n_finals, max_finals;
    double threshold; /* log of the count-th best final's score (-inf while there are fewer) */
    const mg_predictor *p; /* its cache */
    double w;         /* the cache's weight (0: none) */
    uint8_t *scratch; /* (cap) a final's text before it is kept */
    candidate *heap; /* the candidates, most likely on top */
    int n_heap, made;
    candidate *kept; /* (PER_NODE) a node's best candidates, as it is expanded */
} search;

/* The log of the bound of a continuation of model log-probability lp whose cached words' best is cmax. */
static double bound(const search *s, double lp, double cmax) {
    return s->w > 0 ? log((1 - s->w) * exp(lp) + s->w * cmax) : lp;
}

/* Where the cached word e stands against the bytes c[0..n) at its offset L (its first L bytes are known to be the
 * prefix's): < 0 before the words that begin with them, 0 one of them, > 0 after. */
static int cmp_cached_at(const mg_predictor *p, int e, int L, const uint8_t *c, int n) {
    int len = p->cache_off[e + 1] - p->cache_off[e] - L, m = len < n ? len : n;
    int r = m > 0 ? memcmp(p->cache_bytes + p->cache_off[e] + L, c, (size_t)m) : 0;
    return r ? r : len < n ? -1 : 0;
}

/* Of the cached words [lo, hi) (all beginning with the same L bytes), those that go on with c[0..n): [*lo2, *hi2),
 * and the most likely of them. */
static double narrow(const mg_predictor *p, int lo, int hi, int L, const uint8_t *c, int n, int *lo2, int *hi2) {
    int a = lo, b = hi;
    while (a < b) { /* the first not before them */
        int mid = (a + b) / 2;
        if (cmp_cached_at(p, mid, L, c, n) < 0) a = mid + 1; else b = mid;
    }
    int e = a;
    b = hi;
    while (a < b) { /* the first after them */
        int mid = (a + b) / 2;
        if (cmp_cached_at(p, mid, L, c, n) <= 0) a = mid + 1; else b = mid;
    }
    double best = 0;
    for (int i = e; i < a; i++) best = p->cache_p[i] > best ? p->cache_p[i] : best;
    *lo2 = e, *hi2 = a;
    return best;
}

/* The cache's probability of the word text[0..len) (0 if it is not cached). */
static double cached_p(const search *s, const uint8_t *text, int len) {
    if (s->w <= 0) return 0;
    int lo, hi;
    narrow(s->p, 0, s->p->n_cache, 0, text, len, &lo, &hi);
    return lo < hi && s->p->cache_off[lo + 1] - s->p->cache_off[lo] == len ? s->p->cache_p[lo] : 0;
}

/* Adds model probability p to the final text a + b (empty ones are not suggestions, nor those under min_chars
 * characters). The finals are kept best first (by score), so the threshold is the count-th's; when they are full, a
 * new one takes the last's place if its score is higher. */
static void add_final(search *s, const uint8_t *a, int n_a, const uint8_t *b, int n_b, double p) {
    int len = n_a + n_b, i = 0, chars = 0;
    for (int j = 0; j < len && chars < s->o->min_chars; j++) chars += ((j < n_a ? a[j] : b[j - n_a]) & 0xc0) != 0x80;
    if (len == 0 || chars < s->o->min_chars) return;
    memcpy(s->scratch, a, (size_t)n_a);
    if (n_b) memcpy(s->scratch + n_a, b, (size_t)n_b);
    while (i < s->n_finals && !(s->finals[i].len == len && !memcmp(s->finals[i].text, s->scratch, (size_t)len))) i++;
    if (i < s->n_finals) {
        s->finals[i].p += p;
        s->finals[i].score += (1 - s->w) * p;
    } else {
        double score = (1 - s->w) * p + s->w * cached_p(s, s->scratch, len);
        if (i == s->max_finals && s->finals[--i].score >= score) return;
        if (i == s->n_finals) s->n_finals++;
        final *f = &s->finals[i];
        memcpy(f->text, s->scratch, (size_t)len);
        f->len = len, f->p = p, f->score = score;
    }
    for (; i > 0 && s->finals[i - 1].score < s->finals[i].score; i--) {
        final t = s->finals[i - 1];
        s->finals[i - 1] = s->finals[i], s->finals[i] = t;
    }
    if (s->n_finals >= s->o->count) s->threshold = log(s->finals[s->o->count - 1].score);
}

/* Inserts c into a node's list of its best candidates (most likely first), n of at most PER_NODE. */
static void keep_candidate(candidate *list, int *n, const candidate *c) {
    if (*n == PER_NODE && list[PER_NODE - 1].key >= c->key) return;
    int i = *n < PER_NODE ? (*n)++ : PER_NODE - 1;
    for (; i > 0 && list[i - 1].key < c->key; i--) list[i] = list[i - 1];
    list[i] = *c;
}

/* The heap of candidates: x above y when its bound is higher, or as high and made first. */
static int above(const candidate *x, const candidate *y) { return x->key > y->key || (x->key == y->key && x->order < y->order); }

static void heap_push(search *s, candidate c) {
    c.order = s->made++;
    int i = s->n_heap++;
    for (; i > 0 && above(&c, &s->heap[(i - 1) / 2]); i = (i - 1) / 2) s->heap[i] = s->heap[(i - 1) / 2];
    s->heap[i] = c;
}

static candidate heap_pop(search *s) {
    candidate top = s->heap[0], last = s->heap[--s->n_heap];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= s->n_heap) break;
        if (c + 1 < s->n_heap && above(&s->heap[c + 1], &s->heap[c])) c++;
        if (!above(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c], i = c;
    }
    if (s->n_heap) s->heap[i] = last;
    return top;
}

/* Reads node `at`'s next-token distribution: its finals, and its best candidates onto the heap. */
static void expand(const mg_predictor *p, search *S, const node *nodes, int at, const uint8_t *pending, int n_pending,
                   int depth_max) {
    const mg_predict_params *o = S->o;
    const node *h = &nodes[at];
    const float *logits = h->state->logits;
    int V = p->V, last = h->depth + 1 == depth_max, n_kept = 0;
    candidate *kept = S->kept;
    double lse = log_sum_exp(logits, p->m->cfg.num_outputs), ends_here = 0; /* the probability that the text ends as it is */
    for (int t = 0; t < V; t++) {
        const uint8_t *b = p->bytes + p->off[t];
        int len = (int)(p->off[t + 1] - p->off[t]), skip = 0, a = h->a, cut; /* cut: the bytes kept where it ends, or -1 */
        if (!len) continue;
        double lp = h->logp + ((double)logits[t] - lse);
        if (h->matched < n_pending) { /* the token must agree with what is pending */
            int need = n_pending - h->matched;
            skip = len < need ? len : need;
            if (memcmp(b, pending + h->matched, (size_t)skip)) continue;
            cut = skip == len || o->until == MG_UNTIL_TOKENS ? -1 : scan(&a, b + skip, len - skip);
        } else {
            cut = o->until == MG_UNTIL_TOKENS ? -1 : p->end[(size_t)a * V + t];
            if (o->until != MG_UNTIL_TOKENS) a = p->to[(size_t)a * V + t];
        }
        if (cut == 0) { /* the text ends as it is (whatever follows the end) */
            ends_here += exp(lp);
            continue;
        }
        if (bound(S, lp, h->cmax) <= S->threshold) continue;
        if (cut > 0) { /* a final within the token */
            if (!utf8_after(h->need, b + skip, cut)) add_final(S, h->text, h->len, b + skip, cut, exp(lp));
            continue;
        }
        int need = skip == len ? h->need : skip ? utf8_after(h->need, b + skip, len - skip) : p->utf8[(size_t)h->need * V + t];
        if (need < 0) continue;
        if (!last) {
            candidate c = {lp, lp, h->lo, h->hi, h->cmax, at, t, a, h->matched + skip, need, skip, 0};
            if (h->cmax > 0 && skip < len) c.cmax = narrow(p, h->lo, h->hi, h->len, b + skip, len - skip, &c.lo, &c.hi);
            c.key = bound(S, lp, c.cmax);
            if (c.key > S->threshold) keep_candidate(kept, &n_kept, &c);
        } else if (h->matched + skip == n_pending) {
            add_final(S, h->text, h->len, b + skip, len - skip, exp(lp)); /* cut short */
        }
    }
    if (ends_here > 0 && !h->need) add_final(S, h->text, h->len, NULL, 0, ends_here);
    for (int i = 0; i < n_kept && kept[i].key > S->threshold; i++) heap_push(S, kept[i]);
}

static int check_params(const mg_predict_params *o) {
    if (o->count < 1 || o->count > MG_PREDICT_MAX_COUNT)
        return mg_fail(MG_EINVAL, "count must be in [1, %d], got %d", MG_PREDICT_MAX_COUNT, o->count);
    if (o->until < MG_UNTIL_WORD || o->until > MG_UNTIL_TOKENS) return mg_fail(MG_EINVAL, "until must be MG_UNTIL_*, got %d", o->until);
    if (o->max_tokens < 1 || o->max_tokens > MG_PREDICT_MAX_TOKENS)
        return mg_fail(MG_EINVAL, "max_tokens must be in [1, %d], got %d", MG_PREDICT_MAX_TOKENS, o->max_tokens);
    if (o->until == MG_UNTIL_TOKENS && (o->tokens < 1 || o->tokens > o->max_tokens))
        return mg_fail(MG_EINVAL, "tokens must be in [1, max_tokens = %d], got %d", o->max_tokens, o->tokens);
    if (o->min_chars < 0 || o->min_chars > 8) return mg_fail(MG_EINVAL, "min_chars must be in [0, 8], got %d", o->min_chars);
    if (o->budget < 0 || o->budget > MG_PREDICT_MAX_BUDGET)
        return mg_fail(MG_EINVAL, "budget must be 0 (the default, %d) or in [1, %d], got %d", MG_PREDICT_DEFAULT_BUDGET,
                       MG_PREDICT_MAX_BUDGET, o->budget);
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
    if (a->score != b->score) return a->score < b->score ? 1 : -1;
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
        p->prob[i] = s->finals[i].score;
    }
    p->n_results = n;
    return MG_OK;
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
    int budget = o->budget ? o->budget : MG_PREDICT_DEFAULT_BUDGET;
    int depth_max = o->until == MG_UNTIL_TOKENS ? o->tokens : o->max_tokens;
    if ((st = grow_slots(p, budget))) return st;

    /* one allocation: the nodes, the candidates, the finals, their texts */
    search S = {.o = o, .cap = n_pending + depth_max * p->max_len, .max_finals = 4 * o->count + 16, .threshold = -INFINITY,
                .p = p, .w = o->until == MG_UNTIL_WORD ? p->cache_weight : 0};
    size_t n_nodes = (size_t)budget + 1, n_cand = (n_nodes + 1) * PER_NODE, texts = (n_nodes + (size_t)S.max_finals + 1) * (size_t)S.cap;
    size_t bytes = n_nodes * sizeof(node) + n_cand * sizeof(candidate) + S.max_finals * sizeof(final) + texts;
    char *arena = malloc(bytes);
    if (!arena) return mg_fail(MG_ENOMEM, "out of memory for the search (%zu bytes)", bytes);
    node *nodes = (node *)arena;
    S.heap = (candidate *)(nodes + n_nodes);
    S.kept = S.heap + n_nodes * PER_NODE;
    S.finals = (final *)(S.heap + n_cand);
    uint8_t *text = (uint8_t *)(S.finals + S.max_finals);
    for (size_t i = 0; i < n_nodes; i++) nodes[i].text = text + i * (size_t)S.cap;
    for (int i = 0; i < S.max_finals; i++) S.finals[i].text = text + (n_nodes + (size_t)i) * (size_t)S.cap;
    S.scratch = text + (n_nodes + (size_t)S.max_finals) * (size_t)S.cap;

    int start = o->until == MG_UNTIL_LINE ? LINE : before >= 0 && word_char(before) ? WORD_IN : WORD_LEAD;
    double cmax = 0;
    for (int i = 0; S.w > 0 && i < p->n_cache; i++) cmax = p->cache_p[i] > cmax ? p->cache_p[i] : cmax;
    nodes[0] = (node){.logp = 0, .depth = 0, .a = start, .matched = 0, .need = 0, .len = 0, .text = nodes[0].text, .state = s,
                      .lo = 0, .hi = S.w > 0 ? p->n_cache : 0, .cmax = cmax};
    expand(p, &S, nodes, 0, pending, n_pending, depth_max);
    /* the most likely candidate next, while one may still lead to a better final */
    for (int n = 1; n <= budget && S.n_heap && S.heap[0].key > S.threshold; n++) {
        candidate c = heap_pop(&S);
        const node *from = &nodes[c.from];
        node *to = &nodes[n];
        int len = (int)(p->off[c.token + 1] - p->off[c.token]) - c.skip;
        mg_state *state = p->slots[n - 1];
        *to = (node){.logp = c.logp, .depth = from->depth + 1, .a = c.a, .matched = c.matched, .need = c.need,
                     .len = from->len + len, .text = to->text, .state = state, .lo = c.lo, .hi = c.hi, .cmax = c.cmax};
        memcpy(to->text, from->text, (size_t)from->len);
        memcpy(to->text + from->len, p->bytes + p->off[c.token] + c.skip, (size_t)len);
        mg_state_copy(state, from->state);
        mg_lm_step(p->m, state, c.token, NULL);
        expand(p, &S, nodes, n, pending, n_pending, depth_max);
    }
    st = keep_results(p, &S);
    free(arena);
    if (st) return st;
    *n_found = p->n_results;
    return MG_OK;
}
