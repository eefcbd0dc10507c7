// worker.js — the engine's side of the browser worker: a plain message protocol over the same classes
// Node uses directly. The page talks to it through client.js; it never blocks the page's thread.
//
// Requests (page -> worker), each with a numeric id:
//   { op: 'load', source, options }            -> { handle, info }   (progress: { id, progress })
//   { op: 'layer', cell, options, handle }     -> { info }
//   { op: 'call', handle, method, args, newHandle? } -> the method's result (a new State is stored as newHandle)
//   { op: 'generate', handle, prompt, options } -> pieces { id, piece }, then the state's token count
//   { op: 'abort', target }                    aborts request `target` (a load, a generate, or a call whose
//                                              last argument has signal: true, as forward's options may)
// Replies: { id, ok } or { id, error: { code, message } }. Handles are chosen by the page.
import { MinGRU, MinLSTM } from './layer.js';
import { load, State } from './model.js';

const objects = new Map(); // handle -> Model | State | layer
const aborts = new Map(); // request id -> AbortController

function reply(id, ok, transfer = []) {
  self.postMessage({ id, ok }, transfer);
}

function buffersOf(value) {
  if (ArrayBuffer.isView(value)) return [value.buffer];
  if (value && typeof value === 'object') return Object.values(value).flatMap(buffersOf);
  return [];
}

function object(handle) {
  const o = objects.get(handle);
  if (!o) throw Object.assign(new Error('the object was disposed'), { code: 'MG_EDISPOSED' });
  return o;
}

/** Arguments may name states by handle: { state: 7 } becomes the State; { signal: true } becomes `signal`. */
function withStates(options, signal) {
  if (!options || typeof options !== 'object') return options;
  const o = options.signal === true ? { ...options, signal } : options;
  return typeof o.state === 'number' ? { ...o, state: object(o.state) } : o;
}

function modelInfo(lm) {
  return { config: lm.config, metadata: lm.metadata, identity: lm.identity, backend: lm.backend };
}

const ops = {
  async load(id, { source, options }) {
    const controller = new AbortController();
    aborts.set(id, controller);
    try {
      const lm = await load(source, { ...options, signal: controller.signal, onProgress: (progress) => self.postMessage({ id, progress }) });
      return { info: modelInfo(lm), model: lm };
    } finally {
      aborts.delete(id);
    }
  },

  async layer(id, { cell, options }) {
    const layer = await (cell === 'MinGRU' ? MinGRU : MinLSTM).create(options);
    return { info: { cell: layer.cell, dim: layer.dim, dimInner: layer.dimInner, expansionFactor: layer.expansionFactor, backend: layer.backend }, model: layer };
  },

  async call(id, { handle, method, args, newHandle }) {
    const target = object(handle);
    const controller = new AbortController();
    aborts.set(id, controller);
    let result;
    try {
      result = await target[method](...args.map((a, i) => (i === args.length - 1 ? withStates(a, controller.signal) : a)));
    } finally {
      aborts.delete(id);
    }
    if (result instanceof State) {
      objects.set(newHandle, result);
      return { tokens: result.tokens };
    }
    if (method === 'dispose') objects.delete(handle); // a disposed model's states refuse use by themselves
    const state = args.at(-1)?.state;
    return { value: result, tokens: typeof state === 'number' ? object(state).tokens : target instanceof State ? target.tokens : undefined };
  },

  async generate(id, { handle, prompt, options }) {
    const controller = new AbortController();
    aborts.set(id, controller);
    try {
      const o = withStates(options);
      for await (const piece of object(handle).generate(prompt, { ...o, signal: controller.signal })) self.postMessage({ id, piece });
      return { tokens: o.state ? o.state.tokens : undefined };
    } finally {
      aborts.delete(id);
    }
  },
};

self.onmessage = async ({ data }) => {
  const { id, op } = data;
  if (op === 'abort') {
    aborts.get(data.target)?.abort();
    return;
  }
  try {
    const result = await ops[op](id, data);
    if (result.model) {
      objects.set(data.handle, result.model);
      reply(id, { info: result.info });
    } else {
      reply(id, result, buffersOf(result.value));
    }
  } catch (e) {
    self.postMessage({ id, error: { code: e.code ?? 'MG_EWORKER', message: e.message } });
  }
};
