#!/usr/bin/env node
// npm run bench: mingru against the runtimes people would use instead, on the same machine in one run.
//
//   node bench/bench.mjs [--models demo,10m,45m] [--rounds 3] [--long 100000] [--skip-peers]
//                        [--parts inference,train] [--train-steps 4] [--no-browser]
//
// For each model (the demo model, random minGRU LMs of ~13M and ~48M parameters) and each engine —
// mingru wasm (F32, Q8), the same C built natively (gcc -O3 -march=native; F32, Q8), PyTorch 1.13 (the
// reference minLM: parallel forward, cached step loop) and onnxruntime-web (ONNX exports: a full-sequence
// graph and a one-step graph) — on 1 and 2 threads, one child process per configuration and round:
//   prefill: tokens/s of a forward over 4096 tokens; step: tokens/s of 256 steps after a 64-token prompt.
// This machine's speed drifts from minute to minute (a shared host: the same process can run 1.5x faster or
// slower a minute later), so every configuration runs once per round, the rounds go through all
// configurations in turn, and the table gives the median over rounds with the range.
// Every engine's logits after the prompt and after the last step are first compared with mingru's (F32
// engines with mingru F32, Q8 with mingru Q8): the table says the largest difference and whether it is
// within 1e-3. Also: the machine's memory read bandwidth (bench/bandwidth.c) and what it allows a step that reads
// every weight, peak RSS per process, the wasm memory after 1,000 and 100,000 generated tokens, the
// demo model's bits per byte in F32 and Q8, the .wasm sizes, and each target of issue 6, met or not.
// mingru also runs in headless Chromium (bench/chromium-engine.mjs: the package in a cross-origin-isolated page,
// through its worker, as users run it), and onnxruntime-web in the same kind of page, unless --no-browser.
// Training (--parts train): tokens/s of AdamW steps on batches of 32 x 256 bytes of the held-out text, the demo
// model's configuration from its weights, for mingru (Node and Chromium), native and PyTorch (tools/train.py's
// step), 1 and 2 threads; every engine's losses step by step are compared with mingru's.
// Writes bench/results/bench-DATE.json and .md. Peers need bench/node_modules (npm ci in bench/, which
// this script runs when missing) and /usr/bin/python3 with torch.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { makeModel, parameterCount } from '../tests/helpers/model-maker.mjs';

const root = new URL('..', import.meta.url).pathname;
const here = new URL('.', import.meta.url).pathname;
const work = `${here}.work/`;
const { values: opt } = parseArgs({
  options: {
    models: { type: 'string', default: 'demo,10m,45m' }, rounds: { type: 'string', default: '3' },
    long: { type: 'string', default: '100000' },
    'skip-peers': { type: 'boolean', default: false }, parts: { type: 'string', default: 'inference,train' },
    'train-steps': { type: 'string', default: '4' }, 'no-browser': { type: 'boolean', default: false },
    browsers: { type: 'string', default: 'chromium,firefox,webkit' },
  },
});
const parts = new Set(opt.parts.split(','));
for (const p of parts) if (!['inference', 'train'].includes(p)) throw new Error(`unknown part ${p} (inference, train)`);
// the browser engines that run the package's page (bench/chromium-engine.mjs --browser): WebKitGTK has no threads and
// no relaxed SIMD (README, Browser support), so it runs the plain build on one thread only
const BROWSERS = opt['no-browser'] ? [] : opt.browsers.split(',').filter(Boolean);
for (const b of BROWSERS) if (!['chromium', 'firefox', 'webkit'].includes(b)) throw new Error(`unknown browser ${b} (chromium, firefox, webkit)`);
const browser = BROWSERS.length > 0;
const inPage = (engine) => BROWSERS.find((b) => engine.endsWith(`-${b}`) || engine.endsWith(`-${b}-plain`));
const oneThreadOnly = (engine) => inPage(engine) === 'webkit';
const log = (s) => process.stderr.write(`${s}\n`);
const PYTHON = '/usr/bin/python3';
const TOL = 1e-3;
mkdirSync(work, { recursive: true });

