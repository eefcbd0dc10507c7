// What load()'s warm-up adds to a model's backend (js/warm.js), checked alike in Node and in the pages' results.
import assert from 'node:assert/strict';

/** The build a backend names, without the warm-up's report: { threads, simd, relaxedSimd, fallbacks }. */
export const buildOf = ({ stepThreads, forwardThreads, warm, ...build }) => build;

/** Asserts the warm-up's report: with `warmed`, warm = { ms, settled, stepUs, forwardUs } (both measured on more than
 * one thread: the pool is kept for steps, and for forwards, only where its worse turn was at least 1.1x faster than
 * one thread's better one), else warm null and every pass on the pool. */
export function assertWarmReport(backend, { warmed = true } = {}) {
  const { threads, stepThreads, forwardThreads, warm } = backend;
  const what = JSON.stringify(backend);
  if (!warmed) {
    assert.equal(warm, null, what);
    assert.equal(stepThreads, threads, what);
    assert.equal(forwardThreads, threads, what);
    return;
  }
  assert.deepEqual(Object.keys(warm).sort(), ['forwardUs', 'ms', 'settled', 'stepUs'], what);
  assert.ok(Number.isFinite(warm.ms) && warm.ms > 0, what);
  assert.equal(typeof warm.settled, 'boolean', what);
  for (const [kind, chosen] of [['stepUs', stepThreads], ['forwardUs', forwardThreads]]) {
    if (threads === 1) {
      assert.equal(warm[kind], null, what);
      assert.equal(chosen, 1, what);
      continue;
    }
    const { oneThread, pool } = warm[kind];
    assert.ok(oneThread > 0 && pool > 0, what);
    assert.equal(chosen, pool * 1.1 <= oneThread ? threads : 1, `the faster place (${kind}): ${what}`);
  }
}
