// What npm run bench measures of mingru, shared by Node (bench/mingru-engine.mjs) and the page (bench/browser.html),
// so that both run the same code through the same API (in a page, through the engine's worker, as users do).
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

/** Inference: tokens/s of a forward over `prefill` tokens and of `steps` teacher-forced steps after a
 * `prompt`-token forward (medians of `runs`), after a warm-up like the peers' (a forward and 64 steps, so that the
 * engine has tiered the step's code up), and of `steps` tokens generated after the prompt. Tokens: t[i] =
 * (i * 7919) % V. Returns { prefillTokensPerSecond, stepTokensPerSecond, generateTokensPerSecond, check: {
 * promptLogits, stepLogits } } (the logits for the cross-engine check). */
export async function inferenceBench(lm, { prefill = 4096, prompt = 64, steps = 256, runs = 3 } = {}) {
  const V = lm.config.numTokens;
  const tokens = Int32Array.from({ length: Math.max(prefill, prompt + steps) }, (_, i) => (i * 7919) % V);
  const s = lm.createState();
  await lm.forward(tokens.subarray(0, Math.min(prefill, 256)), { state: s });
  for (let i = 0; i < 64; i++) await lm.step(tokens[i], { state: s });
  const prefillTps = [], stepTps = [];
  let promptLogits, stepLogits;
  for (let r = 0; r < runs; r++) {
    s.reset();
    let t0 = performance.now();
    await lm.forward(tokens.subarray(0, prefill), { state: s });
    prefillTps.push(prefill / ((performance.now() - t0) / 1000));
    s.reset();
    promptLogits = await lm.forward(tokens.subarray(0, prompt), { state: s });
    t0 = performance.now();
    for (let i = 0; i < steps; i++) stepLogits = await lm.step(tokens[prompt + i], { state: s });
    stepTps.push(steps / ((performance.now() - t0) / 1000));
  }
  // generation, as users run it (in a page the loop stays in the engine's worker; step above crosses to it and
  // back for every token): `steps` tokens sampled after the prompt, counted by the state
  const generateTps = [];
  for (let r = 0; r < runs; r++) {
    s.reset();
    await lm.forward(tokens.subarray(0, prompt), { state: s });
    const before = s.tokens, t0 = performance.now();
    for await (const _ of lm.generate('', { state: s, maxTokens: steps, seed: r + 1, temperature: 1 })) { /* pieces */ }
    generateTps.push((s.tokens - before) / ((performance.now() - t0) / 1000));
  }
  s.dispose();
  return { prefillTokensPerSecond: median(prefillTps), stepTokensPerSecond: median(stepTps), generateTokensPerSecond: median(generateTps),
    check: { promptLogits: Array.from(promptLogits), stepLogits: Array.from(stepLogits) } };
}

/** Step `s`'s batch of every training engine of the bench into `out` (batch rows of seqLen + 1 ids): row b starts at
 * ((s * batch + b) * 7919) % (text.length - seqLen) of the text's bytes. */
export function trainWindows(text, s, batch, seqLen, out) {
  for (let b = 0; b < batch; b++) {
    const start = ((s * batch + b) * 7919) % (text.length - seqLen);
    out.set(text.subarray(start, start + seqLen + 1), b * (seqLen + 1));
  }
  return out;
}

/** Training: `steps` trainer steps after one untimed one, on the windows every engine of the bench takes (step s's
 * row b starts at ((s * batch + b) * 7919) % (text.length - seqLen) of the text's bytes; bench/native-engine.c,
 * bench/peers/torch_bench.py), with lr 3e-4, betas (0.9, 0.95), weight decay 0.01, clip 1. Returns
 * { trainTokensPerSecond, losses } (every step's loss, the untimed one first). The model's weights change. */
export async function trainBench(lm, text, { steps, batch, seqLen }) {
  if (text.length <= seqLen) throw new Error(`the text has ${text.length} bytes, fewer than seqLen + 1`);
  const trainer = lm.trainer({ lr: 3e-4, betas: [0.9, 0.95], weightDecay: 0.01, clip: 1 });
  const tokens = new Int32Array(batch * (seqLen + 1)), losses = [];
  let t0 = 0;
  for (let s = 0; s <= steps; s++) {
    if (s === 1) t0 = performance.now();
    trainWindows(text, s, batch, seqLen, tokens);
    losses.push(await trainer.step(tokens, { batch, seqLen }));
  }
  const trainTokensPerSecond = (steps * batch * seqLen) / ((performance.now() - t0) / 1000);
  trainer.dispose();
  return { trainTokensPerSecond, losses };
}
