// sentencepiece.js — a SentencePiece `.model` file (a protobuf ModelProto) as the parts of a tokenizer
// (tokenizer.js), encoding and decoding as sentencepiece does: its normalizer (normalizer.cc) with the precompiled
// character map (a darts-clone double-array trie), its BPE (highest-scoring piece first) or Unigram model, its
// decoding of control, unknown and byte pieces. Field numbers from sentencepiece's src/sentencepiece_model.proto.
import { initialSymbols, mergePairs, unigram } from './subword.js';

export const SPACE = '\u2581'; // ▁, SentencePiece's and Metaspace's stand-in for a space
const utf8 = new TextEncoder();
const textOf = (bytes) => new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes); // keeps a leading U+FEFF

/** Piece types (SentencePiece.Type). */
export const PIECE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 };

/** The fields of one protobuf message: [fieldNumber, wireType, value] where value is a number (varint, fixed32 as
 * its bytes' offset) or a Uint8Array (length-delimited). */
function* fields(bytes, start = 0, end = bytes.length) {
  let p = start;
  const varint = () => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      if (p >= end || shift > 63) throw new Error('SentencePiece model: malformed protobuf varint');
      const b = bytes[p++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  while (p < end) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    let value;
    if (wire === 0) value = varint();
    else if (wire === 1) (value = p), (p += 8);
    else if (wire === 5) (value = p), (p += 4);
    else if (wire === 2) {
      const n = varint();
      value = bytes.subarray(p, p + n);
      p += n;
    } else throw new Error(`SentencePiece model: protobuf wire type ${wire} is not supported`);
    if (p > end) throw new Error('SentencePiece model: truncated protobuf field');
    yield [field, wire, value];
  }
}

const text = new TextDecoder('utf-8', { fatal: true });

/** A `.model` file as { pieces: [{ piece, score, type }], modelType ('unigram'|'bpe'), byteFallback, unkId,
 * treatWhitespaceAsSuffix, normalizer: { name, charsmap (Uint8Array|null), addDummyPrefix, removeExtraWhitespaces,
 * escapeWhitespaces } }. Throws on anything that is not a readable ModelProto. */
export function readModelProto(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const model = {
    pieces: [],
    modelType: 'unigram',
    byteFallback: false,
    unkId: 0,
    treatWhitespaceAsSuffix: false,
    normalizer: { name: '', charsmap: null, addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true },
  };
  for (const [field, wire, value] of fields(bytes)) {
    if (field === 1 && wire === 2) {
      const piece = { piece: '', score: 0, type: PIECE.NORMAL };
      for (const [f, w, v] of fields(value)) {
        if (f === 1 && w === 2) piece.piece = text.decode(v);
        else if (f === 2 && w === 5) piece.score = view.getFloat32(value.byteOffset - bytes.byteOffset + v, true);
        else if (f === 3 && w === 0) piece.type = v;
      }
      model.pieces.push(piece);
    } else if (field === 2 && wire === 2) {
      for (const [f, w, v] of fields(value)) {
        if (f === 3 && w === 0) model.modelType = { 1: 'unigram', 2: 'bpe', 3: 'word', 4: 'char' }[v] ?? String(v);
        else if (f === 35 && w === 0) model.byteFallback = v !== 0;
        else if (f === 40 && w === 0) model.unkId = v;
        else if (f === 24 && w === 0) model.treatWhitespaceAsSuffix = v !== 0;
      }
    } else if (field === 3 && wire === 2) {
      const n = model.normalizer;
      for (const [f, w, v] of fields(value)) {
        if (f === 1 && w === 2) n.name = text.decode(v);
        else if (f === 2 && w === 2) n.charsmap = v.length ? v : null;
        else if (f === 3 && w === 0) n.addDummyPrefix = v !== 0;
        else if (f === 4 && w === 0) n.removeExtraWhitespaces = v !== 0;
        else if (f === 5 && w === 0) n.escapeWhitespaces = v !== 0;
      }
    }
  }
  if (!model.pieces.length) throw new Error('SentencePiece model: no pieces (not a ModelProto?)');
  return model;
}

