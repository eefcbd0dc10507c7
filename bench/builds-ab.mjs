#!/usr/bin/env node
// Two builds of the package measured in turn in one Node process and one headless Chromium page (this machine's
// speed drifts by a quarter between runs, so separate runs cannot tell a 10% difference): the build in --old DIR
// (a checkout or `git archive REV js dist | tar -x -C DIR`) against this tree's, or with --relaxed this tree's plain
// build against its relaxed one. A 4,096-token prefill, 256 generated tokens (in a page, generate keeps its loop
// in the worker) and 256 `step()` calls after a 64-token prompt (in a page, each call goes to the worker and
// back) and a training step of 8 x 128 tokens, each side in turn, medians; prints one JSON line per place,
// speedup = first / second. --old-plain
// runs the old build's plain (not relaxed) SIMD build.
//   node bench/builds-ab.mjs --model FILE (--old DIR [--old-plain] | --relaxed) [--threads 1] [--rounds 5]
//                            [--where node,chromium]
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({ options: { model: { type: 'string' }, old: { type: 'string' }, relaxed: { type: 'boolean' }, 'old-plain': { type: 'boolean' },
  threads: { type: 'string', default: '1' }, rounds: { type: 'string', default: '5' }, where: { type: 'string', default: 'node,chromium' } } });
if (!a.model || !a.old === !a.relaxed) {
  console.error('usage: node bench/builds-ab.mjs --model FILE (--old DIR | --relaxed) [--threads N] [--rounds N] [--where node,chromium]');
  process.exit(2);
}
const root = new URL('..', import.meta.url).pathname;

/** The measurement, the same code in Node and in the page: `apis` are the two package index.js modules. */
async function measure(apis, { model, rounds, threads, relaxed, oldPlain }) {
  const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  const lms = await Promise.all(apis.map((api, i) => api.load(model, relaxed ? { threads, relaxedSimd: i === 1 } : oldPlain && i === 0 ? { threads, relaxedSimd: false } : { threads })));
  const prompt = Array.from({ length: 4096 }, (_, i) => 32 + (i * 7) % 90);
  const cases = {
    prefill4096: (lm) => async () => { const s = lm.createState(); await lm.forward(prompt, { state: s }); s.dispose(); },
    generate256: (lm) => async () => {
      const s = lm.createState();
      for await (const _ of lm.generate('And', { state: s, maxTokens: 256, seed: 1, temperature: 1 })) { /* pieces */ }
      s.dispose();
    },
    step256: (lm) => async () => {
      const s = lm.createState();
      await lm.forward(prompt.slice(0, 64), { state: s });
      for (let i = 0; i < 256; i++) await lm.step(prompt[64 + i], { state: s });
      s.dispose();
    },
    // last: it changes the weights (a small lr)
    train8x128: (lm) => {
      const trainer = lm.trainer({ lr: 1e-5 });
      const rows = Array.from({ length: 8 * 129 }, (_, i) => prompt[i % prompt.length]);
      return () => trainer.step(rows, { batch: 8, seqLen: 128 });
    },
  };
  const out = { backend: lms.map((lm) => lm.backend) };
  for (const [name, make] of Object.entries(cases)) {
    const fs = lms.map(make);
    for (const f of fs) await f(); // warm up
    const t = [[], []];
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < 2; k++) {
        const t0 = performance.now();
        await fs[k]();
        t[k].push(performance.now() - t0);
      }
    }
    const [m0, m1] = t.map(median);
    out[name] = { firstMs: +m0.toFixed(1), secondMs: +m1.toFixed(1), speedup: +(m0 / m1).toFixed(3) };
  }
  lms.forEach((lm) => lm.dispose());
  return out;
}

// both trees (js/ and dist/) and the model in one temporary directory, which the page is served from
const work = mkdtempSync(join(tmpdir(), 'mingru-ab-'));
const trees = a.relaxed ? ['this', 'this'] : ['old', 'this'];
for (const [name, dir] of [['old', a.old], ['this', root]]) {
  if (!dir) continue;
  for (const sub of ['js', 'dist']) cpSync(join(resolve(dir), sub), join(work, name, sub), { recursive: true });
}
cpSync(resolve(a.model), join(work, 'model.safetensors'));
writeFileSync(join(work, 'index.html'), '<!doctype html><title>builds-ab</title>\n'); // a page of the origin
const options = { rounds: Number(a.rounds), threads: Number(a.threads), relaxed: !!a.relaxed, oldPlain: !!a['old-plain'] };
const label = a.relaxed ? 'first: plain build, second: relaxed' : `first: ${a.old}${a['old-plain'] ? ' (plain)' : ''}, second: this tree`;
try {
  if (a.where.includes('node')) {
    const apis = [];
    for (const t of trees) apis.push(await import(join(work, t, 'js', 'index.js')));
    const result = await measure(apis, { ...options, model: new Uint8Array(readFileSync(join(work, 'model.safetensors'))) });
    console.log(JSON.stringify({ where: 'node', node: process.version, label, ...result }));
  }
  if (a.where.includes('chromium')) {
    const { launch } = await import('../tests/helpers/chromium.mjs');
    const { serve } = await import('../scripts/serve.mjs');
    const { server, url } = await serve({ port: 0, root: work });
    const browser = await launch();
    try {
      const page = await browser.newPage();
      await page.goto(`${url}/index.html`);
      const result = await page.evaluate(async ([src, trees, opts]) => {
        const measureIn = new Function(`return ${src}`)();
        const apis = [];
        for (const t of trees) apis.push(await import(`/${t}/js/index.js`));
        return { crossOriginIsolated, ...await measureIn(apis, opts) };
      }, [measure.toString(), trees, { ...options, model: '/model.safetensors' }]);
      console.log(JSON.stringify({ where: 'chromium', browser: browser.version(), label, ...result }));
    } finally {
      await browser.close();
      server.close();
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
