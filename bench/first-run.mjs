#!/usr/bin/env node
// The first call after load() against the same call later, in Node and in isolated headless Chromium and Firefox
// pages, through the package as users run it (in a page, its worker): each round is a fresh process or browser (a
// page of a browser that has already run the build would find its code tiered up), which loads the model (the load's
// time), generates 256 tokens from a 12-byte prompt (time to the first piece, and tokens/s: the first run), then
// generates them 3 times more (the warm rate: their median). With --prefill, the same for a 4,096-token forward of
// --prefill's model in fresh rounds of its own. --warm on,off runs each round with load()'s warm-up and without, in
// turn (this machine's speed drifts). A fresh browser spends its first seconds on its own start-up work: on 2 cores
// that took a core from the page's first calls and its next ones alike (the demo's generate rose from 4,500 to
// 6,200 tokens/s over its first ten runs, 2026-12-07), so a page first waits --settle ms (3,000) before load(), as a
// page a user opens in a running browser would. Prints one JSON line per engine and setting with every round's
// figures and the medians.
//   node bench/first-run.mjs [--model models/kjv.q8.safetensors] [--prefill models/kjv.safetensors] [--rounds 3]
//                            [--warm on,off] [--where node,chromium,firefox] [--settle 3000]
import { execFileSync } from 'node:child_process';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({ options: {
  model: { type: 'string', default: 'models/kjv.q8.safetensors' }, prefill: { type: 'string' }, rounds: { type: 'string', default: '3' },
  warm: { type: 'string', default: 'on,off' }, where: { type: 'string', default: 'node,chromium,firefox' }, child: { type: 'string' },
  settle: { type: 'string', default: '3000' },
} });
const root = new URL('..', import.meta.url).pathname;

/** One fresh round, the same code in Node and in the page: `api` is the package's index.js. kind 'generate' or
 * 'prefill'. */
async function round(api, { model, kind, warm, settle = 0 }) {
  const now = () => performance.now();
  await new Promise((resolve) => setTimeout(resolve, settle));
  const t0 = now();
  const lm = await api.load(model, warm ? {} : { warm: false });
  const loadMs = now() - t0;
  const prompt = Int32Array.from({ length: 4096 }, (_, i) => 32 + (i * 7) % 90);
  const run = async () => {
    const t = now();
    let first = null;
    if (kind === 'prefill') {
      await lm.forward(prompt);
    } else {
      for await (const _ of lm.generate('And God said', { maxTokens: 256, seed: 1, temperature: 1 })) first ??= now() - t;
    }
    return { ms: now() - t, firstMs: first };
  };
  const firstRun = await run();
  const later = [await run(), await run(), await run()].map((r) => r.ms).sort((x, y) => x - y);
  const n = kind === 'prefill' ? 4096 : 256;
  const out = { loadMs: +loadMs.toFixed(1), backend: lm.backend, firstRate: Math.round(n / firstRun.ms * 1000),
    warmRate: Math.round(n / later[1] * 1000) };
  if (kind === 'generate') out.firstPieceMs = +firstRun.firstMs.toFixed(1);
  out.firstOverWarm = +(out.firstRate / out.warmRate).toFixed(3);
  lm.dispose();
  return out;
}

// A Node round runs in a child process of its own (a fresh engine); it prints its result as JSON.
if (a.child) {
  const api = await import('../js/index.js');
  console.log(JSON.stringify(await round(api, JSON.parse(a.child))));
  process.exit(0);
}

const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
const cases = [['generate', a.model], ...(a.prefill ? [['prefill', a.prefill]] : [])];
const engines = a.where.split(',');
let server, origin;
if (engines.some((e) => e !== 'node')) {
  const { serve } = await import('../scripts/serve.mjs');
  const blank = (req, res, headers) => req.url === '/blank.html' && !!res.writeHead(200, { ...headers, 'Content-Type': 'text/html' })
    .end('<!doctype html><title>first run</title>');
  ({ server, url: origin } = await serve({ port: 0, route: blank }));
}
/** One fresh round in `engine`: a child process (Node) or a browser of its own. */
async function fresh(engine, spec) {
  if (engine === 'node') {
    const out = execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--child', JSON.stringify({ ...spec, model: resolve(spec.model) })], { encoding: 'utf8' });
    return { version: process.version, result: JSON.parse(out) };
  }
  const { openBrowser } = await import('../tests/helpers/browsers.mjs');
  const b = await openBrowser(engine);
  try {
    await b.goto(`${origin}/blank.html`);
    const result = await b.evaluate(async (src, opts) => {
      if (!crossOriginIsolated) throw new Error('the page is not cross-origin isolated');
      return new Function(`return ${src}`)()(await import('/js/index.js'), opts);
    }, round.toString(), { ...spec, model: `/${relative(root, resolve(spec.model))}`, settle: Number(a.settle) });
    return { version: b.version, result };
  } finally {
    await b.close();
  }
}

try {
  for (const [kind, model] of cases) {
    for (const engine of engines) {
      // the settings in turn, round after round (this machine's speed drifts), the order swapped every round
      const settings = a.warm.split(',').map((w) => w === 'on');
      const rounds = new Map(settings.map((w) => [w, []]));
      let version;
      for (let r = 0; r < Number(a.rounds); r++) {
        for (const warm of r % 2 ? [...settings].reverse() : settings) {
          const f = await fresh(engine, { model, kind, warm });
          version = f.version;
          rounds.get(warm).push(f.result);
        }
      }
      for (const [warm, rs] of rounds) {
        const pick = (k) => (rs[0][k] === undefined ? undefined : median(rs.map((x) => x[k])));
        console.log(JSON.stringify({ engine, version, kind, model, warm, backend: rs[0].backend,
          median: Object.fromEntries(['loadMs', 'firstPieceMs', 'firstRate', 'warmRate', 'firstOverWarm'].map((k) => [k, pick(k)]).filter(([, v]) => v !== undefined)),
          rounds: rs.map(({ backend, ...rest }) => ({ ...rest, stepThreads: backend.stepThreads, warmMs: backend.warm?.ms })) }));
      }
    }
  }
} finally {
  server?.close();
}
