// Language models converted by tools/convert.py against the PyTorch reference of minLM
// (tools/reference.py MinLMRef, via tools/lm_fixtures.py), and the engine's own consistency:
// forward then step equals forward over the longer sequence, states save and restore, tokens are checked.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, MingruError } from '../../js/index.js';
import { closeRatio } from '../helpers/golden.mjs';
import { fixturePath, lmCases } from '../helpers/lm-fixtures.mjs';

const cases = lmCases();

test('the fixtures cover minGRU and minLSTM, with and without conv, several sizes, an old minGRULM', () => {
  assert.ok(cases.some((c) => c.cell === 'gru' && c.convKernelSize) && cases.some((c) => c.cell === 'gru' && !c.convKernelSize));
  assert.ok(cases.some((c) => c.cell === 'lstm' && c.convKernelSize) && cases.some((c) => c.cell === 'lstm' && !c.convKernelSize));
  assert.ok(new Set(cases.map((c) => c.dim)).size >= 3);
  assert.ok(cases.some((c) => c.oldNorm));
});

for (const c of cases) {
  for (const kernel of ['reference', 'simd']) {
    test(`${c.name} (${kernel} kernel): logits over ${c.T} tokens match PyTorch to 1e-4`, async () => {
      const lm = await load(fixturePath(c.files.f32), { kernel });
      assert.equal(lm.config.cell, c.cell);
      assert.equal(lm.config.dim, c.dim);
      assert.equal(lm.config.depth, c.depth);
      assert.equal(lm.config.convKernelSize, c.convKernelSize);
      const state = lm.createState();
      const logits = await lm.forward(c.tokens, { state, allLogits: true });
      const r = closeRatio(logits, c.logits, 1e-4, 1e-4);
      assert.ok(r <= 1, `logits off by ${r.toFixed(2)}x the tolerance`);
      assert.equal(state.tokens, c.T);
      lm.dispose();
    });
  }

  test(`${c.name}: forward over a prefix, then step token by token, equals the reference and one long forward`, async () => {
    const lm = await load(fixturePath(c.files.f32));
    const V = lm.config.numTokens;
    for (const split of [1, 17, c.T - 1]) {
      const state = lm.createState();
      const got = new Float32Array(c.T * V);
      got.set(await lm.forward(c.tokens.slice(0, split), { state, allLogits: true }));
      for (let t = split; t < c.T; t++) got.set(await lm.step(c.tokens[t], { state }), t * V);
      assert.ok(closeRatio(got, c.logits, 1e-4, 1e-4) <= 1, `split ${split} vs PyTorch`);
      state.dispose();
    }
    lm.dispose();
  });
}

test('a prefill longer than one block (128 tokens) equals a loop of step and any split of forward', async () => {
  for (const c of cases.filter((x) => x.convKernelSize)) {
    const lm = await load(fixturePath(c.files.f32));
    const tokens = Array.from({ length: 300 }, (_, i) => (i * 37 + 11) % 256);
    const whole = await lm.forward(tokens, { allLogits: true });
    const s1 = lm.createState();
    const a = await lm.forward(tokens.slice(0, 130), { state: s1, allLogits: true });
    const b = await lm.forward(tokens.slice(130), { state: s1, allLogits: true });
    const split = new Float32Array(whole.length);
    split.set(a), split.set(b, a.length);
    assert.ok(closeRatio(split, whole, 1e-5, 1e-5) <= 1, `${c.name}: forward split at 130`);
    const s2 = lm.createState();
    const stepped = new Float32Array(whole.length);
    for (let t = 0; t < tokens.length; t++) stepped.set(await lm.step(tokens[t], { state: s2 }), t * 256);
    assert.ok(closeRatio(stepped, whole, 1e-5, 1e-5) <= 1, `${c.name}: 300 steps vs forward`);
    lm.dispose();
  }
});

