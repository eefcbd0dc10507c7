/* coder.c — arithmetic coding of tokens with a model's probabilities: the core of lm.compress / lm.decompress
 * (js/compress.js holds the file format and the adaptation between segments).
 *
 * Each token is coded with the distribution the model gives it after the tokens before it: the state's logits
 * (mg_lm_step), or a uniform one while the state has read nothing, refined by the match models (match.c) with
 * what followed the same tokens earlier in the prime and the text. The decoder must rebuild every distribution bit
 * for bit, so only computations that are the same on every engine, machine, build and thread count go into it:
 * - the model runs with MG_KERNEL_PORTABLE (no relaxed SIMD: the F32 kernel unfused; Q8 has one arithmetic anyway) for
 *   the duration of each call, and by steps (a step's sums do not depend on how the pool splits the rows);
 * - the logits become integer frequencies here, in wasm arithmetic (IEEE, no fast-math), summing to 2^bits with
 *   every token at least 1, so that any token can be coded;
 * - the coder itself is integers only: a range coder with carry propagation and byte output (LZMA's).
 * The cost over the model's own bits: the frequencies' rounding and the range's truncation, both below 0.01 bit
 * per token at 16 bits of precision, and 5 bytes of flush. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

enum { TOP = 1u << 24 }; /* the range is renormalized to at least this */

struct mg_coder {
    mg_model *m;
    int decoding, bits;
    uint32_t *cum;        /* (V + 1) cumulative frequencies of the current distribution */
    double *p;            /* (V) the current distribution */
    mg_match *match;
    uint64_t low;         /* encoder: the low end, 33 bits with the carry */
    uint32_t range, code; /* code: decoder only */
    uint8_t cache;        /* encoder: the byte held back until its carry is known, and the 0xFF bytes after it */
    uint64_t cache_size;
    uint8_t *buf;         /* encoder: the output; decoder: the input */
    size_t len, cap, pos;
    mg_trainer *learner;  /* learning the top while coding (mg_coder_set_learner), or NULL */
    float *rows;          /* (n_rows, D) the top's input at each step since the learner's last step */
    int32_t *next;        /* (n_rows - 1) the token each row was followed by */
    int n_rows, rows_cap;
};

/* 16 bits of precision, more for vocabularies above 4096 tokens (each token keeps 16 frequencies' worth on
 * average); 22 at most, which the range's 24 bits of resolution allow. */
static int bits_for(int V) {
    int b = 16;
    while (b < 22 && ((size_t)V << 4) > ((size_t)1 << b)) b++;
    return b;
}

int mg_coder_create(mg_model *m, const uint8_t *input, size_t n, mg_coder **out) {
    if (!m || !out || (n && !input)) return mg_fail(MG_EINVAL, "mg_coder_create: NULL argument");
    *out = NULL;
    int V = m->cfg.num_tokens;
    if (m->cfg.num_outputs != V)
        return mg_fail(MG_EINVAL, "the coder needs a model that predicts its next token; this one has %d outputs for %d tokens",
                       m->cfg.num_outputs, V);
    if (((size_t)V << 4) > ((size_t)1 << 22))
        return mg_fail(MG_EINVAL, "the coder takes vocabularies of up to 262144 tokens; this model has %d", V);
    mg_coder *c = calloc(1, sizeof *c);
    if (!c || !(c->cum = malloc(((size_t)V + 1) * sizeof *c->cum)) || !(c->p = malloc((size_t)V * sizeof *c->p))) {
        if (c) free(c->cum);
        free(c);
        return mg_fail(MG_ENOMEM, "out of memory for a coder");
    }
    if (mg_match_create(&c->match)) {
        mg_coder_free(c);
        return MG_ENOMEM;
    }
    c->m = m, c->bits = bits_for(V), c->range = 0xFFFFFFFFu, c->cache_size = 1;
    if (input) {
        c->decoding = 1;
        if (!(c->buf = malloc(n ? n : 1))) {
            mg_coder_free(c);
            return mg_fail(MG_ENOMEM, "out of memory for the coded bytes (%zu)", n);
        }
        memcpy(c->buf, input, n);
        c->len = n;
        for (int i = 0; i < 5; i++) c->code = c->code << 8 | (c->pos < n ? c->buf[c->pos++] : 0);
    }
    *out = c;
    return MG_OK;
}

void mg_coder_free(mg_coder *c) {
    if (!c) return;
    mg_match_free(c->match);
    free(c->cum), free(c->p), free(c->buf), free(c->rows), free(c->next), free(c);
}

/* ---- the distribution */

/* c->cum from the distribution: the softmax of the state's logits (in double; uniform before the first token and
 * for logits that are not all finite), refined by the match models; frequency 1 + floor(p * (2^bits - V)) for
 * each token, what rounding leaves over to the most likely token. */
