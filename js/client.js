// client.js — the page's side of the browser worker (worker.js): the API's classes as thin proxies. Each method
// posts its call to the worker, where the same classes as in Node check the arguments and run it; the result or
// the error comes back as it is. A method that makes an object and returns at once (createState, loadState,
// clone) gives a proxy whose calls wait for the worker to have made it, and reject with its error if it could
// not. The proxies keep only what the API reads without waiting: a model's config, a state's token count as the
// worker last reported it, whether they are disposed or busy.
import { MingruError, fail } from './errors.js';
import { readSource } from './source.js';
import { BYTES, tokenizerFrom, withTokenizer } from './tokenizer.js';
import { laneMissing, pageLane } from './lane.js';
import { poolWorkerUrl } from './runtime.js';
import { predictorModel, predictorOptions } from './predict.js';

const WORKER_START = 30000; // ms for the worker to load its modules and say it is ready
let worker = null;
let started = null; // settles when the worker has said it is ready: null, or why it cannot run
let broken = null; // why the worker could not start, once it has failed: the engine runs on the page from then on
let lane = null; // lane.js: steps without postMessage, where the page is cross-origin isolated
let nextId = 1;
let nextHandle = 1;
const pending = new Map(); // request id -> { resolve, reject, onPiece, callback }
const states = new Map(); // handle -> State, to take the token counts of replies
const trainers = new Set(); // and predictors: disposed with their model
export const laneCount = { steps: 0 }; // steps answered by the lane (tests/browser/engine.html reads it)
const poolWorkers = new Map(); // the workers of the worker's thread pools, which the page starts (startPool), by id

/** Ends the workers of pool `id` (or of every pool). */
function endPool(id) {
  for (const [key, workers] of poolWorkers) {
    if (id !== undefined && key !== id) continue;
    for (const w of workers) w.terminate();
    poolWorkers.delete(key);
  }
}

/** The worker's { pool: { id, url, count } }: starts `count` workers of its thread pool here, each from
 * poolWorkerUrl(url, true) with a MessagePort to the worker, and posts it the ports, or why they could not be
 * started, or later an error of one (runtime.js startPoolWith: a worker that starts workers itself hung in Firefox);
 * { poolEnd: id } ends them (a build that did not start). */
function startPool({ id, url, count }) {
  const ports = [], workers = [];
  poolWorkers.set(id, workers);
  try {
    const boot = poolWorkerUrl(url, true);
    for (let index = 0; index < count; index++) {
      const w = new Worker(boot, { name: 'mingru pool' });
      workers.push(w);
      w.onerror = (e) => {
        e.preventDefault(); // the worker reports it (runtime.js)
        if (worker) post({ op: 'pool', id, index, error: e.message ?? 'no message' });
      };
      const { port1, port2 } = new MessageChannel();
      w.postMessage({ port: port1 }, [port1]);
      ports.push(port2);
    }
  } catch (e) {
    endPool(id);
    post({ op: 'pool', id, error: e.message });
    return;
  }
  post({ op: 'pool', id, ports }, ports);
}

/** Ends the worker and the workers of its pool. */
function endWorker() {
  worker?.terminate();
  endPool();
  worker = lane = null;
}

function startWorker() {
  if (worker) return worker;
  let answer, answered = false;
  started = new Promise((resolve) => (answer = resolve));
  const ready = (why) => {
    if (answered) return; // an error after the worker said it was ready is a failure of a call (onerror), not of the start
    answered = true;
    answer(why);
    if (why === null || broken) return;
    broken = why; // a worker that cannot start is not tried again: the engine runs on the page
    endWorker();
  };
  const timer = setTimeout(() => ready(`it did not start in ${WORKER_START / 1000} s`), WORKER_START);
  started.then(() => clearTimeout(timer));
  try {
    worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'mingru' });
  } catch (e) {
    ready(`a module worker cannot be started here (${e.message})`);
    throw e;
  }
  worker.onmessage = ({ data }) => {
    if (data.ready) return ready(null);
    if (data.pool) return startPool(data.pool);
    if ('poolEnd' in data) return endPool(data.poolEnd);
    const p = pending.get(data.id);
    if ('callback' in data) return p?.callback?.(data.callback);
    if ('pieces' in data) return data.pieces.forEach((piece) => p?.onPiece?.(piece));
    settle(data.id, data);
  };
  worker.onerror = (e) => {
    ready(`it failed as it started (${e.message ?? 'no message: the script could not be loaded or run'})`);
    const error = new MingruError('MG_ELOAD', `the mingru worker failed: ${e.message ?? 'could not start'}`);
    for (const p of pending.values()) p.reject(error);
    pending.clear();
    endWorker();
  };
  lane = pageLane();
  if (lane) worker.postMessage({ op: 'lane', buffer: lane.buffer });
  return worker;
}

