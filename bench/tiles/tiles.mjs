#!/usr/bin/env node
// Register tiles of the packed F32 kernel, each alone, in GFLOPS and as a fraction of today's 4 x 8 tile (tiles.c;
// build it with bench/tiles/build.sh). Node runs relaxed SIMD only behind a flag, and its baseline compiler is
// skipped so that every call is the optimizing compiler's code: this re-runs itself with both.
//   node bench/tiles/tiles.mjs [M N K]      (default 60 1200 256; compare with node bench/peak.mjs)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

if (!process.execArgv.includes('--experimental-wasm-relaxed-simd')) {
  execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--no-liftoff', ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(0);
}
const { instance } = await WebAssembly.instantiate(readFileSync(new URL('./tiles.wasm', import.meta.url)));
const m = instance.exports;
const names = ['4x8', '4x8 k by 2', '4x12', '6x8', '5x8', '3x16', '2x16', '4x8 generic'];
const [M, N, K] = [60, 1200, 256].map((x, i) => +(process.argv[2 + i] ?? x));
if (!m.setup(M, N, K)) throw new Error('shape too large for tiles.c buffers');
const reps = 20, rounds = 7, best = [];
for (let i = 0; i < m.nk(); i++) if (m.check(i, M, N, K) !== 0) console.log(`${names[i >> 1]}: other bits than 4x8`);
for (let r = 0; r < rounds; r++)
  for (let i = 0; i < m.nk(); i++) {
    const t = performance.now();
    m.run(i, M, N, K, reps);
    best[i] = Math.min(best[i] ?? Infinity, performance.now() - t);
  }
for (let i = 0; i < m.nk(); i++)
  console.log(`${names[i >> 1].padEnd(12)} ${i & 1 ? 'relaxed' : 'plain  '} ${(2 * M * N * K * reps / best[i] / 1e6).toFixed(1)} GFLOPS  ${(best[i & 1] / best[i]).toFixed(2)}x`);
