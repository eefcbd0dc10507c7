// Learning while reading and the neural compressor (js/compress.js, src/coder.c): evaluate({ adapt }) learns
// (fewer bits on text that repeats) and leaves the model as it was unless keep; compress/decompress round trips are
// exact on every kind of input, the same file decodes on 1 or 2 threads, in the relaxed build (a child Node with
// its flags) and from Chromium; random bytes are stored; the wrong model, damaged and truncated files are refused
// with their error codes, never decoded into garbage; bad options are refused.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { load } from '../../js/index.js';
import { serve } from '../../scripts/serve.mjs';
import { launch, skipBrowser } from '../helpers/chromium.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const Q8 = `${root}models/kjv.q8.safetensors`, F32 = `${root}models/kjv.safetensors`;
// Romans 1 in the King James Version (held out from the demo model's training text): 1200 bytes
const KJV = readFileSync(`${root}tests/fixtures/romans-1.txt`);
const ADAPT = { segment: 200, part: 'all' }; // every weight learns: six learning steps in 1200 bytes
const ADAPT_TOP = { segment: 200 }; // the default part: only the last feed-forward and the head learn

/** A deterministic scramble of bytes (xorshift32). */
function noise(n, seed = 1) {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13, x >>>= 0, x ^= x >>> 17, x ^= x << 5, x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** zlib's CRC-32, bit by bit (independent of js/compress.js's table). */
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** The file with another header JSON, its length and CRC-32 made again (docs/format.md's layout). */
function rewrapHeader(file, json) {
  const n = new DataView(file.buffer, file.byteOffset).getUint32(5, true);
  const head = new TextEncoder().encode(json), payload = file.subarray(13 + n);
  const out = new Uint8Array(13 + head.length + payload.length), view = new DataView(out.buffer);
  out.set(file.subarray(0, 5));
  view.setUint32(5, head.length, true);
  out.set(head, 9);
  view.setUint32(9 + head.length, crc32(out.subarray(0, 9 + head.length)), true);
  out.set(payload, 13 + head.length);
  return out;
}

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const lms = {};
const model = async (file, threads) => (lms[`${file}${threads}`] ??= await load(readFileSync(file), { threads }));
after(() => Object.values(lms).forEach((lm) => lm.dispose()));

/** The header JSON of a compressed file (docs/format.md's layout). */
function headerOf(file) {
  const n = new DataView(file.buffer, file.byteOffset).getUint32(5, true);
  return JSON.parse(new TextDecoder().decode(file.subarray(9, 9 + n)));
}

test('compress: the header records every setting; the defaults depend on part; old settings still decode', async () => {
  const lm = await model(Q8, 1);
  const data = KJV.subarray(0, 300);
  const top = { lr: 2.5e-4, segment: 48, betas: [0, 0.999], eps: 1e-8, weightDecay: 0, clip: 0, part: 'top' };
  assert.deepEqual(headerOf(await lm.compress(data)).adapt, top);
  assert.deepEqual(headerOf(await lm.compress(data, { adapt: { part: 'top', segment: 100 } })).adapt, { ...top, segment: 100 });
  // part 'all': its own defaults (and no part written: the files before part existed)
  assert.deepEqual(headerOf(await lm.compress(data, { adapt: { part: 'all' } })).adapt, { lr: 1e-4, segment: 128, betas: [0, 0.999], eps: 1e-8, weightDecay: 0, clip: 1 });
  // the defaults before 2026-12-03, given explicitly: a file that says them decodes with them
  const old = await lm.compress(data, { adapt: { lr: 4e-4, segment: 128, clip: 1 } });
  assert.deepEqual(headerOf(old).adapt, { ...top, lr: 4e-4, segment: 128, clip: 1 });
  assert.ok(same(await lm.decompress(old), data));
});

test('evaluate({ adapt }): learning on a text that repeats costs fewer bits; the model is left as it was, unless keep', async () => {
  const lm = await load(readFileSync(F32), { threads: 2 });
  const text = new Uint8Array([...KJV.subarray(0, 400), ...KJV.subarray(0, 400), ...KJV.subarray(0, 400)]);
  const before = await lm.evaluate(text);
  const adapted = await lm.evaluate(text, { adapt: { lr: 1e-4, segment: 100, part: 'all' } });
  assert.equal(adapted.tokens, before.tokens);
  assert.ok(adapted.bitsPerByte < 0.9 * before.bitsPerByte, `adapting: ${adapted.bitsPerByte} bits/byte, static ${before.bitsPerByte}`);
  assert.equal((await lm.evaluate(text)).bits, before.bits, 'the weights are restored');
  const top = await lm.evaluate(text, { adapt: { segment: 100 } }); // the default: the top learns
  assert.ok(top.bitsPerByte < 0.95 * before.bitsPerByte, `adapting the top: ${top.bitsPerByte} bits/byte, static ${before.bitsPerByte}`);
  assert.equal((await lm.evaluate(text)).bits, before.bits, 'the weights are restored');
  const progress = [];
  await lm.evaluate(text, { adapt: { lr: 1e-4, segment: 500, keep: true }, onProgress: (p) => progress.push(p) });
  assert.deepEqual(progress.map((p) => p.done), [500, 1000, 1200]);
  assert.ok((await lm.evaluate(text)).bits < before.bits, 'keep: the model keeps what it learned');
  lm.dispose();
});

test('evaluate({ adapt }): bad options are refused', async () => {
  const lm = await model(Q8, 1);
  for (const [adapt, re] of [['yes', /adapt must be true, false or an options object/], [{ lr: -1 }, /lr must be a number > 0/],
    [{ segment: 0 }, /segment must be an integer in \[1, 65536\]/], [{ rate: 1 }, /unknown adapt option rate/], [{ keep: 1 }, /keep must be true or false/],
    [{ part: 'middle' }, /part must be 'all' or 'top'/]]) {
    await assert.rejects(lm.evaluate(KJV, { adapt }), (e) => e.code === 'MG_EINVAL' && re.test(e.message), JSON.stringify(adapt));
  }
  await assert.rejects(lm.evaluate(KJV, { adapt: true, state: lm.createState() }), (e) => e.code === 'MG_EINVAL' && /takes no state/.test(e.message));
});

test('compress/decompress: exact round trips of empty, 1 byte, binary and text, with and without adaptation', async () => {
  const lm = await model(Q8, 2);
  const binary = Uint8Array.from({ length: 700 }, (_, i) => (i * 37) % 256 < 128 ? KJV[i] : (i * 37) % 256);
  for (const [name, data, adapt] of [['empty', new Uint8Array(0), true], ['1 byte', new Uint8Array([65]), true], ['binary', binary, ADAPT],
    ['text, adapting', KJV, ADAPT], ['text, adapting the top', KJV, ADAPT_TOP], ['text, static', KJV, false]]) {
    const file = await lm.compress(data, { adapt });
    assert.ok(same(await lm.decompress(file), data), `${name}: round trip`);
    const payload = file.length - 13 - new DataView(file.buffer).getUint32(5, true);
    if (name.startsWith('text')) assert.ok(payload * 8 < 2.5 * data.length, `${name}: ${data.length} bytes -> ${payload} coded`);
  }
  assert.ok(same(await lm.decompress(await lm.compress('Grüße, καλημέρα', { adapt: false })), new TextEncoder().encode('Grüße, καλημέρα')), 'a string: its UTF-8');
});

test('compress with a prime (a dictionary): read first, learnt from, needed again to decompress', async () => {
  const lm = await model(Q8, 2);
  const prime = KJV.subarray(0, 700), data = KJV.subarray(700);
  const plain = await lm.compress(data, { adapt: ADAPT });
  const primed = await lm.compress(data, { adapt: ADAPT, prime });
  const coded = (file) => file.length - 13 - new DataView(file.buffer).getUint32(5, true);
  assert.ok(coded(primed) < coded(plain), `with the prime ${coded(primed)} coded bytes, without ${coded(plain)}`);
  assert.ok(same(await lm.decompress(primed, { prime }), data));
  assert.ok(same(await lm.decompress(await lm.compress(data, { adapt: false, prime: new TextDecoder().decode(prime) }), { prime }), data), 'a string prime, no adaptation');
  await assert.rejects(lm.decompress(primed), (e) => e.code === 'MG_EMISMATCH' && /compressed after a prime of 700 bytes/.test(e.message));
  await assert.rejects(lm.decompress(primed, { prime: KJV.subarray(1, 701) }), (e) => e.code === 'MG_EMISMATCH' && /not these 700/.test(e.message));
  await assert.rejects(lm.decompress(plain, { prime }), (e) => e.code === 'MG_EMISMATCH' && /without a prime/.test(e.message));
  await assert.rejects(lm.compress(data, { prime: 7 }), (e) => e.code === 'MG_EINVAL' && /prime: data must be/.test(e.message));
});

test('compress: the match models code what repeats for little, from the text or from a long prime', async () => {
  const lm = await model(Q8, 2);
  const coded = (file) => file.length - 13 - new DataView(file.buffer).getUint32(5, true);
  const letters = (n, seed) => noise(n, seed).map((b) => 97 + (b & 15)); // 16 letters at random: 4 bits each
  // the network cannot predict random letters (it needs more than 4 bits a letter); a match can, the second time
  const random = letters(3000, 7), twice = new Uint8Array(6000);
  twice.set(random), twice.set(random, 3000);
  const once = (await lm.evaluate(random)).bits / 8, file = await lm.compress(twice, { adapt: false }); // the network's cost
  assert.ok(once > 1500 && coded(file) < once + 200, `3000 random letters: ${once} bytes' worth for the network alone; twice: ${coded(file)} coded bytes`);
  assert.ok(same(await lm.decompress(file), twice));
  // a prime longer than the model reads (4096 bytes): the match models remember its start
  const prime = letters(10000, 9), data = prime.subarray(0, 2000);
  const primed = await lm.compress(data, { adapt: ADAPT, prime });
  assert.ok(coded(primed) < 200, `2000 letters from the start of a 10,000-byte prime: ${coded(primed)} coded bytes`);
  assert.ok(same(await lm.decompress(primed, { prime }), data));
  await assert.rejects(lm.decompress(primed, { prime: letters(10000, 10) }), (e) => e.code === 'MG_EMISMATCH');
});

test('compress: random bytes are stored, growing by the header alone', async () => {
  const lm = await model(Q8, 2);
  const data = noise(3000);
  const file = await lm.compress(data, { adapt: false });
  const header = (await lm.compress(new Uint8Array(0), { adapt: false })).length;
  assert.ok(file.length <= data.length + header + 8, `${data.length} random bytes -> ${file.length} (an empty file: ${header})`);
  assert.ok(same(await lm.decompress(file), data));
});

test('compress: the file decodes the same on 1 and 2 threads, F32 and Q8, adapting or not', async () => {
  for (const path of [Q8, F32]) {
    for (const adapt of [ADAPT, ADAPT_TOP, false]) {
      const one = await (await model(path, 1)).compress(KJV, { adapt });
      const two = await (await model(path, 2)).compress(KJV, { adapt });
      assert.ok(same(one, two), `${path}, adapt ${JSON.stringify(adapt)}: 1 and 2 threads write the same file`);
      assert.ok(same(await (await model(path, 1)).decompress(two), KJV));
    }
  }
});

test('decompress: another model, a damaged or truncated file, a file of another kind: refused, never garbage', async () => {
  const lm = await model(Q8, 2);
  const file = await lm.compress(KJV, { adapt: ADAPT });
  await assert.rejects((await model(F32, 2)).decompress(file), (e) => e.code === 'MG_EMISMATCH' && /compressed with another model/.test(e.message));
  const flipped = file.slice();
  flipped[file.length - 100] ^= 0x10;
  await assert.rejects(lm.decompress(flipped), (e) => e.code === 'MG_EBADFILE' && /CRC-32 of its \d+ coded bytes/.test(e.message));
  await assert.rejects(lm.decompress(file.subarray(0, file.length - 50)), (e) => e.code === 'MG_EBADFILE' && /truncated or damaged/.test(e.message));
  // a header that records another CRC-32 of the data (its own checksum made again): decoding ends in that error
  const n = new DataView(file.buffer).getUint32(5, true);
  const json = new TextDecoder().decode(file.subarray(9, 9 + n)).replace(/"crc32":"[0-9a-f]{8}"/, '"crc32":"00000000"');
  const other = rewrapHeader(file, json);
  await assert.rejects(lm.decompress(other), (e) => e.code === 'MG_EBADFILE' && /not the 00000000 the compressor recorded/.test(e.message));
  const header = file.slice();
  header[40] ^= 0x01; // inside the JSON
  await assert.rejects(lm.decompress(header), (e) => e.code === 'MG_EBADFILE' && /header's CRC-32/.test(e.message));
  await assert.rejects(lm.decompress(new TextEncoder().encode('PK\x03\x04 a zip file')), (e) => e.code === 'MG_EBADFILE' && /does not start with "MGRZ"/.test(e.message));
  await assert.rejects(lm.decompress(new Uint8Array(3)), (e) => e.code === 'MG_EBADFILE');
  // a file of format version 2 (before the one Q8 arithmetic): its probabilities are not this engine's
  const old = file.slice();
  old[4] = 2;
  await assert.rejects(lm.decompress(old), (e) => e.code === 'MG_EBADFILE' && /format version 2; this engine reads version 3 \(an older engine/.test(e.message));
  await assert.rejects(lm.decompress('text'), (e) => e.code === 'MG_EINVAL');
  await assert.rejects(lm.compress(42), (e) => e.code === 'MG_EINVAL' && /data must be a Uint8Array/.test(e.message));
  await assert.rejects(lm.compress(KJV, { adapt: { keep: true } }), (e) => e.code === 'MG_EINVAL' && /keep is not allowed/.test(e.message));
  const stopped = new AbortController();
  stopped.abort();
  await assert.rejects(lm.compress(KJV, { signal: stopped.signal }), (e) => e.code === 'MG_EABORTED');
});

test('decompress: 40 random damages of a file each give an error (a CRC-32), never a crash or garbage', async () => {
  const lm = await model(Q8, 2);
  const data = KJV.subarray(0, 150);
  const file = await lm.compress(data, { adapt: false });
  const random = noise(80, 7);
  for (let i = 0; i < 40; i++) {
    const bad = file.slice();
    bad[9 + ((random[2 * i] << 8 | random[2 * i + 1]) % (file.length - 9))] ^= 1 << (i % 8);
    await assert.rejects(lm.decompress(bad), (e) => e.code === 'MG_EBADFILE' && /CRC-32/.test(e.message), `damage ${i}`);
  }
  assert.ok(same(await lm.decompress(file), data));
  // garbage payloads behind headers whose checksums match them: the decoder runs on them, and the data's CRC-32 tells
  const n = new DataView(file.buffer).getUint32(5, true);
  const json = new TextDecoder().decode(file.subarray(9, 9 + n));
  for (let i = 0; i < 5; i++) {
    const garbage = noise(30 + 20 * i, 100 + i);
    const hex = crc32(garbage).toString(16).padStart(8, '0');
    const forged = rewrapHeader(new Uint8Array([...file.subarray(0, 13 + n), ...garbage]), json.replace(/"payloadCrc32":"[0-9a-f]{8}"/, `"payloadCrc32":"${hex}"`));
    await assert.rejects(lm.decompress(forged), (e) => e.code === 'MG_EBADFILE' && /the compressor recorded/.test(e.message), `garbage ${i}`);
  }
});

test('compress: files decode the same in the relaxed-SIMD build (a child Node with its flags)', async () => {
  const dir = mkdtempSync(`${tmpdir()}/mingru-compress-`);
  const files = {};
  for (const [name, path, adapt] of [['q8-static', Q8, false], ['q8-adapt', Q8, ADAPT], ['q8-top', Q8, ADAPT_TOP], ['f32-static', F32, false]]) {
    writeFileSync(`${dir}/${name}`, files[name] = await (await model(path, 2)).compress(KJV, { adapt }));
  }
  const out = JSON.parse(execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--no-liftoff', '--input-type=module', '-e', `
    import { readFileSync } from 'node:fs';
    import { load } from ${JSON.stringify(`${root}js/index.js`)};
    const out = {};
    for (const [name, path, adapt] of ${JSON.stringify([['q8-static', Q8, false], ['q8-adapt', Q8, ADAPT], ['q8-top', Q8, ADAPT_TOP], ['f32-static', F32, false]])}) {
      const lm = await load(readFileSync(path), { threads: 2 });
      const back = await lm.decompress(readFileSync(${JSON.stringify(dir)} + '/' + name));
      out[name] = { relaxedSimd: lm.backend.relaxedSimd, back: Buffer.from(back).toString('base64'), again: Buffer.from(await lm.compress(back, { adapt })).toString('base64') };
      lm.dispose();
    }
    console.log(JSON.stringify(out));`], { encoding: 'utf8' }));
  for (const [name, r] of Object.entries(out)) {
    assert.equal(r.relaxedSimd, true, `${name}: the child ran the relaxed build`);
    assert.ok(same(Buffer.from(r.back, 'base64'), KJV), `${name}: decoded by the relaxed build`);
    assert.ok(same(Buffer.from(r.again, 'base64'), files[name]), `${name}: the relaxed build writes the same file`);
  }
});

test('the compress and decompress commands: usage errors before anything is read, failures with their codes', () => {
  const dir = mkdtempSync(`${tmpdir()}/mingru-compress-cli-`);
  const cli = (...args) => spawnSync(process.execPath, [`${root}bin/mingru.mjs`, ...args], { encoding: 'utf8', cwd: dir });
  writeFileSync(`${dir}/text.txt`, KJV);
  for (const [args, re] of [[['compress', Q8, `${dir}/text.txt`], /compress needs -o OUT/], [['compress', Q8], /compress needs a model file and a file/],
    [['compress', Q8, 'text.txt', '-o', 'x', '--no-adapt', '--lr', '1e-4'], /--lr, --segment and --part set the adaptation that --no-adapt turns off/],
    [['compress', Q8, 'text.txt', '-o', 'x', '--no-adapt', '--part', 'top'], /--lr, --segment and --part set the adaptation that --no-adapt turns off/],
    [['compress', Q8, 'text.txt', '-o', 'x', '--part', 'half'], /--part must be one of top, all, got half/],
    [['compress', Q8, 'text.txt', '-o', 'x', '--segment', '0'], /--segment must be an integer >= 1, got 0/], [['decompress', Q8, 'text.txt', '-o', 'x', '--lr', '1'], /unknown option --lr/]]) {
    const r = cli(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  assert.equal(cli('compress', Q8, 'text.txt', '-o', 'text.mgz', '--segment', '300', '--threads', '1').status, 0);
  assert.equal(cli('compress', Q8, 'text.txt', '-o', 'all.mgz', '--part', 'all', '--segment', '300').status, 0);
  assert.equal(cli('decompress', Q8, 'all.mgz', '-o', 'all.txt').status, 0);
  assert.ok(same(readFileSync(`${dir}/all.txt`), KJV));
  const wrong = cli('decompress', F32, 'text.mgz', '-o', 'back.txt');
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /^mingru-wasm: MG_EMISMATCH: decompress: the file was compressed with another model/);
  const text = cli('decompress', Q8, 'text.txt', '-o', 'back.txt');
  assert.equal(text.status, 1);
  assert.match(text.stderr, /MG_EBADFILE: decompress: not a mingru compressed file/);
  assert.equal(cli('decompress', Q8, 'text.mgz', '-o', 'back.txt').status, 0);
  assert.ok(same(readFileSync(`${dir}/back.txt`), KJV));
  writeFileSync(`${dir}/prime.txt`, KJV.subarray(0, 400));
  assert.equal(cli('compress', Q8, 'text.txt', '-o', 'primed.mgz', '--prime', 'prime.txt', '--no-adapt').status, 0);
  assert.match(cli('decompress', Q8, 'primed.mgz', '-o', 'back2.txt').stderr, /MG_EMISMATCH: decompress: the file was compressed after a prime of 400 bytes/);
  assert.equal(cli('decompress', Q8, 'primed.mgz', '-o', 'back2.txt', '--prime', 'prime.txt').status, 0);
  assert.ok(same(readFileSync(`${dir}/back2.txt`), KJV));
});

let server, browser;
after(async () => {
  await browser?.close();
  server?.close();
});

test('Chromium: files written in the page (its worker, relaxed build, 1 and 2 threads) decode in Node, and back', { skip: skipBrowser }, async () => {
  let url;
  ({ server, url } = await serve({ root }));
  browser = await launch();
  const page = await browser.newPage();
  await page.goto(`${url}/tests/browser/blank.html`);
  const nodeFile = await (await model(Q8, 1)).compress(KJV, { adapt: ADAPT });
  const nodeTop = await (await model(Q8, 1)).compress(KJV, { adapt: ADAPT_TOP });
  const r = await page.evaluate(async ({ text, adapt, adaptTop, nodeFile }) => {
    const { load } = await import('/js/index.js');
    const out = {};
    for (const threads of [1, 2]) {
      const lm = await load('/models/kjv.q8.safetensors', { threads });
      out[threads] = { backend: lm.backend, adapt: Array.from(await lm.compress(new Uint8Array(text), { adapt })), plain: Array.from(await lm.compress(new Uint8Array(text), { adapt: false })) };
      out[threads].fromNode = Array.from(await lm.decompress(new Uint8Array(nodeFile)));
      out[threads].top = Array.from(await lm.compress(new Uint8Array(text), { adapt: adaptTop }));
      lm.dispose();
    }
    return out;
  }, { text: Array.from(KJV), adapt: ADAPT, adaptTop: ADAPT_TOP, nodeFile: Array.from(nodeFile) });
  const lm = await model(Q8, 2);
  for (const threads of [1, 2]) {
    assert.equal(r[threads].backend.relaxedSimd, true);
    assert.ok(same(r[threads].fromNode, KJV), `the page (${threads} threads) decodes Node's file`);
    assert.ok(same(Uint8Array.from(r[threads].adapt), nodeFile), `the page (${threads} threads) writes Node's file`);
    assert.ok(same(Uint8Array.from(r[threads].top), nodeTop), `the page (${threads} threads) writes Node's file, adapting the top`);
    assert.ok(same(await lm.decompress(Uint8Array.from(r[threads].plain)), KJV), 'Node decodes the page\'s static file');
  }
});
