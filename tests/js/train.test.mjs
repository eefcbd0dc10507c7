// Training through the wasm builds: trainer.step gives PyTorch's losses step by step (tests/fixtures/train, from
// tools/train_fixtures.py: minLM and the BorealisAI/minRNNs form) on 1 and 2 threads; save() writes tools/convert.py's bytes and a trained model saved and
// loaded again gives the same logits; train() is seeded, learns, stops on an abort keeping what it learned, and
// refuses bad options by name; create() is seeded.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { create, load } from '../../js/index.js';
import { readTrainFixture } from '../helpers/lm-fixtures.mjs';

const fixtures = new URL('../fixtures/', import.meta.url);
const read = (path) => readFileSync(new URL(path, fixtures));

/** The mean cross-entropy in nats of `targets` under the rows of `logits` (V each), in float64. */
function crossEntropy(logits, targets, V) {
  let sum = 0;
  targets.forEach((t, i) => {
    const row = logits.subarray(i * V, (i + 1) * V), max = Math.max(...row);
    sum += Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0)) - (row[t] - max);
  });
  return sum / targets.length;
}

// minLM's, and the BorealisAI/minRNNs form's (their own modules, tools/minrnns_ref.py; the model file beside its fixture)
const TRAIN_CASES = ['gru-d32-l2', 'gru-d24-l3-conv3', 'lstm-d32-l2', 'lstm-d16-l2-conv4-e1', 'gru-d40-l1-e1',
  'minrnns-lstm-h0-ff-d16-l2', 'minrnns-lstm-coeffnorm-d16-l2', 'minrnns-gru-h0-ff-d16-l2', 'minrnns-gru-e1-d16-l2',
  'minrnns-gru-conv4-ff-d16-l2'];
const modelFile = (name) => read(`${name.startsWith('minrnns-') ? 'train' : 'lm'}/${name}.safetensors`);

for (const threads of [1, 2]) {
  for (const name of TRAIN_CASES) {
    test(`${name}, ${threads} thread(s): trainer.step gives PyTorch's losses step by step (2e-4)`, async () => {
      const f = readTrainFixture(name);
      const lm = await load(modelFile(name), { threads });
      lm._engine.setMinParallelWork(0); // every parallel path, on these small models
      const trainer = lm.trainer(f.options);
      const row = f.batch * (f.seqLen + 1);
      for (let s = 0; s < f.steps; s++) {
        const loss = await trainer.step(f.tokens.slice(s * row, (s + 1) * row), { batch: f.batch, seqLen: f.seqLen });
        assert.ok(Math.abs(loss / f.losses[s] - 1) < 2e-4, `step ${s}: loss ${loss}, PyTorch ${f.losses[s]}`);
      }
      assert.equal(trainer.steps, f.steps);
      trainer.dispose();
      lm._engine.setMinParallelWork(64 << 10);
      lm.dispose();
    });
  }
}

test('save() writes the bytes tools/convert.py wrote for the same weights, in f32, f16 and q8', async () => {
  const lm = await load(read('lm/gru-d32-l2.safetensors'));
  for (const [dtype, file] of [['f32', 'gru-d32-l2.safetensors'], ['f16', 'gru-d32-l2.f16.safetensors'], ['q8', 'gru-d32-l2.q8.safetensors']]) {
    assert.ok(Buffer.from(await lm.save({ dtype })).equals(read(`lm/${file}`)), `${dtype} differs`);
  }
  lm.dispose();
});

test('a trained model saved and loaded again gives the same logits; name and description are written', async () => {
  const lm = await load(read('lm/gru-d24-l3-conv3.safetensors'));
  const text = 'to be or not to be, that is the question. '.repeat(20);
  // seqLen + 1 = 17 bytes are train()'s one window: each step's loss is the cross-entropy of the weights before it
  // on that window, which forward()'s logits give here (the same arithmetic: to the loss's float32 rounding)
  const window = lm.encode(text.slice(0, 17));
  const lossNow = async () => crossEntropy(await lm.forward(window.slice(0, 16), { allLogits: true }), window.slice(1), 256);
  const losses = [];
  let want = await lossNow();
  for await (const p of lm.train(window, { steps: 3, batchSize: 2, seqLen: 16, seed: 3 })) {
    assert.ok(Math.abs(p.loss / want - 1) < 1e-6, `step ${p.step}: loss ${p.loss}, forward's logits give ${want}`);
    losses.push(p.loss);
    want = await lossNow();
  }
  assert.ok(losses[2] < losses[0], `losses ${losses}`);
  const back = await load(await lm.save({ name: 'hamlet', description: 'fine-tuned' }));
  assert.equal(back.config.name, 'hamlet');
  assert.equal(back.metadata.description, 'fine-tuned');
  const tokens = lm.encode(text.slice(0, 40));
  assert.deepEqual(await back.forward(tokens, { allLogits: true }), await lm.forward(tokens, { allLogits: true }));
  lm.dispose();
  back.dispose();
});

