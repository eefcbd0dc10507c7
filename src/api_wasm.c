/* api_wasm.c — the functions exported to JavaScript (js/engine.js calls them all, and nothing else does).
 * Plain ints, doubles and pointers cross the boundary, no 64-bit ints (a seed arrives as two 32-bit halves);
 * a struct crosses as JSON with named fields. Functions return a status; messages come from mg_last_error(),
 * the status's name from mg_strerror(). */
#include <emscripten.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "mingru.h"

EMSCRIPTEN_KEEPALIVE void *mgw_malloc(int bytes) { return bytes > 0 ? malloc((size_t)bytes) : NULL; }
EMSCRIPTEN_KEEPALIVE void mgw_free(void *p) { free(p); }
EMSCRIPTEN_KEEPALIVE const char *mgw_last_error(void) { return mg_last_error(); }
EMSCRIPTEN_KEEPALIVE const char *mgw_strerror(int status) { return mg_strerror(status); }
EMSCRIPTEN_KEEPALIVE int mgw_has_simd(void) { return mg_has_simd(); }

/* A small JSON text, valid until the next call that returns one (JS parses it at once). */
static char json[512];

/* The engine's limits that the JS API checks options against (the same for every model: known before one is read). */
EMSCRIPTEN_KEEPALIVE const char *mgw_limits(void) {
    snprintf(json, sizeof json, "{\"penaltyWindow\":%d,\"forwardBlock\":%d}", MG_MAX_PENALTY_WINDOW, MG_FORWARD_BLOCK);
    return json;
}
/* Bytes of the heap that malloc has handed out and not got back (mallinfo's uordblks): the tests check that it
 * comes back to where it was after load/dispose cycles, aborted calls and long generations. */
EMSCRIPTEN_KEEPALIVE double mgw_heap_used(void) { return (double)mallinfo().uordblks; }
/* The pool's minimum work for running a job on all threads (tests set 0 so that every path runs in parallel). */
EMSCRIPTEN_KEEPALIVE void mgw_set_min_parallel_work(double bytes) { mg_set_min_parallel_work((size_t)bytes); }
EMSCRIPTEN_KEEPALIVE int mgw_dim_inner(int dim, double expansion_factor) { return mg_dim_inner(dim, expansion_factor); }

EMSCRIPTEN_KEEPALIVE int mgw_layer_create(int cell, int dim, double expansion_factor, int kernel, const float *w_in,
                                          const float *w_out, mg_layer **out) {
    mg_layer_params p = mg_layer_default_params();
    p.cell = cell;
    p.dim = dim;
    p.expansion_factor = expansion_factor;
    p.kernel = kernel;
    return mg_layer_create(&p, w_in, w_out, out);
}

EMSCRIPTEN_KEEPALIVE int mgw_layer_init_uniform(mg_layer *l, unsigned seed_lo, unsigned seed_hi) {
    return mg_layer_init_uniform(l, (uint64_t)seed_hi << 32 | seed_lo);
}

EMSCRIPTEN_KEEPALIVE int mgw_layer_get_weights(mg_layer *l, float *w_in, float *w_out) {
    return mg_layer_get_weights(l, w_in, w_out);
}

EMSCRIPTEN_KEEPALIVE int mgw_layer_forward(mg_layer *l, const float *x, int batch, int seq_len, const float *h0,
                                           float *y, float *hidden) {
    return mg_layer_forward(l, x, batch, seq_len, h0, y, hidden);
}

EMSCRIPTEN_KEEPALIVE int mgw_layer_step(mg_layer *l, const float *x, int batch, const float *h0, float *y,
                                        float *hidden) {
    return mg_layer_step(l, x, batch, h0, y, hidden);
}

EMSCRIPTEN_KEEPALIVE void mgw_layer_free(mg_layer *l) { mg_layer_free(l); }

/* ---- language models */

EMSCRIPTEN_KEEPALIVE int mgw_model_load(void *data, int size, int kernel, mg_model **out) {
    mg_model_params p = mg_model_default_params();
    p.kernel = kernel;
    p.take_ownership = 1; /* JS copied the file into a malloc'd buffer and hands it over */
    return mg_model_load(data, (size_t)(unsigned)size, &p, out);
}

