// A model with a real vocabulary through the API (issue 37): load(source, { tokenizer }) with a SentencePiece BPE
// model trained by Debian's sentencepiece (tests/fixtures/tokenizers, tools/spm_fixtures.py) on a model of its
// vocabulary: encode gives sentencepiece's own ids, decode its text; generate streams the text of the ids it drew
// (checked against greedy steps decoded at once); evaluate's bitsPerByte is its bits over the UTF-8 bytes its
// predictions cover (computed here from forward's logits); train reads text through the tokenizer; a tokenizer that
// does not fit the model, a model without one and a tokenizer file that is not one are refused by name; in Chromium,
// Firefox and WebKit pages the same, through the worker.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { create, load } from '../../js/index.js';
import { serve } from '../../scripts/serve.mjs';
import { available, openBrowser } from '../helpers/browsers.mjs';

const dir = new URL('../fixtures/tokenizers/', import.meta.url);
const SPM = new URL('spm-bpe.model', dir).pathname;
const expected = JSON.parse(readFileSync(new URL('spm-expected.json', dir), 'utf8'));
const TEXT = 'In the beginning God created the heaven and the earth. And the earth was without form, and void.';

const modelOf = async (numTokens) => (await create({ numTokens, dim: 16, depth: 1, seed: 1 })).save();
const file2000 = await modelOf(2000);

test('load(source, { tokenizer }): a SentencePiece model gives sentencepiece\'s ids and text; config names its kind and size', async () => {
  const lm = await load(file2000, { tokenizer: SPM });
  assert.equal(lm.config.tokenizer, 'sentencepiece');
  assert.equal(lm.tokenizer.kind, 'bpe-metaspace');
  assert.equal(lm.config.tokenizerVocabSize, 2000);
  let checked = 0;
  expected.lines.forEach((line, i) => {
    const ids = lm.encode(line);
    assert.ok(ids instanceof Uint16Array, 'a 2000-token vocabulary fits 16 bits');
    assert.deepEqual(Array.from(ids), expected.bpe.ids[i], `line ${i}: ${JSON.stringify(line)}`);
    assert.equal(lm.decode(ids), expected.bpe.decoded[i], `line ${i}`);
    checked++;
  });
  assert.equal(checked, 300);
  // the same tokenizer from its bytes
  const again = await load(file2000, { tokenizer: readFileSync(SPM) });
  assert.deepEqual(again.encode(TEXT), lm.encode(TEXT));
  lm.dispose(), again.dispose();
});

test('generate streams the text of the tokens it draws: greedy generation equals greedy steps decoded at once', async () => {
  const lm = await load(file2000, { tokenizer: SPM });
  let streamed = '';
  for await (const piece of lm.generate('In the beginning', { maxTokens: 40, temperature: 0 })) streamed += piece;
  const state = lm.createState();
  let logits = await lm.forward(lm.encode('In the beginning'), { state });
  const ids = [];
  for (let i = 0; i < 40; i++) {
    const next = logits.indexOf(Math.max(...logits));
    ids.push(next);
    logits = await lm.step(next, { state });
  }
  assert.equal(streamed, lm.decode(ids));
  assert.ok(streamed.length > 0);
  lm.dispose();
});

test("evaluate: bitsPerByte is the bits over the UTF-8 bytes its predictions cover (here from forward's logits)", async () => {
  const lm = await load(file2000, { tokenizer: SPM });
  const ids = lm.encode(TEXT);
  const r = await lm.evaluate(TEXT);
  const logits = await lm.forward(ids, { allLogits: true });
  const V = lm.config.numTokens;
  let bits = 0;
  for (let t = 1; t < ids.length; t++) {
    const row = Array.from(logits.subarray((t - 1) * V, t * V)), max = Math.max(...row);
    bits += (Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0)) + max - row[ids[t]]) / Math.LN2;
  }
  const bytes = new TextEncoder().encode(TEXT).length - new TextEncoder().encode(lm.decode([ids[0]])).length;
  assert.equal(r.tokens, ids.length - 1);
  assert.ok(Math.abs(r.bits / bits - 1) < 1e-5, `${r.bits} bits, ${bits} from the logits`);
  assert.ok(Math.abs(r.bitsPerByte - r.bits / bytes) < 1e-12, `${r.bitsPerByte} vs ${r.bits} / ${bytes} bytes`);
  lm.dispose();
});

