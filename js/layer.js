// layer.js — MinGRU and MinLSTM layers, the same maths and weight layout as minGRU-pytorch's modules.
import { fail } from './errors.js';
import { getRuntime, resolveThreads } from './runtime.js';

const KERNELS = { auto: 0, reference: 1, simd: 2 };

function positiveInt(value, name) {
  if (!Number.isInteger(value) || value <= 0) fail('MG_EINVAL', `${name} must be a positive integer, got ${value}`);
  return value;
}

function floatArray(value, length, name) {
  if (!(value instanceof Float32Array)) {
    fail('MG_EINVAL', `${name} must be a Float32Array, got ${value === null ? 'null' : typeof value}`);
  }
  if (length !== undefined && value.length !== length) {
    fail('MG_EINVAL', `${name} must have ${length} elements, got ${value.length}`);
  }
  return value;
}

function seedHalves(seed) {
  if (!Number.isSafeInteger(seed) || seed < 0) fail('MG_EINVAL', `seed must be a non-negative safe integer, got ${seed}`);
  return [seed % 2 ** 32, Math.floor(seed / 2 ** 32)];
}

class Layer {
  #rt;
  #ptr;

  /** @internal use MinGRU.create / MinLSTM.create */
  constructor(rt, ptr, cell, dim, expansionFactor, dimInner) {
    this.#rt = rt;
    this.#ptr = ptr;
    this.cell = cell;
    this.dim = dim;
    this.expansionFactor = expansionFactor;
    this.dimInner = dimInner;
    this.backend = Object.freeze({ threads: rt.threads, simd: rt.simd });
  }

  static async _create(cell, options, weightName) {
    if (options === null || typeof options !== 'object') fail('MG_EINVAL', `${cell}.create needs an options object`);
    const { dim, expansionFactor = 1, weights, seed = 0, kernel = 'auto', threads } = options;
    positiveInt(dim, 'dim');
    if (typeof expansionFactor !== 'number' || !Number.isFinite(expansionFactor) || expansionFactor <= 0) {
      fail('MG_EINVAL', `expansionFactor must be a positive number, got ${expansionFactor}`);
    }
    if (!(kernel in KERNELS)) fail('MG_EINVAL', `kernel must be one of ${Object.keys(KERNELS).join(', ')}, got ${kernel}`);
    const rt = await getRuntime(await resolveThreads(threads, `${cell}.create`));
    const dimInner = rt.mod._mgw_dim_inner(dim, expansionFactor);
    rt.check(dimInner < 0 ? dimInner : 0, `${cell}.create`);
    const hasOut = expansionFactor !== 1;
    const nGates = cell === 'MinGRU' ? 2 : 3;

    let wIn = null;
    let wOut = null;
    if (weights !== undefined) {
      if (weights === null || typeof weights !== 'object') fail('MG_EINVAL', 'weights must be an object');
      if (weights[weightName] === undefined) fail('MG_EINVAL', `weights.${weightName} is missing`);
      wIn = floatArray(weights[weightName], nGates * dimInner * dim, `weights.${weightName}`);
      if (hasOut) {
        if (weights.toOut === undefined) fail('MG_EINVAL', `weights.toOut is missing (expansionFactor ${expansionFactor} != 1)`);
        wOut = floatArray(weights.toOut, dim * dimInner, 'weights.toOut');
      } else if (weights.toOut !== undefined) {
        fail('MG_EINVAL', 'weights.toOut given but expansionFactor is 1, where the layer has no to_out');
      }
      for (const key of Object.keys(weights)) {
        if (key !== weightName && key !== 'toOut') fail('MG_EINVAL', `weights.${key} is not a weight of ${cell}`);
      }
    } else if (seed !== undefined) {
      seedHalves(seed);
    }

    const cellId = cell === 'MinGRU' ? 0 : 1;
    const outPtr = rt.alloc(4);
    let ptr = 0;
    try {
      rt.withBuffers({ wIn, wOut }, {}, (p) => {
        rt.check(rt.mod._mgw_layer_create(cellId, dim, expansionFactor, KERNELS[kernel], p.wIn, p.wOut, outPtr), `${cell}.create`);
      });
      ptr = new Uint32Array(rt.memory.buffer, outPtr, 1)[0];
    } finally {
      rt.free(outPtr);
    }
    if (!weights) rt.check(rt.mod._mgw_layer_init_uniform(ptr, ...seedHalves(seed)), `${cell}.create`);
    return new this(rt, ptr, cell, dim, expansionFactor, dimInner);
  }

  #live(method) {
    if (!this.#ptr) fail('MG_EDISPOSED', `${this.cell}.${method}: the layer was disposed`);
  }

