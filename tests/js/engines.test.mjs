// The package in Firefox (firefox-esr through WebDriver BiDi) and WebKit (WebKitGTK's MiniBrowser through
// WebKitWebDriver), from pages served on 127.0.0.1 with COOP/COEP (isolated: the threaded build) and without
// (plain: the single-thread build, and where an engine lacks SharedArrayBuffer, as WebKitGTK 2.50 does on an isolated
// page, the documented fallback: one thread, steps by postMessage, backend.fallbacks saying why); Chromium has
// tests/js/browser.test.mjs. In each engine and page:
//   - tests/browser/engine.html, the API through the worker, as in Chromium;
//   - the demo model: greedy F32 text, seeded Q8 text and evaluate()'s bits on a fixed text, from the plain-SIMD
//     builds (relaxedSimd: false), equal to Node's at the same thread count (Node computes them here);
//   - the build load() picks by default (relaxed SIMD where the engine has it): F32 bits within 1e-6 of the
//     plain build's, Q8 bits within 0.5% of F32's, and Q8 bits and seeded text the same as the plain build's (one
//     int8 arithmetic in every build).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { load } from '../../js/index.js';
import { serve } from '../../scripts/serve.mjs';
import { available, openBrowser } from '../helpers/browsers.mjs';
import { closeRatio } from '../helpers/golden.mjs';
import { lmCases } from '../helpers/lm-fixtures.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const PROMPT = 'And God said';
const TEXT = 'In the beginning God created the heaven and the earth. And the earth was without form, and void; and ' +
  'darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters.';
// [name, model, load options, generate options]; the default build last
const RUNS = [
  ['f32', 'kjv.safetensors', { relaxedSimd: false }, { temperature: 0 }],
  ['q8', 'kjv.q8.safetensors', { relaxedSimd: false }, { seed: 1 }],
  ['f32Default', 'kjv.safetensors', {}, { temperature: 0 }],
  ['q8Default', 'kjv.q8.safetensors', {}, { seed: 1 }],
];

/** Runs in the page (and in Node): each of RUNS' loads, 60 tokens after PROMPT, the bits of TEXT. It stops at the
 * first error: in WebKit a load() after a failed one never answers. */
async function demo(origin, prompt, text, runs) {
  const { load } = await import(`${origin}/js/index.js`);
  const out = {};
  for (const [name, file, options, generate] of runs) {
    try {
      const lm = await load(`${origin}/models/${file}`, options);
      let t = '';
      for await (const piece of lm.generate(prompt, { maxTokens: 60, ...generate })) t += piece;
      out[name] = { backend: lm.backend, text: t, bits: (await lm.evaluate(text)).bits };
      lm.dispose();
    } catch (e) {
      out[name] = { error: `${e.code ?? ''} ${e.message}` };
      break;
    }
  }
  return out;
}

/** Node's answers with the plain build at `threads` threads (evaluate's bits depend on the thread count). */
const nodeRuns = new Map();
async function nodeReference(threads) {
  if (!nodeRuns.has(threads)) {
    const out = {};
    for (const [name, file, options, generate] of RUNS.slice(0, 2)) {
      const lm = await load(`${root}models/${file}`, { ...options, threads });
      let t = '';
      for await (const piece of lm.generate(PROMPT, { maxTokens: 60, ...generate })) t += piece;
      out[name] = { backend: lm.backend, text: t, bits: (await lm.evaluate(TEXT)).bits };
      lm.dispose();
    }
    nodeRuns.set(threads, out);
  }
  return nodeRuns.get(threads);
}

/** Runs in the page: files made elsewhere read here, and files made here for Node to read. `packed` (base64) is a file
 * Node compressed, `saved` (base64) a state Node saved after PROMPT; returns what they give here, and a file this page
 * compressed `text` into. */
async function crossEngine(origin, packed, saved, text) {
  const { load } = await import(`${origin}/js/index.js`);
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const base64 = (u8) => btoa(Array.from(u8, (b) => String.fromCharCode(b)).join(''));
  const lm = await load(`${origin}/models/kjv.q8.safetensors`);
  const out = { threads: lm.backend.threads };
  try {
    out.decompressed = new TextDecoder().decode(await lm.decompress(bytes(packed)));
    out.packed = base64(await lm.compress(new TextEncoder().encode(text)));
    const state = lm.loadState(bytes(saved));
    out.logits = Array.from(await lm.step(32, { state }));
    out.tokens = state.tokens;
  } catch (e) {
    out.error = `${e.code ?? ''} ${e.message}`;
  }
  lm.dispose();
  return out;
}

