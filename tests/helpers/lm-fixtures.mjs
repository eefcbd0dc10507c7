// Reads the language-model fixtures of tools/lm_fixtures.py: tests/fixtures/lm/manifest.json and, per
// case, the expected logits of the PyTorch reference ("MGLMEXP1", u32 T, u32 V, int32 tokens[T],
// float32 logits[T, V]).
import { readFileSync } from 'node:fs';

export const fixtureDir = new URL('../fixtures/lm/', import.meta.url);

export function lmCases() {
  const manifest = JSON.parse(readFileSync(new URL('manifest.json', fixtureDir), 'utf8'));
  return manifest.cases.map((c) => ({ ...c, ...readExpected(c.expected) }));
}

function readExpected(name) {
  const buf = readFileSync(new URL(name, fixtureDir));
  if (buf.subarray(0, 8).toString('latin1') !== 'MGLMEXP1') throw new Error(`${name}: not an expected-logits file`);
  const T = buf.readUInt32LE(8), V = buf.readUInt32LE(12);
  const tokens = Array.from({ length: T }, (_, i) => buf.readInt32LE(16 + 4 * i));
  const logits = new Float32Array(T * V);
  for (let i = 0; i < T * V; i++) logits[i] = buf.readFloatLE(16 + 4 * T + 4 * i);
  return { tokens, logits, T, V };
}

export const fixturePath = (file) => new URL(file, fixtureDir).pathname;

/** tests/fixtures/train/NAME.bin, the losses of PyTorch's AdamW steps on a fixture model (format:
 * tools/train_fixtures.py). */
export function readTrainFixture(name) {
  const b = readFileSync(new URL(`../train/${name}.bin`, fixtureDir));
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.subarray(0, 8).toString('latin1') !== 'MGTRAIN1') throw new Error(`${name}: not a training fixture`);
  let at = 8;
  const u32 = () => ((at += 4), dv.getUint32(at - 4, true));
  const f32 = () => ((at += 4), dv.getFloat32(at - 4, true));
  const [batch, seqLen, steps] = [u32(), u32(), u32()];
  const [lr, beta1, beta2, eps, weightDecay, clip] = Array.from({ length: 6 }, f32);
  const n = u32();
  let params = 0;
  for (let i = 0; i < n; i++) {
    const len = u32();
    at += len; // the name
    params += u32();
  }
  const ints = (k) => Array.from({ length: k }, () => ((at += 4), dv.getInt32(at - 4, true)));
  const tokens = ints(steps * batch * (seqLen + 1));
  const losses = Array.from({ length: steps }, f32);
  return { batch, seqLen, steps, options: { lr, betas: [beta1, beta2], eps, weightDecay, clip }, tokens, losses, params };
}
