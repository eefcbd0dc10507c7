// The demo page: load a model (with progress), stream generated text, stop, live tokens/s and backend, and
// the recurrent state's size, which stays the same however many tokens it has read; "Teach it" (teach.js)
// fine-tunes the model on the user's text, then hands back the model it kept (replace()).
// "Your own model file…" loads a .safetensors file from the user's disk, with a tokenizer file for a model whose
// file has none. ?model=URL loads another .safetensors file, and ?tokenizer=URL gives it a tokenizer (the tests).
import { load } from '../js/index.js';
import * as store from './store.js';
import { setupTeach } from './teach.js';
import { setupType } from './type.js';

const $ = (id) => document.getElementById(id);
const ui = {
  select: $('model-file'), own: $('own'), ownModel: $('own-model'), ownTokenizer: $('own-tokenizer'), info: $('model-info'), progress: $('progress'), message: $('message'),
  prompt: $('prompt'), generate: $('generate'), stop: $('stop'), controls: $('controls'),
  temperature: $('temperature'), topK: $('top-k'), topP: $('top-p'), maxTokens: $('max-tokens'), seed: $('seed'),
  outputBox: $('output-box'), promptOut: $('output-prompt'), textOut: $('output-text'), note: $('note'),
  speed: $('speed'), backend: $('backend'), stateInfo: $('state-info'), kept: $('kept'), keptText: $('kept-text'), forget: $('forget'),
};
const number = new Intl.NumberFormat('en').format;
const encoder = new TextEncoder();
const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;

let lm = null;
let base = null; // the URL of the model chosen (null for a file from the disk): what a taught model is kept under
let state = null; // the sequence every run reads and writes; lm.dispose() frees it
let stateBytes = 0; // the size of state.save(), measured at load and after each run
let controller = null;
let generating = false;
// while a run teaches the model, Generate waits and the model cannot be changed under it
const teach = setupTeach(() => lm, (on) => {
  ui.generate.disabled = on || generating || !lm;
  ui.select.disabled = on;
}, replace);
const type = setupType();

/** Shows `text` in a message element (#message for the model, #note for a run), or hides it. */
function say(where, text, kind = 'error') {
  where.hidden = !text;
  where.textContent = text ?? '';
  where.className = `message ${kind}`;
}

function showState(tokensRead) {
  ui.stateInfo.textContent = `state: ${number(stateBytes)} bytes, the same after 10 or 10,000 tokens · ${number(tokensRead)} tokens read`;
}

for (const [input, output] of [['temperature', 'temperature-value'], ['top-k', 'top-k-value'], ['top-p', 'top-p-value']]) {
  $(input).addEventListener('input', () => ($(output).textContent = $(input).value));
}
// On a phone the sampling controls start closed, so that the output sits just below Generate.
ui.controls.open = matchMedia('(min-width: 40rem)').matches;

/** Makes `model` (its file `size` bytes) the one Generate runs: a new state, the info line says what the select does not. */
async function use(model, size) {
  lm = model;
  const c = lm.config;
  const taught = c.name?.endsWith(', taught in the browser') ? ', taught in the browser' : '';
  const vocabulary = c.tokenizer === 'bytes' ? '' : `, ${c.tokenizer} tokenizer (${number(c.tokenizerVocabSize ?? c.numTokens)} tokens)`;
  ui.info.textContent = `min${c.cell.toUpperCase()}, ${(c.parameters / 1e6).toFixed(1)}M parameters${c.quantized ? ', int8' : ''}${vocabulary}, ${mb(size)}${taught}`;
  state = lm.createState();
  stateBytes = (await state.save()).length;
  showState(0);
  type.use(lm);
}

/** Says that the page runs what the model learned on the user's text, kept in this browser since `date`. */
function showKept(date) {
  ui.kept.hidden = !date;
  if (date) ui.keptText.textContent = `This is the model as your text taught it (${new Date(date).toLocaleString()}), kept in this browser.`;
}

/** After a "Teach it" run: the model it kept, loaded from `file`, replaces the page's model, which is disposed; if
 * it learned, this browser keeps it for the next visit. */
async function replace(model, file, learned) {
  const old = lm;
  await use(model, file.length);
  old?.dispose();
  if (learned && base && await store.keep(base, file)) showKept(new Date().toISOString());
}