/* The config (mg_config) with the names of the JS API's model.config; the identity as 16 hex digits; the
 * tokenizer as __metadata__ "tokenizer" says it. */
EMSCRIPTEN_KEEPALIVE const char *mgw_model_config(const mg_model *m) {
    static const char *const tokenizer_names[] = {"none", "bytes", "tokenizer.json", "sentencepiece"}; /* MG_TOKENIZER_* */
    const mg_config *c = mg_model_config(m);
    snprintf(json, sizeof json,
             "{\"cell\":\"%s\",\"numTokens\":%d,\"dim\":%d,\"depth\":%d,\"expansionFactor\":%.17g,"
             "\"dimInner\":%d,\"ffMult\":%.17g,\"ffInner\":%d,\"convKernelSize\":%d,\"tokenizer\":\"%s\","
             "\"quantized\":%s,\"parameters\":%" PRIu64 ",\"identity\":\"%016" PRIx64 "\",\"numOutputs\":%d,"
             "\"form\":\"%s\",\"cellBias\":%s,\"h0\":\"%s\",\"lstmGates\":\"%s\",\"norm\":\"%s\",\"ff\":\"%s\"}",
             c->cell == MG_CELL_GRU ? "gru" : "lstm", c->num_tokens, c->dim, c->depth, c->expansion_factor,
             c->dim_inner, c->ff_mult, c->ff_inner, c->conv_kernel_size,
             tokenizer_names[c->tokenizer], c->quantized ? "true" : "false", c->n_params,
             c->identity, c->num_outputs, c->form == MG_FORM_MINRNNS ? "minrnns" : "minlm", c->cell_bias ? "true" : "false",
             c->h0_learned ? "learned" : "zeros", c->lstm_sigmoid ? "sigmoid" : "normalized", c->norm_affine ? "affine" : "rms",
             c->ff == MG_FF_GEGLU ? "geglu" : c->ff == MG_FF_NONE ? "none" : "gelu");
    return json;
}

EMSCRIPTEN_KEEPALIVE int mgw_model_meta_count(const mg_model *m) { return mg_model_meta_count(m); }
EMSCRIPTEN_KEEPALIVE const char *mgw_model_meta_key(const mg_model *m, int i) { return mg_model_meta_key(m, i); }
EMSCRIPTEN_KEEPALIVE const char *mgw_model_meta(const mg_model *m, const char *key) { return mg_model_meta(m, key); }
/* The tokenizer file the model file carries: its size (0: none), *bytes its address in the model's own copy of the
 * file (valid until mgw_model_free). */
EMSCRIPTEN_KEEPALIVE int mgw_model_tokenizer(const mg_model *m, const uint8_t **bytes) {
    size_t size = 0;
    return mg_model_tokenizer(m, bytes, &size) ? 0 : (int)size;
}
EMSCRIPTEN_KEEPALIVE int mgw_model_set_threads(mg_model *m, int step_threads, int block_threads) {
    return mg_model_set_threads(m, step_threads, block_threads);
}
EMSCRIPTEN_KEEPALIVE void mgw_model_free(mg_model *m) { mg_model_free(m); }

EMSCRIPTEN_KEEPALIVE int mgw_state_create(const mg_model *m, mg_state **out) { return mg_state_create(m, out); }
EMSCRIPTEN_KEEPALIVE int mgw_state_clone(const mg_state *s, mg_state **out) { return mg_state_clone(s, out); }
EMSCRIPTEN_KEEPALIVE int mgw_state_copy(mg_state *dst, const mg_state *src) { return mg_state_copy(dst, src); }
EMSCRIPTEN_KEEPALIVE int mgw_state_reset(mg_state *s) { return mg_state_reset(s); }
EMSCRIPTEN_KEEPALIVE double mgw_state_tokens(const mg_state *s) { return (double)mg_state_tokens(s); }
EMSCRIPTEN_KEEPALIVE int mgw_state_save_size(const mg_state *s) { return (int)mg_state_save_size(s); }
/* The logits after the state's last token, copied to out [num_outputs]; MG_EINVAL for an empty state. */
EMSCRIPTEN_KEEPALIVE int mgw_state_logits(const mg_state *s, float *out) { return mg_state_copy_logits(s, out); }
EMSCRIPTEN_KEEPALIVE int mgw_state_save(const mg_state *s, void *buf, int size) {
    return mg_state_save(s, buf, (size_t)(unsigned)size);
}
EMSCRIPTEN_KEEPALIVE int mgw_state_load(const mg_model *m, const void *buf, int size, mg_state **out) {
    return mg_state_load(m, buf, (size_t)(unsigned)size, out);
}
EMSCRIPTEN_KEEPALIVE void mgw_state_free(mg_state *s) { mg_state_free(s); }

