#!/usr/bin/env node
// Where the time goes in a page: the package (js/ and dist/ of DIR, default this tree) in a cross-origin-isolated
// headless Chromium page, a model's generate, prefill or step in a loop, and V8's sampling profiler attached to every
// worker (the package's worker and its pool's threads), printing each one's heaviest functions by self time. The
// wasm functions have names only in a build linked with --profiling-funcs, e.g.
//   emcmake cmake -S . -B /tmp/bprof -DCMAKE_BUILD_TYPE=Release -DMINGRU_RELAXED=ON -DMINGRU_DIST_DIR=/tmp/pdist \
//     -DCMAKE_EXE_LINKER_FLAGS=--profiling-funcs && cmake --build /tmp/bprof --target mingru-relaxed
//   (with NODE_PATH=/usr/share/nodejs and scripts/binaryen first on PATH, as scripts/build.mjs sets them), then copy
//   /tmp/pdist/mingru-relaxed.* over a copy of dist/ and pass that copy's parent as --dir.
//   node bench/profile-page.mjs --model FILE [--dir DIR] [--what generate|prefill|step|train] [--threads 1]
//                               [--relaxed-simd 1] [--seconds 10] [--top 25]
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { launch } from '../tests/helpers/chromium.mjs';
import { serve } from '../scripts/serve.mjs';

const { values: a } = parseArgs({ options: { model: { type: 'string' }, dir: { type: 'string' }, what: { type: 'string', default: 'generate' },
  threads: { type: 'string', default: '1' }, 'relaxed-simd': { type: 'string', default: '1' }, seconds: { type: 'string', default: '10' },
  top: { type: 'string', default: '25' } } });
if (!a.model || !['generate', 'prefill', 'step', 'train'].includes(a.what)) {
  console.error('usage: node bench/profile-page.mjs --model FILE [--dir DIR] [--what generate|prefill|step|train] [--threads N] [--seconds S]');
  process.exit(2);
}

/** The loop, run in the page: `api` is the package's index.js. */
async function loop(api, { model, what, threads, relaxedSimd, seconds }) {
  const lm = await api.load(model, { threads, relaxedSimd });
  const prompt = Array.from({ length: 4096 }, (_, i) => 32 + (i * 7) % 90);
  const once = {
    generate: async (s) => { for await (const _ of lm.generate('And', { state: s, maxTokens: 256, seed: 1, temperature: 1 })) { /* pieces */ } },
    prefill: async (s) => { await lm.forward(prompt, { state: s }); },
    step: async (s) => { for (let i = 0; i < 256; i++) await lm.step(prompt[i], { state: s }); },
    train: (() => { // a training step of 8 x 128 tokens (as bench/builds-ab.mjs's train8x128); s is not used
      let trainer;
      const rows = Array.from({ length: 8 * 129 }, (_, i) => prompt[i % prompt.length]);
      return async () => { trainer ??= lm.trainer({ lr: 1e-5 }); await trainer.step(rows, { batch: 8, seqLen: 128 }); };
    })(),
  }[what];
  await once(lm.createState()); // warm up, before the profiler starts
  await new Promise((ok) => { globalThis.startProfile = ok; });
  let runs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    const s = lm.createState();
    await once(s);
    s.dispose();
    runs++;
  }
  return { backend: lm.backend, runs, msPerRun: (performance.now() - t0) / runs };
}

const work = mkdtempSync(join(tmpdir(), 'mingru-profile-'));
for (const sub of ['js', 'dist']) cpSync(join(resolve(a.dir ?? new URL('..', import.meta.url).pathname), sub), join(work, sub), { recursive: true });
cpSync(resolve(a.model), join(work, 'model.safetensors'));
writeFileSync(join(work, 'index.html'), '<!doctype html><title>profile</title>\n');
const { server, url } = await serve({ port: 0, root: work });
const browser = await launch();
try {
  const page = await browser.newPage();
  await page.goto(`${url}/index.html`);
  const done = page.evaluate(async ([src, opts]) => {
    const api = await import('/js/index.js');
    return new Function(`return ${src}`)()(api, opts);
  }, [loop.toString(), { model: '/model.safetensors', what: a.what, threads: Number(a.threads), relaxedSimd: a['relaxed-simd'] !== '0', seconds: Number(a.seconds) }]);
  await page.waitForFunction(() => typeof globalThis.startProfile === 'function');
  // every worker target, through the browser's CDP session (a page's session does not see dedicated workers' threads)
  const cdp = await browser.newBrowserCDPSession();
  const { targetInfos } = await cdp.send('Target.getTargets');
  const workers = targetInfos.filter((t) => t.type === 'worker');
  let seq = 0;
  const pending = new Map();
  cdp.on('Target.receivedMessageFromTarget', ({ message }) => {
    const m = JSON.parse(message);
    if (pending.has(m.id)) { pending.get(m.id)(m.result ?? m.error); pending.delete(m.id); }
  });
  const send = async (sessionId, method, params = {}) => {
    const id = ++seq;
    const reply = new Promise((ok) => pending.set(id, ok));
    await cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) });
    return reply;
  };
  const sessions = [];
  for (const w of workers) {
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: w.targetId, flatten: false });
    await send(sessionId, 'Profiler.enable');
    await send(sessionId, 'Profiler.setSamplingInterval', { interval: 200 });
    await send(sessionId, 'Profiler.start');
    sessions.push([w, sessionId]);
  }
  await page.evaluate(() => globalThis.startProfile());
  const result = await done;
  console.log(JSON.stringify({ what: a.what, ...result }));
  for (const [w, sessionId] of sessions) {
    const { profile } = await send(sessionId, 'Profiler.stop');
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map();
    for (const id of profile.samples) {
      const name = byId.get(id).callFrame.functionName || '(anonymous)';
      self.set(name, (self.get(name) ?? 0) + 1);
    }
    const busy = profile.samples.filter((id) => !['(idle)', '(program)', '(garbage collector)'].includes(byId.get(id).callFrame.functionName)).length;
    if (busy < profile.samples.length * 0.02) continue; // a thread that slept throughout
    console.log(`\n${w.url.split('/').pop()}: ${profile.samples.length} samples, ${(100 * busy / profile.samples.length).toFixed(1)}% busy`);
    for (const [name, n] of [...self].sort((x, y) => y[1] - x[1]).slice(0, Number(a.top))) {
      console.log(`${(100 * n / profile.samples.length).toFixed(1).padStart(6)}%  ${name}`);
    }
  }
} finally {
  await browser.close();
  server.close();
  rmSync(work, { recursive: true, force: true });
}
