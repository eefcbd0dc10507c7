// The demo page: load a model (with progress), stream generated text, stop, live tokens/s and backend.
// ?model=URL loads another .safetensors file (the tests use it).
import { load } from '../js/index.js';

const $ = (id) => document.getElementById(id);
const ui = {
  select: $('model-file'), info: $('model-info'), progress: $('progress'), message: $('message'),
  prompt: $('prompt'), generate: $('generate'), stop: $('stop'),
  temperature: $('temperature'), topK: $('top-k'), topP: $('top-p'), maxTokens: $('max-tokens'), seed: $('seed'),
  promptOut: $('output-prompt'), textOut: $('output-text'), speed: $('speed'), backend: $('backend'),
};

let lm = null;
let controller = null;

function say(text, kind = 'error') {
  ui.message.hidden = !text;
  ui.message.textContent = text ?? '';
  ui.message.className = `message ${kind}`;
}

for (const [input, output] of [['temperature', 'temperature-value'], ['top-k', 'top-k-value'], ['top-p', 'top-p-value']]) {
  $(input).addEventListener('input', () => ($(output).textContent = $(input).value));
}

async function loadModel(url) {
  ui.generate.disabled = true;
  lm?.dispose();
  lm = null;
  ui.progress.hidden = false;
  ui.progress.value = 0;
  ui.info.textContent = 'loading…';
  say(null);
  try {
    lm = await load(url, {
      onProgress: ({ loaded, total }) => {
        if (total) ui.progress.value = loaded / total;
        else ui.progress.removeAttribute('value');
        ui.info.textContent = `loading… ${(loaded / 1e6).toFixed(1)} MB${total ? ` of ${(total / 1e6).toFixed(1)} MB` : ''}`;
      },
    });
    const c = lm.config;
    ui.info.textContent = `${c.name ?? 'model'}: min${c.cell.toUpperCase()}, ${(c.parameters / 1e6).toFixed(1)}M parameters${c.quantized ? ', int8' : ''}`;
    ui.backend.textContent = `${lm.backend.threads} thread${lm.backend.threads > 1 ? 's' : ''}, ${lm.backend.simd ? 'SIMD' : 'no SIMD'}`;
    ui.generate.disabled = false;
  } catch (e) {
    ui.info.textContent = '';
    say(e.code === 'MG_ELOAD' && /404/.test(e.message)
      ? `The model file is missing (${url}). Build or download it: see models/README.md.`
      : `Could not load the model: ${e.message}`);
  } finally {
    ui.progress.hidden = true;
  }
}

async function generate() {
  if (!lm) return;
  controller = new AbortController();
  ui.generate.disabled = true;
  ui.stop.disabled = false;
  say(null);
  const prompt = ui.prompt.value;
  ui.promptOut.textContent = prompt;
  ui.textOut.textContent = '';
  let tokens = 0;
  const t0 = performance.now();
  try {
    const pieces = lm.generate(prompt, {
      maxTokens: Number(ui.maxTokens.value), temperature: Number(ui.temperature.value), topK: Number(ui.topK.value),
      topP: Number(ui.topP.value), seed: Number(ui.seed.value), signal: controller.signal,
    });
    for await (const piece of pieces) {
      ui.textOut.textContent += piece;
      tokens += new TextEncoder().encode(piece).length; // byte-level: one token per byte
      const seconds = (performance.now() - t0) / 1000;
      ui.speed.textContent = `${tokens} tokens, ${(tokens / seconds).toFixed(0)} tokens/s`;
    }
    if (!tokens) say('The model produced nothing for this prompt.', 'info');
  } catch (e) {
    say(`Generation failed: ${e.message}`);
  } finally {
    ui.generate.disabled = !lm;
    ui.stop.disabled = true;
    document.body.dataset.state = 'idle';
  }
}

ui.generate.addEventListener('click', () => {
  document.body.dataset.state = 'generating';
  generate();
});
ui.stop.addEventListener('click', () => controller?.abort());
ui.select.addEventListener('change', () => loadModel(ui.select.value));

if (typeof WebAssembly !== 'object') {
  say('This browser has no WebAssembly, which the model needs to run.');
} else {
  const override = new URLSearchParams(location.search).get('model');
  if (override) {
    const option = new Option(override.split('/').pop(), override, true, true);
    ui.select.add(option);
  }
  loadModel(ui.select.value);
}
