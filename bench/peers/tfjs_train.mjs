// TensorFlow.js as a training peer of npm run bench, shared by Node (bench/peers/tfjs_bench.mjs) and the page
// (bench/peers/tfjs_browser.html, opened by bench/chromium-engine.mjs --tfjs BACKEND), so that both run the same code.
// minGRU-pytorch's minLM written in TF.js ops, given a mingru .safetensors file's F32 weights:
//   x = token_emb[tokens]; per layer: x = minGRU(rmsnorm(x)) + x; x = ff(rmsnorm(x)) + x; logits = to_logits(rmsnorm(x))
// trained by the steps of bench/measure.mjs's trainBench: mean cross-entropy, clip_grad_norm_(1), then AdamW as
// torch.optim.AdamW (lr 3e-4, betas (0.9, 0.95), eps 1e-8, weight decay 0.01 decoupled: p -= lr * wd * p first),
// written out here because tf.train.adam has no decoupled weight decay; gradients by tf.variableGrads.
// The scan: h_t = a_t h_{t-1} + b_t in linear space (a = 1 - z in (0, 1)) by log2(T) doubling rounds of whole-tensor
// ops (Hillis-Steele), which TF.js differentiates; minGRU-pytorch's log-space form needs logcumsumexp, which TF.js
// lacks, and a loop over time is 256 small ops per layer each way ('loop' below, kept to compare: 3.5x slower).
// A batch goes through in micro-batches of 4 rows, its gradient their mean: the wasm backend's heap (4 GB at most)
// does not hold the activations of 16 x 256 at once.

import { trainWindows } from '../measure.mjs';

/** { meta, tensors: { name: { shape, data: Float32Array } } } of a safetensors file's bytes (F32 tensors only). */
export function readSafetensors(bytes, file) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > bytes.length - 8) throw new Error(`${file}: header length beyond the file`);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const meta = header.__metadata__ ?? {};
  delete header.__metadata__;
  const tensors = {};
  for (const [name, { dtype, shape, data_offsets: [start, end] }] of Object.entries(header)) {
    if (dtype !== 'F32') throw new Error(`${file}: tensor ${name} is ${dtype}; the TF.js peer reads F32 models only`);
    // a copy (Node's Buffer.slice is a view), aligned for the Float32Array
    tensors[name] = { shape, data: new Float32Array(Uint8Array.prototype.slice.call(bytes, 8 + n + start, 8 + n + end).buffer) };
  }
  return { meta, tensors };
}

/** The model's variables from the file, named as its tensors (minGRU-pytorch's state_dict names); the linear layers'
 * weights transposed to [in, out], tf.layers.dense's layout, whose forward is a plain matMul. */
function variables(tf, { meta, tensors }, file) {
  if (meta.cell !== 'gru' || Number(meta.conv_kernel_size) !== 0 || Number(meta.expansion_factor) === 1) {
    throw new Error(`${file}: the TF.js peer builds minGRU models without conv and with to_out (expansion != 1)`);
  }
  return Object.fromEntries(Object.entries(tensors).map(([name, { data, shape }]) => {
    const t = tf.tensor(data, shape), linear = shape.length === 2 && name !== 'token_emb.weight';
    return [name, tf.variable(linear ? tf.transpose(t) : t, true, name)];
  }));
}

const rmsnorm = (tf, x, w) => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 2 ** -23))), w);
// x [N, in] w [in, out] (+ b): TF.js's own gradient ('autodiff') takes matMul's transposeA / transposeB forms, which
// the wasm backend runs 7-20x slower than a plain product (bench/results/peers-2026-12-07.md), so by default
// ('transpose') the gradient transposes explicitly: dx = dy transpose(w), dw = transpose(x) dy, db = sum(dy)
const MATMUL = {
  autodiff: (tf) => (x, w, b) => (b ? tf.add(tf.matMul(x, w), b) : tf.matMul(x, w)),
  transpose: (tf) => {
    const grad = (dy, [x, w]) => [tf.matMul(dy, tf.transpose(w)), tf.matMul(tf.transpose(x), dy)];
    const withBias = tf.customGrad((x, w, b, save) => {
      save([x, w]);
      return { value: tf.add(tf.matMul(x, w), b), gradFunc: (dy, saved) => [...grad(dy, saved), tf.sum(dy, 0)] };
    });
    const noBias = tf.customGrad((x, w, save) => {
      save([x, w]);
      return { value: tf.matMul(x, w), gradFunc: grad };
    });
    return (x, w, b) => (b ? withBias(x, w, b) : noBias(x, w));
  },
};
const gelu = (tf, x) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));