/** Posts a message to the worker (started if need be) and counts it for the lane (after: one that cannot be sent
 * does not count; the worker cannot read it before it leaves the lane, which the count makes it do). */
function post(message, transfer) {
  startWorker().postMessage(message, transfer);
  lane?.posting();
}

/** The reply { ok } or { error } of request `id`, by message or by the lane. */
function settle(id, { ok, error }) {
  const p = pending.get(id);
  if (!p) return;
  pending.delete(id);
  if (error) return p.reject(new MingruError(error.code, error.message));
  for (const [handle, tokens] of Object.entries(ok.tokens ?? {})) states.get(Number(handle))?._report(tokens, id);
  p.resolve(ok);
}

/** An argument as the worker takes it: a State by its handle, an AbortSignal and a function by stand-ins (one
 * level into option objects). Returns it with the signal and the callback it stood for. */
function encode(value) {
  let signal, callback;
  const one = (v) => {
    if (v instanceof State) return { $state: v._handle };
    if (v instanceof AbortSignal) return (signal = v), { $signal: true };
    if (typeof v === 'function') return (callback = v), { $callback: true };
    return v;
  };
  const isOptions = value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype;
  const encoded = isOptions ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, one(v)])) : one(value);
  return { encoded, signal, callback };
}

/** Posts a request whose arguments are encoded; an abort of their signal is passed on. Resolves with the reply.
 * A model's step (hooks.numOutputs given) goes by the lane instead when it can. */
