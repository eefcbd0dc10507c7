// Threads: the threaded build on 2, 3 and 4 threads gives what the single-thread build gives, bit for bit (the
// threads take rows, columns and channels, never parts of one sum: docs/kernels.md), for layers and language models;
// 'auto' takes the threaded build in Node; sleeping pool
// threads do not keep Node alive.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { before, test } from 'node:test';
import { load, MinGRU, MinLSTM } from '../../js/index.js';
import { getEngine } from '../../js/runtime.js';
import { buildOf } from '../helpers/backend.mjs';
import { randomFloats } from '../helpers/golden.mjs';
import { fixturePath, lmCases } from '../helpers/lm-fixtures.mjs';

const COUNTS = [1, 2, 3, 4];

// these models are small: without this the pool would run most of their jobs on one thread (jobs under 64 KB
// do), and the parallel paths would go untested; every other test runs with the default
before(async () => {
  for (const n of COUNTS.slice(1)) (await getEngine(n)).setMinParallelWork(0);
});

for (const Cls of [MinGRU, MinLSTM]) {
  test(`${Cls.name}: 1, 2, 3 and 4 threads give the same bits (forward over 1000 and 5 steps, step)`, async () => {
    const dim = 48, batch = 2;
    const results = [];
    for (const threads of COUNTS) {
      const layer = await Cls.create({ dim, expansionFactor: 1.5, seed: 11, threads });
      assert.deepEqual(layer.backend, { threads, simd: true, relaxedSimd: false, // Node 20: no relaxed SIMD
        fallbacks: ['relaxed SIMD: this engine has none; the plain SIMD build runs'] });
      const long = await layer.forward(randomFloats(batch * 1000 * dim, 3), { batch, seqLen: 1000 });
      const short = await layer.forward(randomFloats(batch * 5 * dim, 4), { batch, seqLen: 5 });
      const step = await layer.step(randomFloats(batch * dim, 5), { batch, prevHidden: long.hidden });
      results.push({ long, short, step });
      layer.dispose();
    }
    for (let i = 1; i < results.length; i++) {
      for (const k of ['long', 'short', 'step']) {
        assert.deepEqual(results[i][k].output, results[0][k].output, `${k} output, ${COUNTS[i]} threads`);
        assert.deepEqual(results[i][k].hidden, results[0][k].hidden, `${k} hidden, ${COUNTS[i]} threads`);
      }
    }
  });
}

test('language models: 1, 2, 3 and 4 threads give the same bits on forward (300 tokens) and step, F32 and Q8', async () => {
  for (const c of lmCases().filter((x) => x.files.q8 || x.convKernelSize)) {
    for (const file of [c.files.f32, c.files.q8].filter(Boolean)) {
      const tokens = Array.from({ length: 300 }, (_, i) => (i * 53 + 7) % 256);
      let first;
      for (const threads of COUNTS) {
        const lm = await load(fixturePath(file), { threads, warm: false }); // its steps on the pool, whatever is faster
        assert.equal(lm.backend.threads, threads);
        const s = lm.createState();
        const logits = await lm.forward(tokens, { state: s, allLogits: true });
        const step = await lm.step(42, { state: s });
        if (!first) first = { logits, step };
        else {
          assert.deepEqual(logits, first.logits, `${file} forward on ${threads} threads`);
          assert.deepEqual(step, first.step, `${file} step on ${threads} threads`);
        }
        lm.dispose();
      }
    }
  }
});

test("threads 'auto' takes the threaded build in Node, one thread per core up to 8; bad counts are refused", async () => {
  const lm = await load(fixturePath(lmCases()[0].files.f32));
  assert.deepEqual(buildOf(lm.backend), { threads: Math.min(8, availableParallelism()), simd: true, relaxedSimd: false, fallbacks: ['relaxed SIMD: this engine has none; the plain SIMD build runs'] });
  lm.dispose();
  for (const threads of [0, -1, 1.5, 17, 'many']) {
    await assert.rejects(load(fixturePath(lmCases()[0].files.f32), { threads }), (e) => e.code === 'MG_EINVAL' && /threads/.test(e.message));
    await assert.rejects(MinGRU.create({ dim: 4, threads }), (e) => e.code === 'MG_EINVAL' && /threads/.test(e.message));
  }
});

test('a Node program using the threaded build exits by itself when done', () => {
  const script = `import { load } from ${JSON.stringify(new URL('../../js/index.js', import.meta.url).href)};
    const lm = await load(${JSON.stringify(fixturePath(lmCases()[0].files.f32))}, { threads: 4 });
    await lm.forward([1, 2, 3]);
    console.log('threads', lm.backend.threads);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.signal, null, 'the process had to be killed: pool threads kept it alive');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /threads 4/);
});

test('an idle pool sleeps: after work, the process uses almost no CPU', async () => {
  const lm = await load(fixturePath(lmCases()[0].files.f32), { threads: 4 });
  await lm.forward(Array.from({ length: 500 }, (_, i) => i % 256));
  await new Promise((resolve) => setTimeout(resolve, 100)); // past the short spin after the last job
  const before = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const used = process.cpuUsage(before);
  const ms = (used.user + used.system) / 1000;
  assert.ok(ms < 100, `the idle pool used ${ms.toFixed(0)} ms of CPU in 1 s`);
  lm.dispose();
});

test('an engine without WebAssembly SIMD gets MG_ELOAD saying so (every build needs it), not a failed compile', async () => {
  const { simdMissing } = await import('../../js/runtime.js');
  assert.equal(simdMissing(), null, 'Node 20 has SIMD: the probe module validates');
  const validate = WebAssembly.validate;
  WebAssembly.validate = () => false; // as an engine without SIMD answers for the probe
  try {
    await assert.rejects(load(fixturePath(lmCases()[0].files.f32)), {
      code: 'MG_ELOAD',
      message: 'load: this engine has no WebAssembly SIMD, which every build of mingru needs (there is no build without it): ' +
        'Chrome and Edge 91, Firefox 114 and Safari 16.4 or later have it',
    });
  } finally {
    WebAssembly.validate = validate;
  }
});
