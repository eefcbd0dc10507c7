// onnxruntime-web peer of `npm run bench`: times the graphs of bench/peers/export_onnx.py in Node (wasm backend)
// and prints ONE JSON line on stdout (progress on stderr).
//
//   node bench/peers/ort_bench.mjs --onnx-dir DIR --model FILE.safetensors --threads N \
//       [--prefill 4096] [--prompt 64] [--steps 256] [--runs 3]
//
// Prefill: DIR/full.onnx on [1, prefill] tokens. Step: DIR/step.onnx from a zero state, run over the prompt one token
// at a time (untimed), then `steps` teacher-forced steps (timed), each feeding the state outputs back as inputs.
// The model file gives only num_tokens (and the state sizes); the weights are in the ONNX graphs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-web';

const log = (...a) => console.error(...a);

function parseArgs(argv) {
  const opts = { prefill: 4096, prompt: 64, steps: 256, runs: 3 };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    const value = argv[++i];
    if (value === undefined) throw new Error(`${argv[i - 1]} needs a value`);
    if (key === 'onnx-dir') opts.onnxDir = value;
    else if (key === 'model') opts.model = value;
    else if (['threads', 'prefill', 'prompt', 'steps', 'runs'].includes(key)) {
      opts[key] = Number(value);
      if (!Number.isInteger(opts[key]) || opts[key] < 1) throw new Error(`--${key} must be a positive integer`);
    } else throw new Error(`unknown option ${argv[i - 1]}`);
  }
  if (!opts.onnxDir || !opts.model || !opts.threads) {
    throw new Error('usage: ort_bench.mjs --onnx-dir DIR --model FILE.safetensors --threads N [--prefill 4096] [--prompt 64] [--steps 256] [--runs 3]');
  }
  return opts;
}

/** The __metadata__ of a safetensors file (docs/format.md). */
function readMetadata(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const len = Buffer.alloc(8);
    fs.readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    if (n > fs.fstatSync(fd).size - 8) throw new Error(`${file}: header length beyond the file`);
    const header = Buffer.alloc(n);
    fs.readSync(fd, header, 0, n, 8);
    return JSON.parse(header.toString('utf8')).__metadata__ ?? {};
  } finally {
    fs.closeSync(fd);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function ortVersion() {
  const pkg = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'onnxruntime-web', 'package.json');
  try {
    return JSON.parse(fs.readFileSync(pkg, 'utf8')).version;
  } catch {
    return ort.env.versions?.web ?? 'unknown';
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const meta = readMetadata(opts.model);
  const nt = Number(meta.num_tokens), dim = Number(meta.dim), depth = Number(meta.depth);
  const k = Number(meta.conv_kernel_size), dimInner = Math.floor(dim * Number(meta.expansion_factor));
  if (![nt, dim, depth, k, dimInner].every(Number.isInteger)) throw new Error(`${opts.model}: bad metadata`);
  const n = Math.max(opts.prefill, opts.prompt + opts.steps);
  const tokens = BigInt64Array.from({ length: n }, (_, i) => BigInt((i * 7919) % nt));

  ort.env.wasm.numThreads = opts.threads;
  ort.env.wasm.simd = true;
  const sessionOptions = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
  const full = await ort.InferenceSession.create(fs.readFileSync(path.join(opts.onnxDir, 'full.onnx')), sessionOptions);
  const step = await ort.InferenceSession.create(fs.readFileSync(path.join(opts.onnxDir, 'step.onnx')), sessionOptions);
  const conv = step.inputNames.includes('conv');
  if (conv !== k > 0) throw new Error(`${opts.onnxDir}/step.onnx does not match ${opts.model} (conv_kernel_size ${k})`);

  const runFull = async (len) => {
    const out = await full.run({ tokens: new ort.Tensor('int64', tokens.subarray(0, len), [1, len]) });
    return out.logits;
  };
  // check + warm-up: the full graph over the prompt, then a short sequence
  const promptLogitsFull = (await runFull(opts.prompt)).data.slice((opts.prompt - 1) * nt, opts.prompt * nt);
  await runFull(Math.min(64, opts.prefill));

  const prefillTps = [];
  for (let r = 0; r < opts.runs; r++) {
    const t0 = performance.now();
    await runFull(opts.prefill);
    const dt = (performance.now() - t0) / 1000;
    prefillTps.push(opts.prefill / dt);
    log(`ort prefill run ${r + 1}/${opts.runs}: ${opts.prefill} tokens in ${dt.toFixed(3)} s`);
  }

  // the step graph; state = { hidden, conv? } as ORT tensors, fed back from the outputs
  const zeroState = () => {
    const s = { hidden: new ort.Tensor('float32', new Float32Array(depth * dimInner), [depth, 1, dimInner]) };
    if (conv) s.conv = new ort.Tensor('float32', new Float32Array(depth * (k - 1) * dim), [depth, 1, k - 1, dim]);
    return s;
  };
  const runStep = async (i, state) => {
    const out = await step.run({ token: new ort.Tensor('int64', tokens.subarray(i, i + 1), [1]), ...state });
    const next = { hidden: out.hidden_out };
    if (conv) next.conv = out.conv_out;
    return { logits: out.logits, state: next };
  };
  let state = zeroState(), logits;
  for (let i = 0; i < opts.prompt; i++) ({ logits, state } = await runStep(i, state));
  const promptState = state;
  let seqVsFull = 0;
  for (let j = 0; j < nt; j++) seqVsFull = Math.max(seqVsFull, Math.abs(logits.data[j] - promptLogitsFull[j]));
  for (let i = 0, s = promptState; i < Math.min(8, opts.steps); i++) s = (await runStep(opts.prompt + i, s)).state;

  const stepTps = [];
  for (let r = 0; r < opts.runs; r++) {
    state = promptState;
    const t0 = performance.now();
    for (let i = 0; i < opts.steps; i++) ({ logits, state } = await runStep(opts.prompt + i, state));
    const dt = (performance.now() - t0) / 1000;
    stepTps.push(opts.steps / dt);
    log(`ort step run ${r + 1}/${opts.runs}: ${opts.steps} steps in ${dt.toFixed(3)} s`);
  }

  const result = {
    engine: 'onnxruntime-web',
    version: ortVersion(),
    threads: opts.threads,
    prefillTokensPerSecond: median(prefillTps),
    stepTokensPerSecond: median(stepTps),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    check: { promptLogits: Array.from(promptLogitsFull), stepLogits: Array.from(logits.data) },
    notes: `onnxruntime-web wasm backend in Node ${process.version}, SIMD, numThreads ${opts.threads}, F32 graphs from `
      + 'bench/peers/export_onnx.py (torch.onnx opset 17). Prefill: full.onnx, whose scan is an ONNX Loop over time '
      + '(torch 1.13 cannot export logcumsumexp). Step: step.onnx with the state (hidden'
      + (conv ? ', conv window' : '') + ') fed back as inputs; the prompt state comes from step.onnx run over the '
      + `prompt one token at a time (untimed); promptLogits from full.onnx (step-loop logits differ by ${seqVsFull.toExponential(2)}). `
      + `Median of ${opts.runs} runs.`,
  };
  console.log(JSON.stringify(result));
}

main().then(() => process.exit(0), (e) => {
  console.error(`ort_bench: ${e?.message ?? e}`);
  process.exit(1);
});
