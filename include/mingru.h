/*
 * mingru.h — the one public header of the mingru engine.
 *
 * minGRU and minLSTM recurrent layers ("Were RNNs All We Needed?", Feng et al., 2024) in float32,
 * with the same weight layout as the PyTorch package minGRU-pytorch.
 *
 * Usage, a language model from a .safetensors file (see docs/format.md):
 *
 *   mg_model *m; mg_state *s; float logits[256];
 *   if (mg_model_load(bytes, size, NULL, &m) != MG_OK) puts(mg_last_error());
 *   mg_state_create(m, &s);
 *   mg_lm_forward(m, s, prompt, n_prompt, logits, 0);       // prefill, logits of the last token
 *   mg_lm_step(m, s, next_token, logits);                   // one more token, O(1) time and memory
 *   mg_state_free(s); mg_model_free(m);
 *
 * Usage, one layer:
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

#include <stddef.h>
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
    MG_EBADFILE = -4, /* a model or state file is corrupt, truncated or not of this format */
    MG_ERANGE = -5,   /* a token id is outside [0, num_tokens) */
    MG_EMISMATCH = -6 /* a state belongs to another model */
};

/* Returns a static string naming a status code ("MG_EINVAL", ...). Never NULL. */
const char *mg_strerror(int status);

/* Returns the message of the last failure on this thread (empty if none). Owned by the library,
 * valid until the next call that fails on this thread. */
const char *mg_last_error(void);

/* ---------------------------------------------------------------- matrix kernels */

enum {
    MG_KERNEL_AUTO = 0,       /* the fastest kernel compiled in (the SIMD one where built with it) */
    MG_KERNEL_REFERENCE = 1,  /* the plain-C reference kernel */
    MG_KERNEL_SIMD = 2,       /* the vector kernel (wasm SIMD, or SSE/AVX/NEON natively); MG_EINVAL without */
    MG_KERNEL_PORTABLE = 3,   /* the vector kernel without relaxed SIMD: in wasm, the same bits in every engine, on
                                 every machine, in the plain and relaxed builds and on any thread count (for results
                                 that another machine must reproduce exactly, as a decoder does) */
};

/* Returns 1 if the SIMD kernels are compiled in, else 0. */
int mg_has_simd(void);

/* ---------------------------------------------------------------- threads */

#define MG_MAX_THREADS 16

/* Sets the number of threads of the process-wide pool (the caller counts as one). The workers start
 * here, once, and sleep between jobs. MG_EINVAL where the build has no threads and n != 1. Not to be
 * called while another call into the library runs. */
int mg_set_threads(int n);
int mg_get_threads(void);

/* A job of the pool (a matrix product, the gates, the scan) whose work, about the bytes it reads and writes, is
 * under this minimum runs on the calling thread alone: waking the others would cost about as much as the job.
 * MG_DEFAULT_MIN_PARALLEL_WORK until set; 0 sends every job to every thread (the tests do, so that their small
 * models take every parallel path). Results are the same bits whatever it is (docs/kernels.md); only the speed
 * changes. Process-wide; not to be called while another call into the library runs. */
#define MG_DEFAULT_MIN_PARALLEL_WORK ((size_t)64 << 10)
void mg_set_min_parallel_work(size_t bytes);

/* ---------------------------------------------------------------- layers */

enum { MG_CELL_GRU = 0, MG_CELL_LSTM = 1 };

