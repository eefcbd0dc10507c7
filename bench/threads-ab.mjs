#!/usr/bin/env node
// 1 thread against 2, measured in turn in one Node process and in one headless Chromium page (this machine's
// speed drifts by a quarter between runs, so separate runs cannot tell a 10% difference): a MinGRU layer's forward
// (issue 15's 1 x 4096 x 512, expansion 1.5) and, with --model, that model's prefill, step and generate. Prints one JSON line
// per place with the medians (ms) and the ratio 1 thread / 2 threads (above 1: 2 threads are faster).
//   node bench/threads-ab.mjs [--rounds 11] [--model FILE] [--where node,chromium]
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({ options: { rounds: { type: 'string', default: '11' }, model: { type: 'string' }, where: { type: 'string', default: 'node,chromium' } } });
const root = new URL('..', import.meta.url).pathname;

/** The measurement, the same code in Node and in the page: `api` is the package's index.js. */
async function measure(api, { rounds, model }) {
  const now = () => performance.now();
  const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  const T = 4096, D = 512;
  const x = new Float32Array(T * D).map((_, i) => Math.sin(i * 0.37) * 0.5);
  const cases = {};
  const layers = await Promise.all([1, 2].map((threads) => api.MinGRU.create({ dim: D, expansionFactor: 1.5, seed: 1, threads })));
  cases.layerForward = layers.map((layer) => async () => { await layer.forward(x, { seqLen: T }); });
  let lms = [];
  if (model) {
    lms = await Promise.all([1, 2].map((threads) => api.load(model, { threads })));
    const prompt = Array.from({ length: 4096 }, (_, i) => 32 + (i * 7) % 90);
    cases.prefill4096 = lms.map((lm) => async () => { const s = lm.createState(); await lm.forward(prompt, { state: s }); s.dispose(); });
    cases.step256 = lms.map((lm) => async () => {
      const s = lm.createState();
      for (let i = 0; i < 256; i++) await lm.step(32 + (i * 7) % 90, { state: s });
      s.dispose();
    });
    // generate keeps its loop in the page's worker: the step as a page user runs it
    cases.generate256 = lms.map((lm) => async () => {
      const s = lm.createState();
      for await (const _ of lm.generate('And', { state: s, maxTokens: 256, seed: 1, temperature: 1 })) { /* pieces */ }
      s.dispose();
    });
  }
  const out = { backend: [layers[0].backend, layers[1].backend] };
  for (const [name, [one, two]] of Object.entries(cases)) {
    await one(), await two(); // warm up
    const t = [[], []];
    for (let r = 0; r < rounds; r++) {
      for (const [k, f] of [[0, one], [1, two]]) {
        const t0 = now();
        await f();
        t[k].push(now() - t0);
      }
    }
    const [m1, m2] = t.map(median);
    out[name] = { oneThreadMs: +m1.toFixed(2), twoThreadsMs: +m2.toFixed(2), ratio: +(m1 / m2).toFixed(3) };
  }
  layers.forEach((l) => l.dispose());
  lms.forEach((lm) => lm.dispose());
  return out;
}

const options = { rounds: Number(a.rounds), model: a.model };
const where = a.where.split(',');
if (where.includes('node')) {
  const api = await import('../js/index.js');
  const { readFileSync } = await import('node:fs');
  const result = await measure(api, { ...options, model: a.model && new Uint8Array(readFileSync(a.model)) });
  console.log(JSON.stringify({ where: 'node', node: process.version, ...result }));
}
if (where.includes('chromium')) {
  const { launch } = await import('../tests/helpers/chromium.mjs');
  const { serve } = await import('../scripts/serve.mjs');
  const { server, url: origin } = await serve({ port: 0 });
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/bench/browser.html?model=none`); // only for its origin: the page's own run fails and is ignored
    const model = a.model && `/${relative(root, resolve(a.model))}`;
    const result = await page.evaluate(async ([src, opts]) => {
      const measureIn = new Function(`return ${src}`)();
      return { crossOriginIsolated, ...await measureIn(await import('/js/index.js'), opts) };
    }, [measure.toString(), { ...options, model }]);
    console.log(JSON.stringify({ where: 'chromium', browser: browser.version(), ...result }));
  } finally {
    await browser.close();
    server.close();
  }
}
