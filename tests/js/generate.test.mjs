// Generation (seeded sampling in C, streaming UTF-8 text), loading from every kind of source, and the
// mingru command.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { load } from '../../js/index.js';
import { ByteDecoder } from '../../js/tokenizer.js';
import { fixturePath, lmCases } from '../helpers/lm-fixtures.mjs';

const c = lmCases().find((x) => x.cell === 'gru' && x.convKernelSize && !x.oldNorm);
const modelPath = fixturePath(c.files.f32);

async function collect(iterable) {
  const pieces = [];
  for await (const p of iterable) pieces.push(p);
  return pieces;
}

test('generate is reproducible by seed, and another seed gives other text', async () => {
  const lm = await load(modelPath);
  const a = (await collect(lm.generate('In the beginning', { maxTokens: 120, seed: 42 }))).join('');
  const b = (await collect(lm.generate('In the beginning', { maxTokens: 120, seed: 42 }))).join('');
  const d = (await collect(lm.generate('In the beginning', { maxTokens: 120, seed: 43 }))).join('');
  assert.equal(a, b);
  assert.notEqual(a, d);
  const s = lm.createState(); // the same run on a state: it read the prompt and exactly 120 tokens more
  assert.equal((await collect(lm.generate('In the beginning', { maxTokens: 120, seed: 42, state: s }))).join(''), a);
  assert.equal(s.tokens, lm.encode('In the beginning').length + 120);
  lm.dispose();
});

test('temperature 0 is greedy: the same tokens as argmax over step', async () => {
  const lm = await load(modelPath);
  const generated = lm.encode((await collect(lm.generate('abc', { maxTokens: 30, temperature: 0 }))).join(''));
  const s = lm.createState();
  let logits = await lm.forward(lm.encode('abc'), { state: s });
  const greedy = [];
  for (let i = 0; i < 30; i++) {
    let best = 0;
    for (let t = 1; t < logits.length; t++) if (logits[t] > logits[best]) best = t;
    greedy.push(best);
    logits = await lm.step(best, { state: s });
  }
  // invalid UTF-8 bytes decode to U+FFFD, so compare through the decoder
  assert.equal(lm.decode(generated), lm.decode(greedy));
  lm.dispose();
});

test('pieces are whole characters: the streamed text equals decoding all tokens at once', async () => {
  const lm = await load(modelPath);
  const s = lm.createState();
  const pieces = await collect(lm.generate('é', { maxTokens: 200, seed: 7, temperature: 1.5, state: s }));
  for (const p of pieces) assert.ok(!/[\uD800-\uDBFF]$/.test(p), 'no piece ends in half a surrogate pair');
  assert.equal(s.tokens, lm.encode('é').length + 200);
  lm.dispose();
});

test('the byte decoder emits only whole characters, whatever the split', () => {
  const text = 'aé€😀z\u00ff';
  const bytes = new TextEncoder().encode(text);
  const d = new ByteDecoder();
  const pieces = Array.from(bytes, (b) => d.push(b));
  assert.equal(pieces.join(''), text);
  for (const p of pieces) assert.ok(p === '' || [...p].every((ch) => text.includes(ch)), `piece ${JSON.stringify(p)}`);
  assert.deepEqual(pieces.filter((p) => p !== ''), ['a', 'é', '€', '😀', 'z', '\u00ff']);
});

test('top-k 1 equals greedy; top-p, min-p and repetition penalty change the text but stay reproducible', async () => {
  const lm = await load(modelPath);
  const greedy = (await collect(lm.generate('x', { maxTokens: 40, temperature: 0 }))).join('');
  assert.equal((await collect(lm.generate('x', { maxTokens: 40, topK: 1, seed: 3 }))).join(''), greedy);
  for (const opts of [{ topP: 0.5 }, { minP: 0.2 }, { repetitionPenalty: 1.5 }, { topK: 5, topP: 0.9, minP: 0.05 }]) {
    const a = (await collect(lm.generate('x', { maxTokens: 40, seed: 9, ...opts }))).join('');
    const b = (await collect(lm.generate('x', { maxTokens: 40, seed: 9, ...opts }))).join('');
    assert.equal(a, b, JSON.stringify(opts));
  }
  lm.dispose();
});