// ---------------------------------------------------------------- models
const random = (name, dim, depth) => {
  const config = { cell: 'gru', numTokens: 256, dim, depth, expansionFactor: 1.5, ffMult: 4, convKernelSize: 0 };
  const f32 = `${work}${name}.safetensors`, q8 = `${work}${name}.q8.safetensors`;
  const meta = { name: 'random', description: 'random weights, for benchmarks' };
  if (!existsSync(f32)) writeFileSync(f32, makeModel(config, meta));
  if (!existsSync(q8)) writeFileSync(q8, makeModel(config, { ...meta, dtype: 'q8' }));
  return { name, f32, q8, parameters: parameterCount(config), config: `random, dim ${dim}, depth ${depth}` };
};
const MODELS = {
  demo: () => ({ name: 'demo', f32: `${root}models/kjv.safetensors`, q8: `${root}models/kjv.q8.safetensors`,
    parameters: 3415296, config: 'KJV demo model, dim 256, depth 4' }),
  '10m': () => random('random-13m', 512, 4),
  '45m': () => random('random-48m', 768, 6),
};
const models = opt.models.split(',').map((m) => {
  if (!MODELS[m]) throw new Error(`unknown model ${m} (demo, 10m, 45m)`);
  return MODELS[m]();
});

// ---------------------------------------------------------------- engines
const nativeBin = `${root}build/bench/mingru-native`, bandwidthBin = `${root}build/bench/bandwidth`;
/** gcc -O3 -march=native `sources` into `bin`, unless bin is newer than all of them. */
function compile(what, bin, sources, flags, libs = []) {
  if (existsSync(bin) && statSync(bin).mtimeMs > Math.max(...sources.map((s) => statSync(s).mtimeMs))) return;
  log(`building ${what} (gcc -O3 -march=native)`);
  mkdirSync(`${root}build/bench`, { recursive: true });
  execFileSync('gcc', ['-O3', '-march=native', '-pthread', ...flags, ...sources, ...libs, '-o', bin], { stdio: 'inherit' });
}
function buildNative() {
  compile('the bandwidth probe', bandwidthBin, [`${here}bandwidth.c`], []);
  const sources = readdirSync(`${root}src`).filter((f) => f.endsWith('.c') && f !== 'api_wasm.c') // the core, as CMake's
    .map((f) => `${root}src/${f}`).concat(`${here}native-engine.c`);
  compile('the native engine', nativeBin, sources, ['-DNDEBUG', '-DMINGRU_THREADS', `-I${root}include`, `-I${root}src`], ['-lm']);
}

