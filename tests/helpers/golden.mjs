// Reads tests/fixtures/golden-layers.bin (format in tools/reference.py, write_golden) and compares arrays.
import { readFileSync } from 'node:fs';

export function readGolden(path = new URL('../fixtures/golden-layers.bin', import.meta.url)) {
  const buf = readFileSync(path);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.subarray(0, 8).toString('latin1') !== 'MGGOLD01') throw new Error('not a golden fixture');
  let at = 8;
  const u32 = () => ((at += 4), view.getUint32(at - 4, true));
  const floats = (n) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(at + 4 * i, true);
    at += 4 * n;
    return out;
  };
  const cases = [];
  for (let n = u32(), i = 0; i < n; i++) {
    const nameLength = u32();
    const name = buf.subarray(at, at + nameLength).toString('utf8');
    at += nameLength;
    const cell = u32() === 0 ? 'gru' : 'lstm';
    const dim = u32();
    const expansionFactor = view.getFloat64(at, true);
    at += 8;
    const [dimInner, batch, seqLen, hasPrev, hasOut] = [u32(), u32(), u32(), u32(), u32()];
    const wIn = floats((cell === 'gru' ? 2 : 3) * dimInner * dim);
    const wOut = hasOut ? floats(dim * dimInner) : null;
    const x = floats(batch * seqLen * dim);
    const prevHidden = hasPrev ? floats(batch * dimInner) : undefined;
    const output = floats(batch * seqLen * dim);
    const hidden = floats(batch * dimInner);
    cases.push({ name, cell, dim, expansionFactor, dimInner, batch, seqLen, wIn, wOut, x, prevHidden, output, hidden });
  }
  if (at !== buf.length) throw new Error(`golden fixture has ${buf.length - at} trailing bytes`);
  return cases;
}

/** The largest |a - b| / (atol + rtol |b|): at most 1 means allclose(a, b, atol, rtol). */
export function closeRatio(a, b, atol, rtol) {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const r = Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i]));
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : r;
  }
  return worst;
}

/** Deterministic pseudo-random floats in [lo, hi) (a fixed LCG), so every run sees the same input. */
export function randomFloats(n, seed, lo = -1, hi = 1) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return out;
}
