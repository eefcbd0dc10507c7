// engine.js — the one boundary into WebAssembly: every call of an export of src/api_wasm.c, every view of the
// heap and every pointer lives here, behind named methods that take handles (numbers) and JS values and return
// JS values. model.js and layer.js keep only the API's logic; runtime.js only picks and loads a build.
import { MingruError } from './errors.js';

const KERNELS = { auto: 0, reference: 1, simd: 2, portable: 3 };
const CELLS = { MinGRU: 0, MinLSTM: 1 };

/** The kernel names load() and the layers accept. */
export const KERNEL_NAMES = Object.keys(KERNELS);

const halves = (seed) => [seed % 2 ** 32, Math.floor(seed / 2 ** 32)]; // a 64-bit seed as two uint32

/** One loaded build (a thread count) of the engine. Handles (models, states, layers) are heap pointers. */
export class Engine {
  #mod;
  #memory;

  /** @internal runtime.js makes engines: `mod` is the Emscripten module, `memory` its WebAssembly.Memory */
  constructor(mod, memory, threads, relaxedSimd = false) {
    this.#mod = mod;
    this.#memory = memory;
    this.#check(mod._mgw_set_threads(threads), 'starting the thread pool');
    /** The thread count this build runs on, and whether its kernels are SIMD. */
    this.threads = threads;
    this.simd = mod._mgw_has_simd() === 1;
    this.relaxedSimd = relaxedSimd;
    /** The engine's limits for options: { penaltyWindow, forwardBlock }. */
    this.limits = Object.freeze(this.#json(mod._mgw_limits()));
  }

  // ---- the heap (views are made fresh each time: the memory may have grown since)

  /** Throws a MingruError for a non-zero status: the code is the status's name, the message the engine's. */
  #check(status, what) {
    if (status === 0) return;
    throw new MingruError(this.#string(this.#mod._mgw_strerror(status)), `${what}: ${this.#string(this.#mod._mgw_last_error())}`);
  }

  #string(ptr) {
    return ptr ? this.#mod.UTF8ToString(ptr) : null;
  }

  #json(ptr) {
    return JSON.parse(this.#string(ptr));
  }

