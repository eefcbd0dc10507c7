// The training measurement of npm run bench, shared by Node (bench/mingru-engine.mjs --train) and the page
// (bench/browser.html): `steps` trainer steps after one untimed one, on the windows every engine of the bench takes
// (step s's row b starts at ((s * batch + b) * 7919) % (text.length - seqLen); bench/native-engine.c,
// bench/peers/torch_bench.py), with lr 3e-4, betas (0.9, 0.95), weight decay 0.01, clip 1.
// Returns { trainTokensPerSecond, losses } (every step's loss, the untimed one first).
export async function trainBench(lm, text, { steps, batch, seqLen }) {
  if (text.length <= seqLen) throw new Error(`the text has ${text.length} bytes, fewer than seqLen + 1`);
  const trainer = lm.trainer({ lr: 3e-4, betas: [0.9, 0.95], weightDecay: 0.01, clip: 1 });
  const tokens = new Int32Array(batch * (seqLen + 1)), losses = [];
  let t0 = 0;
  for (let s = 0; s <= steps; s++) {
    if (s === 1) t0 = performance.now();
    for (let b = 0; b < batch; b++) {
      const start = ((s * batch + b) * 7919) % (text.length - seqLen);
      tokens.set(text.subarray(start, start + seqLen + 1), b * (seqLen + 1));
    }
    losses.push(await trainer.step(tokens, { batch, seqLen }));
  }
  const trainTokensPerSecond = (steps * batch * seqLen) / ((performance.now() - t0) / 1000);
  trainer.dispose();
  return { trainTokensPerSecond, losses };
}
