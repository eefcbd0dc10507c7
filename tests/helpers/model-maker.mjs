// The one JavaScript writer of model files, for the tests and the benchmarks, without PyTorch: the tensor names and
// shapes that tools/convert.py writes (docs/format.md), weights random (uniform like nn.Linear's init, from a seed)
// or all zero (fast at any size), as F32, F16 or Q8 (each matrix row quantized to int8 with its F32 scale, as
// `convert.py --dtype q8` does). No Node imports: tests/browser/engine.html uses it in a page.

/** [name, shape, fanIn, quantizable] of every tensor of a minLM (fanIn 0: a norm weight, filled with ones). */
function tensors({ cell, numTokens, dim, depth, expansionFactor, ffMult, convKernelSize }) {
  const di = Math.floor(dim * expansionFactor), ff = Math.floor(dim * ffMult), g = cell === 'gru' ? 2 : 3;
  const proj = cell === 'gru' ? 'to_hidden_and_gate' : 'to_hidden_and_f_i_gate';
  const list = [['token_emb.weight', [numTokens, dim], 1, true]];
  for (let i = 0; i < depth; i++) {
    const p = `layers.${i}.`;
    if (convKernelSize) {
      list.push([`${p}0.net.0.weight`, [dim, 1, convKernelSize], convKernelSize], [`${p}0.net.0.bias`, [dim], convKernelSize],
        [`${p}0.net.1.weight`, [dim, dim, 1], dim], [`${p}0.net.1.bias`, [dim], dim]);
    }
    list.push([`${p}1.weight`, [dim], 0], [`${p}2.${proj}.weight`, [g * di, dim], dim, true]);
    if (expansionFactor !== 1) list.push([`${p}2.to_out.weight`, [dim, di], di, true]);
    list.push([`${p}3.weight`, [dim], 0], [`${p}4.0.weight`, [ff, dim], dim, true], [`${p}4.0.bias`, [ff], dim],
      [`${p}4.2.weight`, [dim, ff], ff, true], [`${p}4.2.bias`, [dim], ff]);
  }
  list.push(['norm.weight', [dim], 0], ['to_logits.weight', [numTokens, dim], dim, true]);
  return list;
}

export const defaults = { cell: 'gru', numTokens: 256, dim: 64, depth: 2, expansionFactor: 1.5, ffMult: 4, convKernelSize: 3 };

/** Parameters of a config (elements of every tensor but the Q8 scales). */
export function parameterCount(config) {
  return tensors({ ...defaults, ...config }).reduce((sum, [, shape]) => sum + shape.reduce((a, b) => a * b, 1), 0);
}

/** Symmetric per-row int8 of a [rows, cols] matrix into q, scales into scale, rounded as tools/convert.py does. */
function quantizeRows(values, rows, cols, q, scale) {
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(values[r * cols + c]));
    scale[r] = max > 0 ? max / 127 : 1;
    for (let c = 0; c < cols; c++) q[r * cols + c] = Math.max(-127, Math.min(127, Math.round(values[r * cols + c] / scale[r])));
  }
}

/** float -> IEEE half (round to nearest; the values here are small and normal or zero). */
function toHalf(v) {
  const x = new Uint32Array(new Float32Array([v]).buffer)[0];
  const sign = (x >>> 16) & 0x8000, exp = ((x >>> 23) & 0xff) - 127 + 15, man = x & 0x7fffff;
  if (exp <= 0) return sign; // too small for a normal half: zero
  if (exp >= 31) return sign | 0x7c00;
  const h = sign | (exp << 10) | (man >>> 13);
  return (man & 0x1000) ? h + 1 : h;
}

/**
 * The bytes of a .safetensors model.
 * @param config as `defaults` (missing fields from there)
 * @param options { dtype: 'f32' | 'f16' | 'q8', fill: 'random' | 'zeros', seed, name, description }
 */
export function makeModel(config, { dtype = 'f32', fill = 'random', seed = 1, name = 'test model', description = `${fill} weights, ${dtype}` } = {}) {
  const c = { ...defaults, ...config };
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const header = {
    __metadata__: {
      format: 'mingru', version: '1', cell: c.cell, num_tokens: String(c.numTokens), dim: String(c.dim), depth: String(c.depth),
      expansion_factor: String(c.expansionFactor), ff_mult: String(c.ffMult), conv_kernel_size: String(c.convKernelSize),
      tokenizer: c.numTokens === 256 ? 'bytes' : 'none', name, description,
    },
  };
  // the layout first: F32/F16 tensors (Q8 scales among them), then the I8 matrices, so every F32 tensor stays aligned
  const wide = [], narrow = [];
  for (const [tensor, shape, fanIn, quantizable] of tensors(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (dtype === 'q8' && quantizable) {
      const t = { name: tensor, shape, n, dt: 'I8', fanIn, scale: { name: `${tensor}.scale`, shape: [shape[0]], n: shape[0], dt: 'F32' } };
      wide.push(t.scale), narrow.push(t);
    } else {
      wide.push({ name: tensor, shape, n, dt: dtype === 'f16' ? 'F16' : 'F32', fanIn });
    }
  }
  let offset = 0;
  for (const t of [...wide, ...narrow]) {
    const size = t.n * (t.dt === 'F32' ? 4 : t.dt === 'F16' ? 2 : 1);
    header[t.name] = { dtype: t.dt, shape: t.shape, data_offsets: [offset, offset + size] };
    t.at = offset;
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((64 - ((8 + json.length) % 64)) % 64); // data 64-byte aligned, as convert.py writes it
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  const base = 8 + json.length;

  // the values, in the order of the tensor table (the random sequence does not depend on the dtype)
  for (const [tensor] of tensors(c)) {
    const t = [...wide, ...narrow].find((x) => x.name === tensor);
    if (fill === 'zeros' && t.fanIn !== 0) {
      if (t.scale) new Float32Array(out.buffer, base + t.scale.at, t.scale.n).fill(1); // a zero row's scale
      continue; // the buffer is zero already
    }
    const bound = t.fanIn > 1 ? 1 / Math.sqrt(t.fanIn) : 1;
    const values = new Float32Array(t.n);
    for (let i = 0; i < t.n; i++) values[i] = t.fanIn === 0 ? 1 : (2 * rand() - 1) * bound;
    if (t.dt === 'F32') new Float32Array(out.buffer, base + t.at, t.n).set(values);
    else if (t.dt === 'F16') new Uint16Array(out.buffer, base + t.at, t.n).set(values.map(toHalf));
    else quantizeRows(values, t.shape[0], t.n / t.shape[0], new Int8Array(out.buffer, base + t.at, t.n), new Float32Array(out.buffer, base + t.scale.at, t.scale.n));
  }
  return out;
}
