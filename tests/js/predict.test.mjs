// The predictor (issue 38): with a budget that lets it finish, suggestions are the exact most likely continuations,
// as a depth-first search written here in plain JS on lm.step()'s logits finds them (and, for one token, the top of
// the softmax); with the default budget, mostly the same on the demo model; input(), delete() and set() give what a fresh
// predictor gives on the same text; a change of the text cancels a pending suggestions() (it resolves to []); a
// subword tokenizer's unfinished last word is pending and the suggestions continue it; bad options are refused by name.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { create, load } from '../../js/index.js';

const fixture = (name) => readFileSync(new URL(`../fixtures/lm/${name}.safetensors`, import.meta.url));
const utf8 = new TextEncoder();
const isWordByte = (b) => b >= 0x80 || (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x27;

function logSoftmax(logits) {
  let top = -Infinity, sum = 0;
  for (const x of logits) top = Math.max(top, x);
  for (const x of logits) sum += Math.exp(x - top);
  const lse = top + Math.log(sum);
  return Array.from(logits, (x) => x - lse);
}

/** The continuation bytes a character expects after byte b when it expected `need` before it (-1: not UTF-8). */
function utf8After(need, b) {
  if (need) return (b & 0xc0) === 0x80 ? need - 1 : -1;
  if (b < 0x80) return 0;
  return b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
}

const WORD_RE = /[0-9A-Za-z'\u0080-\u{10ffff}]+/gu; // the predictor's word characters: letters, digits, ' and all beyond ASCII

/** The predictor's cache of the text's own words (docs/api.md), computed here from the text: for the word being typed
 * (its prefix), the continuations the text's finished words (those something follows) would be, of at least minChars
 * characters, each with 0.3 of its share of the times such words were typed plus 0.7 of its share of those typed
 * after the last finished word (all of the first where none was); none after a character that is neither a word's
 * nor a space. rest -> probability. */
function cacheOf(text, minChars) {
  const prefix = text.match(/[0-9A-Za-z'\u0080-\u{10ffff}]*$/u)[0];
  if (!prefix && !/\s$/u.test(text)) return new Map();
  const words = [...text.matchAll(WORD_RE)].filter((m) => m.index + m[0].length < text.length).map((m) => m[0]);
  const fits = (w) => w.startsWith(prefix) && w.length > prefix.length && [...w.slice(prefix.length)].length >= minChars;
  const shares = (list) => {
    const n = new Map();
    for (const w of list) if (fits(w)) n.set(w, (n.get(w) ?? 0) + 1);
    const total = [...n.values()].reduce((a, b) => a + b, 0);
    return new Map([...n].map(([w, c]) => [w, c / total]));
  };
  const all = shares(words), after = shares(words.slice(1).filter((_, i) => words[i] === words.at(-1)));
  return new Map([...all].map(([w, q]) => [w.slice(prefix.length), (after.size ? 0.3 : 1) * q + 0.7 * (after.get(w) ?? 0)]));
}

/** The `count` most likely continuations, byte-level, found here another way than the engine's best-first search: a
 * depth-first search, most likely byte first, that leaves a prefix once it is no more likely than the count-th best
 * final found (a continuation is never more likely than its beginnings), so what it finds is exact. A byte that ends
 * the continuation adds the prefix's probability times its own to the final text (a word: every byte that is not a
 * word character after it); paths that are not UTF-8 stop. The finals become text as the Predictor makes it (an
 * unfinished last character cut off, equal texts merged). Steps by lm.step() on clones. */
async function reference(lm, text, { count = 3, until = 'word', maxTokens = 24, minChars = until === 'word' ? 2 : 1, cache = true } = {}) {
  const bytes = utf8.encode(text);
  // with the cache, a continuation's probability is 0.6 the model's + 0.4 the cache's, and a prefix's bound is 0.6 its
  // probability + 0.4 the most likely cached word it begins
  const cached = new Map([...(cache && until === 'word' ? cacheOf(text, minChars) : [])].map(([r, q]) => [utf8.encode(r).join(','), q]));
  const w = cached.size ? 0.4 : 0;
  const cacheMax = (bs) => {
    let best = 0;
    for (const [r, q] of cached) if (r === bs.join(',') || r.startsWith(`${bs.join(',')},`) || bs.length === 0) best = Math.max(best, q);
    return best;
  };
  const score = (f) => (1 - w) * f.p + w * (cached.get(f.bytes.join(',')) ?? 0);
  const state = lm.createState();
  const logits = await lm.forward(bytes, { state });
  const last = bytes.at(-1) ?? -1;
  // automaton: 'lead' (no word character yet), 'in' (in a word), 'line'; step(a, byte) -> { end: bytes kept | -1, a }
  const step = (a, b) => {
    if (a === 'line') return { end: b === 0x0a ? 0 : b === 0x2e || b === 0x21 || b === 0x3f ? 1 : -1, a };
    if (isWordByte(b)) return { end: -1, a: 'in' };
    return a === 'in' || b !== 0x20 ? { end: 0, a } : { end: -1, a };
  };
  const depthMax = typeof until === 'number' ? until : maxTokens;
  const finals = new Map();
  const chars = (bs) => bs.filter((b) => (b & 0xc0) !== 0x80).length;
  const add = (bs, p) => bs.length && chars(bs) >= minChars && finals.set(bs.join(','), { bytes: bs, p: (finals.get(bs.join(','))?.p ?? 0) + p });
  const kth = () => {
    const ps = [...finals.values()].map(score).sort((x, y) => y - x);
    return ps.length >= count ? Math.log(ps[count - 1]) : -Infinity;
  };
  const bound = (c, bs) => (w ? Math.log((1 - w) * Math.exp(c.logp) + w * cacheMax(bs)) : c.logp);
  let steps = 0;
  const visit = async (h) => {
    const lp = logSoftmax(h.logits), children = [];
    let endsHere = 0;
    for (let t = 0; t < 256; t++) {
      const r = typeof until === 'number' ? { end: -1, a: h.a } : step(h.a, t);
      const logp = h.logp + lp[t], need = utf8After(h.need, t);
      if (r.end === 0) endsHere += Math.exp(logp);
      else if (need < 0) continue;
      else if (r.end === 1 || h.depth + 1 === depthMax) add([...h.bytes, t], Math.exp(logp));
      else children.push({ logp, a: r.a, need, t });
    }
    if (h.need === 0) add(h.bytes, endsHere);
    for (const c of children) c.bound = bound(c, [...h.bytes, c.t]);
    children.sort((x, y) => y.bound - x.bound);
    for (const c of children) {
      if (c.bound <= kth()) break;
      const s = h.state.clone();
      steps++;
      await visit({ logp: c.logp, a: c.a, need: c.need, depth: h.depth + 1, bytes: [...h.bytes, c.t], state: s, logits: await lm.step(c.t, { state: s }) });
      s.dispose();
    }
  };
  await visit({ logp: 0, a: until === 'line' ? 'line' : isWordByte(last) ? 'in' : 'lead', need: 0, depth: 0, bytes: [], state, logits });
  state.dispose();
  const best = [...finals.values()].map((f) => ({ ...f, p: score(f) })).sort((x, y) => y.p - x.p || x.bytes.length - y.bytes.length).slice(0, count);
  const merged = new Map();
  for (const { bytes: bs, p } of best) {
    let n = 0; // the bytes of its whole characters
    for (let need = 0, i = 0; i < bs.length; i++) if ((need = utf8After(need, bs[i])) === 0) n = i + 1;
    const t = new TextDecoder().decode(Uint8Array.from(bs.slice(0, n)));
    if (t) merged.set(t, (merged.get(t) ?? 0) + p);
  }
  return { suggestions: [...merged].map(([t, probability]) => ({ text: t, probability })).sort((a, b) => b.probability - a.probability), steps };
}

function assertSame(got, want, what, rtol = 1e-9) {
  assert.deepEqual(got.map((s) => s.text), want.map((s) => s.text), what);
  got.forEach((s, i) => assert.ok(Math.abs(s.probability - want[i].probability) <= rtol * want[i].probability,
    `${what}: ${JSON.stringify(s.text)} has p ${s.probability}, the reference ${want[i].probability}`));
}

const TEXTS = ['In the beginning God cre', 'And God said, Let there be ', 'the', 'and the earth was without form, and void;',
  // the cache's words: a prefix, after a space
  'And Moses said unto the LORD, and the LORD said unto Moses, Go unto Pharaoh; and Moses said unto the L',
  'Paul said unto Festus, I am not mad, most noble Festus. And Festus said, '];
const DEMO = new URL('../../models/kjv.q8.safetensors', import.meta.url).pathname;

// budget: the most the search may take, so that it ends on its own and is exact
for (const [name, source, rtol, cases] of [
  ['gru-d32-l2.q8', fixture('gru-d32-l2.q8'), 1e-9, [{}, { count: 5 }, { until: 2, count: 4 }, { count: 1 }]],
  ['lstm-d16-l2-conv4-e1', fixture('lstm-d16-l2-conv4-e1'), 1e-4, [{}, { until: 1, count: 8 }]],
  ['the demo model (Q8)', DEMO, 1e-9, [{}, { count: 6 }, { minChars: 1 }, { cache: false }, { until: 'line', maxTokens: 10 }, { until: 3 }]],
]) {
  test(`${name}: suggestions are the exact most likely continuations (a depth-first search here), for words, lines and token counts`, async () => {
    const lm = await load(source, { threads: 1 });
    for (const options of cases) {
      for (const text of TEXTS) {
        const p = lm.predictor({ ...options, budget: 1024 });
        await p.input(text);
        const got = await p.suggestions();
        const { suggestions: want, steps } = await reference(lm, text, options);
        assert.ok(got.length > 0, `${JSON.stringify(text)}: no suggestions`);
        assertSame(got, want, `${JSON.stringify(text)} ${JSON.stringify(options)} (${steps} steps here)`, rtol);
        p.dispose();
      }
    }
    lm.dispose();
  });
}

test('the default budget: the demo model finds the exact words on most of a verse', async () => {
  const lm = await load(DEMO, { threads: 1 });
  const p = lm.predictor();
  const verse = 'And the LORD said unto Moses, Go in unto Pharaoh, and tell him';
  let same = 0, asked = 0;
  for (let i = 0; i < verse.length; i++) {
    await p.input(verse[i]);
    const typed = verse.slice(0, i + 1);
    asked++;
    const { suggestions } = await reference(lm, typed, {});
    const got = await p.suggestions();
    if (JSON.stringify(got.map((s) => s.text)) === JSON.stringify(suggestions.map((s) => s.text))) same++;
    assert.ok(got.length > 0 && got.every((s, i) => i === 0 || s.probability <= got[i - 1].probability));
  }
  assert.ok(same >= 0.9 * asked, `${same} of ${asked} exact`);
  lm.dispose();
});

test('one token: the suggestions are the exact top of the softmax', async () => {
  const lm = await load(fixture('gru-d32-l2.q8'), { threads: 1 });
  const p = lm.predictor({ until: 1, count: 6 });
  await p.input('In the beginning');
  const state = lm.createState();
  const lp = logSoftmax(await lm.forward(lm.encode('In the beginning'), { state }));
  const top = lp.map((l, t) => [Math.exp(l), t]).filter(([, t]) => utf8After(0, t) >= 0).sort((a, b) => b[0] - a[0]).slice(0, 6);
  const got = await p.suggestions(); // (of the six, those that are characters: a lone byte beyond ASCII is not)
  assert.deepEqual(got.map((s) => s.text), top.filter(([, t]) => t < 0x80).map(([, t]) => String.fromCharCode(t)));
  got.forEach((s, i) => assert.ok(Math.abs(s.probability - top.filter(([, t]) => t < 0x80)[i][0]) < 1e-12));
  lm.dispose();
});

test('input(), delete() and set() give the suggestions of a fresh predictor on the same text', async () => {
  const lm = await load(fixture('gru-d32-l2.q8'), { threads: 1 });
  const options = { minChars: 1 }; // (a random model's likeliest words are of one letter)
  const fresh = async (text) => {
    const p = lm.predictor(options);
    await p.set(text);
    const s = await p.suggestions();
    p.dispose();
    return s;
  };
  const p = lm.predictor(options);
  let text = '';
  const verse = 'In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness';
  for (const piece of verse.match(/.{1,7}/g)) {
    await p.input(piece);
    text += piece;
    const got = await p.suggestions();
    assert.ok(got.length > 0);
    assert.deepEqual(got, await fresh(text), `after input ${JSON.stringify(text)}`);
  }
  for (const n of [1, 3, 17, 40]) { // within a kept state's span, and across several
    await p.delete(n);
    text = text.slice(0, -n);
    assert.deepEqual(await p.suggestions(), await fresh(text), `after delete(${n}): ${JSON.stringify(text)}`);
  }
  for (const next of ['In the beginning God made', 'In the end', 'Ünïcödé 🙂 words', '']) {
    await p.set(next);
    assert.deepEqual(await p.suggestions(), await fresh(next), `after set(${JSON.stringify(next)})`);
  }
  // a long text: states kept sparsely far back (every 256 tokens before the last 1,024); edits near and far
  const long = Array.from({ length: 160 }, (_, i) => `verse ${i}: and the earth was without form. `).join('');
  for (const next of [long, long.slice(0, -700), `${long.slice(0, 100)}X${long.slice(101)}`, long.slice(0, 2000)]) {
    await p.set(next);
    assert.deepEqual(await p.suggestions(), await fresh(next), `after set() of ${next.length} characters`);
  }
  await p.set('a 🙂');
  await p.delete(1); // a code point, both halves of the surrogate pair
  assert.deepEqual(await p.suggestions(), await fresh('a '));
  assert.deepEqual(await fresh(''), [], 'nothing read: nothing to predict from');
  lm.dispose();
});

test('a change of the text cancels a pending suggestions(): it resolves to []; dispose() too', async () => {
  const lm = await load(fixture('gru-d32-l2.q8'), { threads: 1 });
  const p = lm.predictor({ minChars: 1 }); // (a random model's likeliest words are of one letter)
  await p.input('And God said');
  const pending = p.suggestions();
  await p.input(', Let');
  assert.deepEqual(await pending, []);
  const after = await p.suggestions();
  assert.ok(after.length > 0);
  const again = p.suggestions();
  p.dispose();
  assert.deepEqual(await again, []);
  await assert.rejects(p.suggestions(), { code: 'MG_EDISPOSED' });
  await assert.rejects(p.input('x'), { code: 'MG_EDISPOSED' });
  const q = lm.predictor();
  lm.dispose(); // frees its predictors
  await assert.rejects(q.suggestions(), { code: 'MG_EDISPOSED' });
});

test('a SentencePiece model: the unfinished last word is pending; the suggestions continue it, as the top tokens that spell it out', async () => {
  const file = await (await create({ numTokens: 2000, dim: 16, depth: 1, seed: 3 })).save();
  const lm = await load(file, { tokenizer: new URL('../fixtures/tokenizers/spm-bpe.model', import.meta.url).pathname });
  const text = 'In the beginning God cr';
  const p = lm.predictor({ until: 1, count: 5 });
  await p.input(text);
  // the reference: the state after the text's tokens but its last word's, and the tokens whose bytes begin with the
  // pending " cr" and go on
  const ids = lm.encode(text), head = lm.encode('In the beginning God');
  assert.deepEqual(Array.from(ids.subarray(0, head.length)), Array.from(head));
  const lp = logSoftmax(await lm.forward(head));
  const merged = new Map();
  for (let t = 0; t < lm.tokenizer.vocabSize; t++) {
    if (lm.tokenizer.addedTokens.some((a) => a.id === t && a.special)) continue;
    const b = lm.tokenizer.tokenBytes(t), pending = utf8.encode(' cr');
    if (b.length > pending.length && pending.every((x, i) => b[i] === x)) {
      const rest = new TextDecoder().decode(b.subarray(pending.length));
      merged.set(rest, (merged.get(rest) ?? 0) + Math.exp(lp[t]));
    }
  }
  const want = [...merged].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([t, probability]) => ({ text: t, probability }));
  assertSame(await p.suggestions(), want, 'spm, one token', 1e-5);
  // words: each suggestion continues "cr" with word characters; input and delete as a fresh predictor
  const w = lm.predictor({ count: 3 });
  await w.input(text);
  const words = await w.suggestions();
  assert.ok(words.length > 0 && words.every((s) => /^[\p{L}\p{N}']+$/u.test(s.text)), JSON.stringify(words));
  await w.input('eated the');
  await w.delete(4);
  const f = lm.predictor({ count: 3 });
  await f.set('In the beginning God created');
  assert.deepEqual(await w.suggestions(), await f.suggestions());
  lm.dispose();
});

test('bad options and models are refused by name', async () => {
  const lm = await load(fixture('gru-d32-l2.q8'), { threads: 1 });
  for (const [options, name] of [[{ count: 0 }, 'count'], [{ count: 17 }, 'count'], [{ until: 'sentence' }, 'until'],
    [{ until: 0 }, 'until'], [{ until: 1.5 }, 'until'], [{ maxTokens: 0 }, 'maxTokens'], [{ maxTokens: 65 }, 'maxTokens'],
    [{ until: 30 }, 'maxTokens'], [{ budget: -1 }, 'budget'], [{ budget: 1025 }, 'budget'], [{ minChars: 9 }, 'minChars'], [{ topK: 3 }, 'topK'], [null, 'options']]) {
    assert.throws(() => lm.predictor(options), (e) => e.code === 'MG_EINVAL' && e.message.includes(name), JSON.stringify(options));
  }
  const p = lm.predictor();
  await assert.rejects(p.input(3), { code: 'MG_EINVAL' });
  await assert.rejects(p.delete(-1), { code: 'MG_EINVAL' });
  lm.dispose();
  const task = await load(readFileSync(new URL('../fixtures/minrnns/gru-e1-task-d16-l2.safetensors', import.meta.url)), { threads: 1 });
  assert.throws(() => task.predictor(), (e) => e.code === 'MG_EINVAL' && /task model/.test(e.message));
  task.dispose();
  const none = await create({ numTokens: 300, dim: 8, depth: 1 });
  assert.throws(() => none.predictor(), (e) => e.code === 'MG_EINVAL' && /no tokenizer/.test(e.message));
  none.dispose();
});
