// warm.js — load()'s warm-up: a short run of the model's own passes before load() resolves, so that the first real
// call runs the engine's optimized code, and the measurement that decides where the model's steps run.
//
// V8 (Chromium, Node) first runs WebAssembly in its baseline compiler (Liftoff); a function that has run a while
// (a budget of about the bytes of code it executed) is compiled again by the optimizing compiler (TurboFan), in the
// background, and its next call takes the new code. So a user's first generate ran at about half speed (the demo
// model's Q8 generate in Chromium 156: 2,931 tokens/s, then 5,829, 2026-12-06). The warm-up runs, in turns, a
// 19-token forward (the prefill's products over blocks of rows, with a tail, the scan over time) and a few tokens of
// generate() (the step's products of one row, the sampler, the JavaScript around them; step() calls for a model that
// does not generate text), until neither gets faster and MIN_STEPS have run (at most WARM_MS): their code has been
// optimized. Firefox, which compiles the whole module with its optimizing tier in the background, settles sooner.
//
// Then, on more than one thread, where the model's steps run: turns of steps on the calling thread alone and on the
// pool, in turn (mg_model_set_threads), and the pool is kept only where it was clearly faster. A step of a small
// model lasts a few hundred microseconds, and handing its products to the pool does not always pay (the demo model's
// Q8 generate in Firefox ESR 153: 4,454-4,736 tokens/s on 2 threads, 5,359-5,865 on one); on a busy machine a second
// thread may not get a core at all. The results are the same bits on either, so only the speed depends on the choice.
import { yieldToEventLoop } from './runtime.js';

const WARM_MS = 85; // the warm-up stops here even if it still gets faster (a large model, a busy machine)
const TURN_MS = 2; // each turn runs steps for at least this long
const MEASURE_MS = 1; // and each of the measurement's six turns, at one thread's speed
const MIN_STEPS = 160; // a function called once a layer per step (the layer's own code) must run this often before
// V8 optimizes it (its budget); without them the first generate still compiled four such functions in Chromium
const SETTLED = 2; // turns in a row without a gain of more than 10%: the code is optimized
const POOL_GAIN = 1.1; // the pool's worst turn must be this much faster than one thread's best one

/**
 * Warms the model's code and chooses where its steps run. `lm` is a Model just loaded (model.js); returns what goes
 * into its backend: { stepThreads, warm: { ms, settled, stepUs } } (index.d.ts).
 */
export async function warmUp(lm, what = 'load') {
  const engine = lm._engine, m = lm._live(what), now = () => performance.now();
  const t0 = now();
  const V = lm.config.numTokens;
  const ids = Int32Array.from({ length: 19 }, (_, i) => (i * 7919 + 1) % V);
  const state = lm.createState();
  // generate() where the model generates text (it has a tokenizer and samples its outputs), else step() calls: the
  // user's own calls, so that their JavaScript warms too
  const generates = lm.tokenizer !== null && lm.config.numOutputs === V;
  // the sampler's paths in turn: the default (the whole softmax), greedy, and every filter
  const samplings = [{}, { temperature: 0 }, { temperature: 0.8, topK: 40, topP: 0.9, minP: 0.01, repetitionPenalty: 1.1 }];
  let sampled = 0;
  /** `n` steps; returns the time of one, ms */
  const steps = async (n) => {
    const t = now();
    if (generates) {
      const sampling = samplings[sampled++ % samplings.length];
      for await (const _ of lm.generate('', { state, seed: sampled, maxTokens: n, ...sampling })) { /* pieces */ }
    } else {
      for (let i = 0; i < n; i++) await lm.step(ids[i % ids.length], { state });
    }
    return (now() - t) / n;
  };
  try {
    await lm.forward(ids, { state });
    // the warm-up proper: turns of a forward and steps (on the calling thread alone, as the steps of most engines and
    // machines run best), until neither gets faster and MIN_STEPS have run, or WARM_MS
    if (engine.threads > 1) engine.modelSetThreads(m, { step: 1, block: 0 }, what);
    let n = 4, calm = 0, forwardCalm = 0, stepped = 0, bestForward = Infinity, bestStep = Infinity;
    while ((calm < SETTLED || stepped < MIN_STEPS) && now() - t0 < WARM_MS) {
      if (forwardCalm < SETTLED) { // the forward's turns stop once it has stopped getting faster
        const t = now();
        await lm.forward(ids);
        const forward = now() - t;
        forwardCalm = forward < bestForward / 1.1 ? 0 : forwardCalm + 1;
        bestForward = Math.min(bestForward, forward);
      }
      const step = await steps(n);
      stepped += n;
      if (step * n < TURN_MS && n < 64) n *= 2; // each turn's steps last TURN_MS or more
      calm = forwardCalm < SETTLED || step < bestStep / 1.1 ? 0 : calm + 1;
      bestStep = Math.min(bestStep, step);
      await yieldToEventLoop();
    }
    const warm = { ms: 0, settled: calm >= SETTLED, stepUs: null };
    let stepThreads = engine.threads;
    if (engine.threads > 1) {
      // where the steps run: turns of steps on the pool and on one thread, in turn (the first step after a change
      // wakes or idles the workers, untimed), the best of one thread's three against the worst of the pool's three,
      // whose time varies more (a worker the system deschedules holds up every job): on a busy machine the pool's
      // better turns promised steps it did not keep. (A forward keeps the pool: a short one, timed so, starts with
      // its workers asleep, unlike a prefill's blocks, which gain from the pool where a step does not: Chromium 156,
      // the demo model, 2 threads: a 19-token forward on the pool 0.3-0.6x as fast as one thread, a 4,096-token
      // prefill 1.55x as fast.)
      const times = { 0: [], 1: [] }, each = Math.max(2, Math.min(64, Math.ceil(MEASURE_MS / bestStep)));
      for (const place of [0, 1, 1, 0, 0, 1]) {
        engine.modelSetThreads(m, { step: place, block: 0 }, what);
        await steps(1);
        times[place].push(await steps(each));
      }
      warm.stepUs = { oneThread: Math.round(Math.min(...times[1]) * 1000), pool: Math.round(Math.max(...times[0]) * 1000) };
      if (!(warm.stepUs.pool * POOL_GAIN <= warm.stepUs.oneThread)) stepThreads = 1;
      engine.modelSetThreads(m, { step: stepThreads === 1 ? 1 : 0, block: 0 }, what);
    }
    warm.ms = Math.round((now() - t0) * 10) / 10;
    return { stepThreads, warm };
  } finally {
    state.dispose();
  }
}