/** Node's side of crossEngine at `threads` threads: its file of CROSS_TEXT, its state after PROMPT, and its logits
 * after that state's next step. */
const CROSS_TEXT = 'And it came to pass, when men began to multiply on the face of the earth, and daughters were born unto them, ' +
  'that the sons of God saw the daughters of men that they were fair; and they took them wives of all which they chose.\n';
const nodeCross = new Map();
async function nodeCrossReference(threads) {
  if (!nodeCross.has(threads)) {
    const lm = await load(`${root}models/kjv.q8.safetensors`, { threads });
    const packed = await lm.compress(new TextEncoder().encode(CROSS_TEXT));
    const state = lm.createState();
    await lm.forward(lm.encode(PROMPT), { state });
    const saved = await state.save();
    const logits = Array.from(await lm.step(32, { state }));
    nodeCross.set(threads, { lm, packed, saved, logits });
  }
  return nodeCross.get(threads);
}
after(() => nodeCross.forEach(({ lm }) => lm.dispose()));

/** Node's logits for engine.html's forward on its fixture. */
async function nodeLogits() {
  const lm = await load(`${root}tests/fixtures/lm/gru-d24-l3-conv3.safetensors`, { threads: 1 });
  const logits = Array.from(await lm.forward(Array.from({ length: 300 }, (_, i) => (i * 37 + 11) % 256)));
  lm.dispose();
  return logits;
}

const PAGES = { isolated: true, plain: false };
const NOT_ISOLATED = ['threads: the page is not cross-origin isolated (serve it with COOP/COEP: README, Hosting); one thread runs',
  'lane: the page is not cross-origin isolated (serve it with COOP/COEP: README, Hosting); step() calls go by postMessage'];
/** What each engine has on each page: threads (and so the lane) where the page is isolated and SharedArrayBuffer
 * is there; WebKitGTK 2.50 is cross-origin isolated without it, and falls back to one thread and postMessage. */
const HAS = {
  firefox: { isolated: { threads: true, fallbacks: [] }, plain: { threads: false, fallbacks: NOT_ISOLATED } },
  webkit: {
    isolated: { threads: false, fallbacks: ['threads: SharedArrayBuffer is not defined; one thread runs', 'lane: SharedArrayBuffer is not defined; step() calls go by postMessage'] },
    plain: { threads: false, fallbacks: NOT_ISOLATED },
  },
};

