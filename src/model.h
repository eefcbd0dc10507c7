/* model.h — the language model's structs, shared by the loader (model.c), the states (state.c) and the passes
 * (lm.c). A reader sees every buffer a forward pass touches here. */
#ifndef MINGRU_MODEL_H
#define MINGRU_MODEL_H

#include "internal.h"
#include "safetensors.h"

/* Tokens per block of a prefill (mingru.h's MG_FORWARD_BLOCK), and recent tokens a state remembers for the
 * repetition penalty (as many as the penalty can look at). */
#define MG_BLOCK MG_FORWARD_BLOCK
#define MG_RECENT MG_MAX_PENALTY_WINDOW

/* ---- the model */

typedef struct {
    const float *conv_dw;    /* (D, k)   layers.i.0.net.0.weight, depthwise taps */
    const float *conv_dw_b;  /* (D) */
    mg_matrix conv_pw;       /* (D, D)   layers.i.0.net.1.weight, pointwise */
    const float *conv_pw_b;  /* (D) */
    const float *norm1;      /* (D)      layers.i.1.weight */
    const float *norm1_b;    /* (D)      layers.i.1.bias (affine norms) */
    mg_cell cell;            /* layers.i.2: w_in (G*Di, D), w_out (D, Di), their biases */
    const float *h0_init;    /* (Di)     layers.i.2.init_hidden_state: h0 = g(it) (h0_learned) */
    const float *norm2;      /* (D)      layers.i.3.weight */
    const float *norm2_b;    /* (D)      layers.i.3.bias (affine norms) */
    mg_matrix ff1;           /* (F, D)   layers.i.4.0.weight; (2F, D) for GEGLU: rows x | gate */
    const float *ff1_b;      /* (F) or (2F) */
    const float *ff_mult_bias; /* (F)    layers.i.4.1.mult_bias (GEGLU) */
    mg_matrix ff2;           /* (D, F)   layers.i.4.2.weight */
    const float *ff2_b;      /* (D) */
} mg_lm_layer;

/* One tensor of the model file, in PyTorch's parameter order (minLM's state_dict order): the one table of names
 * and shapes, used to bind a file's tensors, to initialise a new model, to lay out the training parameters
 * and to save. */
enum { MG_INIT_ONES, MG_INIT_NORMAL, MG_INIT_UNIFORM, MG_INIT_ZEROS }; /* nn.RMSNorm; nn.Embedding N(0, 1); U(+-1/sqrt(fan_in)); 0 */
typedef struct {
    char name[64];
    int ndim;
    uint64_t shape[3];
    size_t count;          /* elements */
    size_t offset;         /* where it starts in m->params */
    int init, fan_in;      /* how mg_model_create initialises it (MG_INIT_*; fan_in for MG_INIT_UNIFORM) */
    int q8;                /* a matrix that a q8 file stores as I8 + scale (all matrices but the conv's taps) */
    mg_matrix *matrix;     /* the view it binds: a matrix ... */
    const float **vector;  /* ... or a vector (norms, biases, the conv's taps) */
    float *packed;         /* training: the matrix laid out for the kernels, refreshed from params (or NULL) */
    int8_t *requant;       /* training part of a Q8 model: the matrix's int8 values, quantized again from params after
                              each change (so the model runs in Q8 still), with their scales and row sums (or NULL) */
    float *requant_scale;
    int32_t *requant_rowsum;
} mg_tensor_slot;

