// model.js — language models: load(), the Model with forward / step / generate, and State. The engine's calls go
// through engine.js; this file holds the API's logic: arguments, ownership, busy states, aborts, text.
import { MingruError, fail } from './errors.js';
import { KERNEL_NAMES } from './engine.js';
import { engineBackend, openEngine, yielder } from './runtime.js';
import { samplerOptions } from './sampling.js';
import { readSource } from './source.js';
import { BYTES, StopMatcher, checkFits, embeddedTokenizer, needTokenizer, tokenizerFrom, withTokenizer } from './tokenizer.js';
import { Trainer, createOptions, saveOptions, train, trainerOptions } from './train.js';
import { adaptOptions, compress, decompress, evaluateAdapting, logSoftmaxAt } from './compress.js';
import { Predictor } from './predict.js';
import { warmUp } from './warm.js';

const MEMORY_LIMIT = 2 ** 31; // -sMAXIMUM_MEMORY=2GB (CMakeLists.txt)

/** A sequence's recurrent state. Its size does not depend on the sequence's length. */
export class State {
  #model;
  #ptr;
  busy = false; // true while a generate() or a forward() with a signal runs on it

  /** @internal */
  constructor(model, ptr) {
    this.#model = model;
    this.#ptr = ptr;
  }

  /** @internal the engine handle, checked to be alive, to belong to `model` (if given) and, unless `busyOk`, idle */
  _handle(model, what, busyOk = false) {
    if (!this.#ptr) fail('MG_EDISPOSED', `${what}: the state was disposed`);
    if (model && model !== this.#model) fail('MG_EMISMATCH', `${what}: the state belongs to another model`);
    if (this.busy && !busyOk) fail('MG_EBUSY', `${what}: a generate() or forward() is running on this state`);
    return this.#ptr;
  }

  /** Tokens consumed since the state was created or reset. */
  get tokens() {
    return this.#model._engine.stateTokens(this._handle(null, 'state.tokens', true));
  }

  /** A copy of this state, independent from then on (branching). */
  clone() {
    this.#model._live('state.clone');
    return this.#model._adopt(this.#model._engine.stateClone(this._handle(null, 'state.clone'), 'state.clone'));
  }

  /** Back to the empty sequence. */
  reset() {
    this.#model._live('state.reset');
    this.#model._engine.stateReset(this._handle(null, 'state.reset'), 'state.reset');
  }

  /** The state as bytes (a few KB), tagged with the model's identity; lm.loadState(bytes) restores it.
   * @returns {Promise<Uint8Array>} (a promise in Node too, as in browsers, where the engine is in a worker) */
  async save() {
    this.#model._live('state.save');
    return this.#model._engine.stateSave(this._handle(null, 'state.save'), 'state.save');
  }

  /** Frees the state; later use throws MG_EDISPOSED. Calling it twice is harmless. */
  dispose() {
    if (!this.#ptr) return;
    this._handle(null, 'state.dispose');
    this.#model._forget(this);
    this._drop();
  }

  /** @internal frees the engine's state (dispose(), or the model's dispose()) */
  _drop() {
    this.#model._engine.stateFree(this.#ptr);
    this.#ptr = 0;
  }
}

/** Checks token ids here, before they cross into wasm as int32 (where 2^32 + 5 would become 5). */
function tokenArray(tokens, V, what) {
  if (!Array.isArray(tokens) && !(ArrayBuffer.isView(tokens) && !(tokens instanceof DataView))) {
    fail('MG_EINVAL', `${what}: tokens must be an array or typed array of token ids`);
  }
  if (tokens.length === 0) fail('MG_EINVAL', `${what}: needs at least one token`);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!Number.isInteger(t)) fail('MG_EINVAL', `${what}: token at position ${i} is ${t}, not an integer`);
    if (t < 0 || t >= V) fail('MG_ERANGE', `${what}: token ${t} at position ${i} is outside [0, ${V})`);
  }
  return tokens;
}

/** evaluate()'s result from the total bits, the predictions made and the UTF-8 bytes they cover (null: unknown). */
function evaluation(bits, predicted, bytes) {
  const perToken = predicted ? bits / predicted : 0;
  return { tokens: predicted, bits, bitsPerToken: perToken, bitsPerByte: bytes === null ? null : bytes ? bits / bytes : 0 };
}

/** The UTF-8 bytes that evaluate()'s predictions cover: the text's, less its first token's when that token is context
 * only (an empty state); null where the model has no tokenizer to count them by. */
function predictedBytes(tokenizer, tokens, firstIsContext) {
  if (!tokenizer || tokens.length === 0) return tokenizer ? 0 : null;
  if (tokenizer === BYTES) return tokens.length - (firstIsContext ? 1 : 0); // a token is a byte, UTF-8 or not
  const utf8 = (ids) => new TextEncoder().encode(tokenizer.decode(ids)).length;
  return utf8(tokens) - (firstIsContext ? utf8(tokens.subarray ? tokens.subarray(0, 1) : tokens.slice(0, 1)) : 0);
}

function checkSignal(signal, what) {
  if (signal !== undefined && !(signal instanceof AbortSignal)) fail('MG_EINVAL', `${what}: signal must be an AbortSignal`);
}

/** A loaded language model (minLM: minGRU or minLSTM layers). Create with load(). */
export class Model {
  #ptr;
  #states = new Set();
  #trainers = new Set();
  #predictors = new Set();
  #learned = 0; // optimizer steps taken on these weights since load() or create(): save() records them
  #created = false;

