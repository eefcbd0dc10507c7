/* api_wasm.c — the functions exported to JavaScript. Only plain ints, doubles and pointers cross the
 * boundary: no structs, no 64-bit ints (a seed arrives as two 32-bit halves). Every function returns
 * a status; messages come from mg_last_error(). */
#include <emscripten.h>
#include <stdlib.h>

#include "internal.h"

EMSCRIPTEN_KEEPALIVE void *mgw_malloc(int bytes) { return bytes > 0 ? malloc((size_t)bytes) : NULL; }
EMSCRIPTEN_KEEPALIVE void mgw_free(void *p) { free(p); }
EMSCRIPTEN_KEEPALIVE const char *mgw_last_error(void) { return mg_last_error(); }
EMSCRIPTEN_KEEPALIVE const char *mgw_strerror(int status) { return mg_strerror(status); }
EMSCRIPTEN_KEEPALIVE int mgw_has_simd(void) { return mg_has_simd(); }
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