/** h_t = a_t h_{t-1} + b_t, h_{-1} = 0, over axis 1 of [B, T, D]: after round k, (a, b) at t compose steps
 * (t - 2^k, t]; shifting in a = 1, b = 0 (the identity) at the start. */
function scanDoubling(tf, a, b) {
  const [B, T, D] = b.shape;
  for (let k = 1; k < T; k *= 2) {
    const shift = (x, fill) => tf.concat([tf.fill([B, k, D], fill), tf.slice(x, [0, 0, 0], [B, T - k, D])], 1);
    b = tf.add(b, tf.mul(a, shift(b, 0)));
    a = tf.mul(a, shift(a, 1));
  }
  return b;
}

/** The same recurrence by a loop over time (T small ops each way). */
function scanLoop(tf, a, b) {
  const as = tf.unstack(a, 1), bs = tf.unstack(b, 1), hs = [];
  let h = bs[0];
  hs.push(h);
  for (let t = 1; t < bs.length; t++) hs.push((h = tf.add(tf.mul(as[t], h), bs[t])));
  return tf.stack(hs, 1);
}

/** Mean cross-entropy (nats) of rows [B, T + 1] of token ids: each position predicts the next. */
function loss(tf, v, depth, rows, B, T, scan, linear) {
  const ids = tf.slice(rows, [0, 0], [B, T]), labels = tf.slice(rows, [0, 1], [B, T]).reshape([B * T]);
  const V = v['token_emb.weight'].shape[0];
  // x = token_emb[ids] as one-hot rows times the table: the wasm backend lacks gather's gradient (UnsortedSegmentSum)
  let x = linear(tf.cast(tf.oneHot(ids.reshape([B * T]), V), 'float32'), v['token_emb.weight']);   // [B*T, D]
  for (let i = 0; i < depth; i++) {
    const p = (s) => v[`layers.${i}.${s}`];
    // hidden, gate = to_hidden_and_gate(norm(x)).chunk(2); a = 1 - z = sigmoid(-gate); b = z * g(hidden)
    const [k_h, k_z] = tf.split(linear(rmsnorm(tf, x, p('1.weight')), p('2.to_hidden_and_gate.weight')), 2, -1);
    const g = tf.where(tf.greaterEqual(k_h, 0), tf.add(k_h, 0.5), tf.sigmoid(k_h));
    const Di = k_h.shape[1];
    const h = scan(tf, tf.sigmoid(tf.neg(k_z)).reshape([B, T, Di]), tf.mul(tf.sigmoid(k_z), g).reshape([B, T, Di]));
    x = tf.add(x, linear(h.reshape([B * T, Di]), p('2.to_out.weight')));
    // x = ff(norm(x)) + x, ff = Linear -> GELU (erf) -> Linear
    const u = gelu(tf, linear(rmsnorm(tf, x, p('3.weight')), p('4.0.weight'), p('4.0.bias')));
    x = tf.add(x, linear(u, p('4.2.weight'), p('4.2.bias')));
  }
  const logits = linear(rmsnorm(tf, x, v['norm.weight']), v['to_logits.weight']);   // [B*T, V]
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, V), tf.logSoftmax(logits)), -1)));
}

