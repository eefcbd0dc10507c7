#!/usr/bin/env node
// Writes tests/fuzz/seeds-api/: starting inputs for the fuzz-api harness (tests/fuzz/fuzz-api.c), each a
// valid walk through one of its parts, so that the fuzzer starts from deep calls instead of having to
// discover the input format. (fuzz-model starts from tests/corpus/ and tests/fixtures/lm/: see
// scripts/fuzz.mjs.)   node tests/fuzz/make-seeds.mjs
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';

const out = new URL('./seeds-api/', import.meta.url);
const seeds = {};

// ---- layers: [0, cell, dim + 2, expansion index, kernel, scan chunks + 1, batch, seqLen, x..., withHidden]
const EXPANSIONS = { 1: 0, 1.5: 1, 2: 2, 0.5: 3 };
function layer(name, { cell, dim, expansion, kernel = 0, chunks = 0, batch, seqLen, withHidden }) {
  const x = Array.from({ length: Math.min(batch * seqLen * dim, 400) }, (_, i) => (i * 37 + 11) % 254);
  seeds[`layer-${name}`] = [0, cell, dim + 2, EXPANSIONS[expansion], kernel, chunks + 1, batch, seqLen, ...x, withHidden];
}
layer('gru-d8', { cell: 0, dim: 8, expansion: 1.5, batch: 2, seqLen: 5, withHidden: 1 });
layer('lstm-d5-e2-reference', { cell: 1, dim: 5, expansion: 2, kernel: 1, chunks: 3, batch: 1, seqLen: 19, withHidden: 0 });
layer('gru-d16-e1-chunks4', { cell: 0, dim: 16, expansion: 1, chunks: 4, batch: 3, seqLen: 12, withHidden: 1 });
layer('lstm-d3-e05', { cell: 1, dim: 3, expansion: 0.5, batch: 1, seqLen: 1, withHidden: 1 });
layer('nan-inputs', { cell: 0, dim: 4, expansion: 1, batch: 1, seqLen: 3, withHidden: 0 });
seeds['layer-nan-inputs'].splice(8, 4, 255, 254, 255, 254);

// ---- language models: [1, then ops] with an op = [model, cross (0 = the other model's state), code, args...]
const OP = { forward: 0, step: 2, sample: 3, saveLoad: 4, reset: 5, clone: 6, logits: 7 };
const tok = (t) => [0, t]; // kind < 12: an in-range id (t % V)
function lm(name, ops) {
  seeds[`lm-${name}`] = [1, ...ops.flat()];
}
const forward = (model, tokens, { all = 1, want = 1, cross = false, long = false } = {}) =>
  [model, cross ? 0 : 1, OP.forward, tokens.length + 2, long ? 0 : 1, ...tokens.flatMap(tok), all, want];
const step = (model, t, cross = false) => [model, cross ? 0 : 1, OP.step, ...tok(t)];
const sample = (model, { temperature = 1, topK = 4, topP = 0, minP = 2, penalty = 0, window = 34, seed = 1 } = {}) =>
  [model, 1, OP.sample, temperature, topK + 4, topP, minP, penalty, window, seed];
const saveLoad = (model, { flips = [], cross = false, truncate = false } = {}) =>
  [model, cross ? 0 : 1, OP.saveLoad, flips.length, ...flips.flatMap(([hi, lo, bit]) => [hi, lo, bit]), ...(truncate ? [0, 5] : [1])];
const simple = (model, code, cross = false) => [model, cross ? 0 : 1, code];

const text = (s) => [...new TextEncoder().encode(s)];
lm('prefill-and-steps', [forward(0, text('In the beginning')), step(0, 32), step(0, 71), simple(0, OP.logits)]);
lm('lstm-prefill-all-logits', [forward(1, text('abcdefghijklmnopqrstuvwxyz'), { all: 1 }), step(1, 10), simple(1, OP.logits)]);
lm('long-prefill', [forward(1, text('a'.repeat(150)), { all: 0, long: true }), step(1, 1)]);
lm('generate-greedy', [forward(0, text('x')), sample(0), sample(0), sample(0)]);
lm('generate-sampled', [forward(1, text('hello')), sample(1, { temperature: 0, topK: 40, topP: 3, minP: 7, penalty: 1 }), sample(1, { temperature: 3, seed: 9 })]);
lm('bad-sampler-params', [forward(0, text('q')), sample(0, { temperature: 4 }), sample(0, { topP: 5 }), sample(0, { penalty: 4 }), sample(0, { topK: -3 })]);
lm('save-load', [forward(0, text('saved')), saveLoad(0), saveLoad(0, { flips: [[0, 3, 1], [1, 40, 7]] }), saveLoad(0, { truncate: true })]);
lm('state-of-other-model', [forward(0, text('mine')), step(1, 5, true), forward(1, text('x'), { cross: true }), saveLoad(1, { cross: true }), simple(0, OP.clone, true)]);
lm('reset-clone', [forward(1, text('abc')), simple(1, OP.clone), simple(1, OP.reset), step(1, 3), simple(1, OP.logits)]);
lm('out-of-range-tokens', [forward(0, text('ok')), [0, 1, OP.forward, 5, 1, 13, 1, 0, 9, 12, 0, 1, 1], [0, 1, OP.step, 14, 7], [0, 1, OP.step, 15, 200]]);
lm('empty-forward', [[0, 1, OP.forward, 0, 1, 1, 2], [1, 1, OP.forward, 2, 1, 0, 0], sample(0)]);

// ---- training: [201, model, lr, beta1, beta2, eps, weight decay, clip (table indices), then ops]
const trainStep = (batch, seqLen, tokens) => [0, batch + 1, seqLen + 1, ...tokens.flatMap(tok)];
const rows = (batch, seqLen) => Array.from({ length: batch * (seqLen + 1) }, (_, i) => (i * 7 + 3) % 97);
seeds['train-steps-and-saves'] = [201, 1, 1, 7, 7, 0, 2, 6, trainStep(2, 5, rows(2, 5)), trainStep(1, 8, rows(1, 8)),
  [2, 0, 2], [3, 0], [3, 1], [3, 2], trainStep(1, 3, rows(1, 3))].flat();
seeds['train-q8-model-bad-params'] = [203, 0, 3, 0, 1, 0, 0, 0].flat();
seeds['train-bad-batches'] = [205, 0, 0, 0, 1, 0, 0, 6, trainStep(0, 5, []), [0, 2, 1, 14, 7], trainStep(1, 2, rows(1, 2))].flat();

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const [name, bytes] of Object.entries(seeds)) writeFileSync(new URL(`${name}.bin`, out), Uint8Array.from(bytes));
console.log(`wrote ${readdirSync(out).length} seeds to tests/fuzz/seeds-api/`);
