// layer.js — MinGRU and MinLSTM layers, the same maths and weight layout as minGRU-pytorch's modules. The engine's
// calls go through engine.js; this file checks the arguments and shapes.
import { KERNEL_NAMES } from './engine.js';
import { fail } from './errors.js';
import { engineBackend, openEngine } from './runtime.js';

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

class Layer {
  #engine;
  #ptr;

  /** @internal use MinGRU.create / MinLSTM.create */
  constructor(engine, ptr, cell, dim, expansionFactor, dimInner, backend = engineBackend(engine)) {
    this.#engine = engine;
    this.#ptr = ptr;
    this.cell = cell;
    this.dim = dim;
    this.expansionFactor = expansionFactor;
    this.dimInner = dimInner;
    this.backend = backend;
  }

  static async _create(cell, options, weightName) {
    if (options === null || typeof options !== 'object') fail('MG_EINVAL', `${cell}.create needs an options object`);
    const { dim, expansionFactor = 1, weights, seed = 0, kernel = 'auto', threads } = options;
    positiveInt(dim, 'dim');
    if (typeof expansionFactor !== 'number' || !Number.isFinite(expansionFactor) || expansionFactor <= 0) {
      fail('MG_EINVAL', `expansionFactor must be a positive number, got ${expansionFactor}`);
    }
    if (!KERNEL_NAMES.includes(kernel)) fail('MG_EINVAL', `kernel must be one of ${KERNEL_NAMES.join(', ')}, got ${kernel}`);
    const { engine, backend } = await openEngine(threads, true, `${cell}.create`);
    const dimInner = engine.dimInner(dim, expansionFactor, `${cell}.create`);
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
    } else if (!Number.isSafeInteger(seed) || seed < 0) {
      fail('MG_EINVAL', `seed must be a non-negative safe integer, got ${seed}`);
    }
    const ptr = engine.layerCreate({ cell, dim, expansionFactor, kernel, wIn, wOut, seed }, `${cell}.create`);
    return new this(engine, ptr, cell, dim, expansionFactor, dimInner, backend);
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
    return this.#engine.layerForward(this.#ptr, { x, batch, seqLen, h0, dim: this.dim, dimInner: this.dimInner }, `${this.cell}.forward`);
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
    return this.#engine.layerStep(this.#ptr, { x, batch, h0, dim: this.dim, dimInner: this.dimInner }, `${this.cell}.step`);
  }

  /** The weights, in minGRU-pytorch's layout (copies). */
  async getWeights() {
    this.#live('getWeights');
    const nIn = (this.cell === 'MinGRU' ? 2 : 3) * this.dimInner * this.dim;
    const hasOut = this.expansionFactor !== 1;
    const w = this.#engine.layerWeights(this.#ptr, nIn, hasOut ? this.dim * this.dimInner : 0, `${this.cell}.getWeights`);
    const name = this.cell === 'MinGRU' ? 'toHiddenAndGate' : 'toHiddenAndFIGate';
    return hasOut ? { [name]: w.wIn, toOut: w.wOut } : { [name]: w.wIn };
  }

  /** Frees the engine's memory; later calls throw MG_EDISPOSED. Calling it twice is harmless. */
  dispose() {
    if (this.#ptr) this.#engine.layerFree(this.#ptr);
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