EMSCRIPTEN_KEEPALIVE int mgw_lm_forward(mg_model *m, mg_state *s, const int32_t *tokens, int n, float *logits, int all) {
    return mg_lm_forward(m, s, tokens, n, logits, all);
}

EMSCRIPTEN_KEEPALIVE int mgw_lm_step(mg_model *m, mg_state *s, int token, float *logits) {
    return mg_lm_step(m, s, token, logits);
}

/* rng: 8 bytes of generator state owned by the caller (advanced). */
EMSCRIPTEN_KEEPALIVE int mgw_lm_generate_next(mg_model *m, mg_state *s, double temperature, int top_k, double top_p,
                                              double min_p, double repetition_penalty, int penalty_window,
                                              uint64_t *rng, int32_t *token) {
    mg_sampler_params p = {(float)temperature, top_k, (float)top_p, (float)min_p, (float)repetition_penalty,
                           penalty_window};
    return mg_lm_generate_next(m, s, &p, rng, token);
}

/* Seeds 8 bytes of generator state from two 32-bit halves. */
EMSCRIPTEN_KEEPALIVE void mgw_rng_seed(uint64_t *rng, unsigned lo, unsigned hi) { *rng = (uint64_t)hi << 32 | lo; }

/* ---- training and writing models */

EMSCRIPTEN_KEEPALIVE int mgw_trainer_create(mg_model *m, double lr, double beta1, double beta2, double eps,
                                            double weight_decay, double clip, double dropout, uint32_t seed,
                                            int top_only, mg_trainer **out) {
    mg_adamw_params p = {(float)lr, (float)beta1, (float)beta2, (float)eps, (float)weight_decay, (float)clip,
                         (float)dropout, seed, top_only};
    return mg_trainer_create(m, &p, out);
}
EMSCRIPTEN_KEEPALIVE int mgw_trainer_set_params(mg_trainer *t, double lr, double beta1, double beta2, double eps,
                                                double weight_decay, double clip, double dropout, uint32_t seed,
                                                int top_only) {
    mg_adamw_params p = {(float)lr, (float)beta1, (float)beta2, (float)eps, (float)weight_decay, (float)clip,
                         (float)dropout, seed, top_only};
    return mg_trainer_set_params(t, &p);
}
EMSCRIPTEN_KEEPALIVE int mgw_trainer_step(mg_trainer *t, const int32_t *tokens, int batch, int seq_len, float *loss) {
    return mg_trainer_step(t, tokens, batch, seq_len, loss);
}
EMSCRIPTEN_KEEPALIVE double mgw_trainer_grad_norm(const mg_trainer *t) { return mg_trainer_grad_norm(t); }
EMSCRIPTEN_KEEPALIVE void mgw_trainer_free(mg_trainer *t) { mg_trainer_free(t); }

/* kv: n_kv key/value string pairs; out: 8 bytes receiving the file's pointer and size (free the file with mgw_free). */
EMSCRIPTEN_KEEPALIVE int mgw_model_save(const mg_model *m, int dtype, const char *const *kv, int n_kv, uint32_t *out) {
    uint8_t *file;
    size_t size;
    int st = mg_model_save(m, dtype, kv, n_kv, &file, &size);
    if (!st) out[0] = (uint32_t)(uintptr_t)file, out[1] = (uint32_t)size;
    return st;
}

EMSCRIPTEN_KEEPALIVE int mgw_model_create(int cell, int num_tokens, int dim, int depth, double expansion_factor,
                                          double ff_mult, int conv_kernel_size, unsigned seed_lo, unsigned seed_hi,
                                          int kernel, mg_model **out) {
    mg_create_params p = {cell, num_tokens, dim, depth, expansion_factor, ff_mult, conv_kernel_size,
                          (uint64_t)seed_hi << 32 | seed_lo};
    mg_model_params mp = mg_model_default_params();
    mp.kernel = kernel;
    return mg_model_create(&p, &mp, out);
}

