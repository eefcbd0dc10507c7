// Limits, each with a clear error (a MingruError whose code names the class of problem and whose message names
// the problem): hostile headers and offsets, models too large for wasm32, token ids, states of other models,
// calls after dispose, concurrent calls on one state, and loads running at the same time.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { load, MingruError } from '../../js/index.js';
import { fixturePath, lmCases } from '../helpers/lm-fixtures.mjs';
import { makeModel } from '../helpers/model-maker.mjs';

const cases = lmCases();
const gru = cases.find((c) => c.cell === 'gru' && c.convKernelSize && !c.oldNorm);
const lstm = cases.find((c) => c.cell === 'lstm');
const corpus = (name) => new Uint8Array(readFileSync(new URL(`../corpus/${name}`, import.meta.url)));

function refused(code, pattern) {
  return (e) => {
    assert.ok(e instanceof MingruError, `not a MingruError: ${e?.stack ?? e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    return true;
  };
}

async function collect(iterable) {
  let text = '';
  for await (const piece of iterable) text += piece;
  return text;
}

/** A file of the tiny fixture with its JSON header padded by spaces to `length` bytes. */
function withHeaderLength(length) {
  const base = readFileSync(fixturePath('tiny-gru-d4-l2-conv2.safetensors'));
  const n = Number(base.readBigUInt64LE(0));
  const json = base.subarray(8, 8 + n).toString('utf8').trimEnd();
  const out = new Uint8Array(8 + length + (base.length - 8 - n));
  new DataView(out.buffer).setBigUint64(0, BigInt(length), true);
  out.fill(0x20, 8, 8 + length);
  out.set(Buffer.from(json), 8);
  out.set(base.subarray(8 + n), 8 + length);
  return out;
}

// First, while no runtime is loaded yet: several loads at once share the one being instantiated.
test('loads running at the same time all work (even the first ones, which start the engine)', async () => {
  const sources = [fixturePath(gru.files.f32), new Uint8Array(readFileSync(fixturePath(gru.files.f32))), fixturePath(lstm.files.f32),
    new Blob([readFileSync(fixturePath(gru.files.f32))])];
  const models = await Promise.all(sources.map((s) => load(s)));
  const broken = assert.rejects(load(corpus('offsets-overlap.MG_EBADFILE.safetensors')), refused('MG_EBADFILE', /overlap/));
  const more = load(fixturePath(gru.files.f32)); // a second load while a model is busy generating, below
  const text = collect(models[0].generate('abc', { maxTokens: 50, seed: 1 }));
  const late = await more;
  await broken;
  assert.equal(models[0].identity, models[1].identity);
  assert.equal(models[0].identity, models[3].identity);
  assert.notEqual(models[0].identity, models[2].identity);
  const want = await models[0].forward(gru.tokens);
  for (const lm of [models[1], models[3], late]) assert.deepEqual(await lm.forward(gru.tokens), want);
  assert.equal(await text, await collect(models[1].generate('abc', { maxTokens: 50, seed: 1 })));
  for (const lm of [...models, late]) lm.dispose();
});

test('a header over the 100 MB bound is refused before it is read; one just under it loads', async () => {
  await assert.rejects(load(corpus('header-length-over-100MB.MG_EBADFILE.safetensors')), refused('MG_EBADFILE', /header length 209715200 is over the 100 MB limit/));
  await assert.rejects(load(withHeaderLength(100 * 2 ** 20 + 8)), refused('MG_EBADFILE', /header length 104857608 is over the 100 MB limit/));
  const lm = await load(withHeaderLength(100 * 2 ** 20 - 8));
  assert.equal(lm.config.dim, 4);
  lm.dispose();
});

test('tensors beyond the file, overlapping tensors and overflowing shapes are refused, naming the tensor', async () => {
  await assert.rejects(load(corpus('offsets-beyond-data.MG_EBADFILE.safetensors')),
    refused('MG_EBADFILE', /tensor layers\.0\.2\.to_hidden_and_gate\.weight: data_offsets \[\d+, \d+\] outside the \d+ bytes of data/));
  await assert.rejects(load(corpus('truncated-data.MG_EBADFILE.safetensors')), refused('MG_EBADFILE', /outside the \d+ bytes of data/));
  await assert.rejects(load(corpus('offsets-overlap.MG_EBADFILE.safetensors')), refused('MG_EBADFILE', /tensors .* and .* overlap in the data/));
  await assert.rejects(load(corpus('shape-overflows.MG_EBADFILE.safetensors')),
    refused('MG_EBADFILE', /tensor layers\.0\.2\.to_hidden_and_gate\.weight: shape overflows/));
  await assert.rejects(load(corpus('shape-disagrees-with-offsets.MG_EBADFILE.safetensors')), refused('MG_EBADFILE', /span \d+ bytes but its shape needs \d+/));
});

test('a model too large for wasm32 memory is refused with MG_ENOMEM naming its size and the 2 GiB limit', async () => {
  // 2 GiB + 1 byte (zero pages, never written): refused before any copy
  await assert.rejects(load(new Uint8Array(2 ** 31 + 1)), refused('MG_ENOMEM', /model file is 2147483649 bytes \(2\.00 GiB\).*limited to 2 GiB \(wasm32\)/));
});

test('an F16 model whose F32 copies do not fit is refused (MG_ENOMEM), its memory returned, the engine usable', async () => {
  const small = await load(fixturePath(gru.files.f32));
  const state = small.createState();
  const before = small._engine.heapStats().used;
  // 0.85 GiB of F16 weights: 1.7 GiB of F32 copies on top of the file do not fit in 2 GiB (docs/robustness.md)
  const big = makeModel({ dim: 1024, depth: 32, expansionFactor: 1.5, ffMult: 4, convKernelSize: 3 }, { dtype: 'f16', fill: 'zeros' });
  await assert.rejects(load(big), refused('MG_ENOMEM', /out of memory converting tensor layers\.\d+\..*weight: the model file is \d+ bytes.*limited to 2 GiB/));
  assert.equal(small._engine.heapStats().used, before, 'the failed load returned every byte');
  await small.forward(gru.tokens.slice(0, 10), { state });
  const lm = await load(fixturePath(lstm.files.f32));
  assert.equal(lm.config.cell, 'lstm');
  lm.dispose();
  small.dispose();
});

test('token ids out of range are refused (MG_ERANGE) by forward (with and without a signal) and step', async () => {
  const lm = await load(fixturePath(gru.files.f32));
  const s = lm.createState();
  await lm.forward([1, 2], { state: s });
  const saved = await s.save();
  const signal = new AbortController().signal;
  for (const [call, pattern] of [
    [() => lm.forward([5, 256], { state: s }), /token 256 at position 1 is outside \[0, 256\)/],
    [() => lm.forward([-1], { state: s, signal }), /token -1 at position 0 is outside \[0, 256\)/],
    [() => lm.forward(Array.from({ length: 300 }, (_, i) => (i === 299 ? 1e6 : 1)), { state: s, signal }), /token 1000000 at position 299/],
    [() => lm.step(256, { state: s }), /token 256 at position 0/],
    [() => lm.step(-(2 ** 31), { state: s }), /token -2147483648/],
  ]) {
    await assert.rejects(call(), refused('MG_ERANGE', pattern));
  }
  // ids beyond int32 are checked before they reach wasm, where they would wrap around (2^32 + 5 into 5)
  await assert.rejects(lm.step(2 ** 32 + 5, { state: s }), refused('MG_ERANGE', /token 4294967301 at position 0 is outside/));
  await assert.rejects(lm.forward([2 ** 32 + 5], { state: s }), refused('MG_ERANGE', /token 4294967301 at position 0 is outside/));
  await assert.rejects(lm.forward(new Float64Array([1, 2 ** 31]), { state: s }), refused('MG_ERANGE', /token 2147483648 at position 1/));
  await assert.rejects(lm.step(1.5, { state: s }), refused('MG_EINVAL', /token must be an integer/));
  assert.deepEqual(await s.save(), saved, 'refused calls leave the state untouched');
  lm.dispose();
});

test('a state of another model is refused (MG_EMISMATCH) by every call that takes one', async () => {
  const a = await load(fixturePath(gru.files.f32));
  const b = await load(fixturePath(lstm.files.f32));
  const sb = b.createState();
  await b.forward([1, 2, 3], { state: sb });
  const signal = new AbortController().signal;
  await assert.rejects(a.forward([1], { state: sb }), refused('MG_EMISMATCH', /forward: the state belongs to another model/));
  await assert.rejects(a.forward([1], { state: sb, signal }), refused('MG_EMISMATCH', /another model/));
  await assert.rejects(a.step(1, { state: sb }), refused('MG_EMISMATCH', /step: the state belongs to another model/));
  await assert.rejects(collect(a.generate('x', { state: sb })), refused('MG_EMISMATCH', /generate: the state belongs to another model/));
  assert.throws(() => a.loadState(new Uint8Array(0)), refused('MG_EBADFILE', /not a saved mingru state/));
  const bytes = await sb.save();
  assert.throws(() => a.loadState(bytes), refused('MG_EMISMATCH', /loadState: the state belongs to another model \(identity [0-9a-f]{16}, this model is [0-9a-f]{16}\)/));
  // the same file loaded twice is the same model: its states go across
  const b2 = await load(fixturePath(lstm.files.f32));
  assert.equal(b2.loadState(bytes).tokens, 3);
  for (const m of [a, b, b2]) m.dispose();
});

test('calls after dispose throw MG_EDISPOSED (model and state); dispose twice is harmless', async () => {
  const lm = await load(fixturePath(gru.files.f32));
  const s = lm.createState();
  const kept = lm.createState();
  await lm.forward([1, 2], { state: kept });
  const bytes = await kept.save();
  s.dispose();
  s.dispose();
  assert.throws(() => s.tokens, refused('MG_EDISPOSED', /state\.tokens: the state was disposed/));
  assert.throws(() => s.clone(), refused('MG_EDISPOSED', /state\.clone: the state was disposed/));
  assert.throws(() => s.reset(), refused('MG_EDISPOSED', /state\.reset: the state was disposed/));
  await assert.rejects(s.save(), refused('MG_EDISPOSED', /state\.save: the state was disposed/));
  await assert.rejects(lm.forward([1], { state: s }), refused('MG_EDISPOSED', /forward: the state was disposed/));
  await assert.rejects(lm.step(1, { state: s }), refused('MG_EDISPOSED', /step: the state was disposed/));
  await assert.rejects(collect(lm.generate('a', { state: s })), refused('MG_EDISPOSED', /generate: the state was disposed/));
  assert.equal(kept.tokens, 2, 'other states are unaffected');

  lm.dispose();
  lm.dispose();
  for (const [call, name] of [[() => lm.forward([1]), 'forward'], [() => lm.forward([1], { signal: new AbortController().signal }), 'forward'],
    [() => lm.step(1), 'step'], [() => collect(lm.generate('a')), 'generate']]) {
    await assert.rejects(call(), refused('MG_EDISPOSED', new RegExp(`${name}: the model was disposed`)));
  }
  for (const [call, name] of [[() => lm.createState(), 'createState'], [() => lm.loadState(bytes), 'loadState'], [() => lm.encode('a'), 'encode'],
    [() => lm.decode([97]), 'decode'], [() => kept.clone(), 'state.clone'], [() => kept.reset(), 'state.reset']]) {
    assert.throws(call, refused('MG_EDISPOSED', new RegExp(`${name.replace('.', '\\.')}: the model was disposed`)));
  }
  assert.throws(() => kept.tokens, refused('MG_EDISPOSED', /the state was disposed/), "a disposed model's states are disposed");
  await assert.rejects(kept.save(), refused('MG_EDISPOSED', /disposed/));
  kept.dispose(); // harmless
});

test('calls on a state busy with generate or an abortable forward are refused (MG_EBUSY), never interleaved', async () => {
  const lm = await load(fixturePath(gru.files.f32));
  const s = lm.createState();
  const checkBusy = async (during) => {
    await assert.rejects(lm.step(1, { state: s }), refused('MG_EBUSY', /step: a generate\(\) or forward\(\) is running on this state/));
    await assert.rejects(lm.forward([1], { state: s }), refused('MG_EBUSY', /forward: .* running on this state/));
    await assert.rejects(collect(lm.generate('a', { state: s })), refused('MG_EBUSY', /generate: .* running on this state/));
    assert.throws(() => s.reset(), refused('MG_EBUSY', /state\.reset/));
    assert.throws(() => s.clone(), refused('MG_EBUSY', /state\.clone/));
    assert.throws(() => s.dispose(), refused('MG_EBUSY', /state\.dispose/));
    await assert.rejects(s.save(), refused('MG_EBUSY', /state\.save/));
    during.checked = true;
  };
  // during a generate (the iterator is suspended at a piece: the state is mid-generation)
  const during = {};
  let pieces = 0;
  for await (const piece of lm.generate('abc', { maxTokens: 40, seed: 3, state: s })) {
    if (pieces++ === 5) await checkBusy(during);
    assert.ok(typeof piece === 'string');
  }
  assert.ok(during.checked);
  assert.equal(s.tokens, 43, 'the refused calls did not feed the state');
  // during an abortable forward (it yields to the event loop between blocks of 128 tokens every 8 ms)
  const tokens = Array.from({ length: 128 * 200 }, (_, i) => (i * 7) % 256);
  const busyForward = {};
  const running = lm.forward(tokens, { state: s, signal: new AbortController().signal });
  await checkBusy(busyForward);
  await running;
  assert.ok(busyForward.checked);
  assert.equal(s.tokens, 43 + tokens.length);
  lm.dispose();
});

test('concurrent calls: forwards on one state are serialised; two generates on two states interleave token by token and each gives its own text', async () => {
  const lm = await load(fixturePath(gru.files.f32));
  const s = lm.createState();
  const [x, y] = await Promise.all([lm.forward([1, 2, 3], { state: s }), lm.forward([4, 5], { state: s })]);
  const r = lm.createState();
  assert.deepEqual(x, await lm.forward([1, 2, 3], { state: r }));
  assert.deepEqual(y, await lm.forward([4, 5], { state: r }));
  assert.deepEqual(await s.save(), await r.save());

  const alone = [await collect(lm.generate('In', { maxTokens: 300, seed: 1 })), await collect(lm.generate('The', { maxTokens: 300, seed: 2 }))];
  const order = [];
  const run = async (prompt, seed, tag) => {
    let text = '';
    for await (const piece of lm.generate(prompt, { maxTokens: 300, seed })) text += piece, order.push(tag);
    return text;
  };
  const together = await Promise.all([run('In', 1, 'a'), run('The', 2, 'b')]);
  assert.deepEqual(together, alone);
  const switches = order.filter((t, i) => i > 0 && t !== order[i - 1]).length;
  assert.ok(switches >= 1, 'the two generations ran at the same time');
  lm.dispose();
});
