// model.js — language models: load(), the Model with forward / step / generate, and State.
import { MingruError, fail } from './errors.js';
import { getRuntime, resolveThreads } from './runtime.js';
import { readSource } from './source.js';
import { ByteDecoder, decodeBytes, encodeBytes, needBytes } from './tokenizer.js';

const KERNELS = { auto: 0, reference: 1, simd: 2 };
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

  /** @internal the engine handle, checked to be alive and to belong to `model` */
  _handle(model, what) {
    if (!this.#ptr) fail('MG_EDISPOSED', `${what}: the state was disposed`);
    if (model && model !== this.#model) fail('MG_EMISMATCH', `${what}: the state belongs to another model`);
    return this.#ptr;
  }

  /** Tokens consumed since the state was created or reset. */
  get tokens() {
    return this.#model._rt.mod._mgw_state_tokens(this._handle(null, 'state.tokens'));
  }

  /** A copy of this state, independent from then on (branching). */
  clone() {
    this.#model._live('state.clone');
    this.#notBusy('clone');
    const rt = this.#model._rt;
    const src = this._handle(null, 'state.clone');
    return this.#model._adopt(rt.handleOut((out) => rt.check(rt.mod._mgw_state_clone(src, out), 'state.clone')));
  }

  /** Back to the empty sequence. */
  reset() {
    this.#model._live('state.reset');
    this.#notBusy('reset');
    this.#model._rt.check(this.#model._rt.mod._mgw_state_reset(this._handle(null, 'state.reset')), 'state.reset');
  }

  /** The state as bytes (a few KB), tagged with the model's identity; lm.loadState(bytes) restores it.
   * @returns {Promise<Uint8Array>} (a promise in Node too, as in browsers, where the engine is in a worker) */
  async save() {
    this.#model._live('state.save');
    this.#notBusy('save');
    const rt = this.#model._rt;
    const h = this._handle(null, 'state.save');
    const size = rt.mod._mgw_state_save_size(h);
    const ptr = rt.alloc(size);
    try {
      rt.check(rt.mod._mgw_state_save(h, ptr, size), 'state.save');
      return new Uint8Array(rt.memory.buffer, ptr, size).slice();
    } finally {
      rt.free(ptr);
    }
  }

  /** Frees the state; later use throws MG_EDISPOSED. Calling it twice is harmless. */
  dispose() {
    if (!this.#ptr) return;
    this.#notBusy('dispose');
    this.#model._forget(this);
    this.#model._rt.mod._mgw_state_free(this.#ptr);
    this.#ptr = 0;
  }

  /** @internal called when the model is disposed */
  _drop() {
    this.#ptr = 0;
  }

  #notBusy(what) {
    if (this.busy) fail('MG_EBUSY', `state.${what}: a generate() or forward() is running on this state`);
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

function numberOption(value, name, lo, hi, fallback) {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < lo || value > hi) {
    fail('MG_EINVAL', `generate: ${name} must be a number in [${lo}, ${hi}], got ${value}`);
  }
  return value;
}

function intOption(value, name, lo, hi, fallback) {
  const v = numberOption(value, name, lo, hi, fallback);
  if (!Number.isInteger(v)) fail('MG_EINVAL', `generate: ${name} must be an integer, got ${value}`);
  return v;
}

const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));
const FORWARD_BLOCK = 128; // MG_BLOCK: forward() with a signal feeds the tokens in the blocks the engine uses

/** A loaded language model (minLM: minGRU or minLSTM layers). Create with load(). */
export class Model {
  #ptr;
  #states = new Set();

  /** @internal */
  constructor(rt, ptr) {
    this._rt = rt;
    this.#ptr = ptr;
    const p = rt.alloc(16 * 8);
    let v;
    try {
      rt.mod._mgw_model_info(ptr, p);
      v = Array.from(new Float64Array(rt.memory.buffer, p, 16));
    } finally {
      rt.free(p);
    }
    const metadata = {};
    for (let i = 0, n = rt.mod._mgw_model_meta_count(ptr); i < n; i++) {
      const key = rt.string(rt.mod._mgw_model_meta_key(ptr, i));
      metadata[key] = rt.string(rt.mod._mgw_model_meta(ptr, rt.mod._mgw_model_meta_key(ptr, i)));
    }
    /** The file's __metadata__ (all strings). */
    this.metadata = Object.freeze(metadata);
    /** The configuration, from the file. */
    this.config = Object.freeze({
      cell: v[0] === 0 ? 'gru' : 'lstm',
      numTokens: v[1],
      dim: v[2],
      depth: v[3],
      expansionFactor: v[4],
      dimInner: v[5],
      ffMult: v[7],
      ffInner: v[8],
      convKernelSize: v[9],
      tokenizer: v[10] === 1 ? 'bytes' : 'none',
      quantized: v[11] === 1,
      parameters: v[12],
      name: metadata.name,
      description: metadata.description,
      license: metadata.license,
      trainingData: metadata.training_data,
    });
    /** A hash of the file's bytes (hex); saved states carry it. */
    this.identity = v[13].toString(16).padStart(8, '0') + v[14].toString(16).padStart(8, '0');
    /** Which build runs the model: { threads, simd }. */
    this.backend = Object.freeze({ threads: rt.threads, simd: rt.simd });
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
    const m = this._live('createState');
    return this._adopt(this._rt.handleOut((out) => this._rt.check(this._rt.mod._mgw_state_create(m, out), 'createState')));
  }

