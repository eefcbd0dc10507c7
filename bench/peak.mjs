#!/usr/bin/env node
// The core's peak in WebAssembly SIMD, 1 thread, in GFLOPS: register-resident chains of f32x4 arithmetic
// (bench/peak/peak.c, built by bench/peak/build.sh): mul + add (the plain build) and relaxed madd (the relaxed build).
// npm run bench shows every GFLOPS figure also as a fraction of this peak, measured in the same run and engine.
//   node bench/peak.mjs                       in Node (it re-runs itself with --experimental-wasm-relaxed-simd)
//   node bench/chromium-engine.mjs --peak [--browser firefox|webkit]     in a page (bench/peak.html)
// Prints one JSON line: { plain: { gflops, ok }, relaxed: { gflops, ok, fused } | { error } }. `ok`: the known
// answer, checked before timing (the baseline compiler's code) and after (the optimizing one's); `fused`: whether
// the engine's relaxed madd rounds once.

/** Measures both builds; `bytes(name)` returns a .wasm of bench/peak/. The best of `repeats` timings of about
 * `seconds` each, the builds alternating. */
export async function measurePeak(bytes, { seconds = 0.25, repeats = 5 } = {}) {
  const builds = {};
  for (const name of ['plain', 'relaxed']) {
    const wasm = await bytes(`peak-${name}.wasm`);
    if (!WebAssembly.validate(wasm)) {
      builds[name] = { error: 'this engine does not validate the module (no relaxed SIMD?)' };
      continue;
    }
    const { exports } = (await WebAssembly.instantiate(wasm)).instance;
    builds[name] = { exports, ok: knownAnswer(exports), gflops: 0 };
  }
  const live = Object.values(builds).filter((b) => b.exports);
  for (const b of live) {
    // iterations for about `seconds`: double until a run takes 50 ms, then scale
    let iters = 1 << 16;
    while (time(b.exports, iters) < 0.05) iters *= 2;
    b.iters = Math.round((iters * seconds) / time(b.exports, iters));
  }
  for (let r = 0; r < repeats; r++) {
    for (const b of live) {
      const flops = 8 * b.exports.accumulators() * b.iters;
      b.gflops = Math.max(b.gflops, flops / time(b.exports, b.iters) / 1e9);
    }
  }
  const out = {};
  for (const [name, b] of Object.entries(builds)) {
    if (!b.exports) {
      out[name] = b;
      continue;
    }
    out[name] = { gflops: b.gflops, ok: b.ok && knownAnswer(b.exports) };
    // a = 1 + 2^-23, b = 1 - 2^-23: a * b - 1 is -2^-46 rounded once, 0 rounded twice
    if (name === 'relaxed') out[name].fused = b.exports.madd1(1 + 2 ** -23, 1 - 2 ** -23, -1) !== 0;
  }
  return out;
}

// acc_k = k, three times acc_k = acc_k * 0.5 + 1: k / 8 + 1.75, exact; 4 lanes of 12 accumulators sum to 117
const knownAnswer = (e) => e.accumulators() === 12 && e.madd(3, 0.5, 1) === 117;

const time = (e, iters) => {
  const t0 = performance.now();
  e.madd(iters, 0.5, 1);
  return (performance.now() - t0) / 1000;
};

if (typeof process !== 'undefined' && import.meta.url === `file://${process.argv[1]}`) {
  const { spawnSync } = await import('node:child_process');
  const { readFileSync } = await import('node:fs');
  const flag = '--experimental-wasm-relaxed-simd';
  if (!process.execArgv.includes(flag)) {
    const r = spawnSync(process.execPath, [flag, ...process.execArgv, process.argv[1], ...process.argv.slice(2)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  const dir = new URL('./peak/', import.meta.url);
  const result = await measurePeak((name) => readFileSync(new URL(name, dir)));
  console.log(JSON.stringify({ engine: 'node', version: process.version, ...result }));
}
