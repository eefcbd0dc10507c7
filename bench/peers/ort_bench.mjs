// onnxruntime-web peer of `npm run bench`: times the graphs of bench/peers/export_onnx.py in Node (wasm backend)
// and prints ONE JSON line on stdout (progress on stderr).
//
//   node bench/peers/ort_bench.mjs --onnx-dir DIR --model FILE.safetensors --threads N \
//       [--prefill 4096] [--prompt 64] [--steps 256] [--runs 3]
//
// What is measured, and how: bench/peers/ort_measure.mjs (the page runs the same code in Chromium). The model file
// gives only num_tokens (and the state sizes); the weights are in the ONNX graphs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';
import { ortBench, ortNotes, safetensorsMetadata } from './ort_measure.mjs';

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
  const head = Buffer.alloc(1 << 20);
  const fd = fs.openSync(opts.model, 'r');
  const got = fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  const meta = safetensorsMetadata(head.subarray(0, got), opts.model);
  const r = await ortBench(ort, {
    full: fs.readFileSync(path.join(opts.onnxDir, 'full.onnx')), step: fs.readFileSync(path.join(opts.onnxDir, 'step.onnx')),
    meta, file: opts.model, threads: opts.threads, prefill: opts.prefill, prompt: opts.prompt, steps: opts.steps, runs: opts.runs, log,
  });
  console.log(JSON.stringify({
    engine: 'onnxruntime-web', version: ortVersion(), threads: opts.threads,
    prefillTokensPerSecond: r.prefillTokensPerSecond, stepTokensPerSecond: r.stepTokensPerSecond,
    peakRssBytes: process.resourceUsage().maxRSS * 1024, check: r.check,
    notes: ortNotes({ where: `Node ${process.version}`, threads: opts.threads, conv: Number(meta.conv_kernel_size) > 0, seqVsFull: r.seqVsFull, runs: opts.runs }),
  }));
}

main().then(() => process.exit(0), (e) => {
  console.error(`ort_bench: ${e?.message ?? e}`);
  process.exit(1);
});
