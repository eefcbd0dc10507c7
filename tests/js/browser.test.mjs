// The package in three browser engines (tests/helpers/browsers.mjs: Chromium, Firefox, WebKit), from pages served on
// 127.0.0.1 with and without COOP/COEP. tests/browser/engine.html runs the API through the package's worker: the
// threaded build where the page is cross-origin isolated and has SharedArrayBuffer, the single-thread one otherwise,
// with the same outputs and the PyTorch fixture's logits; states and errors through the worker and the lane; the page
// keeps drawing frames during a long forward (one that held the page's thread would end before a frame); no console
// errors. Where something is missing (no SharedArrayBuffer, a policy that forbids workers or the thread pool's blob:
// workers) the engine falls back, says so in backend.fallbacks, and gives the same text (tests/browser/fallbacks.html).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { load } from '../../js/index.js';
import { serve } from '../../scripts/serve.mjs';
import { assertWarmReport, buildOf } from '../helpers/backend.mjs';
import { available, expectedFallbacks as fallbacks, HAS, openBrowser } from '../helpers/browsers.mjs';
import { expectedText } from '../helpers/expected-text.mjs';
import { closeRatio } from '../helpers/golden.mjs';
import { lmCases } from '../helpers/lm-fixtures.mjs';

const NO_SAB = 'SharedArrayBuffer is not defined';

/** The PyTorch fixture engine.html loads. */
const FIXTURE = lmCases().find((c) => c.name === 'gru-d24-l3-conv3');

/** A test page's window.result (tests/browser/run.js), when it comes; after two minutes, an error that says where
 * the page was (its window.stage, where it sets one). Runs in the page. */
async function result() {
  for (let t = 0; t < 1200 && !window.result; t++) await new Promise((ok) => setTimeout(ok, 100));
  return window.result ?? { errors: [`no result in 120 s; the page was at: ${window.stage ?? '(no stage)'}`] };
}

