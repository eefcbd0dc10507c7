// train.js — learning on the device: the Trainer (one clipped AdamW step per call, in the engine), train() (random
// windows of a text, a learning-rate warmup, validation, progress), save() and create(). The maths is the C core's
// (src/train.c); this file holds the options, the sampling of windows and the loop.
import { MingruError, fail } from './errors.js';
import { needTokenizer } from './tokenizer.js';
import { yieldToEventLoop } from './runtime.js';

/** torch.optim.AdamW's defaults, a clip of 1 (0 = none), no dropout (its masks drawn from seed). */
export const TRAINER_DEFAULTS = Object.freeze({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, clip: 1, dropout: 0, seed: 0, part: 'all' });

const number = (value, what, name, ok, range) => {
  if (typeof value !== 'number' || !ok(value)) fail('MG_EINVAL', `${what}: ${name} must be a number ${range}, got ${value}`);
  return value;
};

const integer = (value, what, name, lo, hi = Number.MAX_SAFE_INTEGER) => {
  if (!Number.isInteger(value) || value < lo || value > hi) fail('MG_EINVAL', `${what}: ${name} must be an integer in [${lo}, ${hi}], got ${value}`);
  return value;
};

/** The optimizer's options, checked, with the defaults filled in. */
export function trainerOptions(options, what) {
  const o = { ...TRAINER_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  number(o.lr, what, 'lr', (x) => x > 0 && x < Infinity, '> 0');
  if (!Array.isArray(o.betas) || o.betas.length !== 2) fail('MG_EINVAL', `${what}: betas must be [beta1, beta2], got ${o.betas}`);
  o.betas.forEach((b, i) => number(b, what, `betas[${i}]`, (x) => x >= 0 && x < 1, 'in [0, 1)'));
  number(o.eps, what, 'eps', (x) => x > 0 && x < Infinity, '> 0');
  number(o.weightDecay, what, 'weightDecay', (x) => x >= 0 && x < Infinity, '>= 0');
  number(o.clip, what, 'clip', (x) => x >= 0 && x < Infinity, '>= 0 (0 = no clipping)');
  number(o.dropout, what, 'dropout', (x) => x >= 0 && x < 1, 'in [0, 1) (0 = none)');
  integer(o.seed, what, 'seed', 0, 2 ** 32 - 1);
  if (o.part !== 'all' && o.part !== 'top') fail('MG_EINVAL', `${what}: part must be 'all' or 'top' (the last feed-forward, the final norm and the head), got ${o.part}`);
  return o;
}

/** Token ids of text or an array of ids, checked against the vocabulary. */
function tokensOf(model, data, what) {
  if (typeof data === 'string') {
    return needTokenizer(model, what).encode(data);
  }
  if (!Array.isArray(data) && !(ArrayBuffer.isView(data) && !(data instanceof DataView))) fail('MG_EINVAL', `${what}: data must be text or token ids`);
  const V = model.config.numTokens;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isInteger(data[i]) || data[i] < 0 || data[i] >= V) fail('MG_ERANGE', `${what}: token ${data[i]} at position ${i} is not an id in [0, ${V})`);
  }
  return data;
}

/** One optimizer over a model's weights: `await trainer.step(tokens, { batch, seqLen })`. Made by lm.trainer(). */
export class Trainer {
  #model;
  #ptr;
  #options;
  #steps = 0;

  /** @internal */
  constructor(model, ptr, options) {
    this.#model = model;
    this.#ptr = ptr;
    this.#options = options;
  }

  /** AdamW steps taken. */
  get steps() {
    return this.#steps;
  }

  /** The learning rate of the next steps (a schedule sets it between steps). */
  get lr() {
    return this.#options.lr;
  }

