// What npm run bench measures of onnxruntime-web, shared by Node (bench/peers/ort_bench.mjs) and the page
// (bench/peers/ort_browser.html, opened by bench/chromium-engine.mjs --onnx-dir), so that both run the same code.
// Prefill: full.onnx on [1, prefill] tokens. Step: step.onnx from a zero state, run over the prompt one token at a
// time (untimed), then `steps` teacher-forced steps (timed), each feeding the state outputs back as inputs.

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The __metadata__ of a safetensors file from its first bytes (docs/format.md): at least 8 + the header's length. */
export function safetensorsMetadata(bytes, file) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > bytes.length - 8) throw new Error(`${file}: header length beyond the bytes read`);
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))).__metadata__ ?? {};
}

/** The model's sizes that the step graph's state takes, from its metadata. */
function modelSizes(meta, file) {
  const nt = Number(meta.num_tokens), dim = Number(meta.dim), depth = Number(meta.depth);
  const k = Number(meta.conv_kernel_size), dimInner = Math.floor(dim * Number(meta.expansion_factor));
  if (![nt, dim, depth, k, dimInner].every(Number.isInteger)) throw new Error(`${file}: bad metadata`);
  return { nt, dim, depth, k, dimInner };
}

/**
 * Times the two graphs (ONNX bytes `full` and `step`) with `ort` (the onnxruntime-web module) on `threads`.
 * Returns { prefillTokensPerSecond, stepTokensPerSecond, check: { promptLogits, stepLogits }, seqVsFull } (the
 * largest difference between the step loop's logits after the prompt and the full graph's).
 */
export async function ortBench(ort, { full, step: stepBytes, meta, file, threads, prefill = 4096, prompt = 64, steps = 256, runs = 3, log = () => {} }) {
  const { nt, dim, depth, k, dimInner } = modelSizes(meta, file);
  const n = Math.max(prefill, prompt + steps);
  const tokens = BigInt64Array.from({ length: n }, (_, i) => BigInt((i * 7919) % nt));

  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  const sessionOptions = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
  const fullSession = await ort.InferenceSession.create(full, sessionOptions);
  const step = await ort.InferenceSession.create(stepBytes, sessionOptions);
  const conv = step.inputNames.includes('conv');
  if (conv !== k > 0) throw new Error(`step.onnx does not match ${file} (conv_kernel_size ${k})`);

  const runFull = async (len) => (await fullSession.run({ tokens: new ort.Tensor('int64', tokens.subarray(0, len), [1, len]) })).logits;
  // check + warm-up: the full graph over the prompt, then a short sequence
  const promptLogitsFull = (await runFull(prompt)).data.slice((prompt - 1) * nt, prompt * nt);
  await runFull(Math.min(64, prefill));

  const prefillTps = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await runFull(prefill);
    const dt = (performance.now() - t0) / 1000;
    prefillTps.push(prefill / dt);
    log(`ort prefill run ${r + 1}/${runs}: ${prefill} tokens in ${dt.toFixed(3)} s`);
  }

  // the step graph; state = { hidden, conv? } as ORT tensors, fed back from the outputs
  const zeroState = () => {
    const s = { hidden: new ort.Tensor('float32', new Float32Array(depth * dimInner), [depth, 1, dimInner]) };
    if (conv) s.conv = new ort.Tensor('float32', new Float32Array(depth * (k - 1) * dim), [depth, 1, k - 1, dim]);
    return s;
  };
  const runStep = async (i, state) => {
    const out = await step.run({ token: new ort.Tensor('int64', tokens.subarray(i, i + 1), [1]), ...state });
    const next = { hidden: out.hidden_out };
    if (conv) next.conv = out.conv_out;
    return { logits: out.logits, state: next };
  };
  let state = zeroState(), logits;
  for (let i = 0; i < prompt; i++) ({ logits, state } = await runStep(i, state));
  const promptState = state;
  let seqVsFull = 0;
  for (let j = 0; j < nt; j++) seqVsFull = Math.max(seqVsFull, Math.abs(logits.data[j] - promptLogitsFull[j]));
  for (let i = 0, s = promptState; i < Math.min(8, steps); i++) s = (await runStep(prompt + i, s)).state;

  const stepTps = [];
  for (let r = 0; r < runs; r++) {
    state = promptState;
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) ({ logits, state } = await runStep(prompt + i, state));
    const dt = (performance.now() - t0) / 1000;
    stepTps.push(steps / dt);
    log(`ort step run ${r + 1}/${runs}: ${steps} steps in ${dt.toFixed(3)} s`);
  }
  await fullSession.release?.();
  await step.release?.();
  return {
    prefillTokensPerSecond: median(prefillTps), stepTokensPerSecond: median(stepTps), seqVsFull,
    check: { promptLogits: Array.from(promptLogitsFull), stepLogits: Array.from(logits.data) },
  };
}

/** The notes of a result: how it was measured. */
export function ortNotes({ where, threads, conv, seqVsFull, runs }) {
  return `onnxruntime-web wasm backend in ${where}, SIMD, numThreads ${threads}, F32 graphs from `
    + 'bench/peers/export_onnx.py (torch.onnx opset 17). Prefill: full.onnx, whose scan is an ONNX Loop over time '
    + '(torch 1.13 cannot export logcumsumexp). Step: step.onnx with the state (hidden'
    + (conv ? ', conv window' : '') + ') fed back as inputs; the prompt state comes from step.onnx run over the '
    + `prompt one token at a time (untimed); promptLogits from full.onnx (step-loop logits differ by ${seqVsFull.toExponential(2)}). `
    + `Median of ${runs} runs.`;
}