test('train() is seeded: the same seed gives the same losses, another seed others; the loss falls on a repeated text', async () => {
  const text = 'Minimal recurrent networks learn in parallel. '.repeat(40);
  const run = async (seed) => {
    const lm = await load(read('lm/lstm-d32-l2.safetensors'));
    const losses = [];
    for await (const p of lm.train(text, { steps: 30, batchSize: 4, seqLen: 32, lr: 1e-2, seed, validation: text.slice(0, 300), validationEvery: 10 })) {
      losses.push(p.loss);
      assert.ok(p.tokensPerSecond > 0);
      assert.equal('validationBits' in p, p.step % 10 === 0, `validation at step ${p.step}`);
    }
    lm.dispose();
    return losses;
  };
  const a = await run(1), b = await run(1), c = await run(2);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(mean(a.slice(-5)) < 0.5 * mean(a.slice(0, 5)), `losses ${a.slice(0, 5)} ... ${a.slice(-5)}`);
});

test('dropout: seeded masks through the API (same seed, same losses; none, other losses); a model trained with it still learns', async () => {
  const text = 'Minimal recurrent networks learn in parallel. '.repeat(40);
  const run = async (dropout, seed = 3) => {
    const lm = await load(read('lm/gru-d24-l3-conv3.safetensors'), { threads: 2 });
    const losses = [];
    for await (const p of lm.train(text, { steps: 25, batchSize: 4, seqLen: 32, lr: 1e-2, dropout, seed })) losses.push(p.loss);
    const bits = (await lm.evaluate(text)).bitsPerToken;
    lm.dispose();
    return { losses, bits };
  };
  const a = await run(0.2), b = await run(0.2), none = await run(0);
  assert.deepEqual(a.losses, b.losses);
  assert.notEqual(a.losses[0], none.losses[0], 'dropout changes the first loss');
  const fresh = await load(read('lm/gru-d24-l3-conv3.safetensors'));
  assert.ok(a.bits < 0.7 * (await fresh.evaluate(text)).bitsPerToken, `bits per token ${a.bits} after training with dropout`);
  fresh.dispose();
});

test('an abort ends train() quietly and the model keeps what it learned', async () => {
  const lm = await load(read('lm/gru-d32-l2.safetensors'));
  const text = 'abcabcabd '.repeat(50);
  const before = (await lm.evaluate(text)).bits;
  const controller = new AbortController();
  let steps = 0;
  for await (const p of lm.train(text, { steps: 1000, batchSize: 2, seqLen: 16, lr: 1e-2, signal: controller.signal })) {
    steps = p.step;
    if (p.step === 15) controller.abort();
  }
  assert.equal(steps, 15);
  assert.ok((await lm.evaluate(text)).bits < 0.8 * before);
  lm.dispose();
});

test('bad options and inputs are refused by name', async () => {
  const lm = await load(read('lm/gru-d32-l2.q8.safetensors'));
  const refuse = async (fn, code, re) => assert.rejects(async () => fn(), (e) => e.code === code && re.test(e.message) || assert.fail(`${e.code}: ${e.message}`));
  const it = (data, o) => lm.train(data, o).next();
  await refuse(() => lm.trainer({ lr: -1 }), 'MG_EINVAL', /lr must be a number > 0, got -1/);
  await refuse(() => lm.trainer({ betas: [0.9, 1] }), 'MG_EINVAL', /betas\[1\] must be a number in \[0, 1\)/);
  await refuse(() => lm.trainer({ clip: NaN }), 'MG_EINVAL', /clip/);
  await refuse(() => lm.trainer({ dropout: 1 }), 'MG_EINVAL', /dropout must be a number in \[0, 1\) \(0 = none\), got 1/);
  await refuse(() => lm.trainer({ seed: -1 }), 'MG_EINVAL', /seed must be an integer in \[0, 4294967295\], got -1/);
  await refuse(() => it('some text', {}), 'MG_EINVAL', /give steps or seconds/);
  await refuse(() => it('short', { steps: 1, seqLen: 16 }), 'MG_EINVAL', /has 5 tokens; a window of seqLen \+ 1 = 17/);
  await refuse(() => it([1, 2, 300, 4], { steps: 1, seqLen: 2 }), 'MG_ERANGE', /token 300 at position 2/);
  await refuse(() => it('some text here', { steps: 1, seqLen: 4, batchSize: 0 }), 'MG_EINVAL', /batchSize must be an integer/);
  const t = lm.trainer();
  await refuse(() => t.step([1, 2, 3], { batch: 1, seqLen: 3 }), 'MG_EINVAL', /1 x 4 = 4 ids, got 3/);
  await refuse(() => t.step([1, 2, 3, 256], { batch: 1, seqLen: 3 }), 'MG_ERANGE', /token 256 at position 3/);
  const aborted = AbortSignal.abort();
  await refuse(() => t.step([1, 2, 3, 4], { batch: 1, seqLen: 3, signal: aborted }), 'MG_EABORTED', /aborted/);
  assert.equal(t.steps, 0);
  // the refusals left the trainer whole: its loss is the cross-entropy of forward()'s logits (the model is F32 now)
  const want = crossEntropy(await lm.forward([1, 2, 3], { allLogits: true }), [2, 3, 4], 256);
  const loss = await t.step([1, 2, 3, 4], { batch: 1, seqLen: 3 });
  assert.ok(Math.abs(loss / want - 1) < 1e-6, `loss ${loss}, forward's logits give ${want}`);
  assert.equal(t.steps, 1);
  t.dispose();
  await refuse(() => t.step([1, 2, 3, 4], { batch: 1, seqLen: 3 }), 'MG_EDISPOSED', /trainer was disposed/);
  await refuse(() => lm.save({ dtype: 'f8' }), 'MG_EINVAL', /dtype must be one of f32, f16, q8, got f8/);
  await refuse(() => lm.save({ name: 3 }), 'MG_EINVAL', /name must be a string/);
  const t2 = lm.trainer();
  lm.dispose();
  await refuse(() => t2.step([1, 2, 3, 4], { batch: 1, seqLen: 3 }), 'MG_EDISPOSED', /disposed/);
  await refuse(() => lm.save(), 'MG_EDISPOSED', /model was disposed/);
});

