// worker.js — the engine's side of the browser worker: it runs the same classes as Node (model.js, layer.js) and
// answers the page's proxies (client.js) over a plain message protocol. Every argument is checked here, once, by
// those classes; the page never blocks.
//
// Requests (page -> worker), each with a numeric id:
//   { op: 'create', id, handle, what: 'load' | 'create' | 'MinGRU' | 'MinLSTM', args }   -> { info }
//   { op: 'call', id, handle, method, args, newHandle? }
//       -> { value, tokens }, or for a method that makes a State, a Trainer or a Predictor (kept as newHandle) { tokens }; an
//          async iterator (generate, train) first streams { id, pieces } messages (its pieces in order, a message at
//          most every 8 ms: a message per token cost a tenth of the demo model's generate)
//   { op: 'abort', target }   aborts request `target` (its { $signal: true } argument)
//   { op: 'lane', buffer }   first, in a cross-origin isolated page: a model's steps may then come by lane.js
//   { op: 'pool', id, ports } or { op: 'pool', id, error } or { op: 'pool', id, index, error }: the answer to the
//       worker's { pool: { id, url, count } }: the page starts the thread pool's workers (runtime.js startPoolWith says
//       why) and sends a MessagePort to each, or why it could not; later, the error of worker `index`
// The worker's first message is { ready: true }, once its modules have loaded: a page that gets an error event
// first knows the worker cannot run (client.js then runs the engine on the page itself). In Firefox it may ask the
// page for its thread pool's workers ({ pool: { id, url, count } }, answered by { op: 'pool' } above) and end them
// ({ poolEnd: id }) if the build does not start.
// In arguments, { $state: handle } stands for a State, { $signal: true } for an AbortSignal the page holds, and
// { $callback: true } for a function (onProgress): the worker calls it by posting { id, callback: value }.
// Replies: { id, ok } or { id, error: { code, message } }; `tokens` maps the handle of every State the call touched
// to its token count (the page's proxies keep it for their `tokens` getter). Handles are chosen by the page.
import { MinGRU, MinLSTM } from './layer.js';
import { Model, create, load, State } from './model.js';
import { workerLane } from './lane.js';
import { Trainer } from './train.js';
import { Predictor } from './predict.js';
import { startPoolWith } from './runtime.js';
import { MingruError } from './errors.js';

const objects = new Map(); // handle -> Model | State | Trainer | Predictor | layer
const handles = new WeakMap(); // and back

function keep(handle, o) {
  objects.set(handle, o);
  handles.set(o, handle);
}
const aborts = new Map(); // request id -> AbortController
let lane = null; // lane.js: the page's steps without postMessage, after a step while nothing else runs
const pools = new Map(); // id of a request to the page for pool workers -> { resolve, reject, onError }
let nextPool = 1;

// the thread pool's workers are started by the page, not here, in Firefox (runtime.js startPoolWith)
startPoolWith((url, count, onError) => {
  const id = nextPool++;
  const ports = new Promise((resolve, reject) => pools.set(id, { resolve, reject, onError }));
  self.postMessage({ pool: { id, url, count } });
  const end = () => {
    pools.delete(id);
    self.postMessage({ poolEnd: id });
  };
  return { ports, end };
});

function poolAnswer({ id, ports, index, error }) {
  const p = pools.get(id);
  if (!p) return;
  if (index !== undefined) return p.onError(index, error);
  if (error !== undefined) {
    pools.delete(id);
    return p.reject(new MingruError('MG_ELOAD', `a worker of its thread pool failed to start (${error})`));
  }
  p.resolve(ports); // kept: a worker's error may follow
}

const CREATE = { load, create, MinGRU: (options) => MinGRU.create(options), MinLSTM: (options) => MinLSTM.create(options) };

function object(handle) {
  const o = objects.get(handle);
  if (!o) throw Object.assign(new Error('the object was disposed, or the call that made it failed'), { code: 'MG_EDISPOSED' });
  return o;
}

/** An argument as the page sent it, with the stand-ins of the protocol replaced (one level into option objects). */
function decode(value, id, controller) {
  const one = (v) => {
    if (v?.$state !== undefined) return object(v.$state);
    if (v?.$signal) return controller.signal;
    if (v?.$callback) return (arg) => self.postMessage({ id, callback: arg });
    return v;
  };
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || value.$state !== undefined) return one(value);
  return Object.getPrototypeOf(value) === Object.prototype ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, one(v)])) : value;
}

