// A typed use of the whole public API; tests/types.test.mjs checks it with `tsc --noEmit`.
import { attachPredictor, create, load, MinGRU, MinLSTM, MingruError, Model, Predictor, State, Trainer, type GenerateOptions, type Suggestion } from 'mingru-wasm';

async function main(): Promise<void> {
  const lm: Model = await load('model.safetensors', { threads: 'auto', onProgress: ({ loaded, total }) => console.log(loaded, total) });
  const state: State = lm.createState();
  const logits: Float32Array = await lm.forward(lm.encode('Hello'), { state, allLogits: false });
  const next: Float32Array = await lm.step(32, { state });
  const options: GenerateOptions = { maxTokens: 100, temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, seed: 1, state, stop: ['\n'] };
  for await (const piece of lm.generate('In the beginning', options)) console.log(piece.length);
  const bytes: Uint8Array = await state.save();
  const again: State = lm.loadState(bytes);
  console.log(logits.length, next.length, again.tokens, lm.config.dim, lm.backend.threads, lm.identity, lm.decode([72, 105]));
  again.dispose();
  const predictor: Predictor = lm.predictor({ count: 3, until: 'word', maxTokens: 24 });
  await predictor.input('And the LO');
  await predictor.delete(1);
  await predictor.set('In the beginning');
  const suggestions: Suggestion[] = await predictor.suggestions();
  console.log(suggestions.map(({ text, probability }) => `${text} ${probability}`), lm.predictor({ until: 5 }));
  predictor.dispose();
  const attached = attachPredictor(document.createElement('textarea'), lm, { count: 3, alternatives: false, onSuggestions: (list) => console.log(list.length) });
  console.log(attached.suggestions.length, attached.accept(0));
  attached.detach();
  lm.dispose();
  const hosted: Model = await load(new URL('https://example.org/m.safetensors'), {
    cache: true, fetchOptions: { headers: { Authorization: 'Bearer token' } }, signal: AbortSignal.timeout(60000), kernel: 'simd', warm: false,
  });
  const stepThreads: number = hosted.backend.stepThreads;
  console.log(stepThreads, hosted.backend.warm?.ms, hosted.backend.warm?.settled, hosted.backend.warm?.stepUs?.pool);
  hosted.dispose();

  const fresh = await create({ cell: 'lstm', dim: 64, depth: 2, seed: 1 });
  const trainer: Trainer = fresh.trainer({ lr: 3e-3, betas: [0.9, 0.95], clip: 1 });
  const loss: number = await trainer.step(new Int32Array(2 * 9), { batch: 2, seqLen: 8 });
  trainer.lr = 1e-3;
  trainer.dispose();
  for await (const p of fresh.train('some text to learn', { steps: 2, seqLen: 8, batchSize: 2, validation: 'held out' })) {
    console.log(p.step, p.loss, p.tokensPerSecond, p.validationBits ?? loss);
  }
  const file: Uint8Array = await fresh.save({ dtype: 'q8', name: 'mine' });
  const packed: Uint8Array = await fresh.compress('some text', { adapt: { lr: 1e-4, segment: 128 }, onProgress: ({ done, total }) => console.log(done, total) });
  const unpacked: Uint8Array = await fresh.decompress(packed, { signal: AbortSignal.timeout(1000) });
  const learnt = await fresh.evaluate('some text', { adapt: { keep: true } });
  console.log(file.length, unpacked.length, learnt.bitsPerByte, (await fresh.compress(new Uint8Array(3), { adapt: false })).length);
  fresh.dispose();

  const gru = await MinGRU.create({ dim: 8, expansionFactor: 1.5, seed: 3 });
  const { output, hidden } = await gru.forward(new Float32Array(16), { batch: 1, seqLen: 2 });
  const w = await gru.getWeights();
  const lstm = await MinLSTM.create({ dim: 8, weights: { toHiddenAndFIGate: new Float32Array(192) } });
  const r = await lstm.step(new Float32Array(8), { prevHidden: hidden.subarray(0, 8) });
  console.log(output.length, w.toHiddenAndGate.length, r.output.length);
  try {
    await lm.step(1);
  } catch (e) {
    if (e instanceof MingruError) console.log(e.code);
  }
}

main();