typedef struct {
    int cell;                /* MG_CELL_GRU or MG_CELL_LSTM */
    int dim;                 /* input and output width, > 0 */
    double expansion_factor; /* dim_inner = floor(dim * expansion_factor) >= 1; to_out exists iff != 1 */
    int kernel;              /* MG_KERNEL_* */
    int scan_chunks;         /* time chunks of forward's three-phase scan; 0 = one (the threads take channels) */
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


/* ---------------------------------------------------------------- language models */

/* The file's __metadata__ "tokenizer": "none", "bytes", or a tokenizer the file carries as its U8 tensor
 * "tokenizer" (docs/format.md): "tokenizer.json" (Hugging Face) or "sentencepiece" (a SentencePiece .model). */
enum { MG_TOKENIZER_NONE = 0, MG_TOKENIZER_BYTES = 1, MG_TOKENIZER_JSON = 2, MG_TOKENIZER_SENTENCEPIECE = 3 };
/* The feed-forward: Linear -> GELU -> Linear (minLM); Linear(D, 2F) -> x * gelu(gate) * mult_bias -> Linear (GEGLU,
 * BorealisAI/minRNNs); none. */
enum { MG_FF_GELU = 0, MG_FF_GEGLU = 1, MG_FF_NONE = 2 };

/* The model's form: minGRU-pytorch's minLM, or the BorealisAI/minRNNs family (docs/format.md), which adds the
 * options of mg_config below (cell biases, a learned h0, sigmoid minLSTM gates, affine norms, GEGLU or no
 * feed-forward, a head of another size, to_out at expansion 1). */
enum { MG_FORM_MINLM = 0, MG_FORM_MINRNNS = 1 };

/* Tokens per pass of mg_lm_forward: a prefill runs in blocks of this many tokens (the matrix products over a block,
 * the state carried between blocks), so its scratch does not grow with the prompt. A caller that feeds a long
 * prompt in pieces (to report progress, to be able to stop) loses nothing with pieces of a multiple of it. */
#define MG_FORWARD_BLOCK 128

/* The configuration of a loaded model (from the file's __metadata__ and tensor shapes). */
typedef struct {
    int cell;                /* MG_CELL_GRU or MG_CELL_LSTM */
    int num_tokens;          /* vocabulary size V */
    int dim;                 /* D */
    int depth;               /* layers */
    double expansion_factor; /* dim_inner = floor(dim * expansion_factor) */
    int dim_inner;           /* Di */
    int has_out;             /* the cell has to_out (expansion_factor != 1, or cell_out "always") */
    double ff_mult;          /* ff_inner = floor(dim * ff_mult) */
    int ff_inner;
    int form;                /* MG_FORM_MINRNNS when any of the options below is not minLM's, else MG_FORM_MINLM */
    /* The BorealisAI/minRNNs form's options (docs/format.md; all 0 for minGRU-pytorch's minLM): */
    int cell_bias;           /* the cell's projections have biases (to_hidden_and_gate.bias, to_out.bias) */
    int h0_learned;          /* h0 = g(init_hidden_state) per layer, else zeros */
    int lstm_sigmoid;        /* minLSTM without coefficient norm: h = sigmoid(f) h + sigmoid(i) g(h~) */
    int norm_affine;         /* norms are x * weight + bias (a folded BatchNorm), not RMSNorm */
    int ff;                  /* MG_FF_GELU, MG_FF_GEGLU or MG_FF_NONE */
    int num_outputs;         /* the head's size (d_out); num_tokens unless the file says otherwise */
    int conv_kernel_size;    /* 0 = no convolution */
    int tokenizer;           /* MG_TOKENIZER_* */
    int quantized;           /* 1 if any weight is int8 */
    uint64_t n_params;       /* parameters (elements of every tensor but the q8 scales) */
    uint64_t identity;       /* a hash of the file's bytes: states are tagged with it */
} mg_config;

typedef struct {
    int kernel;          /* MG_KERNEL_* */
    int take_ownership;  /* 1: the model frees `data` (with free()) in mg_model_free */
} mg_model_params;

typedef struct mg_model mg_model;
typedef struct mg_state mg_state;

mg_model_params mg_model_default_params(void);

/* Loads a model from a .safetensors buffer. Everything is validated before any weight is used (bounds,
 * overlaps, dtypes, shapes against the config, every tensor present, none extra). Aligned F32 tensors are
 * used in place, so `data` must outlive the model (or pass take_ownership); F16/BF16 are converted.
 * The SIMD kernels want F32 weight matrices rearranged (packed) once: with take_ownership that is done in
 * place (the buffer is rewritten, on success only), else into copies (the model then holds its weight
 * matrices twice). Returns MG_OK, or MG_EBADFILE / MG_ESHAPE / MG_ENOMEM with mg_last_error() naming the
 * field or tensor. On failure with take_ownership the data is NOT freed (the caller still owns it).
 * params may be NULL. */
int mg_model_load(const void *data, size_t size, const mg_model_params *params, mg_model **out);

/* The model's configuration. */
const mg_config *mg_model_config(const mg_model *m);

/* A __metadata__ value of the file (e.g. "name"), or NULL if absent. Owned by the model. */
const char *mg_model_meta(const mg_model *m, const char *key);
/* The number of __metadata__ entries, and the key of entry i (NULL when out of range). */
int mg_model_meta_count(const mg_model *m);
const char *mg_model_meta_key(const mg_model *m, int i);

/* The tokenizer file the model file carries (its "tokenizer" tensor: a tokenizer.json or a SentencePiece .model,
 * as config->tokenizer says), exactly as embedded: *bytes points into the model's data (valid while the model
 * lives), *size its length. A model without one (tokenizer "bytes" or "none") gives NULL and 0. Returns MG_OK,
 * or MG_EINVAL for a NULL argument. */
int mg_model_tokenizer(const mg_model *m, const uint8_t **bytes, size_t *size);

/* Where the model's passes run: its steps (passes of one token: mg_lm_step, mg_lm_generate_next, the coder's) and its
 * blocks (mg_lm_forward's blocks of more than one token), each on the calling thread alone (1), whatever the pool's
 * size, or on the pool as its minimum work decides (0, the default). A step of a small model lasts a few hundred
 * microseconds, and in some engines, or on a busy machine, handing its products to the pool costs more than it saves
 * (docs/kernels.md): the JS API measures both at load and sets the faster. Training keeps the pool. The results are
 * the same bits either way. Returns MG_OK, or MG_EINVAL for another value. */
int mg_model_set_threads(mg_model *m, int step_threads, int block_threads);

void mg_model_free(mg_model *m);

/* A sequence's recurrent state: per layer the hidden state and the last kernel-1 conv inputs, and the
 * logits after the last token. Its size does not depend on the sequence length. A state is used with
 * the model that created it; several states may share one model (but calls on one model must not run
 * concurrently: the model holds the scratch buffers). */
int mg_state_create(const mg_model *m, mg_state **out);
int mg_state_clone(const mg_state *s, mg_state **out);
int mg_state_reset(mg_state *s);           /* back to the empty sequence */
int mg_state_copy(mg_state *dst, const mg_state *src); /* same model */
uint64_t mg_state_tokens(const mg_state *s); /* tokens consumed since creation or reset */
void mg_state_free(mg_state *s);

/* Serialises a state: mg_state_save_size() bytes, tagged with the model's identity. */
size_t mg_state_save_size(const mg_state *s);
int mg_state_save(const mg_state *s, void *buf, size_t size);
/* Rebuilds a state saved by mg_state_save; MG_EMISMATCH if it belongs to another model, MG_EBADFILE if
 * it is corrupt. */
int mg_state_load(const mg_model *m, const void *buf, size_t size, mg_state **out);

/* Feeds n tokens (prefill, by the parallel scan in blocks) and leaves the state after them.
 * logits: [n, V] if all_logits, else [V] for the last token (NULL allowed). Tokens are all checked
 * first: MG_ERANGE leaves the state untouched. Never allocates. */
int mg_lm_forward(mg_model *m, mg_state *s, const int32_t *tokens, int n, float *logits, int all_logits);

/* Feeds one token: O(1) time and memory. logits: [V] or NULL. */
int mg_lm_step(mg_model *m, mg_state *s, int32_t token, float *logits);

/* The logits after the state's last token ([num_outputs]), or NULL for an empty state. Owned by the state. */
const float *mg_state_logits(const mg_state *s);
/* The same copied into out [num_outputs]; MG_EINVAL for an empty state (it has no logits yet). */
int mg_state_copy_logits(const mg_state *s, float *out);

/* ---------------------------------------------------------------- sampling */

typedef struct {
    float temperature;        /* 0 = greedy (argmax); else logits / temperature */
    int top_k;                /* keep the k most likely tokens (<= V); 0 = all */
    float top_p;              /* keep the smallest set whose probability reaches top_p; 1 = all */
    float min_p;              /* drop tokens below min_p * the top probability; 0 = none */
    float repetition_penalty; /* > 1 discourages the last penalty_window tokens (CTRL-style); 1 = off */
    int penalty_window;       /* how many recent tokens the penalty looks at (<= MG_MAX_PENALTY_WINDOW) */
} mg_sampler_params;

#define MG_MAX_PENALTY_WINDOW 256

mg_sampler_params mg_sampler_default_params(void);

/* Picks a token from logits[V] (not modified) with params p and the seeded generator *rng (advanced; the same
 * logits, recent tokens, params and rng give the same token on every platform). recent[0..n_recent) are the
 * tokens read so far, oldest first (the penalty looks at the last penalty_window of them; NULL when n_recent is
 * 0). probs [V] and order [V] are the caller's scratch. Returns MG_OK and sets *token, or MG_EINVAL naming a
 * parameter out of range, or MG_ERANGE for a recent token outside [0, V). */
int mg_sample(const float *logits, int V, const int32_t *recent, int n_recent, const mg_sampler_params *p,
              float *probs, int *order, uint64_t *rng, int32_t *token);

/* Samples the next token from the state's logits with a seeded generator (*rng is advanced), then feeds
 * it (mg_lm_step), so the state is always after the returned token. MG_EINVAL for an empty state or
 * bad params. Same model, state, params and rng: same token. */
int mg_lm_generate_next(mg_model *m, mg_state *s, const mg_sampler_params *p, uint64_t *rng, int32_t *token);

/* ---------------------------------------------------------------- training
 *
 * A trainer runs minibatches through the model (the same forward as inference, keeping what the backward pass
 * needs), back-propagates the mean cross-entropy, clips the gradients as torch.nn.utils.clip_grad_norm_ and
 * takes one torch.optim.AdamW step. The model's weights become F32 training weights when the first trainer is
 * created (a Q8 or F16 model is trained from its weights made F32; with top_only only the top's, and a Q8 model
 * keeps running its top in int8, quantized from them after every step); the model runs with the updated weights
 * after every step. */

typedef struct {
    float lr;           /* learning rate, > 0 */
    float beta1, beta2; /* the moments' decay rates, in [0, 1) */
    float eps;          /* added to the square root of the second moment, > 0 */
    float weight_decay; /* decoupled decay of every parameter (AdamW), >= 0 */
    float clip;         /* clip_grad_norm_'s max_norm; 0 = no clipping */
    float dropout;      /* during training, each element of every layer's output is zeroed with this probability
                           and the rest scaled by 1 / (1 - dropout), as nn.Dropout after each layer of minLM's
                           variant with dropout; in [0, 1), 0 = none; inference never drops */
    uint32_t seed;      /* of the dropout masks: a step's masks depend on (seed, steps taken, layer, element) only */
    int top_only;       /* 1: only the top learns (the last layer's feed-forward and its norm, the final norm, the
                           head); the rest is frozen and keeps its weights as loaded, and the backward pass stops
                           below the top. A Q8 model stays Q8: the top's matrices learn as F32 masters and run as
                           int8 values quantized again after each step (the forward pass then runs the int8
                           top and the backward pass its F32 masters: a straight-through estimate, so the
                           gradients are not exactly those of the loss reported). 0: every weight. Fixed when the
                           trainer is made. */
} mg_adamw_params;

typedef struct mg_trainer mg_trainer;

/* torch.optim.AdamW's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.01; clip 0; no dropout. */
mg_adamw_params mg_adamw_default_params(void);

/* Makes m's weights trainable (see above; with top_only, the top's alone) and a trainer with zero moments.
 * MG_ENOMEM when the F32 weights, gradients and moments (4 floats per parameter) do not fit. */
int mg_trainer_create(mg_model *m, const mg_adamw_params *p, mg_trainer **out);
/* Changes the hyperparameters for the next steps (e.g. a learning-rate schedule); the moments stay. */
int mg_trainer_set_params(mg_trainer *t, const mg_adamw_params *p);

/* One training step on `batch` rows of seq_len + 1 tokens (tokens[batch][seq_len + 1]: the inputs are each
 * row's first seq_len, the targets its last seq_len; every row starts from an empty state). *loss (may be NULL)
 * is the mean cross-entropy in nats before the update. Activation memory grows to batch x seq_len on first use:
 * MG_ENOMEM names the figures when it does not fit. MG_ERANGE for a token outside [0, num_tokens). */
int mg_trainer_step(mg_trainer *t, const int32_t *tokens, int batch, int seq_len, float *loss);
/* The same without the update: fills the gradients (mg_trainer_grads) and the loss only. */
int mg_trainer_gradients(mg_trainer *t, const int32_t *tokens, int batch, int seq_len, float *loss);
/* The gradients of the last step or mg_trainer_gradients call (before clipping), laid out as the model's
 * parameters (mg_model_tensor's offsets; with top_only, zero below the top), and their global L2 norm. */
const float *mg_trainer_grads(const mg_trainer *t);
double mg_trainer_grad_norm(const mg_trainer *t);
/* AdamW steps taken. */
long mg_trainer_steps(const mg_trainer *t);
void mg_trainer_free(mg_trainer *t);

/* ---------------------------------------------------------------- arithmetic coding
 * Codes tokens with the model's probabilities: each token with the distribution of the state's logits (uniform
 * while the state is empty), then one step of the state. The decoder, given the same model, state and coded
 * bytes, rebuilds the same tokens: the model runs with MG_KERNEL_PORTABLE meanwhile, so the distributions are
 * the same bits in every engine, build and thread count (docs/compress.md). Adapting the model between calls (a
 * trainer's steps) is allowed, the same on both sides. */
typedef struct mg_coder mg_coder;
/* An encoder (input NULL) or a decoder of the n coded bytes at input (copied). MG_EINVAL for a vocabulary over
 * 262144 tokens. */
int mg_coder_create(mg_model *m, const uint8_t *input, size_t n, mg_coder **out);
/* Codes n tokens after the state, stepping it over each; MG_ERANGE for a token outside [0, num_tokens). */
int mg_coder_encode(mg_coder *c, mg_state *s, const int32_t *tokens, int n);
/* Decodes the next n tokens into tokens[n], stepping the state over each. Damaged input decodes into wrong
 * tokens, never out of bounds: a checksum of the tokens (the caller's) tells. */
int mg_coder_decode(mg_coder *c, mg_state *s, int32_t *tokens, int n);
/* Steps the state over n known tokens (both sides read a prime this way), on the coder's kernels, coding nothing. */
int mg_coder_read(mg_coder *c, mg_state *s, const int32_t *tokens, int n);
/* Adds n known tokens to the match models' history only (the part of a long prime the state does not read);
 * MG_ERANGE, adding none, if one is outside [0, num_tokens). */
int mg_coder_remember(mg_coder *c, const int32_t *tokens, int n);
/* Learning the top while coding: from this call on, the coder keeps the top's input row (what entered the last
 * layer's norm2) of each of its steps (encode, decode, read), and mg_coder_learn has `t` (a top_only trainer of the
 * coder's model: MG_EINVAL and MG_EMISMATCH otherwise) take one AdamW step of the top alone on the rows kept since
 * the last one, each with the token that followed it (the layers below are not run again); the newest row, whose
 * next token is still unknown, is kept for the next. NULL stops it (and drops the rows). */
int mg_coder_set_learner(mg_coder *c, mg_trainer *t);
/* One step of the learner on the rows kept (*loss, may be NULL: their mean cross-entropy, or 0 with fewer
 * than two rows, when nothing is learned). MG_EINVAL without a learner. The learner must outlive the coder (or be
 * unset with NULL first). */
int mg_coder_learn(mg_coder *c, float *loss);
/* Ends the code and gives the coded bytes (owned by the coder: valid until mg_coder_free). */
int mg_coder_finish(mg_coder *c, const uint8_t **out, size_t *size);
void mg_coder_free(mg_coder *c);

/* ---------------------------------------------------------------- predictive text
 * The most likely continuations of a text, found by a best-first search over the model's next-token probabilities
 * (the softmax of its logits; a continuation's probability is the product of its tokens'), within a budget of steps.
 * The state has read the text,
 * but for `pending`: typed bytes it has not read, which every continuation must begin with (a tokenizer's last,
 * unfinished token: the search matches tokens against them; the suggestions leave them out). Where a continuation
 * ends is decided on its bytes, so the predictor holds each token's bytes. Word characters are letters, digits,
 * the apostrophe and every byte >= 0x80 (UTF-8 beyond ASCII). */
enum {
    MG_UNTIL_WORD = 0,   /* the rest of the word the text ends in, up to the first byte that is not a word character
                            (left out); after a byte that is not one, the next word, spaces before it included */
    MG_UNTIL_LINE = 1,   /* up to a newline (left out) or a sentence's end: '.', '!' or '?' (kept) */
    MG_UNTIL_TOKENS = 2, /* a number of tokens */
};
#define MG_PREDICT_MAX_COUNT 16
#define MG_PREDICT_MAX_TOKENS 64
#define MG_PREDICT_MAX_BUDGET 1024
#define MG_PREDICT_DEFAULT_BUDGET 40

typedef struct {
    int count;      /* suggestions wanted, in [1, MG_PREDICT_MAX_COUNT] */
    int until;      /* MG_UNTIL_* */
    int tokens;     /* MG_UNTIL_TOKENS: how many, in [1, max_tokens] */
    int max_tokens; /* no continuation is longer (a word or line still open there ends there), in [1, MG_PREDICT_MAX_TOKENS] */
    int min_chars;  /* shorter suggestions are left out (0 or 1: none; 2: a word's last letter alone, whose acceptance
                       saves no keystroke, is not offered), in [0, 8] */
    int budget;     /* the most tokens the search steps (its time: each is a step of the model), in [1,
                       MG_PREDICT_MAX_BUDGET]; 0: MG_PREDICT_DEFAULT_BUDGET. The results are the count most likely
                       continuations when the search ends within it, else the best it found. */
} mg_predict_params;

typedef struct mg_predictor mg_predictor;

/* count 3, MG_UNTIL_WORD, max_tokens 24, min_chars 2, the default budget. */
mg_predict_params mg_predict_default_params(void);

/* A predictor for model m, given the bytes of its tokens: token t's are bytes[offsets[t] .. offsets[t + 1]) for t < n
 * (n <= num_tokens; tokens without bytes, and those from n on, are never predicted). bytes and offsets NULL with
 * n = 0: the byte-level tokenizer (a 256-token model; token t is byte t). The table is copied. MG_EINVAL for a task
 * model (its outputs are not its tokens) or a table that does not fit. */
int mg_predictor_create(mg_model *m, const uint8_t *bytes, const uint32_t *offsets, int n, mg_predictor **out);

/* Searches the continuations of the text that state s has read, followed by the n_pending bytes `pending`; `before`
 * is the text's last byte (pending's included), -1 for an empty text. s is not changed (the search steps copies of
 * it) and must have read a token. *n_found (<= count) distinct non-empty continuations are then, most likely first,
 * mg_predictor_result's. MG_EINVAL names a parameter out of range. */
int mg_predict(mg_predictor *p, const mg_state *s, const uint8_t *pending, int n_pending, int before,
               const mg_predict_params *params, int *n_found);

/* A cache for the searches that follow (MG_UNTIL_WORD): words the text has used, as the continuations they would
 * be (the rest of the word being typed), word i being bytes[offsets[i] .. offsets[i + 1]) (1 to 1024 bytes) with
 * probability prob[i] (their sum at most 1). A continuation's probability becomes (1 - weight) times the model's plus
 * weight times the cache's (0 for a word not in it), and the results are the count most likely under that mixture,
 * their probabilities its. n = 0 (or weight 0) removes it. Copied; n <= MG_PREDICT_MAX_CACHE, weight in [0, 1). */
#define MG_PREDICT_MAX_CACHE 4096
int mg_predictor_cache(mg_predictor *p, const uint8_t *bytes, const uint32_t *offsets, const double *prob, int n,
                       double weight);

/* Result i of the last mg_predict: its bytes (owned by the predictor, valid until the next mg_predict), their
 * length and its probability. */
int mg_predictor_result(const mg_predictor *p, int i, const uint8_t **text, int *len, double *probability);

void mg_predictor_free(mg_predictor *p);

/* ---------------------------------------------------------------- writing and making models */

enum { MG_DTYPE_F32 = 0, MG_DTYPE_F16 = 1, MG_DTYPE_Q8 = 2 };

/* The model (with its current weights) as a .safetensors file of docs/format.md, in F32, F16 or Q8 (int8 matrices
 * with per-row scales): the bytes the converter (docs/converting.md) writes for the same weights and metadata. kv holds n_kv
 * key/value pairs (kv[2i], kv[2i+1]) that replace or add __metadata__ entries (a NULL value removes one; the
 * structural keys cannot be set). *out is malloc'd: free() it. MG_EINVAL for an F16 save of values beyond its range. */
int mg_model_save(const mg_model *m, int dtype, const char *const *kv, int n_kv, uint8_t **out, size_t *size);

typedef struct {
    int cell;                /* MG_CELL_GRU or MG_CELL_LSTM */
    int num_tokens;          /* vocabulary (256: the bytes tokenizer) */
    int dim, depth;
    double expansion_factor; /* the cells' inner width dim * expansion_factor */
    double ff_mult;          /* the feed-forward's inner width dim * ff_mult */
    int conv_kernel_size;    /* 0: no causal conv */
    uint64_t seed;           /* the same seed, the same weights on every platform */
} mg_create_params;

/* minLM's defaults at dim 256, depth 4: minGRU, 256 tokens, expansion 1.5, ff_mult 4, no conv, seed 0. */
mg_create_params mg_create_default_params(void);
/* A new model initialised as PyTorch initialises minLM (nn.Embedding N(0, 1); nn.Linear / nn.Conv1d weights and
 * biases U(+-1/sqrt(fan_in)); norms 1), from a seeded generator. MG_EINVAL names a parameter out of range. */
int mg_model_create(const mg_create_params *p, const mg_model_params *mp, mg_model **out);

/* The model's tensors in PyTorch's parameter order (minLM's state_dict names): tensor i's name (owned by the
 * model), its dims (shape[0..ndim), up to 3) and its offset in the F32 parameters (mg_model_weights). */
int mg_model_n_tensors(const mg_model *m);
int mg_model_tensor(const mg_model *m, int i, const char **name, int *ndim, uint64_t shape[3], size_t *offset);
/* The F32 parameters (n_params floats, row-major, in tensor order) once the model is trainable, else NULL. A Q8
 * model trained top_only runs its top from these quantized to int8 (and saves what it runs). */
const float *mg_model_weights(const mg_model *m);

#ifdef __cplusplus
}
#endif

#endif /* MINGRU_H */
