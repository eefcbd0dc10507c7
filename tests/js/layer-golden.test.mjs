// The layers match the PyTorch reference (tools/reference.py, log-space scan) to 1e-4 absolute and
// relative, with both matrix kernels, through forward and (for T = 1 cases and as a loop) step.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MinGRU, MinLSTM } from '../../js/index.js';
import { closeRatio, readGolden } from '../helpers/golden.mjs';

const cases = readGolden();

async function layerFor(c, kernel) {
  const Cls = c.cell === 'gru' ? MinGRU : MinLSTM;
  const name = c.cell === 'gru' ? 'toHiddenAndGate' : 'toHiddenAndFIGate';
  const weights = c.wOut ? { [name]: c.wIn, toOut: c.wOut } : { [name]: c.wIn };
  return Cls.create({ dim: c.dim, expansionFactor: c.expansionFactor, weights, kernel });
}

test('golden fixture holds both cells, with and without to_out and prevHidden', () => {
  assert.ok(cases.length >= 10);
  for (const cell of ['gru', 'lstm']) {
    const mine = cases.filter((c) => c.cell === cell);
    assert.ok(mine.some((c) => c.wOut) && mine.some((c) => !c.wOut));
    assert.ok(mine.some((c) => c.prevHidden) && mine.some((c) => !c.prevHidden));
  }
});

for (const kernel of ['reference', 'simd']) {
  for (const c of cases) {
    test(`${c.name} (${kernel} kernel): forward matches PyTorch to 1e-4`, async () => {
      const layer = await layerFor(c, kernel);
      assert.equal(layer.dimInner, c.dimInner);
      const { output, hidden } = await layer.forward(c.x, { batch: c.batch, seqLen: c.seqLen, prevHidden: c.prevHidden });
      assert.ok(closeRatio(output, c.output, 1e-4, 1e-4) <= 1, `output off by ${closeRatio(output, c.output, 1e-4, 1e-4)}x`);
      assert.ok(closeRatio(hidden, c.hidden, 1e-4, 1e-4) <= 1, 'hidden');
      layer.dispose();
    });

    test(`${c.name} (${kernel} kernel): a loop of step matches PyTorch to 1e-4`, async () => {
      const layer = await layerFor(c, kernel);
      const { batch, seqLen, dim } = c;
      const output = new Float32Array(batch * seqLen * dim);
      let hidden = c.prevHidden;
      for (let t = 0; t < seqLen; t++) {
        const xt = new Float32Array(batch * dim);
        for (let b = 0; b < batch; b++) xt.set(c.x.subarray((b * seqLen + t) * dim, (b * seqLen + t + 1) * dim), b * dim);
        const r = await layer.step(xt, { batch, prevHidden: hidden });
        hidden = r.hidden;
        for (let b = 0; b < batch; b++) output.set(r.output.subarray(b * dim, (b + 1) * dim), (b * seqLen + t) * dim);
      }
      assert.ok(closeRatio(output, c.output, 1e-4, 1e-4) <= 1, 'output');
      assert.ok(closeRatio(hidden, c.hidden, 1e-4, 1e-4) <= 1, 'hidden');
      layer.dispose();
    });
  }
}

test('the reference and SIMD kernels agree to 1e-5 on a wider layer', async () => {
  const x = new Float32Array(3 * 37 * 67).map((_, i) => Math.cos(i * 1.3));
  const outs = [];
  for (const kernel of ['reference', 'simd']) {
    const layer = await MinLSTM.create({ dim: 67, expansionFactor: 1.5, seed: 5, kernel });
    outs.push(await layer.forward(x, { batch: 3 }));
    layer.dispose();
  }
  assert.ok(closeRatio(outs[1].output, outs[0].output, 1e-6, 1e-5) <= 1);
  assert.ok(closeRatio(outs[1].hidden, outs[0].hidden, 1e-6, 1e-5) <= 1);
  assert.ok(outs[0].output.some((v) => v !== 0));
});
