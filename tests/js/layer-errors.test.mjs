// Every bad argument is refused with a MingruError that has a code and a message naming the problem.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MinGRU, MinLSTM, MingruError } from '../../js/index.js';

function rejectsWith(promiseOrFn, code, pattern) {
  return assert.rejects(async () => (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn), (e) => {
    assert.ok(e instanceof MingruError && e instanceof Error, `not a MingruError: ${e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

test('create refuses bad sizes and options', async () => {
  await rejectsWith(MinGRU.create(), 'MG_EINVAL', /options/);
  await rejectsWith(MinGRU.create({}), 'MG_EINVAL', /dim must be a positive integer/);
  await rejectsWith(MinGRU.create({ dim: 0 }), 'MG_EINVAL', /dim/);
  await rejectsWith(MinGRU.create({ dim: -4 }), 'MG_EINVAL', /dim/);
  await rejectsWith(MinGRU.create({ dim: 2.5 }), 'MG_EINVAL', /dim/);
  await rejectsWith(MinLSTM.create({ dim: 8, expansionFactor: 0 }), 'MG_EINVAL', /expansionFactor/);
  await rejectsWith(MinLSTM.create({ dim: 8, expansionFactor: NaN }), 'MG_EINVAL', /expansionFactor/);
  await rejectsWith(MinLSTM.create({ dim: 8, expansionFactor: 0.05 }), 'MG_EINVAL', /inner width/);
  await rejectsWith(MinGRU.create({ dim: 8, seed: -1 }), 'MG_EINVAL', /seed/);
  await rejectsWith(MinGRU.create({ dim: 8, kernel: 'gpu' }), 'MG_EINVAL', /kernel/);
  await rejectsWith(MinGRU.create({ dim: 1 << 20 }), 'MG_ESHAPE', /too large/);
});

test('create refuses missing, extra and wrongly sized weights', async () => {
  const ok = new Float32Array(2 * 12 * 8);
  await rejectsWith(MinGRU.create({ dim: 8, expansionFactor: 1.5, weights: {} }), 'MG_EINVAL', /weights.toHiddenAndGate is missing/);
  await rejectsWith(MinGRU.create({ dim: 8, expansionFactor: 1.5, weights: { toHiddenAndGate: ok } }), 'MG_EINVAL', /weights.toOut is missing/);
  await rejectsWith(MinGRU.create({ dim: 8, expansionFactor: 1.5, weights: { toHiddenAndGate: ok.subarray(1), toOut: new Float32Array(96) } }),
    'MG_EINVAL', /toHiddenAndGate must have 192 elements, got 191/);
  await rejectsWith(MinGRU.create({ dim: 8, expansionFactor: 1.5, weights: { toHiddenAndGate: ok, toOut: new Float32Array(95) } }),
    'MG_EINVAL', /toOut must have 96 elements/);
  await rejectsWith(MinGRU.create({ dim: 8, expansionFactor: 1.5, weights: { toHiddenAndGate: [...ok], toOut: new Float32Array(96) } }),
    'MG_EINVAL', /toHiddenAndGate must be a Float32Array/);
  await rejectsWith(MinGRU.create({ dim: 8, weights: { toHiddenAndGate: new Float32Array(128), toOut: new Float32Array(64) } }),
    'MG_EINVAL', /toOut given but expansionFactor is 1/);
  await rejectsWith(MinLSTM.create({ dim: 8, weights: { toHiddenAndGate: new Float32Array(128) } }), 'MG_EINVAL', /toHiddenAndFIGate is missing/);
  await rejectsWith(MinLSTM.create({ dim: 8, weights: { toHiddenAndFIGate: new Float32Array(192), bias: new Float32Array(1) } }),
    'MG_EINVAL', /weights.bias is not a weight of MinLSTM/);
});

test('forward and step refuse wrong lengths and shapes', async () => {
  const gru = await MinGRU.create({ dim: 8, expansionFactor: 1.5 });
  await rejectsWith(gru.forward(new Float32Array(12)), 'MG_EINVAL', /x has 12 elements, not a positive multiple of batch \* dim = 8/);
  await rejectsWith(gru.forward(new Float32Array(0)), 'MG_EINVAL', /x has 0 elements/);
  await rejectsWith(gru.forward(new Float32Array(16), { seqLen: 3 }), 'MG_EINVAL', /x of \[batch 1, seqLen 3, dim 8\] must have 24 elements, got 16/);
  await rejectsWith(gru.forward(new Float32Array(16), { batch: 0 }), 'MG_EINVAL', /batch/);
  await rejectsWith(gru.forward(new Float32Array(16), { seqLen: 0 }), 'MG_EINVAL', /seqLen/);
  await rejectsWith(gru.forward(new Float64Array(16)), 'MG_EINVAL', /x must be a Float32Array/);
  await rejectsWith(gru.forward(new Float32Array(16), { prevHidden: new Float32Array(8) }), 'MG_EINVAL', /prevHidden must have 12 elements, got 8/);
  await rejectsWith(gru.step(new Float32Array(7)), 'MG_EINVAL', /step: x of \[batch 1, dim 8\] must have 8 elements, got 7/);
  await rejectsWith(gru.step(new Float32Array(16), { batch: 2, prevHidden: new Float32Array(12) }), 'MG_EINVAL', /prevHidden must have 24 elements/);
  await rejectsWith(gru.step(new Float32Array(8), { batch: -1 }), 'MG_EINVAL', /batch/);
  // a refused call leaves the layer usable
  const { output } = await gru.step(new Float32Array(8).fill(1));
  assert.equal(output.length, 8);
  gru.dispose();
});

test('use after dispose throws MG_EDISPOSED, and dispose twice is harmless', async () => {
  const lstm = await MinLSTM.create({ dim: 4 });
  lstm.dispose();
  lstm.dispose();
  await rejectsWith(lstm.forward(new Float32Array(4)), 'MG_EDISPOSED', /MinLSTM.forward: the layer was disposed/);
  await rejectsWith(lstm.step(new Float32Array(4)), 'MG_EDISPOSED', /MinLSTM.step/);
  await rejectsWith(lstm.getWeights(), 'MG_EDISPOSED', /getWeights/);
});
