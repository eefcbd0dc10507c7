// compress.js — learning while reading (dynamic evaluation: evaluate({ adapt })) and the neural compressor
// (lm.compress / lm.decompress): arithmetic coding of bytes with the model's probabilities (src/coder.c), the model
// learning from each segment once it has been coded. The file format is docs/format.md's "Compressed files".
import { MingruError, fail } from './errors.js';
import { encodeBytes, needTokenizer } from './tokenizer.js';
import { yielder } from './runtime.js';
import { trainerOptions } from './train.js';

/** How the model learns while it reads (Krause et al. 2018): after each `segment` tokens have been predicted, one
 * AdamW step on them (with the token before them as context), without weight decay (it would pull the weights
 * to zero, not back to where they were); only the top learns (part 'top'), which is several times faster than
 * everything for a little less gain. Chosen on the demo model, the held-out tenth and the Bible's end:
 * docs/compress.md. */
export const ADAPT_DEFAULTS = Object.freeze({ lr: 2.5e-4, segment: 48, betas: [0, 0.999], eps: 1e-8, weightDecay: 0, clip: 0, part: 'top' });
/** The defaults when every weight learns (part 'all'): a step through the whole model costs more, so longer
 * segments, a smaller learning rate, the gradient clipped. */
export const ADAPT_DEFAULTS_ALL = Object.freeze({ ...ADAPT_DEFAULTS, lr: 1e-4, segment: 128, clip: 1, part: 'all' });

const MAGIC = [0x4d, 0x47, 0x52, 0x5a]; // "MGRZ"
// Version 3: the one Q8 arithmetic (7-bit activations in every build, docs/kernels.md) changed the Q8 probabilities
const FORMAT = 'mingru-compressed', VERSION = 3;
const BLOCK = 4096; // tokens per engine call without adaptation (progress and aborts land between calls)
const PRIME_READ = 4096; // the last tokens of a prime the model reads (and learns from); the match models see it all

/** adapt (false, true or options) checked, with the defaults filled in; null for no adaptation. */
export function adaptOptions(adapt, what) {
  if (adapt === undefined || adapt === false || adapt === null) return null;
  if (adapt !== true && (typeof adapt !== 'object' || Array.isArray(adapt))) fail('MG_EINVAL', `${what}: adapt must be true, false or an options object, got ${adapt}`);
  const { segment, keep, ...rest } = adapt === true ? {} : adapt;
  const known = new Set([...Object.keys(ADAPT_DEFAULTS), 'keep']);
  for (const k of Object.keys(adapt === true ? {} : adapt)) if (!known.has(k)) fail('MG_EINVAL', `${what}: unknown adapt option ${k} (known: ${[...known].join(', ')})`);
  const given = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  const defaults = (given.part ?? ADAPT_DEFAULTS.part) === 'all' ? ADAPT_DEFAULTS_ALL : ADAPT_DEFAULTS;
  const o = trainerOptions({ ...defaults, ...given, dropout: 0, seed: 0 }, `${what}: adapt`);
  const seg = segment ?? defaults.segment;
  if (!Number.isInteger(seg) || seg < 1 || seg > 65536) fail('MG_EINVAL', `${what}: adapt.segment must be an integer in [1, 65536], got ${segment}`);
  if (keep !== undefined && typeof keep !== 'boolean') fail('MG_EINVAL', `${what}: adapt.keep must be true or false, got ${keep}`);
  return { lr: o.lr, segment: seg, betas: o.betas, eps: o.eps, weightDecay: o.weightDecay, clip: o.clip, part: o.part, keep: keep ?? false };
}

/**
 * Reads n tokens segment by segment: `read(model, from, to, trainer)` predicts tokens [from, to) (scores, codes or
 * decodes them into `tokens`), then, with adaptation, the model learns from them: `learn(trainer)` if given, else
 * a trainer step on the segment's tokens (with the one before them). Unless adapt.keep, the learning happens on a
 * copy of the model's weights (F32; with part 'top' a Q8 model's frozen rest stays Q8), freed at the end, so the
 * model is left as it was. `kernel` is the copy's (compress needs 'portable'). onProgress({ done, total }) after
 * each segment; an abort of `signal` rejects with MG_EABORTED. `end()` runs at the end, whatever happens, before
 * the copy is freed.
 */