  /** @internal backend: openEngine()'s (a copy made inside the package takes its engine's, without fallbacks);
   * tokenizer: the file's or load()'s (parseTokenizer's), else the byte-level one where the file says "bytes" */
  constructor(engine, ptr, backend = engineBackend(engine), tokenizer = null) {
    this._engine = engine;
    this.#ptr = ptr;
    const { identity, ...config } = engine.modelConfig(ptr);
    const metadata = engine.modelMetadata(ptr);
    /** The file's __metadata__ (all strings). */
    this.metadata = Object.freeze(metadata);
    /** The tokenizer encode(), decode(), generate(), evaluate() and train() use on text: { kind, vocabSize, encode,
     * decode, decoder() }, or null (a file whose tokenizer is "none", given none at load). */
    this.tokenizer = tokenizer ?? (config.tokenizer === 'bytes' ? BYTES : null);
    /** The configuration, from the file; tokenizer: the tokenizer's format as a model file's metadata names it
     * ('bytes', 'tokenizer.json', 'sentencepiece' or 'none': the file's, or load()'s tokenizer option's),
     * tokenizerVocabSize: its vocabulary (0 for 'none'); lm.tokenizer.kind says which algorithm. */
    this.config = Object.freeze({
      ...config,
      tokenizer: this.tokenizer?.format ?? 'none',
      tokenizerVocabSize: this.tokenizer?.vocabSize ?? 0,
      name: metadata.name,
      description: metadata.description,
      license: metadata.license,
      trainingData: metadata.training_data,
    });
    /** A hash of the file's bytes (hex); saved states carry it. */
    this.identity = identity;
    /** Which build runs the model, and what this environment lacked: { threads, simd, relaxedSimd, fallbacks }; and
     * load()'s warm-up: stepThreads (where its steps run: threads, or 1 where that measured faster), warm (null when
     * not warmed). */
    this.backend = 'stepThreads' in backend ? backend
      : Object.freeze({ ...backend, stepThreads: backend.threads, warm: null });
  }

  /** @internal */
  _live(what) {
    if (!this.#ptr) fail('MG_EDISPOSED', `${what}: the model was disposed`);
    return this.#ptr;
  }

  /** @internal wraps an engine state handle */
  _adopt(ptr) {
    const s = new State(this, ptr);
    this.#states.add(s);
    return s;
  }

  /** @internal */
  _forget(state) {
    this.#states.delete(state);
  }

  /** A new, empty sequence state. Many states can share one model. */
  createState() {
    return this._adopt(this._engine.stateCreate(this._live('createState'), 'createState'));
  }

  /** A state from bytes made by state.save(); MG_EMISMATCH if they come from another model. */
  loadState(bytes) {
    const m = this._live('loadState');
    if (!(bytes instanceof Uint8Array)) fail('MG_EINVAL', 'loadState: bytes must be a Uint8Array');
    return this._adopt(this._engine.stateLoad(m, bytes, 'loadState'));
  }

  /** Runs `fn(stateHandle, state)` on the given state or on a temporary one; with `busy`, the state is marked busy
   * meanwhile (other calls on it are refused). */
  async #withState(state, what, fn, busy = false) {
    if (state !== undefined && !(state instanceof State)) fail('MG_EINVAL', `${what}: state must be a State from createState()`);
    const st = state ?? this.createState();
    const h = st._handle(this, what);
    if (busy) st.busy = true;
    try {
      return await fn(h, st);
    } finally {
      if (busy) st.busy = false;
      if (!state) st.dispose();
    }
  }