async function request(message, args = [], { onPiece, numOutputs } = {}) {
  const id = nextId++;
  const parts = args.map(encode);
  const signal = parts.find((p) => p.signal)?.signal;
  const callback = parts.find((p) => p.callback)?.callback;
  const promise = new Promise((resolve, reject) => pending.set(id, { resolve, reject, onPiece, callback }));
  const byLane = numOutputs !== undefined && pending.size === 1 ? stepByLane(message.handle, parts, numOutputs) : undefined;
  if (byLane) {
    byLane.then((ok) => settle(id, { ok }), (error) => settle(id, { error }));
  } else {
    try {
      post({ ...message, id, args: parts.map((p) => p.encoded) });
    } catch (e) {
      pending.get(id).reject(new MingruError('MG_EINVAL', `${message.method ?? message.what}: an argument cannot be sent to the worker (${e.message})`));
      pending.delete(id);
    }
  }
  const onAbort = () => worker && post({ op: 'abort', target: id });
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  try {
    return await promise;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** step(token, options) by the lane when no other call is on its way (the caller checks) and its options hold at
 * most a state: the promise of the reply, or undefined (then it is posted; the worker checks what the lane does not
 * take, such as a token that is not an integer). */
function stepByLane(handle, [token, options], numOutputs) {
  const o = options?.encoded;
  if (!lane || (o !== undefined && (o === null || typeof o !== 'object' || Object.keys(o).some((k) => k !== 'state')))) return undefined;
  if (o?.state !== undefined && o.state?.$state === undefined) return undefined;
  const reply = lane.step(handle, token.encoded, o?.state?.$state ?? 0, numOutputs);
  if (reply) laneCount.steps++;
  return reply;
}

/** Why the page's worker cannot run, or null once it has said it is ready (it is started if need be). */
async function workerMissing() {
  if (broken) return broken;
  try {
    startWorker();
  } catch {
    // started says why
  }
  return started;
}

/** Where no worker can run (a page whose policy forbids workers, an engine without module workers): the engine's own
 * classes on the page's main thread, one thread (the page pauses during long calls), `backend.fallbacks` saying so.
 * make(engineSide) makes the object with model.js and layer.js. */
async function onThePage(why, make) {
  const [model, layer] = await Promise.all([import('./model.js'), import('./layer.js')]);
  const made = await make({ ...model, ...layer });
  const fallback = `worker: ${why}; the engine runs on the page's main thread, on one thread (long calls pause the page)`;
  made.backend = Object.freeze({ ...made.backend, fallbacks: Object.freeze([...made.backend.fallbacks, fallback]) });
  return made;
}

/** Options with threads: 1 (the engine on the main thread); what is not an options object as it is, to be refused. */
const oneThread = (options) => (options === undefined ? { threads: 1 }
  : options !== null && typeof options === 'object' ? { ...options, threads: 1 } : options);

/** A backend the worker reported, with what the page itself lacks (the lane for steps). */
function pageBackend(backend) {
  const why = laneMissing();
  if (!why) return backend;
  return Object.freeze({ ...backend, fallbacks: Object.freeze([...backend.fallbacks, `lane: ${why}; step() calls go by postMessage`]) });
}

/** What every proxy shares: its handle, whether it is disposed, and the chain of its calls that return at once. */
class Remote {
  #ready; // settles when the worker has made this object and done the calls that returned at once
  #disposed = false;

  constructor(handle, ready) {
    this._handle = handle;
    this.#ready = ready;
    ready.catch(() => {}); // its error is reported by the next call (see #turn), not as unhandled
  }

  /** @internal throws, as the worker would, if `method` is called after dispose() */
  _live(method) {
    if (!this.#disposed) return;
    const [prefix, noun] = this instanceof State ? ['state.', 'state'] : this instanceof Model ? ['', 'model']
      : this instanceof Trainer ? ['trainer.', 'trainer'] : this instanceof Predictor ? ['predictor.', 'predictor']
      : [`${this.cell}.`, 'layer'];
    fail('MG_EDISPOSED', `${prefix}${method}: the ${noun} was disposed`);
  }

  /** The calls before this one, to wait for: rejects (once) with the error of the first that failed. The next call
   * waits for `sent`, so that every call is sent after the ones made before it. */
  #turn(sent) {
    const ready = this.#ready;
    this.#ready = ready.then(() => sent, () => sent);
    return ready;
  }

  /** @internal a call of `method` in the worker, after the earlier ones on this object and on a state given as an
   * option (its places in line are taken at once); it does not wait for their replies */
  async _call(method, args = [], hooks) {
    this._live(method);
    let isSent;
    const sent = new Promise((resolve) => (isSent = resolve));
    try {
      await Promise.all([this.#turn(sent), ...args.filter((a) => a?.state instanceof State).map((a) => a.state.#turn(sent))]);
      return request({ op: 'call', handle: this._handle, method }, args, hooks); // posted (or on the lane) at once
    } finally {
      isSent();
    }
  }

  /** @internal a call that returns at once: chained, its error goes to the next call */
  _then(method, args = []) {
    const send = () => request({ op: 'call', handle: this._handle, method }, args);
    // sent after the earlier ones even if one failed (a dispose must reach the worker); the first error is kept
    this.#ready = this.#ready.then(send, (e) => send().then(() => Promise.reject(e), () => Promise.reject(e)));
    this.#ready.catch(() => {});
  }

  /** @internal a call that makes a State (or, with Class, a Trainer) and returns it at once */
  _make(method, args, tokens, Class = State) {
    const handle = nextHandle++;
    const made = this.#ready.then(() => request({ op: 'call', handle: this._handle, method, newHandle: handle }, args));
    return new Class(this instanceof State ? this._model : this, handle, made, tokens);
  }

  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    this._then('dispose');
    if (this instanceof Model) for (const s of [...states.values(), ...trainers]) if (s._model === this) s._drop(); // as in the worker
  }

  /** @internal disposed with its model */
  _drop() {
    this.#disposed = true;
    states.delete(this._handle);
  }
}

export class State extends Remote {
  busy = false; // true while a generate() or a forward() with a signal runs on it (then the worker refuses calls)
  #tokens;
  #reportedBy = 0; // the request whose reply gave #tokens

  /** @internal */
  constructor(model, handle, ready, tokens) {
    super(handle, ready);
    this._model = model;
    this.#tokens = tokens;
    states.set(handle, this);
  }

  /** @internal a count from the worker, in the reply to request `id` (a lane's reply and a later message's may
   * arrive in either order: the later request's count stands) */
  _report(tokens, id) {
    if (id < this.#reportedBy) return;
    this.#reportedBy = id;
    this.#tokens = tokens;
  }

  /** Tokens the state has read, as the worker last reported (after loadState: undefined until it has read the bytes). */
  get tokens() {
    this._live('tokens');
    return this.#tokens;
  }

  clone() {
    this._live('clone');
    return this._make('clone', [], this.#tokens);
  }

  reset() {
    this._live('reset');
    this._then('reset');
    this.#tokens = 0;
  }

  async save() {
    return (await this._call('save')).value;
  }

  dispose() {
    if (this.busy) fail('MG_EBUSY', 'state.dispose: a generate() or forward() is running on this state');
    super.dispose();
    states.delete(this._handle);
  }
}

/** Marks the option's state busy while `promise` runs. */
async function busyWhile(state, promise) {
  if (state instanceof State) state.busy = true;
  try {
    return await promise;
  } finally {
    if (state instanceof State) state.busy = false;
  }
}

export class Model extends Remote {
  /** @internal */
  constructor(handle, info) {
    super(handle, Promise.resolve());
    const { tokenizerSource, ...rest } = info;
    Object.assign(this, rest, { backend: pageBackend(info.backend) }); // config, metadata, identity, backend
    /** As in Node: the tokenizer of encode() and decode(), parsed here from the worker's copy of its file. */
    this.tokenizer = tokenizerSource ? tokenizerFrom(tokenizerSource, 'load: tokenizer') : this.config.tokenizer === 'bytes' ? BYTES : null;
  }

  createState() {
    this._live('createState');
    return this._make('createState', [], 0);
  }

  loadState(bytes) {
    this._live('loadState');
    return this._make('loadState', [bytes], undefined);
  }

  /** With a signal, an abort is passed on to the worker, which rejects with MG_EABORTED (the state as it was). */
  async forward(tokens, options) {
    const call = this._call('forward', [tokens, options]);
    return (await (options?.signal ? busyWhile(options.state, call) : call)).value;
  }

  async step(token, options) {
    return (await this._call('step', [token, options], { numOutputs: this.config.numOutputs })).value;
  }

  async evaluate(data, options) {
    return (await busyWhile(options?.state, this._call('evaluate', [data, options]))).value;
  }

  /** As in Node: an async iterator of text pieces, made in the worker. Stopping the iteration stops the worker. */
  generate(prompt, options) {
    return stream(this, 'generate', prompt, options);
  }

  /** As in Node: an async iterator of progress objects; the steps run in the worker on its thread pool. */
  train(data, options) {
    return stream(this, 'train', data, options);
  }

  trainer(options) {
    this._live('trainer');
    return this._make('trainer', [options], undefined, Trainer);
  }

  /** As in Node: its options and the model are checked here, and it is made in the worker. */
  predictor(options) {
    this._live('predictor');
    predictorOptions(options);
    predictorModel(this);
    return this._make('predictor', [options], undefined, Predictor);
  }

  async compress(data, options) {
    return (await this._call('compress', [data, options])).value;
  }

  async decompress(file, options) {
    return (await this._call('decompress', [file, options])).value;
  }

  async save(options) {
    return (await this._call('save', [options])).value;
  }
}
withTokenizer(Model);

/** The pieces of an async iterator that runs in the worker (generate, train). Stopping the iteration stops it there. */
async function* stream(model, method, first, options) {
  const stop = new AbortController(); // aborted by the caller's signal, or when the iteration stops early
  const given = options?.signal;
  if (given instanceof AbortSignal) given.aborted ? stop.abort() : given.addEventListener('abort', () => stop.abort(), { once: true });
  const signal = given === undefined || given instanceof AbortSignal ? stop.signal : given; // a wrong one: the worker says so
  const queue = [];
  let wake = null;
  let finished = null;
  const call = model._call(method, [first, { ...options, signal }], { onPiece: (piece) => (queue.push(piece), wake?.()) });
  busyWhile(options?.state, call).then((r) => (finished = { r }), (e) => (finished = { e })).then(() => wake?.());
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
  } finally {
    if (!finished) {
      // the consumer stopped early: stop the worker too, and end when it has (as in Node, the state is free again
      // once the loop is left: a call right after a break is not refused as busy, however fast the engine)
      stop.abort();
      await call.catch(() => {});
    }
  }
}

/** A trainer in the worker: step() runs there, on the thread pool. */
export class Trainer extends Remote {
  /** @internal */
  constructor(model, handle, ready) {
    super(handle, ready);
    this._model = model;
    trainers.add(this);
  }

  async step(tokens, options) {
    return (await this._call('step', [tokens, options])).value;
  }

  dispose() {
    super.dispose();
    trainers.delete(this);
  }
}

/** A predictor in the worker: its text, states and search are there. A suggestions() that a later call overtakes
 * resolves to [] here at once, as in Node (the worker's own check depends on the order in which it reads its messages,
 * which engines do not all keep between the page's and its own). */
export class Predictor extends Remote {
  #waiting = new Set(); // how to resolve each suggestions() not answered yet

  /** @internal */
  constructor(model, handle, ready) {
    super(handle, ready);
    this._model = model;
    trainers.add(this);
  }

  #overtake() {
    for (const cancel of this.#waiting) cancel([]);
    this.#waiting.clear();
  }

  async input(text) {
    this.#overtake();
    await this._call('input', [text]);
  }

  async delete(n) {
    this.#overtake();
    await this._call('delete', n === undefined ? [] : [n]);
  }

  async set(text) {
    this.#overtake();
    await this._call('set', [text]);
  }

  async suggestions() {
    let cancel;
    const cancelled = new Promise((resolve) => this.#waiting.add((cancel = resolve)));
    try {
      return await Promise.race([this._call('suggestions').then((r) => r.value), cancelled]);
    } finally {
      this.#waiting.delete(cancel);
    }
  }

  dispose() {
    this.#overtake();
    super.dispose();
    trainers.delete(this);
  }
}

class Layer extends Remote {
  /** @internal */
  constructor(handle, info) {
    super(handle, Promise.resolve());
    Object.assign(this, info); // cell, dim, dimInner, expansionFactor, backend
  }

  static async _create(cell, options) {
    const why = await workerMissing();
    if (why) return onThePage(why, (engine) => engine[cell].create(oneThread(options)));
    const handle = nextHandle++;
    const { info } = await request({ op: 'create', what: cell, handle }, [options]);
    return new this(handle, info);
  }

  async forward(x, options) {
    return (await this._call('forward', [x, options])).value;
  }

  async step(x, options) {
    return (await this._call('step', [x, options])).value;
  }

  async getWeights() {
    return (await this._call('getWeights')).value;
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

/** As in Node: a new model, made in the worker. */
export async function create(options) {
  const why = await workerMissing();
  if (why) return onThePage(why, (engine) => engine.create(oneThread(options)));
  const handle = nextHandle++;
  const { info } = await request({ op: 'create', what: 'create', handle }, [options]);
  return new Model(handle, info);
}

const PAGE_WARM_TOKENS = 64; // the page's own warm-up: this many tokens of generate() (else step() calls)

/**
 * After the worker's warm-up (warm.js), a short generate() (or step() calls) from the page, so that the JavaScript on
 * both sides of the worker's messages (a message a piece; the lane's steps) has run before the first real call too.
 * Without it a page's first 256-token generate ran at 0.79 of the later ones in Chromium 156 even after 400 ms of the
 * worker's warm-up; after 64 tokens from the page, at 0.99 (bench/results/warm-2026-12-07.md). Returns its ms.
 */
async function warmPage(lm) {
  const t = performance.now(), { numTokens: V, numOutputs } = lm.config;
  const state = lm.createState();
  try {
    await lm.forward(Int32Array.from({ length: 4 }, (_, i) => (i * 7919 + 1) % V), { state });
    if (lm.tokenizer !== null && numOutputs === V) {
      for await (const _ of lm.generate('', { state, seed: 1, maxTokens: PAGE_WARM_TOKENS })) { /* pieces */ }
    } else {
      for (let i = 0; i < PAGE_WARM_TOKENS; i++) await lm.step((i * 7919 + 1) % V, { state });
    }
  } finally {
    state.dispose();
  }
  return performance.now() - t;
}

/** As in Node, with what a worker cannot be sent made sendable: a relative URL is resolved against the page, a
 * Response is read here (with progress), a Headers object becomes its entries. */
export async function load(source, options) {
  let src = source;
  if (typeof source === 'string' || source instanceof URL) src = new URL(source, globalThis.location?.href).href;
  const t = options?.tokenizer; // a URL of the page's, as load()'s source
  if (typeof t === 'string' || t instanceof URL) options = { ...options, tokenizer: new URL(t, globalThis.location?.href).href };
  else if (typeof Response !== 'undefined' && source instanceof Response) src = await readSource(source, options ?? {});
  let o = options;
  if (o?.fetchOptions && typeof o.fetchOptions === 'object') {
    const { signal: _, ...fetchOptions } = o.fetchOptions; // load's own signal stands for fetch's
    if (typeof Headers !== 'undefined' && fetchOptions.headers instanceof Headers) fetchOptions.headers = [...fetchOptions.headers];
    o = { ...o, fetchOptions };
  }
  const why = await workerMissing();
  if (why) return onThePage(why, (engine) => engine.load(src, oneThread(o)));
  const handle = nextHandle++;
  const { info } = await request({ op: 'create', what: 'load', handle }, [src, o]);
  const model = new Model(handle, info);
  if (model.backend.warm) { // the worker warmed it (warm.js): now the page's side, its time added to the warm-up's
    const ms = await warmPage(model);
    const { warm } = model.backend;
    model.backend = Object.freeze({ ...model.backend, warm: { ...warm, ms: Math.round((warm.ms + ms) * 10) / 10 } });
  }
  return model;
}
