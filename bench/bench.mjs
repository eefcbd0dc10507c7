#!/usr/bin/env node
// npm run bench: mingru against the runtimes people would use instead, on the same machine in one run.
//
//   node bench/bench.mjs [--models demo,10m,45m] [--rounds 3] [--long 100000] [--skip-peers]
//                        [--parts inference,train] [--train-steps 4] [--train-batch 16] [--no-browser]
//                        [--tfjs-backends wasm,webgl]
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
// Training (--parts train): tokens/s of AdamW steps on batches of 16 x 256 bytes of the held-out text, the demo
// model's configuration from its weights, for mingru (Node and Chromium), native, PyTorch (tools/train.py's step),
// minGRU-pytorch's own minLM (bench/peers/torch_bench.py --mingru-pytorch, where a checkout is in
// bench/.work/minGRU-pytorch) and TensorFlow.js (bench/peers/tfjs_train.mjs: its wasm backend in Node, one thread, and
// in Chromium; --tfjs-backends wasm,webgl adds WebGL), 1 and 2 threads; every engine's losses step by step are
// compared with mingru's.
// The core's peak (bench/peak.mjs: register-resident f32x4 mul + add and relaxed madd, 1 thread) is measured in Node
// and in each browser before and after the rounds; every GFLOPS figure is also shown as a fraction of it.
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
    'train-steps': { type: 'string', default: '4' }, 'train-batch': { type: 'string', default: '16' },
    'no-browser': { type: 'boolean', default: false }, 'tfjs-backends': { type: 'string', default: 'wasm' },
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
const inPage = (engine) => BROWSERS.find((b) => engine.endsWith(`-${b}`) || engine.endsWith(`-${b}-plain`) || engine.includes(`-${b}-`));
// TF.js's wasm backend has no threads in Node (it turns them off there); WebGL has none to set
const oneThreadOnly = (engine) => inPage(engine) === 'webkit' || engine === 'tfjs' || engine === 'tfjs-chromium-webgl';
const TFJS_BACKENDS = opt['tfjs-backends'].split(',').filter(Boolean);
for (const b of TFJS_BACKENDS) if (!['wasm', 'webgl', 'webgpu'].includes(b)) throw new Error(`unknown TF.js backend ${b} (wasm, webgl, webgpu)`);
const log = (s) => process.stderr.write(`${s}\n`);
const PYTHON = '/usr/bin/python3';
const MINGRU_PYTORCH = `${work}minGRU-pytorch`; // a checkout of github.com/lucidrains/minGRU-pytorch (not vendored)
const TOL = 1e-3;
mkdirSync(work, { recursive: true });

// ---------------------------------------------------------------- models
const random = (name, dim, depth) => {
  const config = { cell: 'gru', numTokens: 256, dim, depth, expansionFactor: 1.5, ffMult: 4, convKernelSize: 0 };
  const f32 = `${work}${name}.safetensors`, q8 = `${work}${name}.q8.safetensors`;
  const meta = { name: 'random', description: 'random weights, for benchmarks' };
  if (!existsSync(f32)) writeFileSync(f32, makeModel(config, meta));
  if (!existsSync(q8)) writeFileSync(q8, makeModel(config, { ...meta, dtype: 'q8' }));
  return { name, f32, q8, parameters: parameterCount(config), shape: config, config: `random, dim ${dim}, depth ${depth}` };
};
const DEMO_SHAPE = { cell: 'gru', numTokens: 256, dim: 256, depth: 4, expansionFactor: 1.5, ffMult: 4, convKernelSize: 0 };

/** The multiply-adds the engine's products perform in a forward over n tokens that returns the last logits (blocks of
 * 128 tokens; in each block every layer's input projection (and conv) takes every row, every layer's output side
 * (to_out, the feed-forward) every row but in the last layer, which takes the last row's group of 4 (src/lm.c), as
 * the head does). The elementwise work is not counted. */