async function readAdapting(model, { tokens, n, adapt, read, learn, end, what, signal, onProgress, kernel }) {
  const aborted = () => new MingruError('MG_EABORTED', `${what} was aborted`, { cause: signal.reason });
  // learning only the top, the rest of a Q8 model stays Q8 (its steps twice as fast as F32's)
  const dtype = adapt?.part === 'top' && model.config.quantized ? 'q8' : 'f32';
  const learner = adapt && !adapt.keep ? model._copy(kernel, what, dtype) : model;
  const trainer = adapt ? learner.trainer({ lr: adapt.lr, betas: adapt.betas, eps: adapt.eps, weightDecay: adapt.weightDecay, clip: adapt.clip, part: adapt.part }) : null;
  const segment = adapt ? adapt.segment : BLOCK;
  const pause = yielder(); // timers and aborts run between segments
  try {
    for (let from = 0; from < n; from += segment) {
      if (signal?.aborted) throw aborted();
      const to = Math.min(n, from + segment);
      await read(learner, from, to, trainer);
      if (trainer && to < n) {
        const window = tokens.subarray(Math.max(0, from - 1), to); // the token before the segment is its context
        if (window.length > 1) await (learn ? learn(trainer) : trainer.step(window, { batch: 1, seqLen: window.length - 1 }));
      }
      onProgress?.({ done: to, total: n });
      await pause();
    }
  } finally {
    end();
    trainer?.dispose();
    if (learner !== model) learner.dispose();
  }
}

/** evaluate(data, { adapt }): bits of each segment predicted (by the parallel scan, the state carried), then
 * learned from. Returns the bits and the number of tokens predicted. */
export async function evaluateAdapting(model, tokens, adapt, { signal, onProgress }) {
  const V = model.config.numTokens;
  const ids = Int32Array.from(tokens);
  let bits = 0, predicted = 0, previous = null, state = null;
  await readAdapting(model, {
    tokens: ids, n: ids.length, adapt, what: 'evaluate', signal, onProgress, kernel: 'auto',
    read: async (learner, from, to) => {
      state ??= learner.createState();
      const logits = await learner.forward(ids.subarray(from, to), { state, allLogits: true });
      for (let i = from; i < to; i++) {
        const row = i === from ? previous : logits.subarray((i - from - 1) * V, (i - from) * V);
        if (row) bits -= logSoftmaxAt(row, ids[i]) / Math.LN2, predicted++;
      }
      previous = logits.slice((to - from - 1) * V);
    },
    end: () => state?.dispose(),
  });
  return { bits, predicted };
}

/** log softmax(row)[t], in doubles. */
export function logSoftmaxAt(row, t) {
  let max = -Infinity;
  for (const x of row) if (x > max) max = x;
  let sum = 0;
  for (const x of row) sum += Math.exp(x - max);
  return row[t] - max - Math.log(sum);
}

// ---- the compressor

