// The package in a real browser (Debian's chromium driven by playwright-core), from pages served on
// 127.0.0.1 with and without COOP/COEP: the threaded build is used when the page is cross-origin isolated
// and the single-thread build otherwise, with the same outputs, the PyTorch reference's logits; the engine runs in
// the package's worker, so the page keeps drawing frames during a long forward; no console errors.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { serve } from '../../scripts/serve.mjs';
import { closeRatio } from '../helpers/golden.mjs';
import { launch, skipBrowser as skip } from '../helpers/chromium.mjs';
import { expectedText } from '../helpers/expected-text.mjs';
import { lmCases } from '../helpers/lm-fixtures.mjs';


let browser;
const servers = [];
const results = {};

async function run(isolation) {
  const { server, url } = await serve({ isolation });
  servers.push(server);
  const page = await browser.newPage();
  const problems = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${url}/tests/browser/engine.html`);
  await page.waitForFunction(() => window.result, null, { timeout: 120000 });
  const result = await page.evaluate(() => window.result);
  await page.close();
  return { ...result, problems };
}

before(async () => {
  if (skip) return;
  browser = await launch();
  results.isolated = await run(true);
  results.plain = await run(false);
  for (const [k, r] of Object.entries(results)) console.log(`${k}: backend ${JSON.stringify(r.backend)}`);
});

after(async () => {
  await browser?.close();
  for (const s of servers) s.close();
});

test('a cross-origin isolated page gets the threaded build, a plain page the single-thread one', { skip }, () => {
  const { isolated, plain } = results;
  assert.deepEqual(isolated.errors, []);
  assert.deepEqual(plain.errors, []);
  assert.equal(isolated.isolated, true);
  assert.equal(plain.isolated, false);
  assert.ok(isolated.backend.threads > 1, `isolated page: ${JSON.stringify(isolated.backend)}`);
  assert.equal(isolated.backend.simd, true);
  const noThreads = 'threads: the page is not cross-origin isolated (serve it with COOP/COEP: README, Hosting); one thread runs';
  assert.deepEqual(isolated.backend.fallbacks, []);
  assert.deepEqual(plain.backend, { threads: 1, simd: true, relaxedSimd: true, // Chromium has relaxed SIMD
    fallbacks: [noThreads, 'lane: the page is not cross-origin isolated (serve it with COOP/COEP: README, Hosting); step() calls go by postMessage'] });
  assert.deepEqual(plain.layerBackend, { threads: 1, simd: true, relaxedSimd: true, fallbacks: [noThreads] });
  assert.equal(plain.threadsError, 'MG_ETHREADS');
  assert.equal(isolated.threadsError, null);
});

test('both builds give the PyTorch reference logits and the same outputs in the browser, and the API works through the worker', { skip }, () => {
  const { isolated, plain } = results;
  const reference = lmCases().find((c) => c.name === 'gru-d24-l3-conv3');
  for (const [k, r] of Object.entries(results)) {
    const off = closeRatio(Float32Array.from(r.fixtureLogits), reference.logits, 1e-4, 1e-4);
    assert.ok(off <= 1, `${k} page: off the reference logits by ${off.toFixed(2)}x the tolerance (1e-4)`);
  }
  assert.ok(closeRatio(Float32Array.from(isolated.logits), Float32Array.from(plain.logits), 1e-5, 1e-5) <= 1);
  assert.ok(closeRatio(Float32Array.from(isolated.layer), Float32Array.from(plain.layer), 1e-6, 1e-5) <= 1);
  assert.ok(Math.abs(isolated.evaluated.bits / plain.evaluated.bits - 1) < 1e-5);
  for (const r of [isolated, plain]) {
    assert.equal(r.evaluated.tokens, 11);
    assert.equal(r.evaluated.bitsPerByte, r.evaluated.bits / 11);
    assert.equal(r.config.dim, 24);
    assert.ok(r.progress.loaded > 0 && r.progress.loaded === r.progress.total);
    assert.ok(r.text.length > 0);
    assert.equal(r.text, r.textAgain, 'same seed, same text');
    assert.equal(r.restoredTokensAtOnce, undefined);
    assert.equal(r.restoredTokens, 2);
    assert.match(r.badStateBytes, /^MG_EBADFILE loadState: .*not a saved mingru state/);
    assert.match(r.foreignState, /^MG_EMISMATCH loadState: /);
    assert.equal(r.foreignStateInCall, 'MG_EMISMATCH step: the state belongs to another model');
    assert.equal(r.badTopP, 'MG_EINVAL generate: topP must be a number in (0, 1], got 2');
    assert.equal(r.disposedState, 'MG_EDISPOSED state.save: the state was disposed');
    assert.equal(r.busyReset, 'MG_EBUSY state.reset: a generate() or forward() is running on this state');
    assert.equal(r.afterBusyReset, 'resolved');
    assert.ok(r.tokensAfterBusyReset > 3, `the worker's count after the refused reset: ${r.tokensAfterBusyReset}`);
    assert.equal(r.sameStep, true);
    assert.equal(r.rangeError, 'MG_ERANGE');
    assert.equal(r.abortResult, 'MG_EABORTED', 'an aborted forward rejects');
    assert.equal(r.abortRestored, true, 'and leaves the state as it was');
    assert.equal(r.laneSame, true, 'a step by the lane gives the same logits as one by message');
    assert.deepEqual(r.laneTokens, [8, 8]);
    assert.equal(r.laneAtOnce, true, 'steps called at once are answered in order');
    assert.deepEqual(r.orderAcross, [0, 1], 'a save called before a step saves the state before it');
    assert.equal(r.laneForeign, 'MG_EMISMATCH step: the state belongs to another model');
    assert.match(r.laneRange, /^MG_ERANGE step: /);
    assert.match(r.laneDisposed, /^MG_EDISPOSED /);
    assert.equal(r.laneAfterReset, true, 'a reset not awaited comes before the next step');
    assert.equal(r.laneGenerated, true);
    assert.equal(r.laneTokensAfterReset, 1);
    assert.equal(r.laneAfterLinger, true);
    assert.equal(r.laneAfterLingerByLane, 0, 'the worker went back to its event loop: the step was a message');
    assert.match(r.unsendable, /^MG_EINVAL forward: an argument cannot be sent to the worker/);
    assert.equal(r.saveThenDispose, 'resolved', 'a save called before a dispose saves');
    assert.deepEqual(r.madeAfterCall, [0, 1], 'a reset after a step empties the state; a clone after a step has it');
  }
  // only the isolated page has a lane (SharedArrayBuffer); there, 7 of the 8 steps (the first wakes it) and both
  // refusals went by it
  assert.equal(results.isolated.laneSteps, 7);
  assert.equal(results.isolated.laneErrorsByLane, 2);
  assert.equal(results.isolated.laneAfterUnsendable, 8, 'steps still go by the lane after a call that could not be sent');
  assert.equal(results.plain.laneSteps, 0);
  assert.equal(results.plain.laneErrorsByLane, 0);
});

