#!/usr/bin/env node
// npm run bench: prefill (forward over 4096 tokens) and step (256 tokens after a 64-token prompt), in
// tokens/s, on 1 and 2 threads, for a random-weight minGRU LM of about 10M parameters (dim 512, depth 4).
// Prints a markdown table and writes JSON to bench/results/. Timings are medians of a few runs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { load } from '../js/index.js';
import { parameterCount, randomModel } from './random-model.mjs';

const config = { cell: 'gru', numTokens: 256, dim: 512, depth: 4, expansionFactor: 1.5, ffMult: 4, convKernelSize: 0 };
const PREFILL = 4096, PROMPT = 64, STEPS = 256, RUNS = 3;
const bytes = randomModel(config);
const tokens = Array.from({ length: PREFILL }, (_, i) => (i * 7919) % 256);
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(threads) {
  const lm = await load(bytes, { threads });
  await lm.forward(tokens.slice(0, 256)); // warm-up
  const prefill = [], step = [];
  for (let r = 0; r < RUNS; r++) {
    let t0 = performance.now();
    await lm.forward(tokens);
    prefill.push(PREFILL / ((performance.now() - t0) / 1000));
    const s = lm.createState();
    await lm.forward(tokens.slice(0, PROMPT), { state: s });
    t0 = performance.now();
    for (let i = 0; i < STEPS; i++) await lm.step(tokens[i], { state: s });
    step.push(STEPS / ((performance.now() - t0) / 1000));
    s.dispose();
  }
  const result = { threads: lm.backend.threads, simd: lm.backend.simd, prefillTokensPerSecond: median(prefill), stepTokensPerSecond: median(step) };
  lm.dispose();
  return result;
}

const rows = [];
for (const threads of [1, 2]) {
  rows.push(await measure(threads));
  process.stderr.write(`threads ${threads} done\n`);
}
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.version}`;
const date = new Date().toISOString().slice(0, 10);
console.log(`\nmingru wasm (SIMD), random minGRU LM: dim ${config.dim}, depth ${config.depth}, ${(parameterCount(config) / 1e6).toFixed(1)}M parameters`);
console.log(`${machine}, ${date}; medians of ${RUNS} runs\n`);
console.log('| threads | prefill 4096 tokens (tokens/s) | step (tokens/s) | prefill speed-up | step speed-up |');
console.log('|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.threads} | ${r.prefillTokensPerSecond.toFixed(0)} | ${r.stepTokensPerSecond.toFixed(1)} | ` +
    `${(r.prefillTokensPerSecond / rows[0].prefillTokensPerSecond).toFixed(2)}x | ${(r.stepTokensPerSecond / rows[0].stepTokensPerSecond).toFixed(2)}x |`);
}
console.log(`\nprefill vs step on 1 thread: ${(rows[0].prefillTokensPerSecond / rows[0].stepTokensPerSecond).toFixed(1)}x`);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const file = new URL(`./results/threads-${date}.json`, import.meta.url);
writeFileSync(file, JSON.stringify({ date, machine, config, parameters: parameterCount(config), prefillTokens: PREFILL, steps: STEPS, runs: RUNS, rows }, null, 2) + '\n');
console.log(`wrote ${file.pathname}`);
