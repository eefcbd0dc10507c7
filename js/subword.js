// subword.js — the two subword models: byte-pair merging (BPE) and the Unigram lattice (Viterbi), over a word's
// characters, with byte fallback (a character the vocabulary lacks as <0x..> tokens of its UTF-8 bytes).

const utf8 = new TextEncoder();
export const byteToken = (b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;

/** Byte-pair merging of a word's symbol ids: the pair of lowest rank merges first, the leftmost on ties (as
 * tiktoken, tokenizers and SentencePiece do). `pairs` maps left * size + right to [rank, merged id]. */
export function mergePairs(ids, pairs, size) {
  const n = ids.length;
  if (n < 2) return ids;
  const next = Int32Array.from({ length: n }, (_, i) => i + 1);
  const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
  const heap = []; // [rank, position, left id, right id], a binary min-heap on (rank, position)
  const less = (a, b) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  const push = (i) => {
    const j = next[i];
    if (i < 0 || j >= n) return;
    const pair = pairs.get(ids[i] * size + ids[j]);
    if (!pair) return;
    let k = heap.push([pair[0], i, ids[i], ids[j]]) - 1;
    while (k > 0 && less(heap[k], heap[(k - 1) >> 1])) {
      [heap[k], heap[(k - 1) >> 1]] = [heap[(k - 1) >> 1], heap[k]];
      k = (k - 1) >> 1;
    }
  };
  const pop = () => {
    const top = heap[0];
    const last = heap.pop();
    if (heap.length) {
      heap[0] = last;
      for (let k = 0; ; ) {
        const l = 2 * k + 1;
        const m = l + 1 < heap.length && less(heap[l + 1], heap[l]) ? l + 1 : l;
        if (l >= heap.length || !less(heap[m], heap[k])) break;
        [heap[k], heap[m]] = [heap[m], heap[k]];
        k = m;
      }
    }
    return top;
  };
  ids = Array.from(ids);
  for (let i = 0; i < n - 1; i++) push(i);
  while (heap.length) {
    const [, i, left, right] = pop();
    const j = next[i];
    if (ids[i] !== left || j >= n || ids[j] !== right) continue; // stale: one side has merged since
    ids[i] = pairs.get(left * size + right)[1];
    ids[j] = -1;
    next[i] = next[j];
    if (next[j] < n) prev[next[j]] = i;
    push(prev[i]);
    push(i);
  }
  return ids.filter((id) => id >= 0);
}

/** A word's initial symbols for BPE: one per character, or its UTF-8 bytes as <0xNN> tokens where the vocabulary
 * lacks the character and `byteIds` is given, else the unknown token (`fuseUnk`: one for a run of them). */
export function initialSymbols(word, ids, { byteIds, unkId, fuseUnk }) {
  const symbols = [];
  let lastUnk = false;
  for (const ch of word) {
    const id = ids.get(ch);
    if (id !== undefined) {
      symbols.push(id);
      lastUnk = false;
      continue;
    }
    const bytes = byteIds && Array.from(utf8.encode(ch), (b) => byteIds[b]);
    if (bytes && !bytes.includes(undefined)) symbols.push(...bytes);
    else if (unkId === undefined) throw new Error(`BPE: "${ch}" is not in the vocabulary and the model has no unk_token`);
    else if (!(fuseUnk && lastUnk)) symbols.push(unkId);
    lastUnk = !bytes || bytes.includes(undefined);
  }
  return symbols;
}

/** The byte tokens <0x00>..<0xFF> of a vocabulary, or null if it lacks any. */
export function byteTokenIds(ids) {
  const byteIds = Array.from({ length: 256 }, (_, b) => ids.get(byteToken(b)));
  return byteIds.includes(undefined) ? null : byteIds;
}

/** Unigram: the segmentation of highest total score (Viterbi); a character no piece covers is the unknown token,
 * scored `unkScore`, then its UTF-8 bytes where `byteIds` is given. `round` is Math.fround for SentencePiece, which
 * sums in float32. */
export function unigram(pieces, scores, { unkId, unkScore, byteIds, round }) {
  const root = { next: new Map(), id: -1 };
  pieces.forEach((piece, id) => {
    if (piece === null) return;
    let node = root;
    for (let i = 0; i < piece.length; i++) {
      const c = piece.charCodeAt(i);
      if (!node.next.has(c)) node.next.set(c, { next: new Map(), id: -1 });
      node = node.next.get(c);
    }
    node.id = id;
  });
  return (word) => {
    const n = word.length;
    const best = new Float64Array(n + 1).fill(-Infinity);
    const from = new Int32Array(n + 1);
    const via = new Int32Array(n + 1);
    best[0] = 0;
    const offer = (i, j, id, score) => {
      const s = round(best[i] + score);
      if (s > best[j]) (best[j] = s), (from[j] = i), (via[j] = id);
    };
    for (let i = 0; i < n; ) {
      const charEnd = i + (word.codePointAt(i) > 0xffff ? 2 : 1);
      let single = false;
      for (let j = i, node = root; j < n && (node = node.next.get(word.charCodeAt(j))); j++) {
        if (node.id < 0 || (j + 1 < n && (word.charCodeAt(j + 1) & 0xfc00) === 0xdc00)) continue;
        offer(i, j + 1, node.id, scores[node.id]);
        single ||= j + 1 === charEnd;
      }
      if (!single) offer(i, charEnd, unkId, unkScore);
      i = charEnd;
    }
    const out = [];
    for (let j = n; j > 0; j = from[j]) {
      if (via[j] !== unkId) out.push([via[j]]);
      else if (byteIds) out.push(Array.from(utf8.encode(word.slice(from[j], j)), (b) => byteIds[b]).reverse());
      else if (via[from[j]] !== unkId || from[j] === 0) out.push([unkId]); // a run of unknowns is one token
    }
    return out.flat().reverse();
  };
}
