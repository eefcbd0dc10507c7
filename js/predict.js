// predict.js — predictive text: a Predictor follows a text as it is typed (a step per new token, states kept for
// backspace) and asks the engine's search (src/predict.c) for its most likely continuations. The search is C's; this
// file holds the options, the text's tokens and states, and the results as text.
import { fail } from './errors.js';
import { BYTES, needTokenizer } from './tokenizer.js';
import { yieldToEventLoop } from './runtime.js';

const MAX_COUNT = 16, MAX_TOKENS = 64, MAX_BUDGET = 1024; // mingru.h's MG_PREDICT_MAX_*
// A state is kept after every EVERY-th token of the last RECENT tokens, and after every SPARSE-th token before them:
// a backspace re-reads at most EVERY - 1 tokens, an edit far back at most SPARSE - 1, and a long text keeps few.
const EVERY = 16, RECENT = 64 * EVERY, SPARSE = 16 * EVERY;
const utf8 = new TextEncoder();
const tables = new WeakMap(); // tokenizer -> its token table (tokenTable), made once
// The cache of the text's own words (option cache, for until 'word'): a word the text has used is likelier again,
// above all after the word it followed before. The cache's probability of a word that begins with the typed prefix:
// (1 - AFTER) of how often it was typed among the cached words that begin so, plus AFTER of the same among the
// words typed after the previous word (all of it where none was); the search mixes it in with weight CACHE_WEIGHT
// (src/predict.c). The weights were chosen on three passages of the held-out Bible (weights 0.2-0.5, AFTER 0 to 0.7
// tried); with them the demo model saves 1.2 to 3.2 more keystrokes in 100 (bench/results/predict-2026-12-07.md).
const CACHE_WEIGHT = 0.4, AFTER = 0.7, CACHE_WORDS = 64; // the most likely CACHE_WORDS words are given to the search
const WORD_RUN = /[0-9A-Za-z'\u0080-\u{10ffff}]+/gu; // src/predict.c's word characters (every one beyond ASCII)
const WORD_END = /[0-9A-Za-z'\u0080-\u{10ffff}]*$/u;

/** lm.predictor()'s options, checked, with the defaults: { count, until, maxTokens, minChars, budget }. */
export function predictorOptions(options) {
  if (options !== undefined && (options === null || typeof options !== 'object')) fail('MG_EINVAL', 'predictor: options must be an object');
  const { count = 3, until = 'word', maxTokens = 24, minChars = until === 'word' ? 2 : 1, budget = 0, cache = true, ...rest } = options ?? {};
  const unknown = Object.keys(rest);
  if (unknown.length) fail('MG_EINVAL', `predictor: unknown option ${unknown[0]} (count, until, maxTokens, minChars, budget, cache)`);
  if (typeof cache !== 'boolean') fail('MG_EINVAL', `predictor: cache must be true or false, got ${cache}`);
  if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) fail('MG_EINVAL', `predictor: count must be an integer in [1, ${MAX_COUNT}], got ${count}`);
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > MAX_TOKENS) {
    fail('MG_EINVAL', `predictor: maxTokens must be an integer in [1, ${MAX_TOKENS}], got ${maxTokens}`);
  }
  if (until !== 'word' && until !== 'line' && !(Number.isInteger(until) && until >= 1)) {
    fail('MG_EINVAL', `predictor: until must be 'word', 'line' or a positive integer (tokens), got ${until}`);
  }
  if (typeof until === 'number' && until > maxTokens) fail('MG_EINVAL', `predictor: until is ${until} tokens, more than maxTokens (${maxTokens})`);
  if (!Number.isInteger(minChars) || minChars < 0 || minChars > 8) fail('MG_EINVAL', `predictor: minChars must be an integer in [0, 8], got ${minChars}`);
  if (!Number.isInteger(budget) || budget < 0 || budget > MAX_BUDGET) {
    fail('MG_EINVAL', `predictor: budget must be 0 (the default) or an integer in [1, ${MAX_BUDGET}] (steps of the search), got ${budget}`);
  }
  return { count, until, maxTokens, minChars, budget, cache };
}

/** The predictor's checks of the model: it predicts its next token, and has a tokenizer for text. */
export function predictorModel(model) {
  const { numTokens, numOutputs } = model.config;
  if (numOutputs !== numTokens) {
    fail('MG_EINVAL', `predictor: this model's ${numOutputs} outputs are not its ${numTokens} tokens (a task model): it does not predict its next token`);
  }
  return needTokenizer(model, 'predictor');
}