test('forward without allLogits gives the last row of allLogits bit for bit, and the same state (the last layer computes only the last rows), F32 and Q8, 1 and 2 threads', async () => {
  // src/lm.c: the last layer's output and the head start at the last row's group of four; tests/c/test-lm.c checks
  // this on one thread, here also the pool's split of the products
  const c = cases.find((x) => x.files.q8) ?? cases[0];
  for (const file of [c.files.f32, c.files.q8].filter(Boolean)) {
    for (const threads of [1, 2]) {
      const lm = await load(fixturePath(file), { threads });
      const V = lm.config.numTokens;
      for (const n of [3, 4, 8, 129, 132, 300]) {
        const tokens = Array.from({ length: n }, (_, i) => (i * 37 + 11) % V);
        const sa = lm.createState(), sb = lm.createState();
        const all = await lm.forward(tokens, { state: sa, allLogits: true }), last = await lm.forward(tokens, { state: sb });
        const row = all.subarray((n - 1) * V);
        assert.ok(row.every((x, i) => Object.is(x, last[i])), `${file}, ${threads} thread(s), ${n} tokens: the last logits differ`);
        const [a, b] = [await lm.step(5, { state: sa }), await lm.step(5, { state: sb })];
        assert.ok(a.every((x, i) => Object.is(x, b[i])), `${file}, ${threads} thread(s), ${n} tokens: the states differ`);
        sa.dispose(), sb.dispose();
      }
      lm.dispose();
    }
  }
});

for (const c of cases.filter((x) => x.files.f16)) {
  test(`${c.name}: the F16 file gives logits within 5e-3 of PyTorch's F32`, async () => {
    const lm = await load(fixturePath(c.files.f16));
    const logits = await lm.forward(c.tokens, { allLogits: true });
    assert.ok(closeRatio(logits, c.logits, 5e-3, 0) <= 1, `max error ${closeRatio(logits, c.logits, 1, 0)}`);
    lm.dispose();
  });
}

// Q8: int8 weights and 7-bit activations (the one Q8 arithmetic, docs/kernels.md). Measured against PyTorch's F32
// (max |diff|, mean): gru-d32-l2 0.058, 0.0095; lstm-d32-l2 0.048, 0.0085; tiny-gru-d4-l2-conv2 0.020, 0.0039. With
// the int16 activations of the plain builds before 2026-12-06 these were 0.021, 0.0033; 0.018, 0.0033; 0.009, 0.0017,
// under the bounds of 0.05 and 0.01 then; the bounds are now 0.08 and 0.015. (These fixtures are random, untrained
// models; the demo model's Q8 bits per byte are within 0.5% of F32's: tests/js/relaxed.test.mjs.)
for (const c of cases.filter((x) => x.files.q8)) {
  test(`${c.name}: the Q8 file's logits stay close to F32 (max |diff| <= 0.08, mean <= 0.015)`, async () => {
    const lm = await load(fixturePath(c.files.q8));
    assert.equal(lm.config.quantized, true);
    const logits = await lm.forward(c.tokens, { allLogits: true });
    let max = 0, sum = 0;
    for (let i = 0; i < logits.length; i++) {
      const d = Math.abs(logits[i] - c.logits[i]);
      max = Math.max(max, d);
      sum += d;
    }
    const mean = sum / logits.length;
    assert.ok(max <= 0.08 && mean <= 0.015, `q8 max |diff| ${max}, mean ${mean}`);
    lm.dispose();
  });
}

