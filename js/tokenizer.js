// tokenizer.js — the tokenizers: the byte-level one (a token is a byte of the text's UTF-8), and parseTokenizer()
// for real vocabularies: Hugging Face tokenizer.json (BPE with ByteLevel or Metaspace + byte fallback, Unigram) and
// SentencePiece .model files (BPE, Unigram). docs/tokenizers.md says what is supported and what is refused.
import { fail } from './errors.js';
import { precompiled, sentencePieceParts, SPACE } from './sentencepiece.js';
import { byteTokenIds, initialSymbols, mergePairs, unigram } from './subword.js';

const encoder = new TextEncoder();

/** The model's tokenizer (its `tokenizer`), or MG_EINVAL for a model without one. */
export function needTokenizer(model, what) {
  if (!model.tokenizer) {
    fail('MG_EINVAL', `${what}: the model has no tokenizer (its file says "none"): give one with load(source, { tokenizer }), ` +
      'or pass token ids');
  }
  return model.tokenizer;
}

/** Gives a model class (Node's and the page's proxy) its encode(text) and decode(tokens), by the model's
 * `tokenizer`; they use the class's `_live(method)`. */
export function withTokenizer(Model) {
  Object.assign(Model.prototype, {
    /** The text as token ids (the byte-level tokenizer: its UTF-8 bytes; others: ids in the narrowest typed array). */
    encode(text) {
      this._live('encode');
      if (typeof text !== 'string') fail('MG_EINVAL', `encode: text must be a string, got ${typeof text}`);
      return needTokenizer(this, 'encode').encode(text);
    },
    /** Token ids back to text. */
    decode(tokens) {
      this._live('decode');
      const t = needTokenizer(this, 'decode');
      checkTokens(tokens, t.vocabSize, 'decode');
      return t.decode(tokens);
    },
  });
}

/** The byte-level tokenizer, in the interface of parseTokenizer's. */
export const BYTES = Object.freeze({
  kind: 'bytes',
  format: 'bytes',
  vocabSize: 256,
  encode: (text) => encodeBytes(text),
  decode: (tokens) => decodeBytes(tokens),
  decoder: () => new ByteDecoder(),
});

/** The tokenizer embedded in a model file (docs/format.md: metadata "tokenizer" is "tokenizer.json" or
 * "sentencepiece", and a U8 tensor `tokenizer` holds the file), as { kind, bytes }, or null. */
export function embeddedTokenizer(file) {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.length < 8) return null;
  const n = Number(dv.getBigUint64(0, true));
  if (n > file.length - 8) return null;
  let header;
  try {
    header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n)));
  } catch {
    return null; // the engine's loader says what is wrong with the file
  }
  const kind = header.__metadata__?.tokenizer, t = header.tokenizer;
  if ((kind !== 'tokenizer.json' && kind !== 'sentencepiece') || !t || t.dtype !== 'U8') return null;
  const [begin, end] = t.data_offsets;
  return { kind, bytes: file.subarray(8 + n + begin, 8 + n + end) };
}

/** A tokenizer from its file's bytes (tokenizer.json or SentencePiece .model), as MG_EBADFILE where it cannot be
 * read; `what` names where it came from. */
export function tokenizerFrom(bytes, what) {
  try {
    const t = parseTokenizer(bytes);
    t.source = bytes;
    // the file's format, as a model file's metadata names it (docs/format.md): JSON, or a SentencePiece protobuf
    t.format = bytes.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) === 0x7b ? 'tokenizer.json' : 'sentencepiece';
    return t;
  } catch (e) {
    fail('MG_EBADFILE', `${what}: ${e.message}`);
  }
}

/** MG_EINVAL unless the tokenizer's ids fit the model's vocabulary. */
export function checkFits(tokenizer, numTokens, what) {
  if (tokenizer.vocabSize > numTokens) {
    fail('MG_EINVAL', `${what}: the tokenizer has ${tokenizer.vocabSize.toLocaleString('en')} tokens; the model's ` +
      `vocabulary has ${numTokens.toLocaleString('en')} (numTokens): it does not fit`);
  }
}

