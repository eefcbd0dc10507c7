#!/usr/bin/env node
// Keystrokes saved by the predictor (issue 38), against classic word completion, and its latency per keystroke:
//   node bench/predict.mjs [--model models/kjv.q8.safetensors] [--chars N] [--skip N] [--count 3] [--budget B]
//                          [--browser chromium|firefox|webkit] [--text FILE [--teach SECONDS]]
// The text: the demo model's held-out tenth of the King James Bible (`bible -f Gen1:1-Rev22:21`, verse references
// stripped, the last tenth cut at a line start: tools/train.py's split), from --skip, --chars characters of it (all
// when absent); the model first reads up to 2,000 characters before them. The simulation (bench/keystrokes.mjs)
// types it, asking for suggestions at every character of a word; KSR = 1 - keystrokes / characters.
//   predictor: lm.predictor({ count, until: 'word' }) on one thread, the text given by input()
//   baseline: the `count` most frequent words of the training text (the other nine tenths) that start with the
//             typed prefix
// With --text, another text (not the Bible): the simulation types its second half, and the baseline's words are the
// Bible's training text and the first half's. With --teach, the model first learns the first half as the demo's
// Teach it does (web/teach.js: windows of 64 bytes, 8 a step, its learning rate for the text's size, the last tenth
// held out and measured every 5 steps, the best weights kept, stopping after 3 measures without a better one or at
// SECONDS), then runs as Q8 again: before and after, on the same second half. Node only.
// Latency: from input() to suggestions() resolved, for every keystroke of the predictor's run: in Node, or with
// --browser in a page of that engine (bench/predict.html: the engine in its worker; tests/helpers/browsers.mjs drives it).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { load } from '../js/index.js';
import { serve } from '../scripts/serve.mjs';
import { openBrowser } from '../tests/helpers/browsers.mjs';
import { simulate, withPredictor, WORDS } from './keystrokes.mjs';
import { generator } from '../js/train.js';
import { learningRate } from '../web/teach.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, chars: { type: 'string' }, skip: { type: 'string' },
  count: { type: 'string' }, budget: { type: 'string' }, browser: { type: 'string' }, text: { type: 'string' }, teach: { type: 'string' } } });
const root = new URL('..', import.meta.url).pathname;
const modelPath = values.model ?? `${root}models/kjv.q8.safetensors`;
const count = Number(values.count ?? 3);
const options = { count, until: 'word', ...(values.budget && { budget: Number(values.budget) }) };

const kjv = execFileSync('bible', ['-f', 'Gen1:1-Rev22:21'], { maxBuffer: 64 << 20 }).toString('utf8').replace(/^[0-9A-Za-z]+\d*:\d+ /gm, '');
const cut = kjv.indexOf('\n', Math.floor(kjv.length * 0.9)) + 1;
const other = values.text && readFileSync(values.text, 'utf8'), half = other && other.indexOf('\n', Math.floor(other.length / 2)) + 1;
const firstHalf = other ? other.slice(0, half) : '';
const training = kjv.slice(0, cut) + firstHalf, heldOut = other ? other.slice(half) : kjv.slice(cut);
const skip = Number(values.skip ?? 0);
const text = heldOut.slice(skip, values.chars ? skip + Number(values.chars) : undefined);
const before = heldOut.slice(Math.max(0, skip - 2000), skip);

// the baseline: the training text's words by frequency
const frequency = new Map();
for (const w of training.match(WORDS)) frequency.set(w, (frequency.get(w) ?? 0) + 1);
const byFrequency = [...frequency].sort((a, b) => b[1] - a[1]).map(([w]) => w);
const baseline = await simulate(text, async (prefix) => {
  const out = [];
  for (const w of byFrequency) if (w.startsWith(prefix) && out.push(w.slice(prefix.length)) === count) break;
  return out;
}, async () => {});

