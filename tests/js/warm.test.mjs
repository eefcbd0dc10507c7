// load()'s warm-up (js/warm.js): by default the model's passes run a while before load() resolves, so that the first
// real call runs optimized code, and on more than one thread a measurement chooses where its steps run; backend says
// what it did. warm: false skips both. Neither changes a result: the same text, the same bits, the heap as it was.
// (The speed it buys is measured by bench/first-run.mjs, not here: these tests hold no timings.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { load } from '../../js/index.js';
import { getEngine } from '../../js/runtime.js';
import { assertWarmReport, buildOf } from '../helpers/backend.mjs';

const MODEL = fileURLToPath(new URL('../../models/kjv.q8.safetensors', import.meta.url));

async function text(lm) {
  let out = '';
  for await (const piece of lm.generate('And God said', { maxTokens: 60, seed: 7, topK: 40 })) out += piece;
  return out;
}

for (const threads of [1, 2]) {
  test(`${threads} thread(s): load() warms by default and says so in backend; warm: false does not`, async () => {
    const warmed = await load(MODEL, { threads });
    const cold = await load(MODEL, { threads, warm: false });
    assertWarmReport(warmed.backend);
    assertWarmReport(cold.backend, { warmed: false });
    assert.deepEqual(buildOf(warmed.backend), buildOf(cold.backend));
    assert.ok(Object.isFrozen(warmed.backend));
    assert.equal(await text(warmed), await text(cold), 'the same seeded text');
    warmed.dispose(), cold.dispose();
  });
}

test('the warm-up gives back every byte it takes: the heap after load and dispose is as it was', async () => {
  const engine = await getEngine(2);
  (await load(MODEL, { threads: 2 })).dispose(); // the heap's own first growth
  const before = engine.heapStats().used;
  for (let i = 0; i < 3; i++) (await load(MODEL, { threads: 2 })).dispose();
  assert.equal(engine.heapStats().used, before);
});

test("a model's forward and steps give the same bits on the pool and on the calling thread alone, F32 and Q8", async () => {
  const prompt = Array.from({ length: 300 }, (_, i) => 32 + (i * 7) % 90);
  for (const file of [MODEL, MODEL.replace('.q8', '')]) {
    const lm = await load(file, { threads: 2, warm: false });
    const runs = [];
    for (const place of [0, 1, 0]) {
      lm._engine.modelSetThreads(lm._live('test'), { step: place, block: place }, 'test');
      const s = lm.createState();
      const steps = [await lm.forward(prompt, { state: s, allLogits: true })];
      for (let i = 0; i < 20; i++) steps.push(await lm.step(65 + i, { state: s }));
      runs.push(steps);
      s.dispose();
    }
    assert.deepEqual(runs[1], runs[0], `${file}: one thread against the pool`);
    assert.deepEqual(runs[2], runs[0], `${file}: the pool again`);
    assert.throws(() => lm._engine.modelSetThreads(lm._live('test'), { step: 2, block: 0 }, 'test'), { code: 'MG_EINVAL' });
    lm.dispose();
  }
});

test('warm must be true or false: anything else is MG_EINVAL', async () => {
  for (const warm of ['no', 0, 1, null]) {
    await assert.rejects(load(MODEL, { warm }), { code: 'MG_EINVAL', message: `load: warm must be true or false, got ${warm}` });
  }
});

test('a model that does not generate text (a task head, no tokenizer) is warmed by step() calls', async () => {
  const file = fileURLToPath(new URL('../fixtures/minrnns/gru-e1-task-d16-l2.safetensors', import.meta.url));
  for (const threads of [1, 2]) {
    const lm = await load(file, { threads });
    assert.notEqual(lm.config.numOutputs, lm.config.numTokens);
    assertWarmReport(lm.backend);
    lm.dispose();
  }
});
