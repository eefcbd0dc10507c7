// lm.evaluate(): the bits a model needs for a text, against the cross-entropy of the PyTorch reference's own logits
// (tools/lm_fixtures.py), computed here in doubles; from a state; aborted; refused.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { load } from '../../js/index.js';
import { fixturePath, lmCases } from '../helpers/lm-fixtures.mjs';

const cases = lmCases();
const gru = cases.find((c) => c.cell === 'gru' && c.convKernelSize && !c.oldNorm);

/** -log2 softmax(logits[t-1])[tokens[t]] summed over t = from..T-1, from PyTorch's logits [T, V]. */
function referenceBits({ tokens, logits, V }, from = 1) {
  let bits = 0;
  for (let t = from; t < tokens.length; t++) {
    const row = Array.from(logits.subarray((t - 1) * V, t * V));
    const max = Math.max(...row);
    const logSum = Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0)) + max;
    bits += (logSum - row[tokens[t]]) / Math.LN2;
  }
  return bits;
}

for (const c of cases) {
  test(`${c.name}: evaluate gives PyTorch's cross-entropy over ${c.T - 1} predictions to 1e-4`, async () => {
    const lm = await load(fixturePath(c.files.f32));
    const r = await lm.evaluate(c.tokens);
    const want = referenceBits(c);
    assert.equal(r.tokens, c.T - 1);
    assert.ok(Math.abs(r.bits / want - 1) < 1e-4, `${r.bits} bits, PyTorch ${want}`);
    assert.ok(Math.abs(r.bitsPerToken - want / (c.T - 1)) < 1e-4 * r.bitsPerToken);
    lm.dispose();
  });
}

test('with a state every token is predicted from it: a prefix and the rest add up to the whole, the state ends after them', async () => {
  const lm = await load(fixturePath(gru.files.f32));
  const s = lm.createState();
  await lm.forward(gru.tokens.slice(0, 10), { state: s });
  const rest = await lm.evaluate(gru.tokens.slice(10), { state: s });
  assert.equal(rest.tokens, gru.T - 10);
  assert.equal(s.tokens, gru.T);
  assert.ok(Math.abs(rest.bits / referenceBits(gru, 10) - 1) < 1e-4);
  const head = await lm.evaluate(gru.tokens.slice(0, 10));
  const whole = await lm.evaluate(gru.tokens);
  assert.ok(Math.abs((head.bits + rest.bits) / whole.bits - 1) < 1e-5, `${head.bits} + ${rest.bits} vs ${whole.bits}`);
  // an empty state predicts nothing for the first token, as without a state
  assert.equal((await lm.evaluate(gru.tokens, { state: lm.createState() })).bits, whole.bits);
  lm.dispose();
});

test('text is its UTF-8 bytes for the byte tokenizer; bits per byte are bits per token there', async () => {
  const lm = await load(fixturePath(gru.files.f32));
  const text = 'Héllo, wörld: a short text.';
  const a = await lm.evaluate(text), b = await lm.evaluate(lm.encode(text));
  assert.deepEqual(a, b);
  assert.equal(a.tokens, lm.encode(text).length - 1);
  assert.equal(a.bitsPerByte, a.bits / a.tokens);
  lm.dispose();
});

test('an aborted evaluate rejects with MG_EABORTED and leaves the state as it was; bad data is refused', async () => {
  const lm = await load(fixturePath(gru.files.f32));
  const s = lm.createState();
  await lm.forward([1, 2, 3], { state: s });
  const before = await s.save();
  const controller = new AbortController();
  const long = Array.from({ length: 50000 }, (_, i) => (i * 31) % 256);
  const run = lm.evaluate(long, { state: s, signal: controller.signal });
  await assert.rejects(lm.step(1, { state: s }), (e) => e.code === 'MG_EBUSY');
  controller.abort();
  await assert.rejects(run, (e) => e.code === 'MG_EABORTED' && e.message === 'evaluate was aborted');
  assert.deepEqual(await s.save(), before);
  for (const [data, code, message] of [[42, 'MG_EINVAL', /tokens must be an array/], ['', 'MG_EINVAL', /at least one token/],
    [[1, 256], 'MG_ERANGE', /token 256 at position 1/], [[1.5], 'MG_EINVAL', /not an integer/]]) {
    await assert.rejects(lm.evaluate(data), (e) => e.code === code && message.test(e.message), `${JSON.stringify(data)}`);
  }
  await assert.rejects(lm.evaluate([1, 2], { state: {} }), (e) => e.code === 'MG_EINVAL');
  lm.dispose();
});

test('evaluate(): the demo model gives the same bits on 1, 2 and 3 threads, F32 and Q8 (README, Browser support)', async () => {
  const text = readFileSync(new URL('../fixtures/romans-1.txt', import.meta.url));
  for (const file of ['kjv.safetensors', 'kjv.q8.safetensors']) {
    const bits = [];
    for (const threads of [1, 2, 3]) {
      const lm = await load(new URL(`../../models/${file}`, import.meta.url).pathname, { threads });
      bits.push((await lm.evaluate(text)).bits);
      lm.dispose();
    }
    assert.deepEqual(bits, [bits[0], bits[0], bits[0]], file);
  }
});
