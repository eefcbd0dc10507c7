// client.js — the page's side of the browser worker (worker.js): the same API as in Node, every call a
// message. The worker is started on first use, from a URL next to this module (bundlers resolve it).
// The page's thread never waits on Atomics: it only posts messages and awaits replies.
import { MingruError, fail } from './errors.js';
import { readSource } from './source.js';
import { decodeBytes, encodeBytes, needBytes } from './tokenizer.js';

let worker = null;
let nextId = 1;
let nextHandle = 1;
const pending = new Map(); // request id -> { resolve, reject, onProgress, onPiece }

function startWorker() {
  if (worker) return worker;
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'mingru' });
  worker.onmessage = ({ data }) => {
    const p = pending.get(data.id);
    if (!p) return;
    if (data.progress) return p.onProgress?.(data.progress);
    if ('piece' in data) return p.onPiece?.(data.piece);
    pending.delete(data.id);
    if (data.error) p.reject(new MingruError(data.error.code, data.error.message));
    else p.resolve(data.ok);
  };
  worker.onerror = (e) => {
    const error = new MingruError('MG_ELOAD', `the mingru worker failed: ${e.message ?? 'could not start'}`);
    for (const p of pending.values()) p.reject(error);
    pending.clear();
    worker = null;
  };
  return worker;
}

/** Posts a request; resolves with its reply. */
function request(message, hooks = {}, transfer = []) {
  const id = nextId++;
  const promise = new Promise((resolve, reject) => pending.set(id, { resolve, reject, ...hooks }));
  try {
    startWorker().postMessage({ ...message, id }, transfer);
  } catch (e) {
    pending.get(id).reject(new MingruError('MG_EINVAL', `${message.method ?? message.op}: an argument cannot be sent to the worker (${e.message})`));
    pending.delete(id);
  }
  return { id, promise };
}

const call = (handle, method, args, extra = {}) => request({ op: 'call', handle, method, args, ...extra }).promise;

/** Options with a State replaced by its handle (checked to belong to `model`). */
function stateArg(model, options, what) {
  if (!options || options.state === undefined) return { options, state: null };
  const { state } = options;
  if (!(state instanceof State)) fail('MG_EINVAL', `${what}: state must be a State from createState()`);
  state._check(model, what);
  return { options: { ...options, state: state._handle }, state };
}

export class State {
  #model;
  #disposed = false;
  busy = false;

  /** @internal */
  constructor(model, handle, tokens) {
    this.#model = model;
    this._handle = handle;
    this._tokens = tokens;
  }

