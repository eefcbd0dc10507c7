// The relaxed-SIMD builds: load() takes them only where a known-answer probe of i32x4.relaxed_dot_i8x16_i7x16_add_s
// passes; relaxedSimd: false forces the plain build; backend.relaxedSimd says which runs. Node 20 has relaxed SIMD
// only behind --experimental-wasm-relaxed-simd, and then its baseline compiler (Liftoff) drops the accumulator of
// that instruction: with the flag alone the probe must refuse, with --no-liftoff too it must pass. Every build has one
// Q8 arithmetic (docs/kernels.md): the relaxed build's Q8 logits are the plain build's bit for bit (1 thread against
// 1, 2 against 2), and the same seed generates the same text; the demo model's Q8 bits per byte stay within 0.5% of F32's. The same in
// headless Chromium, which has relaxed SIMD.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { load } from '../../js/index.js';
import { serve } from '../../scripts/serve.mjs';
import { buildOf } from '../helpers/backend.mjs';
import { launch, skipBrowser } from '../helpers/chromium.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const Q8 = `${root}models/kjv.q8.safetensors`, F32 = `${root}models/kjv.safetensors`;
const TEXT = readFileSync(`${root}docs/kernels.md`).subarray(0, 6000); // not the Bible: off the model's home ground

// a child Node that reports what load() picked and the Q8 and F32 models' bits per byte on TEXT, with its flags
const child = (flags) => JSON.parse(execFileSync(process.execPath, [...flags, '--input-type=module', '-e', `
  import { readFileSync } from 'node:fs';
  import { load } from ${JSON.stringify(`${root}js/index.js`)};
  const text = readFileSync(${JSON.stringify(`${root}docs/kernels.md`)}).subarray(0, 6000);
  const out = {};
  for (const [name, file, relaxedSimd] of [['q8', ${JSON.stringify(Q8)}, true], ['plain', ${JSON.stringify(Q8)}, false], ['f32', ${JSON.stringify(F32)}, true]]) {
    const lm = await load(readFileSync(file), { threads: 2, relaxedSimd });
    out[name] = { backend: lm.backend, bpb: (await lm.evaluate(text)).bitsPerByte, logits: Array.from(await lm.forward(text.subarray(0, 300))) };
    out[name].text = '';
    for await (const piece of lm.generate('And the LORD', { maxTokens: 80, temperature: 0.9, seed: 7 })) out[name].text += piece;
    lm.dispose();
  }
  console.log(JSON.stringify(out));`], { encoding: 'utf8' }));

function checkRelaxed(r) {
  assert.equal(r.q8.backend.relaxedSimd, true);
  assert.equal(r.plain.backend.relaxedSimd, false, 'relaxedSimd: false forces the plain build');
  const diff = Math.max(...r.q8.logits.map((x, i) => Math.abs(x - r.plain.logits[i])));
  assert.deepEqual(r.q8.logits, r.plain.logits, `relaxed and plain Q8 logits: the same bits (they differ by up to ${diff})`);
  assert.equal(r.q8.bpb, r.plain.bpb, 'relaxed and plain Q8: the same bits per byte');
  assert.ok(r.q8.text.length > 40, `generated: ${JSON.stringify(r.q8.text)}`);
  assert.equal(r.q8.text, r.plain.text, 'the same seed generates the same text in the relaxed and plain builds');
  assert.ok(Math.abs(r.q8.bpb / r.f32.bpb - 1) < 0.005, `relaxed Q8 ${r.q8.bpb} bits/byte, F32 ${r.f32.bpb}`);
}

test('Node 20 without a flag: no relaxed SIMD, the plain build', async () => {
  const lm = await load(readFileSync(Q8));
  assert.deepEqual(buildOf(lm.backend), { threads: lm.backend.threads, simd: true, relaxedSimd: false, fallbacks: ['relaxed SIMD: this engine has none; the plain SIMD build runs'] });
  lm.dispose();
  await assert.rejects(load(readFileSync(Q8), { relaxedSimd: 'yes' }), (e) => e.code === 'MG_EINVAL' && /relaxedSimd must be true or false/.test(e.message));
});

test('Node 20 with --experimental-wasm-relaxed-simd: Liftoff gets the dot product wrong, so the probe refuses', () => {
  const r = child(['--experimental-wasm-relaxed-simd']);
  assert.equal(r.q8.backend.relaxedSimd, false);
});

test('Node 20 with the flag and --no-liftoff: the relaxed build, Q8 logits and seeded text the plain one\'s bit for bit, bits per byte within 0.5% of F32', () => {
  checkRelaxed(child(['--experimental-wasm-relaxed-simd', '--no-liftoff']));
});

let server, browser;
after(async () => {
  await browser?.close();
  server?.close();
});

test('Chromium: the relaxed build by default (1 and 2 threads), the plain one when asked (1 and 2 threads), the same Q8 bits in both at each thread count, bits per byte within 0.5% of F32', { skip: skipBrowser }, async () => {
  let url;
  ({ server, url } = await serve({ root }));
  browser = await launch();
  const page = await browser.newPage();
  await page.goto(`${url}/tests/browser/blank.html`);
  const r = await page.evaluate(async ({ text }) => {
    const { load } = await import('/js/index.js');
    const bytes = new Uint8Array(text);
    const out = {};
    for (const [name, file, relaxedSimd, threads] of [['q8', 'kjv.q8', true, 2], ['one', 'kjv.q8', true, 1], ['plain', 'kjv.q8', false, 2],
      ['plainOne', 'kjv.q8', false, 1], ['f32', 'kjv', true, 2]]) {
      const lm = await load(`/models/${file}.safetensors`, { threads, relaxedSimd });
      out[name] = { backend: lm.backend, bpb: (await lm.evaluate(bytes)).bitsPerByte, logits: Array.from(await lm.forward(bytes.subarray(0, 300))) };
      out[name].text = '';
      for await (const piece of lm.generate('And the LORD', { maxTokens: 80, temperature: 0.9, seed: 7 })) out[name].text += piece;
      lm.dispose();
    }
    return out;
  }, { text: Array.from(TEXT) });
  checkRelaxed(r);
  assert.deepEqual(buildOf(r.one.backend), { threads: 1, simd: true, relaxedSimd: true, fallbacks: [] });
  assert.deepEqual(buildOf(r.plainOne.backend), { threads: 1, simd: true, relaxedSimd: false, fallbacks: [] });
  // one thread: the relaxed and plain single-thread builds give the same bits; against two threads, the prefill's
  // chunked scan (F32, src/scan.c) rounds differently, so near
  assert.deepEqual(r.one.logits, r.plainOne.logits, 'the single-thread relaxed and plain builds: the same Q8 logits');
  assert.equal(r.one.text, r.plainOne.text, 'the single-thread relaxed and plain builds: the same seeded text');
  assert.ok(Math.max(...r.one.logits.map((x, i) => Math.abs(x - r.q8.logits[i]))) < 1e-4, 'the single-thread relaxed build agrees with the threaded one');
});