/** A precompiled character map (`<u32 trie size><double-array units><NUL-terminated replacements>`) as a function
 * `(bytes, at) => [consumed, replacementBytes] | null`: the longest rule that matches the UTF-8 bytes at `at`. */
export function charsmapMatcher(blob) {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const trieSize = view.getUint32(0, true);
  if (blob.length < 4 || trieSize + 4 > blob.length || trieSize % 4) throw new Error('SentencePiece model: broken precompiled_charsmap');
  const units = new Uint32Array(trieSize / 4);
  for (let i = 0; i < units.length; i++) units[i] = view.getUint32(4 + 4 * i, true);
  const replacements = blob.subarray(4 + trieSize);
  // darts-clone's unit layout: offset, label, has_leaf, value
  const offset = (u) => (u >>> 10) << ((u & (1 << 9)) >>> 6);
  const label = (u) => u & ((1 << 31) | 0xff);
  const hasLeaf = (u) => (u >>> 8) & 1;
  const value = (u) => u & 0x7fffffff;
  return (bytes, at) => {
    let node = offset(units[0]);
    let best = null;
    for (let i = at; i < bytes.length; i++) {
      node ^= bytes[i];
      const unit = units[node];
      if (unit === undefined || label(unit) !== bytes[i]) break;
      node ^= offset(unit);
      if (hasLeaf(unit) && node < units.length) {
        const start = value(units[node]);
        let end = start;
        while (end < replacements.length && replacements[end] !== 0) end++;
        best = [i + 1 - at, replacements.subarray(start, end)];
      }
    }
    return best;
  };
}