export function encodeBytes(text) {
  if (typeof text !== 'string') fail('MG_EINVAL', `encode: text must be a string, got ${typeof text}`);
  return encoder.encode(text);
}

function checkTokens(tokens, V, what) {
  for (const t of tokens) {
    if (!Number.isInteger(t) || t < 0 || t >= V) fail('MG_ERANGE', `${what}: token ${t} is outside the tokenizer's [0, ${V})`);
  }
}

export function decodeBytes(tokens) {
  checkTokens(tokens, 256, 'decode');
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(Uint8Array.from(tokens));
}

/** A streaming decoder: push(token) returns the text completed so far, never half a character; flush() what is
 * left (an unfinished character, as U+FFFD). */
export class ByteDecoder {
  #decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  push(token) {
    return this.#decoder.decode(Uint8Array.of(token), { stream: true });
  }

  flush() {
    return this.#decoder.decode();
  }
}

/** Generated text against stop strings: push(text) returns the text that is safe to emit now (what could be the
 * start of a stop string is held back) and sets `stopped` once a stop string is complete (it is not emitted, nor
 * anything after it); flush() returns what was held back at the end. */
export class StopMatcher {
  #stops;
  #pending = '';
  stopped = false;

  constructor(stops) {
    this.#stops = stops;
  }

  push(text) {
    const pending = this.#pending + text;
    const at = Math.min(...this.#stops.map((s) => pending.indexOf(s)).filter((i) => i >= 0));
    if (at !== Infinity) {
      this.stopped = true;
      this.#pending = '';
      return pending.slice(0, at);
    }
    // the longest end of `pending` that begins a stop string stays pending
    let held = 0;
    for (const stop of this.#stops) {
      for (let k = Math.min(stop.length - 1, pending.length); k > held; k--) {
        if (pending.endsWith(stop.slice(0, k))) {
          held = k;
          break;
        }
      }
    }
    this.#pending = pending.slice(pending.length - held);
    return pending.slice(0, pending.length - held);
  }

  flush() {
    const rest = this.#pending;
    this.#pending = '';
    return rest;
  }
}

// ---- Real vocabularies ------------------------------------------------------------------------------------------
// A text is split on added tokens; each other segment is normalized, pre-tokenized into words, and each word is
// encoded by the model (BPE merges or a Unigram lattice). Decoding maps each id to its bytes, so a streaming
// decoder only has to hold back an unfinished UTF-8 character (a byte-fallback sequence is one). Errors are plain
// Errors that name the component; the model layer wraps them.

const utf8 = new TextEncoder();

/** GPT-2's bytes-to-unicode map: printable bytes stand for themselves, the others for U+0100 onwards. */
const BYTE_CHARS = (() => {
  const chars = [];
  for (let b = 0, n = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    chars.push(String.fromCharCode(printable ? b : 256 + n++));
  }
  return chars;
})();
const CHAR_BYTES = new Map(BYTE_CHARS.map((c, b) => [c, b]));

/** GPT-2's pre-tokenizer pattern, with Unicode's White_Space for \s as Rust's regex (tiktoken, tokenizers) has it. */
const GPT2_SPLIT =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;
const WHITE = /\p{White_Space}/u;
const WORD_CHAR = /[\p{L}\p{N}_]/u;

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const unsupported = (what, type) => new Error(`${what} type "${type}" is not supported`);

/** A tokenizer from a Hugging Face tokenizer.json (string, bytes or parsed object) or a SentencePiece .model
 * (bytes). Throws an Error naming the component it does not support. */
export function parseTokenizer(input) {
  if (input instanceof ArrayBuffer) input = new Uint8Array(input);
  if (ArrayBuffer.isView(input)) {
    const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    const first = bytes.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
    if (first !== 0x7b) return new Tokenizer(sentencePieceParts(bytes)); // not '{': a protobuf ModelProto
    input = new TextDecoder().decode(bytes);
  }
  if (typeof input === 'string') input = JSON.parse(input);
  if (!input || typeof input !== 'object' || !input.model) throw new Error('tokenizer: not a tokenizer.json (no "model")');
  return fromJson(input);
}

class Tokenizer {
  #vocab; // id -> token string
  #ids; // token string -> id
  #added; // content -> added token, and the pattern that finds them (longest first)
  #addedPattern;
  #normalize;
  #preTokenize;
  #encodeWord;
  #cache = new Map();
  #pieceBytes; // token string and id -> its bytes when decoded
  #bytes = [];
  #stripFirst;