test('train() reads text through the tokenizer and learns it', async () => {
  const lm = await load(file2000, { tokenizer: SPM });
  const before = (await lm.evaluate(TEXT)).bits;
  for await (const _ of lm.train(TEXT.repeat(20), { steps: 20, batchSize: 4, seqLen: 16, lr: 1e-2, seed: 1 })) void _;
  const after = (await lm.evaluate(TEXT)).bits;
  assert.ok(after < before * 0.8, `bits ${before} -> ${after}`);
  lm.dispose();
});

test('refused by name: a tokenizer larger than the vocabulary, text for a model without a tokenizer, a file that is no tokenizer', async () => {
  const small = await modelOf(1000);
  await assert.rejects(load(small, { tokenizer: SPM }),
    (e) => e.code === 'MG_EINVAL' && /the tokenizer has 2,000 tokens; the model's vocabulary has 1,000 \(numTokens\)/.test(e.message));
  const none = await load(file2000);
  assert.equal(none.config.tokenizer, 'none');
  assert.throws(() => none.encode('a'), (e) => e.code === 'MG_EINVAL' && /no tokenizer .*load\(source, \{ tokenizer \}\)/.test(e.message));
  await assert.rejects((async () => { for await (const _ of none.generate('a')) void _; })(), (e) => e.code === 'MG_EINVAL' && /no tokenizer/.test(e.message));
  await assert.rejects(none.evaluate('a'), (e) => e.code === 'MG_EINVAL' && /no tokenizer/.test(e.message));
  assert.ok((await none.evaluate([1, 2, 3])).bitsPerByte === null, 'ids without a tokenizer: no bytes to count');
  none.dispose();
  await assert.rejects(load(file2000, { tokenizer: new TextEncoder().encode('{"version": "1.0"}') }),
    (e) => e.code === 'MG_EBADFILE' && /not a tokenizer.json/.test(e.message));
  await assert.rejects(load(file2000, { tokenizer: '/nonexistent/tokenizer.json' }),
    (e) => e.code === 'MG_ELOAD' && /tokenizer: .*nonexistent/.test(e.message));
  await assert.rejects(load(file2000, { tokenizer: 42 }), (e) => e.code === 'MG_EINVAL' && /tokenizer must be/.test(e.message));
});

test('generate over a 50,257-token vocabulary: the repetition penalty is over ids (a JS reference from step logits), stop strings across token boundaries', async () => {
  const lm = await load(new URL('../fixtures/vocab/minGRULM-gpt2-d8-l1.safetensors', import.meta.url).pathname);
  const prompt = 'Once upon a time, there was a little', window = 8, penalty = 1.3, n = 40;
  // the reference: greedy over the step logits, each recent id (the last `window` read, prompt included) penalised
  // once (CTRL: a positive logit divided by the penalty, a negative one multiplied), the lowest id among equal maxima
  const state = lm.createState(), ids = Array.from(lm.encode(prompt));
  let logits = await lm.forward(Int32Array.from(ids), { state });
  const drawn = [];
  for (let i = 0; i < n; i++) {
    const z = Float32Array.from(logits);
    for (const t of new Set(ids.slice(-window))) z[t] = z[t] > 0 ? z[t] / penalty : z[t] * penalty;
    let best = 0;
    for (let t = 1; t < z.length; t++) if (z[t] > z[best]) best = t;
    drawn.push(best), ids.push(best);
    logits = await lm.step(best, { state });
  }
  state.dispose();
  const generate = async (o) => {
    let text = '';
    for await (const piece of lm.generate(prompt, { maxTokens: n, temperature: 0, ...o })) text += piece;
    return text;
  };
  const penalised = await generate({ repetitionPenalty: penalty, penaltyWindow: window });
  assert.equal(penalised, lm.decode(drawn));
  assert.notEqual(penalised, await generate({}), 'the penalty changed nothing: the test cannot tell');
  // a stop string made of the end of one drawn token and the start of the next: generation ends before it
  const pieces = drawn.map((t) => lm.decode([t]));
  const i = pieces.findIndex((p, k) => k > 2 && p.length >= 2 && pieces[k + 1]?.length >= 2);
  assert.ok(i > 0, `no two neighbouring tokens of 2 characters or more in ${JSON.stringify(pieces)}`);
  const stop = pieces[i].slice(-2) + pieces[i + 1].slice(0, 2), full = lm.decode(drawn);
  const stopped = await generate({ repetitionPenalty: penalty, penaltyWindow: window, stop });
  assert.equal(stopped, full.slice(0, full.indexOf(stop)), `stop ${JSON.stringify(stop)}`);
  lm.dispose();
});

test('a model with more tokens than its tokenizer (rows padded past it): generate and load\'s warm-up draw them and write nothing for them', async () => {
  const lm = await load(await modelOf(2048), { tokenizer: SPM }); // 2,000 tokens: 48 rows past the vocabulary
  const state = lm.createState();
  let text = '';
  // at temperature 2 the random model's draws are near uniform: about 2% of 1,000 (20) land past the vocabulary
  for await (const piece of lm.generate('In the beginning', { maxTokens: 1000, temperature: 2, seed: 5, state })) text += piece;
  assert.equal(state.tokens, lm.encode('In the beginning').length + 1000);
  assert.ok(text.length > 0);
  assert.throws(() => lm.decode([2040]), /outside the tokenizer's \[0, 2000\)/, 'decode() itself still refuses them');
  lm.dispose();
});

const GPT2_MODEL = new URL('../fixtures/vocab/minGRULM-gpt2-d8-l1.safetensors', import.meta.url).pathname;
/** The compressed file's header (docs/format.md, "Compressed files"). */
const headerOf = (file) => JSON.parse(new TextDecoder().decode(file.subarray(9, 9 + new DataView(file.buffer, file.byteOffset).getUint32(5, true))));

test('compress codes the tokenizer\'s ids where decode(encode(text)) is the text, and gives the bytes back', async () => {
  const gpt2 = await load(GPT2_MODEL); // GPT-2's byte-level BPE keeps any text: CRLF, emoji with ZWJ, CJK, RTL
  const varied = `${TEXT}\r\n\tdef f(x):  return x**2  # 👩‍👩‍👧 ok\n日本語のテキスト, עברית, العربية — 1,234.5e-6\n`.repeat(8);
  for (const adapt of [true, false]) {
    const packed = await gpt2.compress(varied, { adapt });
    const h = headerOf(packed);
    assert.equal(h.method, 'model');
    assert.equal(h.tokens, gpt2.encode(varied).length, 'it codes the tokenizer\'s ids');
    assert.deepEqual(h.tokenizer, { format: 'tokenizer.json', crc32: h.tokenizer.crc32 });
    assert.ok(packed.length < new TextEncoder().encode(varied).length / 2, `${packed.length} bytes`);
    assert.equal(new TextDecoder().decode(await gpt2.decompress(packed)), varied);
  }
  // with a prime (its ids read first by both sides)
  const primed = await gpt2.compress(TEXT, { prime: 'Genesis 1:1 ' });
  assert.equal(new TextDecoder().decode(await gpt2.decompress(primed, { prime: 'Genesis 1:1 ' })), TEXT);
  // SentencePiece (nmt_nfkc folds whitespace): text it keeps compresses, text it changes is refused where it changes
  const spm = await load(file2000, { tokenizer: SPM });
  const kept = TEXT.repeat(10);
  assert.equal(new TextDecoder().decode(await spm.decompress(await spm.compress(kept))), kept);
  await assert.rejects(spm.compress(`${TEXT}\n\nAnd God said`),
    (e) => e.code === 'MG_EINVAL' && /tokenizer \(sentencepiece\) does not give this text back: .*character 96 on \("\\n\\nAnd God/.test(e.message));
  await assert.rejects(spm.compress('ok', { prime: 'a  b' }), (e) => e.code === 'MG_EINVAL' && /^compress: prime: the model's tokenizer/.test(e.message));
  await assert.rejects(gpt2.compress(new Uint8Array([0x41, 0xff])), (e) => e.code === 'MG_EINVAL' && /the data is not UTF-8 text/.test(e.message));
  // the same model file given another tokenizer at load: its files are refused by the other, naming both
  const other = await load(GPT2_MODEL, { tokenizer: SPM });
  const packedOther = await other.compress(kept);
  await assert.rejects(gpt2.decompress(packedOther), (e) => e.code === 'MG_EMISMATCH' && /compressed through a sentencepiece tokenizer .*this model reads through a tokenizer.json tokenizer/.test(e.message));
  assert.equal(new TextDecoder().decode(await other.decompress(packedOther)), kept);
  for (const m of [gpt2, spm, other]) m.dispose();
});

// ---- in pages: the tokenizer option through the worker (the page's encode and decode parse the worker's copy)

/** Runs in the page: the model of `numTokens` made there, loaded with the tokenizer at `url`. */
async function inPage(origin, url, text) {
  const { create, load } = await import(`${origin}/js/index.js`);
  const file = await (await create({ numTokens: 2000, dim: 16, depth: 1, seed: 1 })).save();
  const lm = await load(file, { tokenizer: url });
  let generated = '';
  for await (const piece of lm.generate('In the beginning', { maxTokens: 30, temperature: 0 })) generated += piece;
  const out = { kind: lm.config.tokenizer, ids: Array.from(lm.encode(text)), decoded: lm.decode(lm.encode(text)), generated,
    bitsPerByte: (await lm.evaluate(text)).bitsPerByte, packed: Array.from(await lm.compress(text.repeat(3))) };
  lm.dispose();
  return out;
}

for (const engine of ['chromium', 'firefox', 'webkit']) {
  test(`${engine}: load(source, { tokenizer: URL }) in a page gives Node's ids, text, generation and bits per byte`, { skip: available(engine) }, async () => {
    const { server, url } = await serve({ isolation: true });
    const browser = await openBrowser(engine);
    try {
      await browser.goto(`${url}/tests/browser/blank.html`);
      const r = await browser.evaluate(inPage, url, '/tests/fixtures/tokenizers/spm-bpe.model', TEXT);
      const lm = await load(file2000, { tokenizer: SPM });
      let generated = '';
      for await (const piece of lm.generate('In the beginning', { maxTokens: 30, temperature: 0 })) generated += piece;
      assert.equal(r.kind, 'sentencepiece');
      assert.deepEqual(r.ids, Array.from(lm.encode(TEXT)));
      assert.equal(r.decoded, lm.decode(lm.encode(TEXT)));
      assert.equal(r.generated, generated);
      assert.ok(Math.abs(r.bitsPerByte / (await lm.evaluate(TEXT)).bitsPerByte - 1) < 1e-6);
      assert.deepEqual(r.packed, Array.from(await lm.compress(TEXT.repeat(3))), "the page's compressed file is Node's");
      assert.deepEqual(await browser.errors(), []);
      lm.dispose();
    } finally {
      await browser.close();
      server.close();
    }
  });
}

// ---- the command: --tokenizer on generate, evaluate and train

test('the command: generate, evaluate, train, compress and decompress take --tokenizer; a model without one says to give it (status 2)', async (t) => {
  const dirOut = mkdtempSync(join(tmpdir(), 'mingru-tok-'));
  t.after(() => rmSync(dirOut, { recursive: true, force: true }));
  const model = join(dirOut, 'm.safetensors'), text = join(dirOut, 't.txt');
  writeFileSync(model, file2000);
  writeFileSync(text, TEXT.repeat(4));
  const cli = (...args) => spawnSync(process.execPath, [new URL('../../bin/mingru.mjs', import.meta.url).pathname, ...args], { encoding: 'utf8' });
  const lm = await load(file2000, { tokenizer: SPM });
  let want = '';
  for await (const piece of lm.generate('In the beginning', { maxTokens: 12, seed: 3 })) want += piece;
  const g = cli('generate', model, '--prompt', 'In the beginning', '--max-tokens', '12', '--seed', '3', '--tokenizer', SPM);
  assert.equal(g.status, 0, g.stderr);
  assert.equal(g.stdout, `In the beginning${want}\n`);
  const e = cli('evaluate', model, text, '--json', '--tokenizer', SPM);
  assert.equal(e.status, 0, e.stderr);
  assert.equal(JSON.parse(e.stdout).bitsPerByte, (await lm.evaluate(TEXT.repeat(4))).bitsPerByte);
  const tr = cli('train', model, text, '--tokenizer', SPM, '--steps', '2', '--batch', '2', '--seq-len', '8', '--out', join(dirOut, 'o.safetensors'));
  assert.equal(tr.status, 0, tr.stderr);
  assert.match(tr.stdout, /2 steps, last loss \d+\.\d+ bits\/token/);
  const packed = join(dirOut, 't.mgz'), back = join(dirOut, 'back.txt');
  const c = cli('compress', model, text, '--tokenizer', SPM, '-o', packed);
  assert.equal(c.status, 0, c.stderr);
  assert.deepEqual(new Uint8Array(readFileSync(packed)), await lm.compress(TEXT.repeat(4)));
  const d = cli('decompress', model, packed, '--tokenizer', SPM, '-o', back);
  assert.equal(d.status, 0, d.stderr);
  assert.equal(readFileSync(back, 'utf8'), TEXT.repeat(4));
  const none = cli('generate', model, '--prompt', 'a');
  assert.equal(none.status, 2);
  assert.match(none.stderr, /has no tokenizer .*give --tokenizer FILE/);
  lm.dispose();
});

test('a model file that carries its tokenizer: encode gives the ids PyTorch ran on, and its logits after them (GPT-2 and SentencePiece)', async () => {
  const vocab = new URL('../fixtures/vocab/', import.meta.url);
  const { cases } = JSON.parse(readFileSync(new URL('manifest.json', vocab), 'utf8'));
  for (const c of cases) {
    const lm = await load(new URL(c.file, vocab).pathname);
    assert.equal(lm.config.tokenizer, c.tokenizer);
    const bin = readFileSync(new URL(c.expected, vocab)), T = bin.readUInt32LE(8), W = bin.readUInt32LE(12);
    const ids = Array.from({ length: T }, (_, i) => bin.readInt32LE(16 + 4 * i));
    assert.deepEqual(Array.from(lm.encode(c.text)), ids, `${c.name}: the ids PyTorch ran on (the reference tokenizer's)`);
    assert.equal(lm.decode(lm.encode(c.text)), c.text);
    const want = new Float32Array(bin.buffer.slice(bin.byteOffset + 16 + 4 * T, bin.byteOffset + 16 + 4 * T + 4 * W));
    const got = await lm.forward(lm.encode(c.text).subarray(0, 1));
    assert.ok(got.every((x, i) => Math.abs(x - want[i]) <= 1e-4 * (1 + Math.abs(want[i]))), `${c.name}: first logits`);
    lm.dispose();
  }
});

test("save() of a model given its tokenizer at load carries it: the file loads with it alone, in f32 and q8, and saves the same again", async () => {
  const lm = await load(file2000, { tokenizer: SPM });
  for (const dtype of ['f32', 'q8']) {
    const saved = await lm.save({ dtype });
    const back = await load(saved);
    assert.equal(back.config.tokenizer, 'sentencepiece');
    assert.equal(back.metadata.tokenizer, 'sentencepiece');
    assert.deepEqual(back.encode(TEXT), lm.encode(TEXT));
    assert.ok(Buffer.from(await back.save({ dtype })).equals(Buffer.from(saved)), `${dtype}: saved again, the same bytes`);
    back.dispose();
  }
  // a file that carries its own: save() writes it unchanged
  const own = await load(new URL('../fixtures/vocab/lstm-spm-bpe-d16-l2.safetensors', import.meta.url).pathname);
  assert.ok(Buffer.from(await own.save()).equals(readFileSync(new URL('../fixtures/vocab/lstm-spm-bpe-d16-l2.safetensors', import.meta.url))));
  own.dispose(), lm.dispose();
});