test('states: save/load, clone, reset; a state from another model is refused', async () => {
  const c = cases.find((x) => x.convKernelSize && x.cell === 'gru');
  const lm = await load(fixturePath(c.files.f32));
  const other = await load(fixturePath(cases.find((x) => x !== c).files.f32));
  const s = lm.createState();
  await lm.forward(c.tokens.slice(0, 20), { state: s });
  const bytes = await s.save();
  assert.ok(bytes.length < 16384, `a state is ${bytes.length} bytes`);
  const restored = lm.loadState(bytes);
  const branch = s.clone();
  assert.equal(restored.tokens, 20);
  const want = await lm.step(c.tokens[20], { state: s });
  assert.deepEqual(await lm.step(c.tokens[20], { state: restored }), want);
  assert.deepEqual(await lm.step(c.tokens[20], { state: branch }), want);
  await lm.step(5, { state: branch });
  assert.deepEqual(await lm.step(c.tokens[21], { state: restored }), await lm.step(c.tokens[21], { state: s }), 'clone is independent');
  s.reset();
  assert.equal(s.tokens, 0);
  const fresh = await lm.forward(c.tokens.slice(0, 3), { state: s, allLogits: true });
  assert.ok(closeRatio(fresh, c.logits.subarray(0, 3 * 256), 1e-4, 1e-4) <= 1, 'reset state starts over');

  assert.throws(() => other.loadState(bytes), (e) => e.code === 'MG_EMISMATCH' && /another model/.test(e.message));
  const corrupt = bytes.slice();
  corrupt[0] = 0;
  assert.throws(() => lm.loadState(corrupt), (e) => e.code === 'MG_EBADFILE');
  assert.throws(() => lm.loadState(bytes.subarray(0, 100)), (e) => e.code === 'MG_EBADFILE');
  await assert.rejects(other.step(1, { state: s }), (e) => e.code === 'MG_EMISMATCH');
  lm.dispose();
  other.dispose();
  await assert.rejects(s.save(), (e) => e.code === 'MG_EDISPOSED');
});

test('token ids out of range are refused (MG_ERANGE) and leave the state untouched', async () => {
  const c = cases[0];
  const lm = await load(fixturePath(c.files.f32));
  const s = lm.createState();
  await lm.forward(c.tokens.slice(0, 5), { state: s });
  await assert.rejects(lm.forward([1, 2, 256], { state: s }), (e) => e instanceof MingruError && e.code === 'MG_ERANGE' && /token 256 at position 2/.test(e.message));
  await assert.rejects(lm.step(-1, { state: s }), (e) => e.code === 'MG_ERANGE');
  await assert.rejects(lm.step(1.5, { state: s }), (e) => e.code === 'MG_EINVAL');
  await assert.rejects(lm.forward([], { state: s }), (e) => e.code === 'MG_EINVAL');
  await assert.rejects(lm.forward('abc', { state: s }), (e) => e.code === 'MG_EINVAL');
  await assert.rejects(lm.forward([1], { state: {} }), (e) => e.code === 'MG_EINVAL');
  assert.equal(s.tokens, 5);
  const got = await lm.forward(c.tokens.slice(5, 8), { state: s, allLogits: true });
  assert.ok(closeRatio(got, c.logits.subarray(5 * 256, 8 * 256), 1e-4, 1e-4) <= 1);
  lm.dispose();
  await assert.rejects(lm.step(1), (e) => e.code === 'MG_EDISPOSED');
});

test('BF16 tensors are converted at load (a file rewritten to BF16 stays within 0.05 of the F32 logits)', async () => {
  const { readFileSync } = await import('node:fs');
  const c = cases.find((x) => x.convKernelSize && x.cell === 'lstm');
  const src = readFileSync(fixturePath(c.files.f32));
  const n = Number(src.readBigUInt64LE(0));
  const header = JSON.parse(src.subarray(8, 8 + n).toString());
  const data = src.subarray(8 + n);
  const parts = [];
  let offset = 0;
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const f32 = new Float32Array(data.buffer.slice(data.byteOffset + t.data_offsets[0], data.byteOffset + t.data_offsets[1]));
    const bf = new Uint16Array(f32.length);
    const bits = new Uint32Array(f32.buffer);
    for (let i = 0; i < f32.length; i++) bf[i] = (bits[i] + 0x7fff + ((bits[i] >>> 16) & 1)) >>> 16; // round to nearest even
    header[name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + bf.byteLength] };
    parts.push(new Uint8Array(bf.buffer));
    offset += bf.byteLength;
  }
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const lm = await load(Buffer.concat([len, h, ...parts]));
  const logits = await lm.forward(c.tokens, { allLogits: true });
  assert.ok(closeRatio(logits, c.logits, 0.05, 0) <= 1, `max error ${closeRatio(logits, c.logits, 1, 0)}`);
  assert.ok(closeRatio(logits, c.logits, 1e-4, 1e-4) > 1, 'BF16 rounding should be visible');
  lm.dispose();
});
