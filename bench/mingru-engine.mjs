#!/usr/bin/env node
// mingru (WebAssembly) as one engine of npm run bench, one configuration per process:
//   node bench/mingru-engine.mjs --model FILE --threads N [--prefill 4096] [--prompt 64] [--steps 256] [--runs 3]
//                                [--long 100000]
//   node bench/mingru-engine.mjs --model FILE --threads N --train STEPS --text FILE [--batch 32] [--seq-len 256]
// Prints one JSON line, the contract of bench/native-engine.c and bench/peers/: tokens/s of a forward over
// `prefill` tokens and of `steps` teacher-forced steps after a `prompt`-token forward (medians of `runs`),
// peak RSS, WebAssembly memory, and the logits after the prompt and after the last step. Tokens:
// t[i] = (i * 7919) % V. With --long N it also generates N tokens on one state and reports the wasm memory
// after 1,000 and after N tokens, and whether any logit was NaN. With --train: tokens/s of STEPS trainer steps
// after one untimed one, and every step's loss, as bench/native-engine.c. The measurements are bench/measure.mjs's,
// which bench/browser.html runs in a page.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { load } from '../js/index.js';
import { inferenceBench, trainBench } from './measure.mjs';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' }, threads: { type: 'string', default: '1' }, prefill: { type: 'string', default: '4096' },
    prompt: { type: 'string', default: '64' }, steps: { type: 'string', default: '256' }, runs: { type: 'string', default: '3' },
    long: { type: 'string', default: '0' },
    train: { type: 'string', default: '0' }, text: { type: 'string' }, batch: { type: 'string', default: '32' },
    'seq-len': { type: 'string', default: '256' },
  },
});
const [threads, prefill, prompt, steps, runs, long] = ['threads', 'prefill', 'prompt', 'steps', 'runs', 'long'].map((k) => Number(a[k]));

const lm = await load(readFileSync(a.model), { threads });
if (Number(a.train) > 0) {
  const r = await trainBench(lm, readFileSync(a.text), { steps: Number(a.train), batch: Number(a.batch), seqLen: Number(a['seq-len']) });
  console.log(JSON.stringify({ engine: 'mingru', threads: lm.backend.threads, relaxedSimd: lm.backend.relaxedSimd ?? false, ...r, peakRssBytes: process.resourceUsage().maxRSS * 1024 }));
  process.exit(0);
}
const memory = () => lm._engine.heapStats().size;
const { check, ...speed } = await inferenceBench(lm, { prefill, prompt, steps, runs });

let longRun;
if (long > 0) {
  // generation on one state: the state is O(1), so the heap must not grow after the first tokens
  const g = lm.createState();
  let produced = 0, nan = false;
  const t0 = performance.now();
  const run = async (n, prompt) => {
    for await (const piece of lm.generate(prompt, { state: g, maxTokens: n, seed: 7, temperature: 1 })) produced += piece.length;
    nan ||= (await lm.step(32, { state: g })).some(Number.isNaN); // one extra token, checked
  };
  await run(1000, 'In the beginning');
  const after1k = memory();
  await run(long - 1001, '');
  longRun = { tokens: long, wasmMemoryAfter1kBytes: after1k, wasmMemoryAfterBytes: memory(), anyNaN: nan,
    tokensPerSecond: long / ((performance.now() - t0) / 1000) };
  g.dispose();
}

console.log(JSON.stringify({
  engine: 'mingru', version: JSON.parse(readFileSync(new URL('../package.json', import.meta.url))).version,
  threads: lm.backend.threads, simd: lm.backend.simd, relaxedSimd: lm.backend.relaxedSimd ?? false,
  ...speed, peakRssBytes: process.resourceUsage().maxRSS * 1024, wasmMemoryBytes: memory(), long: longRun, check,
}));
lm.dispose();
