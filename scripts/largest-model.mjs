#!/usr/bin/env node
// Finds the largest model that loads into the engine's 2 GiB of WebAssembly memory (wasm32), for F32, F16 and
// Q8 files: minGRU LMs of dim 1024 (expansion 1.5, feed-forward x4, conv 3, 256 tokens; 14.2M parameters a
// layer) with ever more layers, weights all zero (values do not change the memory a model takes). Each try
// runs in a fresh process: load, one forward over 16 tokens, 8 generated tokens. Prints a table for
// docs/robustness.md.        node scripts/largest-model.mjs [--threads N]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const threadsAt = args.indexOf('--threads');
const threads = threadsAt >= 0 ? Number(args[threadsAt + 1]) : 1;
const config = (depth) => ({ cell: 'gru', numTokens: 256, dim: 1024, depth, expansionFactor: 1.5, ffMult: 4, convKernelSize: 3 });

if (args[0] === '--try') {
  const [, dtype, depth] = args;
  const { makeModel, parameterCount } = await import('../tests/helpers/model-maker.mjs');
  const { load } = await import('../js/index.js');
  const bytes = makeModel(config(Number(depth)), { dtype, fill: 'zeros' });
  const result = { dtype, depth: Number(depth), parameters: parameterCount(config(Number(depth))), bytes: bytes.length };
  try {
    const lm = await load(bytes, { threads });
    const logits = await lm.forward(lm.encode('In the beginning'));
    let text = '';
    for await (const piece of lm.generate('In', { maxTokens: 8 })) text += piece;
    result.ok = logits.every(Number.isFinite) && text.length > 0;
    result.heap = lm._engine.heapStats();
  } catch (e) {
    result.ok = false;
    result.code = e.code;
    result.message = e.message;
  }
  console.log(JSON.stringify(result));
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
function attempt(dtype, depth) {
  const r = spawnSync(process.execPath, [self, '--try', dtype, String(depth), '--threads', String(threads)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = r.stdout.trim().split('\n').at(-1);
  try {
    return JSON.parse(line);
  } catch {
    return { dtype, depth, ok: false, code: `exit ${r.status}`, message: r.stderr.slice(-300) };
  }
}

const gib = (n) => (n / 2 ** 30).toFixed(2);
console.log(`threads: ${threads}`);
console.log('| file | largest that loads and runs | its file | next size up | result |');
console.log('|---|---|---|---|---|');
for (const dtype of ['f32', 'f16', 'q8']) {
  // grow by doubling, then bisect between the last success and the first failure
  let good = null, bad = null, depth = 4;
  for (;;) {
    const r = attempt(dtype, depth);
    console.error(`${dtype} depth ${depth}: ${r.ok ? 'ok' : `${r.code} ${r.message?.slice(0, 160)}`} (${gib(r.bytes ?? 0)} GiB)`);
    if (r.ok) good = r;
    else bad = r;
    if (bad && good && bad.depth - good.depth <= 1) break;
    if (!bad) depth *= 2;
    else if (!good) depth = Math.max(1, Math.floor(depth / 2));
    else depth = Math.floor((good.depth + bad.depth) / 2);
    if (depth < 1 || (bad && bad.depth === 1)) break;
  }
  console.log(`| ${dtype.toUpperCase()} | ${good ? `depth ${good.depth}, ${(good.parameters / 1e6).toFixed(0)}M parameters` : '-'} | ` +
    `${good ? `${gib(good.bytes)} GiB` : '-'} | ${bad ? `depth ${bad.depth}, ${gib(bad.bytes)} GiB` : '-'} | ${bad ? `${bad.code}: ${bad.message?.slice(0, 200)}` : ''} |`);
}