  set lr(value) {
    const o = trainerOptions({ ...this.#options, lr: value }, 'trainer.lr');
    this.#model._engine.trainerSetParams(this.#handle('trainer.lr'), o, 'trainer.lr');
    this.#options = o;
  }

  #handle(what) {
    if (!this.#ptr) fail('MG_EDISPOSED', `${what}: the trainer was disposed`);
    this.#model._live(what);
    return this.#ptr;
  }

  /**
   * One step: `tokens` holds `batch` rows of seqLen + 1 ids (inputs: each row's first seqLen; targets: its last
   * seqLen). Returns the batch's mean cross-entropy in nats before the update, then clips the gradients
   * (clip_grad_norm_) and takes one AdamW step. A signal aborted before the step rejects with MG_EABORTED.
   * @returns {Promise<number>}
   */
  async step(tokens, { batch, seqLen, signal } = {}) {
    const what = 'trainer.step';
    const t = this.#handle(what);
    integer(batch, what, 'batch', 1, 2 ** 24);
    integer(seqLen, what, 'seqLen', 1, 2 ** 24);
    if (signal !== undefined && !(signal instanceof AbortSignal)) fail('MG_EINVAL', `${what}: signal must be an AbortSignal`);
    if (signal?.aborted) throw new MingruError('MG_EABORTED', `${what} was aborted`, { cause: signal.reason });
    const ids = tokensOf(this.#model, tokens, what);
    if (ids.length !== batch * (seqLen + 1)) {
      fail('MG_EINVAL', `${what}: tokens must hold batch x (seqLen + 1) = ${batch} x ${seqLen + 1} = ${batch * (seqLen + 1)} ids, got ${ids.length}`);
    }
    const { loss } = this.#model._engine.trainerStep(t, ids, batch, seqLen, what);
    this.#steps++;
    this.#model._learned();
    return loss;
  }

  /** @internal the engine's handle (a coder learns through it: mg_coder_set_learner) */
  _handle(what) {
    return this.#handle(what);
  }

  /** @internal one step on the top's rows a coder kept (mg_coder_learn; the coder was given this trainer). The
   * coder has at least two rows whenever its reader learns (a window of two tokens or more): one step each call. */
  _learnFromCoder(coder, what) {
    this.#handle(what);
    const loss = this.#model._engine.coderLearn(coder, what);
    this.#steps++;
    this.#model._learned();
    return loss;
  }

  /** Frees the optimizer's memory (the model keeps its trained weights). Calling it twice is harmless. */
  dispose() {
    if (!this.#ptr) return;
    this.#model._forgetTrainer(this);
    this._drop();
  }

  /** @internal the model was disposed */
  _drop() {
    this.#model._engine.trainerFree(this.#ptr);
    this.#ptr = 0;
  }
}

/** mulberry32: a small seeded generator of numbers in [0, 1) (the same seed, the same windows everywhere; the demo's
 * Teach it draws its windows with it too). */
export function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * lm.train(data, options): an async iterator of { step, loss, tokensPerSecond, validationBits? }, one per step.
 * Each step takes batchSize random windows of seqLen + 1 tokens of `data` (drawn with `seed`).
 */
export async function* train(model, data, options = {}) {
  const what = 'train';
  const o = options ?? {};
  const ids = tokensOf(model, data, what);
  const batchSize = integer(o.batchSize ?? 8, what, 'batchSize', 1, 4096);
  const seqLen = integer(o.seqLen ?? 128, what, 'seqLen', 1, 65536);
  if (o.steps === undefined && o.seconds === undefined) fail('MG_EINVAL', `${what}: give steps or seconds (how long to train)`);
  const steps = o.steps === undefined ? Infinity : integer(o.steps, what, 'steps', 1);
  const seconds = o.seconds === undefined ? Infinity : number(o.seconds, what, 'seconds', (x) => x > 0, '> 0');
  const warmup = integer(o.warmup ?? 0, what, 'warmup', 0);
  const seed = integer(o.seed ?? 0, what, 'seed', 0, 2 ** 32 - 1);
  const validationEvery = integer(o.validationEvery ?? 50, what, 'validationEvery', 1);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) fail('MG_EINVAL', `${what}: signal must be an AbortSignal`);
  if (o.validation !== undefined) tokensOf(model, o.validation, what);
  if (ids.length < seqLen + 1) fail('MG_EINVAL', `${what}: the data has ${ids.length} tokens; a window of seqLen + 1 = ${seqLen + 1} needs more (or give a smaller seqLen)`);
  const { lr, betas, eps, weightDecay, clip, dropout } = trainerOptions({ lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weightDecay, clip: o.clip, dropout: o.dropout, seed }, what);
  const trainer = model.trainer({ lr, betas, eps, weightDecay, clip, dropout, seed });
  const random = generator(seed);
  const windows = ids.length - seqLen; // window starts 0 .. n - seqLen - 1
  const batch = new Int32Array(batchSize * (seqLen + 1));
  const started = Date.now();
  try {
    for (let step = 1; step <= steps && (Date.now() - started) / 1000 < seconds && !o.signal?.aborted; step++) {
      // lr rises linearly over the first `warmup` steps, then stays
      trainer.lr = warmup ? lr * Math.min(1, step / warmup) : lr;
      for (let b = 0; b < batchSize; b++) {
        const at = Math.floor(random() * windows);
        batch.set(ids.subarray ? ids.subarray(at, at + seqLen + 1) : ids.slice(at, at + seqLen + 1), b * (seqLen + 1));
      }
      const t0 = Date.now();
      const loss = await trainer.step(batch, { batch: batchSize, seqLen });
      const progress = { step, loss, tokensPerSecond: (batchSize * seqLen) / Math.max((Date.now() - t0) / 1000, 1e-6) };
      if (o.validation !== undefined && (step % validationEvery === 0 || step === steps)) {
        progress.validationBits = (await model.evaluate(o.validation)).bitsPerToken;
      }
      yield progress;
      await yieldToEventLoop(); // timers, abort signals and messages run between steps
    }
  } finally {
    trainer.dispose();
  }
}

const DTYPES = ['f32', 'f16', 'q8'];

/** lm.save(options): the model's current weights as a .safetensors file. */
export function saveOptions({ dtype = 'f32', name, description, license, trainingData } = {}) {
  if (!DTYPES.includes(dtype)) fail('MG_EINVAL', `save: dtype must be one of ${DTYPES.join(', ')}, got ${dtype}`);
  const metadata = {};
  for (const [key, value] of Object.entries({ name, description, license, training_data: trainingData })) {
    if (value === undefined) continue;
    if (typeof value !== 'string') fail('MG_EINVAL', `save: ${key} must be a string, got ${typeof value}`);
    metadata[key] = value;
  }
  return { dtype, metadata };
}

/** create(options)'s options, checked, with minLM's defaults. */
export function createOptions(options = {}) {
  const what = 'create';
  const given = Object.entries(options ?? {}).filter(([, v]) => v !== undefined);
  const o = { cell: 'gru', numTokens: 256, dim: 256, depth: 4, expansionFactor: 1.5, ffMult: 4, convKernelSize: 0, seed: 0, ...Object.fromEntries(given) };
  if (o.cell !== 'gru' && o.cell !== 'lstm') fail('MG_EINVAL', `${what}: cell must be 'gru' or 'lstm', got ${o.cell}`);
  integer(o.numTokens, what, 'numTokens', 1, 2 ** 24);
  integer(o.dim, what, 'dim', 1, 65536);
  integer(o.depth, what, 'depth', 1, 1024);
  integer(o.convKernelSize, what, 'convKernelSize', 0, 1024);
  integer(o.seed, what, 'seed', 0, Number.MAX_SAFE_INTEGER);
  number(o.expansionFactor, what, 'expansionFactor', (x) => x > 0 && x < Infinity, '> 0');
  number(o.ffMult, what, 'ffMult', (x) => x > 0 && x < Infinity, '> 0');
  return o;
}
