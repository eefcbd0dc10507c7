// The demo's "Teach it" panel: fine-tunes the loaded model on the user's text (lm.trainer(): the steps run in the
// engine's worker, so the page stays responsive) and says how well the model predicts a part of that text it never
// trained on, the last tenth, before and after. A small text is memorised within a few dozen steps (the loss on it
// falls towards 0 while the held-out part gets worse), so every few steps the held-out part is measured, the best
// weights seen are kept (saved), and the run stops once the held-out part has stopped improving. The model kept is
// then loaded again from those weights, in the dtype it came in (a Q8 model trains in F32: reloaded as Q8 it
// generates at Q8's speed again), and Download saves that file, whose metadata says it was fine-tuned here.
import { load } from '../js/index.js';
import { generator } from '../js/train.js'; // the windows a run draws, repeatable from its seed

const $ = (id) => document.getElementById(id);
const number = new Intl.NumberFormat('en').format;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const MIN_BYTES = 1000; // the held-out tenth is then 100 bytes at least, a few sentences
const HELD_OUT_MAX = 4096; // bytes: the held-out part of a long text, measured every CHECK_EVERY steps, stays quick
const CHECK_EVERY = 5; // steps between two measures of the held-out part
const PATIENCE = 3; // measures without a better one: the run stops
const BATCH = 8;
const SEQ_LEN = 64;
const TAUGHT = ', taught in the browser';

/**
 * The learning rate for `bytes` of training text. Measured on the Q8 demo model (batch 8 x 64): at 2e-3 a
 * 1,100-byte text is memorised from step 5 (held-out 2.87 -> 2.78 bits/byte, then up to 4.0 at step 40 while the
 * loss on the text falls to 0.2); at 2e-4 its held-out part falls to 2.54 at step 20. A 5,400-byte text gets
 * furthest at about 5e-4 (held-out 7.1 -> 2.44 at step 40). So: 2e-4 at 1 KB, growing with the square root of the
 * size, at most 1e-3.
 */
export const learningRate = (bytes) => Math.min(1e-3, Math.max(1e-4, 2e-4 * Math.sqrt(bytes / 1000)));

/** The text's last tenth (at most HELD_OUT_MAX bytes), cut at a character boundary, and the rest, as UTF-8 bytes. */
function split(text) {
  const all = encoder.encode(text);
  let cut = all.length - Math.min(HELD_OUT_MAX, Math.floor(all.length / 10));
  while (cut < all.length && (all[cut] & 0xc0) === 0x80) cut++; // a UTF-8 continuation byte: not a character's start
  return { train: all.subarray(0, cut), heldOut: all.subarray(cut) };
}

/** The metadata of a model fine-tuned from `config` on `bytes` bytes for `steps` steps: its name and training data. */
function taughtMetadata(config, bytes, steps) {
  const base = config.name ?? 'model';
  const earlier = config.trainingData ? `${config.trainingData}; then f` : 'F';
  return {
    name: base.endsWith(TAUGHT) ? base : `${base}${TAUGHT}`,
    trainingData: `${earlier}ine-tuned in the browser on ${number(bytes)} bytes of the user's text for ${steps} steps (${new Date().toISOString().slice(0, 10)})`,
  };
}

/**
 * setupTeach(model, busy, replace): model() is the loaded model or null; busy(true | false) while a run teaches it;
 * await replace(newModel, fileBytes, learned) makes newModel the page's model (and disposes the old one) after a run;
 * learned: whether it is a taught model (the page keeps it for the next visit) or the model as it came.
 */
