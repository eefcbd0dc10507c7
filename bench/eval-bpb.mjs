#!/usr/bin/env node
// Bits per byte of a model on a text, through the engine, with the state carried over the whole text
// (forward in pieces of 4096 bytes, every logit scored):
//   node bench/eval-bpb.mjs MODEL.safetensors TEXT_FILE [--threads N] [--limit BYTES]
// The held-out text of the demo model: /usr/bin/python3 tools/baselines.py --write-val /tmp/kjv-val.txt
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { load } from '../js/index.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { threads: { type: 'string' }, limit: { type: 'string' } } });
const [modelPath, textPath] = positionals;
if (!modelPath || !textPath) {
  console.error('usage: node bench/eval-bpb.mjs MODEL.safetensors TEXT_FILE [--threads N] [--limit BYTES]');
  process.exit(2);
}
let bytes = readFileSync(textPath);
if (values.limit) bytes = bytes.subarray(0, Number(values.limit));
const lm = await load(modelPath, { threads: values.threads ? Number(values.threads) : 'auto' });
const V = lm.config.numTokens;
const state = lm.createState();
let bits = 0, scored = 0;
const t0 = performance.now();
// the first byte has no context: it is fed, and every later byte is scored from the logits before it
let logits = await lm.forward([bytes[0]], { state });
for (let at = 1; at < bytes.length; at += 4096) {
  const piece = Array.from(bytes.subarray(at, Math.min(bytes.length, at + 4096)));
  const all = await lm.forward(piece, { state, allLogits: true });
  for (let i = 0; i < piece.length; i++) {
    const row = i === 0 ? logits : all.subarray((i - 1) * V, i * V);
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (row[v] > max) max = row[v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(row[v] - max);
    bits += (Math.log(sum) + max - row[piece[i]]) / Math.LN2;
    scored++;
  }
  logits = all.slice((piece.length - 1) * V, piece.length * V);
}
const seconds = (performance.now() - t0) / 1000;
console.log(`${modelPath}: ${(bits / scored).toFixed(4)} bits/byte over ${scored.toLocaleString('en-US')} bytes ` +
  `(${(scored / seconds).toFixed(0)} bytes/s, ${lm.backend.threads} threads)`);
lm.dispose();
