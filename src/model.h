/* model.h — the language model's structs, shared by the loader (model.c), the states (state.c) and the passes
 * (lm.c). A reader sees every buffer a forward pass touches here. */
#ifndef MINGRU_MODEL_H
#define MINGRU_MODEL_H

#include "internal.h"
#include "safetensors.h"

/* Tokens per block of a prefill: forward runs the parallel scan over blocks of this many tokens, carrying
 * the state between blocks, so its scratch does not grow with the prompt. */
#define MG_BLOCK 128
/* Recent tokens a state remembers for the repetition penalty. */
#define MG_RECENT MG_MAX_PENALTY_WINDOW

/* ---- the model */

typedef struct {
    const float *conv_dw;    /* (D, k)   layers.i.0.net.0.weight, depthwise taps */
    const float *conv_dw_b;  /* (D) */
    mg_matrix conv_pw;       /* (D, D)   layers.i.0.net.1.weight, pointwise */
    const float *conv_pw_b;  /* (D) */
    const float *norm1;      /* (D)      layers.i.1.weight */
    mg_cell cell;            /* layers.i.2: w_in (G*Di, D), w_out (D, Di) */
    const float *norm2;      /* (D)      layers.i.3.weight */
    mg_matrix ff1;           /* (F, D)   layers.i.4.0.weight */
    const float *ff1_b;      /* (F) */
    mg_matrix ff2;           /* (D, F)   layers.i.4.2.weight */
    const float *ff2_b;      /* (D) */
} mg_lm_layer;

/* Memory reused by every layer and every call (allocated once, at load). */
typedef struct {
    float *x;        /* (BLOCK, D) the residual stream */
    float *xn;       /* (BLOCK, D) normed input of a sublayer */
    float *y;        /* (BLOCK, D) a sublayer's output */
    float *window;   /* (BLOCK + k - 1, D) the conv's input with the previous k-1 rows before it */
    float *hidden;   /* (BLOCK, F) the feed-forward's inner activations */
    float *cell;     /* mg_cell_scratch(BLOCK) */
    float *probs;    /* (V) sampling */
    int *order;      /* (V) sampling */
} mg_scratch;

struct mg_model {
    mg_config cfg;
    mg_kernels kernels;
    mg_matrix token_emb;     /* (V, D) */
    mg_lm_layer *layers;     /* (depth) */
    const float *norm;       /* (D) */
    mg_matrix to_logits;     /* (V, D) */
    mg_scratch scratch;
    mg_safetensors st;       /* the table of contents, for metadata */
    void **owned;            /* buffers converted at load (F16/BF16, unaligned F32), freed with the model */
    int n_owned;
    const void *data;        /* the file, freed with the model if owns_data */
    int owns_data;
};

/* The recurrent state of one sequence. */
struct mg_state {
    const mg_model *model;
    float *floats;           /* one buffer holding h, conv and logits (n_state_floats of the model) */
    float *h;                /* (depth, Di) hidden state of every cell */
    float *conv;             /* (depth, k-1, D) the last k-1 conv inputs of every layer, oldest first */
    float *logits;           /* (V) after the last token, valid when n_tokens > 0 */
    int32_t recent[MG_RECENT]; /* the last tokens, a ring: recent[(n_tokens - 1) % MG_RECENT] is the newest */
    uint64_t n_tokens;
};


#endif