function preparePeers() {
  if (!existsSync(`${here}node_modules/onnxruntime-web`)) {
    log('installing the peers (npm ci in bench/)');
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: here, stdio: 'inherit' });
  }
  for (const m of models) {
    m.onnx = `${work}${m.name}-onnx/`;
    if (existsSync(`${m.onnx}step.onnx`) && statSync(`${m.onnx}step.onnx`).mtimeMs > statSync(m.f32).mtimeMs) continue;
    log(`exporting ${m.name} to ONNX`);
    execFileSync(PYTHON, [`${here}peers/export_onnx.py`, '--model', m.f32, '--out-dir', m.onnx], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
}

/** Runs one configuration in its own process; returns its JSON line. */
function run(engine, m, dtype, threads, extra = []) {
  const common = ['--threads', String(threads), '--runs', '1', ...extra];
  const file = dtype === 'q8' ? m.q8 : m.f32;
  const cmd = {
    mingru: [process.execPath, [`${here}mingru-engine.mjs`, '--model', file, ...common]],
    ...Object.fromEntries(BROWSERS.flatMap((b) => [
      [`mingru-${b}`, [process.execPath, [`${here}chromium-engine.mjs`, '--browser', b, '--model', file, ...common]]],
      [`mingru-${b}-plain`, [process.execPath, [`${here}chromium-engine.mjs`, '--browser', b, '--model', file, '--relaxed-simd', '0', ...common]]],
      [`onnxruntime-web-${b}`, [process.execPath, [`${here}chromium-engine.mjs`, '--browser', b, '--onnx-dir', m.onnx, '--model', file, ...common]]],
    ])),
    native: [nativeBin, ['--model', file, ...common]],
    pytorch: [PYTHON, [`${here}peers/torch_bench.py`, '--model', file, ...common]],
    'onnxruntime-web': [process.execPath, [`${here}peers/ort_bench.mjs`, '--onnx-dir', m.onnx, '--model', file, ...common]],
  }[engine];
  log(`${m.name}: ${engine} ${dtype} ${threads} thread(s)`);
  const r = spawnSync(cmd[0], cmd[1], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${engine} ${dtype} on ${m.name} failed (exit ${r.status})`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  return { ...out, engine, dtype, model: m.name, threads };
}
const BROWSER_NAMES = { chromium: 'Chromium', firefox: 'Firefox', webkit: 'WebKit' };
const ENGINE_NAMES = { mingru: 'mingru (Node)', 'onnxruntime-web': 'onnxruntime-web (Node)',
  ...Object.fromEntries(Object.entries(BROWSER_NAMES).flatMap(([b, name]) => [[`mingru-${b}`, `mingru (${name})`],
    [`mingru-${b}-plain`, `mingru (${name}, plain SIMD)`], [`onnxruntime-web-${b}`, `onnxruntime-web (${name})`]])) };

const maxDiff = (a, b) => a.reduce((mx, v, i) => Math.max(mx, Math.abs(v - b[i])), 0);

// ---------------------------------------------------------------- run
buildNative();
if (!opt['skip-peers']) preparePeers();
// read bandwidth, before and after the rounds (the best of the two): the bound on a step that reads every weight
const readBandwidth = (threads) => JSON.parse(execFileSync(bandwidthBin, [String(threads)], { encoding: 'utf8' })).readGBps;
const bandwidth = { 1: readBandwidth(1), 2: readBandwidth(2) };
// the held-out text (bits per byte of the demo model, and the training batches)
const val = `${work}kjv-val.txt`;
if (!existsSync(val)) execFileSync(PYTHON, [`${root}tools/baselines.py`, '--write-val', val], { stdio: ['ignore', 'ignore', 'inherit'] });
const configs = [];
const inferenceEngines = ['mingru', ...BROWSERS.flatMap((b) => (b === 'webkit' ? ['mingru-webkit'] : [`mingru-${b}`, `mingru-${b}-plain`])), 'native'];
const trainEngines = ['mingru', ...BROWSERS.map((b) => `mingru-${b}`), 'native'];
if (parts.has('inference')) {
  for (const m of models) {
    for (const threads of [1, 2]) {
      const fits = (engines) => engines.filter((e) => threads === 1 || !oneThreadOnly(e));
      for (const dtype of ['f32', 'q8']) for (const engine of fits(inferenceEngines)) configs.push({ part: 'inference', engine, m, dtype, threads });
      const peers = ['pytorch', 'onnxruntime-web', ...BROWSERS.map((b) => `onnxruntime-web-${b}`)];
      if (!opt['skip-peers']) for (const engine of fits(peers)) configs.push({ part: 'inference', engine, m, dtype: 'f32', threads });
    }
  }
}
const trainSteps = Number(opt['train-steps']);
if (!(Number.isInteger(trainSteps) && trainSteps >= 1)) throw new Error(`--train-steps must be a whole number >= 1, not ${opt['train-steps']}`);
const trainModel = MODELS.demo();
if (parts.has('train')) {
  for (const threads of [1, 2]) {
    for (const engine of [...trainEngines, ...(opt['skip-peers'] ? [] : ['pytorch'])].filter((e) => threads === 1 || !oneThreadOnly(e))) {
      configs.push({ part: 'train', engine, m: trainModel, dtype: 'f32', threads, extra: ['--train', String(trainSteps), '--text', val] });
    }
  }
}
const rounds = Number(opt.rounds);
if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`--rounds must be a whole number >= 1, not ${opt.rounds}`);
const results = configs.map(() => []);
for (let round = 1; round <= rounds; round++) {
  log(`round ${round} of ${rounds}`);
  configs.forEach((c, i) => results[i].push(run(c.engine, c.m, c.dtype, c.threads, c.extra)));
}
for (const t of [1, 2]) bandwidth[t] = Math.max(bandwidth[t], readBandwidth(t));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const spread = (xs) => ({ median: median(xs), runs: xs, range: [Math.min(...xs), Math.max(...xs)] });
const peakRss = (rs) => (rs[0].peakRssBytes === undefined ? undefined : Math.max(...rs.map((r) => r.peakRssBytes)));
const rows = results.flatMap((rs, i) => {
  if (configs[i].part !== 'inference') return [];
  const pre = spread(rs.map((r) => r.prefillTokensPerSecond)), st = spread(rs.map((r) => r.stepTokensPerSecond));
  const gen = rs[0].generateTokensPerSecond === undefined ? null : spread(rs.map((r) => r.generateTokensPerSecond));
  return [{
    ...rs[0], prefillTokensPerSecond: pre.median, stepTokensPerSecond: st.median,
    prefillRuns: pre.runs, stepRuns: st.runs, prefillRange: pre.range, stepRange: st.range, peakRssBytes: peakRss(rs),
    ...(gen && { generateTokensPerSecond: gen.median, generateRuns: gen.runs, generateRange: gen.range }),
  }];
});
// training: the losses of every engine's run (the same weights, batches and settings) against mingru's in Node
const trainRows = results.flatMap((rs, i) => {
  if (configs[i].part !== 'train') return [];
  const tps = spread(rs.map((r) => r.trainTokensPerSecond));
  return [{ ...rs[0], trainTokensPerSecond: tps.median, trainRuns: tps.runs, trainRange: tps.range, peakRssBytes: peakRss(rs) }];
});
for (const r of trainRows) {
  const ref = trainRows.find((x) => x.engine === 'mingru' && x.threads === 1) ?? r;
  r.maxLossDiff = r.losses.reduce((mx, l, i) => Math.max(mx, Math.abs(l - ref.losses[i]) / Math.abs(ref.losses[i])), 0);
  r.lossesAgree = r.maxLossDiff <= 2e-4;
}
for (const r of rows) {
  const ref = rows.find((x) => x.engine === 'mingru' && x.model === r.model && x.dtype === r.dtype && x.threads === 1);
  r.maxLogitDiff = Math.max(maxDiff(r.check.promptLogits, ref.check.promptLogits), maxDiff(r.check.stepLogits, ref.check.stepLogits));
  // one int8 arithmetic in every build (docs/kernels.md): Q8 logits agree like F32 ones
  r.agrees = r.maxLogitDiff <= TOL;
  if (r.dtype === 'q8') {
    const f = rows.find((x) => x.engine === 'mingru' && x.model === r.model && x.dtype === 'f32' && x.threads === 1);
    r.maxLogitDiffVsF32 = Math.max(maxDiff(r.check.promptLogits, f.check.promptLogits), maxDiff(r.check.stepLogits, f.check.stepLogits));
  }
}
for (const r of rows) delete r.check;

// long generation: the wasm memory after 1,000 and after --long tokens (demo model, Q8, 2 threads)
const long = Number(opt.long);
let longRun = null;
if (long > 0 && parts.has('inference')) {
  const demo = MODELS.demo();
  log(`generating ${long} tokens with the demo model (Q8, 2 threads)`);
  longRun = run('mingru', demo, 'q8', 2, ['--long', String(long), '--prefill', '64', '--steps', '16']).long;
}

// the demo model's bits per byte, F32 and Q8, on the first 60,000 held-out bytes
let bpb = null;
if (parts.has('inference') && existsSync(`${root}models/kjv.safetensors`)) {
  const score = (file) => {
    const out = execFileSync(process.execPath, [`${here}eval-bpb.mjs`, file, val, '--limit', '60000', '--threads', '2'], { encoding: 'utf8' });
    return Number(/: ([\d.]+) bits\/byte/.exec(out)[1]);
  };
  log('bits per byte of the demo model (F32, Q8)');
  bpb = { bytes: 60000, f32: score(`${root}models/kjv.safetensors`), q8: score(`${root}models/kjv.q8.safetensors`) };
}

const wasm = Object.fromEntries(['mingru.wasm', 'mingru-threads.wasm', 'node/mingru-threads.wasm']
  .map((f) => [f, statSync(`${root}dist/${f}`).size]));

// ---------------------------------------------------------------- report
const get = (model, engine, dtype, threads) => rows.find((r) => r.model === model && r.engine === engine && r.dtype === dtype && r.threads === threads);
const fmt = (x, d = 0) => (x >= 100 ? x.toFixed(0) : x.toFixed(d || 1));
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.version}`;
const date = new Date().toISOString().slice(0, 10);
const browsersUsed = [...new Set([...rows, ...trainRows].map((r) => r.browser).filter(Boolean))];
const chromium = browsersUsed.find((b) => /^chromium/.test(b));
const range = ([lo, hi]) => (rounds > 1 ? ` (${fmt(lo)}–${fmt(hi)})` : '');
const rss = (r) => (r.peakRssBytes === undefined ? '–' : (r.peakRssBytes / 2 ** 20).toFixed(0));
const md = [];
md.push(`# npm run bench, ${date}`, '', `${machine}${browsersUsed.length ? `, ${browsersUsed.join(', ')}` : ''}. ` +
  `Tokens/s, median over ${rounds} rounds (range in brackets); each round runs every configuration once, in its own process.`, '');
if (rows.length) md.push('Prefill: forward over 4096 tokens; step: 256 tokens after a 64-token prompt, one `step()` call each; ' +
  'generate: 256 tokens sampled by `generate()` after the prompt. mingru (Chromium) is the package in a cross-origin-isolated ' +
  'page, through its worker: every `step()` crosses to the worker and back, while `generate()` keeps its loop in the worker; ' +
  'it takes the relaxed-SIMD build, "plain SIMD" the plain one (`relaxedSimd: false`); onnxruntime-web (Chromium) runs in the same ' +
  'kind of page (on its main thread, its own workers for threads). "mingru step is": mingru\'s step over the engine\'s, same ' +
  'weights, same threads, in the same place (Node, or Chromium for the Chromium rows). Logits: largest ' +
  `|difference| from mingru in Node (F32 or Q8, 1 thread) after the prompt and after the last step; "ok" = within ${TOL}.`, '');
for (const m of rows.length ? models : []) {
  md.push(`## ${m.name}: ${m.config}, ${(m.parameters / 1e6).toFixed(1)}M parameters`, '');
  md.push('| engine | weights | threads | prefill tok/s | step tok/s | generate tok/s | mingru step is | peak RSS MB | logits |', '|---|---|---|---|---|---|---|---|---|');
  for (const r of rows.filter((x) => x.model === m.name)) {
    const ours = get(m.name, inPage(r.engine) ? `mingru-${inPage(r.engine)}` : 'mingru', r.dtype, r.threads); // like for like
    md.push(`| ${ENGINE_NAMES[r.engine] ?? r.engine} | ${r.dtype.toUpperCase()} | ${r.threads} | ${fmt(r.prefillTokensPerSecond)}${range(r.prefillRange)} | ` +
      `${fmt(r.stepTokensPerSecond)}${range(r.stepRange)} | ` +
      `${r.generateTokensPerSecond === undefined ? '–' : `${fmt(r.generateTokensPerSecond)}${range(r.generateRange)}`} | ` +
      `${r.engine.startsWith('mingru') || !ours ? '' : ratio(ours.stepTokensPerSecond, r.stepTokensPerSecond)} | ${rss(r)} | ` +
      `${r.maxLogitDiff.toExponential(1)} ${r.agrees ? 'ok' : 'DIFFERS'} |`);
  }
  const one = get(m.name, 'mingru', 'f32', 1), nat = get(m.name, 'native', 'f32', 1);
  const gflops = (r) => (2 * m.parameters * r.prefillTokensPerSecond / 1e9).toFixed(1);
  md.push('', `Prefill arithmetic on 1 thread (2 x parameters x tokens/s): mingru wasm ${gflops(one)} GFLOPS, native ${gflops(nat)} GFLOPS.`);
  // a step reads every weight once: from memory (not the caches) it cannot beat bandwidth / weight bytes
  const bound = (file, t) => fmt(bandwidth[t] * 1e9 / statSync(file).size);
  md.push('', `Step bound by memory reads (read bandwidth ${bandwidth[1].toFixed(1)} GB/s on 1 thread, ${bandwidth[2].toFixed(1)} on 2 / ` +
    `weight bytes, the file's size): F32 ${bound(m.f32, 1)} / ${bound(m.f32, 2)} tok/s, Q8 ${bound(m.q8, 1)} / ${bound(m.q8, 2)} tok/s ` +
    '(1 / 2 threads); weights that fit in the caches can go faster.', '');
}

if (trainRows.length) {
  md.push(`## Training: ${trainModel.config}, ${(trainModel.parameters / 1e6).toFixed(1)}M parameters, from its weights`, '',
    `${trainSteps} AdamW steps (lr 3e-4, betas (0.9, 0.95), weight decay 0.01, clip 1) after one untimed step, on batches of 32 ` +
    'windows of 256 + 1 bytes of the held-out text (the same windows for every engine: bench/measure.mjs). Tokens/s = ' +
    'predicted tokens per second. PyTorch: tools/train.py\'s train_step. Losses: largest relative difference from mingru ' +
    'in Node on 1 thread over every step; "ok" = within 2e-4.', '');
  md.push('| engine | threads | train tok/s | PyTorch is | peak RSS MB | losses |', '|---|---|---|---|---|---|');
  for (const r of trainRows) {
    const pt = trainRows.find((x) => x.engine === 'pytorch' && x.threads === r.threads);
    md.push(`| ${ENGINE_NAMES[r.engine] ?? r.engine} | ${r.threads} | ${fmt(r.trainTokensPerSecond)}${range(r.trainRange)} | ` +
      `${pt && r.engine !== 'pytorch' ? ratio(pt.trainTokensPerSecond, r.trainTokensPerSecond) : ''} | ${rss(r)} | ` +
      `${r.maxLossDiff.toExponential(1)} ${r.lossesAgree ? 'ok' : 'DIFFERS'} |`);
  }
  md.push('');
}

const targets = [];
const target = (what, value, met) => targets.push({ what, value, met });
const getTrain = (engine, threads) => trainRows.find((r) => r.engine === engine && r.threads === threads);
for (const engine of ['mingru', 'mingru-chromium']) {
  const w = getTrain(engine, 2), pt = getTrain('pytorch', 2);
  if (w && pt) target(`training, 2 threads: ${ENGINE_NAMES[engine]} >= 1/2 PyTorch`, ratio(w.trainTokensPerSecond, pt.trainTokensPerSecond), w.trainTokensPerSecond >= pt.trainTokensPerSecond / 2);
}
if (trainRows.length) target('every engine trains to the same losses (2e-4)', trainRows.filter((r) => !r.lossesAgree).map((r) => `${r.engine} ${r.threads}`).join(', ') || 'all agree', trainRows.every((r) => r.lossesAgree));
for (const m of rows.length ? models : []) {
  for (const threads of [1, 2]) {
    // like for like (F32 against the peers' F32), and as shipped (Q8; the peers here have no int8 path)
    const ort = get(m.name, 'onnxruntime-web', 'f32', threads), pt = get(m.name, 'pytorch', 'f32', threads);
    for (const dtype of ['f32', 'q8']) {
      const ours = get(m.name, 'mingru', dtype, threads), D = dtype.toUpperCase();
      if (ort) target(`${m.name}, ${threads} thread(s): ${D} step >= 2x onnxruntime-web (F32)`, ratio(ours.stepTokensPerSecond, ort.stepTokensPerSecond), ours.stepTokensPerSecond >= 2 * ort.stepTokensPerSecond);
      if (pt) target(`${m.name}, ${threads} thread(s): ${D} step >= 5x PyTorch (F32)`, ratio(ours.stepTokensPerSecond, pt.stepTokensPerSecond), ours.stepTokensPerSecond >= 5 * pt.stepTokensPerSecond);
    }
  }
  const w = get(m.name, 'mingru', 'f32', 1), n = get(m.name, 'native', 'f32', 1);
  target(`${m.name}: single-thread wasm >= 1/2 native, prefill`, ratio(w.prefillTokensPerSecond, n.prefillTokensPerSecond), w.prefillTokensPerSecond >= n.prefillTokensPerSecond / 2);
  target(`${m.name}: single-thread wasm >= 1/2 native, step`, ratio(w.stepTokensPerSecond, n.stepTokensPerSecond), w.stepTokensPerSecond >= n.stepTokensPerSecond / 2);
  target(`${m.name}: prefill >= 10x step (1 thread)`, ratio(w.prefillTokensPerSecond, w.stepTokensPerSecond), w.prefillTokensPerSecond >= 10 * w.stepTokensPerSecond);
  if (m.parameters > 30e6) {
    for (const threads of [1, 2]) {
      const q = get(m.name, 'mingru', 'q8', threads), f = get(m.name, 'mingru', 'f32', threads);
      target(`${m.name}, ${threads} thread(s): Q8 step >= 1.5x F32 step`, ratio(q.stepTokensPerSecond, f.stepTokensPerSecond), q.stepTokensPerSecond >= 1.5 * f.stepTokensPerSecond);
    }
  }
}
// issue 15: where users are (Chromium), relaxed against plain, threads against one
for (const m of browser && rows.length ? models : []) {
  const c = (dtype, threads, engine = 'mingru-chromium') => get(m.name, engine, dtype, threads);
  for (const threads of [1, 2]) {
    const relaxed = c('q8', threads), plain = c('q8', threads, 'mingru-chromium-plain');
    if (relaxed && plain && relaxed.relaxedSimd) {
      const [a, b] = [relaxed.generateTokensPerSecond, plain.generateTokensPerSecond];
      target(`${m.name}, Chromium, ${threads} thread(s): relaxed Q8 generate >= 1.5x the plain build's (today's kernel)`, ratio(a, b), a >= 1.5 * b);
    }
  }
  for (const threads of [1, 2]) {
    const ours = c('q8', threads), ort = c('f32', threads, 'onnxruntime-web-chromium');
    if (!ours || !ort) continue;
    target(`${m.name}, Chromium, ${threads} thread(s): Q8 step >= 2x onnxruntime-web (F32) in the same kind of page`,
      `${ratio(ours.stepTokensPerSecond, ort.stepTokensPerSecond)} (generate: ${ratio(ours.generateTokensPerSecond, ort.stepTokensPerSecond)})`,
      ours.stepTokensPerSecond >= 2 * ort.stepTokensPerSecond);
  }
  const f = c('f32', 1);
  if (f) {
    const gf = (2 * m.parameters * f.prefillTokensPerSecond) / 1e9;
    target(`${m.name}, Chromium: F32 prefill >= 40 GFLOPS on one core`, `${gf.toFixed(1)} GFLOPS`, gf >= 40);
  }
  for (const dtype of ['f32', 'q8']) {
    const one = c(dtype, 1), two = c(dtype, 2);
    if (!one || !two) continue;
    target(`${m.name}, Chromium, ${dtype.toUpperCase()}: 2-thread prefill >= 1.6x 1 thread`, ratio(two.prefillTokensPerSecond, one.prefillTokensPerSecond), two.prefillTokensPerSecond >= 1.6 * one.prefillTokensPerSecond);
    target(`${m.name}, Chromium, ${dtype.toUpperCase()}: 2-thread generate never slower than 1 thread`, ratio(two.generateTokensPerSecond, one.generateTokensPerSecond), two.generateTokensPerSecond >= one.generateTokensPerSecond);
  }
}
if (bpb) target('demo model: Q8 bits/byte within 1% of F32', `${bpb.q8.toFixed(4)} vs ${bpb.f32.toFixed(4)} (${((bpb.q8 / bpb.f32 - 1) * 100).toFixed(2)}%)`, bpb.q8 <= bpb.f32 * 1.01);
for (const [f, size] of Object.entries(wasm)) target(`${f} < 300 KB`, `${(size / 1024).toFixed(0)} KB`, size < 300 * 1024);
if (longRun) target(`wasm memory flat over ${long.toLocaleString('en-US')} generated tokens`, `${(longRun.wasmMemoryAfter1kBytes / 2 ** 20).toFixed(1)} MB after 1,000 -> ${(longRun.wasmMemoryAfterBytes / 2 ** 20).toFixed(1)} MB; NaN: ${longRun.anyNaN}`, longRun.wasmMemoryAfterBytes === longRun.wasmMemoryAfter1kBytes && !longRun.anyNaN);
if (rows.length) target('every engine gives the same logits (1e-3)', rows.filter((r) => !r.agrees).map((r) => `${r.engine} ${r.dtype} ${r.model}`).join(', ') || 'all agree', rows.every((r) => r.agrees));

md.push('## Targets', '', '| target | measured | met |', '|---|---|---|');
for (const t of targets) md.push(`| ${t.what} | ${t.value} | ${t.met ? 'yes' : 'NO'} |`);
const text = md.join('\n') + '\n';
console.log(`\n${text}`);
mkdirSync(`${here}results`, { recursive: true });
writeFileSync(`${here}results/bench-${date}.md`, text);
writeFileSync(`${here}results/bench-${date}.json`, JSON.stringify({ date, machine, chromium, bandwidth, models, rows, trainRows, longRun, bpb, wasm, targets }, null, 1) + '\n');
log(`wrote bench/results/bench-${date}.md and .json`);