/** Loads the model at `url` (or a File's bytes), with `tokenizer` (a URL, a File's bytes, or none). */
async function loadModel(url, tokenizer) {
  ui.generate.disabled = true;
  teach.loaded(false);
  type.use(null);
  showKept(null);
  lm?.dispose();
  lm = null;
  base = typeof url === 'string' ? url : null;
  ui.progress.hidden = false;
  ui.progress.value = 0;
  ui.info.textContent = 'loading…';
  ui.speed.textContent = '–';
  ui.stateInfo.textContent = '';
  say(ui.message, null);
  try {
    let size = 0;
    const saved = base && await store.kept(base); // what an earlier visit taught it
    if (saved) size = saved.file.length;
    lm = await load(saved ? saved.file : url, {
      tokenizer,
      onProgress: ({ loaded, total }) => {
        size = loaded;
        if (total) ui.progress.value = loaded / total;
        else ui.progress.removeAttribute('value');
        ui.info.textContent = `loading… ${mb(loaded)}${total ? ` of ${mb(total)}` : ''}`;
      },
    });
    if (!lm.tokenizer) {
      throw new Error('the file has no tokenizer (its metadata says "none"): choose "Your own model file…" and give its ' +
        'tokenizer.json or SentencePiece .model too');
    }
    await use(lm, size);
    showKept(saved?.date);
    ui.backend.textContent = `${lm.backend.threads} thread${lm.backend.threads > 1 ? 's' : ''}, ${lm.backend.simd ? 'SIMD' : 'no SIMD'}`;
    ui.generate.disabled = false;
    teach.loaded(true);
  } catch (e) {
    ui.info.textContent = '';
    lm?.dispose();
    lm = null;
    say(ui.message, e.code === 'MG_ELOAD' && /404/.test(e.message)
      ? `The model file is missing (${url}). Build or download it: see models/README.md.`
      : `Could not load the model: ${e.message}`);
  } finally {
    ui.progress.hidden = true;
  }
}

async function generate() {
  const prompt = ui.prompt.value;
  const maxTokens = Number(ui.maxTokens.value); // an empty field is 0
  ui.promptOut.textContent = '';
  ui.textOut.textContent = '';
  ui.speed.textContent = '–';
  say(ui.note, null);
  ui.outputBox.scrollIntoView({ block: 'nearest' }); // keep the output in view on a small screen
  if (!prompt) return say(ui.note, 'The prompt is empty: write a few words for the model to continue.', 'info');
  if (maxTokens === 0) return say(ui.note, 'Max tokens is 0: nothing to generate.', 'info');

  controller = new AbortController();
  generating = true;
  ui.generate.disabled = true;
  ui.stop.disabled = false;
  ui.promptOut.textContent = prompt;
  state.reset();
  showState(0);
  const read = lm.encode(prompt).length;
  // while it runs: the byte-level model writes a token a byte; another tokenizer's pieces are counted in characters.
  // Once it ends, the state's own count of tokens.
  const byteLevel = lm.config.tokenizer === 'bytes', unit = byteLevel ? 'tokens' : 'characters';
  let written = 0;
  const t0 = performance.now();
  const rate = (n, what) => `${number(n)} ${what}, ${(n / ((performance.now() - t0) / 1000)).toFixed(0)} ${what}/s`;
  try {
    const pieces = lm.generate(prompt, {
      maxTokens, temperature: Number(ui.temperature.value), topK: Number(ui.topK.value), topP: Number(ui.topP.value),
      seed: Number(ui.seed.value), state, signal: controller.signal,
    });
    for await (const piece of pieces) {
      ui.textOut.textContent += piece;
      written += byteLevel ? encoder.encode(piece).length : piece.length;
      ui.speed.textContent = rate(written, unit);
      if (byteLevel) showState(read + written);
    }
    stateBytes = (await state.save()).length; // once a run: the state after all those tokens, no larger
    ui.speed.textContent = rate(state.tokens - read, 'tokens');
    showState(state.tokens);
  } catch (e) {
    say(ui.note, `Generation failed: ${e.message}`);
  } finally {
    generating = false;
    ui.generate.disabled = !lm || teach.running;
    ui.stop.disabled = true;
  }
}

ui.generate.addEventListener('click', generate);
ui.stop.addEventListener('click', () => controller?.abort());
/** The model and tokenizer files the user chose: loaded once a model file is chosen. */
async function loadOwn() {
  const [file] = ui.ownModel.files, [tokenizer] = ui.ownTokenizer.files;
  if (!file) return say(ui.message, 'Choose a model file (.safetensors) to load.', 'info');
  await loadModel(new Uint8Array(await file.arrayBuffer()), tokenizer && new Uint8Array(await tokenizer.arrayBuffer()));
}

ui.select.addEventListener('change', () => {
  ui.own.hidden = ui.select.value !== 'own';
  if (ui.select.value === 'own') loadOwn();
  else loadModel(ui.select.value);
});
ui.ownModel.addEventListener('change', loadOwn);
ui.forget.addEventListener('click', async () => {
  await store.forget(base);
  loadModel(base);
});
ui.ownTokenizer.addEventListener('change', loadOwn);

if (typeof WebAssembly !== 'object') {
  say(ui.message, 'This browser has no WebAssembly, which the model needs to run.');
} else {
  const query = new URLSearchParams(location.search), override = query.get('model');
  if (override) {
    const option = new Option(override.split('/').pop(), override, true, true);
    ui.select.add(option);
  }
  loadModel(ui.select.value, query.get('tokenizer') ?? undefined);
}