  /**
   * Feeds tokens (prefill, by the parallel scan) and leaves `state` after them. With a `signal`, the tokens go
   * in blocks between which other work runs; an abort rejects with MG_EABORTED and leaves the state as it was.
   * @returns {Promise<Float32Array>} logits [numOutputs] of the last token, or [n, numOutputs] with allLogits
   */
  async forward(tokens, { state, allLogits = false, signal } = {}) {
    const m = this._live('forward');
    const { numTokens, numOutputs: width } = this.config;
    tokenArray(tokens, numTokens, 'forward');
    checkSignal(signal, 'forward');
    if (signal) return this.#forwardAbortable(tokens, state, allLogits, signal);
    return this.#withState(state, 'forward', (s) => this._engine.lmForward(m, s, tokens, { width, allLogits }, 'forward'));
  }

  /** forward() with a signal: blocks of the engine's own prefill block (128 tokens), so the logits are the same as
   * in one call. */
  async #forwardAbortable(tokens, state, allLogits, signal) {
    const { numOutputs: width } = this.config;
    const result = new Float32Array((allLogits ? tokens.length : 1) * width);
    await this.#feed(tokens, state, 'forward', { signal, block: this._engine.limits.forwardBlock, allLogits }, (logits, at) =>
      result.set(logits, allLogits ? at * width : 0));
    return result;
  }

  /** Feeds `tokens` in blocks of `block` tokens and calls onBlock(logits, at) after each (the logits of the block's
   * last token, or of all of them with allLogits; `at`, the block's first position). The event loop runs between
   * blocks (every 8 ms), so an abort of `signal` can land; meanwhile the state is busy. An abort rejects with
   * MG_EABORTED; on it or any failure the state is restored from a snapshot taken at the start. */
  async #feed(tokens, state, what, { signal, block, allLogits }, onBlock) {
    const engine = this._engine;
    const { numOutputs: width } = this.config;
    const aborted = () => new MingruError('MG_EABORTED', `${what} was aborted`, { cause: signal.reason });
    if (signal?.aborted) throw aborted();
    return this.#withState(state, what, async (s) => {
      const snapshot = engine.stateClone(s, what);
      try {
        const pause = yielder();
        for (let at = 0; at < tokens.length; at += block) {
          if (at > 0) await pause();
          if (signal?.aborted) throw aborted();
          onBlock(engine.lmForward(this._live(what), s, tokens.slice(at, at + block), { width, allLogits }, what), at);
        }
      } catch (e) {
        if (this.#ptr) engine.stateCopy(s, snapshot, what); // back to where it was
        throw e;
      } finally {
        engine.stateFree(snapshot); // a state does not need its model to be freed
      }
    }, true);
  }

  /**
   * How many bits the model needs for `data` (text, or token ids): each token predicted from the ones before it.
   * From an empty state the first token is context only (n - 1 predictions, as minGRU-pytorch's return_loss);
   * with a `state` that has read tokens, every token is predicted from it, and the state is left after them.
   * adapt (true or { lr, segment, betas, eps, weightDecay, clip, part, keep }; compress.js's ADAPT_DEFAULTS): the model
   * learns while it reads (dynamic evaluation): after each segment has been predicted, one AdamW step on it; on a
   * copy of its weights unless keep (then the model keeps what it learned). onProgress({ done, total }).
   * @returns {Promise<{tokens: number, bits: number, bitsPerToken: number, bitsPerByte: number | null}>} `tokens`
   *   predicted; bitsPerByte for the byte tokenizer (a token is a byte), else null
   */
  async evaluate(data, { state, signal, adapt, onProgress } = {}) {
    this._live('evaluate');
    const { numTokens: V, numOutputs } = this.config;
    if (numOutputs !== V) fail('MG_EINVAL', `evaluate: this model's ${numOutputs} outputs are not its ${V} tokens (a task model): it does not predict its next token`);
    const tokens = tokenArray(typeof data === 'string' ? needTokenizer(this, 'evaluate').encode(data) : data, V, 'evaluate');
    checkSignal(signal, 'evaluate');
    const learning = adaptOptions(adapt, 'evaluate');
    if (onProgress !== undefined && typeof onProgress !== 'function') fail('MG_EINVAL', 'evaluate: onProgress must be a function');
    if (learning) {
      if (state !== undefined) fail('MG_EINVAL', 'evaluate: adapt reads from an empty state; it takes no state');
      const { bits, predicted } = await evaluateAdapting(this, tokens, learning, { signal, onProgress });
      return evaluation(bits, predicted, predictedBytes(this.tokenizer, tokens, true));
    }
    let bits = 0, predicted = 0, previous = null; // the logits that predict the next token
    const engine = this._engine;
    // the state's own logits predict the first token (a state that has read nothing predicts nothing)
    const s = state instanceof State ? state._handle(this, 'evaluate') : 0;
    const fromEmpty = !(s && engine.stateTokens(s) > 0);
    if (!fromEmpty) previous = engine.stateLogits(s, V, 'evaluate');
    await this.#feed(tokens, state, 'evaluate', { signal, block: 8 * engine.limits.forwardBlock, allLogits: true }, (logits, at) => {
      const n = logits.length / V;
      for (let i = 0; i < n; i++) {
        const row = i === 0 ? previous : logits.subarray((i - 1) * V, i * V);
        if (row) bits -= logSoftmaxAt(row, tokens[at + i]) / Math.LN2, predicted++;
      }
      previous = logits.subarray((n - 1) * V);
    });
    return evaluation(bits, predicted, predictedBytes(this.tokenizer, tokens, fromEmpty));
  }

  /**
   * The data (bytes or text) coded with the model's probabilities, learning while it reads: adapt (default true)
   * takes evaluate's adapt options, false codes with the model as it is. The file names the model, the settings,
   * the length and a CRC-32; decompress() with the same model file gives the bytes back, in any engine, build or
   * thread count. onProgress({ done, total }), signal (MG_EABORTED). @returns {Promise<Uint8Array>}
   */
  compress(data, options) {
    return compress(this, data, options);
  }

  /** The bytes a compress() file holds; MG_EMISMATCH for a file of another model, MG_EBADFILE for a damaged one.
   * @returns {Promise<Uint8Array>} */
  decompress(file, options) {
    return decompress(this, file, options);
  }

  /** @internal a new model with this one's weights as dtype (made F32 by default), on the same engine (adaptation
   * that must not touch them learns on it) */
  _copy(kernel, what, dtype = 'f32') {
    const engine = this._engine, ptr = engine.modelLoad(engine.modelSave(this._live(what), dtype, {}, what), kernel, what);
    engine.modelSetThreads(ptr, { step: this.backend.stepThreads < engine.threads ? 1 : 0, block: 0 }, what); // its steps where this one's run
    return new Model(engine, ptr, this.backend, this.tokenizer);
  }

  /** Feeds one token: O(1) time and memory. @returns {Promise<Float32Array>} logits [numOutputs] */
  async step(token, { state } = {}) {
    const m = this._live('step');
    if (!Number.isInteger(token)) fail('MG_EINVAL', `step: token must be an integer, got ${token}`);
    tokenArray([token], this.config.numTokens, 'step');
    return this.#withState(state, 'step', (s) => this._engine.lmStep(m, s, token, this.config.numOutputs, 'step'));
  }

  /**
   * Generates text after `prompt`, as an async iterator of decoded pieces (never half a character).
   * Options (sampling.js): maxTokens (256), temperature (1; 0 = greedy), topK (0 = off), topP (1), minP (0),
   * repetitionPenalty (1 = off), penaltyWindow (64), seed (0), signal (abort: the iteration ends, the
   * model and the state stay usable), state (continue a sequence; it is left after the generated text),
   * stop (a string or strings: generation ends before the first one, which is not emitted).
   */
  async *generate(prompt, options = {}) {
    const m = this._live('generate');
    const tokenizer = needTokenizer(this, 'generate');
    if (typeof prompt !== 'string') fail('MG_EINVAL', `generate: prompt must be a string, got ${typeof prompt}`);
    const o = samplerOptions(options, { numTokens: this.config.numTokens, penaltyWindow: this._engine.limits.penaltyWindow });
    const engine = this._engine;
    const own = options?.state === undefined;
    const state = own ? this.createState() : options.state;
    if (!(state instanceof State)) fail('MG_EINVAL', 'generate: state must be a State from createState()');
    const s = state._handle(this, 'generate');
    state.busy = true;
    const sampler = engine.sampler(o.seed);
    try {
      const tokens = tokenizer.encode(prompt);
      if (tokens.length > 0) engine.lmForward(m, s, tokens, { width: this.config.numOutputs, logits: false }, 'generate');
      else if (engine.stateTokens(s) === 0) fail('MG_EINVAL', 'generate: the prompt is empty and the state has no tokens to continue from');
      // the model may have more tokens than the tokenizer (rows padded past its vocabulary): a draw of one adds no text
      const decoder = tokenizer.decoder({ skipUnknown: true });
      const stops = new StopMatcher(o.stop);
      const pause = yielder();
      for (let i = 0; i < o.maxTokens && !o.signal?.aborted && this.#ptr; i++) {
        const text = stops.push(decoder.push(sampler.next(m, s, o, 'generate')));
        if (text) yield text;
        if (stops.stopped) return;
        await pause();
      }
      const rest = stops.flush();
      if (rest && !o.signal?.aborted) yield rest;
    } finally {
      sampler.free();
      state.busy = false;
      if (own) state.dispose();
    }
  }

  /**
   * An optimizer of this model's weights: torch.optim.AdamW(lr, betas, eps, weightDecay) after
   * clip_grad_norm_(clip). The weights become F32 training weights (a Q8/F16 model is trained from its weights
   * made F32; with part 'top' only the top's, and a Q8 model keeps running in Q8: the top's F32 masters are
   * quantized again after each step); generate, evaluate and save use the trained weights after every step.
   * @returns {Trainer}
   */
  trainer(options = {}) {
    const m = this._live('trainer');
    const o = trainerOptions(options ?? {}, 'trainer');
    const t = new Trainer(this, this._engine.trainerCreate(m, o, 'trainer'), o);
    this.#trainers.add(t);
    return t;
  }

  /**
   * Predictive text: a Predictor that follows a text as it is typed (input, delete, set) and gives its `count` most
   * likely continuations (suggestions()), each ending where `until` says: 'word' (the rest of the word, or the next
   * word after a space), 'line' (to a newline or a sentence's end) or a number of tokens; at most maxTokens (24).
   * @returns {Predictor}
   */
  predictor(options) {
    const p = new Predictor(this, options);
    this.#predictors.add(p);
    return p;
  }

  /** @internal */
  _forgetPredictor(p) {
    this.#predictors.delete(p);
  }

  /** @internal a trainer took a step on these weights */
  _learned() {
    this.#learned++;
  }

  /** @internal made by create(): it has no base model */
  _markCreated() {
    this.#created = true;
    return this;
  }

  /** The metadata save() adds to a model that learned since it was loaded or created: its base (name and identity),
   * the steps, the date, and a name and training data that say so. The caller's own keys take precedence. */
  #lineage() {
    if (!this.#learned) return {};
    const steps = String(this.#learned), date = new Date().toISOString().slice(0, 10);
    if (this.#created) return { training_steps: steps, trained_on: date };
    const { name, training_data: data } = this.metadata;
    return {
      name: name === undefined ? 'a fine-tuned model' : name.endsWith('(fine-tuned)') ? name : `${name} (fine-tuned)`,
      base_model: name === undefined ? `identity ${this.identity}` : `${name} (identity ${this.identity})`,
      training_data: `${data === undefined ? '' : `${data}; then `}fine-tuned for ${steps} step${steps === '1' ? '' : 's'} on data not described`,
      training_steps: steps,
      trained_on: date,
    };
  }

  /** @internal */
  _forgetTrainer(t) {
    this.#trainers.delete(t);
  }

  /**
   * Trains on `data` (text or token ids): an async iterator of { step, loss, tokensPerSecond, validationBits? }.
   * Options: steps or seconds (how long), batchSize (8), seqLen (128), lr (1e-3), warmup (0 steps), betas, eps,
   * weightDecay (0.01), clip (1), seed (0: the windows drawn), validation (text or ids: bits per token every
   * validationEvery (50) steps and at the last), signal (an abort ends the iteration; what was learned stays).
   */
  train(data, options) {
    this._live('train');
    return train(this, data, options);
  }

  /**
   * The model with its current weights as a .safetensors file (docs/format.md): dtype 'f32' | 'f16' | 'q8';
   * name, description, license, trainingData replace the file's metadata. A model that learned since it was loaded
   * says so: base_model, training_steps, trained_on, and a name and training_data that say it was fine-tuned (unless
   * given). Loadable by load() and PyTorch.
   * @returns {Promise<Uint8Array>}
   */
  async save(options) {
    const m = this._live('save');
    const { dtype, metadata } = saveOptions(options ?? {});
    return carrying(this._engine.modelSave(m, dtype, { ...this.#lineage(), ...metadata }, 'save'), this.tokenizer);
  }

  /** Frees the model and every state made from it; later use throws MG_EDISPOSED. */
  dispose() {
    if (!this.#ptr) return;
    for (const s of this.#states) s._drop();
    this.#states.clear();
    for (const t of this.#trainers) t._drop();
    this.#trainers.clear();
    for (const p of this.#predictors) p._drop();
    this.#predictors.clear();
    this._engine.modelFree(this.#ptr);
    this.#ptr = 0;
  }
}
withTokenizer(Model);

/**
 * A new model to train, initialised as PyTorch initialises minLM, from `seed` (the same seed, the same weights).
 * Options: cell ('gru' | 'lstm'), numTokens (256: bytes), dim (256), depth (4), expansionFactor (1.5), ffMult (4),
 * convKernelSize (0: none), seed (0), threads, kernel (as load()).
 * @returns {Promise<Model>}
 */
export async function create(options = {}) {
  const { threads: t, kernel = 'auto', ...rest } = options ?? {};
  const o = createOptions(rest);
  if (!KERNEL_NAMES.includes(kernel)) fail('MG_EINVAL', `create: kernel must be one of ${KERNEL_NAMES.join(', ')}, got ${kernel}`);
  const { engine, backend } = await openEngine(t, true, 'create');
  return new Model(engine, engine.modelCreate(o, kernel, 'create'), backend)._markCreated();
}

/**
 * Loads a model from a .safetensors file made by tools/convert.py.
 * @param source a file path (Node), URL or URL string, ArrayBuffer/Uint8Array, Response or Blob
 * @param options { threads: 'auto' | number, onProgress({loaded, total}), signal, fetchOptions, cache,
 *   kernel: 'auto'|'reference'|'simd', relaxedSimd }. threads 'auto' (the default) takes the threaded build where
 *   SharedArrayBuffer is usable (always in Node), with one thread per core up to 8; 1 takes the
 *   single-thread build; more than 1 where threads cannot be had throws MG_ETHREADS. fetchOptions are
 *   fetch()'s (headers for private hosting); cache: true keeps a downloaded file in the Cache API (source.js).
 *   relaxedSimd (default true) takes the relaxed-SIMD build where the engine runs it correctly; false forces the
 *   plain one. backend.relaxedSimd says which runs.
 */
export async function load(source, options = {}) {
  const o = options ?? {};
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') fail('MG_EINVAL', 'load: onProgress must be a function');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) fail('MG_EINVAL', 'load: signal must be an AbortSignal');
  if (o.cache !== undefined && typeof o.cache !== 'boolean') fail('MG_EINVAL', `load: cache must be true or false, got ${o.cache}`);
  if (o.fetchOptions !== undefined && (o.fetchOptions === null || typeof o.fetchOptions !== 'object')) {
    fail('MG_EINVAL', 'load: fetchOptions must be an object (the options of fetch())');
  }
  const kernel = o.kernel ?? 'auto';
  if (!KERNEL_NAMES.includes(kernel)) fail('MG_EINVAL', `load: kernel must be one of ${KERNEL_NAMES.join(', ')}, got ${kernel}`);
  if (o.relaxedSimd !== undefined && typeof o.relaxedSimd !== 'boolean') fail('MG_EINVAL', `load: relaxedSimd must be true or false, got ${o.relaxedSimd}`);
  if (o.warm !== undefined && typeof o.warm !== 'boolean') fail('MG_EINVAL', `load: warm must be true or false, got ${o.warm}`);
  const [{ engine, backend }, bytes, given] = await Promise.all([openEngine(o.threads, o.relaxedSimd ?? true, 'load'),
    readSource(source, o), o.tokenizer === undefined ? null : tokenizerOption(o.tokenizer, o)]);
  if (o.signal?.aborted) throw new MingruError('MG_EABORTED', 'load was aborted', { cause: o.signal.reason });
  // The file is copied into the engine's memory (F32 and I8 weights are used there in place; F16/BF16 ones are
  // converted to F32 copies), which wasm32 caps at 2 GB: see docs/robustness.md for the largest loadable model.
  const tooLarge = (what) => new MingruError('MG_ENOMEM', `load: ${what}: the model file is ${bytes.length} bytes ` +
    `(${(bytes.length / 2 ** 30).toFixed(2)} GiB) and WebAssembly memory is limited to ${MEMORY_LIMIT / 2 ** 30} GiB ` +
    '(wasm32), which must hold the file, the F32 copies of F16/BF16 weights and the working buffers');
  if (bytes.length >= MEMORY_LIMIT) throw tooLarge('too large');
  let ptr;
  try {
    ptr = engine.modelLoad(bytes, kernel, 'load');
  } catch (e) {
    throw e.code === 'MG_ENOMEM' ? tooLarge(e.message.replace(/^load: /, '')) : e;
  }
  const embedded = embeddedTokenizer(bytes);
  const tokenizer = given ?? (embedded && tokenizerFrom(embedded.bytes.slice(), `load: the model's ${embedded.kind}`));
  const lm = new Model(engine, ptr, backend, tokenizer);
  try {
    if (tokenizer) checkFits(tokenizer, lm.config.numTokens, 'load');
    if (o.warm !== false) lm.backend = Object.freeze({ ...backend, ...await warmUp(lm) });
    if (o.signal?.aborted) throw new MingruError('MG_EABORTED', 'load was aborted', { cause: o.signal.reason });
  } catch (e) {
    lm.dispose();
    throw e;
  }
  return lm;
}

/** The saved file `file` carrying `tokenizer` when it is one given at load (the engine writes the file's own):
 * __metadata__ "tokenizer" names its format and a U8 tensor "tokenizer" holds its bytes, last (docs/format.md). */
function carrying(file, tokenizer) {
  const source = tokenizer?.source;
  const own = embeddedTokenizer(file);
  if (!source || (own && own.bytes.length === source.length && own.bytes.every((b, i) => b === source[i]))) return file;
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n)));
  let data = file.subarray(8 + n);
  if (header.tokenizer) { // the file's own, which the engine writes last
    data = data.subarray(0, header.tokenizer.data_offsets[0]);
    delete header.tokenizer;
  }
  header.__metadata__ = { ...header.__metadata__, tokenizer: tokenizer.format };
  header.tokenizer = { dtype: 'U8', shape: [source.length], data_offsets: [data.length, data.length + source.length] };
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.length) / 64) * 64 - 8; // the data starts 64-byte aligned, as the engine writes
  json = Uint8Array.from({ length: padded }, (_, i) => (i < json.length ? json[i] : 0x20));
  const out = new Uint8Array(8 + padded + data.length + source.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8), out.set(data, 8 + padded), out.set(source, 8 + padded + data.length);
  return out;
}

/** load()'s tokenizer option: a URL, a file path (Node), the bytes of a tokenizer.json or SentencePiece .model, or
 * a tokenizer.json's parsed object. */
async function tokenizerOption(option, o) {
  if (option !== null && typeof option === 'object' && !ArrayBuffer.isView(option) && !(option instanceof ArrayBuffer) &&
      !(option instanceof URL) && !(typeof Blob !== 'undefined' && option instanceof Blob)) {
    return tokenizerFrom(new TextEncoder().encode(JSON.stringify(option)), 'load: tokenizer');
  }
  if (option === null || !['string', 'object'].includes(typeof option)) {
    fail('MG_EINVAL', 'load: tokenizer must be a URL, a path, the bytes of a tokenizer.json or SentencePiece .model, or a tokenizer.json object');
  }
  const bytes = await readSource(option, { signal: o.signal, fetchOptions: o.fetchOptions }).catch((e) => {
    throw new MingruError(e.code ?? 'MG_ELOAD', `load: tokenizer: ${e.message.replace('model file', 'file')}`);
  });
  return tokenizerFrom(bytes, `load: tokenizer ${typeof option === 'string' ? option : ''}`.trimEnd());
}
