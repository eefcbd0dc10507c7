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
