#!/usr/bin/env node
// The compressor's speed, each setting against the others in one process: lm.compress then lm.decompress of the
// first BYTES of TEXT_FILE (each checked exact), REPS rounds alternating the settings, the best round of each
// (this machine's speed varies from run to run; the best is the least disturbed):
//   node bench/compress-speed.mjs MODEL.safetensors TEXT_FILE [--bytes N] [--reps N] [--threads N]
// Settings: adapt false; the default (only the top learns, segment 48); the top with segment 128 (the default
// before 2026-12-03); everything learning (part 'all'). docs/compress.md has the figures.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { load } from '../js/index.js';

const options = { bytes: { type: 'string' }, reps: { type: 'string' }, threads: { type: 'string' } };
const { values, positionals } = parseArgs({ allowPositionals: true, options });
const [modelPath, textPath] = positionals;
if (!modelPath || !textPath) {
  console.error('usage: node bench/compress-speed.mjs MODEL.safetensors TEXT_FILE [--bytes N] [--reps N] [--threads N]');
  process.exit(2);
}
const data = readFileSync(textPath).subarray(0, Number(values.bytes ?? 6000));
const lm = await load(modelPath, { threads: Number(values.threads ?? 1) });
const settings = { 'adapt: false': false, 'default (top, segment 48)': true, 'top, segment 128, lr 4e-4, clip 1': { segment: 128, lr: 4e-4, clip: 1 }, "part: 'all'": { part: 'all' } };
const best = {};
for (let r = 0; r < Number(values.reps ?? 3); r++) {
  for (const [name, adapt] of Object.entries(settings)) {
    let t = performance.now();
    const file = await lm.compress(data, { adapt });
    const c = performance.now() - t;
    t = performance.now();
    const back = await lm.decompress(file);
    const d = performance.now() - t;
    if (back.length !== data.length || back.some((b, i) => b !== data[i])) throw new Error(`${name}: the round trip is not exact`);
    const [c0, d0] = best[name] ?? [Infinity, Infinity];
    best[name] = [Math.min(c0, c), Math.min(d0, d), file.length];
  }
}
console.log(`${data.length} bytes of ${textPath}, ${values.threads ?? 1} thread(s), best of ${values.reps ?? 3}:`);
for (const [name, [c, d, size]] of Object.entries(best)) {
  console.log(`${name.padEnd(34)} compress ${Math.round(data.length / c * 1000).toString().padStart(5)} bytes/s, decompress ${Math.round(data.length / d * 1000).toString().padStart(5)} bytes/s, ${size} bytes`);
}
lm.dispose();
