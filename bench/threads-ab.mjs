#!/usr/bin/env node
// One thread against threads: 'auto' (what load() gives by default: the pool's threads, each call type where the
// warm-up's measurement put it), measured in turn in one Node process and in one isolated headless page per engine
// (this machine's speed drifts by a quarter between runs, so separate runs cannot tell a 10% difference), for every
// call type of a model: a 4,096-token prefill (Q8 and, with --f32, F32), 256 generated tokens, 256 `step()` calls,
// evaluate() over 1,024 tokens, a training step of 8 x 128 tokens, compress() of 256 bytes (its steps and the top's
// learning); and a MinGRU layer's forward (issue 15's 1 x 4096 x 512, expansion 1.5). --cold loads the threaded side
// with warm: false (its steps on the pool, unmeasured: the package before issue 40). Prints one JSON line per place
// with both sides' backends, the medians (ms) and the ratio 1 thread / auto (above 1: auto is faster).
//   node bench/threads-ab.mjs [--rounds 5] [--model models/kjv.q8.safetensors] [--f32 models/kjv.safetensors] [--cold]
//                             [--where node,chromium,firefox]
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, model: { type: 'string', default: 'models/kjv.q8.safetensors' },
  f32: { type: 'string', default: 'models/kjv.safetensors' }, cold: { type: 'boolean' }, where: { type: 'string', default: 'node,chromium,firefox' } } });
const root = new URL('..', import.meta.url).pathname;

/** The measurement, the same code in Node and in the page: `api` is the package's index.js. */
async function measure(api, { rounds, model, f32, cold }) {
  const now = () => performance.now();
  const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  const sides = [{ threads: 1 }, cold ? { warm: false } : {}];
  const T = 4096, D = 512;
  const x = new Float32Array(T * D).map((_, i) => Math.sin(i * 0.37) * 0.5);
  const prompt = Array.from({ length: 4096 }, (_, i) => 32 + (i * 7) % 90);
  const text = new TextEncoder().encode('And God said, Let there be light: and there was light. '.repeat(5)).subarray(0, 256);
  const models = { q8: await Promise.all(sides.map((o) => api.load(model, o))) };
  if (f32) models.f32 = await Promise.all(sides.map((o) => api.load(f32, o)));
  const layers = await Promise.all(sides.map((o) => api.MinGRU.create({ dim: D, expansionFactor: 1.5, seed: 1, threads: o.threads })));
  const cases = {};
  for (const [dtype, lms] of Object.entries(models)) {
    cases[`${dtype} prefill 4096`] = lms.map((lm) => async () => { await lm.forward(prompt); });
    cases[`${dtype} generate 256`] = lms.map((lm) => async () => {
      for await (const _ of lm.generate('And', { maxTokens: 256, seed: 1, temperature: 1 })) { /* pieces */ }
    });
    cases[`${dtype} step() 256`] = lms.map((lm) => async () => {
      const s = lm.createState();
      for (let i = 0; i < 256; i++) await lm.step(prompt[i], { state: s });
      s.dispose();
    });
    cases[`${dtype} evaluate 1024`] = lms.map((lm) => async () => { await lm.evaluate(prompt.slice(0, 1024)); });
    cases[`${dtype} compress 256`] = lms.map((lm) => async () => { await lm.compress(text); });
  }
  cases['layer forward'] = layers.map((layer) => async () => { await layer.forward(x, { seqLen: T }); });
  // last: it changes the weights (a small lr)
  cases['train 8x128'] = models[f32 ? 'f32' : 'q8'].map((lm) => {
    const trainer = lm.trainer({ lr: 1e-6 });
    const rows = Array.from({ length: 8 * 129 }, (_, i) => prompt[i % prompt.length]);
    return () => trainer.step(rows, { batch: 8, seqLen: 128 });
  });
  const out = { backend: Object.fromEntries(Object.entries(models).map(([k, lms]) => [k, lms.map((lm) => lm.backend)])) };
  for (const [name, [one, auto]] of Object.entries(cases)) {
    await one(), await auto(); // warm up
    const t = [[], []];
    for (let r = 0; r < rounds; r++) {
      for (const k of r % 2 ? [1, 0] : [0, 1]) {
        const t0 = now();
        await [one, auto][k]();
        t[k].push(now() - t0);
      }
    }
    const [m1, m2] = t.map(median);
    out[name] = { oneThreadMs: +m1.toFixed(2), autoMs: +m2.toFixed(2), ratio: +(m1 / m2).toFixed(3) };
  }
  layers.forEach((l) => l.dispose());
  Object.values(models).flat().forEach((lm) => lm.dispose());
  return out;
}

const options = { rounds: Number(a.rounds), cold: !!a.cold };
for (const where of a.where.split(',')) {
  if (where === 'node') {
    const api = await import('../js/index.js');
    const result = await measure(api, { ...options, model: resolve(a.model), f32: a.f32 && resolve(a.f32) });
    console.log(JSON.stringify({ where: 'node', version: process.version, ...result }));
    continue;
  }
  const { openBrowser } = await import('../tests/helpers/browsers.mjs');
  const { serve } = await import('../scripts/serve.mjs');
  const blank = (req, res, headers) => req.url === '/blank.html' && !!res.writeHead(200, { ...headers, 'Content-Type': 'text/html' })
    .end('<!doctype html><title>threads</title>');
  const { server, url: origin } = await serve({ port: 0, route: blank });
  const b = await openBrowser(where, { timeout: 600000 });
  try {
    await b.goto(`${origin}/blank.html`);
    const page = (p) => p && `/${relative(root, resolve(p))}`;
    const result = await b.evaluate(async (src, opts) => {
      if (!crossOriginIsolated) throw new Error('the page is not cross-origin isolated');
      return new Function(`return ${src}`)()(await import('/js/index.js'), opts);
    }, measure.toString(), { ...options, model: page(a.model), f32: page(a.f32) });
    console.log(JSON.stringify({ where, version: b.version, ...result }));
  } finally {
    await b.close();
    server.close();
  }
}
