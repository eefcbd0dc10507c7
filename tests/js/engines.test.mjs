// The same numbers in every engine: the package in Chromium, Firefox and WebKit (tests/helpers/browsers.mjs), from
// pages served on 127.0.0.1 with COOP/COEP (isolated: the threaded build) and without (plain: the single-thread
// build, and where an engine lacks SharedArrayBuffer, as WebKitGTK 2.50 does on an isolated page, the documented
// fallback: one thread, steps by postMessage, backend.fallbacks saying why), compared with Node. In each engine and
// page (tests/js/browser.test.mjs has the API through the worker and the fallbacks):
//   - the demo model: greedy F32 text, seeded Q8 text and evaluate()'s bits on a fixed text, from the plain-SIMD
//     builds (relaxedSimd: false), equal to Node's at the same thread count (Node computes them here);
//   - the build load() picks by default (relaxed SIMD where the engine has it): F32 bits within 1e-6 of the
//     plain build's, Q8 bits within 0.5% of F32's, and Q8 bits and seeded text the same as the plain build's (one
//     int8 arithmetic in every build);
//   - the trainer: PyTorch's losses step by step on a fixture model (tests/fixtures/train), Node's exactly in the
//     plain build, and the bits after training;
//   - compressed files and saved states, from Node to the page and back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { load } from '../../js/index.js';
import { serve } from '../../scripts/serve.mjs';
import { buildOf } from '../helpers/backend.mjs';
import { available, expectedFallbacks, HAS, openBrowser } from '../helpers/browsers.mjs';
import { readTrainFixture } from '../helpers/lm-fixtures.mjs';

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

/** Node's answers with the plain build at `threads` threads. */
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

/** Runs in the page (and in Node): a trainer on the fixture model `model` takes its training fixture's steps (each of
 * `runs`' loads), then the bits of `text`. */
async function training(origin, model, fixture, text, runs) {
  const { load } = await import(`${origin}/js/index.js`);
  const { batch, seqLen, steps, options, tokens } = fixture;
  const out = {};
  for (const [name, loadOptions] of runs) {
    try {
      const lm = await load(`${origin}/tests/fixtures/lm/${model}.safetensors`, loadOptions);
      const trainer = lm.trainer(options);
      const losses = [];
      const row = batch * (seqLen + 1);
      for (let s = 0; s < steps; s++) losses.push(await trainer.step(tokens.slice(s * row, (s + 1) * row), { batch, seqLen }));
      out[name] = { backend: lm.backend, losses, bits: (await lm.evaluate(text)).bits };
      lm.dispose();
    } catch (e) {
      out[name] = { error: `${e.code ?? ''} ${e.message}` };
      break;
    }
  }
  return out;
}
const TRAINED = 'gru-d24-l3-conv3';
const TRAIN_FIXTURE = readTrainFixture(TRAINED);
const TRAIN_RUNS = [['plain', { relaxedSimd: false }], ['default', {}]];
const nodeTraining = new Map();
/** Node's training at `threads` threads, the plain build. */
async function nodeTrainingReference(threads) {
  if (!nodeTraining.has(threads)) {
    const origin = new URL('../..', import.meta.url).href.replace(/\/$/, '');
    nodeTraining.set(threads, (await training(origin, TRAINED, TRAIN_FIXTURE, TEXT, [['plain', { relaxedSimd: false, threads }]])).plain);
  }
  return nodeTraining.get(threads);
}

const PAGES = { isolated: true, plain: false };
for (const engine of ['chromium', 'firefox', 'webkit']) {
  describe(engine, { skip: available(engine) }, () => {
    const results = {};
    let browser;
    const servers = [];

    before(async () => {
      browser = await openBrowser(engine);
      for (const [page, isolation] of Object.entries(PAGES)) {
        const { server, url } = await serve({ isolation });
        servers.push(server);
        const t0 = Date.now();
        await browser.goto(`${url}/tests/browser/blank.html`);
        const isolated = await browser.evaluate(() => globalThis.crossOriginIsolated === true);
        const model = await browser.evaluate(demo, url, PROMPT, TEXT, RUNS);
        const node = await nodeCrossReference(model.q8?.backend?.threads ?? 1);
        const b64 = (u8) => Buffer.from(u8).toString('base64');
        const cross = await browser.evaluate(crossEngine, url, b64(node.packed), b64(node.saved), CROSS_TEXT);
        const trained = await browser.evaluate(training, url, TRAINED, TRAIN_FIXTURE, TEXT, TRAIN_RUNS);
        results[page] = { isolated, model, cross, trained };
        console.log(`${browser.version}, ${page} page (${((Date.now() - t0) / 1000).toFixed(1)} s): ${JSON.stringify(model)}`);
      }
    });

    after(async () => {
      await browser?.close();
      for (const s of servers) s.close();
    });

    for (const page of Object.keys(PAGES)) {
      test(`${page} page: the demo model's plain build gives Node's greedy F32 text, seeded Q8 text and bits`, async () => {
        const { model } = results[page];
        for (const name of ['f32', 'q8']) {
          const r = model[name];
          assert.equal(r?.error, undefined, `${name}: ${r?.error}`);
          assert.deepEqual({ ...buildOf(r.backend), threads: 0 }, { simd: true, relaxedSimd: false, threads: 0, fallbacks: expectedFallbacks(engine, PAGES[page], { relaxed: false }) });
          assert.equal(r.backend.threads > 1, PAGES[page] && HAS[engine].sab);
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

      test(`${page} page: the trainer gives PyTorch's losses (2e-4), Node's exactly in the plain build; the bits after training`, async () => {
        const { trained } = results[page];
        for (const name of ['plain', 'default']) assert.equal(trained[name]?.error, undefined, `${name}: ${trained[name]?.error}`);
        const { plain, default: relaxed } = trained;
        const node = await nodeTrainingReference(plain.backend.threads);
        assert.deepEqual(plain.losses, node.losses, 'the plain build: Node\'s losses');
        assert.equal(plain.bits, node.bits, 'the plain build: Node\'s bits after training');
        for (const r of [plain, relaxed]) {
          r.losses.forEach((loss, s) => assert.ok(Math.abs(loss / TRAIN_FIXTURE.losses[s] - 1) < 2e-4, `step ${s}: loss ${loss}, PyTorch ${TRAIN_FIXTURE.losses[s]}`));
        }
        assert.ok(Math.abs(relaxed.bits / plain.bits - 1) < 1e-5, `bits after training: ${relaxed.bits} (default build), ${plain.bits} (plain)`);
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
