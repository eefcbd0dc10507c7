// forward (parallel scan) against step (one token at a time), forward with prevHidden against forward
// over the concatenated sequence, and the seeded nn.Linear-like initialisation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MinGRU, MinLSTM } from '../../js/index.js';
import { closeRatio, randomFloats } from '../helpers/golden.mjs';

for (const Cls of [MinGRU, MinLSTM]) {
  test(`${Cls.name}: minGRU-pytorch's README check, dim 512, expansion 1.5, [1, 2048, 512]: last forward output equals 2048 steps to 1e-4`, async () => {
    const dim = 512, seqLen = 2048;
    const layer = await Cls.create({ dim, expansionFactor: 1.5, seed: 2024 });
    const x = randomFloats(seqLen * dim, 1, -2, 2);
    const { output, hidden } = await layer.forward(x, { batch: 1, seqLen });
    let h, y;
    for (let t = 0; t < seqLen; t++) {
      ({ output: y, hidden: h } = await layer.step(x.subarray(t * dim, (t + 1) * dim), { batch: 1, prevHidden: h }));
    }
    const last = output.subarray((seqLen - 1) * dim);
    assert.ok(closeRatio(y, last, 1e-4, 1e-4) <= 1, `last output off by ${closeRatio(y, last, 1e-4, 1e-4)}x tolerance`);
    assert.ok(closeRatio(h, hidden, 1e-5, 1e-5) <= 1, 'hidden after 2048 steps');
    assert.ok(last.some((v) => Math.abs(v) > 1e-3), 'output is not trivially zero');
    layer.dispose();
  });

  test(`${Cls.name}: forward with prevHidden equals forward over the concatenated sequence, split anywhere`, async () => {
    const dim = 24, batch = 2, seqLen = 41;
    const layer = await Cls.create({ dim, expansionFactor: 2, seed: 9 });
    const x = randomFloats(batch * seqLen * dim, 2);
    const whole = await layer.forward(x, { batch, seqLen });
    const part = (t0, t1) => {
      const out = new Float32Array(batch * (t1 - t0) * dim);
      for (let b = 0; b < batch; b++) out.set(x.subarray((b * seqLen + t0) * dim, (b * seqLen + t1) * dim), b * (t1 - t0) * dim);
      return out;
    };
    for (const split of [1, 2, 17, 40]) {
      const a = await layer.forward(part(0, split), { batch, seqLen: split });
      const b = await layer.forward(part(split, seqLen), { batch, seqLen: seqLen - split, prevHidden: a.hidden });
      assert.ok(closeRatio(b.hidden, whole.hidden, 1e-6, 1e-5) <= 1, `hidden after split ${split}`);
      for (let s = 0; s < batch; s++) {
        const got = b.output.subarray(s * (seqLen - split) * dim, (s + 1) * (seqLen - split) * dim);
        const want = whole.output.subarray((s * seqLen + split) * dim, (s + 1) * seqLen * dim);
        assert.ok(closeRatio(got, want, 1e-6, 1e-5) <= 1, `outputs after split ${split}, sequence ${s}`);
      }
    }
    layer.dispose();
  });
}

test('without weights, layers initialise like nn.Linear (uniform in +-1/sqrt(fan_in)) from the seed', async () => {
  const a = await MinGRU.create({ dim: 64, expansionFactor: 1.5, seed: 3 });
  const b = await MinGRU.create({ dim: 64, expansionFactor: 1.5, seed: 3 });
  const c = await MinGRU.create({ dim: 64, expansionFactor: 1.5, seed: 4 });
  const [wa, wb, wc] = await Promise.all([a.getWeights(), b.getWeights(), c.getWeights()]);
  assert.deepEqual(wa, wb, 'same seed, same weights');
  assert.notDeepEqual(wa.toHiddenAndGate, wc.toHiddenAndGate, 'another seed, other weights');
  for (const [w, fanIn] of [[wa.toHiddenAndGate, 64], [wa.toOut, 96]]) {
    const bound = 1 / Math.sqrt(fanIn);
    const max = Math.max(...w.map(Math.abs));
    const mean = w.reduce((s, v) => s + v, 0) / w.length;
    assert.ok(max <= bound && max > 0.99 * bound, `max |w| ${max} vs bound ${bound}`);
    assert.ok(Math.abs(mean) < 0.05 * bound, `mean ${mean}`);
  }
  for (const l of [a, b, c]) l.dispose();
});
