// What load()'s warm-up adds to a model's backend (js/warm.js), checked alike in Node and in the pages' results.
import assert from 'node:assert/strict';

/** The build a backend names, without the warm-up's report: { threads, simd, relaxedSimd, fallbacks }. */
export const buildOf = ({ stepThreads, warm, ...build }) => build;

/** Asserts the warm-up's report: with `warmed`, warm = { ms, settled, stepUs } (stepUs measured on more than one
 * thread: the pool is kept for steps only where its worst turn was at least 1.1x faster than one thread's best
 * one), else warm null and the steps on the pool. */
export function assertWarmReport(backend, { warmed = true } = {}) {
  const { threads, stepThreads, warm } = backend;
  const what = JSON.stringify(backend);
  if (!warmed) {
    assert.equal(warm, null, what);
    assert.equal(stepThreads, threads, what);
    return;
  }
  assert.deepEqual(Object.keys(warm).sort(), ['ms', 'settled', 'stepUs'], what);
  assert.ok(Number.isFinite(warm.ms) && warm.ms > 0, what);
  assert.equal(typeof warm.settled, 'boolean', what);
  if (threads === 1) {
    assert.equal(warm.stepUs, null, what);
    assert.equal(stepThreads, 1, what);
    return;
  }
  const { oneThread, pool } = warm.stepUs;
  assert.ok(oneThread > 0 && pool > 0, what);
  assert.equal(stepThreads, pool * 1.1 <= oneThread ? threads : 1, `the faster place for steps: ${what}`);
}