/** The bytes to compress: a Uint8Array, an ArrayBuffer or a string (its UTF-8). */
function bytesOf(data, what) {
  if (typeof data === 'string') return encodeBytes(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (data instanceof Uint8Array) return data;
  fail('MG_EINVAL', `${what}: data must be a Uint8Array, an ArrayBuffer or a string`);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (zlib's). */
function crc(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const crc32 = (bytes) => crc(bytes).toString(16).padStart(8, '0'); // as 8 hex digits

function callOptions(options, what) {
  const o = options ?? {};
  if (typeof o !== 'object') fail('MG_EINVAL', `${what}: options must be an object`);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) fail('MG_EINVAL', `${what}: signal must be an AbortSignal`);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') fail('MG_EINVAL', `${what}: onProgress must be a function`);
  return o;
}

/** Codes (or decodes) the tokens after the first `primed` with the model, learning as it goes: the same
 * sequence of computations both ways. The first `primed` tokens (the prime, known to both sides) are not coded:
 * the coder's match models remember them all, and the model reads (and learns from) the last PRIME_READ of them
 * (the coder steps the state over them on its portable kernels). */
async function code(model, { tokens: all, primed: allPrimed, adapt, coded, what, signal, onProgress }) {
  const engine = model._engine;
  const skip = Math.max(0, allPrimed - PRIME_READ), tokens = all.subarray(skip), primed = allPrimed - skip;
  // learning only the top, the coder keeps what entered the top at each of its steps (with the whole text before
  // as context) and the top learns from those rows: the frozen layers below are not run again
  const top = adapt?.part === 'top';
  let coder = 0, state = null, result;
  await readAdapting(model, {
    tokens, n: tokens.length, adapt, what, signal, onProgress, kernel: 'portable',
    read: async (learner, from, to, trainer) => {
      if (!coder) {
        state = learner.createState();
        coder = engine.coderCreate(learner._live(what), coded ?? null, what);
        if (skip) engine.coderRemember(coder, all.subarray(0, skip), what);
        if (top) engine.coderSetLearner(coder, trainer._handle(what), what);
      }
      const s = state._handle(learner, what), mid = Math.min(Math.max(from, primed), to);
      if (mid > from) engine.coderEncode(coder, s, tokens.subarray(from, mid), what, { read: true });
      if (to === mid) return;
      if (coded) tokens.set(engine.coderDecode(coder, s, to - mid, what), mid);
      else engine.coderEncode(coder, s, tokens.subarray(mid, to), what);
      if (!coded && to === tokens.length) result = engine.coderFinish(coder, what);
    },
    learn: top ? (trainer) => trainer._learnFromCoder(coder, what) : undefined,
    end: () => {
      if (coder) engine.coderFree(coder);
      state?.dispose();
    },
  });
  return coded ? tokens.subarray(primed) : result;
}

/** The prime option: bytes both sides read before the data, or an empty array. */
function primeOf(o, what) {
  return o.prime === undefined ? new Uint8Array(0) : bytesOf(o.prime, `${what}: prime`);
}

/** What the coder codes for these bytes: the bytes themselves with the byte-level tokenizer; with another, the ids
 * of their text, which must be UTF-8 and come back from decode(encode(text)) as it was (a normalizer that changes
 * the text, or an unknown token, would lose data: refused by name). */
function tokensOf(model, bytes, what) {
  const t = needTokenizer(model, what);
  if (t.kind === 'bytes') return bytes;
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    fail('MG_EINVAL', `${what}: the data is not UTF-8 text, which the model's tokenizer (${t.format}) reads; only a byte-level model compresses any bytes`);
  }
  const ids = t.encode(text), back = t.decode(ids);
  if (back !== text) {
    let i = 0;
    while (i < text.length && text[i] === back[i]) i++;
    fail('MG_EINVAL', `${what}: the model's tokenizer (${t.format}) does not give this text back: decode(encode(data)) differs from ` +
      `character ${i} on (${JSON.stringify(text.slice(i, i + 12))} became ${JSON.stringify(back.slice(i, i + 12))}), so compressing ` +
      'its tokens would lose data; compress needs a tokenizer that keeps the text (no normalizer that changes it, no unknown tokens)');
  }
  return ids;
}

/** The header's record of the tokenizer (null for the byte-level one): its format and the CRC-32 of its file, so
 * that a decoder given another tokenizer at load is refused by name. */
function tokenizerRecord(model) {
  const t = model.tokenizer;
  return !t || t.kind === 'bytes' ? null : { format: t.format, crc32: crc32(t.source) };
}

/** The header's fields for a tokenizer other than the byte-level one: the number of tokens coded and the
 * tokenizer's record; none for bytes (their files as before). */
function tokenized(model, ids, stored) {
  const record = tokenizerRecord(model);
  return record && !stored ? { tokens: ids.length, tokenizer: record } : {};
}

/**
 * lm.compress(data, { adapt = true, prime, signal, onProgress }): data coded with the model's probabilities,
 * refined by the coder's match models, learning while it reads (adapt: true, false or options as evaluate's).
 * `prime`: bytes known to both sides before the data (a dictionary: decompress must be given them too): the match
 * models remember all of it, the model reads (and learns from) its last 4,096. The file names the model (its
 * identity), the settings, the prime's length and CRC-32, the data's length and CRC-32; when coding would not make
 * the data smaller, the file stores it.
 * @returns {Promise<Uint8Array>}
 */
export async function compress(model, data, options) {
  const what = 'compress';
  model._live(what);
  const o = callOptions(options, what);
  const bytes = bytesOf(data, what);
  const adapt = adaptOptions(o.adapt ?? true, what);
  if (adapt?.keep) fail('MG_EINVAL', `${what}: adapt.keep is not allowed (the decoder starts from the model's weights)`);
  const prime = primeOf(o, what);
  const primeIds = tokensOf(model, prime, `${what}: prime`), ids = tokensOf(model, bytes, what);
  const tokens = new Int32Array(primeIds.length + ids.length);
  tokens.set(primeIds);
  tokens.set(ids, primeIds.length);
  const coded = bytes.length ? await code(model, { tokens, primed: primeIds.length, adapt, what, signal: o.signal, onProgress: o.onProgress }) : new Uint8Array(0);
  const stored = coded.length >= bytes.length;
  const header = {
    format: FORMAT, version: VERSION, model: model.identity, modelName: model.config.name ?? null,
    method: stored ? 'stored' : 'model', ...tokenized(model, ids, stored), prime: prime.length && !stored ? { length: prime.length, crc32: crc32(prime) } : null, length: bytes.length, crc32: crc32(bytes), payloadCrc32: crc32(stored ? bytes : coded),
    adapt: adapt && !stored ? { lr: adapt.lr, segment: adapt.segment, betas: adapt.betas, eps: adapt.eps, weightDecay: adapt.weightDecay, clip: adapt.clip, ...(adapt.part === 'top' ? { part: 'top' } : {}) } : null, // part: 'all' unwritten (the files before it)
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const payload = stored ? bytes : coded;
  const out = new Uint8Array(13 + json.length + payload.length), view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = VERSION;
  view.setUint32(5, json.length, true);
  out.set(json, 9);
  view.setUint32(9 + json.length, crc(out.subarray(0, 9 + json.length)), true); // the header's own checksum
  out.set(payload, 13 + json.length);
  return out;
}

/** The header of a compressed file, checked against `model`; MG_EBADFILE / MG_EMISMATCH otherwise. */
export function readHeader(model, file, what) {
  const bad = (why) => new MingruError('MG_EBADFILE', `${what}: not a mingru compressed file, or a damaged one: ${why}`);
  if (!(file instanceof Uint8Array)) fail('MG_EINVAL', `${what}: the file must be a Uint8Array`);
  if (file.length < 9 || MAGIC.some((b, i) => file[i] !== b)) throw bad('it does not start with "MGRZ"');
  if (file[4] !== VERSION) {
    throw bad(`format version ${file[4]}; this engine reads version ${VERSION}` +
      (file[4] < VERSION ? ' (an older engine wrote it: decompress it with that version of mingru-wasm)' : ''));
  }
  const view = new DataView(file.buffer, file.byteOffset, file.length), n = view.getUint32(5, true);
  if (13 + n > file.length) throw bad(`the header of ${n} bytes runs past the end of the file (${file.length} bytes)`);
  if (view.getUint32(9 + n, true) !== crc(file.subarray(0, 9 + n))) throw bad("the header's CRC-32 does not match it");
  let h;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(9, 9 + n)));
  } catch (e) {
    throw bad(`its header is not valid JSON (${e.message})`);
  }
  if (h?.format !== FORMAT || h.version !== VERSION) throw bad(`its header names format ${h?.format} version ${h?.version}`);
  if (h.prime !== null && !(Number.isSafeInteger(h.prime?.length) && /^[0-9a-f]{8}$/.test(h.prime.crc32))) throw bad('its prime is not { length, crc32 }');
  if (!Number.isSafeInteger(h.length) || h.length < 0 || ![h.crc32, h.payloadCrc32].every((c) => /^[0-9a-f]{8}$/.test(c)) || !['model', 'stored'].includes(h.method)) {
    throw bad('its header lacks a valid length, crc32, payloadCrc32 or method');
  }
  if (h.model !== model.identity) {
    throw new MingruError('MG_EMISMATCH', `${what}: the file was compressed with another model (identity ${h.model}${h.modelName ? `, "${h.modelName}"` : ''}); ` +
      `this one is ${model.identity}${model.config.name ? ` ("${model.config.name}")` : ''}. Decompress it with the same model file`);
  }
  if (h.tokens !== undefined && !(Number.isSafeInteger(h.tokens) && h.tokens >= 0)) throw bad('its token count is not an integer');
  if (h.tokenizer !== undefined && !(typeof h.tokenizer?.format === 'string' && /^[0-9a-f]{8}$/.test(h.tokenizer.crc32))) throw bad('its tokenizer is not { format, crc32 }');
  if ((h.tokens === undefined) !== (h.tokenizer === undefined)) throw bad('it has a token count without a tokenizer, or a tokenizer without one');
  const mine = tokenizerRecord(model), theirs = h.tokenizer ?? null;
  if (h.method === 'model' && mine?.crc32 !== theirs?.crc32) {
    throw new MingruError('MG_EMISMATCH', `${what}: the file was compressed through ${theirs ? `a ${theirs.format} tokenizer (CRC-32 ${theirs.crc32})` : 'the byte-level tokenizer'}; ` +
      `this model reads through ${mine ? `a ${mine.format} tokenizer (CRC-32 ${mine.crc32})` : 'the byte-level one'}. Load the model with the same tokenizer`);
  }
  const payload = file.subarray(13 + n);
  if (crc32(payload) !== h.payloadCrc32) throw bad(`the CRC-32 of its ${payload.length} coded bytes does not match the header's (truncated or damaged)`);
  if (h.method === 'stored' && payload.length !== h.length) throw bad(`it stores ${payload.length} bytes, its header says ${h.length}`);
  let adapt = null;
  try {
    const object = typeof h.adapt === 'object' && !Array.isArray(h.adapt); // no part: everything learned
    adapt = h.adapt === null ? null : adaptOptions(object ? { part: 'all', ...h.adapt } : h.adapt, what);
  } catch (e) {
    throw bad(`its adaptation settings are invalid (${e.message})`);
  }
  return { ...h, adapt, payload };
}

