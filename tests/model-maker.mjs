// Model files of any size for the robustness tests, without PyTorch: the tensor names and shapes of
// tools/convert.py (docs/format.md), weights random (uniform like nn.Linear's init, from a seed) or all zero
// (fast at any size: a zero-filled buffer), as F32, F16 or Q8 (I8 matrices with one F32 scale per row).

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

/**
 * The bytes of a .safetensors model.
 * @param config as `defaults` (missing fields from there)
 * @param options { dtype: 'f32' | 'f16' | 'q8', fill: 'random' | 'zeros', seed }
 */
export function makeModel(config, { dtype = 'f32', fill = 'random', seed = 1 } = {}) {
  const c = { ...defaults, ...config };
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const header = {
    __metadata__: {
      format: 'mingru', version: '1', cell: c.cell, num_tokens: String(c.numTokens), dim: String(c.dim), depth: String(c.depth),
      expansion_factor: String(c.expansionFactor), ff_mult: String(c.ffMult), conv_kernel_size: String(c.convKernelSize),
      tokenizer: c.numTokens === 256 ? 'bytes' : 'none', name: 'test model', description: `${fill} weights, ${dtype}`,
    },
  };
  // the layout first (every tensor's dtype and byte range), then one buffer, filled in place
  const layout = [];
  let offset = 0;
  const add = (name, shape, dt, fanIn) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const size = n * (dt === 'F32' ? 4 : dt === 'F16' ? 2 : 1);
    header[name] = { dtype: dt, shape, data_offsets: [offset, offset + size] };
    layout.push({ name, n, dt, fanIn, at: offset });
    offset += size;
  };
  for (const [name, shape, fanIn, quantizable] of tensors(c)) {
    if (dtype === 'q8' && quantizable) {
      add(name, shape, 'I8', fanIn);
      add(`${name}.scale`, [shape[0]], 'F32', -fanIn); // a negative fanIn marks the scale of a matrix
    } else {
      add(name, shape, dtype === 'f16' ? 'F16' : 'F32', fanIn);
    }
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((64 - ((8 + json.length) % 64)) % 64); // data 64-byte aligned, as convert.py writes it
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  const base = 8 + json.length;
  for (const t of layout) {
    const at = base + t.at;
    if (t.fanIn < 0) { // a Q8 scale: the matrix's bound / 127, as its int8 values span [-127, 127]
      const scale = (-t.fanIn > 1 ? 1 / Math.sqrt(-t.fanIn) : 1) / 127;
      for (let i = 0; i < t.n; i++) view.setFloat32(at + 4 * i, scale, true);
      continue;
    }
    if (fill === 'zeros' && t.fanIn !== 0) continue; // the buffer is zero already
    const bound = t.fanIn > 1 ? 1 / Math.sqrt(t.fanIn) : 1;
    for (let i = 0; i < t.n; i++) {
      const v = t.fanIn === 0 ? 1 : (2 * rand() - 1) * bound;
      if (t.dt === 'F32') view.setFloat32(at + 4 * i, v, true);
      else if (t.dt === 'F16') view.setUint16(at + 2 * i, toHalf(v), true);
      else view.setInt8(at + i, Math.round((v / bound) * 127));
    }
  }
  return out;
}

/** float -> IEEE half (round to nearest; the values here are small and normal or zero). */
function toHalf(v) {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000, exp = ((x >>> 23) & 0xff) - 127 + 15, man = x & 0x7fffff;
  if (exp <= 0) return sign; // too small for a normal half: zero
  if (exp >= 31) return sign | 0x7c00;
  const h = sign | (exp << 10) | (man >>> 13);
  return (man & 0x1000) ? h + 1 : h;
}