export function setupTeach(model, busy, replace) {
  const ui = {
    text: $('teach-text'), file: $('teach-file'), seconds: $('teach-seconds'), start: $('teach-start'),
    stop: $('teach-stop'), download: $('teach-download'), chart: $('loss-chart'), status: $('teach-status'), note: $('teach-note'),
  };
  let controller = null;
  let losses = []; // bits per byte on the training windows, a step each
  let checks = []; // { step, bits }: the held-out part, every CHECK_EVERY steps (step 0: before)
  let kept = 0; // the step whose weights were kept
  let taught = null; // the file of the model the page runs after a run: what Download saves
  let runs = 0; // each run draws other windows

  const note = (text, kind = 'error') => {
    ui.note.hidden = !text;
    ui.note.textContent = text ?? '';
    ui.note.className = `message ${kind}`;
  };

  /** The curves: steps across, bits per byte up; the loss on the training windows, the held-out part's measures,
   * and the step whose weights are kept. Drawn in CSS pixels on a buffer of the canvas's size on screen. */
  function draw() {
    const scale = devicePixelRatio || 1;
    const [width, height] = [ui.chart.clientWidth, ui.chart.clientHeight];
    if (!width || !height) return; // not laid out (hidden)
    if (ui.chart.width !== Math.round(width * scale) || ui.chart.height !== Math.round(height * scale)) {
      ui.chart.width = Math.round(width * scale);
      ui.chart.height = Math.round(height * scale);
    }
    const c = ui.chart.getContext('2d'), pad = 24;
    c.setTransform(scale, 0, 0, scale, 0, 0);
    c.clearRect(0, 0, width, height);
    c.font = '12px system-ui';
    c.fillStyle = '#6b665c';
    if (!losses.length) return c.fillText('loss (bits per byte) will appear here', pad, height / 2);
    const all = [...losses, ...checks.map((p) => p.bits)];
    const top = Math.max(...all), bottom = Math.min(0, ...all), last = Math.max(1, losses.length);
    const x = (step) => pad + (step / last) * (width - 2 * pad);
    const y = (v) => height - pad - ((v - bottom) / (top - bottom || 1)) * (height - 2 * pad);
    const line = (points, color) => {
      c.strokeStyle = color;
      c.lineWidth = 2;
      c.beginPath();
      points.forEach(([s, v], i) => (i ? c.lineTo(x(s), y(v)) : c.moveTo(x(s), y(v))));
      c.stroke();
    };
    c.fillText(`${top.toFixed(2)} bits/byte`, pad, 14);
    c.textAlign = 'right';
    c.fillText(`step ${losses.length}`, width - pad, height - 6);
    c.textAlign = 'left';
    if (kept) {
      c.strokeStyle = '#c9c1b0';
      c.lineWidth = 1;
      c.setLineDash([4, 4]);
      c.beginPath();
      c.moveTo(x(kept), pad);
      c.lineTo(x(kept), height - pad);
      c.stroke();
      c.setLineDash([]);
    }
    line(losses.map((v, i) => [i + 1, v]), '#7a3e10');
    line(checks.map((p) => [p.step, p.bits]), '#1c4a7a');
    c.fillStyle = '#7a3e10';
    c.fillText('your text', pad, height - 6);
    c.fillStyle = '#1c4a7a';
    c.fillText('held-out tenth', pad + 64, height - 6);
  }

  async function teach() {
    const lm = model();
    const text = ui.text.value;
    const seconds = Number(ui.seconds.value);
    const size = encoder.encode(text).length;
    note(null);
    if (size < MIN_BYTES) {
      return note(`Give the model more text to learn from: ${number(MIN_BYTES)} bytes at least (a long paragraph; this is ` +
        `${number(size)}), so that its last tenth can be held out to measure what the model learned.`, 'info');
    }
    if (!(seconds > 0)) return note('Seconds must be a number above 0.', 'info');
    const { train, heldOut } = split(text);
    const heldOutText = decoder.decode(heldOut);
    // the windows are of the model's tokens (a byte-level model's are the bytes); the loss, in bits per token, is
    // shown per byte at the text's own rate of tokens per byte
    const tokens = lm.encode(decoder.decode(train)), perByte = tokens.length / train.length;
    if (tokens.length < SEQ_LEN + 2) {
      return note(`Give the model more text to learn from: its tokenizer makes ${number(tokens.length)} tokens of the ` +
        `part it trains on, and a window is ${SEQ_LEN + 1}.`, 'info');
    }
    const measure = async (m) => (await m.evaluate(heldOutText)).bitsPerByte;
    const dtype = lm.config.quantized ? 'q8' : 'f32'; // the model is kept in the dtype it came in
    const lr = learningRate(train.length);
    controller = new AbortController();
    busy(true);
    ui.start.disabled = true;
    ui.stop.disabled = false;
    ui.download.disabled = true;
    losses = [];
    checks = [];
    kept = 0;
    draw();
    let trainer = null;
    try {
      ui.status.textContent = 'measuring the model on the held-out tenth of your text…';
      const before = await measure(lm);
      checks.push({ step: 0, bits: before });
      let best = { step: 0, bits: before, file: await lm.save({ dtype }) }; // the model as it came: kept if nothing beats it
      trainer = lm.trainer({ lr, seed: runs });
      const random = generator(runs++);
      const batch = new Int32Array(BATCH * (SEQ_LEN + 1));
      const check = async (step) => {
        const bits = await measure(lm);
        checks.push({ step, bits });
        if (bits < best.bits) best = { step, bits, file: await lm.save({ dtype, ...taughtMetadata(lm.config, train.length, step) }) };
        return bits;
      };
      const started = performance.now();
      const elapsed = () => (performance.now() - started) / 1000;
      let step = 0;
      let memorising = false;
      while (elapsed() < seconds && !controller.signal.aborted) {
        for (let b = 0; b < BATCH; b++) {
          const at = Math.floor(random() * (tokens.length - SEQ_LEN));
          batch.set(tokens.subarray(at, at + SEQ_LEN + 1), b * (SEQ_LEN + 1));
        }
        const t0 = performance.now();
        const loss = (await trainer.step(batch, { batch: BATCH, seqLen: SEQ_LEN })) / Math.LN2 * perByte;
        const tokensPerSecond = (BATCH * SEQ_LEN) / ((performance.now() - t0) / 1000);
        losses.push(loss);
        step++;
        if (step % CHECK_EVERY === 0) {
          await check(step);
          if (step - best.step >= PATIENCE * CHECK_EVERY) {
            memorising = true;
            break;
          }
        }
        draw();
        const left = Math.max(0, seconds - elapsed());
        ui.status.textContent = `step ${step} · loss ${loss.toFixed(3)} bits/byte · held-out ${checks.at(-1).bits.toFixed(3)} ` +
          `(best ${best.bits.toFixed(3)} at step ${best.step}) · ${number(Math.round(tokensPerSecond))} tokens/s · ${Math.ceil(left)} s left`;
      }
      if (step > 0 && step % CHECK_EVERY !== 0) await check(step); // time or Stop ended the run between two measures
      trainer.dispose();
      trainer = null;

      ui.status.textContent = `loading the weights of step ${best.step}…`;
      const next = await load(best.file);
      await replace(next, best.file, best.step > 0);
      taught = best.step ? best.file : null;
      kept = best.step;
      draw();
      const after = await measure(next);
      const ended = memorising ? `Stopped at step ${step}: the model began to memorise your text; `
        : controller.signal.aborted ? `Stopped at step ${step}; ` : `${number(step)} steps in ${seconds} s; `;
      const outcome = best.step === 0
        ? 'the model predicted the held-out part no better than before, so it was kept as it was.'
        : `kept the weights of step ${best.step}, which predicted the held-out part best. Generate now writes in its new style.`;
      ui.status.textContent = `On the held-out tenth of your text (${number(heldOut.length)} bytes it did not train on): ` +
        `${before.toFixed(3)} bits/byte before, ${after.toFixed(3)} after. ${ended}${outcome}`;
      ui.download.disabled = !taught;
    } catch (e) {
      note(`Teaching failed: ${e.message}`);
    } finally {
      trainer?.dispose();
      controller = null;
      ui.start.disabled = !model();
      ui.stop.disabled = true;
      busy(false);
    }
  }

  function download() {
    const link = Object.assign(document.createElement('a'), {
      href: URL.createObjectURL(new Blob([taught], { type: 'application/octet-stream' })), download: 'mingru-taught.safetensors',
    });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  async function readFile(file) {
    if (!file) return;
    ui.text.value = await file.text();
    note(null);
  }

  ui.start.addEventListener('click', teach);
  ui.stop.addEventListener('click', () => controller?.abort());
  ui.download.addEventListener('click', download);
  ui.file.addEventListener('change', () => readFile(ui.file.files[0]));
  ui.text.addEventListener('dragover', (e) => (e.preventDefault(), ui.text.classList.add('dropping')));
  ui.text.addEventListener('dragleave', () => ui.text.classList.remove('dropping'));
  ui.text.addEventListener('drop', (e) => {
    e.preventDefault();
    ui.text.classList.remove('dropping');
    readFile(e.dataTransfer.files[0]);
  });
  new ResizeObserver(draw).observe(ui.chart); // the buffer follows the canvas's size on screen
  return {
    /** a model was loaded (or failed to): Teach is possible when there is one; a new model has nothing to download */
    loaded(ok) {
      ui.start.disabled = !ok;
      ui.download.disabled = true;
      taught = null;
      losses = [];
      checks = [];
      kept = 0;
      ui.status.textContent = '';
      draw();
    },
    /** whether a teaching run is on (Generate waits for it) */
    get running() {
      return controller !== null;
    },
  };
}