/** torch.optim.AdamW's step after clip_grad_norm_(clip), on every variable (step t from 1). */
function adamw(tf, v, grads, state, t, { lr, betas: [b1, b2], eps, weightDecay, clip }) {
  const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))).dataSync()[0];
  const scale = Math.min(1, clip / (norm + 1e-6));
  const c1 = 1 - b1 ** t, c2 = 1 - b2 ** t;
  for (const [name, p] of Object.entries(v)) {
    const g = tf.mul(grads[name], scale);
    state[name] ??= { m: tf.zerosLike(p), s: tf.zerosLike(p) };
    const { m, s } = state[name];
    const m2 = tf.keep(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1))), s2 = tf.keep(tf.add(tf.mul(s, b2), tf.mul(tf.square(g), 1 - b2)));
    m.dispose();
    s.dispose();
    state[name] = { m: m2, s: s2 };
    // p = p * (1 - lr wd) - lr * (m / c1) / (sqrt(s / c2) + eps)
    p.assign(tf.sub(tf.mul(p, 1 - lr * weightDecay), tf.mul(tf.div(m2, tf.add(tf.sqrt(tf.div(s2, c2)), eps)), lr / c1)));
  }
}

/**
 * Trains on `text` (Uint8Array) as bench/measure.mjs's trainBench: `steps` steps after one untimed one, the same
 * windows (trainWindows) and settings. `tf` is the TF.js namespace with its backend set; `micro` rows go through the
 * model at a time. Returns { trainTokensPerSecond, losses }.
 */
export async function tfjsTrain(tf, fileBytes, text, { steps, batch: B, seqLen: T, micro = 4, scan = 'doubling', matmul = 'transpose', file = 'model', log = () => {} }) {
  const model = readSafetensors(fileBytes, file);
  const v = variables(tf, model, file), depth = Number(model.meta.depth);
  const scanFn = { doubling: scanDoubling, loop: scanLoop }[scan];
  if (!scanFn) throw new Error(`unknown scan ${scan} (doubling, loop)`);
  if (!MATMUL[matmul]) throw new Error(`unknown matmul ${matmul} (transpose, autodiff)`);
  micro = Math.min(micro, B);
  if (B % micro !== 0) throw new Error(`batch ${B} is not a multiple of micro ${micro}`);
  const linear = MATMUL[matmul](tf);
  const options = { lr: 3e-4, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.01, clip: 1 };
  const state = {}, losses = [], rows = new Int32Array(B * (T + 1));
  let t0 = 0;
  for (let s = 0; s <= steps; s++) {
    if (s === 1) t0 = performance.now();
    trainWindows(text, s, B, T, rows);
    // the batch's gradient as the mean of its micro-batches' (equal sizes, so the same mean cross-entropy): the
    // wasm heap (4 GB at most) does not hold a whole batch of 16 x 256's activations
    let sum = null, lossSum = 0;
    for (let r = 0; r < B; r += micro) {
      const { value, grads } = tf.tidy(() => {
        const ids = tf.tensor2d(rows.subarray(r * (T + 1), (r + micro) * (T + 1)), [micro, T + 1], 'int32');
        return tf.variableGrads(() => loss(tf, v, depth, ids, micro, T, scanFn, linear), Object.values(v));
      });
      lossSum += (await value.data())[0];
      value.dispose();
      if (!sum) sum = grads;
      else for (const k of Object.keys(sum)) [sum[k]] = [tf.add(sum[k], grads[k]), sum[k].dispose(), grads[k].dispose()];
    }
    const n = B / micro;
    tf.tidy(() => adamw(tf, v, Object.fromEntries(Object.entries(sum).map(([k, g]) => [k, tf.div(g, n)])), state, s + 1, options));
    Object.values(sum).forEach((g) => g.dispose());
    losses.push(lossSum / n);
    log(`step ${s}: loss ${losses[s].toFixed(4)}`);
  }
  const trainTokensPerSecond = (steps * B * T) / ((performance.now() - t0) / 1000);
  for (const x of [...Object.values(v), ...Object.values(state).flatMap(({ m, s }) => [m, s])]) x.dispose();
  return { trainTokensPerSecond, losses };
}