  /** @internal */
  _check(model, what) {
    if (this.#disposed) fail('MG_EDISPOSED', `${what}: the state was disposed`);
    this.#model._live(what);
    if (model && model !== this.#model) fail('MG_EMISMATCH', `${what}: the state belongs to another model`);
    if (this.busy) fail('MG_EBUSY', `${what}: a generate() is running on this state`);
  }

  get tokens() {
    if (this.#disposed) fail('MG_EDISPOSED', 'state.tokens: the state was disposed');
    return this._tokens;
  }

  clone() {
    this._check(null, 'state.clone');
    const h = nextHandle++;
    call(this._handle, 'clone', [], { newHandle: h }).catch(() => {});
    return new State(this.#model, h, this._tokens);
  }

  reset() {
    this._check(null, 'state.reset');
    call(this._handle, 'reset', []).catch(() => {});
    this._tokens = 0;
  }

  async save() {
    this._check(null, 'state.save');
    return (await call(this._handle, 'save', [])).value;
  }

  dispose() {
    if (this.#disposed) return;
    if (this.busy) fail('MG_EBUSY', 'state.dispose: a generate() is running on this state');
    this.#disposed = true;
    call(this._handle, 'dispose', []).catch(() => {});
  }
}

export class Model {
  #disposed = false;

  /** @internal */
  constructor(handle, info) {
    this._handle = handle;
    Object.assign(this, info); // config, metadata, identity, backend
  }

  /** @internal */
  _live(what) {
    if (this.#disposed) fail('MG_EDISPOSED', `${what}: the model was disposed`);
  }

  createState() {
    this._live('createState');
    const h = nextHandle++;
    call(this._handle, 'createState', [], { newHandle: h }).catch(() => {});
    return new State(this, h, 0);
  }

  /** Checks the saved state's header here (identity, sizes), so a wrong one is refused at once. */
  loadState(bytes) {
    this._live('loadState');
    if (!(bytes instanceof Uint8Array)) fail('MG_EINVAL', 'loadState: bytes must be a Uint8Array');
    if (bytes.length < 44 || String.fromCharCode(...bytes.subarray(0, 4)) !== 'MGST') fail('MG_EBADFILE', 'loadState: not a saved mingru state');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const identity = view.getUint32(12, true).toString(16).padStart(8, '0') + view.getUint32(8, true).toString(16).padStart(8, '0');
    if (identity !== this.identity) fail('MG_EMISMATCH', `loadState: the state belongs to another model (identity ${identity}, this model is ${this.identity})`);
    const h = nextHandle++;
    call(this._handle, 'loadState', [bytes.slice()], { newHandle: h }).catch(() => {});
    return new State(this, h, Number(view.getBigUint64(36, true)));
  }

  /** With a signal, an abort is passed on to the worker, which rejects with MG_EABORTED (state as it was). */
  async forward(tokens, options = {}) {
    this._live('forward');
    const { signal, ...rest } = options ?? {};
    if (signal !== undefined && !(signal instanceof AbortSignal)) fail('MG_EINVAL', 'forward: signal must be an AbortSignal');
    if (signal?.aborted) throw new MingruError('MG_EABORTED', 'forward was aborted', { cause: signal.reason });
    const { options: o, state } = stateArg(this, rest, 'forward');
    // `signal: true` asks the worker for an abortable forward
    const { id, promise } = request({ op: 'call', handle: this._handle, method: 'forward', args: [tokens, { ...o, signal: signal ? true : undefined }] });
    const onAbort = () => worker?.postMessage({ op: 'abort', target: id });
    signal?.addEventListener('abort', onAbort, { once: true });
    if (state && signal) state.busy = true;
    try {
      const r = await promise;
      if (state) state._tokens = r.tokens;
      return r.value;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (state && signal) state.busy = false;
    }
  }

  async step(token, options = {}) {
    this._live('step');
    const { options: o, state } = stateArg(this, options, 'step');
    const r = await call(this._handle, 'step', [token, o ?? {}]);
    if (state) state._tokens = r.tokens;
    return r.value;
  }

  encode(text) {
    this._live('encode');
    needBytes(this.config, 'encode');
    return encodeBytes(text);
  }

  decode(tokens) {
    this._live('decode');
    needBytes(this.config, 'decode');
    return decodeBytes(tokens);
  }


  /** As in Node: an async iterator of text pieces; the pieces are produced in the worker. */
  async *generate(prompt, options = {}) {
    this._live('generate');
    const { signal, ...rest } = options ?? {};
    if (signal !== undefined && !(signal instanceof AbortSignal)) fail('MG_EINVAL', 'generate: signal must be an AbortSignal');
    const { options: o, state } = stateArg(this, rest, 'generate');
    const queue = [];
    let wake = null;
    let finished = null;
    const { id, promise } = request({ op: 'generate', handle: this._handle, prompt, options: o }, {
      onPiece: (piece) => {
        queue.push(piece);
        wake?.();
      },
    });
    promise.then((r) => (finished = { r }), (e) => (finished = { e })).then(() => wake?.());
    const onAbort = () => worker?.postMessage({ op: 'abort', target: id });
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    if (state) state.busy = true;
    try {
      for (;;) {
        if (queue.length) {
          yield queue.shift();
          continue;
        }
        if (finished) break;
        await new Promise((resolve) => (wake = resolve));
        wake = null;
      }
      if (finished.e) throw finished.e;
      if (state) state._tokens = finished.r.tokens;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (state) state.busy = false;
      if (!finished) onAbort(); // the consumer stopped early: stop the worker too
    }
  }

  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    call(this._handle, 'dispose', []).catch(() => {});
  }
}

class Layer {
  #disposed = false;

  /** @internal */
  constructor(handle, info) {
    this._handle = handle;
    Object.assign(this, info); // cell, dim, dimInner, expansionFactor, backend
  }

  static async _create(cell, options) {
    const handle = nextHandle++;
    const { info } = await request({ op: 'layer', cell, options, handle }).promise;
    return new this(handle, info);
  }

  #live(method) {
    if (this.#disposed) fail('MG_EDISPOSED', `${this.cell}.${method}: the layer was disposed`);
  }

  async forward(x, options) {
    this.#live('forward');
    return (await call(this._handle, 'forward', [x, options])).value;
  }

  async step(x, options) {
    this.#live('step');
    return (await call(this._handle, 'step', [x, options])).value;
  }

  async getWeights() {
    this.#live('getWeights');
    return (await call(this._handle, 'getWeights', [])).value;
  }

  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    call(this._handle, 'dispose', []).catch(() => {});
  }
}

export class MinGRU extends Layer {
  static create(options) {
    return Layer._create.call(this, 'MinGRU', options);
  }
}

export class MinLSTM extends Layer {
  static create(options) {
    return Layer._create.call(this, 'MinLSTM', options);
  }
}

/** As in Node; the bytes are read here (with progress) when they are a Response, and the model lives in the worker. */
export async function load(source, options = {}) {
  const o = options ?? {};
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') fail('MG_EINVAL', 'load: onProgress must be a function');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) fail('MG_EINVAL', 'load: signal must be an AbortSignal');
  const { onProgress, signal, ...rest } = o;
  if (rest.fetchOptions && typeof rest.fetchOptions === 'object') {
    // the worker fetches: a Headers object cannot be posted to it (its entries can), and load's own signal
    // stands for fetch's
    const { signal: _, ...fetchOptions } = rest.fetchOptions;
    if (typeof Headers !== 'undefined' && fetchOptions.headers instanceof Headers) fetchOptions.headers = [...fetchOptions.headers];
    rest.fetchOptions = fetchOptions;
  }
  let src = source;
  if (typeof source === 'string' || source instanceof URL) src = new URL(source, globalThis.location?.href).href;
  else if (typeof Response !== 'undefined' && source instanceof Response) src = await readSource(source, { onProgress, signal });
  if (ArrayBuffer.isView(src)) src = new Uint8Array(src.buffer, src.byteOffset, src.byteLength).slice();
  else if (src instanceof ArrayBuffer) src = src.slice(0);
  if (signal?.aborted) throw new MingruError('MG_EABORTED', 'load was aborted', { cause: signal.reason });
  const handle = nextHandle++;
  const { id, promise } = request({ op: 'load', source: src, options: rest, handle }, { onProgress });
  const onAbort = () => worker?.postMessage({ op: 'abort', target: id });
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const { info } = await promise;
    return new Model(handle, info);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