for (const engine of ['firefox', 'webkit']) {
  describe(engine, { skip: available(engine) }, () => {
    const results = {};
    let browser, logits;
    const servers = [];

    before(async () => {
      logits = await nodeLogits();
      browser = await openBrowser(engine);
      for (const [page, isolation] of Object.entries(PAGES)) {
        const { server, url } = await serve({ isolation });
        servers.push(server);
        const t0 = Date.now();
        await browser.goto(`${url}/tests/browser/engine.html`);
        const isolated = await browser.evaluate(() => globalThis.crossOriginIsolated === true);
        const enginePage = await browser.evaluate(async () => {
          while (!window.result) await new Promise((ok) => setTimeout(ok, 100));
          return window.result;
        });
        await browser.goto(`${url}/tests/browser/blank.html`);
        const model = await browser.evaluate(demo, url, PROMPT, TEXT, RUNS);
        const node = await nodeCrossReference(model.q8?.backend?.threads ?? 1);
        const b64 = (u8) => Buffer.from(u8).toString('base64');
        const cross = await browser.evaluate(crossEngine, url, b64(node.packed), b64(node.saved), CROSS_TEXT);
        results[page] = { isolated, engine: enginePage, model, cross };
        console.log(`${browser.version}, ${page} page (${((Date.now() - t0) / 1000).toFixed(1)} s): ${JSON.stringify(model)}`);
      }
    });

    after(async () => {
      await browser?.close();
      for (const s of servers) s.close();
    });

    for (const page of Object.keys(PAGES)) {
      test(`${page} page: engine.html runs the API through the worker, the outputs as in Node`, () => {
        const { isolated, engine: r } = results[page];
        assert.equal(isolated, PAGES[page]);
        assert.deepEqual(r.errors, []);
        assert.equal(r.isolated, PAGES[page]);
        const has = HAS[engine][page];
        assert.equal(r.backend.threads > 1, has.threads, JSON.stringify(r.backend));
        assert.equal(r.threadsError, has.threads ? null : 'MG_ETHREADS');
        assert.ok(closeRatio(Float32Array.from(r.logits), Float32Array.from(logits), 1e-5, 1e-5) <= 1, 'the logits as in Node');
        const reference = lmCases().find((c) => c.name === 'gru-d24-l3-conv3');
        assert.ok(closeRatio(Float32Array.from(r.fixtureLogits), reference.logits, 1e-4, 1e-4) <= 1, 'the PyTorch reference logits');
        assert.equal(r.evaluated.tokens, 11);
        assert.equal(r.text, r.textAgain, 'same seed, same text');
        assert.equal(r.restoredTokens, 2);
        assert.equal(r.sameStep, true);
        assert.equal(r.rangeError, 'MG_ERANGE');
        assert.equal(r.abortResult, 'MG_EABORTED');
        assert.equal(r.abortRestored, true);
        assert.equal(r.laneSame, true);
        assert.equal(r.laneAtOnce, true);
        assert.deepEqual(r.orderAcross, [0, 1]);
        assert.deepEqual(r.madeAfterCall, [0, 1]);
        assert.equal(r.laneSteps, has.threads ? 7 : 0, 'steps by the lane where the page has SharedArrayBuffer');
        assert.equal(r.longResult, 'MG_EABORTED', 'a long forward aborted after 3 frames drawn while it ran');
      });

      test(`${page} page: the demo model's plain build gives Node's greedy F32 text, seeded Q8 text and bits`, async () => {
        const { model } = results[page];
        for (const name of ['f32', 'q8']) {
          const r = model[name];
          assert.equal(r?.error, undefined, `${name}: ${r?.error}`);
          const has = HAS[engine][page];
          assert.deepEqual({ ...r.backend, threads: undefined }, { simd: true, relaxedSimd: false, threads: undefined, fallbacks: has.fallbacks });
          assert.equal(r.backend.threads > 1, has.threads);
          const node = (await nodeReference(r.backend.threads))[name];
          assert.equal(r.text, node.text, `${name} text`);
          assert.equal(r.bits, node.bits, `${name} bits at ${r.backend.threads} threads`);
        }
      });

      test(`${page} page: a file compressed in Node decompresses here, and one compressed here is Node's bytes; a state saved in Node continues here`, async () => {
        const { cross } = results[page];
        assert.equal(cross.error, undefined, cross.error);
        const node = await nodeCrossReference(cross.threads);
        assert.equal(cross.decompressed, CROSS_TEXT);
        assert.equal(cross.packed, Buffer.from(node.packed).toString('base64'), 'the same compressed bytes as Node');
        assert.equal(new TextDecoder().decode(await node.lm.decompress(Buffer.from(cross.packed, 'base64'))), CROSS_TEXT);
        assert.equal(cross.tokens, new TextEncoder().encode(PROMPT).length + 1);
        assert.deepEqual(cross.logits, node.logits, 'the next step from a state saved in Node');
      });

      test(`${page} page: the default build (relaxed SIMD where there is one): F32 bits within 1e-6, Q8 within 0.5% of F32 and the plain build's bits and text`, () => {
        const { model } = results[page];
        const [f32, q8, f32r, q8r] = ['f32', 'q8', 'f32Default', 'q8Default'].map((n) => model[n]);
        assert.equal(f32r?.error, undefined, f32r?.error);
        assert.equal(q8r?.error, undefined, q8r?.error);
        assert.equal(f32r.backend.relaxedSimd, q8r.backend.relaxedSimd);
        assert.ok(Math.abs(f32r.bits / f32.bits - 1) < 1e-6, `F32 bits ${f32r.bits} (default build) vs ${f32.bits} (plain)`);
        assert.ok(Math.abs(q8r.bits / f32r.bits - 1) < 0.005, `Q8 bits ${q8r.bits}, F32 ${f32r.bits}`);
        // one int8 arithmetic (docs/kernels.md): Q8 gives the same bits and text in the relaxed and plain builds
        assert.equal(q8r.bits, q8.bits, 'Q8 bits: relaxed and plain builds');
        assert.equal(q8r.text, q8.text, 'Q8 seeded text: relaxed and plain builds');
        if (!f32r.backend.relaxedSimd) assert.equal(f32r.bits, f32.bits); // the default is the plain build: the same numbers
        console.log(`${engine} ${page}, relaxed SIMD ${f32r.backend.relaxedSimd}: F32 text ${f32r.text === f32.text ? 'as' : 'unlike'} the plain ` +
          `build's, bits ${(f32r.bits / f32.bits - 1).toExponential(2)} off; Q8 text ${q8r.text === q8.text ? 'as' : 'unlike'} the plain build's ` +
          `(${JSON.stringify(q8r.text)}), bits ${(q8r.bits / q8.bits - 1).toExponential(2)} off`);
      });
    }
  });
}