static void distribution(mg_coder *c, const mg_state *s) {
    int V = c->m->cfg.num_tokens;
    uint32_t total = 1u << c->bits, spare = total - (uint32_t)V;
    const float *z = s->logits;
    float zmax = -INFINITY;
    int finite = s->n_tokens > 0;
    for (int i = 0; finite && i < V; i++) {
        finite = isfinite(z[i]);
        if (z[i] > zmax) zmax = z[i];
    }
    double sum = 0;
    for (int i = 0; i < V; i++) sum += c->p[i] = finite ? exp((double)z[i] - zmax) : 1;
    for (int i = 0; i < V; i++) c->p[i] /= sum;
    mg_match_refine(c->match, c->p, V);
    sum = 0;
    int best = 0;
    for (int i = 0; i < V; i++) {
        sum += c->p[i];
        if (c->p[i] > c->p[best]) best = i;
    }
    uint32_t at = 0;
    for (int i = 0; i < V; i++) {
        c->cum[i] = at;
        at += 1 + (uint32_t)(c->p[i] / sum * spare);
    }
    c->cum[V] = total;
    uint32_t rest = total - at; /* to the most likely token: shift the starts after it */
    for (int i = best + 1; i < V; i++) c->cum[i] += rest;
}

/* ---- the range coder */

static int put(mg_coder *c, uint8_t b) {
    if (c->len == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 4096;
        uint8_t *p = realloc(c->buf, cap);
        if (!p) return mg_fail(MG_ENOMEM, "out of memory for the coded bytes (%zu)", cap);
        c->buf = p, c->cap = cap;
    }
    c->buf[c->len++] = b;
    return MG_OK;
}

/* Moves the top byte of low out: held back while it may still take a carry (0xFF), else written with the
 * 0xFF bytes held after it. */
static int shift_low(mg_coder *c) {
    if ((uint32_t)c->low < 0xFF000000u || (c->low >> 32) != 0) {
        uint8_t carry = (uint8_t)(c->low >> 32), b = c->cache;
        do {
            if (put(c, (uint8_t)(b + carry))) return MG_ENOMEM;
            b = 0xFF;
        } while (--c->cache_size);
        c->cache = (uint8_t)(c->low >> 24);
    }
    c->cache_size++;
    c->low = (c->low & 0x00FFFFFFu) << 8;
    return MG_OK;
}

static int encode_one(mg_coder *c, int t) {
    uint32_t r = c->range >> c->bits;
    c->low += (uint64_t)r * c->cum[t];
    c->range = r * (c->cum[t + 1] - c->cum[t]);
    while (c->range < TOP) {
        c->range <<= 8;
        if (shift_low(c)) return MG_ENOMEM;
    }
    return MG_OK;
}

static int decode_one(mg_coder *c, int V) {
    uint32_t r = c->range >> c->bits;
    uint32_t v = c->code / r, total = 1u << c->bits;
    if (v >= total) v = total - 1; /* only damaged input gets here; the caller's checksum will tell */
    int lo = 0, hi = V - 1;        /* the token t with cum[t] <= v < cum[t + 1] */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (c->cum[mid] <= v) lo = mid;
        else hi = mid - 1;
    }
    c->code -= r * c->cum[lo];
    c->range = r * (c->cum[lo + 1] - c->cum[lo]);
    while (c->range < TOP) {
        c->range <<= 8;
        c->code = c->code << 8 | (c->pos < c->len ? c->buf[c->pos++] : 0);
    }
    return lo;
}

/* ---- learning the top while coding */

/* Room for one more row (before a token is coded: a failure then leaves the coder as it was). */
static int grow_rows(mg_coder *c) {
    if (c->n_rows < c->rows_cap) return MG_OK;
    size_t D = (size_t)c->m->cfg.dim;
    int cap = c->rows_cap ? 2 * c->rows_cap : 256;
    float *rows = (size_t)cap * D <= MG_MAX_FLOATS ? realloc(c->rows, (size_t)cap * D * sizeof(float)) : NULL;
    if (rows) c->rows = rows;
    int32_t *next = rows ? realloc(c->next, (size_t)cap * sizeof(int32_t)) : NULL;
    if (!next) return mg_fail(MG_ENOMEM, "out of memory for the top's rows of %d steps (learn more often)", cap);
    c->next = next, c->rows_cap = cap;
    return MG_OK;
}

/* After the step with `token`: it is what followed the newest row, and the step's own row is the newest now. */
static void keep_row(mg_coder *c, int32_t token) {
    size_t D = (size_t)c->m->cfg.dim;
    if (c->n_rows) c->next[c->n_rows - 1] = token;
    memcpy(c->rows + (size_t)c->n_rows * D, c->m->scratch.top_in, D * sizeof(float));
    c->n_rows++;
}

