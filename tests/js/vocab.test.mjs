// Models that carry their tokenizer (docs/format.md), from tools/tokenizer_fixtures.py: a minGRULM-base-shaped model
// (GPT-2's 50,257 tokens, its Hugging Face tensor names) with GPT-2's tokenizer.json, and a minLSTM with a
// SentencePiece BPE model. load() gives PyTorch's logits on the tokenizer's ids to 1e-4; the file's tokenizer tensor
// is the tokenizer file itself (parseTokenizer reads it and gives those ids; GPT-2's are tiktoken's); save() writes
// the file back byte for byte. With PyTorch: tools/tokenizer_fixtures.py regenerates the fixtures, and
// tools/convert.py --tokenizer refuses a vocabulary larger than the model's, naming both sizes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { get_encoding } from 'tiktoken';
import { load } from '../../js/index.js';
import { parseTokenizer } from '../../js/tokenizer.js';
import { closeRatio } from '../helpers/golden.mjs';

const dir = new URL('../fixtures/vocab/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('manifest.json', dir), 'utf8'));

function expected(name) {
  const buf = readFileSync(new URL(name, dir));
  assert.equal(buf.subarray(0, 8).toString('latin1'), 'MGLMEXP1');
  const T = buf.readUInt32LE(8), V = buf.readUInt32LE(12);
  const tokens = Array.from({ length: T }, (_, i) => buf.readInt32LE(16 + 4 * i));
  const logits = new Float32Array(buf.buffer.slice(buf.byteOffset + 16 + 4 * T, buf.byteOffset + 16 + 4 * T + 4 * T * V));
  return { tokens, logits, T, V };
}

/** The "tokenizer" tensor's bytes, found as docs/format.md says: the header's data_offsets, after 8 + N bytes. */
function tokenizerTensor(file) {
  const n = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + n).toString('utf8'));
  const entry = header.tokenizer;
  assert.equal(entry.dtype, 'U8');
  assert.equal(Object.keys(header).at(-1), 'tokenizer', 'the tokenizer is the last tensor');
  const [b, e] = entry.data_offsets;
  assert.deepEqual(entry.shape, [e - b]);
  return { kind: header.__metadata__.tokenizer, bytes: file.subarray(8 + n + b, 8 + n + e) };
}

test('the fixtures: GPT-2 tokenizer.json with minGRULM-base names, and a SentencePiece model', () => {
  assert.deepEqual(manifest.cases.map((c) => c.tokenizer), ['tokenizer.json', 'sentencepiece']);
  assert.equal(manifest.cases[0].numTokens, 50257);
});

for (const c of manifest.cases) {
  const file = readFileSync(new URL(c.file, dir));
  const want = expected(c.expected);

  for (const kernel of ['reference', 'simd']) {
    test(`${c.name} (${c.tokenizer}, ${kernel} kernel): logits on the tokenizer's ${want.T} ids match PyTorch to 1e-4`, async () => {
      const lm = await load(new Uint8Array(file), { kernel });
      assert.equal(lm.config.numTokens, c.numTokens);
      assert.equal(lm.config.tokenizer, c.tokenizer);
      assert.equal(lm.config.cell, c.cell);
      const logits = await lm.forward(want.tokens, { allLogits: true });
      const r = closeRatio(logits, want.logits, 1e-4, 1e-4);
      assert.ok(r <= 1, `logits off by ${r.toFixed(2)}x the tolerance`);
      lm.dispose();
    });
  }

  test(`${c.name}: the tokenizer tensor is the tokenizer file, and it gives the fixture's ids`, () => {
    const { kind, bytes } = tokenizerTensor(file);
    assert.equal(kind, c.tokenizer);
    assert.equal(bytes.length, c.tokenizerBytes);
    if (c.tokenizerSource.endsWith('.model')) {
      assert.ok(bytes.equals(readFileSync(new URL(`../../${c.tokenizerSource}`, import.meta.url))));
    } else {
      const enc = get_encoding('gpt2');
      try {
        assert.deepEqual(Array.from(enc.encode(c.text, 'all')), want.tokens, "tiktoken's gpt2 ids");
      } finally {
        enc.free();
      }
    }
    assert.deepEqual(Array.from(parseTokenizer(bytes).encode(c.text)), want.tokens);
  });

  test(`${c.name}: save() writes the file back byte for byte, tokenizer included`, async () => {
    const lm = await load(new Uint8Array(file));
    const saved = await lm.save({ dtype: c.dtype });
    assert.ok(Buffer.from(saved).equals(file), `${saved.length} bytes vs ${file.length}`);
    const q8 = await load(await lm.save({ dtype: 'q8' }));
    assert.equal(q8.config.tokenizer, c.tokenizer);
    assert.ok(tokenizerTensor(Buffer.from(await q8.save({ dtype: 'q8' }))).bytes.equals(tokenizerTensor(file).bytes));
    q8.dispose();
    lm.dispose();
  });
}

