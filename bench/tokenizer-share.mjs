#!/usr/bin/env node
// The tokenizer's share of a 50,257-token model's step and generate (issue 37, point 6): a new model of GPT-2's
// vocabulary (create(), dim and depth below) with GPT-2's tokenizer.json (the one tests/fixtures/vocab's model
// carries); 256 step() calls with a greedy pick timed whole, then the same ids decoded alone (the streaming decoder,
// one id at a time, as generate does), and a prompt's encode against its forward.
//   node bench/tokenizer-share.mjs [--dim 256] [--depth 4] [--threads 1] [--rounds 5]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { create } from '../js/index.js';
import { embeddedTokenizer, tokenizerFrom } from '../js/tokenizer.js';

const { values: a } = parseArgs({ options: { dim: { type: 'string', default: '256' }, depth: { type: 'string', default: '4' },
  threads: { type: 'string', default: '1' }, rounds: { type: 'string', default: '5' } } });
const file = readFileSync(new URL('../tests/fixtures/vocab/minGRULM-gpt2-d8-l1.safetensors', import.meta.url));
const tokenizer = tokenizerFrom(embeddedTokenizer(file).bytes, 'GPT-2');
const lm = await create({ numTokens: 50257, dim: Number(a.dim), depth: Number(a.depth), threads: Number(a.threads), seed: 1 });
const prompt = readFileSync(new URL('../README.md', import.meta.url), 'utf8').slice(0, 4000);
const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
const time = (fn) => { const t0 = performance.now(); fn(); return performance.now() - t0; };

const rows = { steps: [], decode: [], forward: [], encode: [] };
for (let r = 0; r < Number(a.rounds); r++) {
  // 256 steps with a greedy pick (what generate does, less its sampler), then their ids decoded alone
  const state = lm.createState();
  const ids = tokenizer.encode(prompt.slice(0, 200));
  let logits = await lm.forward(ids, { state });
  const drawn = [];
  let t0 = performance.now();
  for (let i = 0; i < 256; i++) {
    let best = 0;
    for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
    drawn.push(best);
    logits = await lm.step(best, { state });
  }
  rows.steps.push(performance.now() - t0);
  rows.decode.push(time(() => { const d = tokenizer.decoder(); for (const id of drawn) d.push(id); d.flush(); }));
  state.dispose();
  // a prefill: encode the prompt, then forward it
  let encoded;
  rows.encode.push(time(() => { encoded = tokenizer.encode(prompt); }));
  const s2 = lm.createState();
  t0 = performance.now();
  await lm.forward(encoded, { state: s2 });
  rows.forward.push(performance.now() - t0);
  s2.dispose();
}
const m = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)]));
console.log(JSON.stringify({
  node: process.version, model: { numTokens: 50257, dim: Number(a.dim), depth: Number(a.depth), threads: Number(a.threads) },
  steps256Ms: +m.steps.toFixed(1), decode256Ms: +m.decode.toFixed(2), decodeShare: +(m.decode / (m.steps + m.decode)).toFixed(4),
  promptBytes: new TextEncoder().encode(prompt).length, encodeMs: +m.encode.toFixed(2), forwardMs: +m.forward.toFixed(1),
  encodeShare: +(m.encode / (m.encode + m.forward)).toFixed(4),
}));
lm.dispose();
