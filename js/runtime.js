// runtime.js — loads a WebAssembly build and owns every copy in and out of its heap. Nothing else in the
// package touches the Emscripten module; public classes call the helpers here.
import { MingruError } from './errors.js';

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

async function wasmBytes(url) {
  if (isNode && url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return readFile(url);
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} fetching ${url}`);
  return response.arrayBuffer();
}

async function instantiate() {
  const url = new URL('../dist/mingru.wasm', import.meta.url);
  let bytes;
  try {
    bytes = await wasmBytes(url);
  } catch (e) {
    throw new MingruError('MG_ELOAD', `cannot read the WebAssembly build ${url}: ${e.message} (run npm run build)`);
  }
  let createMingruModule;
  try {
    ({ default: createMingruModule } = await import('../dist/mingru.js'));
  } catch (e) {
    throw new MingruError('MG_ELOAD', `cannot load the WebAssembly glue ../dist/mingru.js: ${e.message} (run npm run build)`);
  }
  let instance;
  const mod = await createMingruModule({
    // The glue's own file lookup does not work in every environment (Node 20, bundlers): hand it the instance.
    instantiateWasm(imports, done) {
      WebAssembly.instantiate(bytes, imports).then(
        (result) => {
          instance = result.instance;
          done(result.instance, result.module);
        },
        (e) => console.error(`mingru: cannot instantiate ${url}: ${e.message}`),
      );
      return {};
    },
  });
  // -O3 minifies export names: find the memory by kind.
  const memory = Object.values(instance.exports).find((e) => e instanceof WebAssembly.Memory);
  return new Runtime(mod, memory);
}

let runtimePromise = null;

/** The shared runtime, loaded on first use. */
export function getRuntime() {
  runtimePromise ??= instantiate().catch((e) => {
    runtimePromise = null;
    throw e;
  });
  return runtimePromise;
}

const STATUS_CODES = {
  [-1]: 'MG_EINVAL', [-2]: 'MG_ENOMEM', [-3]: 'MG_ESHAPE', [-4]: 'MG_EBADFILE', [-5]: 'MG_ERANGE', [-6]: 'MG_EMISMATCH',
};

class Runtime {
  constructor(mod, memory) {
    this.mod = mod;
    this.memory = memory;
    this.simd = mod._mgw_has_simd() === 1;
  }

  /** Throws a MingruError for a non-zero status, with the engine's message. */
  check(status, what) {
    if (status === 0) return;
    const message = this.mod.UTF8ToString(this.mod._mgw_last_error());
    throw new MingruError(STATUS_CODES[status] ?? 'MG_EUNKNOWN', `${what}: ${message}`);
  }

  /** Allocates bytes on the wasm heap (freed by free()); throws MG_ENOMEM when it cannot. */
  alloc(bytes) {
    const ptr = this.mod._mgw_malloc(Math.max(bytes, 1));
    if (!ptr) throw new MingruError('MG_ENOMEM', `out of WebAssembly memory allocating ${bytes} bytes`);
    return ptr;
  }

  free(ptr) {
    if (ptr) this.mod._mgw_free(ptr);
  }

  /** Copies a Float32Array onto the heap; returns the pointer (0 for null). */
  pushF32(array) {
    if (!array) return 0;
    const ptr = this.alloc(array.length * 4);
    new Float32Array(this.memory.buffer, ptr, array.length).set(array);
    return ptr;
  }

  /** Copies bytes onto the heap; returns the pointer. */
  pushBytes(bytes) {
    const ptr = this.alloc(bytes.length);
    new Uint8Array(this.memory.buffer, ptr, bytes.length).set(bytes);
    return ptr;
  }

  /** Copies integers onto the heap as int32; returns the pointer. */
  pushI32(values) {
    const ptr = this.alloc(values.length * 4);
    new Int32Array(this.memory.buffer, ptr, values.length).set(values);
    return ptr;
  }

  /** Calls fn(outPtr) with a 4-byte out-pointer and returns the pointer written there (a handle). */
  handleOut(fn) {
    const out = this.alloc(4);
    try {
      fn(out);
      return new Uint32Array(this.memory.buffer, out, 1)[0];
    } finally {
      this.free(out);
    }
  }

  string(ptr) {
    return ptr ? this.mod.UTF8ToString(ptr) : null;
  }

  /** Copies n floats off the heap into a new Float32Array. Views are made fresh: memory may have grown. */
  pullF32(ptr, n) {
    return new Float32Array(this.memory.buffer, ptr, n).slice();
  }

  /** Runs fn(pointers) with temporary heap buffers: `inputs` are copied in, `outputs` (name -> float count)
   * allocated; returns the outputs as Float32Arrays. Everything is freed, whatever happens. */
  withBuffers(inputs, outputs, fn) {
    const ptrs = {};
    try {
      for (const [name, array] of Object.entries(inputs)) ptrs[name] = this.pushF32(array);
      for (const [name, n] of Object.entries(outputs)) ptrs[name] = this.alloc(n * 4);
      fn(ptrs);
      const result = {};
      for (const [name, n] of Object.entries(outputs)) result[name] = this.pullF32(ptrs[name], n);
      return result;
    } finally {
      for (const ptr of Object.values(ptrs)) this.free(ptr);
    }
  }
}