  #hidden(prevHidden, batch, method) {
    if (prevHidden === undefined || prevHidden === null) return null;
    return floatArray(prevHidden, batch * this.dimInner, `${method}: prevHidden`);
  }

  /**
   * The whole sequence at once. x: Float32Array [batch, seqLen, dim].
   * @returns {Promise<{output: Float32Array, hidden: Float32Array}>} output [batch, seqLen, dim], hidden [batch, dimInner]
   */
  async forward(x, { batch = 1, seqLen, prevHidden } = {}) {
    this.#live('forward');
    positiveInt(batch, 'forward: batch');
    floatArray(x, undefined, 'forward: x');
    if (seqLen === undefined) {
      if (x.length === 0 || x.length % (batch * this.dim) !== 0) {
        fail('MG_EINVAL', `forward: x has ${x.length} elements, not a positive multiple of batch * dim = ${batch * this.dim}`);
      }
      seqLen = x.length / (batch * this.dim);
    }
    positiveInt(seqLen, 'forward: seqLen');
    floatArray(x, batch * seqLen * this.dim, `forward: x of [batch ${batch}, seqLen ${seqLen}, dim ${this.dim}]`);
    const h0 = this.#hidden(prevHidden, batch, 'forward');
    const rt = this.#rt;
    return rt.withBuffers({ x, h0 }, { output: batch * seqLen * this.dim, hidden: batch * this.dimInner }, (p) =>
      rt.check(rt.mod._mgw_layer_forward(this.#ptr, p.x, batch, seqLen, p.h0, p.output, p.hidden), `${this.cell}.forward`));
  }

  /**
   * One time step. x: Float32Array [batch, dim]; prevHidden [batch, dimInner] or none (zeros).
   * @returns {Promise<{output: Float32Array, hidden: Float32Array}>} output [batch, dim], hidden [batch, dimInner]
   */
  async step(x, { batch = 1, prevHidden } = {}) {
    this.#live('step');
    positiveInt(batch, 'step: batch');
    floatArray(x, batch * this.dim, `step: x of [batch ${batch}, dim ${this.dim}]`);
    const h0 = this.#hidden(prevHidden, batch, 'step');
    const rt = this.#rt;
    return rt.withBuffers({ x, h0 }, { output: batch * this.dim, hidden: batch * this.dimInner }, (p) =>
      rt.check(rt.mod._mgw_layer_step(this.#ptr, p.x, batch, p.h0, p.output, p.hidden), `${this.cell}.step`));
  }

  /** The weights, in minGRU-pytorch's layout (copies). */
  async getWeights() {
    this.#live('getWeights');
    const rt = this.#rt;
    const nIn = (this.cell === 'MinGRU' ? 2 : 3) * this.dimInner * this.dim;
    const hasOut = this.expansionFactor !== 1;
    const w = rt.withBuffers({}, { wIn: nIn, wOut: hasOut ? this.dim * this.dimInner : 0 }, (p) =>
      rt.check(rt.mod._mgw_layer_get_weights(this.#ptr, p.wIn, hasOut ? p.wOut : 0), `${this.cell}.getWeights`));
    const name = this.cell === 'MinGRU' ? 'toHiddenAndGate' : 'toHiddenAndFIGate';
    return hasOut ? { [name]: w.wIn, toOut: w.wOut } : { [name]: w.wIn };
  }

  /** Frees the engine's memory; later calls throw MG_EDISPOSED. Calling it twice is harmless. */
  dispose() {
    if (this.#ptr) this.#rt.mod._mgw_layer_free(this.#ptr);
    this.#ptr = 0;
  }
}

/** minGRU: to_hidden_and_gate.weight [2*dimInner, dim] (rows hidden|gate), to_out.weight [dim, dimInner]. */
export class MinGRU extends Layer {
  /** @param {{dim: number, expansionFactor?: number, weights?: {toHiddenAndGate: Float32Array, toOut?: Float32Array}, seed?: number, kernel?: 'auto'|'reference'|'simd'}} options */
  static create(options) {
    return Layer._create.call(this, 'MinGRU', options, 'toHiddenAndGate');
  }
}

/** minLSTM: to_hidden_and_f_i_gate.weight [3*dimInner, dim] (rows hidden|f|i), to_out.weight [dim, dimInner]. */
export class MinLSTM extends Layer {
  /** @param {{dim: number, expansionFactor?: number, weights?: {toHiddenAndFIGate: Float32Array, toOut?: Float32Array}, seed?: number, kernel?: 'auto'|'reference'|'simd'}} options */
  static create(options) {
    return Layer._create.call(this, 'MinLSTM', options, 'toHiddenAndFIGate');
  }
}
