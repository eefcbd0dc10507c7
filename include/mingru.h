/*
 * mingru.h — the one public header of the mingru engine.
 *
 * minGRU and minLSTM recurrent layers ("Were RNNs All We Needed?", Feng et al., 2024) in float32,
 * with the same weight layout as the PyTorch package minGRU-pytorch.
 *
 * Usage:
 *
 *   mg_layer_params p = mg_layer_default_params();
 *   p.cell = MG_CELL_GRU; p.dim = 512; p.expansion_factor = 1.5;
 *   mg_layer *layer;
 *   if (mg_layer_create(&p, w_hidden_gate, w_out, &layer) != MG_OK) puts(mg_last_error());
 *   mg_layer_forward(layer, x, batch, seq_len, NULL, y, h);   // x: [batch, seq_len, dim]
 *   mg_layer_step(layer, x1, batch, h, y1, h);                // one time step, h updated in place
 *   mg_layer_free(layer);
 *
 * Conventions: every function returns an int status (MG_OK = 0, or a negative MG_E... code) and
 * writes results through out-pointers. On failure, mg_last_error() holds a message naming the problem
 * (per thread). The library never prints and never exits. Callers own every buffer they pass in; the
 * library owns what it allocates behind an opaque handle and frees it in the matching _free function.
 */
#ifndef MINGRU_H
#define MINGRU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. */
enum {
    MG_OK = 0,
    MG_EINVAL = -1,   /* an argument is invalid (null pointer, non-positive size, bad option) */
    MG_ENOMEM = -2,   /* an allocation failed */
    MG_ESHAPE = -3,   /* sizes do not fit together (a weight of the wrong shape, a size overflows) */
};

/* Returns a static string naming a status code ("MG_EINVAL", ...). Never NULL. */
const char *mg_strerror(int status);

/* Returns the message of the last failure on this thread (empty if none). Owned by the library,
 * valid until the next call that fails on this thread. */
const char *mg_last_error(void);

/* ---------------------------------------------------------------- matrix kernels */

enum {
    MG_KERNEL_AUTO = 0,       /* the fastest kernel compiled in (wasm SIMD where built with it) */
    MG_KERNEL_REFERENCE = 1,  /* the plain-C reference kernel */
    MG_KERNEL_SIMD = 2,       /* the wasm-SIMD kernel; MG_EINVAL where not compiled with SIMD */
};

/* Returns 1 if the SIMD kernels are compiled in, else 0. */
int mg_has_simd(void);

/* ---------------------------------------------------------------- layers */

enum { MG_CELL_GRU = 0, MG_CELL_LSTM = 1 };

typedef struct {
    int cell;                /* MG_CELL_GRU or MG_CELL_LSTM */
    int dim;                 /* input and output width, > 0 */
    double expansion_factor; /* dim_inner = floor(dim * expansion_factor) >= 1; to_out exists iff != 1 */
    int kernel;              /* MG_KERNEL_* */
    int scan_chunks;         /* time chunks of forward's three-phase scan; 0 = one per thread */
} mg_layer_params;

typedef struct mg_layer mg_layer;

/* Defaults: minGRU, dim 0 (must be set), expansion 1, automatic kernel and scan chunks. */
mg_layer_params mg_layer_default_params(void);

/* Returns floor(dim * expansion_factor) as minGRU-pytorch computes it (int(dim * expansion_factor)
 * in Python doubles), or a negative status if the product is not a positive int. */
int mg_dim_inner(int dim, double expansion_factor);

/* Creates a layer, copying its weights (the layer owns its copy):
 *   w_in:  to_hidden_and_gate.weight [2*dim_inner, dim] (GRU, rows hidden|gate) or
 *          to_hidden_and_f_i_gate.weight [3*dim_inner, dim] (LSTM, rows hidden|f|i);
 *   w_out: to_out.weight [dim, dim_inner]; exists when expansion_factor != 1 (as in minGRU-pytorch).
 *          NULL there gives zero weights; ignored when expansion_factor == 1.
 * A NULL w_in gives zero weights (see mg_layer_init_uniform).
 * Returns MG_OK and sets *out, or MG_EINVAL / MG_ENOMEM / MG_ESHAPE. */
int mg_layer_create(const mg_layer_params *params, const float *w_in, const float *w_out, mg_layer **out);

/* Initialises the weights as PyTorch's nn.Linear does (uniform in +-1/sqrt(fan_in)), from a seeded
 * generator: the same seed gives the same weights on every platform. */
int mg_layer_init_uniform(mg_layer *layer, uint64_t seed);

/* Reports the sizes of a layer. Any out-pointer may be NULL. */
int mg_layer_shape(const mg_layer *layer, int *dim, int *dim_inner, int *cell, int *has_out);

/* Copies the layer's weights out (sizes as in mg_layer_create; w_out ignored when there is no to_out). */
int mg_layer_get_weights(const mg_layer *layer, float *w_in, float *w_out);

/* Whole sequence at once by the chunked scan.
 *   x:           [batch, seq_len, dim]
 *   prev_hidden: [batch, dim_inner], or NULL for a zero state
 *   y:           [batch, seq_len, dim] output
 *   hidden:      [batch, dim_inner] the last hidden state (before to_out), or NULL.
 *                May alias prev_hidden.
 * Allocates scratch of batch * seq_len * 3 * dim_inner floats for the duration of the call. */
int mg_layer_forward(mg_layer *layer, const float *x, int batch, int seq_len, const float *prev_hidden,
                     float *y, float *hidden);

/* One time step.
 *   x: [batch, dim]; prev_hidden: [batch, dim_inner] or NULL; y: [batch, dim];
 *   hidden: [batch, dim_inner] the new hidden state, may alias prev_hidden.
 * Allocates only when batch exceeds every batch seen before on this layer. */
int mg_layer_step(mg_layer *layer, const float *x, int batch, const float *prev_hidden, float *y,
                  float *hidden);

/* Frees a layer (NULL is allowed). */
void mg_layer_free(mg_layer *layer);

#ifdef __cplusplus
}
#endif

#endif /* MINGRU_H */
