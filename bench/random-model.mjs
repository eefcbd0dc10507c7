// A random-weight minLM in mingru's .safetensors format (docs/format.md), for benchmarks: the same tensor
// names and shapes tools/convert.py writes, values uniform like nn.Linear's init, without PyTorch.

function tensors({ cell, numTokens, dim, depth, expansionFactor, ffMult, convKernelSize }) {
  const di = Math.floor(dim * expansionFactor), ff = Math.floor(dim * ffMult), g = cell === 'gru' ? 2 : 3;
  const proj = cell === 'gru' ? 'to_hidden_and_gate' : 'to_hidden_and_f_i_gate';
  const list = [['token_emb.weight', [numTokens, dim], 1]];
  for (let i = 0; i < depth; i++) {
    const p = `layers.${i}.`;
    if (convKernelSize) {
      list.push([`${p}0.net.0.weight`, [dim, 1, convKernelSize], convKernelSize], [`${p}0.net.0.bias`, [dim], convKernelSize],
        [`${p}0.net.1.weight`, [dim, dim, 1], dim], [`${p}0.net.1.bias`, [dim], dim]);
    }
    list.push([`${p}1.weight`, [dim], 0], [`${p}2.${proj}.weight`, [g * di, dim], dim]);
    if (expansionFactor !== 1) list.push([`${p}2.to_out.weight`, [dim, di], di]);
    list.push([`${p}3.weight`, [dim], 0], [`${p}4.0.weight`, [ff, dim], dim], [`${p}4.0.bias`, [ff], dim],
      [`${p}4.2.weight`, [dim, ff], ff], [`${p}4.2.bias`, [dim], ff]);
  }
  list.push(['norm.weight', [dim], 0], ['to_logits.weight', [numTokens, dim], dim]);
  return list;
}

// the matrices that tools/convert.py --dtype q8 quantizes (docs/format.md)
const Q8 = /^(token_emb\.weight|to_logits\.weight|layers\.\d+\.(2\.\w+\.weight|4\.[02]\.weight))$/;

/** Symmetric per-row int8 of a [rows, cols] matrix, rounded as tools/convert.py does. */
function quantizeRows(values, rows, cols) {
  const q = new Int8Array(values.length), scale = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(values[r * cols + c]));
    scale[r] = max > 0 ? max / 127 : 1;
    for (let c = 0; c < cols; c++) q[r * cols + c] = Math.max(-127, Math.min(127, Math.round(values[r * cols + c] / scale[r])));
  }
  return { q, scale };
}

/** The bytes of a random model; fanIn 0 marks a norm weight (ones), 1 the embedding (normal-ish).
 * With { q8: true } the large matrices are stored as I8 + F32 scales, as `convert.py --dtype q8` would. */
export function randomModel(config, seed = 1, { q8 = false } = {}) {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const header = {
    __metadata__: {
      format: 'mingru', version: '1', cell: config.cell, num_tokens: String(config.numTokens), dim: String(config.dim),
      depth: String(config.depth), expansion_factor: String(config.expansionFactor), ff_mult: String(config.ffMult),
      conv_kernel_size: String(config.convKernelSize), tokenizer: config.numTokens === 256 ? 'bytes' : 'none',
      name: 'random', description: 'random weights, for benchmarks',
    },
  };
  const wide = [], narrow = []; // F32 tensors first, then I8, so every F32 tensor stays aligned
  for (const [name, shape, fanIn] of tensors(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    const bound = fanIn > 1 ? 1 / Math.sqrt(fanIn) : 1;
    for (let i = 0; i < n; i++) values[i] = fanIn === 0 ? 1 : (2 * rand() - 1) * bound;
    if (q8 && Q8.test(name)) {
      const { q, scale } = quantizeRows(values, shape[0], n / shape[0]);
      narrow.push([name, 'I8', shape, q]);
      wide.push([`${name}.scale`, 'F32', [shape[0]], scale]);
    } else {
      wide.push([name, 'F32', shape, values]);
    }
  }
  const parts = [];
  let offset = 0;
  for (const [name, dtype, shape, values] of [...wide, ...narrow]) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + values.byteLength] };
    parts.push(new Uint8Array(values.buffer));
    offset += values.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((64 - ((8 + json.length) % 64)) % 64);
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  let at = 8 + json.length;
  for (const p of parts) out.set(p, at), (at += p.length);
  return out;
}

export function parameterCount(config) {
  return tensors(config).reduce((sum, [, shape]) => sum + shape.reduce((a, b) => a * b, 1), 0);
}