function prefillMacs({ cell, numTokens, dim, depth, expansionFactor, ffMult, convKernelSize }, n) {
  const di = Math.floor(dim * expansionFactor), ff = Math.floor(dim * ffMult), g = cell === 'gru' ? 2 : 3;
  const input = g * di * dim + (convKernelSize ? dim * dim : 0), output = (expansionFactor !== 1 ? dim * di : 0) + 2 * dim * ff;
  let macs = 0;
  for (let at = 0; at < n; at += 128) {
    const t = Math.min(128, n - at), group = t - Math.floor((t - 1) / 4) * 4;
    macs += t * depth * input + t * (depth - 1) * output + group * (output + numTokens * dim);
  }
  return macs;
}
const MODELS = {
  demo: () => ({ name: 'demo', f32: `${root}models/kjv.safetensors`, q8: `${root}models/kjv.q8.safetensors`,
    parameters: parameterCount(DEMO_SHAPE), shape: DEMO_SHAPE, config: 'KJV demo model, dim 256, depth 4' }),
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

/** bench/peak/build.sh when peak.c is newer than the committed .wasm and clang-19 is there. */
function buildPeak() {
  const wasm = `${here}peak/peak-relaxed.wasm`;
  if (existsSync(wasm) && statSync(wasm).mtimeMs >= statSync(`${here}peak/peak.c`).mtimeMs) return;
  if (spawnSync('clang-19', ['--version']).status !== 0) return log('bench/peak/peak.c is newer than its .wasm, and clang-19 is missing: using the .wasm as committed');
  log('building bench/peak/*.wasm (clang-19)');
  execFileSync(`${here}peak/build.sh`, { stdio: 'inherit' });
}

function preparePeers() {
  if (['onnxruntime-web', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm'].some((p) => !existsSync(`${here}node_modules/${p}`))) {
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
    'minGRU-pytorch': [PYTHON, [`${here}peers/torch_bench.py`, '--model', file, '--mingru-pytorch', MINGRU_PYTORCH, ...common]],
    tfjs: [process.execPath, [`${here}peers/tfjs_bench.mjs`, '--model', file, ...common]],
    ...Object.fromEntries(TFJS_BACKENDS.map((be) => [`tfjs-chromium${be === 'wasm' ? '' : `-${be}`}`,
      [process.execPath, [`${here}chromium-engine.mjs`, '--tfjs', be, '--model', file, ...common]]])),
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
  pytorch: 'PyTorch (tools/train.py: sequential scan)', 'minGRU-pytorch': 'minGRU-pytorch minLM (log-space scan)',
  tfjs: 'TensorFlow.js wasm (Node)', 'tfjs-chromium': 'TensorFlow.js wasm (Chromium)', 'tfjs-chromium-webgl': 'TensorFlow.js WebGL (Chromium)',
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
const hasMinGruPytorch = existsSync(`${MINGRU_PYTORCH}/minGRU_pytorch/minLM.py`);
if (!hasMinGruPytorch && !opt['skip-peers'] && parts.has('train')) {
  log(`no minGRU-pytorch checkout in ${MINGRU_PYTORCH}: its minLM is left out (git clone https://github.com/lucidrains/minGRU-pytorch there)`);
}
const trainPeers = opt['skip-peers'] ? [] : ['pytorch', ...(hasMinGruPytorch ? ['minGRU-pytorch'] : []), 'tfjs',
  ...(BROWSERS.includes('chromium') ? TFJS_BACKENDS.map((be) => `tfjs-chromium${be === 'wasm' ? '' : `-${be}`}`) : [])];
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
const trainSteps = Number(opt['train-steps']), trainBatch = Number(opt['train-batch']);
if (!(Number.isInteger(trainSteps) && trainSteps >= 1)) throw new Error(`--train-steps must be a whole number >= 1, not ${opt['train-steps']}`);
if (!(Number.isInteger(trainBatch) && trainBatch >= 1)) throw new Error(`--train-batch must be a whole number >= 1, not ${opt['train-batch']}`);
const trainModel = MODELS.demo();
if (parts.has('train')) {
  for (const threads of [1, 2]) {
    for (const engine of [...trainEngines, ...trainPeers].filter((e) => threads === 1 || !oneThreadOnly(e))) {
      configs.push({ part: 'train', engine, m: trainModel, dtype: 'f32', threads,
        extra: ['--train', String(trainSteps), '--text', val, '--batch', String(trainBatch)] });
    }
  }
}
// the core's peak (bench/peak.mjs) in Node and in each browser, before and after the rounds (the best of the two)
const peakPlaces = ['node', ...BROWSERS];
const measurePeak = (place) => {
  log(`the core's peak in ${place}`);
  const args = place === 'node' ? [`${here}peak.mjs`] : [`${here}chromium-engine.mjs`, '--peak', '--browser', place];
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop());
};
buildPeak();
const peaks = Object.fromEntries(peakPlaces.map((p) => [p, measurePeak(p)]));
const rounds = Number(opt.rounds);
if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`--rounds must be a whole number >= 1, not ${opt.rounds}`);
const results = configs.map(() => []);
for (let round = 1; round <= rounds; round++) {
  log(`round ${round} of ${rounds}`);
  configs.forEach((c, i) => results[i].push(run(c.engine, c.m, c.dtype, c.threads, c.extra)));
}
for (const t of [1, 2]) bandwidth[t] = Math.max(bandwidth[t], readBandwidth(t));
for (const place of peakPlaces) {
  const again = measurePeak(place);
  for (const b of ['plain', 'relaxed']) {
    const [x, y] = [peaks[place][b], again[b]];
    if (x?.gflops !== undefined && y?.gflops !== undefined) peaks[place][b] = { ...x, gflops: Math.max(x.gflops, y.gflops), ok: x.ok && y.ok };
  }
}
/** GFLOPS as a percentage of the peak of the engine and build that `r` ran in (relaxed madd for the relaxed build,
 * mul + add for the plain one) times its threads; '' for engines outside wasm. */
const ofPeak = (r, gflops) => {
  const wasm = /^(mingru|tfjs|onnxruntime-web)/.test(r.engine) && !/webgl|webgpu/.test(r.engine);
  const p = wasm && peaks[inPage(r.engine) ?? 'node']?.[r.relaxedSimd ? 'relaxed' : 'plain']?.gflops;
  return p ? ` (${((100 * gflops) / (p * r.threads)).toFixed(0)}%)` : '';
};
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
  const gflops = (r) => (2 * (prefillMacs(m.shape, 4096) / 4096) * r.prefillTokensPerSecond) / 1e9;
  const perParameter = (r) => (2 * m.parameters * r.prefillTokensPerSecond) / 1e9;
  const f32 = rows.filter((r) => r.model === m.name && r.dtype === 'f32' && (r.engine.startsWith('mingru') || r.engine === 'native'));
  md.push('', 'F32 prefill arithmetic: the flops the products perform (a prefill computes the last layer\'s output for the ' +
    `last rows alone: ${(prefillMacs(m.shape, 4096) / 4096 / m.parameters).toFixed(3)} x parameters multiply-adds a token), ` +
    'and in brackets its share of the core\'s peak in the same engine (the build\'s: relaxed madd or mul + add) times the threads; ' +
    'after the slash, 2 x parameters x tokens/s (the count of a forward that computes every row) and its share: ' +
    `${f32.map((r) => `${ENGINE_NAMES[r.engine] ?? r.engine} ${r.threads} thread(s) ${gflops(r).toFixed(1)} GFLOPS${ofPeak(r, gflops(r))} / ` +
      `${perParameter(r).toFixed(1)}${ofPeak(r, perParameter(r))}`).join('; ')}.`);
  // a step reads every weight once: from memory (not the caches) it cannot beat bandwidth / weight bytes
  const bound = (file, t) => fmt(bandwidth[t] * 1e9 / statSync(file).size);
  md.push('', `Step bound by memory reads (read bandwidth ${bandwidth[1].toFixed(1)} GB/s on 1 thread, ${bandwidth[2].toFixed(1)} on 2 / ` +
    `weight bytes, the file's size): F32 ${bound(m.f32, 1)} / ${bound(m.f32, 2)} tok/s, Q8 ${bound(m.q8, 1)} / ${bound(m.q8, 2)} tok/s ` +
    '(1 / 2 threads); weights that fit in the caches can go faster.', '');
}

md.push('## The core\'s peak', '', 'bench/peak.mjs: 12 register-resident chains of f32x4 arithmetic, 1 thread, the best of ' +
  'several timings before and after the rounds. "fused": the engine\'s relaxed madd rounds once. "answer": the known ' +
  'result, checked before and after the engine optimised the code.', '', '| engine | mul + add GFLOPS | relaxed madd GFLOPS | fused | answer |', '|---|---|---|---|---|');
for (const [place, p] of Object.entries(peaks)) {
  const g = (b) => (b?.gflops === undefined ? b?.error ?? '–' : b.gflops.toFixed(1));
  md.push(`| ${place === 'node' ? `Node ${process.version}` : BROWSER_NAMES[place]} | ${g(p.plain)} | ${g(p.relaxed)} | ` +
    `${p.relaxed?.fused === undefined ? '–' : p.relaxed.fused ? 'yes' : 'no'} | ${[p.plain, p.relaxed].every((b) => !b?.gflops || b.ok) ? 'ok' : 'WRONG'} |`);
}
md.push('');

const trainFlops = (r) => (6 * trainModel.parameters * r.trainTokensPerSecond) / 1e9;
if (trainRows.length) {
  md.push(`## Training: ${trainModel.config}, ${(trainModel.parameters / 1e6).toFixed(1)}M parameters, from its weights`, '',
    `${trainSteps} AdamW steps (lr 3e-4, betas (0.9, 0.95), weight decay 0.01, clip 1) after one untimed step, on batches of ${trainBatch} ` +
    'windows of 256 + 1 bytes of the held-out text (the same windows for every engine: bench/measure.mjs). Tokens/s = ' +
    'predicted tokens per second; GFLOPS = 6 x parameters x tokens/s, in brackets its share of the core\'s peak in the same ' +
    'engine and build times the threads. PyTorch: tools/train.py\'s train_step (the project\'s sequential scan); ' +
    'minGRU-pytorch: its own minLM (log-space scan) with torch.optim.AdamW; TensorFlow.js: bench/peers/tfjs_train.mjs ' +
    '(AdamW written out, decoupled weight decay as torch). Losses: largest relative difference from mingru ' +
    'in Node on 1 thread over every step; "ok" = within 2e-4.', '');
  md.push('| engine | threads | train tok/s | GFLOPS | mingru (same place) is | peak RSS MB | losses |', '|---|---|---|---|---|---|---|');
  for (const r of trainRows) {
    const ours = trainRows.find((x) => x.engine === (inPage(r.engine) === 'chromium' ? 'mingru-chromium' : 'mingru') && x.threads === r.threads);
    const said = r.tfjsThreads !== undefined && r.tfjsThreads !== r.threads ? ` (TF.js computes on ${r.tfjsThreads})` : '';
    md.push(`| ${ENGINE_NAMES[r.engine] ?? r.engine} | ${r.threads}${said} | ${fmt(r.trainTokensPerSecond)}${range(r.trainRange)} | ` +
      `${trainFlops(r).toFixed(1)}${ofPeak(r, trainFlops(r))} | ${ours && !r.engine.startsWith('mingru') ? ratio(ours.trainTokensPerSecond, r.trainTokensPerSecond) : ''} | ` +
      `${rss(r)} | ${r.maxLossDiff.toExponential(1)} ${r.lossesAgree ? 'ok' : 'DIFFERS'} |`);
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
// issue 39: in Chromium, 2 threads, against minGRU-pytorch's minLM on the same cores and TF.js's wasm backend
for (const [peer, times] of [['minGRU-pytorch', 1.6], ['tfjs-chromium', 10]]) {
  const w = getTrain('mingru-chromium', 2), p = getTrain(peer, 2) ?? getTrain(peer, 1);
  if (w && p) target(`training, Chromium 2 threads >= ${times}x ${ENGINE_NAMES[peer]} (${p.threads} thread(s))`, ratio(w.trainTokensPerSecond, p.trainTokensPerSecond), w.trainTokensPerSecond >= times * p.trainTokensPerSecond);
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
    // the flops performed (prefillMacs); 2 x parameters x tokens/s beside them, which counts the rows a prefill skips
    const gf = (2 * (prefillMacs(m.shape, 4096) / 4096) * f.prefillTokensPerSecond) / 1e9, pp = (2 * m.parameters * f.prefillTokensPerSecond) / 1e9;
    target(`${m.name}, Chromium: F32 prefill >= 40 GFLOPS on one core (performed)`, `${gf.toFixed(1)} GFLOPS (${pp.toFixed(1)} as 2 x parameters x tokens/s)`, gf >= 40);
    const peak = peaks.chromium?.relaxed?.gflops;
    if (peak) target(`${m.name}, Chromium: F32 prefill on one core >= 85% of the core's peak (relaxed madd, ${peak.toFixed(1)} GFLOPS), performed flops`,
      `${((100 * gf) / peak).toFixed(0)}% (${((100 * pp) / peak).toFixed(0)}% as 2 x parameters x tokens/s)`, gf >= 0.85 * peak);
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
writeFileSync(`${here}results/bench-${date}.json`, JSON.stringify({ date, machine, chromium, bandwidth, peaks, models, rows, trainRows, longRun, bpb, wasm, targets }, null, 1) + '\n');
log(`wrote bench/results/bench-${date}.md and .json`);