test('the page stays responsive during a long forward (frames are drawn while it runs)', { skip }, () => {
  for (const r of [results.isolated, results.plain]) assert.equal(r.longResult, 'MG_EABORTED', 'aborted after 3 frames drawn while it ran');
});

test('no console errors', { skip }, () => {
  assert.deepEqual(results.isolated.problems, []);
  assert.deepEqual(results.plain.problems, []);
});

// ---- where something is missing: a fallback, said in backend.fallbacks, never an exception

/** tests/browser/fallbacks.html's result, served with `headers` added to every answer. */
async function fallbackPage(query, { isolation = true, headers = {} } = {}) {
  const { server, url } = await serve({ isolation, route: (req, res, base) => Object.assign(base, headers) && false });
  servers.push(server);
  const page = await browser.newPage();
  await page.goto(`${url}/tests/browser/fallbacks.html${query}`);
  await page.waitForFunction(() => window.result, null, { timeout: 120000 });
  const result = await page.evaluate(() => window.result);
  await page.close();
  return result;
}

test('a cross-origin isolated page without SharedArrayBuffer (as WebKit) loads and generates; its steps go by postMessage', { skip }, async () => {
  const r = await fallbackPage('?nosab');
  assert.deepEqual(r.errors, []);
  assert.equal(r.isolated, true);
  // the worker here still has SharedArrayBuffer (only the page's was taken away): its threads run, the page has no lane
  assert.deepEqual(r.backend.fallbacks, ['lane: SharedArrayBuffer is not defined; step() calls go by postMessage']);
  assert.equal(r.text, await expectedText('And God said', { threads: r.backend.threads, relaxed: r.backend.relaxedSimd }));
});

test('a page whose policy forbids workers runs the engine on its main thread, one thread, with the same text', { skip }, async () => {
  const r = await fallbackPage('', { headers: { 'Content-Security-Policy': "worker-src 'none'" } });
  assert.deepEqual(r.errors, []);
  assert.equal(r.backend.threads, 1);
  assert.equal(r.backend.fallbacks.length, 1, JSON.stringify(r.backend.fallbacks));
  assert.match(r.backend.fallbacks[0], /^worker: .*; the engine runs on the page's main thread, on one thread \(long calls pause the page\)$/);
  assert.equal(r.text, await expectedText('And God said', { threads: 1, relaxed: r.backend.relaxedSimd }));
  const usual = await fallbackPage('');
  assert.ok(closeRatio(Float32Array.from(r.steps.flat()), Float32Array.from(usual.steps.flat()), 1e-5, 1e-5) <= 1, 'the logits of the worker');
});

test("a page whose policy forbids the thread pool's blob: workers falls back to one thread, said, with the same text", { skip, timeout: 180000 }, async () => {
  const r = await fallbackPage('', { headers: { 'Content-Security-Policy': "worker-src 'self'" } });
  assert.deepEqual(r.errors, []);
  assert.equal(r.backend.threads, 1);
  assert.equal(r.backend.fallbacks.length, 1, JSON.stringify(r.backend.fallbacks));
  assert.match(r.backend.fallbacks[0], /^threads: the threaded build did not start \(.*\); one thread runs$/);
  assert.equal(r.text, await expectedText('And God said', { threads: 1, relaxed: r.backend.relaxedSimd }));
});