test('create() makes a seeded model of the given shape that trains; bad sizes are refused by name', async () => {
  const options = { cell: 'lstm', dim: 32, depth: 2, convKernelSize: 3, seed: 7 };
  const a = await create(options), b = await create(options), c = await create({ ...options, seed: 8 });
  assert.ok(Buffer.from(await a.save()).equals(Buffer.from(await b.save())));
  assert.ok(!Buffer.from(await a.save()).equals(Buffer.from(await c.save())));
  assert.equal(a.config.cell, 'lstm');
  assert.equal(a.config.dimInner, 48);
  assert.equal(a.config.convKernelSize, 3);
  assert.equal(a.config.tokenizer, 'bytes');
  const text = 'hello world, hello mingru. '.repeat(30);
  const before = (await a.evaluate(text)).bitsPerByte;
  assert.ok(before > 6, `a new model knows nothing: ${before} bits per byte`);
  for await (const _ of a.train(text, { steps: 40, batchSize: 4, seqLen: 32, lr: 1e-2 }));
  assert.ok((await a.evaluate(text)).bitsPerByte < before / 2);
  for (const m of [a, b, c]) m.dispose();
  await assert.rejects(create({ dim: 0 }), /dim must be an integer in \[1, 65536\], got 0/);
  await assert.rejects(create({ cell: 'rnn' }), /cell must be 'gru' or 'lstm', got rnn/);
  await assert.rejects(create({ expansionFactor: -1 }), /expansionFactor must be a number > 0/);
});

test('save() says what a model learned since it was loaded: base model, steps, date; nothing when it did not learn', async () => {
  const lm = await load(new URL('../../models/kjv.q8.safetensors', import.meta.url));
  const untouched = await load(await lm.save({ dtype: 'q8' }));
  assert.deepEqual([untouched.metadata.name, untouched.metadata.base_model, untouched.metadata.training_steps], [lm.config.name, undefined, undefined]);
  untouched.dispose();
  const text = 'Minimal recurrent networks are fast to train and cheap to run. '.repeat(4);
  for await (const _ of lm.train(text, { steps: 3, batchSize: 2, seqLen: 16 }));
  const trainer = lm.trainer();
  await trainer.step(new TextEncoder().encode(text.slice(0, 17)), { batch: 1, seqLen: 16 });
  trainer.dispose();
  const tuned = await load(await lm.save({ dtype: 'q8' }));
  const today = new Date().toISOString().slice(0, 10);
  assert.deepEqual(
    [tuned.metadata.name, tuned.metadata.base_model, tuned.metadata.training_steps, tuned.metadata.trained_on, tuned.metadata.training_data],
    ['KJV minGRU (demo) (fine-tuned)', `KJV minGRU (demo) (identity ${lm.identity})`, '4', today,
      `${lm.metadata.training_data}; then fine-tuned for 4 steps on data not described`]);
  const named = await load(await lm.save({ name: 'mine', trainingData: 'my text' }));
  assert.deepEqual([named.metadata.name, named.metadata.training_data, named.metadata.base_model], ['mine', 'my text', tuned.metadata.base_model]);
  // learning while reading without keep learns on a copy: the model's own record does not change
  await lm.evaluate(text, { adapt: true });
  const after = await load(await lm.save());
  assert.equal(after.metadata.training_steps, '4');
  for (const m of [tuned, named, after, lm]) m.dispose();
  const fresh = await create({ dim: 16, depth: 1, seed: 1 });
  for await (const _ of fresh.train(text, { steps: 2, batchSize: 2, seqLen: 16 }));
  const saved = await load(await fresh.save());
  assert.deepEqual([saved.metadata.base_model, saved.metadata.training_steps, saved.metadata.trained_on], [undefined, '2', today]);
  fresh.dispose();
  saved.dispose();
});