/** The Precompiled normalizer (a SentencePiece charsmap, base64): the longest rule at each position. */
export function precompiled(base64) {
  if (!base64) return (s) => s;
  const match = charsmapMatcher(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
  return (s) => textOf(mapBytes(utf8.encode(s), match));
}

const utf8Length = (b) => (b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4);

/** The UTF-8 text with each longest charsmap match replaced, the other characters copied. */
function mapBytes(bytes, match) {
  const out = [];
  for (let at = 0; at < bytes.length; ) {
    const [consumed, replacement] = match(bytes, at) ?? [utf8Length(bytes[at]), bytes.subarray(at, at + utf8Length(bytes[at]))];
    for (const b of replacement) out.push(b);
    at += consumed;
  }
  return Uint8Array.from(out);
}

/** The parts of a tokenizer (see Tokenizer's constructor) for a `.model` file's bytes. */
export function sentencePieceParts(bytes) {
  const m = readModelProto(bytes);
  if (m.modelType !== 'bpe' && m.modelType !== 'unigram') throw new Error(`SentencePiece model type "${m.modelType}" is not supported`);
  if (m.treatWhitespaceAsSuffix) throw new Error('SentencePiece model: treat_whitespace_as_suffix is not supported');
  if (m.pieces.some((p) => p.type === PIECE.USER_DEFINED || p.type === PIECE.UNUSED))
    throw new Error('SentencePiece model: user-defined and unused pieces are not supported');
  const vocab = m.pieces.map((p) => p.piece);
  const ids = new Map(m.pieces.flatMap((p, id) => (p.type === PIECE.NORMAL ? [[p.piece, id]] : [])));
  const byteIds = m.byteFallback ? m.pieces.flatMap((p, id) => (p.type === PIECE.BYTE ? [id] : [])) : null;
  if (byteIds && byteIds.length !== 256) throw new Error('SentencePiece model: byte_fallback without the 256 byte pieces');
  let encodeWord;
  if (m.modelType === 'bpe') {
    // SentencePiece merges the adjacent pair whose concatenation is the piece of highest score
    const pairs = new Map();
    m.pieces.forEach(({ piece, score, type }, id) => {
      if (type !== PIECE.NORMAL) return;
      for (let k = 1; k < piece.length; k++) {
        const [l, r] = [ids.get(piece.slice(0, k)), ids.get(piece.slice(k))];
        if (l !== undefined && r !== undefined) pairs.set(l * vocab.length + r, [-score, id]);
      }
    });
    const options = { byteIds, unkId: m.unkId, fuseUnk: false };
    encodeWord = (word) => mergePairs(initialSymbols(word, ids, options), pairs, vocab.length);
  } else {
    const scores = m.pieces.map((p) => p.score);
    const normal = m.pieces.filter((p) => p.type === PIECE.NORMAL).map((p) => p.score);
    encodeWord = unigram(
      m.pieces.map((p) => (p.type === PIECE.NORMAL ? p.piece : null)),
      scores,
      { unkId: m.unkId, unkScore: Math.fround(Math.min(...normal) - 10), byteIds, round: Math.fround },
    );
  }
  const n = m.normalizer;
  const pieceBytes = (token, id) => {
    const type = m.pieces[id].type;
    if (type === PIECE.CONTROL) return new Uint8Array(0);
    if (type === PIECE.UNKNOWN) return utf8.encode(' \u2047 ');
    if (type === PIECE.BYTE) return Uint8Array.of(parseInt(token.slice(3, 5), 16));
    return utf8.encode(token.replaceAll(SPACE, ' '));
  };
  return {
    kind: m.modelType === 'bpe' ? 'bpe-metaspace' : 'unigram',
    vocab,
    added: m.pieces.flatMap((p, id) =>
      p.type === PIECE.CONTROL ? [{ id, content: p.piece, special: true, match: false }] : [],
    ),
    normalize: spNormalizer(n),
    preTokenize: (s) => (s ? [s] : []),
    encodeWord,
    pieceBytes,
    stripFirst: n.addDummyPrefix ? (n.removeExtraWhitespaces ? Infinity : 1) : 0,
  };
}

/** SentencePiece's normalizer (normalizer.cc): the charsmap's longest rules; with remove_extra_whitespaces no
 * leading, trailing or repeated spaces; a space prepended (add_dummy_prefix); spaces as ▁ (escape_whitespaces). */
function spNormalizer(n) {
  const match = n.charsmap ? charsmapMatcher(n.charsmap) : () => null;
  const space = n.escapeWhitespaces ? utf8.encode(SPACE) : [0x20];
  return (text) => {
    const bytes = utf8.encode(text);
    const prefix = (at) => match(bytes, at) ?? [utf8Length(bytes[at]), bytes.subarray(at, at + utf8Length(bytes[at]))];
    let at = 0;
    if (n.removeExtraWhitespaces) {
      for (let p; at < bytes.length && (p = prefix(at))[1].length === 1 && p[1][0] === 0x20; ) at += p[0];
    }
    if (at === bytes.length) return '';
    const out = n.addDummyPrefix ? [...space] : [];
    let prevSpace = n.removeExtraWhitespaces;
    while (at < bytes.length) {
      const [consumed, replacement] = prefix(at);
      let k = 0;
      while (prevSpace && k < replacement.length && replacement[k] === 0x20) k++;
      if (k < replacement.length) {
        for (; k < replacement.length; k++) {
          if (replacement[k] === 0x20) out.push(...space);
          else out.push(replacement[k]);
        }
        prevSpace = replacement.at(-1) === 0x20;
      }
      at += consumed;
      if (!n.removeExtraWhitespaces) prevSpace = false;
    }
    if (n.removeExtraWhitespaces) {
      while (out.length >= space.length && space.every((b, i) => out[out.length - space.length + i] === b))
        out.length -= space.length;
    }
    return textOf(Uint8Array.from(out));
  };
}
