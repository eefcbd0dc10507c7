// The demo's "Teach it" panel: fine-tunes the loaded model on the user's text for N seconds (lm.train, in the engine's
// worker, so the page stays responsive), draws the loss as it falls, says how many bits per byte the model needs for
// that text before and after, and saves the taught model as a .safetensors download. Stop keeps what was learned.
const $ = (id) => document.getElementById(id);
const number = new Intl.NumberFormat('en').format;

/** setupTeach(model, busy): model() is the loaded model or null; busy(true | false) while a run teaches it. */
export function setupTeach(model, busy) {
  const ui = {
    text: $('teach-text'), file: $('teach-file'), seconds: $('teach-seconds'), start: $('teach-start'),
    stop: $('teach-stop'), download: $('teach-download'), chart: $('loss-chart'), status: $('teach-status'), note: $('teach-note'),
  };
  let controller = null;
  let losses = []; // bits per byte, a step each
  let runs = 0; // each run draws other windows

  const note = (text, kind = 'error') => {
    ui.note.hidden = !text;
    ui.note.textContent = text ?? '';
    ui.note.className = `message ${kind}`;
  };

  /** The loss curve: steps across, bits per byte up, scaled to what has been seen. */
  function draw() {
    const c = ui.chart.getContext('2d'), { width, height } = ui.chart, pad = 24;
    c.clearRect(0, 0, width, height);
    c.font = '12px system-ui';
    c.fillStyle = '#6b665c';
    if (!losses.length) return c.fillText('loss (bits per byte) will appear here', pad, height / 2);
    const top = Math.max(...losses), bottom = Math.min(0, ...losses);
    const x = (i) => pad + (i / Math.max(1, losses.length - 1)) * (width - 2 * pad);
    const y = (v) => height - pad - ((v - bottom) / (top - bottom || 1)) * (height - 2 * pad);
    c.fillText(`${top.toFixed(2)} bits/byte`, pad, 14);
    c.fillText(`step ${losses.length}`, width - pad - 60, height - 6);
    c.strokeStyle = '#7a3e10';
    c.lineWidth = 2;
    c.beginPath();
    losses.forEach((v, i) => (i ? c.lineTo(x(i), y(v)) : c.moveTo(x(i), y(v))));
    c.stroke();
  }

  async function teach() {
    const lm = model();
    const text = ui.text.value;
    const seconds = Number(ui.seconds.value);
    note(null);
    if (new TextEncoder().encode(text).length < 65) return note('Give the model more text to learn from: a few sentences at least.', 'info');
    if (!(seconds > 0)) return note('Seconds must be a number above 0.', 'info');
    controller = new AbortController();
    busy(true);
    ui.start.disabled = true;
    ui.stop.disabled = false;
    ui.download.disabled = true;
    losses = [];
    draw();
    try {
      ui.status.textContent = 'measuring the model on your text…';
      const before = (await lm.evaluate(text)).bitsPerByte;
      const started = performance.now();
      const seqLen = Math.min(64, new TextEncoder().encode(text).length - 1);
      for await (const p of lm.train(text, { seconds, batchSize: 8, seqLen, lr: 2e-3, warmup: 5, seed: runs++, signal: controller.signal })) {
        losses.push(p.loss / Math.LN2);
        draw();
        const left = Math.max(0, seconds - (performance.now() - started) / 1000);
        ui.status.textContent = `step ${p.step} · loss ${(p.loss / Math.LN2).toFixed(3)} bits/byte · ${number(Math.round(p.tokensPerSecond))} tokens/s · ${Math.ceil(left)} s left`;
      }
      const after = (await lm.evaluate(text)).bitsPerByte;
      ui.status.textContent = `${losses.length} steps. On your text: ${before.toFixed(3)} bits/byte before, ${after.toFixed(3)} after. ` +
        'Generate now writes in its new style.';
      ui.download.disabled = losses.length === 0;
    } catch (e) {
      note(`Teaching failed: ${e.message}`);
    } finally {
      controller = null;
      ui.start.disabled = !model();
      ui.stop.disabled = true;
      busy(false);
    }
  }

  async function download() {
    const lm = model();
    const file = await lm.save({ dtype: lm.config.quantized ? 'q8' : 'f32', name: `${lm.config.name ?? 'model'}, taught in the browser` });
    const link = Object.assign(document.createElement('a'), {
      href: URL.createObjectURL(new Blob([file], { type: 'application/octet-stream' })), download: 'mingru-taught.safetensors',
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
  ui.download.addEventListener('click', () => download().catch((e) => note(`Could not save the model: ${e.message}`)));
  ui.file.addEventListener('change', () => readFile(ui.file.files[0]));
  ui.text.addEventListener('dragover', (e) => (e.preventDefault(), ui.text.classList.add('dropping')));
  ui.text.addEventListener('dragleave', () => ui.text.classList.remove('dropping'));
  ui.text.addEventListener('drop', (e) => {
    e.preventDefault();
    ui.text.classList.remove('dropping');
    readFile(e.dataTransfer.files[0]);
  });
  draw();
  return {
    /** a model was loaded (or failed to): Teach is possible when there is one; a new model has nothing to download */
    loaded(ok) {
      ui.start.disabled = !ok;
      ui.download.disabled = true;
      losses = [];
      ui.status.textContent = '';
      draw();
    },
    /** whether a teaching run is on (Generate waits for it) */
    get running() {
      return controller !== null;
    },
  };
}
