#!/usr/bin/env node
// TensorFlow.js as a training peer of npm run bench in Node (bench/peers/tfjs_train.mjs), one configuration per process:
//   node bench/peers/tfjs_bench.mjs --model FILE --threads N --train STEPS --text FILE [--batch 32] [--seq-len 256]
//                                   [--backend wasm|cpu] [--scan doubling|loop] [--matmul transpose|autodiff] [--micro 4]
// Prints one JSON line, the contract of bench/mingru-engine.mjs --train: tokens/s and every step's loss (tfjsThreads:
// the threads TF.js says it computes on).
// @tensorflow/tfjs with @tensorflow/tfjs-backend-wasm (its SIMD build; its threaded build needs a cross-origin-isolated
// page, so in Node it runs on one thread whatever --threads says); 'cpu' is TF.js's plain JS.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount, getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { tfjsTrain } from './tfjs_train.mjs';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' }, threads: { type: 'string', default: '1' }, train: { type: 'string' }, text: { type: 'string' },
    batch: { type: 'string', default: '32' }, 'seq-len': { type: 'string', default: '256' },
    backend: { type: 'string', default: 'wasm' }, scan: { type: 'string', default: 'doubling' },
    matmul: { type: 'string', default: 'transpose' }, micro: { type: 'string', default: '4' }, runs: { type: 'string' },
  },
});
if (!a.model || !a.text || !(Number(a.train) >= 1)) throw new Error('give --model, --text and --train STEPS');
if (a.backend === 'wasm') setThreadsCount(Number(a.threads));
await tf.setBackend(a.backend);
await tf.ready();
const r = await tfjsTrain(tf, readFileSync(a.model), readFileSync(a.text), {
  steps: Number(a.train), batch: Number(a.batch), seqLen: Number(a['seq-len']), scan: a.scan, matmul: a.matmul, micro: Number(a.micro), file: a.model,
  log: (s) => process.stderr.write(`tfjs: ${s}\n`),
});
console.log(JSON.stringify({
  engine: 'tfjs', version: tf.version.tfjs, backend: tf.getBackend(), scan: a.scan, matmul: a.matmul, micro: Number(a.micro),
  threads: Number(a.threads), tfjsThreads: a.backend === 'wasm' ? getThreadsCount() : 1, simd: a.backend === 'wasm' ? await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT') : false,
  ...r, peakRssBytes: process.resourceUsage().maxRSS * 1024,
}));