/** lm.decompress(file, { prime, signal, onProgress }): the bytes lm.compress was given (with the same prime, if
 * it had one). @returns {Promise<Uint8Array>} */
export async function decompress(model, file, options) {
  const what = 'decompress';
  model._live(what);
  const tokenizer = needTokenizer(model, what);
  const o = callOptions(options, what);
  const h = readHeader(model, file, what);
  const prime = primeOf(o, what);
  const primeMismatch = h.prime ? h.prime.length !== prime.length || h.prime.crc32 !== crc32(prime) : prime.length > 0;
  if (h.method === 'model' && primeMismatch) {
    fail('MG_EMISMATCH', h.prime ? `${what}: the file was compressed after a prime of ${h.prime.length} bytes (CRC-32 ${h.prime.crc32}); give the same bytes as prime` +
      (prime.length ? `, not these ${prime.length} (CRC-32 ${crc32(prime)})` : '') : `${what}: the file was compressed without a prime; give none`);
  }
  let bytes;
  if (h.method === 'stored') bytes = h.payload.slice();
  else if (h.length === 0) bytes = new Uint8Array(0);
  else {
    const primeIds = tokensOf(model, prime, `${what}: prime`);
    const tokens = new Int32Array(primeIds.length + (h.tokens ?? h.length));
    tokens.set(primeIds);
    const ids = await code(model, { tokens, primed: primeIds.length, adapt: h.adapt, coded: h.payload, what, signal: o.signal, onProgress: o.onProgress });
    bytes = tokenizer.kind === 'bytes' ? Uint8Array.from(ids) : encodeBytes(tokenizer.decode(ids));
  }
  if (crc32(bytes) !== h.crc32) {
    throw new MingruError('MG_EBADFILE', `${what}: the decoded bytes' CRC-32 is ${crc32(bytes)}, not the ${h.crc32} the compressor recorded; ` +
      "the file's own checksums hold, so this engine computed other probabilities than the compressor's: the file comes from another " +
      'version of the engine (docs/compress.md: files are tied to its arithmetic), or this is a bug (please report it)');
  }
  return bytes;
}