/* ---- arithmetic coding: input NULL makes an encoder */

EMSCRIPTEN_KEEPALIVE int mgw_coder_create(mg_model *m, const uint8_t *input, int n, mg_coder **out) {
    return mg_coder_create(m, input, (size_t)n, out);
}
EMSCRIPTEN_KEEPALIVE int mgw_coder_encode(mg_coder *c, mg_state *s, const int32_t *tokens, int n) {
    return mg_coder_encode(c, s, tokens, n);
}
EMSCRIPTEN_KEEPALIVE int mgw_coder_decode(mg_coder *c, mg_state *s, int32_t *tokens, int n) {
    return mg_coder_decode(c, s, tokens, n);
}
EMSCRIPTEN_KEEPALIVE int mgw_coder_read(mg_coder *c, mg_state *s, const int32_t *tokens, int n) {
    return mg_coder_read(c, s, tokens, n);
}
EMSCRIPTEN_KEEPALIVE int mgw_coder_remember(mg_coder *c, const int32_t *tokens, int n) {
    return mg_coder_remember(c, tokens, n);
}
EMSCRIPTEN_KEEPALIVE int mgw_coder_set_learner(mg_coder *c, mg_trainer *t) { return mg_coder_set_learner(c, t); }
EMSCRIPTEN_KEEPALIVE int mgw_coder_learn(mg_coder *c, float *loss) { return mg_coder_learn(c, loss); }
/* out: 8 bytes receiving the coded bytes' pointer (the coder's) and size. */
EMSCRIPTEN_KEEPALIVE int mgw_coder_finish(mg_coder *c, uint32_t *out) {
    const uint8_t *p;
    size_t size;
    int st = mg_coder_finish(c, &p, &size);
    if (!st) out[0] = (uint32_t)(uintptr_t)p, out[1] = (uint32_t)size;
    return st;
}
EMSCRIPTEN_KEEPALIVE void mgw_coder_free(mg_coder *c) { mg_coder_free(c); }

/* ---- predictive text: a predictor of the model, given its tokens' bytes (NULL for the byte-level tokenizer) */

EMSCRIPTEN_KEEPALIVE int mgw_predictor_create(mg_model *m, const uint8_t *bytes, const uint32_t *offsets, int n,
                                              mg_predictor **out) {
    return mg_predictor_create(m, bytes, offsets, n, out);
}
/* The search (mingru.h's mg_predict); *n_found results, then read one by one with mgw_predictor_result. */
EMSCRIPTEN_KEEPALIVE int mgw_predict(mg_predictor *p, const mg_state *s, const uint8_t *pending, int n_pending, int before,
                                     int count, int until, int tokens, int max_tokens, int min_chars, int budget,
                                     int *n_found) {
    mg_predict_params o = {count, until, tokens, max_tokens, min_chars, budget};
    return mg_predict(p, s, pending, n_pending, before, &o, n_found);
}
/* The cache of the searches that follow (mingru.h's mg_predictor_cache). */
EMSCRIPTEN_KEEPALIVE int mgw_predictor_cache(mg_predictor *p, const uint8_t *bytes, const uint32_t *offsets, const double *prob,
                                             int n, double weight) {
    return mg_predictor_cache(p, bytes, offsets, prob, n, weight);
}
/* out: 8 bytes receiving result i's text pointer (the predictor's) and length; returns its probability (-1: no such). */
EMSCRIPTEN_KEEPALIVE double mgw_predictor_result(const mg_predictor *p, int i, uint32_t *out) {
    const uint8_t *text;
    int len;
    double prob;
    if (mg_predictor_result(p, i, &text, &len, &prob)) return -1;
    out[0] = (uint32_t)(uintptr_t)text, out[1] = (uint32_t)len;
    return prob;
}
EMSCRIPTEN_KEEPALIVE void mgw_predictor_free(mg_predictor *p) { mg_predictor_free(p); }

/* ---- threads */

EMSCRIPTEN_KEEPALIVE int mgw_set_threads(int n) { return mg_set_threads(n); }
