#!/usr/bin/env node
// mingru in headless Chromium as one engine of npm run bench: serves the repository cross-origin isolated on
// 127.0.0.1, opens bench/browser.html with the configuration and prints the page's result as one JSON line (the
// contract of bench/mingru-engine.mjs, without peakRssBytes: a page cannot see its process's memory).
//   node bench/chromium-engine.mjs --model FILE --threads N [--prefill 4096] [--prompt 64] [--steps 256] [--runs 3]
//   node bench/chromium-engine.mjs --model FILE --threads N --train STEPS --text FILE [--batch 32] [--seq-len 256]
//   [--relaxed-simd 0] forces the plain build.
//   node bench/chromium-engine.mjs --onnx-dir DIR --model FILE --threads N [--prefill ...]: onnxruntime-web in the same
//   kind of page instead (bench/peers/ort_browser.html; the contract of bench/peers/ort_bench.mjs, without peakRssBytes).
//   node bench/chromium-engine.mjs --tfjs wasm|webgl|webgpu --model FILE --threads N --train STEPS --text FILE [...]:
//   TensorFlow.js training in the same kind of page instead (bench/peers/tfjs_browser.html; [--scan loop] [--matmul autodiff]).
//   node bench/chromium-engine.mjs --peak: the core's peak in the page's engine instead (bench/peak.html, bench/peak.mjs).
//   --browser firefox|webkit runs the same page in Firefox ESR or WebKitGTK instead (tests/helpers/browsers.mjs).
// Files must lie inside the repository (the server's root). Needs Debian's chromium (tests/helpers/chromium.mjs), or
// firefox-esr, or webkit2gtk-driver and xvfb.
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openBrowser } from '../tests/helpers/browsers.mjs';
import { serve } from '../scripts/serve.mjs';

const root = new URL('..', import.meta.url).pathname;
const { values: a } = parseArgs({
  options: {
    model: { type: 'string' }, threads: { type: 'string', default: '1' }, prefill: { type: 'string' }, prompt: { type: 'string' },
    steps: { type: 'string' }, runs: { type: 'string' }, train: { type: 'string' }, text: { type: 'string' },
    batch: { type: 'string' }, 'seq-len': { type: 'string' }, 'relaxed-simd': { type: 'string' }, 'onnx-dir': { type: 'string' },
    browser: { type: 'string', default: 'chromium' }, peak: { type: 'boolean', default: false },
    tfjs: { type: 'string' }, scan: { type: 'string' }, matmul: { type: 'string' },
  },
});
const url = (file) => {
  const path = relative(root, resolve(file));
  if (path.startsWith('..')) throw new Error(`${file} is outside the repository, which the page's server serves`);
  return `/${path}`;
};
const q = new URLSearchParams(a.peak ? {} : { model: url(a.model), threads: a.threads });
for (const [k, name] of [['prefill'], ['prompt'], ['steps'], ['runs'], ['train'], ['batch'], ['seq-len', 'seqLen'], ['relaxed-simd', 'relaxedSimd'],
  ['tfjs', 'backend'], ['scan'], ['matmul']]) {
  if (a[k] !== undefined) q.set(name ?? k, a[k]);
}
if (a.text) q.set('text', url(a.text));
if (a['onnx-dir']) q.set('onnx', url(a['onnx-dir']));
const pagePath = a.peak ? 'bench/peak.html' : a.tfjs ? 'bench/peers/tfjs_browser.html'
  : a['onnx-dir'] ? 'bench/peers/ort_browser.html' : 'bench/browser.html';

const { server, url: origin } = await serve({ port: 0 });
const browser = await openBrowser(a.browser, { timeout: 30 * 60 * 1000 });
try {
  await browser.goto(`${origin}/${pagePath}?${q}`);
  const result = await browser.evaluate(async () => {
    while (!window.result) await new Promise((ok) => setTimeout(ok, 500));
    return window.result;
  });
  if (result.error) throw new Error(`the page failed: ${result.error}`);
  console.log(JSON.stringify({ ...result, browser: browser.version }));
} finally {
  await browser.close();
  server.close();
}
