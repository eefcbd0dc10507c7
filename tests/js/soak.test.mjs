// Long runs: a 100,000-token generation with the engine's heap flat and the logits finite; 1,000 load/dispose
// cycles that give every byte back; aborts at random points of load, forward and generate that leave the model
// usable, the state consistent and the heap as it was. The heap is measured by the engine's allocator
// (mallinfo: bytes handed out and not freed) and the size of the WebAssembly memory.
//
// The long generation uses a small random model (dim 64, 2 layers) on one thread: the demo model steps at
// ~330 tokens/s, so 100,000 of its tokens would take minutes; the per-token path (sampling, step, decoding) is
// the same for every model. Under the checked build (MINGRU_TEST_BUILD=safe, every load and store checked)
// the counts are smaller, as the test names say.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { load } from '../../js/index.js';
import { fixturePath, lmCases } from '../helpers/lm-fixtures.mjs';
import { makeModel } from '../helpers/model-maker.mjs';

const SAFE = process.env.MINGRU_TEST_BUILD === 'safe';
const GENERATE = SAFE ? 5000 : 100000;
const CYCLES = SAFE ? 100 : 1000;
const demoQ8 = new Uint8Array(readFileSync(new URL('../../models/kjv.q8.safetensors', import.meta.url)));
const lstmF16 = new Uint8Array(readFileSync(fixturePath(lmCases().find((c) => c.files.f16 && c.cell === 'lstm').files.f16)));
const small = makeModel({ dim: 64, depth: 2 }, { seed: 5 });

/** Seeded uniform integers in [0, n). */
function rng(seed) {
  let s = seed >>> 0;
  return (n) => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 * n) | 0;
}

/** The floats of a saved state (h, conv window, logits): the bytes between the header and the recent tokens. */
function stateFloats(bytes) {
  const recent = 256 * 4;
  return new Float32Array(bytes.slice(44, bytes.length - recent).buffer);
}

const heap = (lm) => lm._engine.heapStats();

test(`generating ${GENERATE} tokens keeps the heap flat (after 1,000 tokens = at the end) and the logits finite`, async () => {
  const lm = await load(small, { threads: 1 });
  const s = lm.createState();
  const before = heap(lm);
  const prompt = 'In the beginning';
  let at1k = null, last = null;
  for await (const piece of lm.generate(prompt, { maxTokens: GENERATE, seed: 7, temperature: 0.9, topK: 50, repetitionPenalty: 1.1, state: s })) {
    assert.equal(typeof piece, 'string');
    if (!at1k && s.tokens >= prompt.length + 1000) at1k = heap(lm);
    last = heap(lm);
  }
  assert.equal(s.tokens, prompt.length + GENERATE);
  console.log(`heap after 1k tokens ${JSON.stringify(at1k)}, after ${GENERATE}: ${JSON.stringify(last)}, before and after the call: ${JSON.stringify(before)} ${JSON.stringify(heap(lm))}`);
  assert.deepEqual(last, at1k, 'heap and memory size the same after 1k and after all tokens');
  assert.deepEqual(heap(lm), before, 'generate freed what it took');
  const floats = stateFloats(await s.save());
  assert.ok(floats.length > 256 && floats.every(Number.isFinite), 'hidden state, conv window and logits finite');
  const logits = await lm.step(32, { state: s });
  assert.ok(logits.every(Number.isFinite));
  assert.ok(Math.max(...logits) - Math.min(...logits) > 1e-3, 'the logits still say something');
  lm.dispose();
});

test(`${CYCLES} load/dispose cycles (demo Q8 model, an F16 fixture converted at load, a random F32 model) give all memory back`, async () => {
  const files = [demoQ8, lstmF16, small];
  const cycle = async (i) => {
    const lm = await load(files[i % files.length], { warm: i % 50 === 0 }); // a warm-up takes 0.1 s: one load in 50
    const s = lm.createState();
    await lm.forward([1, 2, 3], { state: s });
    s.clone(); // freed by the model's dispose, with s
    const rt = lm._engine;
    lm.dispose();
    return rt;
  };
  let rt;
  for (let i = 0; i < files.length; i++) rt = await cycle(i);
  const base = rt.heapStats();
  for (let i = files.length; i < CYCLES; i++) await cycle(i);
  const end = rt.heapStats();
  console.log(`heap after ${files.length} cycles ${JSON.stringify(base)}, after ${CYCLES}: ${JSON.stringify(end)}`);
  assert.deepEqual(end, base);
});