for (const engine of ['chromium', 'firefox', 'webkit']) {
  describe(engine, { skip: available(engine) }, () => {
    let browser;
    const servers = [];
    const results = {};

    /** The window.result of the page at `path`, served with or without COOP/COEP, with `headers` added to every answer. */
    async function page(path, { isolation = true, headers = {} } = {}) {
      const { server, url } = await serve({ isolation, route: (req, res, base) => Object.assign(base, headers) && false });
      servers.push(server);
      await browser.goto(`${url}${path}`);
      return { ...await browser.evaluate(result), url };
    }

    before(async () => {
      browser = await openBrowser(engine);
      for (const [name, isolation] of [['isolated', true], ['plain', false]]) {
        const r = results[name] = await page('/tests/browser/engine.html', { isolation });
        console.log(`${browser.version}, ${name}: backend ${JSON.stringify(r.backend)}`);
      }
      results.problems = await browser.errors();
    });

    after(async () => {
      await browser?.close();
      for (const s of servers) s.close();
    });

    test('an isolated page gets the threaded build where it has SharedArrayBuffer, a plain page the single-thread one; backend says why', () => {
      const { isolated, plain } = results;
      assert.deepEqual(isolated.errors, []);
      assert.deepEqual(plain.errors, []);
      assert.equal(isolated.isolated, true);
      assert.equal(plain.isolated, false);
      assert.equal(isolated.backend.threads > 1, HAS[engine].sab, `isolated page: ${JSON.stringify(isolated.backend)}`);
      assert.deepEqual({ ...buildOf(isolated.backend), threads: 0 }, { threads: 0, simd: true, relaxedSimd: HAS[engine].relaxed, fallbacks: fallbacks(engine, true) });
      assert.deepEqual(buildOf(plain.backend), { threads: 1, simd: true, relaxedSimd: HAS[engine].relaxed, fallbacks: fallbacks(engine, false) });
      assertWarmReport(isolated.backend); // load() warmed the model in the worker, and measured its steps on threads
      assertWarmReport(plain.backend);
      assert.deepEqual(plain.layerBackend, { threads: 1, simd: true, relaxedSimd: HAS[engine].relaxed, fallbacks: fallbacks(engine, false, { lane: false }) });
      assert.equal(plain.threadsError, 'MG_ETHREADS');
      assert.equal(isolated.threadsError, HAS[engine].sab ? null : 'MG_ETHREADS');
      // in Firefox the page starts the pool's workers, not the engine's worker (a worker's new Worker() hung for good
      // now and then there, and load() with it); elsewhere the engine's worker starts them
      const byPage = engine === 'firefox' ? isolated.backend.threads - 1 : 0;
      assert.deepEqual(isolated.pageWorkers, ['mingru', ...Array(byPage).fill('mingru pool')]);
      assert.deepEqual(plain.pageWorkers, ['mingru']);
    });

    test("both pages give the PyTorch fixture's logits and each other's outputs; the API works through the worker", () => {
      const { isolated, plain } = results;
      for (const r of [isolated, plain]) {
        const off = closeRatio(Float32Array.from(r.fixtureLogits), FIXTURE.logits, 1e-4, 1e-4);
        assert.ok(off <= 1, `off the PyTorch reference's logits by ${off.toFixed(2)}x the tolerance (1e-4)`);
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
        assert.equal(r.restoredTokensAtOnce, 'undefined');
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
      // only an isolated page with SharedArrayBuffer has a lane; there, 7 of the 8 steps (the first wakes it) and both
      // refusals went by it
      const lane = HAS[engine].sab;
      assert.equal(isolated.laneSteps, lane ? 7 : 0);
      assert.equal(isolated.laneErrorsByLane, lane ? 2 : 0);
      assert.equal(isolated.laneAfterUnsendable, lane ? 8 : 0, 'steps still go by the lane after a call that could not be sent');
      assert.equal(plain.laneSteps, 0);
      assert.equal(plain.laneErrorsByLane, 0);    });

    test('the page keeps drawing frames during a long forward (it is aborted after 3 frames drawn while it ran)', () => {
      for (const r of [results.isolated, results.plain]) assert.equal(r.longResult, 'MG_EABORTED');
    });

    test("a predictor through the worker gives Node's suggestions; a keystroke cancels the request it overtakes", async () => {
      const lm = await load(readFileSync(new URL('../fixtures/lm/gru-d32-l2.q8.safetensors', import.meta.url)), { threads: 1 });
      const p = lm.predictor({ count: 3, minChars: 1 }); // (a random model's likeliest words are of one letter)
      const want = [];
      for (const [op, arg] of [['input', 'In the beginning God cre'], ['input', 'ated th'], ['delete', 2], ['set', 'And God said, Let there be '], ['input', 'l']]) {
        await p[op](arg);
        if (op !== 'input' || arg !== 'ated th') want.push(await p.suggestions());
      }
      lm.dispose();
      for (const r of [results.isolated, results.plain]) {
        assert.ok(want.every((s) => s.length > 0));
        assert.deepEqual(r.predicted, want);
        assert.deepEqual(r.predictOvertaken, []);
        assert.match(r.predictBad, /^MG_EINVAL predictor: until must be/);
        assert.match(r.predictDisposed, /^MG_EDISPOSED/);
      }
    });

    test('no console errors', () => {
      assert.deepEqual(results.problems, []);
    });

    // ---- where something is missing: a fallback, said in backend.fallbacks, never an exception

    test('an isolated page without SharedArrayBuffer (simulated where the engine has it) loads and generates; its steps go by postMessage', { skip: !HAS[engine].sab && 'this engine has no SharedArrayBuffer: the isolated page above is the real case' }, async () => {
      const r = await page('/tests/browser/fallbacks.html?nosab');
      assert.deepEqual(r.errors, []);
      assert.equal(r.isolated, true);
      // the worker here still has SharedArrayBuffer (only the page's was taken away): its threads run, the page has no lane
      assert.deepEqual(r.backend.fallbacks, [`lane: ${NO_SAB}; step() calls go by postMessage`]);
      assert.equal(r.text, await expectedText('And God said', { threads: r.backend.threads, relaxed: r.backend.relaxedSimd }));
    });

    test('a page whose policy forbids workers runs the engine on its main thread, one thread, with the same text', async () => {
      const r = await page('/tests/browser/fallbacks.html', { headers: { 'Content-Security-Policy': "worker-src 'none'" } });
      assert.deepEqual(r.errors, []);
      assert.equal(r.backend.threads, 1);
      const worker = r.backend.fallbacks.filter((f) => f.startsWith('worker: '));
      assert.equal(worker.length, 1, JSON.stringify(r.backend.fallbacks));
      assert.match(worker[0], /^worker: .*; the engine runs on the page's main thread, on one thread \(long calls pause the page\)$/);
      assert.equal(r.text, await expectedText('And God said', { threads: 1, relaxed: r.backend.relaxedSimd }));
      const usual = await page('/tests/browser/fallbacks.html');
      assert.deepEqual(usual.errors, []);
      assert.ok(closeRatio(Float32Array.from(r.steps.flat()), Float32Array.from(usual.steps.flat()), 1e-5, 1e-5) <= 1, 'the logits of the worker');
    });

    test("a page whose policy forbids the thread pool's blob: workers falls back to one thread, said, with the same text", { skip: !HAS[engine].sab && 'this engine has no threads to fall back from', timeout: 180000 }, async () => {
      const r = await page('/tests/browser/fallbacks.html', { headers: { 'Content-Security-Policy': "worker-src 'self'" } });
      assert.deepEqual(r.errors, []);
      assert.equal(r.backend.threads, 1);
      assert.equal(r.backend.fallbacks.length, 1, JSON.stringify(r.backend.fallbacks));
      assert.match(r.backend.fallbacks[0], /^threads: the threaded build did not start \(.*\); one thread runs$/);
      assert.equal(r.text, await expectedText('And God said', { threads: 1, relaxed: r.backend.relaxedSimd }));
    });
  });
}