/* Memory reused by every layer and every call (allocated once, at load). */
typedef struct {
    float *x;        /* (BLOCK, D) the residual stream */
    float *xn;       /* (BLOCK, D) normed input of a sublayer */
    float *y;        /* (BLOCK, D) a sublayer's output */
    float *window;   /* (BLOCK + k - 1, D) the conv's input with the previous k-1 rows before it */
    float *hidden;   /* (BLOCK, F) the feed-forward's inner activations */
    float *top_in;   /* (D) the last row that entered the last layer's norm2 (the top's input: mg_coder learns from it) */
    float *head;     /* (MG_TILE_ROWS, V) the logits of the last row's group of rows (lm.c) */
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
    const float *norm_b;     /* (D) affine norms */
    mg_matrix to_logits;     /* (num_outputs, D) */
    mg_scratch scratch;
    mg_tensor_slot *tensors; /* (n_tensors) in PyTorch's order */
    int n_tensors;
    float *params;           /* (n_params) F32 row-major copies of every tensor, in slot order, once trainable */
    size_t trainable_from;   /* the views of the tensors at offsets >= this read params (the rest: their own weights) */
    mg_safetensors st;       /* the table of contents, for metadata */
    void **owned;            /* buffers converted at load (F16/BF16, unaligned F32), freed with the model */
    int n_owned;
    const void *data;        /* the file, freed with the model if owns_data */
    int owns_data;
    int step_threads;        /* 1: steps run on the calling thread alone; 0: on the pool (mg_model_set_threads) */
    int block_threads;       /* the same for mg_lm_forward's blocks of more than one token */
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


/* model.c: `bytes` of memory the model frees with itself (NULL when there is none). */
void *mg_model_own(mg_model *m, size_t bytes);
/* model.c: where the tensor whose view is `view` (a matrix or a vector of the model) starts in m->params. */
size_t mg_model_offset(const mg_model *m, const void *view);
/* params.c: makes the model's weights F32 masters in m->params that training updates (a Q8/F16 model's weights
 * made F32); the views of the tensors at offsets >= from then read them (matrices through packed copies where the
 * kernels pack), the others keep their own (Q8 stays Q8). With from > 0 a Q8 matrix that learns stays Q8 too: its
 * view reads int8 values quantized again from params after each change. 0 = all, all F32. Idempotent; a lower
 * `from` binds more. */
int mg_model_make_trainable(mg_model *m, size_t from);
/* params.c: refreshes the packed and int8 copies after m->params changed. */
void mg_model_params_changed(mg_model *m);
/* tools/convert.py's quantize_rows: scale = max|w[r, :]| / 127 (1 for a zero row), q = clip(rint(w / scale)). */
void mg_quantize_rows(const float *w, int rows, int cols, int8_t *q, float *scale, int32_t *rowsum);
/* A tensor's values as F32, row-major (unpacked, dequantized). */
void mg_tensor_values(const mg_tensor_slot *s, float *out);
/* The model's tensor table for m->cfg (sets up m->layers too). */
int mg_model_list_tensors(mg_model *m);
/* The first feature of the BorealisAI/minRNNs form (docs/format.md) that this model has, or NULL for a minLM. */
const char *mg_model_minrnns_feature(const mg_model *m);

/* train.c: the model a trainer trains, and whether it trains the top alone. */
const mg_model *mg_trainer_model(const mg_trainer *t);
int mg_trainer_top_only(const mg_trainer *t);

/* ---- block.c: the forward pass, one definition for inference (lm.c) and training (train.c), with the pieces'
 * backward passes beside them. Backward functions accumulate (+=) into the gradients they are given. */

/* Working memory of a layer's forward over N = B x T rows. */
typedef struct {
    float *xn, *y;   /* (N, D) a sublayer's normed input, its output */
    float *u;        /* (N, D) the depthwise conv's output (may be xn: it is used up before xn is written) */
    float *window;   /* (T + k - 1, D) one sequence's conv input */
    float *hidden;   /* (N, F), or (N, 2F) for GEGLU: the feed-forward's inner activations */
    float *proj;     /* mg_cell_scratch(N): the cell's projection, gated and scanned in place */
    const float *h0; /* (B, Di) the start state of each sequence when the call gives no state (training), or NULL */
    int out_from;    /* the first row whose output is needed (mg_mix_forward): 0, or in a prefill's last layer the
                      * last row's group of four (lm.c) */
} mg_block_work;

/* What a layer's backward pass needs, kept by its forward (training). */
typedef struct {
    float *x1;       /* (N, D) after the conv: the cell's input before norm1 */
    float *kp;       /* (N, G Di) the cell's projection, before the gates */
    float *x2;       /* (N, D) after the cell: the feed-forward's input before norm2 */
    float *z1;       /* (N, F) or (N, 2F) the feed-forward's first linear layer's output */
    void (*drop)(void *ctx, float *v, size_t n); /* dropout of the feed-forward's output before the residual, or NULL */
    void *drop_ctx;
} mg_block_keep;

/* x = conv(x) + x;  x = cell(norm1(x)) + x, in place over B sequences of T rows of x. With h (B, Di) the cell starts
 * from it and leaves its last state there, and past (B, k-1, D) holds each sequence's conv inputs before x (updated);
 * without them each sequence starts empty (h0: w->h0 or zeros). keep (or NULL) receives the activations. The cell's
 * output (and so x) is computed from row w->out_from on; the state, from every row. */
void mg_mix_forward(const mg_model *m, const mg_lm_layer *L, int B, int T, float *x, float *h, float *past,
                    const mg_block_work *w, const mg_block_keep *keep);
/* x = ff(norm2(x)) + x over N rows, in place (nothing for a model without feed-forward). */
void mg_ff_forward(const mg_model *m, const mg_lm_layer *L, int N, float *x, const mg_block_work *w,
                   const mg_block_keep *keep);
/* logits (N, num_outputs) = to_logits(norm(x)); xn (N, D) is scratch. */
void mg_head_forward(const mg_model *m, int N, const float *x, float *xn, float *logits);

/* What a layer's backward pass writes and its scratch (training). */
typedef struct {
    float *grad;     /* the gradients, in m->params' layout: each piece accumulates (+=) into its tensors' */
    float *dxn;      /* (N, D) */
    float *dhid;     /* (N, F) */
    float *dz;       /* (N, F) or (N, 2F) for GEGLU: the gradient of the feed-forward's first linear layer's output */
    float *dwin;     /* (T + k - 1, D) */
    float *dh0;      /* (B, Di) the start states' gradients (a learned h0) */
    float *work;     /* the largest scratch of mg_cell_backward and the linear layers' backward */
    void (*drop)(void *ctx, float *v, size_t n); /* dropout of the feed-forward's output (its mask on the gradient), or NULL */
    void *drop_ctx;
} mg_block_back;

/* The backward passes of mg_ff_forward, mg_mix_forward and mg_head_forward over the rows they kept: dx holds
 * dL/d(their output) and becomes dL/d(their input); the parameters' gradients go into b->grad. The model's views
 * read the F32 masters (params.c); w gives the forward's scratch (w->h0: the start states the forward used). */
void mg_ff_backward(const mg_model *m, const mg_lm_layer *L, int N, const float *x2, const float *z1, float *dx,
                    const mg_block_work *w, const mg_block_back *b);
void mg_mix_backward(const mg_model *m, const mg_lm_layer *L, int B, int T, const float *xin, const float *x1,
                     const float *kp, float *dx, const mg_block_work *w, const mg_block_back *b);
/* dx = dL/dx for the head's input x from dlogits (N, num_outputs). */
void mg_head_backward(const mg_model *m, int N, const float *x, const float *dlogits, float *dx, const mg_block_work *w,
                      const mg_block_back *b);

void mg_embed(const mg_model *m, const int32_t *tokens, int T, float *x);
void mg_rmsnorm(float *out, const float *x, const float *w, int T, int D);
void mg_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w, int T, int D);
void mg_conv_window(const mg_model *m, const float *past, const float *x, int s, int T, float *win);
void mg_conv_depthwise(const mg_lm_layer *L, int D, int k, const float *win, int T, float *u);
void mg_conv_depthwise_backward(const mg_lm_layer *L, int D, int k, const float *win, int T, const float *du,
                                float *dwin, float *dtaps, float *dbias);
/* Elementwise loops on the pool: mg_elementwise(fn, a, b, out, aux, n) with mg_gelu_grad_range (out = gelu(a),
 * aux = gelu'(a)) or mg_mul_range (out *= a). */
void mg_elementwise(mg_range_fn fn, const float *a, const float *b, float *out, float *aux, size_t n);
void mg_gelu_grad_range(void *c, size_t i0, size_t i1);
void mg_mul_range(void *c, size_t i0, size_t i1);

#endif
