// The demo page: load a model (with progress), stream generated text, stop, live tokens/s and backend, and
// the recurrent state's size, which stays the same however many tokens it has read; "Teach it" (teach.js)
// fine-tunes the model on the user's text, then hands back the model it kept (replace()).
// ?model=URL loads another .safetensors file (the tests use it).
import { load } from '../js/index.js';
import { setupTeach } from './teach.js';

const $ = (id) => document.getElementById(id);
const ui = {
  select: $('model-file'), info: $('model-info'), progress: $('progress'), message: $('message'),
  prompt: $('prompt'), generate: $('generate'), stop: $('stop'), controls: $('controls'),
  temperature: $('temperature'), topK: $('top-k'), topP: $('top-p'), maxTokens: $('max-tokens'), seed: $('seed'),
  outputBox: $('output-box'), promptOut: $('output-prompt'), textOut: $('output-text'), note: $('note'),
  speed: $('speed'), backend: $('backend'), stateInfo: $('state-info'),
};
const encoder = new TextEncoder();
const bytes = (text) => encoder.encode(text).length; // the byte-level model reads and writes one token a byte
const number = new Intl.NumberFormat('en').format;
const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;

let lm = null;
let state = null; // the sequence every run reads and writes; lm.dispose() frees it
let stateBytes = 0; // the size of state.save(), measured at load and after each run
let controller = null;
let generating = false;
// while a run teaches the model, Generate waits and the model cannot be changed under it
const teach = setupTeach(() => lm, (on) => {
  ui.generate.disabled = on || generating || !lm;
  ui.select.disabled = on;
}, replace);

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
  ui.info.textContent = `min${c.cell.toUpperCase()}, ${(c.parameters / 1e6).toFixed(1)}M parameters${c.quantized ? ', int8' : ''}, ${mb(size)}${taught}`;
  state = lm.createState();
  stateBytes = (await state.save()).length;
  showState(0);
}

/** After a "Teach it" run: the model it kept, loaded from `file`, replaces the page's model, which is disposed. */
async function replace(model, file) {
  const old = lm;
  await use(model, file.length);
  old?.dispose();
}

async function loadModel(url) {
  ui.generate.disabled = true;
  teach.loaded(false);
  lm?.dispose();
  lm = null;
  ui.progress.hidden = false;
  ui.progress.value = 0;
  ui.info.textContent = 'loading…';
  ui.speed.textContent = '–';
  ui.stateInfo.textContent = '';
  say(ui.message, null);
  try {
    let size = 0;
    lm = await load(url, {
      onProgress: ({ loaded, total }) => {
        size = loaded;
        if (total) ui.progress.value = loaded / total;
        else ui.progress.removeAttribute('value');
        ui.info.textContent = `loading… ${mb(loaded)}${total ? ` of ${mb(total)}` : ''}`;
      },
    });
    await use(lm, size);
    ui.backend.textContent = `${lm.backend.threads} thread${lm.backend.threads > 1 ? 's' : ''}, ${lm.backend.simd ? 'SIMD' : 'no SIMD'}`;
    ui.generate.disabled = false;
    teach.loaded(true);
  } catch (e) {
    ui.info.textContent = '';
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
  const read = bytes(prompt);
  let written = 0;
  const t0 = performance.now();
  try {
    const pieces = lm.generate(prompt, {
      maxTokens, temperature: Number(ui.temperature.value), topK: Number(ui.topK.value), topP: Number(ui.topP.value),
      seed: Number(ui.seed.value), state, signal: controller.signal,
    });
    for await (const piece of pieces) {
      ui.textOut.textContent += piece;
      written += bytes(piece);
      ui.speed.textContent = `${number(written)} tokens, ${(written / ((performance.now() - t0) / 1000)).toFixed(0)} tokens/s`;
      showState(read + written);
    }
    stateBytes = (await state.save()).length; // once a run: the state after all those tokens, no larger
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
ui.select.addEventListener('change', () => loadModel(ui.select.value));

if (typeof WebAssembly !== 'object') {
  say(ui.message, 'This browser has no WebAssembly, which the model needs to run.');
} else {
  const override = new URLSearchParams(location.search).get('model');
  if (override) {
    const option = new Option(override.split('/').pop(), override, true, true);
    ui.select.add(option);
  }
  loadModel(ui.select.value);
}