const isHigh = (u) => u >= 0xd800 && u <= 0xdbff, isLow = (u) => u >= 0xdc00 && u <= 0xdfff;
const isWordByte = (b) => b >= 0x80 || (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x27;

/** Every token's bytes as the engine takes them: { bytes, offsets }; special tokens and holes have none. */
function tokenTable(tokenizer) {
  const special = new Set(tokenizer.addedTokens.filter((t) => t.special).map((t) => t.id));
  const pieces = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    let b = new Uint8Array(0);
    try {
      if (!special.has(id)) b = tokenizer.tokenBytes(id);
    } catch {} // an id the vocabulary leaves out
    pieces.push(b);
  }
  const offsets = new Uint32Array(pieces.length + 1);
  pieces.forEach((b, i) => (offsets[i + 1] = offsets[i] + b.length));
  const bytes = new Uint8Array(offsets[pieces.length]);
  pieces.forEach((b, i) => bytes.set(b, offsets[i]));
  return { bytes, offsets };
}

/** Bytes as text, without an unfinished character at the end (a continuation cut short by maxTokens or a token count). */
function textOf(bytes) {
  let end = bytes.length, k = end - 1;
  while (k >= 0 && k > end - 4 && (bytes[k] & 0xc0) === 0x80) k--;
  if (k >= 0 && bytes[k] >= 0xc0 && end - k < (bytes[k] >= 0xf0 ? 4 : bytes[k] >= 0xe0 ? 3 : 2)) end = k;
  return new TextDecoder().decode(bytes.subarray(0, end));
}

/**
 * Suggestions per keystroke: made by lm.predictor(). input(), delete() and set() change the text (the state reads only
 * the tokens that changed), suggestions() searches. A suggestions() that an input(), delete(), set() or dispose()
 * overtakes before its search starts resolves to [] (the search itself, a few milliseconds, is not interrupted).
 */
export class Predictor {
  #model;
  #engine;
  #options;
  #tokenizer;
  #ptr; // the engine's predictor
  #state; // after #tokens
  #tokens = []; // the ids the state has read
  #checkpoints = []; // [{ at, state }]: the state after `at` tokens (EVERY, SPARSE)
  #text = '';
  #pending = new Uint8Array(0); // the text's bytes the state has not read (a tokenizer's unfinished last word)
  #before = -1; // the text's last byte, -1 for an empty text
  #generation = 0; // changes of the text: a search asked for before the last one gives []
  // the cache: the text's finished words (those a character that is not a word's follows), up to #counted
  #words = new Map(); // word -> times
  #after = new Map(); // word -> Map(the word that followed it -> times)
  #counted = 0; // the UTF-16 units of the text whose words are counted (the end of the last word counted)
  #lastWord = ''; // the last word counted