int mg_coder_set_learner(mg_coder *c, mg_trainer *t) {
    if (!c) return mg_fail(MG_EINVAL, "mg_coder_set_learner: NULL coder");
    if (t && mg_trainer_model(t) != c->m) return mg_fail(MG_EMISMATCH, "the trainer trains another model than the coder's");
    if (t && !mg_trainer_top_only(t)) return mg_fail(MG_EINVAL, "the coder's learner must be a top_only trainer");
    c->learner = t, c->n_rows = 0;
    return MG_OK;
}

int mg_coder_learn(mg_coder *c, float *loss) {
    if (!c || !c->learner) return mg_fail(MG_EINVAL, "mg_coder_learn: a coder with a learner (mg_coder_set_learner) is needed");
    if (loss) *loss = 0.0f;
    if (c->n_rows < 2) return MG_OK;
    mg_kernels kept = c->m->kernels; /* the same arithmetic on both sides, as the steps' */
    mg_kernels_select(MG_KERNEL_PORTABLE, &c->m->kernels);
    int n = c->n_rows - 1, st = mg_trainer_step_top(c->learner, c->rows, c->next, n, loss);
    c->m->kernels = kept;
    if (st) return st;
    size_t D = (size_t)c->m->cfg.dim;
    memmove(c->rows, c->rows + (size_t)n * D, D * sizeof(float)); /* the newest row waits for its next token */
    c->n_rows = 1;
    return MG_OK;
}

/* ---- coding tokens, each followed by a step of the state */

enum { ENCODE, DECODE, READ }; /* READ: steps over known tokens without coding them (a prime) */

static int run(mg_coder *c, mg_state *s, int32_t *tokens, int n, int mode) {
    if (!c || !s || (n && !tokens) || n < 0) return mg_fail(MG_EINVAL, "mg_coder: NULL argument");
    if (mode != READ && c->decoding != (mode == DECODE))
        return mg_fail(MG_EINVAL, "this coder %s", c->decoding ? "decodes; it cannot encode" : "encodes; it cannot decode");
    if (s->model != c->m) return mg_fail(MG_EMISMATCH, "the state belongs to another model than the coder's");
    int V = c->m->cfg.num_tokens;
    mg_kernels kept = c->m->kernels;
    mg_kernels_select(MG_KERNEL_PORTABLE, &c->m->kernels);
    int st = MG_OK;
    for (int i = 0; i < n && !st; i++) {
        if (c->learner && (st = grow_rows(c))) break;
        if (mode == DECODE) {
            distribution(c, s);
            tokens[i] = decode_one(c, V);
        } else if (tokens[i] < 0 || tokens[i] >= V) {
            st = mg_fail(MG_ERANGE, "token %d at %d is not an id in [0, %d)", tokens[i], i, V);
        } else if (mode == ENCODE) {
            distribution(c, s);
            st = encode_one(c, tokens[i]);
        }
        if (!st) st = mg_lm_step(c->m, s, tokens[i], NULL);
        if (!st && c->learner) keep_row(c, tokens[i]);
        if (!st) st = mg_match_add(c->match, tokens[i]);
    }
    c->m->kernels = kept;
    return st;
}

int mg_coder_encode(mg_coder *c, mg_state *s, const int32_t *tokens, int n) {
    return run(c, s, (int32_t *)tokens, n, ENCODE);
}

int mg_coder_decode(mg_coder *c, mg_state *s, int32_t *tokens, int n) { return run(c, s, tokens, n, DECODE); }

int mg_coder_read(mg_coder *c, mg_state *s, const int32_t *tokens, int n) {
    return run(c, s, (int32_t *)tokens, n, READ);
}

int mg_coder_remember(mg_coder *c, const int32_t *tokens, int n) {
    if (!c || (n && !tokens) || n < 0) return mg_fail(MG_EINVAL, "mg_coder_remember: NULL argument");
    int V = c->m->cfg.num_tokens, st = MG_OK;
    for (int i = 0; i < n; i++) /* all checked first: refused whole */
        if (tokens[i] < 0 || tokens[i] >= V) return mg_fail(MG_ERANGE, "token %d at %d is not an id in [0, %d)", tokens[i], i, V);
    for (int i = 0; i < n && !st; i++) st = mg_match_add(c->match, tokens[i]);
    return st;
}

int mg_coder_finish(mg_coder *c, const uint8_t **out, size_t *size) {
    if (!c || !out || !size || c->decoding) return mg_fail(MG_EINVAL, "mg_coder_finish: an encoder and outputs are needed");
    for (int i = 0; i < 5; i++)
        if (shift_low(c)) return MG_ENOMEM;
    *out = c->buf, *size = c->len;
    return MG_OK;
}
