#!/usr/bin/env node
// Keystrokes saved by the predictor (issue 38), against classic word completion, and its latency per keystroke:
//   node bench/predict.mjs [--model models/kjv.q8.safetensors] [--chars N] [--skip N] [--count 3] [--beam B] [--threads 1]
// The text: the demo model's held-out tenth of the King James Bible (`bible -f Gen1:1-Rev22:21`, verse references
// stripped, the last tenth cut at a line start: tools/train.py's split), from --skip, --chars characters of it (all
// when absent); the model first reads up to 2,000 characters before them.
// The simulation types the text. At every character of a word (a run of letters, digits and apostrophes; any
// character beyond ASCII counts as a letter) it asks for suggestions; when one completes the word exactly, the user
// accepts it with one keystroke and the word is done; otherwise they type one character. Spaces and punctuation cost
// one keystroke each. KSR = 1 - keystrokes / characters.
//   model: lm.predictor({ count, until: 'word' }), the text typed so far given by input()
//   baseline: the `count` most frequent words of the training text (the other nine tenths) that start with the
//             typed prefix
// Latency: from input() to suggestions() resolved, for every keystroke of the model's run (Node, --threads).
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { load } from '../js/index.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, chars: { type: 'string' }, skip: { type: 'string' },
  count: { type: 'string' }, beam: { type: 'string' }, threads: { type: 'string' } } });
const modelPath = values.model ?? new URL('../models/kjv.q8.safetensors', import.meta.url).pathname;
const count = Number(values.count ?? 3), threads = Number(values.threads ?? 1);

const kjv = execFileSync('bible', ['-f', 'Gen1:1-Rev22:21'], { maxBuffer: 64 << 20 }).toString('utf8').replace(/^[0-9A-Za-z]+\d*:\d+ /gm, '');
const cut = kjv.indexOf('\n', Math.floor(kjv.length * 0.9)) + 1;
const training = kjv.slice(0, cut), heldOut = kjv.slice(cut);
const skip = Number(values.skip ?? 0);
const passage = heldOut.slice(skip, values.chars ? skip + Number(values.chars) : undefined);
const before = heldOut.slice(Math.max(0, skip - 2000), skip);

const WORD = /[\p{L}\p{N}'\u0080-\uffff]/u; // the predictor's word characters (a code point beyond ASCII is one)
const isWord = (c) => WORD.test(c);

/** Keystrokes to type `passage` when suggest(typed prefix) offers completions (awaited at every character of a word,
 * before it is typed); type(text) tells the suggester what was typed or accepted. */
async function simulate(suggest, type) {
  let keystrokes = 0;
  for (let i = 0; i < passage.length; ) {
    if (!isWord(passage[i])) {
      await type(passage[i++]);
      keystrokes++;
      continue;
    }
    let end = i;
    while (end < passage.length && isWord(passage[end])) end++;
    const word = passage.slice(i, end);
    for (let typed = 0; typed < word.length; ) {
      keystrokes++;
      const rest = word.slice(typed);
      if ((await suggest(word.slice(0, typed))).includes(rest)) {
        await type(rest);
        break;
      }
      await type(word[typed++]);
    }
    i = end;
  }
  return keystrokes;
}

// the baseline: words of the training text by frequency
const frequency = new Map();
for (const w of training.match(/[\p{L}\p{N}'\u0080-\uffff]+/gu)) frequency.set(w, (frequency.get(w) ?? 0) + 1);
const byFrequency = [...frequency].sort((a, b) => b[1] - a[1]).map(([w]) => w);
const baseline = await simulate(async (prefix) => {
  const out = [];
  for (const w of byFrequency) if (w.startsWith(prefix) && out.push(w.slice(prefix.length)) === count) break;
  return out;
}, async () => {});

// the model
const lm = await load(modelPath, { threads });
const p = lm.predictor({ count, until: 'word', ...(values.beam && { beam: Number(values.beam) }) });
await p.set(before);
const times = [];
let started = performance.now();
const model = await simulate(async () => {
  const s = await p.suggestions();
  times.push(performance.now() - started); // since the last input()
  return s.map((x) => x.text);
}, async (text) => {
  started = performance.now();
  await p.input(text);
});
lm.dispose();

const chars = passage.length, ksr = (k) => (100 * (1 - k / chars)).toFixed(2);
times.sort((a, b) => a - b);
const q = (f) => times[Math.min(times.length - 1, Math.floor(f * times.length))].toFixed(2);
console.log(`text: the held-out tenth of KJV from character ${skip}, ${chars.toLocaleString('en-US')} characters ` +
  `(${JSON.stringify(passage.slice(0, 40))}...)`);
console.log(`model ${modelPath}, count ${count}, until 'word'${values.beam ? `, beam ${values.beam}` : ''}, ${threads} thread(s), Node ${process.version}, ${cpus()[0].model}`);
console.log(`| method | keystrokes | KSR |\n|---|---|---|`);
console.log(`| predictor | ${model.toLocaleString('en-US')} | ${ksr(model)}% |`);
console.log(`| word frequency (training text) | ${baseline.toLocaleString('en-US')} | ${ksr(baseline)}% |`);
console.log(`latency from input() to suggestions(), ${times.length.toLocaleString('en-US')} keystrokes: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${times.at(-1).toFixed(2)} ms`);