const python = process.env.MINGRU_PYTHON ?? '/usr/bin/python3';
const hasTorch = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const tools = fileURLToPath(new URL('../../tools/', import.meta.url));

function torchTest(name, fn) {
  test(name, { skip: !hasTorch && !process.env.CI && `no PyTorch at ${python}` }, () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mingru-vocab-'));
    try {
      fn(tmp);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
}

torchTest('tools/tokenizer_fixtures.py regenerates tests/fixtures/vocab (models and ids exactly, logits to 1e-5)', (tmp) => {
  const r = spawnSync(python, [join(tools, 'tokenizer_fixtures.py'), tmp], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(tmp).sort(), readdirSync(dir).sort());
  for (const c of manifest.cases) {
    assert.ok(readFileSync(join(tmp, c.file)).equals(readFileSync(new URL(c.file, dir))), c.file);
    const fresh = readFileSync(join(tmp, c.expected)), committed = expected(c.expected);
    const T = fresh.readUInt32LE(8);
    assert.deepEqual(Array.from({ length: T }, (_, i) => fresh.readInt32LE(16 + 4 * i)), committed.tokens);
    const logits = new Float32Array(fresh.buffer.slice(fresh.byteOffset + 16 + 4 * T));
    assert.ok(closeRatio(logits, committed.logits, 1e-5, 1e-5) <= 1, c.expected);
  }
  assert.equal(readFileSync(join(tmp, 'manifest.json'), 'utf8'), readFileSync(new URL('manifest.json', dir), 'utf8'));
});

torchTest('tools/convert.py --tokenizer refuses a tokenizer larger than the embedding, naming both sizes; fits embed it', (tmp) => {
  const gpt2 = join(tmp, 'gpt2.json');
  writeFileSync(gpt2, tokenizerTensor(readFileSync(new URL(manifest.cases[0].file, dir))).bytes);
  const spm = fileURLToPath(new URL('../fixtures/tokenizers/spm-bpe.model', import.meta.url));
  const script = `
import sys, torch
sys.path.insert(0, ${JSON.stringify(tools)})
from reference import MinLMRef
torch.manual_seed(0)
torch.save(MinLMRef(1000, 8, 1, ff_mult=2, expansion=1.5).state_dict(), sys.argv[1] + '/v1000.pt')
torch.save(MinLMRef(2000, 8, 1, ff_mult=2, expansion=1.5).state_dict(), sys.argv[1] + '/v2000.pt')
`;
  const made = spawnSync(python, ['-c', script, tmp], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const convert = (pt, ...args) => spawnSync(python, [join(tools, 'convert.py'), join(tmp, pt), join(tmp, 'out.safetensors'), ...args],
    { encoding: 'utf8' });
  for (const [pt, file, message] of [
    ['v1000.pt', gpt2, "the tokenizer has 50,257 tokens; the model's embedding has 1,000 rows"],
    ['v1000.pt', spm, "the tokenizer has 2,000 tokens; the model's embedding has 1,000 rows"]]) {
    const r = convert(pt, '--tokenizer', file);
    assert.equal(r.status, 1, r.stdout);
    assert.equal(r.stderr, `convert.py: error: ${message}\n`);
  }
  const ok = convert('v2000.pt', '--tokenizer', spm, '--dtype', 'q8');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /2000 tokens \(tokenizer sentencepiece\)/);
  const { kind, bytes } = tokenizerTensor(readFileSync(join(tmp, 'out.safetensors')));
  assert.equal(kind, 'sentencepiece');
  assert.ok(bytes.equals(readFileSync(spm)), 'q8 keeps the tokenizer U8, its bytes exactly');
  for (const flag of ['bytes', 'none']) {
    const r = convert('v2000.pt', '--tokenizer', flag);
    assert.equal(r.status, flag === 'none' ? 0 : 1, r.stderr);
  }
  // without sentencepiece, the pieces are counted in the protobuf: the same 2,000
  const count = spawnSync(python, ['-c', `import sys; sys.path.insert(0, ${JSON.stringify(tools)}); from convert import count_pieces; `
    + `print(count_pieces(open(${JSON.stringify(spm)}, 'rb').read()))`], { encoding: 'utf8' });
  assert.equal(count.stdout.trim(), '2000', count.stderr);
});
