#!/usr/bin/env node
// Keystrokes saved by the predictor (issue 38), against classic word completion, and its latency per keystroke:
//   node bench/predict.mjs [--model models/kjv.q8.safetensors] [--chars N] [--skip N] [--count 3] [--budget B]
//                          [--browser chromium|firefox|webkit]
// The text: the demo model's held-out tenth of the King James Bible (`bible -f Gen1:1-Rev22:21`, verse references
// stripped, the last tenth cut at a line start: tools/train.py's split), from --skip, --chars characters of it (all
// when absent); the model first reads up to 2,000 characters before them. The simulation (bench/keystrokes.mjs)
// types it, asking for suggestions at every character of a word; KSR = 1 - keystrokes / characters.
//   predictor: lm.predictor({ count, until: 'word' }) on one thread, the text given by input()
//   baseline: the `count` most frequent words of the training text (the other nine tenths) that start with the
//             typed prefix
// Latency: from input() to suggestions() resolved, for every keystroke of the predictor's run: in Node, or with
// --browser in a page of that engine (bench/predict.html: the engine in its worker; tests/helpers/browsers.mjs drives it).
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { load } from '../js/index.js';
import { serve } from '../scripts/serve.mjs';
import { openBrowser } from '../tests/helpers/browsers.mjs';
import { simulate, withPredictor, WORDS } from './keystrokes.mjs';

const { values } = parseArgs({ options: { model: { type: 'string' }, chars: { type: 'string' }, skip: { type: 'string' },
  count: { type: 'string' }, budget: { type: 'string' }, browser: { type: 'string' } } });
const root = new URL('..', import.meta.url).pathname;
const modelPath = values.model ?? `${root}models/kjv.q8.safetensors`;
const count = Number(values.count ?? 3);
const options = { count, until: 'word', ...(values.budget && { budget: Number(values.budget) }) };

const kjv = execFileSync('bible', ['-f', 'Gen1:1-Rev22:21'], { maxBuffer: 64 << 20 }).toString('utf8').replace(/^[0-9A-Za-z]+\d*:\d+ /gm, '');
const cut = kjv.indexOf('\n', Math.floor(kjv.length * 0.9)) + 1;
const training = kjv.slice(0, cut), heldOut = kjv.slice(cut);
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
  const lm = await load(modelPath, { threads: 1 });
  const p = lm.predictor(options);
  await p.set(before);
  run = await withPredictor(p, text);
  where = `Node ${process.version} (backend ${JSON.stringify(lm.backend)})`;
  lm.dispose();
}

const ksr = (k) => (100 * (1 - k / text.length)).toFixed(2);
const times = run.times.sort((a, b) => a - b);
const q = (f) => times[Math.min(times.length - 1, Math.floor(f * times.length))].toFixed(2);
console.log(`text: the held-out tenth of KJV from character ${skip}, ${text.length.toLocaleString('en-US')} characters ` +
  `(${JSON.stringify(text.slice(0, 40))}...)`);
console.log(`model ${relative(root, modelPath)}, ${JSON.stringify(options)}, 1 thread, ${where}, ${cpus()[0].model}, ${new Date().toISOString().slice(0, 10)}`);
console.log('| method | keystrokes | KSR |\n|---|---|---|');
console.log(`| predictor | ${run.keystrokes.toLocaleString('en-US')} | ${ksr(run.keystrokes)}% |`);
console.log(`| word frequency (training text) | ${baseline.toLocaleString('en-US')} | ${ksr(baseline)}% |`);
console.log(`latency from input() to suggestions() resolved, ${times.length.toLocaleString('en-US')} keystrokes: ` +
  `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${times.at(-1).toFixed(2)} ms`);
