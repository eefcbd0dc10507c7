// The demo page (web/) in Debian's chromium via playwright-core: it loads the Q8 demo model by default,
// streams text from a prompt, Stop stops it, the output stays in view on a phone, the speed line is cleared
// when a run starts, Max tokens 0 is refused without calling generate, the state's size and the tokens it
// read are shown and right, it works without COOP/COEP on one thread, and nothing is logged as an error.
// Teach it reports the bits per byte of a held-out tenth of the user's text before and after, stops when the model
// begins to memorise a small text, keeps the best weights (Q8 again for a Q8 model) and saves them as a fine-tuned
// model; the chart is drawn at its size on screen and the layout holds at 390x844. A model with a tokenizer (one
// that carries it, and one chosen from the disk with its tokenizer file) generates Node's text.
// Screenshots at desktop and phone sizes go to tests/output/ (not committed).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { create, load } from '../../js/index.js';
import { serve } from '../../scripts/serve.mjs';
import { launch, skipBrowser as skip } from '../helpers/chromium.mjs';

const model = process.env.DEMO_MODEL || null; // e.g. ../tests/fixtures/lm/gru-d24-l3-conv3.safetensors; default: the demo model
const output = new URL('../output/', import.meta.url);
const DESKTOP = { width: 1100, height: 900 };
const PHONE = { width: 390, height: 844 };
const bytes = (text) => new TextEncoder().encode(text).length;

let browser, server, url, plainServer, plainUrl;