  constructor({ kind, vocab, added, normalize, preTokenize, encodeWord, pieceBytes, stripFirst }) {
    this.kind = kind;
    this.#vocab = vocab;
    for (const t of added) vocab[t.id] = t.content;
    this.#ids = new Map();
    vocab.forEach((t, id) => this.#ids.set(t, id));
    this.vocabSize = vocab.length;
    this.addedTokens = added.map(({ id, content, special }) => ({ id, content, special }));
    const matched = added.filter((t) => t.match !== false).sort((a, b) => b.content.length - a.content.length);
    this.#added = new Map(matched.map((t) => [t.content, t]));
    this.#addedPattern = matched.length ? new RegExp(matched.map((t) => escapeRegExp(t.content)).join('|'), 'gu') : null;
    this.#normalize = normalize;
    this.#preTokenize = preTokenize;
    this.#encodeWord = encodeWord;
    this.#pieceBytes = pieceBytes;
    this.#stripFirst = stripFirst;
  }

  idToToken(id) {
    return this.#vocab[id];
  }

  tokenToId(token) {
    return this.#ids.get(token);
  }

  /** The text's token ids: a Uint16Array when every id fits, else a Uint32Array. No BOS or EOS is added. */
  encode(text) {
    if (typeof text !== 'string') throw new TypeError(`encode: text must be a string, got ${typeof text}`);
    const ids = [];
    let at = 0;
    const pattern = this.#addedPattern;
    if (pattern) {
      pattern.lastIndex = 0;
      for (let m; (m = pattern.exec(text)); ) {
        const token = this.#added.get(m[0]);
        let start = m.index;
        let end = start + m[0].length;
        if (token.single_word && (WORD_CHAR.test(text[start - 1] ?? '') || WORD_CHAR.test(text[end] ?? ''))) continue;
        if (token.lstrip) while (start > at && WHITE.test(text[start - 1])) start--;
        if (token.rstrip) while (end < text.length && WHITE.test(text[end])) end++;
        this.#encodeSegment(text.slice(at, start), at === 0, ids);
        ids.push(token.id);
        at = pattern.lastIndex = end;
      }
    }
    this.#encodeSegment(text.slice(at), at === 0, ids);
    return (this.vocabSize <= 65536 ? Uint16Array : Uint32Array).from(ids);
  }

  #encodeSegment(text, first, ids) {
    if (!text) return;
    for (const word of this.#preTokenize(this.#normalize(text), first)) {
      let wordIds = this.#cache.get(word);
      if (!wordIds) {
        wordIds = this.#encodeWord(word);
        if (word.length <= 64) {
          if (this.#cache.size >= 100000) this.#cache.clear();
          this.#cache.set(word, wordIds);
        }
      }
      for (const id of wordIds) ids.push(id);
    }
  }

  /** Token `id`'s bytes as decoding writes them (an added token's content), but for the leading spaces that
   * decoding strips from a text's first token: `stripFirst` says how many at most. */
  tokenBytes(id) {
    return this.#tokenBytes(id);
  }

  get stripFirst() {
    return this.#stripFirst;
  }

  /** The ids as text (added and special tokens as their content). */
  decode(ids) {
    const stream = this.decoder();
    let text = '';
    for (const id of ids) text += stream.push(id);
    return text + stream.flush();
  }

  /** A streaming decoder: push(id) returns the text that is complete (an unfinished UTF-8 character, such as the
   * start of a byte-fallback sequence, is held back); flush() returns the rest (U+FFFD for an unfinished one).
   * `skipUnknown`: an id the vocabulary has no token for (a model's padded rows past it) decodes to nothing, as
   * Hugging Face's decode skips it; otherwise it throws. */
  decoder({ skipUnknown = false } = {}) {
    const utf8Stream = new TextDecoder('utf-8', { ignoreBOM: true });
    let strip = this.#stripFirst;
    return {
      push: (id) => {
        if (skipUnknown && !(id < this.vocabSize && this.#vocab[id] !== undefined)) return '';
        let bytes = this.#tokenBytes(id);
        if (strip && bytes.length) {
          let k = 0;
          while (k < strip && bytes[k] === 0x20) k++;
          bytes = bytes.subarray(k);
          strip = 0;
        }
        return utf8Stream.decode(bytes, { stream: true });
      },
      flush: () => utf8Stream.decode(),
    };
  }

  #tokenBytes(id) {
    let bytes = this.#bytes[id];
    if (!bytes) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.#vocab[id] === undefined)
        throw new RangeError(`decode: token ${id} is not in the vocabulary (0..${this.vocabSize - 1})`);
      const added = this.#added.get(this.#vocab[id]);
      bytes = this.#bytes[id] = added?.id === id ? utf8.encode(added.content) : this.#pieceBytes(this.#vocab[id], id);
    }
    return bytes;
  }
}

// ---- tokenizer.json ----

function fromJson(json) {
  const model = json.model;
  const added = (json.added_tokens ?? []).map((t) => ({ ...t }));
  let vocab;
  let encodeWord;
  let kind;
  if (model.type === 'BPE' || (!model.type && model.merges)) {
    for (const key of ['continuing_subword_prefix', 'end_of_word_suffix'])
      if (model[key]) throw new Error(`model BPE: ${key} is not supported`);
    if (model.dropout) throw new Error('model BPE: dropout is not supported');
    const ids = new Map(Object.entries(model.vocab));
    vocab = [];
    for (const [token, id] of ids) vocab[id] = token;
    const size = Math.max(vocab.length, ...added.map((t) => t.id + 1));
    const pairs = new Map();
    model.merges.forEach((merge, rank) => {
      const [a, b] = typeof merge === 'string' ? merge.split(' ') : merge;
      const [l, r, id] = [ids.get(a), ids.get(b), ids.get(a + b)];
      if (l === undefined || r === undefined || id === undefined)
        throw new Error(`model BPE: the merge "${a} ${b}" names a token that is not in the vocabulary`);
      pairs.set(l * size + r, [rank, id]);
    });
    const options = {
      byteIds: model.byte_fallback ? byteTokenIds(ids) : null,
      unkId: model.unk_token == null ? undefined : ids.get(model.unk_token),
      fuseUnk: !!model.fuse_unk,
    };
    encodeWord = (word) => {
      if (model.ignore_merges && ids.has(word)) return [ids.get(word)];
      return mergePairs(initialSymbols(word, ids, options), pairs, size);
    };
    kind = json.pre_tokenizer?.type === 'ByteLevel' ? 'bpe-bytelevel' : 'bpe-metaspace';
  } else if (model.type === 'Unigram') {
    vocab = model.vocab.map(([piece]) => piece);
    const scores = model.vocab.map(([, score]) => score);
    const ids = new Map(vocab.map((t, id) => [t, id]));
    if (model.unk_id == null) throw new Error('model Unigram: unk_id is required');
    encodeWord = unigram(vocab, scores, {
      unkId: model.unk_id,
      unkScore: Math.min(...scores) - 10,
      byteIds: model.byte_fallback ? byteTokenIds(ids) : null,
      round: (x) => x,
    });
    kind = 'unigram';
  } else throw unsupported('model', model.type);
  return new Tokenizer({
    kind,
    vocab,
    added,
    normalize: normalizer(json.normalizer),
    preTokenize: preTokenizer(json.pre_tokenizer),
    encodeWord,
    ...decoder(json.decoder),
  });
}

const stringPattern = (p, what) => {
  if (typeof p === 'string') return new RegExp(escapeRegExp(p), 'gu');
  if (p?.String !== undefined) return new RegExp(escapeRegExp(p.String), 'gu');
  if (p?.Regex !== undefined) return new RegExp(p.Regex, 'gu');
  throw new Error(`${what}: pattern ${JSON.stringify(p)} is not supported`);
};

function normalizer(spec) {
  if (!spec) return (s) => s;
  switch (spec.type) {
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
      return (s) => s.normalize(spec.type);
    case 'Lowercase':
      return (s) => s.toLowerCase();
    case 'Prepend':
      return (s) => (s ? spec.prepend + s : s);
    case 'Replace': {
      const pattern = stringPattern(spec.pattern, 'normalizer Replace');
      return (s) => s.replace(pattern, () => spec.content);
    }
    case 'Strip':
      return (s) => {
        if (spec.strip_left) s = s.replace(/^\p{White_Space}+/u, '');
        return spec.strip_right ? s.replace(/\p{White_Space}+$/u, '') : s;
      };
    case 'Precompiled':
      return precompiled(spec.precompiled_charsmap);
    case 'Sequence': {
      const steps = spec.normalizers.map(normalizer);
      return (s) => steps.reduce((t, step) => step(t), s);
    }
    default:
      throw unsupported('normalizer', spec.type);
  }
}

function preTokenizer(spec) {
  if (!spec) return (s) => [s];
  switch (spec.type) {
    case 'ByteLevel': {
      const prefix = spec.add_prefix_space ?? true;
      const split = spec.use_regex ?? true;
      const toChars = (w) => {
        let out = '';
        for (const b of utf8.encode(w)) out += BYTE_CHARS[b];
        return out;
      };
      return (s) => {
        if (prefix && !s.startsWith(' ')) s = ' ' + s;
        return (split ? s.match(GPT2_SPLIT) ?? [] : [s]).map(toChars);
      };
    }
    case 'Metaspace': {
      const rep = spec.replacement ?? SPACE;
      const scheme = spec.prepend_scheme ?? (spec.add_prefix_space === false ? 'never' : 'always');
      const splitAt = new RegExp(`(?=${escapeRegExp(rep)})`, 'u');
      return (s, first) => {
        s = s.replaceAll(' ', rep);
        if ((scheme === 'always' || (scheme === 'first' && first)) && !s.startsWith(rep)) s = rep + s;
        return spec.split === false ? [s] : s.split(splitAt);
      };
    }
    default:
      throw unsupported('pre_tokenizer', spec.type);
  }
}

/** What a token's text decodes to, as bytes, and how many leading spaces the first token sheds. */
function decoder(spec) {
  if (!spec) throw new Error('decoder: a tokenizer.json without a decoder is not supported');
  let byteLevel = false;
  let byteFallback = false;
  let stripFirst = 0;
  const replaces = [];
  for (const step of spec.type === 'Sequence' ? spec.decoders : [spec]) {
    if (step.type === 'ByteLevel') byteLevel = true;
    else if (step.type === 'ByteFallback') byteFallback = true;
    else if (step.type === 'Replace') replaces.push([stringPattern(step.pattern, 'decoder Replace'), step.content]);
    else if (step.type === 'Metaspace') {
      replaces.push([new RegExp(escapeRegExp(step.replacement ?? SPACE), 'gu'), ' ']);
      stripFirst = (step.prepend_scheme ?? (step.add_prefix_space === false ? 'never' : 'always')) === 'never' ? 0 : 1;
    } else if (step.type === 'Strip') {
      if (step.content !== ' ' || step.stop) throw new Error('decoder Strip: only leading spaces ("start") are supported');
      stripFirst = step.start;
    } else if (step.type !== 'Fuse') throw unsupported('decoder', step.type);
  }
  const pieceBytes = (token) => {
    if (byteLevel) {
      const bytes = Array.from(token, (c) => CHAR_BYTES.get(c));
      return bytes.includes(undefined) ? utf8.encode(token) : Uint8Array.from(bytes);
    }
    const byte = byteFallback && /^<0x([0-9A-F]{2})>$/.exec(token);
    if (byte) return Uint8Array.of(parseInt(byte[1], 16));
    return utf8.encode(replaces.reduce((t, [pattern, content]) => t.replace(pattern, () => content), token));
  };
  return { pieceBytes, stripFirst };
}
