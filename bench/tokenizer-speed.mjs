#!/usr/bin/env node
// Encode speed of the tokenizers (js/tokenizer.js) beside @huggingface/tokenizers and tiktoken (wasm) on the same
// text: about 1 MB of mixed lines (tests/fixtures/tokenizers/lines.json, then seeded mixed scripts, code, numbers
// and emoji from tools/tokenizer_lines.mjs), encoded line by line; a fresh tokenizer per round (its word cache
// starts empty), the best of REPS rounds. MB/s counts the text's UTF-8 bytes. docs/tokenizers.md has the figures.
//   node bench/tokenizer-speed.mjs [--reps N] [--mb N]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { get_encoding } from 'tiktoken';
import { parseTokenizer } from '../js/tokenizer.js';
import { gpt2TokenizerJson } from '../tools/gpt2_tokenizer_json.mjs';
import { mixedLines } from '../tools/tokenizer_lines.mjs';

const { values } = parseArgs({ options: { reps: { type: 'string' }, mb: { type: 'string' } } });
const fixture = (name) => readFileSync(new URL(`../tests/fixtures/tokenizers/${name}`, import.meta.url));
const lines = JSON.parse(fixture('lines.json'));
const target = Number(values.mb ?? 1) * 1e6;
for (let seed = 1, bytes = Buffer.byteLength(lines.join('\n')); bytes < target; seed++) {
  for (const line of mixedLines(1000, seed)) (bytes += Buffer.byteLength(line) + 1), lines.push(line);
}
const megabytes = Buffer.byteLength(lines.join('\n')) / 1e6;

const gpt2 = JSON.stringify(gpt2TokenizerJson());
const llama = fixture('spm-bpe.llama.json').toString();
const cases = {
  'mingru GPT-2 tokenizer.json': () => parseTokenizer(gpt2),
  'mingru Llama-style tokenizer.json (spm BPE)': () => parseTokenizer(llama),
  'mingru SentencePiece BPE .model': () => parseTokenizer(fixture('spm-bpe.model')),
  'mingru SentencePiece Unigram .model': () => parseTokenizer(fixture('spm-unigram.model')),
  '@huggingface/tokenizers GPT-2': () => {
    const t = new HfTokenizer(JSON.parse(gpt2), {});
    return { encode: (s) => t.encode(s, { add_special_tokens: false }).ids };
  },
  '@huggingface/tokenizers Llama-style (spm BPE)': () => {
    const t = new HfTokenizer(JSON.parse(llama), {});
    return { encode: (s) => t.encode(s, { add_special_tokens: false }).ids };
  },
  'tiktoken (wasm) gpt2': () => {
    const t = get_encoding('gpt2');
    return { encode: (s) => t.encode(s, 'all') };
  },
};
console.log(`${lines.length} lines, ${megabytes.toFixed(2)} MB; best of ${values.reps ?? 3} rounds\n`);
console.log('| tokenizer | load (ms) | encode (MB/s) | tokens |\n|---|---:|---:|---:|');
for (const [name, make] of Object.entries(cases)) {
  let best = Infinity;
  let load = Infinity;
  let tokens = 0;
  for (let r = 0; r < Number(values.reps ?? 3); r++) {
    let t = performance.now();
    const tok = make();
    load = Math.min(load, performance.now() - t);
    t = performance.now();
    tokens = 0;
    for (const line of lines) tokens += tok.encode(line).length;
    best = Math.min(best, performance.now() - t);
  }
  console.log(`| ${name} | ${load.toFixed(0)} | ${(megabytes / (best / 1000)).toFixed(2)} | ${tokens} |`);
}
