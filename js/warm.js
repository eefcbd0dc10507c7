// warm.js — load()'s warm-up: a short run of the model's own passes before load() resolves, so that the first real
// call runs the engine's optimized code, and the measurement that decides where the model's steps run.
//
// V8 (Chromium, Node) first runs WebAssembly in its baseline compiler (Liftoff); a function that has run a while
// (a budget of about the bytes of code it executed) is compiled again by the optimizing compiler (TurboFan), in the
// background, and its next call takes the new code. So a user's first generate ran at about half speed (the demo
// model's Q8 generate in Chromium 156: 2,931 tokens/s, then 5,829, 2026-12-06). The warm-up runs, in turns, a
// 19-token forward (the prefill's products over blocks of rows, with a tail, the scan over time) and a few tokens of
// generate() (the step's products of one row, the sampler, the JavaScript around them; step() calls for a model that
// does not generate text), until neither gets faster: their code has been optimized. Firefox, which compiles the
// whole module with its optimizing tier in the background, settles after the first turns.
//
// Then, on more than one thread, where the model's steps run: on the pool, or on the calling thread alone
// (mg_model_set_step_threads), whichever the measurement finds faster, steps of each in turn. A step of a small
// model lasts a few hundred microseconds, and handing its products to the pool does not always pay (the demo model's
// Q8 generate in Firefox ESR 153: 4,454-4,736 tokens/s on 2 threads, 5,359-5,865 on one). The pool is kept only
// where it is clearly faster: its results are the same bits, so only the speed depends on the choice.
import { yieldToEventLoop } from './runtime.js';

const WARM_MS = 80; // the warm-up stops here even if it still gets faster (a large model, a busy machine)
const TURN_MS = 2; // each turn runs steps for at least this long
const SETTLED = 2; // turns in a row without a gain of more than 10%: the code is optimized
const ROUNDS = 4; // turns of each place the measurement times (at least 2, and fewer past LIMIT_MS)
const LIMIT_MS = 120; // the measurement takes no more turns past this
const POOL_GAIN = 1.2; // the pool must be this much faster than one thread to be kept for steps

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/**
 * Warms the model's code and chooses where its steps run. `lm` is a Model just loaded (model.js); returns what goes
 * into its backend: { stepThreads, warm: { ms, settled, stepUs: { oneThread, pool } | null } } (index.d.ts).
 */
export async function warmUp(lm, what = 'load') {
  const engine = lm._engine, m = lm._live(what), now = () => performance.now();
  const t0 = now();
  const { numTokens: V, numOutputs } = lm.config;
  const ids = Int32Array.from({ length: 19 }, (_, i) => (i * 7919 + 1) % V);
  const state = lm.createState();
  // generate() where the model generates text (it has a tokenizer and samples its outputs), else step() calls: the
  // user's own calls, so that their JavaScript warms too
  const generates = lm.tokenizer !== null && numOutputs === V;
  // the sampler's paths in turn: the default (the whole softmax), greedy, and every filter
  const samplings = [{}, { temperature: 0 }, { temperature: 0.8, topK: 40, topP: 0.9, minP: 0.01, repetitionPenalty: 1.1 }];
  let turn = 0;
  /** `n` steps; returns the time of one, ms */
  const steps = async (n) => {
    const t = now();
    if (generates) {
      const sampling = samplings[turn++ % samplings.length];
      for await (const _ of lm.generate('', { state, seed: turn, maxTokens: n, ...sampling })) { /* pieces */ }
    } else {
      for (let i = 0; i < n; i++) await lm.step(ids[i % ids.length], { state });
    }
    return (now() - t) / n;
  };
  try {
    globalThis.__mgWarm = [];
    await lm.forward(ids, { state });
    globalThis.__mgWarm.push(['first fwd', Math.round(now() - t0)]);
    let n = 4, bestForward = Infinity, bestStep = Infinity, calm = 0;
    while (calm < SETTLED && now() - t0 < WARM_MS) {
      const t = now();
      await lm.forward(ids);
      const forward = now() - t;
      const one = await steps(n);
      if (one * n < TURN_MS && n < 64) n *= 2; // each turn's steps last TURN_MS or more
      const gained = forward < bestForward / 1.1 || one < bestStep / 1.1;
      bestForward = Math.min(bestForward, forward), bestStep = Math.min(bestStep, one);
      calm = gained ? 0 : calm + 1;
      (globalThis.__mgWarm ??= []).push([Math.round(now() - t0), +forward.toFixed(2), +(one * 1000).toFixed(0), n]);
      await yieldToEventLoop();
    }
    globalThis.__mgWarm.push(['measure at', Math.round(now() - t0)]);
    let stepUs = null, stepThreads = engine.threads;
    if (engine.threads > 1) {
      const times = { 1: [], 0: [] };
      for (let r = 0; r < ROUNDS && (r < 2 || now() - t0 < LIMIT_MS); r++) {
        for (const place of r % 2 ? [0, 1] : [1, 0]) {
          engine.modelSetStepThreads(m, place, what);
          await steps(1); // the first step after a change wakes or idles the workers
          times[place].push(await steps(n));
        }
      }
      stepUs = { oneThread: Math.round(median(times[1]) * 1000), pool: Math.round(median(times[0]) * 1000) };
      if (stepUs.pool * POOL_GAIN > stepUs.oneThread) stepThreads = 1;
      engine.modelSetStepThreads(m, stepThreads === 1 ? 1 : 0, what);
    }
    return { stepThreads, warm: { ms: Math.round((now() - t0) * 10) / 10, settled: calm >= SETTLED, stepUs } };
  } finally {
    state.dispose();
  }
}