test('a state continues a generation; stop strings end it before the stop text', async () => {
  const lm = await load(modelPath);
  const s = lm.createState();
  const first = (await collect(lm.generate('Hello', { maxTokens: 20, seed: 1, state: s }))).join('');
  assert.equal(s.tokens, 25);
  const saved = await s.save();
  const more = (await collect(lm.generate('', { maxTokens: 10, seed: 1, state: s }))).join('');
  assert.equal(s.tokens, 35);
  // seeded, the first part is a run without a state, the second a run from the saved state loaded elsewhere
  assert.equal(first, (await collect(lm.generate('Hello', { maxTokens: 20, seed: 1 }))).join(''));
  const restored = lm.loadState(saved);
  assert.equal(more, (await collect(lm.generate('', { maxTokens: 10, seed: 1, state: restored }))).join(''));
  assert.equal(restored.tokens, 35);
  // greedy, the two parts are the argmax path from 'Hello' (an independent loop over step), 20 then 10 tokens
  const g = lm.createState();
  const greedy = (await collect(lm.generate('Hello', { maxTokens: 20, temperature: 0, state: g }))).join('') +
    (await collect(lm.generate('', { maxTokens: 10, temperature: 0, state: g }))).join('');
  const r = lm.createState();
  const path = [];
  for (let logits = await lm.forward(lm.encode('Hello'), { state: r }); path.length < 30; logits = await lm.step(path.at(-1), { state: r })) {
    path.push(logits.indexOf(Math.max(...logits))); // the lowest id among equal maxima, as the sampler takes
  }
  // each generate decodes its own tokens as a stream: an unfinished character at its end is not emitted
  const streamed = (tokens) => ((d) => tokens.map((t) => d.push(t)).join(''))(new ByteDecoder());
  assert.equal(greedy, streamed(path.slice(0, 20)) + streamed(path.slice(20)));
  // pick a stop string that occurs in the unconstrained text, then check generation ends right before it
  const full = (await collect(lm.generate('Hello', { maxTokens: 200, seed: 5 }))).join('');
  const stop = full.slice(50, 52);
  const cut = (await collect(lm.generate('Hello', { maxTokens: 200, seed: 5, stop: [stop, '\u0000never'] }))).join('');
  assert.equal(cut, full.slice(0, full.indexOf(stop)));
  await assert.rejects(collect(lm.generate('', { maxTokens: 5 })), (e) => e.code === 'MG_EINVAL' && /empty/.test(e.message));
  lm.dispose();
});

test('an AbortSignal ends generation cleanly and the model stays usable; a busy state is refused', async () => {
  const lm = await load(modelPath);
  const controller = new AbortController();
  const s = lm.createState();
  let n = 0;
  for await (const piece of lm.generate('abc', { maxTokens: 100000, seed: 2, signal: controller.signal, state: s })) {
    n += piece.length;
    if (n > 50) {
      await assert.rejects(lm.step(1, { state: s }), (e) => e.code === 'MG_EBUSY');
      controller.abort();
    }
  }
  assert.ok(s.tokens < 1000, `stopped after ${s.tokens} tokens`);
  const after = (await collect(lm.generate('abc', { maxTokens: 10, seed: 2 }))).join('');
  const fresh = await load(modelPath); // a model that never saw the abort
  assert.equal(after, (await collect(fresh.generate('abc', { maxTokens: 10, seed: 2 }))).join(''));
  fresh.dispose();
  lm.dispose();
});

test('generate refuses bad options with MG_EINVAL naming them', async () => {
  const lm = await load(modelPath);
  for (const [opts, name] of [[{ temperature: -1 }, 'temperature'], [{ topK: 1.5 }, 'topK'], [{ topP: 0 }, 'topP'],
    [{ minP: 2 }, 'minP'], [{ maxTokens: -1 }, 'maxTokens'], [{ seed: 'x' }, 'seed'], [{ repetitionPenalty: 0 }, 'repetitionPenalty'],
    [{ stop: 5 }, 'stop'], [{ signal: {} }, 'signal'], [{ state: 3 }, 'state']]) {
    await assert.rejects(collect(lm.generate('a', opts)), (e) => e.code === 'MG_EINVAL' && e.message.includes(name), JSON.stringify(opts));
  }
  await assert.rejects(collect(lm.generate(42)), (e) => e.code === 'MG_EINVAL');
  lm.dispose();
});