test('aborting load at random points (a streamed response, a file path) leaves nothing behind; other models stay usable', async () => {
  const lm = await load(small);
  const want = await lm.forward([5, 6, 7]);
  const base = heap(lm);
  const pick = rng(11);
  let aborted = 0;
  for (let trial = 0; trial < 30; trial++) {
    // a response of 64 KB chunks; the abort comes from onProgress once `at` bytes have arrived
    const at = pick(demoQ8.length);
    const body = new ReadableStream({
      start(c) {
        for (let i = 0; i < demoQ8.length; i += 65536) c.enqueue(demoQ8.subarray(i, i + 65536));
        c.close();
      },
    });
    const controller = new AbortController();
    const onProgress = ({ loaded }) => loaded >= at && controller.abort();
    await assert.rejects(load(new Response(body), { signal: controller.signal, onProgress }), (e) => e.code === 'MG_EABORTED' && /aborted/.test(e.message));
    aborted++;
    assert.deepEqual(heap(lm), base);
  }
  for (let trial = 0; trial < 10; trial++) {
    // a path, read in 4 MB chunks; the abort after a random number of event-loop turns: before, during or after
    const controller = new AbortController();
    let turns = pick(8);
    const tick = () => (turns-- > 0 ? setImmediate(tick) : controller.abort());
    tick();
    try {
      const other = await load(new URL('../../models/kjv.safetensors', import.meta.url).pathname, { signal: controller.signal });
      other.dispose();
    } catch (e) {
      assert.equal(e.code, 'MG_EABORTED', e.message);
    }
    assert.deepEqual(heap(lm), base);
  }
  assert.equal(aborted, 30);
  assert.deepEqual(await lm.forward([5, 6, 7]), want);
  lm.dispose();
});

test('aborting forward at random points rejects with MG_EABORTED and leaves the state as it was; otherwise it completes exactly', async () => {
  const lm = await load(small, { threads: 1 });
  const tokens = Array.from({ length: 128 * 120 }, (_, i) => (i * 31 + 7) % 256);
  const ref = lm.createState();
  await lm.forward([1, 2, 3], { state: ref });
  const whole = await lm.forward(tokens, { state: ref, allLogits: true });
  const refBytes = await ref.save();
  const s = lm.createState();
  await lm.forward([1, 2, 3], { state: s });
  const startBytes = await s.save();
  const base = heap(lm);
  // a signal that never fires: the same logits and state as without one
  assert.deepEqual(await lm.forward(tokens, { state: s, allLogits: true, signal: new AbortController().signal }), whole);
  assert.deepEqual(await s.save(), refBytes);
  s.reset();
  await lm.forward([1, 2, 3], { state: s });
  assert.deepEqual(heap(lm), base);
  const pick = rng(5);
  let aborted = 0, completed = 0;
  for (let trial = 0; trial < 16; trial++) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), pick(200));
    try {
      const logits = await lm.forward(tokens, { state: s, allLogits: true, signal: controller.signal });
      completed++;
      assert.deepEqual(logits, whole, 'a forward with a signal gives the logits of one without');
      assert.deepEqual(await s.save(), refBytes);
      await lm.forward([1, 2, 3], { state: (s.reset(), s) });
    } catch (e) {
      assert.equal(e.code, 'MG_EABORTED', e.message);
      aborted++;
    }
    clearTimeout(timer);
    assert.deepEqual(await s.save(), startBytes, 'the state is back where it was');
    assert.deepEqual(heap(lm), base, 'the heap is as it was');
  }
  console.log(`forward: ${aborted} aborted, ${completed} completed`);
  assert.ok(aborted >= 1, 'some forward was aborted midway');
  // an abort before the start, and an abort of a forward on a temporary state
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(lm.forward(tokens, { state: s, signal: pre.signal }), (e) => e.code === 'MG_EABORTED');
  await assert.rejects(lm.forward(tokens, { signal: pre.signal }), (e) => e.code === 'MG_EABORTED');
  assert.deepEqual(heap(lm), base);
  lm.dispose();
});

test('aborting generate at random points (a signal, or the consumer stopping) leaves the state after the tokens made and the heap as it was', async () => {
  const lm = await load(demoQ8);
  const options = { maxTokens: 400, seed: 3, temperature: 0.8, topK: 40 };
  const base = heap(lm);
  const pick = rng(23);
  for (let trial = 0; trial < 12; trial++) {
    const s = lm.createState();
    const controller = new AbortController();
    const stopAt = 1 + pick(120);
    const byBreak = trial % 2 === 1;
    let pieces = 0, text = '';
    for await (const piece of lm.generate('And God said', { ...options, signal: controller.signal, state: s })) {
      text += piece;
      if (++pieces === stopAt) {
        if (byBreak) break;
        controller.abort();
      }
    }
    // the state is exactly where a generation of that many tokens leaves it
    const made = s.tokens - 'And God said'.length;
    assert.ok(made < options.maxTokens, `stopped after ${made} tokens`);
    const ref = lm.createState();
    let refText = '';
    for await (const piece of lm.generate('And God said', { ...options, maxTokens: made, state: ref })) refText += piece;
    assert.deepEqual(await s.save(), await ref.save());
    assert.ok(refText.startsWith(text), 'the aborted text is a prefix of the same generation');
    s.dispose();
    ref.dispose();
    assert.deepEqual(heap(lm), base);
  }
  lm.dispose();
});