let run, where;
if (values.browser) {
  const { server, url } = await serve({ port: 0 });
  const browser = await openBrowser(values.browser, { timeout: 24 * 3600e3 });
  try {
    await browser.goto(`${url}/bench/predict.html`);
    await browser.evaluate(async () => { while (!window.ready) await new Promise((r) => setTimeout(r, 50)); });
    run = await browser.evaluate((args) => window.run(args), { model: `${url}/${relative(root, modelPath)}`, options, before, text });
    where = `${browser.engine} ${browser.version} page (worker, backend ${JSON.stringify(run.backend)})`;
  } finally {
    await browser.close();
    server.close();
  }
} else {
  let lm = await load(modelPath, { threads: 1 });
  const runOn = async (model) => {
    const p = model.predictor(options);
    await p.set(before);
    return withPredictor(p, text);
  };
  if (values.teach) {
    const untaught = await runOn(lm);
    console.log(`before Teach it: ${untaught.keystrokes.toLocaleString('en-US')} keystrokes, KSR ${(100 * (1 - untaught.keystrokes / text.length)).toFixed(2)}%`);
    lm = await teach(lm, firstHalf, Number(values.teach));
  }
  run = await runOn(lm);
  where = `Node ${process.version} (backend ${JSON.stringify(lm.backend)})`;
  lm.dispose();
}

/** The demo's Teach it on `text` for at most `seconds` (web/teach.js's settings, without its page): the model with the
 * weights that predicted the held-out tenth best, loaded again as Q8. */
async function teach(lm, text, seconds) {
  const bytes = new TextEncoder().encode(text), heldCut = bytes.length - Math.min(4096, Math.floor(bytes.length / 10));
  const tokens = bytes.subarray(0, heldCut), heldOutText = new TextDecoder().decode(bytes.subarray(heldCut));
  const measure = async () => (await lm.evaluate(heldOutText)).bitsPerByte;
  const trainer = lm.trainer({ lr: learningRate(tokens.length), seed: 0 });
  const random = generator(0), batch = new Int32Array(8 * 65);
  let best = { step: 0, bits: await measure(), file: await lm.save({ dtype: 'q8' }) };
  const first = best.bits, started = Date.now();
  for (let step = 1; (Date.now() - started) / 1000 < seconds; step++) {
    for (let b = 0; b < 8; b++) {
      const at = Math.floor(random() * (tokens.length - 64));
      batch.set(tokens.subarray(at, at + 65), b * 65);
    }
    await trainer.step(batch, { batch: 8, seqLen: 64 });
    if (step % 5) continue;
    const bits = await measure();
    if (bits < best.bits) best = { step, bits, file: await lm.save({ dtype: 'q8' }) };
    if (step - best.step >= 15) break;
  }
  trainer.dispose();
  lm.dispose();
  console.log(`Teach it on the first half (${tokens.length.toLocaleString('en-US')} bytes, ${((Date.now() - started) / 1000).toFixed(0)} s): ` +
    `held-out tenth ${first.toFixed(3)} -> ${best.bits.toFixed(3)} bits/byte, kept step ${best.step}`);
  return load(best.file, { threads: 1 });
}

const ksr = (k) => (100 * (1 - k / text.length)).toFixed(2);
const times = run.times.sort((a, b) => a - b);
const q = (f) => times[Math.min(times.length - 1, Math.floor(f * times.length))].toFixed(2);
console.log(`text: ${values.text ? `the second half of ${values.text}` : 'the held-out tenth of KJV'} from character ${skip}, ${text.length.toLocaleString('en-US')} characters ` +
  `(${JSON.stringify(text.slice(0, 40))}...)`);
console.log(`model ${relative(root, modelPath)}, ${JSON.stringify(options)}, 1 thread, ${where}, ${cpus()[0].model}, ${new Date().toISOString().slice(0, 10)}`);
console.log('| method | keystrokes | KSR |\n|---|---|---|');
console.log(`| predictor | ${run.keystrokes.toLocaleString('en-US')} | ${ksr(run.keystrokes)}% |`);
console.log(`| word frequency (training text) | ${baseline.toLocaleString('en-US')} | ${ksr(baseline)}% |`);
console.log(`latency from input() to suggestions() resolved, ${times.length.toLocaleString('en-US')} keystrokes: ` +
  `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${times.at(-1).toFixed(2)} ms`);
