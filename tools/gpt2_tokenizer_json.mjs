#!/usr/bin/env node
// gpt2_tokenizer_json.mjs — GPT-2's tokenizer.json built from OpenAI's ranks (npm tiktoken, encoding gpt2).
// The vocabulary is each token's bytes through GPT-2's bytes-to-unicode map; the merges are recovered by
// re-running byte-pair merging on each token's bytes with the lower ranks only: for the token of rank r > 255 the
// merging stops at two parts, and those are its merge (rank r - 256).
//   node tools/gpt2_tokenizer_json.mjs OUT.json
import { writeFileSync } from 'node:fs';
import { get_encoding } from 'tiktoken';

/** GPT-2's bytes-to-unicode map (openai/gpt-2 encoder.py bytes_to_unicode). */
export function byteChars() {
  const chars = [];
  for (let b = 0, n = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    chars.push(String.fromCharCode(printable ? b : 256 + n++));
  }
  return chars;
}

const key = (bytes) => String.fromCharCode(...bytes); // one char per byte: a Map key

/** The two parts that byte-pair merging with ranks below `limit` leaves of `bytes`, or all parts if not two. */
export function lowerRankParts(bytes, ranks, limit) {
  let parts = Array.from(bytes, (b) => [b]);
  for (;;) {
    let best = -1;
    let bestRank = limit;
    for (let i = 0; i + 1 < parts.length; i++) {
      const rank = ranks.get(key([...parts[i], ...parts[i + 1]]));
      if (rank !== undefined && rank < bestRank) (best = i), (bestRank = rank);
    }
    if (best < 0) return parts;
    parts.splice(best, 2, [...parts[best], ...parts[best + 1]]);
  }
}

/** GPT-2's tokenizer.json as an object, from tiktoken's gpt2 ranks. */
export function gpt2TokenizerJson() {
  const enc = get_encoding('gpt2');
  const tokens = [];
  try {
    for (let r = 0; r < 50256; r++) tokens.push(enc.decode_single_token_bytes(r));
  } finally {
    enc.free();
  }
  const chars = byteChars();
  const text = (bytes) => Array.from(bytes, (b) => chars[b]).join('');
  const ranks = new Map(tokens.map((bytes, r) => [key(bytes), r]));
  const vocab = {};
  const merges = [];
  tokens.forEach((bytes, r) => {
    vocab[text(bytes)] = r;
    if (r < 256) return;
    const parts = lowerRankParts(bytes, ranks, r);
    if (parts.length !== 2) throw new Error(`token ${r} does not come from one merge of lower ranks`);
    merges.push(`${text(parts[0])} ${text(parts[1])}`);
  });
  vocab['<|endoftext|>'] = 50256;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
    ],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (!process.argv[2]) throw new Error('usage: node tools/gpt2_tokenizer_json.mjs OUT.json');
  writeFileSync(process.argv[2], JSON.stringify(gpt2TokenizerJson()));
}
