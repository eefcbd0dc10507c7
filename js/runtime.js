// runtime.js — picks a WebAssembly build (single thread or threads; browser or Node glue), loads and instantiates
// it, and hands the module to an Engine (engine.js), which alone calls its exports.
import { Engine } from './engine.js';
import { MingruError } from './errors.js';

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

/** Resolves a macrotask later, so that timers, messages and abort signals run in between: setImmediate in Node,
 * a message to itself in a browser (setTimeout(0) waits at least 1 ms in Node and 4 ms once nested in a browser:
 * a tenth of the time of learning while reading, which yields after every segment). */
export const yieldToEventLoop = typeof setImmediate === 'function' ? () => new Promise((resolve) => setImmediate(resolve)) : (() => {
  const channel = new MessageChannel(), waiting = [];
  channel.port1.onmessage = () => waiting.shift()();
  return () => new Promise((resolve) => {
    waiting.push(resolve);
    channel.port2.postMessage(0);
  });
})();

/** A function to call between pieces of long work: it yields to the event loop at most every 8 ms. */
export function yielder() {
  let last = Date.now();
  return async () => {
    if (Date.now() - last <= 8) return;
    await yieldToEventLoop();
    last = Date.now();
  };
}

async function wasmBytes(url) {
  if (isNode && url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return readFile(url);
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} fetching ${url}`);
  return response.arrayBuffer();
}

/** A CommonJS glue for Node (its package.json says commonjs), given `load(require)` that requires it. The
 * threaded glue takes worker_threads.Worker for its pool: keep the workers it starts, so that once loaded they
 * are unref'd (sleeping pool threads must not keep the process alive). */
async function nodeGlue(load) {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const factory = load(require);
  const threads = require('node:worker_threads');
  return {
    default: async (options) => {
      const started = [];
      const NodeWorker = threads.Worker;
      threads.Worker = class extends NodeWorker {
        constructor(...args) {
          super(...args);
          started.push(this);
        }
      };
      try {
        const mod = await factory(options);
        for (const w of started) w.unref();
        return mod;
      } finally {
        threads.Worker = NodeWorker;
      }
    },
  };
}

// The builds, each with its relaxed-SIMD form (the same C, with the int8 kernel on
// i32x4.relaxed_dot_i8x16_i7x16_add_s), taken only where relaxedSimdWorks() says the engine runs that instruction
// correctly. URLs are written out literally, next to import.meta.url, so that bundlers find the files.
const SHIPPED = {
  single: {
    glue: () => import('../dist/mingru.js'),
    wasm: () => new URL('../dist/mingru.wasm', import.meta.url),
    relaxed: {
      glue: () => import('../dist/mingru-relaxed.js'),
      wasm: () => new URL('../dist/mingru-relaxed.wasm', import.meta.url),
    },
  },
  threads: {
    glue: () => import('../dist/mingru-threads.js'),
    wasm: () => new URL('../dist/mingru-threads.wasm', import.meta.url),
    script: () => new URL('../dist/mingru-threads.js', import.meta.url),
    worker: () => new URL('../dist/mingru-threads.worker.js', import.meta.url),
    relaxed: {
      glue: () => import('../dist/mingru-threads-relaxed.js'),
      wasm: () => new URL('../dist/mingru-threads-relaxed.wasm', import.meta.url),
      script: () => new URL('../dist/mingru-threads-relaxed.js', import.meta.url),
      worker: () => new URL('../dist/mingru-threads-relaxed.worker.js', import.meta.url),
    },
  },
  threadsNode: {
    glue: () => nodeGlue((require) => require('../dist/node/mingru-threads.js')),
    wasm: () => new URL('../dist/node/mingru-threads.wasm', import.meta.url),
    relaxed: {
      glue: () => nodeGlue((require) => require('../dist/node/mingru-threads-relaxed.js')),
      wasm: () => new URL('../dist/node/mingru-threads-relaxed.wasm', import.meta.url),
    },
  },
};

/* A known-answer test of relaxed SIMD: a module whose one function returns lane 0 of
 * i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, c) for the constant vectors below. Validation alone is not enough:
 * Node 20 behind --experimental-wasm-relaxed-simd validates it, but its baseline compiler drops the accumulator. */
const PROBE_A = [-128, 127, -3, 4, 5, -6, 7, -8, 9, -10, 11, -12, 13, -14, 15, -16]; // int8
const PROBE_B = [127, 127, 2, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]; // 7 bits
const PROBE_C = [1000003, 2, 3, 4]; // int32
const v128 = (bytes) => [0xfd, 0x0c, ...bytes];
const i32x4 = (xs) => xs.flatMap((x) => [x & 255, (x >> 8) & 255, (x >> 16) & 255, (x >>> 24) & 255]);
const PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // wasm 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type: () -> i32
  0x03, 0x02, 0x01, 0x00, // function 0 of that type
  0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, // export "f"
  0x0a, 0x40, 0x01, 0x3e, 0x00, // code: one body of 62 bytes, no locals
  ...v128(PROBE_A.map((x) => x & 255)), ...v128(PROBE_B), ...v128(i32x4(PROBE_C)),
  0xfd, 0x93, 0x02, // i32x4.relaxed_dot_i8x16_i7x16_add_s
  0xfd, 0x1b, 0x00, // i32x4.extract_lane 0
  0x0b,
]);
let relaxed;

/* The smallest use of WebAssembly SIMD: a function returning lane 0 of a v128.const. Every build needs SIMD. */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00,
  0x0a, 0x19, 0x01, 0x17, 0x00, ...v128(new Array(16).fill(0)), 0xfd, 0x1b, 0x00, 0x0b,
]);

/** Why this engine cannot run any build (it has no WebAssembly, or no WebAssembly SIMD), or null. */
export function simdMissing() {
  if (typeof WebAssembly !== 'object') return 'this engine has no WebAssembly';
  try {
    return WebAssembly.validate(SIMD_PROBE) ? null : 'this engine has no WebAssembly SIMD';
  } catch (e) {
    return `this engine cannot check for WebAssembly SIMD (${e.message})`;
  }
}

/** Why this engine cannot take the relaxed-SIMD builds, or null when it can: it has relaxed SIMD and computes its
 * 8-bit dot product right (probed once). */
export function relaxedSimdMissing() {
  if (relaxed === undefined) {
    const want = PROBE_C[0] + PROBE_A.slice(0, 4).reduce((s, a, i) => s + a * PROBE_B[i], 0);
    try {
      relaxed = !WebAssembly.validate(PROBE) ? 'this engine has none'
        : new WebAssembly.Instance(new WebAssembly.Module(PROBE)).exports.f() === want ? null
          : 'this engine computes its 8-bit dot product wrongly (a known-answer probe)';
    } catch (e) {
      relaxed = `the known-answer probe failed (${e.message})`;
    }
  }
  return relaxed;
}

/** Whether this engine has relaxed SIMD and computes its 8-bit dot product right (probed once). */
export const relaxedSimdWorks = () => relaxedSimdMissing() === null;

// Tests only, in Node: MINGRU_TEST_BUILD=safe takes the checked builds of dist-safe/ instead: the same C with
// Emscripten's -sASSERTIONS=2 -sSAFE_HEAP=1 (scripts/test-safe.mjs builds them and runs tests on them). Their
// paths are computed, not literals, so that bundlers never look for that directory.
function safeBuilds() {
  const url = (file) => new URL(['..', 'dist-safe', file].join('/'), import.meta.url);
  return {
    single: { glue: () => nodeGlue((require) => require(url('node/mingru.js').pathname)), wasm: () => url('node/mingru.wasm') },
    threadsNode: {
      glue: () => nodeGlue((require) => require(url('node/mingru-threads.js').pathname)),
      wasm: () => url('node/mingru-threads.wasm'),
    },
  };
}
const BUILDS = isNode && process.env.MINGRU_TEST_BUILD === 'safe' ? safeBuilds() : SHIPPED;

/** Why this environment cannot run the threaded build, or null when it can (always in Node). Each is checked, none
 * assumed: an engine may be cross-origin isolated and still define no SharedArrayBuffer (WebKitGTK 2.50). */
export function threadsMissing() {
  if (isNode) return null;
  if (globalThis.crossOriginIsolated !== true) return 'the page is not cross-origin isolated (serve it with COOP/COEP: README, Hosting)';
  if (typeof SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is not defined';
  if (typeof Atomics !== 'object') return 'Atomics is not defined';
  return null;
}

/** Whether this environment can run the threaded build (SharedArrayBuffer usable). */
export const threadsAvailable = () => threadsMissing() === null;

/** The thread count 'auto' means here: the cores, at most 8. */
async function defaultThreads() {
  if (!threadsAvailable()) return 1;
  const cores = isNode ? (await import('node:os')).availableParallelism() : navigator.hardwareConcurrency;
  return Math.max(1, Math.min(8, cores || 1));
}

/** Resolves a `threads` option ('auto' or a count) to a count, refusing what cannot be had. */
export async function resolveThreads(threads, what) {
  if (threads === undefined || threads === 'auto') return defaultThreads();
  if (!Number.isInteger(threads) || threads < 1 || threads > 16) {
    throw new MingruError('MG_EINVAL', `${what}: threads must be 'auto' or an integer in [1, 16], got ${threads}`);
  }
  if (threads > 1 && !threadsAvailable()) {
    throw new MingruError('MG_ETHREADS', `${what}: threads ${threads} needs SharedArrayBuffer, which this page does not have ` +
      `(${threadsMissing()}): serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: ` +
      'require-corp, or use threads: 1');
  }
  return threads;
}

/** The URL of the small classic script the pool's workers start from, a blob: URL so that it has the page's
 * origin, which imports Emscripten's worker script as a module and hands it the messages that arrived
 * meanwhile. So the worker script may be rewritten by a dev server (Vite's adds import statements to it) or
 * inlined by a bundler as a data: URL (Vite does that under its assetsInlineLimit; a worker started from a
 * data: URL itself would have an opaque origin and could not import the glue). `viaPort`: a worker the page started
 * (see startPoolWith): its first message brings the MessagePort to the engine's worker, which then stands for the
 * worker's own postMessage and onmessage. */
export function poolWorkerUrl(url, viaPort = false) {
  return URL.createObjectURL(new Blob([poolWorkerSource(url, viaPort)], { type: 'text/javascript' }));
}

function poolWorkerSource(url, viaPort) {
  if (!viaPort) {
    return `const early = [];
self.onmessage = (e) => early.push(e);
import(${JSON.stringify(url)}).then(
  () => { for (const e of early) self.onmessage(e); },
  (e) => setTimeout(() => { throw e; }));
`;
  }
  return `const early = [];
self.onmessage = ({ data: { port } }) => {
  self.postMessage = (message, transfer) => port.postMessage(message, transfer);
  port.onmessage = (e) => early.push(e);
  import(${JSON.stringify(url)}).then(
    () => { for (const e of early) self.onmessage(e); port.onmessage = (e) => self.onmessage(e); },
    (e) => setTimeout(() => { throw e; }));
};
`;
}

/** Who starts the pool's workers, where not this thread: null, or (url, count, onError) => { ports, end }: ports, a
 * promise of count MessagePorts, each to a worker started from poolWorkerUrl(url, true); onError(i, message) is
 * called if worker i fails; end() ends them (a build that did not start). The engine's worker (worker.js) has its page
 * start them in Firefox: a worker that a worker starts (nested) made the page's load() hang for good in Firefox ESR 153
 * (new Worker() in a worker waits on the page's main thread and, about once in 50 starts on a loaded machine, never
 * returns: no timer of that worker runs again), whereas a page's new Worker() does not wait. Elsewhere Emscripten
 * starts them from this worker, as it always did: Chromium's never hung, and whether Safari shares a wasm memory
 * sent through a MessagePort is not tested here (WebKitGTK has no SharedArrayBuffer). */
let poolStarter = null;
export function startPoolWith(starter) {
  poolStarter = starter;
}

async function instantiate(threads, useRelaxed) {
  const plain = threads === 1 ? BUILDS.single : isNode ? BUILDS.threadsNode : BUILDS.threads;
  const build = useRelaxed ? plain.relaxed : plain;
  const url = build.wasm();
  let bytes;
  try {
    bytes = await wasmBytes(url);
  } catch (e) {
    throw new MingruError('MG_ELOAD', `cannot read the WebAssembly build ${url}: ${e.message} (run npm run build)`);
  }
  let createMingruModule;
  try {
    ({ default: createMingruModule } = await build.glue());
  } catch (e) {
    throw new MingruError('MG_ELOAD', `cannot load the WebAssembly glue of ${url}: ${e.message} (run npm run build)`);
  }
  let memory, failed, gaveUp = false; // gaveUp: this build failed to start and was given up
  // the glue never settles if instantiation fails
  const failure = new Promise((resolve, reject) => (failed = (e) => ((gaveUp = true), reject(e))));
  failure.catch(() => {}); // (it may fail after the race is over: nobody waits then)
  const options = {
    // The glue's own file lookup does not work in every environment (Node 20, bundlers): hand it the instance.
    instantiateWasm(imports, done) {
      WebAssembly.instantiate(bytes, imports).then(
        (result) => {
          // the memory is exported (single thread) or imported (shared, threads); export names are minified
          const all = [...Object.values(result.instance.exports), ...Object.values(imports).flatMap((m) => Object.values(m))];
          memory = all.find((e) => e instanceof WebAssembly.Memory);
          done(result.instance, result.module);
        },
        (e) => failed(new MingruError('MG_ELOAD', `cannot instantiate ${url}: ${e.message}`)),
      );
      return {};
    },
  };
  // The checked builds (ASSERTIONS=2) print a line for each growth of the heap: noise in the tests' logs
  if (BUILDS !== SHIPPED) options.print = (text) => text.startsWith('Heap resize call') || console.log(text);
  // Nor does it settle if the pool's workers cannot start: a threaded build that has not started in THREADS_START ms
  // is given up (openEngine then takes one thread); and a pool worker that fails as it starts (a policy that forbids
  // blob: workers, a failed fetch) fires an error event that Emscripten's handler rethrows, which would end the whole
  // worker this runs in: while the build starts, that error is taken here as the build failing, and once a build is
  // given up, every later error of its workers is dropped here too (an engine may report a blocked worker more than
  // once, or late: rethrown, it ended the worker this runs in, and the page's load() waited for a reply forever).
  const NativeWorker = globalThis.Worker;
  let starting = true;
  const browserThreads = threads > 1 && !isNode;
  const timer = browserThreads && setTimeout(() => failed(new MingruError('MG_ELOAD', `its ${threads - 1} workers did not start in ` +
    `${THREADS_START / 1000} s`)), THREADS_START);
  /** An error of a pool worker: true if taken here (the build starting or given up), false if it is Emscripten's. */
  const poolError = (message) => {
    if (!starting && !gaveUp) return false; // later, a working pool's worker's error is Emscripten's to report
    failed(new MingruError('MG_ELOAD', `a worker of its thread pool failed to start (${message ?? 'no message'})`));
    return true;
  };
  const firefox = typeof navigator === 'object' && /\bFirefox\//.test(navigator.userAgent ?? '');
  const byPage = browserThreads && firefox && NativeWorker && poolStarter !== null && Boolean(build.script); // see poolStarter
  let pool = null, started = false; // the page's pool, ended if the build does not start
  if (threads > 1) {
    options.mgPoolSize = threads - 1; // workers Emscripten starts at load, one per extra thread
    if (build.script) {
      options.mainScriptUrlOrBlob = build.script().href;
      const workerUrl = byPage ? null : poolWorkerUrl(build.worker().href);
      options.locateFile = (path) => (path.endsWith('.worker.js') ? workerUrl : path);
    }
  }
  try {
    if (byPage) {
      // started by the page (see poolStarter), each behind a MessagePort that stands for it here; a later error of
      // a working pool's worker goes to Emscripten's handler, which rethrows it (in a timer: as an uncaught error)
      const workers = [];
      const onError = (i, message) => poolError(message) || setTimeout(() => workers[i]?.onerror?.(Object.assign(new Error(message), { message })));
      pool = poolStarter(build.worker().href, threads - 1, onError);
      const ports = await Promise.race([pool.ports, failure]);
      globalThis.Worker = class PoolWorker extends EventTarget {
        #port = ports[workers.length];
        constructor() {
          super();
          workers.push(this);
          this.#port.onmessage = (e) => this.onmessage?.(e);
        }
        postMessage(message, transfer) {
          this.#port.postMessage(message, transfer);
        }
        terminate() {
          this.#port.close();
        }
      };
    } else if (browserThreads && NativeWorker) {
      globalThis.Worker = class extends NativeWorker {
        constructor(...args) {
          super(...args);
          this.addEventListener('error', (e) => {
            if (!poolError(e.message)) return;
            e.preventDefault();
            e.stopImmediatePropagation();
          });
        }
      };
    }
    const engine = new Engine(await Promise.race([createMingruModule(options), failure]), memory, threads, useRelaxed);
    started = true;
    return engine;
  } finally {
    if (pool && !started) pool.end();
    starting = false;
    clearTimeout(timer);
    if (browserThreads && NativeWorker) globalThis.Worker = NativeWorker;
  }
}

const THREADS_START = 30000; // ms
let threadsBroken = null; // why the threaded build did not start, once it has failed: 'auto' takes one thread then
const engines = new Map();

/** The engine for a thread count (1 = the single-thread build), loaded once and shared: a relaxed-SIMD build
 * where the engine passes the probe, unless relaxedSimd is false (the checked builds have no relaxed form). */
export function getEngine(threads = 1, relaxedSimd = true) {
  const useRelaxed = relaxedSimd && BUILDS === SHIPPED && relaxedSimdWorks();
  const key = `${threads}${useRelaxed ? 'r' : ''}`;
  if (!engines.has(key)) {
    engines.set(key, instantiate(threads, useRelaxed).catch((e) => {
      engines.delete(key);
      throw e;
    }));
  }
  return engines.get(key);
}

/**
 * The engine a load() or create() with these options gets, and its `backend`: { threads, simd, relaxedSimd,
 * fallbacks }, where fallbacks says, for each thing this environment lacks, what runs instead and why (detected,
 * never assumed). 'auto' threads where threads cannot be had, or a threaded build that does not start, give one
 * thread; no relaxed SIMD gives the plain build. An explicit thread count above 1 that cannot be had is refused
 * (MG_ETHREADS), as documented.
 */
export async function openEngine(threadsOption, relaxedSimd = true, what = 'load') {
  const noSimd = simdMissing();
  if (noSimd) {
    throw new MingruError('MG_ELOAD', `${what}: ${noSimd}, which every build of mingru needs (there is no build without ` +
      'it): Chrome and Edge 91, Firefox 114 and Safari 16.4 or later have it');
  }
  const fallbacks = [];
  const threads = await resolveThreads(threadsOption, what);
  const auto = threadsOption === undefined || threadsOption === 'auto';
  if (auto && threadsMissing()) fallbacks.push(`threads: ${threadsMissing()}; one thread runs`);
  if (relaxedSimd && BUILDS === SHIPPED && relaxedSimdMissing()) fallbacks.push(`relaxed SIMD: ${relaxedSimdMissing()}; the plain SIMD build runs`);
  let engine;
  if (auto && threads > 1 && threadsBroken) {
    fallbacks.push(threadsBroken);
    engine = await getEngine(1, relaxedSimd);
  } else {
    try {
      engine = await getEngine(threads, relaxedSimd);
    } catch (e) {
      if (!auto || threads === 1) throw e;
      threadsBroken = `threads: the threaded build did not start (${e.message}); one thread runs`; // not tried again
      fallbacks.push(threadsBroken);
      engine = await getEngine(1, relaxedSimd);
    }
  }
  return { engine, backend: engineBackend(engine, fallbacks) };
}

/** A model's or layer's `backend`: the engine's build, and the fallbacks that led to it. */
export const engineBackend = (engine, fallbacks = []) =>
  Object.freeze({ threads: engine.threads, simd: engine.simd, relaxedSimd: engine.relaxedSimd, fallbacks: Object.freeze(fallbacks) });