  /** Bytes on the heap (freed by #free); MG_ENOMEM when they cannot be had. */
  #alloc(bytes) {
    // the heap ends below 2^31 (wasm32, MAXIMUM_MEMORY=2GB); larger sizes must not wrap around as int
    if (!(bytes < 2 ** 31)) throw new MingruError('MG_ENOMEM', `out of WebAssembly memory allocating ${bytes} bytes (over 2 GiB)`);
    const ptr = this.#mod._mgw_malloc(Math.max(bytes, 1));
    if (!ptr) throw new MingruError('MG_ENOMEM', `out of WebAssembly memory allocating ${bytes} bytes`);
    return ptr;
  }

  #free(ptr) {
    if (ptr) this.#mod._mgw_free(ptr);
  }

  /** Copies `values` onto the heap as `Type` (Float32Array, Int32Array, Uint8Array); null gives 0. */
  #push(Type, values) {
    if (!values) return 0;
    const ptr = this.#alloc(values.length * Type.BYTES_PER_ELEMENT);
    new Type(this.#memory.buffer, ptr, values.length).set(values);
    return ptr;
  }

  /** Runs fn(pointers) with heap buffers: `inputs` (name -> [Type, values]) copied in, `outputs` (name -> float
   * count) allocated; returns the outputs as Float32Arrays. Everything is freed, whatever happens. */
  #withBuffers(inputs, outputs, fn) {
    const ptrs = {};
    try {
      for (const [name, [Type, values]] of Object.entries(inputs)) ptrs[name] = this.#push(Type, values);
      for (const [name, n] of Object.entries(outputs)) ptrs[name] = this.#alloc(n * 4);
      fn(ptrs);
      const result = {};
      for (const [name, n] of Object.entries(outputs)) result[name] = new Float32Array(this.#memory.buffer, ptrs[name], n).slice();
      return result;
    } finally {
      for (const ptr of Object.values(ptrs)) this.#free(ptr);
    }
  }

  /** Calls fn(outPtr) with a 4-byte out-pointer, checks its status, and returns the handle written there. */
  #handleOut(what, fn) {
    const out = this.#alloc(4);
    try {
      this.#check(fn(out), what);
      return new Uint32Array(this.#memory.buffer, out, 1)[0];
    } finally {
      this.#free(out);
    }
  }

  /** The heap: `used`, the bytes malloc has handed out, and `size`, the memory's (it grows, never shrinks).
   * For tests and diagnostics. */
  heapStats() {
    return { used: this.#mod._mgw_heap_used(), size: this.#memory.buffer.byteLength };
  }

  /** Jobs smaller than `bytes` (default 64 KB; 8 times that while a worker sleeps) run on one thread of the
   * pool. Tests set 0, so that every parallel path runs on their small models. */
  setMinParallelWork(bytes) {
    this.#mod._mgw_set_min_parallel_work(bytes);
  }

  // ---- layers

  /** floor(dim * expansionFactor) as minGRU-pytorch computes it; MG_EINVAL/MG_ESHAPE if it is not a positive int. */
  dimInner(dim, expansionFactor, what) {
    const n = this.#mod._mgw_dim_inner(dim, expansionFactor);
    this.#check(n < 0 ? n : 0, what);
    return n;
  }

  /** A layer with the given weights (Float32Arrays or null: zeros) or, without weights, nn.Linear's init from `seed`. */
  layerCreate({ cell, dim, expansionFactor, kernel, wIn, wOut, seed }, what) {
    let layer = 0;
    this.#withBuffers({ wIn: [Float32Array, wIn], wOut: [Float32Array, wOut] }, {}, (p) => {
      layer = this.#handleOut(what, (out) => this.#mod._mgw_layer_create(CELLS[cell], dim, expansionFactor, KERNELS[kernel], p.wIn, p.wOut, out));
    });
    if (!wIn) this.#check(this.#mod._mgw_layer_init_uniform(layer, ...halves(seed)), what);
    return layer;
  }

  /** { output [batch, seqLen, dim], hidden [batch, dimInner] } of the whole sequence x, from h0 (null: zeros). */
  layerForward(layer, { x, batch, seqLen, h0, dim, dimInner }, what) {
    return this.#withBuffers({ x: [Float32Array, x], h0: [Float32Array, h0] }, { output: batch * seqLen * dim, hidden: batch * dimInner },
      (p) => this.#check(this.#mod._mgw_layer_forward(layer, p.x, batch, seqLen, p.h0, p.output, p.hidden), what));
  }

  /** { output [batch, dim], hidden [batch, dimInner] } of one time step. */
  layerStep(layer, { x, batch, h0, dim, dimInner }, what) {
    return this.#withBuffers({ x: [Float32Array, x], h0: [Float32Array, h0] }, { output: batch * dim, hidden: batch * dimInner },
      (p) => this.#check(this.#mod._mgw_layer_step(layer, p.x, batch, p.h0, p.output, p.hidden), what));
  }

  /** { wIn, wOut } copies of the weights; wOut only when `outSize` > 0. */
  layerWeights(layer, inSize, outSize, what) {
    const w = this.#withBuffers({}, { wIn: inSize, wOut: outSize },
      (p) => this.#check(this.#mod._mgw_layer_get_weights(layer, p.wIn, outSize ? p.wOut : 0), what));
    return outSize ? w : { wIn: w.wIn };
  }

  layerFree(layer) {
    this.#mod._mgw_layer_free(layer);
  }

  // ---- language models

  /** Loads a .safetensors file (its bytes are copied in; the engine keeps the copy). Returns the model's handle. */
  modelLoad(bytes, kernel, what) {
    const buf = this.#push(Uint8Array, bytes);
    try {
      return this.#handleOut(what, (out) => this.#mod._mgw_model_load(buf, bytes.length, KERNELS[kernel], out));
    } catch (e) {
      this.#free(buf); // on failure the engine did not take the buffer
      throw e;
    }
  }

  /** The model's config, with the names of model.config, and its identity (16 hex digits). */
  modelConfig(model) {
    return this.#json(this.#mod._mgw_model_config(model));
  }

  /** The file's __metadata__, key -> string. */
  modelMetadata(model) {
    const metadata = {};
    for (let i = 0, n = this.#mod._mgw_model_meta_count(model); i < n; i++) {
      const key = this.#mod._mgw_model_meta_key(model, i);
      metadata[this.#string(key)] = this.#string(this.#mod._mgw_model_meta(model, key));
    }
    return metadata;
  }

  /** Where the model's steps and its blocks (a forward's) run: 1, on the calling thread alone; 0, on the pool (the
   * default). The same bits. */
  modelSetThreads(model, { step, block }, what) {
    this.#check(this.#mod._mgw_model_set_threads(model, step, block), what);
  }

  modelFree(model) {
    this.#mod._mgw_model_free(model);
  }

  // ---- states

  stateCreate(model, what) {
    return this.#handleOut(what, (out) => this.#mod._mgw_state_create(model, out));
  }

  stateClone(state, what) {
    return this.#handleOut(what, (out) => this.#mod._mgw_state_clone(state, out));
  }

  /** Makes `dst` equal to `src` (states of one model). */
  stateCopy(dst, src, what) {
    this.#check(this.#mod._mgw_state_copy(dst, src), what);
  }

  stateReset(state, what) {
    this.#check(this.#mod._mgw_state_reset(state), what);
  }

  /** The logits after the state's last token [V]; MG_EINVAL for an empty state. */
  stateLogits(state, width, what) {
    return this.#withBuffers({}, { logits: width }, (p) => this.#check(this.#mod._mgw_state_logits(state, p.logits), what)).logits;
  }

  /** Tokens the state has read since it was created or reset. */
  stateTokens(state) {
    return this.#mod._mgw_state_tokens(state);
  }

  /** The state's bytes (docs/format.md), tagged with its model's identity. */
  stateSave(state, what) {
    const size = this.#mod._mgw_state_save_size(state);
    const ptr = this.#alloc(size);
    try {
      this.#check(this.#mod._mgw_state_save(state, ptr, size), what);
      return new Uint8Array(this.#memory.buffer, ptr, size).slice();
    } finally {
      this.#free(ptr);
    }
  }

  /** A new state from saved bytes; MG_EMISMATCH if they come from another model, MG_EBADFILE if they are not a state. */
  stateLoad(model, bytes, what) {
    const buf = this.#push(Uint8Array, bytes);
    try {
      return this.#handleOut(what, (out) => this.#mod._mgw_state_load(model, buf, bytes.length, out));
    } finally {
      this.#free(buf);
    }
  }

  stateFree(state) {
    this.#mod._mgw_state_free(state);
  }

  // ---- the language model's passes

  /** Feeds `tokens` (checked ids) by the parallel scan. Returns the logits of the last token [V], of every token
   * [n * V] with `allLogits`, or nothing with `logits: false`. */
  lmForward(model, state, tokens, { width, allLogits = false, logits = true }, what) {
    const rows = !logits ? 0 : allLogits ? tokens.length : 1;
    const out = this.#withBuffers({ tokens: [Int32Array, tokens] }, { logits: rows * width }, (p) =>
      this.#check(this.#mod._mgw_lm_forward(model, state, p.tokens, tokens.length, logits ? p.logits : 0, allLogits ? 1 : 0), what));
    return logits ? out.logits : undefined;
  }

  /** Feeds one token; returns its logits [V]. */
  lmStep(model, state, token, width, what) {
    return this.#withBuffers({}, { logits: width }, (p) => this.#check(this.#mod._mgw_lm_step(model, state, token, p.logits), what)).logits;
  }

  // ---- training and writing models

  /** A trainer of the model (torch's AdamW + clip_grad_norm_); the model's weights become F32 training weights. */
  trainerCreate(model, { lr, betas, eps, weightDecay, clip, dropout, seed, part }, what) {
    return this.#handleOut(what, (out) => this.#mod._mgw_trainer_create(model, lr, betas[0], betas[1], eps, weightDecay, clip, dropout, seed, part === 'top' ? 1 : 0, out));
  }

  trainerSetParams(trainer, { lr, betas, eps, weightDecay, clip, dropout, seed, part }, what) {
    this.#check(this.#mod._mgw_trainer_set_params(trainer, lr, betas[0], betas[1], eps, weightDecay, clip, dropout, seed, part === 'top' ? 1 : 0), what);
  }

  /** One step on batch rows of seqLen + 1 checked ids; returns { loss (nats, before the update), gradNorm }. */
  trainerStep(trainer, tokens, batch, seqLen, what) {
    const out = this.#withBuffers({ tokens: [Int32Array, tokens] }, { loss: 1 },
      (p) => this.#check(this.#mod._mgw_trainer_step(trainer, p.tokens, batch, seqLen, p.loss), what));
    return { loss: out.loss[0], gradNorm: this.#mod._mgw_trainer_grad_norm(trainer) };
  }

  trainerFree(trainer) {
    this.#mod._mgw_trainer_free(trainer);
  }

  /** The model as a .safetensors file: dtype 'f32' | 'f16' | 'q8'; metadata: key -> string (null removes). */
  modelSave(model, dtype, metadata, what) {
    const utf8 = new TextEncoder();
    const strings = Object.entries(metadata).flat().map((v) => (v === null ? 0 : this.#push(Uint8Array, [...utf8.encode(v), 0])));
    const kv = this.#push(Uint32Array, strings.length ? strings : [0]), out = this.#alloc(8);
    try {
      this.#check(this.#mod._mgw_model_save(model, { f32: 0, f16: 1, q8: 2 }[dtype], kv, strings.length / 2, out), what);
      const [ptr, size] = new Uint32Array(this.#memory.buffer, out, 2);
      const file = new Uint8Array(this.#memory.buffer, ptr, size).slice();
      this.#free(ptr);
      return file;
    } finally {
      for (const ptr of [...strings, kv, out]) this.#free(ptr);
    }
  }

  /** A new model (PyTorch's minLM init from `seed`); returns its handle. */
  modelCreate({ cell, numTokens, dim, depth, expansionFactor, ffMult, convKernelSize, seed }, kernel, what) {
    return this.#handleOut(what, (out) => this.#mod._mgw_model_create(cell === 'lstm' ? 1 : 0, numTokens, dim, depth,
      expansionFactor, ffMult, convKernelSize, ...halves(seed), KERNELS[kernel], out));
  }

  // ---- arithmetic coding (src/coder.c)

  /** An encoder (input null) or a decoder of the coded bytes `input`; returns its handle. */
  coderCreate(model, input, what) {
    const buf = this.#push(Uint8Array, input);
    try {
      return this.#handleOut(what, (out) => this.#mod._mgw_coder_create(model, buf, input ? input.length : 0, out));
    } finally {
      this.#free(buf); // the coder keeps its own copy
    }
  }

  /** Codes `tokens` (checked ids) after the state, stepping it over each; with `read`, only steps (a prime). */
  coderEncode(coder, state, tokens, what, { read = false } = {}) {
    const fn = read ? this.#mod._mgw_coder_read : this.#mod._mgw_coder_encode;
    this.#withBuffers({ tokens: [Int32Array, tokens] }, {}, (p) => this.#check(fn(coder, state, p.tokens, tokens.length), what));
  }

  /** Adds `tokens` (checked ids) to the coder's match models only (the head of a long prime). */
  coderRemember(coder, tokens, what) {
    this.#withBuffers({ tokens: [Int32Array, tokens] }, {}, (p) => this.#check(this.#mod._mgw_coder_remember(coder, p.tokens, tokens.length), what));
  }

  /** Decodes the next n tokens (stepping the state over each); returns them as an Int32Array. */
  coderDecode(coder, state, n, what) {
    const ptr = this.#alloc(n * 4);
    try {
      this.#check(this.#mod._mgw_coder_decode(coder, state, ptr, n), what);
      return new Int32Array(this.#memory.buffer, ptr, n).slice();
    } finally {
      this.#free(ptr);
    }
  }

  /** From now on the coder keeps the top's input at each step, for coderLearn (trainer: a top-only trainer's handle). */
  coderSetLearner(coder, trainer, what) {
    this.#check(this.#mod._mgw_coder_set_learner(coder, trainer), what);
  }

  /** The learner's step on the rows the coder kept since the last; returns the loss (nats, before the update). */
  coderLearn(coder, what) {
    return this.#withBuffers({}, { loss: 1 }, (p) => this.#check(this.#mod._mgw_coder_learn(coder, p.loss), what)).loss[0];
  }

  /** Ends the code; returns the coded bytes. */
  coderFinish(coder, what) {
    const out = this.#alloc(8);
    try {
      this.#check(this.#mod._mgw_coder_finish(coder, out), what);
      const [ptr, size] = new Uint32Array(this.#memory.buffer, out, 2);
      return new Uint8Array(this.#memory.buffer, ptr, size).slice();
    } finally {
      this.#free(out);
    }
  }

  coderFree(coder) {
    this.#mod._mgw_coder_free(coder);
  }

  // ---- predictive text (src/predict.c)

  /** A predictor of the model, given its tokens' bytes ({ bytes, offsets }: token t's are bytes[offsets[t] ..
   * offsets[t + 1]]), or null for the byte-level tokenizer. Returns its handle. */
  predictorCreate(model, table, what) {
    const bytes = this.#push(Uint8Array, table?.bytes), offsets = this.#push(Uint32Array, table?.offsets);
    try {
      return this.#handleOut(what, (out) => this.#mod._mgw_predictor_create(model, bytes, offsets, table ? table.offsets.length - 1 : 0, out));
    } finally {
      this.#free(bytes), this.#free(offsets);
    }
  }

  /** The continuations of what `state` has read followed by the `pending` bytes (before: the text's last byte, -1
   * for none), most likely first: [{ bytes, probability }]. until: 'word', 'line' or a number of tokens. */
  predict(predictor, state, pending, before, { count, until, maxTokens, minChars, budget }, what) {
    const buf = this.#push(Uint8Array, pending), out = this.#alloc(8);
    const [mode, tokens] = until === 'word' ? [0, 1] : until === 'line' ? [1, 1] : [2, until];
    try {
      this.#check(this.#mod._mgw_predict(predictor, state, buf, pending.length, before, count, mode, tokens, maxTokens, minChars, budget, out), what);
      const results = [];
      for (let i = 0, n = new Int32Array(this.#memory.buffer, out, 1)[0]; i < n; i++) {
        const probability = this.#mod._mgw_predictor_result(predictor, i, out);
        const [ptr, length] = new Uint32Array(this.#memory.buffer, out, 2);
        results.push({ bytes: new Uint8Array(this.#memory.buffer, ptr, length).slice(), probability });
      }
      return results;
    } finally {
      this.#free(buf), this.#free(out);
    }
  }

  /** The cache of the searches that follow (src/predict.c): `words` (Uint8Arrays, the continuations they would be)
   * with probabilities `probs`, mixed in with `weight`; none: removed. */
  predictorCache(predictor, words, probs, weight, what) {
    const offsets = new Uint32Array(words.length + 1);
    words.forEach((w, i) => (offsets[i + 1] = offsets[i] + w.length));
    const concat = new Uint8Array(offsets[words.length]);
    words.forEach((w, i) => concat.set(w, offsets[i]));
    const b = this.#push(Uint8Array, concat), o = this.#push(Uint32Array, offsets), p = this.#push(Float64Array, probs);
    try {
      this.#check(this.#mod._mgw_predictor_cache(predictor, b, o, p, words.length, weight), what);
    } finally {
      this.#free(b), this.#free(o), this.#free(p);
    }
  }

  predictorFree(predictor) {
    this.#mod._mgw_predictor_free(predictor);
  }

  /** A seeded sampler: next(model, state, params) samples a token after the state and feeds it; free() when done. */
  sampler(seed) {
    const rng = this.#alloc(16); // 8 bytes of generator state, then the token's out-slot
    this.#mod._mgw_rng_seed(rng, ...halves(seed));
    return {
      next: (model, state, p, what) => {
        this.#check(this.#mod._mgw_lm_generate_next(model, state, p.temperature, p.topK, p.topP, p.minP, p.repetitionPenalty,
          p.penaltyWindow, rng, rng + 8), what);
        return new Int32Array(this.#memory.buffer, rng + 8, 1)[0];
      },
      free: () => this.#free(rng),
    };
  }
}