test('load takes a path, a file URL, bytes, an ArrayBuffer, a Response and a Blob, with progress', async () => {
  const bytes = readFileSync(modelPath);
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  const sources = [modelPath, pathToFileURL(modelPath), pathToFileURL(modelPath).href, new Uint8Array(bytes), ab,
    new Response(bytes, { headers: { 'content-length': String(bytes.length) } }), new Blob([bytes])];
  let identity;
  for (const source of sources) {
    const events = [];
    const lm = await load(source, { onProgress: (e) => events.push(e) });
    identity ??= lm.identity;
    assert.equal(lm.identity, identity);
    if (!(source instanceof Uint8Array) && !(source instanceof ArrayBuffer)) {
      assert.ok(events.length >= 2, `progress events for ${source?.constructor?.name}`);
      assert.equal(events.at(-1).loaded, bytes.length);
    }
    lm.dispose();
  }
  await assert.rejects(load('/no/such/model.safetensors'), (e) => e.code === 'MG_ELOAD' && /ENOENT/.test(e.message));
  await assert.rejects(load(42), (e) => e.code === 'MG_EINVAL');
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(load(modelPath, { signal: controller.signal }), (e) => e.code === 'MG_EABORTED');
  await assert.rejects(load(new Uint8Array(10)), (e) => e.code === 'MG_EBADFILE');
});

test('load fetches an http URL with progress events, and reports HTTP errors', async () => {
  const { createServer } = await import('node:http');
  const bytes = readFileSync(modelPath);
  const server = createServer((req, res) => {
    if (req.url !== '/model.safetensors') return res.writeHead(404).end('no');
    res.writeHead(200, { 'content-length': bytes.length, 'content-type': 'application/octet-stream' });
    // in pieces, so that progress has several steps
    let at = 0;
    const next = () => {
      if (at >= bytes.length) return res.end();
      res.write(bytes.subarray(at, at + 16384), next);
      at += 16384;
    };
    next();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const events = [];
    const lm = await load(`${base}/model.safetensors`, { onProgress: (e) => events.push(e) });
    assert.equal(lm.config.dim, c.dim);
    assert.ok(events.length >= 3, `${events.length} progress events`);
    assert.ok(events.every((e) => e.total === bytes.length));
    assert.equal(events.at(-1).loaded, bytes.length);
    lm.dispose();
    await assert.rejects(load(`${base}/missing.safetensors`), (e) => e.code === 'MG_ELOAD' && /404/.test(e.message));
  } finally {
    server.close();
  }
});

test('npx mingru-wasm info and generate', async () => {
  const bin = new URL('../../bin/mingru.mjs', import.meta.url).pathname;
  const info = spawnSync(process.execPath, [bin, 'info', modelPath], { encoding: 'utf8' });
  assert.equal(info.status, 0, info.stderr);
  assert.match(info.stdout, /cell:\s+minGRU/);
  assert.match(info.stdout, /parameters:\s+[\d,]+/);
  assert.match(info.stdout, new RegExp(`dim:\\s+${c.dim}`));
  const run = (seed) => spawnSync(process.execPath, [bin, 'generate', modelPath, '--prompt', 'Once', '--max-tokens', '40', '--seed', seed, '--top-k', '20', '--temperature', '0.8'], { encoding: 'utf8' });
  const a = run('4'), b = run('4');
  assert.equal(a.status, 0, a.stderr);
  const lm = await load(modelPath);
  const text = (await collect(lm.generate('Once', { maxTokens: 40, seed: 4, topK: 20, temperature: 0.8 }))).join('');
  lm.dispose();
  assert.equal(a.stdout, `Once${text}\n`);
  assert.equal(a.stdout, b.stdout);
  const bad = spawnSync(process.execPath, [bin, 'generate', modelPath], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--prompt/);
  const missing = spawnSync(process.execPath, [bin, 'info', '/nope.safetensors'], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /MG_ELOAD/);
});