  /** @internal lm.predictor(options) */
  constructor(model, options) {
    this.#options = predictorOptions(options);
    const m = model._live('predictor');
    this.#tokenizer = predictorModel(model);
    this.#model = model;
    this.#engine = model._engine;
    let table = null;
    if (this.#tokenizer !== BYTES) {
      if (!tables.has(this.#tokenizer)) tables.set(this.#tokenizer, tokenTable(this.#tokenizer));
      table = tables.get(this.#tokenizer);
    }
    this.#ptr = this.#engine.predictorCreate(m, table, 'predictor');
    try {
      this.#state = this.#engine.stateCreate(m, 'predictor');
    } catch (e) {
      this.#engine.predictorFree(this.#ptr);
      throw e;
    }
  }

  /** Appends typed text. */
  async input(text) {
    if (typeof text !== 'string') fail('MG_EINVAL', `predictor.input: text must be a string, got ${typeof text}`);
    this.#change(this.#text + text, this.#text.length, 'predictor.input');
  }

  /** Removes the last n characters (code points; default 1), as backspace does. */
  async delete(n = 1) {
    if (!Number.isInteger(n) || n < 0) fail('MG_EINVAL', `predictor.delete: n must be an integer >= 0, got ${n}`);
    let end = this.#text.length;
    for (let i = 0; i < n && end > 0; i++) end -= end >= 2 && isLow(this.#text.charCodeAt(end - 1)) && isHigh(this.#text.charCodeAt(end - 2)) ? 2 : 1;
    this.#change(this.#text.slice(0, end), end, 'predictor.delete');
  }

  /** Replaces the text: only what follows its longest common prefix (in tokens) with the last is read. */
  async set(text) {
    if (typeof text !== 'string') fail('MG_EINVAL', `predictor.set: text must be a string, got ${typeof text}`);
    let keep = 0;
    while (keep < text.length && text.charCodeAt(keep) === this.#text.charCodeAt(keep)) keep++;
    this.#change(text, keep, 'predictor.set');
  }

  /**
   * The `count` most likely distinct continuations of the text, each ending where `until` says, most likely first.
   * [] for a text with no token read yet (an empty text; with a subword tokenizer, a first word still typed), and for
   * a call that a change of the text or dispose() overtook.
   * @returns {Promise<{ text: string, probability: number }[]>}
   */
  async suggestions() {
    this.#live('predictor.suggestions');
    const generation = this.#generation;
    await yieldToEventLoop(); // an input() sent meanwhile (a page's worker reads it now) cancels this search
    if (generation !== this.#generation || !this.#ptr || this.#tokens.length === 0) return []; // (a disposed model drops it)
    if (this.#options.cache && this.#options.until === 'word') this.#giveCache();
    const found = this.#engine.predict(this.#ptr, this.#state, this.#pending, this.#before, this.#options, 'predictor.suggestions');
    const merged = new Map(); // texts cut to whole characters may meet
    for (const { bytes, probability } of found) {
      const text = textOf(bytes);
      if (text) merged.set(text, (merged.get(text) ?? 0) + probability);
    }
    return [...merged].map(([text, probability]) => ({ text, probability })).sort((a, b) => b.probability - a.probability);
  }

  /** Frees the predictor and its states; later calls throw MG_EDISPOSED. Calling it twice is harmless. */
  dispose() {
    if (!this.#ptr) return;
    this.#model._forgetPredictor(this);
    this._drop();
  }

  /** @internal frees the engine's objects (dispose(), or the model's dispose()) */
  _drop() {
    this.#engine.predictorFree(this.#ptr);
    this.#engine.stateFree(this.#state);
    for (const c of this.#checkpoints) this.#engine.stateFree(c.state);
    this.#checkpoints = [];
    this.#ptr = 0;
    this.#generation++;
  }

  /** Counts the words of the text finished since #counted (all of them again after a change at or before it). */
  #countWords(keep) {
    const text = this.#text;
    if (keep <= this.#counted) {
      this.#words.clear(), this.#after.clear();
      this.#counted = 0, this.#lastWord = '';
    }
    WORD_RUN.lastIndex = this.#counted;
    for (let m; (m = WORD_RUN.exec(text)) !== null && m.index + m[0].length < text.length; ) {
      const word = m[0];
      this.#words.set(word, (this.#words.get(word) ?? 0) + 1);
      if (this.#lastWord) {
        let next = this.#after.get(this.#lastWord);
        if (!next) this.#after.set(this.#lastWord, (next = new Map()));
        next.set(word, (next.get(word) ?? 0) + 1);
      }
      this.#lastWord = word;
      this.#counted = m.index + word.length;
    }
  }

  /** Gives the search the cache's words for the word being typed: the continuations they would be, with the cache's
   * probabilities. None where the text ends in a character that is neither a word's nor a space (after a comma, the
   * next word comes after a space, which the cache's words do not have). */
  #giveCache() {
    const text = this.#text, prefix = WORD_END.exec(text)[0], { minChars } = this.#options;
    const last = text.at(-1);
    const fits = (w) => w.length > prefix.length && w.startsWith(prefix) && [...w.slice(prefix.length)].length >= minChars;
    const share = (counts) => {
      const out = new Map();
      let total = 0;
      for (const [w, c] of counts ?? []) if (fits(w)) out.set(w, c), (total += c);
      for (const [w, c] of out) out.set(w, c / total);
      return out;
    };
    const words = prefix || /\s/.test(last ?? '') ? share(this.#words) : new Map();
    const after = share(this.#after.get(this.#lastWord));
    const p = new Map([...words].map(([w, q]) => [w, (after.size ? 1 - AFTER : 1) * q + (after.get(w) ?? 0) * AFTER]));
    const best = [...p].sort((x, y) => y[1] - x[1]).slice(0, CACHE_WORDS);
    this.#engine.predictorCache(this.#ptr, best.map(([w]) => utf8.encode(w.slice(prefix.length))), best.map(([, q]) => q),
      CACHE_WEIGHT, 'predictor.suggestions');
  }

  #live(what) {
    if (!this.#ptr) fail('MG_EDISPOSED', `${what}: the predictor was disposed`);
    return this.#model._live(what);
  }

  /** The text becomes `text`, whose first `keep` UTF-16 units are the last text's: back to the last state kept within
   * the tokens the two share, then reading on. */
  #change(text, keep, what) {
    const m = this.#live(what);
    this.#generation++;
    const { common, tail, pending } = this.#target(text, keep);
    if (common < this.#tokens.length) {
      const again = this.#tokens.slice(this.#rewind(common, what), common); // from the kept state to the change
      this.#tokens.length = common - again.length;
      this.#read(m, again, what);
    }
    this.#read(m, tail, what);
    const bytes = utf8.encode(text.slice(-2));
    this.#text = text;
    this.#countWords(keep);
    this.#pending = pending;
    this.#before = bytes.length ? bytes[bytes.length - 1] : -1;
  }

  /** The state reads `ids` after its tokens, keeping a state at every multiple of EVERY tokens. */
  #read(m, ids, what) {
    const width = this.#model.config.numOutputs;
    for (let i = 0; i < ids.length; ) {
      const at = this.#tokens.length, n = Math.min(ids.length - i, EVERY - (at % EVERY));
      const block = ids.slice(i, i + n);
      this.#engine.lmForward(m, this.#state, block, { width, logits: false }, what);
      for (const id of block) this.#tokens.push(id);
      i += n;
      if ((at + n) % EVERY === 0) this.#keep(at + n, what);
    }
  }

  /** Keeps a copy of the state after `at` tokens; of the older ones, those after a multiple of SPARSE tokens. */
  #keep(at, what) {
    this.#checkpoints.push({ at, state: this.#engine.stateClone(this.#state, what) });
    if (at % SPARSE !== 0) return;
    this.#checkpoints = this.#checkpoints.filter((c) => {
      const keep = c.at % SPARSE === 0 || c.at > at - RECENT;
      if (!keep) this.#engine.stateFree(c.state);
      return keep;
    });
  }

  /** The state back to the last one kept at or before `n` tokens (the empty state if none); returns its tokens
   * (#tokens is left to the caller). */
  #rewind(n, what) {
    while (this.#checkpoints.length && this.#checkpoints.at(-1).at > n) this.#engine.stateFree(this.#checkpoints.pop().state);
    const kept = this.#checkpoints.at(-1);
    if (kept) this.#engine.stateCopy(this.#state, kept.state, what);
    else this.#engine.stateReset(this.#state, what);
    return kept ? kept.at : 0;
  }

  /** The tokens the state reads for `text` (its first `keep` UTF-16 units are the last text's): the first `common`
   * it has read, then `tail`; and the bytes left pending. Byte-level: every byte is read, and only the bytes after
   * `keep` are encoded. A subword tokenizer may tokenize the last word otherwise once more is typed (" wor" + "d" is
   * " word"), so the last word and the spaces before it are not read: they are pending, and the search continues
   * only with tokens that spell them out; the tokens read are the first ones of the whole text's own tokenization
   * (encoded whole each time), those whose bytes are the text's. */
  #target(text, keep) {
    if (this.#tokenizer === BYTES) {
      if (keep > 0 && isHigh(text.charCodeAt(keep - 1))) keep--; // a character's two halves are encoded together
      const dropped = keep === this.#text.length ? 0 : utf8.encode(this.#text.slice(keep)).length;
      return { common: this.#tokens.length - dropped, tail: utf8.encode(text.slice(keep)), pending: new Uint8Array(0) };
    }
    const bytes = utf8.encode(text);
    let cut = bytes.length;
    while (cut > 0 && isWordByte(bytes[cut - 1])) cut--;
    while (cut > 0 && bytes[cut - 1] === 0x20) cut--;
    const all = this.#tokenizer.encode(text);
    let k = 0, end = 0;
    for (; k < all.length; k++) {
      let b = this.#tokenizer.tokenBytes(all[k]);
      for (let s = k === 0 ? this.#tokenizer.stripFirst : 0; s > 0 && b[0] === 0x20; s--) b = b.subarray(1);
      if (end + b.length > cut || b.some((x, i) => x !== bytes[end + i])) break;
      end += b.length;
    }
    let common = 0;
    while (common < this.#tokens.length && common < k && this.#tokens[common] === all[common]) common++;
    return { common, tail: all.subarray(common, k), pending: bytes.subarray(end) };
  }
}