  /** A state from bytes made by state.save(); MG_EMISMATCH if they come from another model. */
  loadState(bytes) {
    const m = this._live('loadState');
    if (!(bytes instanceof Uint8Array)) fail('MG_EINVAL', 'loadState: bytes must be a Uint8Array');
    const rt = this._rt;
    const buf = rt.pushBytes(bytes);
    try {
      return this._adopt(rt.handleOut((out) => rt.check(rt.mod._mgw_state_load(m, buf, bytes.length, out), 'loadState')));
    } finally {
      rt.free(buf);
    }
  }

  #stateFor(state, what) {
    if (state === undefined) return null;
    if (!(state instanceof State)) fail('MG_EINVAL', `${what}: state must be a State from createState()`);
    const h = state._handle(this, what);
    if (state.busy) fail('MG_EBUSY', `${what}: a generate() or forward() is running on this state`);
    return h;
  }

  /** Runs `fn(stateHandle)` on the given state, or on a temporary one. */
  #withState(state, what, fn) {
    const h = this.#stateFor(state, what);
    if (h) return fn(h);
    const temp = this.createState();
    try {
      return fn(temp._handle(this, what));
    } finally {
      temp.dispose();
    }
  }

  /**
   * Feeds tokens (prefill, by the parallel scan) and leaves `state` after them. With a `signal`, the tokens go
   * in blocks between which other work runs; an abort rejects with MG_EABORTED and leaves the state as it was.
   * @returns {Promise<Float32Array>} logits [numTokens] of the last token, or [n, numTokens] with allLogits
   */
  async forward(tokens, { state, allLogits = false, signal } = {}) {
    const m = this._live('forward');
    tokenArray(tokens, this.config.numTokens, 'forward');
    if (signal !== undefined) {
      if (!(signal instanceof AbortSignal)) fail('MG_EINVAL', 'forward: signal must be an AbortSignal');
      return this.#forwardAbortable(tokens, state, allLogits, signal);
    }
    const rt = this._rt;
    const V = this.config.numTokens;
    const rows = allLogits ? tokens.length : 1;
    return this.#withState(state, 'forward', (s) => {
      const tp = rt.pushI32(tokens);
      try {
        return rt.withBuffers({}, { logits: rows * V }, (p) =>
          rt.check(rt.mod._mgw_lm_forward(m, s, tp, tokens.length, p.logits, allLogits ? 1 : 0), 'forward')).logits;
      } finally {
        rt.free(tp);
      }
    });
  }

  /** forward() with a signal: blocks of MG_BLOCK (128) tokens, as the engine cuts a prefill itself, so the
   * logits are the same as in one call. The event loop runs between blocks (every 8 ms), so an abort can land;
   * meanwhile the state is busy (other calls on it are refused). On any failure the state is restored from a
   * snapshot taken at the start. */
  async #forwardAbortable(tokens, state, allLogits, signal) {
    const rt = this._rt;
    const V = this.config.numTokens;
    const n = tokens.length;
    const aborted = () => new MingruError('MG_EABORTED', 'forward was aborted', { cause: signal.reason });
    if (signal.aborted) throw aborted();
    const own = state === undefined;
    const st = own ? this.createState() : state;
    const s = this.#stateFor(st, 'forward');
    st.busy = true;
    let snapshot = 0, tp = 0, lp = 0;
    try {
      snapshot = rt.handleOut((out) => rt.check(rt.mod._mgw_state_clone(s, out), 'forward'));
      tp = rt.pushI32(tokens);
      lp = rt.alloc((allLogits ? Math.min(n, FORWARD_BLOCK) : 1) * V * 4);
      const result = new Float32Array((allLogits ? n : 1) * V);
      let lastYield = Date.now();
      for (let at = 0; at < n; at += FORWARD_BLOCK) {
        if (at > 0 && Date.now() - lastYield > 8) {
          await yieldToEventLoop();
          lastYield = Date.now();
        }
        if (signal.aborted) throw aborted();
        const m = this._live('forward');
        const T = Math.min(FORWARD_BLOCK, n - at);
        rt.check(rt.mod._mgw_lm_forward(m, s, tp + 4 * at, T, lp, allLogits ? 1 : 0), 'forward');
        if (allLogits) result.set(new Float32Array(rt.memory.buffer, lp, T * V), at * V);
      }
      if (!allLogits) result.set(new Float32Array(rt.memory.buffer, lp, V));
      return result;
    } catch (e) {
      if (snapshot && this.#ptr) rt.mod._mgw_state_copy(s, snapshot); // back to where it was
      throw e;
    } finally {
      rt.free(tp);
      rt.free(lp);
      if (snapshot) rt.mod._mgw_state_free(snapshot); // a state does not need its model to be freed
      st.busy = false;
      if (own) st.dispose();
    }
  }

  /** Feeds one token: O(1) time and memory. @returns {Promise<Float32Array>} logits [numTokens] */
  async step(token, { state } = {}) {
    const m = this._live('step');
    if (!Number.isInteger(token)) fail('MG_EINVAL', `step: token must be an integer, got ${token}`);
    tokenArray([token], this.config.numTokens, 'step');
    const rt = this._rt;
    return this.#withState(state, 'step', (s) =>
      rt.withBuffers({}, { logits: this.config.numTokens }, (p) => rt.check(rt.mod._mgw_lm_step(m, s, token, p.logits), 'step')).logits);
  }

  /** The text as token ids (byte-level tokenizer: its UTF-8 bytes). */
  encode(text) {
    this._live('encode');
    needBytes(this.config, 'encode');
    return encodeBytes(text);
  }

  /** Token ids back to text. */
  decode(tokens) {
    this._live('decode');
    needBytes(this.config, 'decode');
    return decodeBytes(tokens);
  }


  /**
   * Generates text after `prompt`, as an async iterator of decoded pieces (never half a character).
   * Options: maxTokens (256), temperature (1; 0 = greedy), topK (0 = off), topP (1), minP (0),
   * repetitionPenalty (1 = off), penaltyWindow (64), seed (0), signal (abort: the iteration ends, the
   * model and the state stay usable), state (continue a sequence; it is left after the generated text),
   * stop (a string or strings: generation ends before the first one, which is not emitted).
   */
  async *generate(prompt, options = {}) {
    const m = this._live('generate');
    needBytes(this.config, 'generate');
    if (typeof prompt !== 'string') fail('MG_EINVAL', `generate: prompt must be a string, got ${typeof prompt}`);
    const o = options ?? {};
    const maxTokens = intOption(o.maxTokens, 'maxTokens', 0, 2 ** 31 - 1, 256);
    const temperature = numberOption(o.temperature, 'temperature', 0, 1e6, 1);
    const topK = intOption(o.topK, 'topK', 0, this.config.numTokens, 0);
    const topP = numberOption(o.topP, 'topP', Number.MIN_VALUE, 1, 1);
    const minP = numberOption(o.minP, 'minP', 0, 1, 0);
    const repetitionPenalty = numberOption(o.repetitionPenalty, 'repetitionPenalty', Number.MIN_VALUE, 1e6, 1);
    const penaltyWindow = intOption(o.penaltyWindow, 'penaltyWindow', 0, 256, 64);
    const seed = intOption(o.seed, 'seed', 0, Number.MAX_SAFE_INTEGER, 0);
    const stops = o.stop === undefined ? [] : [o.stop].flat();
    if (stops.some((s) => typeof s !== 'string' || s === '')) fail('MG_EINVAL', 'generate: stop must be a non-empty string or an array of them');
    const { signal } = o;
    if (signal !== undefined && !(signal instanceof AbortSignal)) fail('MG_EINVAL', 'generate: signal must be an AbortSignal');

    const own = o.state === undefined;
    const state = own ? this.createState() : o.state;
    const s = this.#stateFor(state, 'generate');
    const rt = this._rt;
    state.busy = true;
    const scratch = rt.alloc(16); // 8 bytes of generator state, then the token out-pointer
    try {
      rt.mod._mgw_rng_seed(scratch, seed % 2 ** 32, Math.floor(seed / 2 ** 32));
      const tokens = encodeBytes(prompt);
      if (tokens.length > 0) {
        const tp = rt.pushI32(tokens);
        try {
          rt.check(rt.mod._mgw_lm_forward(m, s, tp, tokens.length, 0, 0), 'generate');
        } finally {
          rt.free(tp);
        }
      } else if (rt.mod._mgw_state_tokens(s) === 0) {
        fail('MG_EINVAL', 'generate: the prompt is empty and the state has no tokens to continue from');
      }
      const decoder = new ByteDecoder();
      let pending = '';
      let lastYield = Date.now();
      for (let i = 0; i < maxTokens; i++) {
        if (signal?.aborted || !this.#ptr) break;
        rt.check(rt.mod._mgw_lm_generate_next(m, s, temperature, topK, topP, minP, repetitionPenalty, penaltyWindow,
          scratch, scratch + 8), 'generate');
        pending += decoder.push(new Int32Array(rt.memory.buffer, scratch + 8, 1)[0]);
        // hold back what could be the start of a stop string; end before a complete one
        let emit = pending;
        let stopAt = -1;
        for (const stop of stops) {
          const at = pending.indexOf(stop);
          if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
        }
        if (stopAt >= 0) {
          if (stopAt > 0) yield pending.slice(0, stopAt);
          return;
        }
        for (const stop of stops) {
          for (let k = Math.min(stop.length - 1, pending.length); k > 0; k--) {
            if (pending.endsWith(stop.slice(0, k))) {
              if (pending.length - k < emit.length) emit = pending.slice(0, pending.length - k);
              break;
            }
          }
        }
        pending = pending.slice(emit.length);
        if (emit) yield emit;
        if (Date.now() - lastYield > 8) {
          await yieldToEventLoop(); // lets timers and abort signals run during a long generation
          lastYield = Date.now();
        }
      }
      if (pending && !signal?.aborted) yield pending;
    } finally {
      rt.free(scratch);
      state.busy = false;
      if (own) state.dispose();
    }
  }

  /** Frees the model and every state made from it; later use throws MG_EDISPOSED. */
  dispose() {
    if (!this.#ptr) return;
    for (const s of this.#states) {
      this._rt.mod._mgw_state_free(s._handle(null, 'dispose'));
      s._drop();
    }
    this.#states.clear();
    this._rt.mod._mgw_model_free(this.#ptr);
    this.#ptr = 0;
  }
}

/**
 * Loads a model from a .safetensors file made by tools/convert.py.
 * @param source a file path (Node), URL or URL string, ArrayBuffer/Uint8Array, Response or Blob
 * @param options { threads: 'auto' | number, onProgress({loaded, total}), signal, fetchOptions, cache,
 *   kernel: 'auto'|'reference'|'simd' }. threads 'auto' (the default) takes the threaded build where
 *   SharedArrayBuffer is usable (always in Node), with one thread per core up to 8; 1 takes the
 *   single-thread build; more than 1 where threads cannot be had throws MG_ETHREADS. fetchOptions are
 *   fetch()'s (headers for private hosting); cache: true keeps a downloaded file in the Cache API (source.js).
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
  if (!(kernel in KERNELS)) fail('MG_EINVAL', `load: kernel must be one of ${Object.keys(KERNELS).join(', ')}, got ${kernel}`);
  const threads = await resolveThreads(o.threads, 'load');
  const [rt, bytes] = await Promise.all([getRuntime(threads), readSource(source, o)]);
  if (o.signal?.aborted) throw new MingruError('MG_EABORTED', 'load was aborted', { cause: o.signal.reason });
  // The file is copied into the engine's memory (F32 and I8 weights are used there in place; F16/BF16 ones are
  // converted to F32 copies), which wasm32 caps at 2 GB: see docs/robustness.md for the largest loadable model.
  const tooLarge = (what) => new MingruError('MG_ENOMEM', `load: ${what}: the model file is ${bytes.length} bytes ` +
    `(${(bytes.length / 2 ** 30).toFixed(2)} GiB) and WebAssembly memory is limited to ${MEMORY_LIMIT / 2 ** 30} GiB ` +
    '(wasm32), which must hold the file, the F32 copies of F16/BF16 weights and the working buffers');
  if (bytes.length >= MEMORY_LIMIT) throw tooLarge('too large');
  let buf;
  try {
    buf = rt.pushBytes(bytes);
  } catch (e) {
    throw e.code === 'MG_ENOMEM' ? tooLarge('out of memory copying it in') : e;
  }
  let ptr;
  try {
    ptr = rt.handleOut((out) => rt.check(rt.mod._mgw_model_load(buf, bytes.length, KERNELS[kernel], out), 'load'));
  } catch (e) {
    rt.free(buf); // on failure the engine did not take the buffer
    throw e.code === 'MG_ENOMEM' ? tooLarge(e.message.replace(/^load: /, '')) : e;
  }
  return new Model(rt, ptr);
}