before(async () => {
  if (skip) return;
  browser = await launch();
  ({ server, url } = await serve({ isolation: true }));
  ({ server: plainServer, url: plainUrl } = await serve({ isolation: false }));
  mkdirSync(output, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.close();
  plainServer?.close();
});

/**
 * Opens the demo and waits for its model. The page counts the messages it posts to the engine's worker (every
 * call of the API is one) in window.workerMessages; `problems` collects console errors and page errors.
 */
async function openDemo(viewport, { base = url, query = model ? `?model=${encodeURIComponent(model)}` : '', scale = 1 } = {}) {
  const page = await browser.newPage({ viewport, deviceScaleFactor: scale });
  const problems = [];
  const requested = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  await page.addInitScript(() => {
    window.workerMessages = 0;
    const post = Worker.prototype.postMessage;
    Worker.prototype.postMessage = function (...args) {
      window.workerMessages++;
      return post.apply(this, args);
    };
  });
  await page.goto(`${base}/web/${query}`);
  await page.waitForSelector('#generate:not([disabled])', { timeout: 60000 });
  return { page, problems, requested };
}

/** Sets the prompt, max tokens and seed, presses Generate and waits until the run is over. */
async function run(page, { prompt = 'And it came to pass', maxTokens = '40', seed = '1' } = {}) {
  await page.fill('#prompt', prompt);
  await page.fill('#max-tokens', maxTokens);
  await page.fill('#seed', seed);
  await page.click('#generate');
  await page.waitForSelector('#generate:not([disabled])', { timeout: 60000 });
}

/** The bytes and tokens read shown in the state line. */
async function stateInfo(page) {
  const text = await page.textContent('#state-info');
  const m = text.match(/^state: ([\d,]+) bytes, the same after 10 or 10,000 tokens · ([\d,]+) tokens read$/);
  assert.ok(m, `state line: ${JSON.stringify(text)}`);
  return { bytes: Number(m[1].replaceAll(',', '')), tokens: Number(m[2].replaceAll(',', '')) };
}

test('the demo generates streaming text, Stop stops it, no console errors', { skip }, async () => {
  const { page, problems } = await openDemo(DESKTOP);
  assert.match(await page.textContent('#backend'), /2 threads|\d+ threads?, SIMD/);
  assert.equal(await page.evaluate(() => document.getElementById('controls').open), true, 'Sampling is open on a wide screen');
  await page.fill('#prompt', 'And it came to pass, when the king');
  await page.fill('#max-tokens', '100000');
  await page.click('#generate');
  await page.waitForFunction(() => new TextEncoder().encode(document.getElementById('output-text').textContent).length >= 200, null, { timeout: 60000 });
  assert.match(await page.textContent('#speed'), /tokens\/s/);
  await page.click('#stop');
  await page.waitForSelector('#stop[disabled]', { timeout: 10000 });
  const stopped = await page.textContent('#output-text');
  await page.waitForTimeout(500);
  assert.equal(await page.textContent('#output-text'), stopped, 'text kept coming after Stop');
  assert.ok(bytes(stopped) >= 200);
  assert.equal(await page.isEnabled('#generate'), true, 'Generate is usable again');
  console.log(`generated after Stop: ${JSON.stringify(stopped.slice(0, 300))}`);
  await page.screenshot({ path: fileURLToPath(new URL('demo-desktop.png', output)), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: fileURLToPath(new URL('demo-phone.png', output)), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('the demo loads the Q8 model by default and its info line says what the select does not', { skip }, async () => {
  const { page, problems, requested } = await openDemo(DESKTOP, { query: '' });
  assert.ok(requested.includes('/models/kjv.q8.safetensors'), `requests: ${requested.join(' ')}`);
  assert.ok(!requested.includes('/models/kjv.safetensors'), 'the F32 model was downloaded too');
  assert.equal(await page.inputValue('#model-file'), '../models/kjv.q8.safetensors');
  const info = await page.textContent('#model-info');
  assert.equal(info, 'minGRU, 3.4M parameters, int8, 3.5 MB');
  assert.doesNotMatch(info, /King James|KJV/, 'the info line repeats the model name');
  assert.deepEqual(problems, []);
  await page.close();
});

test('on a 390x844 screen the output is in view after Generate', { skip }, async () => {
  const { page, problems } = await openDemo(PHONE);
  const generate = async (screenshot) => {
    await page.evaluate(() => scrollTo(0, 0));
    await page.click('#generate');
    await page.waitForSelector('#generate:not([disabled])', { timeout: 60000 });
    await page.screenshot({ path: fileURLToPath(new URL(screenshot, output)) });
    const box = await page.evaluate(() => document.getElementById('output').getBoundingClientRect().toJSON());
    assert.ok(box.top >= 0 && box.bottom <= PHONE.height && box.height > 0, `the output is outside the viewport: ${JSON.stringify(box)}`);
  };
  assert.equal(await page.evaluate(() => document.getElementById('controls').open), false, 'Sampling is open on a phone');
  await page.evaluate(() => (document.getElementById('max-tokens').value = '60')); // the field is in the closed Sampling
  await generate('demo-phone-generate.png');
  await page.click('#controls summary'); // open Sampling: now Generate must scroll the output into view
  await generate('demo-phone-sampling-open.png');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the speed line is cleared when a run starts: after an empty prompt or an error it shows no old figures', { skip }, async () => {
  const { page, problems } = await openDemo(DESKTOP);
  await run(page);
  assert.match(await page.textContent('#speed'), /^\d+ tokens, \d+ tokens\/s$/);
  await run(page, { prompt: '' });
  assert.equal(await page.textContent('#speed'), '–');
  assert.match(await page.textContent('#note'), /prompt is empty/);
  await run(page);
  assert.match(await page.textContent('#speed'), /tokens\/s/);
  await run(page, { seed: '-1' }); // the engine refuses the seed
  assert.equal(await page.textContent('#speed'), '–');
  assert.match(await page.textContent('#note'), /^Generation failed: .*seed/);
  assert.equal(await page.isVisible('#note'), true);
  assert.deepEqual(problems, []);
  await page.close();
});

test('Max tokens 0 or empty says so and does not call generate', { skip }, async () => {
  const { page, problems } = await openDemo(DESKTOP);
  const messages = () => page.evaluate(() => window.workerMessages);
  let before = await messages();
  await run(page);
  assert.ok(await messages() > before, 'a run posts nothing to the worker: the count is broken');
  for (const maxTokens of ['0', '']) {
    before = await messages();
    await run(page, { maxTokens });
    assert.equal(await page.textContent('#note'), 'Max tokens is 0: nothing to generate.');
    assert.equal(await page.isVisible('#note'), true);
    assert.equal(await page.textContent('#output'), '', 'the previous output is still shown');
    assert.equal(await page.textContent('#speed'), '–');
    assert.equal(await messages(), before, 'the engine was called');
  }
  assert.deepEqual(problems, []);
  await page.close();
});

test('without COOP/COEP (one thread) the state line shows a constant size and the tokens read', { skip }, async () => {
  const { page, problems } = await openDemo(DESKTOP, { base: plainUrl });
  assert.match(await page.textContent('#backend'), /^1 thread, SIMD$/);
  const lm = await load(fileURLToPath(new URL(model ?? '../models/kjv.q8.safetensors', new URL('../../web/', import.meta.url))));
  const expected = (await lm.createState().save()).length; // in Node, by another build
  lm.dispose();
  assert.deepEqual(await stateInfo(page), { bytes: expected, tokens: 0 });
  const seen = [];
  for (const [prompt, maxTokens] of [['And God said', '30'], ['In the beginning God created the heaven and the earth.', '600']]) {
    await run(page, { prompt, maxTokens });
    const text = await page.textContent('#output-text');
    if (!text.includes('\uFFFD')) assert.equal(bytes(text), Number(maxTokens), 'one byte a token, and no fewer than maxTokens');
    const shown = await stateInfo(page);
    assert.deepEqual(shown, { bytes: expected, tokens: bytes(prompt) + Number(maxTokens) });
    seen.push(shown);
  }
  console.log(`state after ${seen.map((s) => s.tokens).join(' and ')} tokens: ${seen.map((s) => s.bytes).join(' and ')} bytes`);
  assert.deepEqual(problems, []);
  await page.close();
});

test('the demo says clearly when the model file is missing', { skip }, async () => {
  const page = await browser.newPage();
  await page.goto(`${url}/web/?model=${encodeURIComponent('../models/no-such-model.safetensors')}`);
  await page.waitForSelector('#message:not([hidden])', { timeout: 30000 });
  assert.match(await page.textContent('#message'), /model file is missing/);
  assert.equal(await page.isDisabled('#generate'), true);
  await page.close();
});

// ---- a model with a real vocabulary (issue 37)

const GPT2 = '../tests/fixtures/vocab/minGRULM-gpt2-d8-l1.safetensors'; // carries GPT-2's tokenizer.json
const SPM = fileURLToPath(new URL('../fixtures/tokenizers/spm-bpe.model', import.meta.url));

/** What Node generates from `prompt` with the page's default sampling settings and `maxTokens`. */
async function nodeText(lm, prompt, maxTokens) {
  let text = '';
  for await (const piece of lm.generate(prompt, { maxTokens, temperature: 0.8, topK: 40, topP: 0.95, seed: 1 })) text += piece;
  return text;
}

test('a model with a tokenizer: one that carries it (?model=), and one from the disk with its tokenizer file; Node\'s text', { skip }, async (t) => {
  const { page, problems } = await openDemo(DESKTOP, { query: `?model=${encodeURIComponent(GPT2)}` });
  assert.match(await page.textContent('#model-info'), /^minGRU, 0\.\dM parameters, tokenizer\.json tokenizer \(50,257 tokens\), /);
  await run(page, { prompt: 'Once upon a time', maxTokens: '30' });
  const gpt2 = await load(fileURLToPath(new URL(GPT2, new URL('../../web/', import.meta.url))));
  assert.equal(await page.textContent('#output-text'), await nodeText(gpt2, 'Once upon a time', 30));
  assert.match(await page.textContent('#speed'), /^30 tokens, \d+ tokens\/s$/);
  assert.equal((await stateInfo(page)).tokens, gpt2.encode('Once upon a time').length + 30);
  gpt2.dispose();

  // "Your own model file…": a model whose file has no tokenizer, then its SentencePiece model
  const dir = mkdtempSync(join(tmpdir(), 'mingru-demo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bare = await create({ numTokens: 2000, dim: 16, depth: 1, seed: 1 }), file = join(dir, 'bare.safetensors');
  writeFileSync(file, await bare.save());
  bare.dispose();
  await page.selectOption('#model-file', 'own');
  assert.equal(await page.isVisible('#own-model'), true);
  await page.waitForFunction(() => /Choose a model file/.test(document.getElementById('message').textContent), null, { timeout: 30000 });
  await page.setInputFiles('#own-model', file);
  // the message that says so (not the one before, asking for a file)
  await page.waitForFunction(() => /has no tokenizer/.test(document.getElementById('message').textContent), null, { timeout: 30000 });
  assert.equal(await page.isVisible('#message'), true);
  assert.match(await page.textContent('#message'), /has no tokenizer .*give its tokenizer\.json or SentencePiece \.model too/);
  assert.equal(await page.isDisabled('#generate'), true);
  await page.setInputFiles('#own-tokenizer', SPM);
  await page.waitForSelector('#generate:not([disabled])', { timeout: 30000 });
  assert.equal(await page.isVisible('#message'), false);
  assert.match(await page.textContent('#model-info'), /sentencepiece tokenizer \(2,000 tokens\)/);
  await run(page, { prompt: 'In the beginning', maxTokens: '20' });
  const spm = await load(file, { tokenizer: SPM });
  assert.equal(await page.textContent('#output-text'), await nodeText(spm, 'In the beginning', 20));
  spm.dispose();
  assert.deepEqual(problems, []);
  await page.close();
});

// ---- Type: predictive text (attachPredictor, issue 38)

/** Node's suggestions after `text` from the demo model (the same Q8 arithmetic in every build). */
async function nodeSuggestions(text) {
  const lm = await load(fileURLToPath(new URL('../../models/kjv.q8.safetensors', import.meta.url)));
  const p = lm.predictor({ count: 3, until: 'word' });
  await p.set(text);
  const list = await p.suggestions();
  lm.dispose();
  return list.map((s) => s.text);
}

/** Does `act()` and resolves to the texts of the first suggestions the panel shows once the field holds `value`
 * (the page drops the answers to older texts). */
async function suggestionsAfter(page, act, value) {
  await page.evaluate((value) => {
    const field = document.getElementById('type-text');
    window.nextSuggestions = new Promise((resolve) => field.addEventListener('mingru-suggestions', function on(e) {
      if (!e.detail.length || field.value !== value) return;
      field.removeEventListener('mingru-suggestions', on);
      resolve(e.detail.map((s) => s.text));
    }));
  }, value);
  await act();
  return page.evaluate(() => window.nextSuggestions);
}

test('Type: suggestions as you type (Node\'s), ghost text, Tab accepts, backspace, Esc, the buttons, none during IME composition', { skip }, async () => {
  const { page, problems } = await openDemo(DESKTOP);
  const ghost = () => page.evaluate(() => {
    const layer = document.querySelector('.mingru-ghost-layer');
    return layer.hidden ? '' : layer.querySelector('.mingru-ghost').textContent;
  });
  await page.click('#type-text');
  let shown = await suggestionsAfter(page, () => page.keyboard.type('And the LO'), 'And the LO');
  assert.deepEqual(shown, await nodeSuggestions('And the LO'));
  assert.equal(await ghost(), shown[0]);
  assert.deepEqual(await page.$$eval('#type-alternatives button', (bs) => bs.map((b) => b.textContent)), shown);
  await page.keyboard.press('Tab');
  assert.equal(await page.inputValue('#type-text'), `And the LO${shown[0]}`);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'type-text', 'Tab left the field');
  // backspace: the text is shorter, the suggestions are those of the shorter text
  await page.keyboard.type(' spake unto Mo');
  const typed = `And the LO${shown[0]} spake un`;
  shown = await suggestionsAfter(page, async () => {
    for (let i = 0; i < 5; i++) await page.keyboard.press('Backspace');
  }, typed);
  assert.deepEqual(shown, await nodeSuggestions(typed));
  await page.keyboard.press('Escape');
  assert.equal(await ghost(), '');
  // a button puts its suggestion in
  shown = await suggestionsAfter(page, () => page.keyboard.type(' the chil'), `${typed} the chil`);
  await page.click('#type-alternatives button:nth-child(2)');
  assert.equal(await page.inputValue('#type-text'), `${typed} the chil${shown[1]}`);
  // IME composition: no ghost and no suggestions while composing, suggestions again once it ends
  const during = await page.evaluate(async () => {
    const field = document.getElementById('type-text');
    let asked = 0;
    field.addEventListener('mingru-suggestions', (e) => (asked += e.detail.length));
    field.dispatchEvent(new CompositionEvent('compositionstart', { data: '' }));
    field.setRangeText(' か', field.value.length, field.value.length, 'end');
    field.dispatchEvent(new InputEvent('input', { inputType: 'insertCompositionText', data: 'か', isComposing: true }));
    await new Promise((r) => setTimeout(r, 500));
    return { asked, ghost: !document.querySelector('.mingru-ghost-layer').hidden };
  });
  assert.deepEqual(during, { asked: 0, ghost: false });
  const composed = `${typed} the chil${shown[1]} か`;
  const after = await suggestionsAfter(page, () => page.evaluate(() => document.getElementById('type-text').dispatchEvent(new CompositionEvent('compositionend', { data: 'か' }))), composed);
  assert.ok(after.length > 0);
  await page.screenshot({ path: fileURLToPath(new URL('demo-type.png', output)), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('attachPredictor on a contenteditable element: the ghost at the caret, Tab accepts, and nothing is left behind by detach()', { skip }, async () => {
  const page = await browser.newPage({ viewport: DESKTOP });
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${url}/tests/browser/blank.html`);
  await page.evaluate(async () => {
    const { load, attachPredictor } = await import('/js/index.js');
    const div = Object.assign(document.createElement('div'), { id: 'editor', contentEditable: 'true' });
    div.style.cssText = 'width: 400px; min-height: 3em; border: 1px solid #888; padding: 4px; font: 16px serif';
    document.body.append(div);
    window.lm = await load('/models/kjv.q8.safetensors');
    window.attached = attachPredictor(div, window.lm);
    window.lists = [];
    div.addEventListener('mingru-suggestions', (e) => e.detail.length && window.lists.push({ text: div.textContent, list: e.detail.map((s) => s.text) }));
  });
  await page.click('#editor');
  await page.keyboard.type('In the beginning God cre');
  await page.waitForFunction(() => window.lists.at(-1)?.text === 'In the beginning God cre', null, { timeout: 30000 });
  const list = await page.evaluate(() => window.lists.at(-1).list);
  assert.deepEqual(list, await nodeSuggestions('In the beginning God cre'));
  const ghost = await page.evaluate(() => {
    const layer = document.querySelector('.mingru-ghost-layer'), box = layer.getBoundingClientRect(), editor = document.getElementById('editor').getBoundingClientRect();
    return { text: layer.hidden ? '' : layer.textContent, inside: box.left > editor.left && box.top >= editor.top && box.top < editor.bottom };
  });
  assert.deepEqual(ghost, { text: list[0], inside: true });
  await page.keyboard.press('Tab');
  assert.equal(await page.textContent('#editor'), `In the beginning God cre${list[0]}`);
  const left = await page.evaluate(() => {
    window.attached.detach();
    return document.querySelectorAll('.mingru-ghost-layer, .mingru-alternatives').length;
  });
  assert.equal(left, 0);
  assert.deepEqual(problems, []);
  await page.close();
});

// ---- Teach it

const TEACH_TEXT = readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8').slice(0, 6000); // not the Bible
// About 1,200 bytes of ordinary prose, not the Bible: small enough that the model memorises it within a few dozen steps.
const SMALL_TEXT = 'Every autumn my grandmother walked to the orchard behind the school and came back with a basket of apples ' +
  'that nobody had asked for. She said the trees belonged to whoever remembered them, and since the school had long ' +
  'forgotten, they were hers. We ate the apples in the kitchen while the radio talked about the weather in towns we had ' +
  'never visited. The good ones were sweet and a little soft; the rest went into a pot with cinnamon and sugar and ' +
  'became something we called sauce, though it was closer to jam. My brother liked to pretend he was a farmer and would ' +
  'line the apples up on the windowsill by size, giving each a name and a short history. The largest was always the ' +
  'mayor. When the first frost arrived, my grandmother stopped going to the orchard, and the basket hung on a nail by ' +
  'the door until spring. I did not understand then that she was teaching us something about patience and about taking ' +
  'only what would otherwise be wasted. Years later, when the school was sold and the trees were cut down for a parking ' +
  'lot, I drove past and felt a strange grief, as if a relative I had barely known had died. I still buy apples in the ' +
  'autumn, but they come from a shop, and none of them has a name.';

/** The text's last tenth, cut at a character boundary, as the page holds it out (computed here independently). */
function heldOutPart(text) {
  const all = new TextEncoder().encode(text);
  let cut = all.length - Math.floor(all.length / 10);
  while ((all[cut] & 0xc0) === 0x80) cut++;
  return new TextDecoder().decode(all.subarray(cut));
}

/** The summary a run ends with: the held-out bytes and bits per byte before and after, how it ended, the step kept. */
function summary(status) {
  const m = /^On the held-out tenth of your text \(([\d,]+) bytes it did not train on\): (\d+\.\d+) bits\/byte before, (\d+\.\d+) after\. (.*)$/.exec(status);
  assert.ok(m, status);
  const kept = /kept the weights of step (\d+), which predicted the held-out part best/.exec(m[4]);
  const stopped = /^Stopped at step (\d+)(: the model began to memorise your text)?;/.exec(m[4]);
  const timeUp = /^(\d+) steps in \d+ s;/.exec(m[4]);
  assert.ok(stopped || timeUp, `how the run ended: ${m[4]}`);
  return {
    heldOutBytes: Number(m[1].replaceAll(',', '')), before: Number(m[2]), after: Number(m[3]), kept: kept ? Number(kept[1]) : 0,
    steps: Number((stopped ?? timeUp)[1]), memorising: Boolean(stopped?.[2]), stoppedByUser: Boolean(stopped && !stopped[2]),
  };
}

const finished = () => /before, .* after/.test(document.getElementById('teach-status').textContent);

/** Pastes the text, sets the seconds, presses Teach and waits for the summary; meanwhile each animation frame notes
 * the step the status line shows. Returns the summary and how many of its steps a frame showed. */
async function teachRun(page, seconds, text = TEACH_TEXT) {
  await page.fill('#teach-text', text);
  await page.fill('#teach-seconds', String(seconds));
  await page.evaluate(() => {
    window.stepsShown = new Set();
    const tick = () => {
      const shown = /^step (\d+) /.exec(document.getElementById('teach-status').textContent);
      if (shown) window.stepsShown.add(Number(shown[1]));
      if (window.counting) requestAnimationFrame(tick);
    };
    window.counting = true;
    requestAnimationFrame(tick);
  });
  await page.click('#teach-start');
  assert.equal(await page.isDisabled('#generate'), true, 'Generate waits while the model is taught');
  await page.waitForFunction(finished, null, { timeout: (seconds + 60) * 1000 });
  const stepsShown = await page.evaluate(() => ((window.counting = false), window.stepsShown.size));
  return { ...summary(await page.textContent('#teach-status')), stepsShown };
}

/** Generates 800 tokens twice and returns the better tokens per second the speed line shows (the first run warms up). */
async function speed(page) {
  let best = 0;
  for (let i = 0; i < 2; i++) {
    await run(page, { prompt: 'The ', maxTokens: '800' });
    const m = /^8\d\d tokens, (\d+) tokens\/s$/.exec(await page.textContent('#speed')); // 800, and the rest of a last UTF-8 character
    assert.ok(m, await page.textContent('#speed'));
    best = Math.max(best, Number(m[1]));
  }
  return best;
}

test('Teach it: 30 s on a non-KJV text lowers the bits per byte of its held-out tenth, the model is Q8 again, the download says it was fine-tuned', { skip }, async () => {
  const { page, problems } = await openDemo(DESKTOP);
  const heldOut = heldOutPart(TEACH_TEXT);
  const fast = await speed(page);
  const r = await teachRun(page, 30);
  assert.equal(r.heldOutBytes, bytes(heldOut), 'the held-out part is the last tenth');
  assert.ok(r.steps >= 5 && r.kept > 0 && r.kept <= r.steps, `${r.steps} steps, kept step ${r.kept}`);
  assert.ok(r.after < r.before, `held-out: ${r.before} -> ${r.after} bits per byte`);
  // the steps run in the engine's worker: frames are drawn between them (steps on the page's thread would let none
  // through until the run ended)
  assert.ok(r.stepsShown >= r.steps / 2, `frames showed ${r.stepsShown} of ${r.steps} steps`);
  await page.screenshot({ path: fileURLToPath(new URL('demo-teach.png', output)), fullPage: true });
  // the page now runs the kept weights, loaded again as Q8 (the info line is the new model's; the download below is
  // Q8): how fast it generates is bench/'s to measure, not a test's
  assert.match(await page.textContent('#model-info'), /^minGRU, 3\.4M parameters, int8, 3\.5 MB, taught in the browser$/);
  const taughtSpeed = await speed(page);
  console.log(`held-out tenth (${r.heldOutBytes} bytes): ${r.before} -> ${r.after} bits/byte; ${r.steps} steps, kept step ${r.kept}; ` +
    `generation ${fast} tokens/s before teaching, ${taughtSpeed} after`);
  assert.equal((await stateInfo(page)).tokens, bytes('The ') + 800, 'the new model has a new state');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#teach-download')]);
  assert.equal(download.suggestedFilename(), 'mingru-taught.safetensors');
  const taught = await load(await download.path());
  const original = await load(fileURLToPath(new URL('../../models/kjv.q8.safetensors', import.meta.url)));
  assert.equal(taught.config.quantized, true, 'a Q8 model is saved as Q8');
  assert.equal(taught.config.name, `${original.config.name}, taught in the browser`);
  assert.match(taught.config.trainingData, new RegExp(`^${original.config.trainingData.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; then fine-tuned ` +
    `in the browser on ${(bytes(TEACH_TEXT) - bytes(heldOut)).toLocaleString('en')} bytes of the user's text for ${r.kept} steps \\(\\d{4}-\\d\\d-\\d\\d\\)$`));
  // Chromium runs the relaxed-SIMD build, whose F32 sums differ from Node's plain SIMD ones in the last bits:
  // on this text 7.149 bits per byte in the page and 7.135 in Node for the same model
  const [a, b] = [(await taught.evaluate(heldOut)).bitsPerByte, (await original.evaluate(heldOut)).bitsPerByte];
  assert.ok(Math.abs(a - r.after) < 0.03 && Math.abs(b - r.before) < 0.03, `in Node the held-out tenth takes ${b} -> ${a} bits per byte, the page said ${r.before} -> ${r.after}`);
  taught.dispose();
  original.dispose();
  // what it learned is kept in this browser: a reload runs the taught model again; Forget it brings the original back
  assert.equal(await page.isVisible('#kept'), true);
  await page.reload();
  await page.waitForSelector('#generate:not([disabled])', { timeout: 60000 });
  assert.match(await page.textContent('#model-info'), /, taught in the browser$/);
  assert.match(await page.textContent('#kept-text'), /^This is the model as your text taught it \(.*\), kept in this browser\.$/);
  await page.click('#forget');
  await page.waitForFunction(() => !document.getElementById('generate').disabled && document.getElementById('kept').hidden, null, { timeout: 60000 });
  assert.equal(await page.textContent('#model-info'), 'minGRU, 3.4M parameters, int8, 3.5 MB');
  await page.reload();
  await page.waitForSelector('#generate:not([disabled])', { timeout: 60000 });
  assert.equal(await page.isVisible('#kept'), false, 'forgotten, yet restored');
  assert.deepEqual(problems, []);
  await page.close();
});

test('Teach it on the single-thread build: a small text stops when the model begins to memorise it, Stop keeps what was learned, too little text is refused', { skip }, async () => {
  const { page, problems } = await openDemo(DESKTOP, { base: plainUrl });
  assert.match(await page.textContent('#backend'), /^1 thread/);
  const r = await teachRun(page, 300, SMALL_TEXT);
  console.log(`${bytes(SMALL_TEXT)} bytes of prose: held-out tenth ${r.before} -> ${r.after} bits/byte; stopped at step ${r.steps}, kept step ${r.kept}`);
  assert.ok(r.memorising, 'the run did not stop on its own');
  assert.ok(r.kept > 0 && r.steps - r.kept >= 15, `stopped at step ${r.steps}, kept step ${r.kept}`);
  assert.ok(r.after < r.before, `held-out: ${r.before} -> ${r.after}`);
  assert.match(await page.textContent('#model-info'), /int8, 3\.5 MB, taught in the browser$/);

  await page.fill('#teach-seconds', '600');
  await page.fill('#teach-text', TEACH_TEXT);
  await page.click('#teach-start');
  await page.waitForFunction(() => /^step [3-9]/.test(document.getElementById('teach-status').textContent), null, { timeout: 60000 });
  await page.click('#teach-stop');
  await page.waitForFunction(finished, null, { timeout: 60000 });
  const s = summary(await page.textContent('#teach-status'));
  assert.ok(s.stoppedByUser && s.steps >= 3 && s.steps < 20, `Stop: ${JSON.stringify(s)}`);
  assert.ok(s.kept > 0 && s.after < s.before, `what was learned before Stop was not kept: ${JSON.stringify(s)}`);
  assert.equal(await page.isDisabled('#generate'), false);
  assert.equal(await page.isDisabled('#teach-download'), false);

  const status = await page.textContent('#teach-status');
  await page.fill('#teach-text', 'too short');
  await page.click('#teach-start');
  assert.match(await page.textContent('#teach-note'), /more text to learn from: 1,000 bytes at least .*this is 9\)/);
  await page.fill('#teach-text', 'x'.repeat(999));
  await page.click('#teach-start');
  assert.match(await page.textContent('#teach-note'), /more text to learn from: .*this is 999\)/);
  assert.equal(await page.isDisabled('#teach-stop'), true, 'a refused text started a run');
  assert.equal(await page.textContent('#teach-status'), status);
  assert.deepEqual(problems, []);
  await page.close();
});

test('the layout: at 390x844 the chart is drawn at its size on screen and Seconds stays by its input; on a desktop a link at the top leads to Teach it', { skip }, async () => {
  const { page, problems } = await openDemo(PHONE, { scale: 3 });
  const chart = () => page.evaluate(() => {
    const c = document.getElementById('loss-chart');
    return { width: c.width, height: c.height, expected: [c.clientWidth, c.clientHeight].map((n) => Math.round(n * devicePixelRatio)) };
  });
  const phone = await chart();
  assert.deepEqual([phone.width, phone.height], phone.expected, 'the canvas is stretched: its buffer is not its CSS size times devicePixelRatio');
  const [label, input] = await page.evaluate(() => ['label[for="teach-seconds"]', '#teach-seconds'].map((q) => document.querySelector(q).getBoundingClientRect().toJSON()));
  assert.ok(label.right <= input.left && label.top < input.bottom && input.top < label.bottom, `Seconds ${JSON.stringify(label)} and its input ${JSON.stringify(input)} are not on one line`);
  await page.setViewportSize(DESKTOP); // the buffer follows a resize
  await page.waitForFunction(() => {
    const c = document.getElementById('loss-chart');
    return c.width === Math.round(c.clientWidth * devicePixelRatio);
  }, null, { timeout: 5000 });
  const desktop = await chart();
  assert.deepEqual([desktop.width, desktop.height], desktop.expected);
  assert.ok(desktop.width > phone.width, `the canvas is ${phone.width} wide at 390 and ${desktop.width} at 1100`);
  assert.deepEqual(problems, []);
  await page.close();

  const { page: wide, problems: wideProblems } = await openDemo(DESKTOP);
  const hint = await wide.evaluate(() => document.getElementById('teach-hint').getBoundingClientRect().toJSON());
  assert.ok(hint.height > 0 && hint.bottom <= 300, `the hint is not near the top: ${JSON.stringify(hint)}`);
  const heading = () => wide.evaluate(() => document.querySelector('#teach h2').getBoundingClientRect().toJSON());
  assert.ok((await heading()).bottom > DESKTOP.height - 50, 'Teach it is in view already: the click shows nothing');
  await wide.click('#teach-hint');
  await wide.waitForFunction(() => scrollY > 0, null, { timeout: 5000 });
  const shown = await heading();
  assert.ok(shown.top >= 0 && shown.bottom <= DESKTOP.height / 2, `after the hint, Teach it's heading is at ${JSON.stringify(shown)}`);
  assert.deepEqual(wideProblems, []);
  await wide.close();
});