/** handle -> token count of every State among `things` (the call's target and arguments). */
function tokenCounts(things) {
  const counts = {};
  for (const o of things) {
    if (!(o instanceof State) || !handles.has(o)) continue;
    try {
      counts[handles.get(o)] = o.tokens;
    } catch {} // disposed meanwhile: its proxy says so itself
  }
  return counts;
}

function buffersOf(value) {
  if (ArrayBuffer.isView(value)) return [value.buffer];
  if (value && typeof value === 'object') return Object.values(value).flatMap(buffersOf);
  return [];
}

function info(o) {
  if (o instanceof MinGRU || o instanceof MinLSTM) {
    return { cell: o.cell, dim: o.dim, dimInner: o.dimInner, expansionFactor: o.expansionFactor, backend: o.backend };
  }
  // the tokenizer's file, for the page's encode() and decode() (the byte-level one needs none)
  return { config: o.config, metadata: o.metadata, identity: o.identity, backend: o.backend, tokenizerSource: o.tokenizer?.source ?? null };
}

const ops = {
  async create(id, { handle, what, args }, controller) {
    const made = await CREATE[what](...args.map((a) => decode(a, id, controller)));
    keep(handle, made);
    return { info: info(made) };
  },

  async call(id, { handle, method, args, newHandle }, controller) {
    const target = object(handle);
    const decoded = args.map((a) => decode(a, id, controller));
    // the States among the call's target, its arguments and their options (not the elements of an array: a layer's
    // input of millions of floats listed one by one cost as much garbage collection as the layer's forward)
    const plain = (a) => a !== null && typeof a === 'object' && Object.getPrototypeOf(a) === Object.prototype;
    const states = [target, ...decoded.flatMap((a) => (plain(a) ? Object.values(a) : [a]))];
    let value = target[method](...decoded);
    if (value?.[Symbol.asyncIterator]) {
      let pieces = [], posted = -Infinity;
      try {
        for await (const piece of value) {
          pieces.push(piece);
          if (performance.now() - posted < 8) continue;
          self.postMessage({ id, pieces });
          pieces = [], posted = performance.now();
        }
      } finally {
        if (pieces.length) self.postMessage({ id, pieces }); // before the reply or the error
      }
      value = undefined;
    } else {
      value = await value;
    }
    if (value instanceof State || value instanceof Trainer || value instanceof Predictor) {
      keep(newHandle, value);
      return { tokens: value instanceof State ? { [newHandle]: value.tokens } : {} };
    }
    const tokens = tokenCounts(states);
    if (method === 'dispose') objects.delete(handle); // its proxy refuses later calls itself
    return { value, tokens };
  },
};

/** A step that came by the lane, run as a posted one. */
const laneStep = (handle, token, state) =>
  ops.call(0, { handle, method: 'step', args: [token, state ? { state: { $state: state } } : undefined] }, new AbortController());

self.onmessageerror = () => lane?.received(); // a message the page posted (and counted) that could not be read
self.onmessage = async ({ data }) => {
  const { id, op } = data;
  if (op === 'lane') {
    lane = workerLane(data.buffer);
    return;
  }
  lane?.received();
  if (op === 'pool') return poolAnswer(data);
  if (op === 'abort') {
    aborts.get(data.target)?.abort();
    return;
  }
  const controller = new AbortController();
  aborts.set(id, controller);
  let listen = false;
  try {
    const ok = await ops[op](id, data, controller);
    // after a model's step, with nothing else running, the worker listens on the lane from before the page has
    // the reply, so that the page's next step finds it listening
    listen = lane !== null && aborts.size === 1 && data.method === 'step' && objects.get(data.handle) instanceof Model && lane.open();
    self.postMessage({ id, ok }, buffersOf(ok.value));
  } catch (e) {
    self.postMessage({ id, error: { code: e.code ?? 'MG_EWORKER', message: e.message } });
  } finally {
    aborts.delete(id);
  }
  if (listen) lane.listen(laneStep);
};

self.postMessage({ ready: true });
