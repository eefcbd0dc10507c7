// The demo (web/) in Chromium, Firefox and WebKit (tests/helpers/browsers.mjs), served as `npm start` serves it: the
// same layout landmarks at desktop and phone sizes, generate gives Node's text for the page's settings (one int8
// arithmetic in every build: the same seeded Q8 text in every engine), Stop ends a run, the Type panel's suggestions
// are Node's and Tab takes one, and Teach it reports the held-out part before and after and keeps the model in Q8.
// Screenshots go to tests/output/ (not committed).
// tests/js/demo.test.mjs tests the demo in depth in Chromium; this file checks that each engine gets the same.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { load } from '../../js/index.js';
import { serve } from '../../scripts/serve.mjs';
import { available, openBrowser } from '../helpers/browsers.mjs';

const output = new URL('../output/', import.meta.url);
const SIZES = { desktop: [1100, 900], phone: [390, 844] };
const PROMPT = 'And God said unto Moses,'; // the page's own
const TEACH_TEXT = readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8').slice(0, 3000); // not the Bible

/** Node's text for the page's Generate with `maxTokens` (the page's sampling settings: web/index.html). */
async function nodeText(maxTokens) {
  const lm = await load(fileURLToPath(new URL('../../models/kjv.q8.safetensors', import.meta.url)), { threads: 1 });
  let text = '';
  for await (const piece of lm.generate(PROMPT, { maxTokens, temperature: 0.8, topK: 40, topP: 0.95, seed: 1 })) text += piece;
  lm.dispose();
  return text;
}

/** In the page: waits until `check` (source of a function) is true, polling. */
async function until(check, ms) {
  const ok = new Function(`return (${check})();`);
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (ok()) return true;
  return false;
}

/** In the page: where the landmarks lie, and the checks of a layout that fits. */
function landmarks() {
  const box = (sel) => {
    const r = document.querySelector(sel).getBoundingClientRect();
    return { left: r.left, top: r.top + scrollY, width: r.width, height: r.height };
  };
  const chart = document.getElementById('loss-chart');
  const seconds = document.querySelector('label[for="teach-seconds"]').getBoundingClientRect();
  const input = document.getElementById('teach-seconds').getBoundingClientRect();
  return {
    innerWidth, scrollWidth: document.documentElement.scrollWidth,
    order: ['header h1', '#model', '#prompt-box', '#output-box', '#teach'].map((sel) => box(sel).top),
    boxes: Object.fromEntries(['#model', '#prompt-box', '#output-box', '#teach', '#loss-chart'].map((sel) => [sel, box(sel)])),
    chartBuffer: chart.width, chartCss: Math.round(chart.clientWidth * devicePixelRatio),
    secondsOneLine: Math.abs((seconds.top + seconds.bottom) / 2 - (input.top + input.bottom) / 2) < input.height / 2,
    hintTop: box('a[href="#teach"]').top,
  };
}

for (const engine of ['chromium', 'firefox', 'webkit']) {
  describe(engine, { skip: available(engine) }, () => {
    let browser, server, url;
    const seen = {};

    before(async () => {
      mkdirSync(output, { recursive: true });
      ({ server, url } = await serve({ isolation: true }));
      browser = await openBrowser(engine);
      await browser.goto(`${url}/web/`);
      assert.ok(await browser.evaluate(until, "() => !document.getElementById('generate').disabled", 120000), 'the model loads');
    });

    after(async () => {
      await browser?.close();
      server?.close();
    });

    test('the layout at desktop and phone sizes: landmarks in order, nothing wider than the screen', async () => {
      for (const [name, [width, height]] of Object.entries(SIZES)) {
        let l;
        if (name === 'desktop') {
          await browser.resize(width, height);
          await browser.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
          l = await browser.evaluate(landmarks);
        } else {
          // a phone's viewport: the demo in a frame of that size (a window cannot be made that narrow in every engine:
          // WebKitGTK's MiniBrowser stops at 447 px)
          await browser.goto(`${url}/tests/browser/blank.html`);
          l = await browser.evaluate(async (w, h, src, check) => {
            const frame = Object.assign(document.createElement('iframe'), { src: '/web/', width: w, height: h });
            frame.style.border = '0';
            document.body.append(frame);
            await new Promise((r) => frame.addEventListener('load', r, { once: true }));
            const ready = new Function(`return (${check})();`);
            for (let i = 0; i < 1200 && !frame.contentWindow.eval(`(${ready})()`); i++) await new Promise((r) => setTimeout(r, 100));
            return frame.contentWindow.eval(`(${src})()`);
          }, width, height, landmarks.toString(), "() => !document.getElementById('generate').disabled");
        }
        seen[name] = l;
        await browser.screenshot(fileURLToPath(new URL(`demo-${engine}-${name}.png`, output)));
        assert.equal(l.innerWidth, width, `${name}: the viewport`);
        assert.ok(l.scrollWidth <= width, `${name}: the page is ${l.scrollWidth} px wide in ${width}`);
        assert.deepEqual([...l.order].sort((a, b) => a - b), l.order, `${name}: header, model, prompt, output, Teach it from the top down`);
        for (const [sel, b] of Object.entries(l.boxes)) assert.ok(b.left >= 0 && b.left + b.width <= width + 0.5, `${name}: ${sel} within the screen`);
        assert.equal(l.chartBuffer, l.chartCss, `${name}: the chart's buffer follows its size on screen`);
        assert.ok(l.secondsOneLine, `${name}: the Seconds label beside its input`);
        assert.ok(l.hintTop < 200, `${name}: the hint to Teach it near the top`);
      }
      // the same proportions as in the other engines: each section spans the page's column at both sizes
      for (const name of Object.keys(SIZES)) {
        const { boxes, innerWidth: w } = seen[name];
        assert.ok(boxes['#prompt-box'].width > (name === 'phone' ? 0.9 : 0.5) * Math.min(w, 736), `${name}: the prompt spans the column`);
      }
      await browser.goto(`${url}/web/`); // the demo again, for the tests below
      assert.ok(await browser.evaluate(until, "() => !document.getElementById('generate').disabled", 120000), 'the model loads');
    });

    test("Generate writes Node's text for the page's settings (the same seeded Q8 text in every engine); Stop ends a run", async () => {
      await browser.evaluate(() => {
        document.getElementById('max-tokens').value = '60';
        document.getElementById('generate').click();
      });
      assert.ok(await browser.evaluate(until, "() => document.getElementById('stop').disabled && /tokens\\/s/.test(document.getElementById('speed').textContent)", 120000));
      const text = await browser.evaluate(() => document.getElementById('output-text').textContent);
      assert.equal(text, await nodeText(60));
      const stopped = await browser.evaluate(async () => {
        document.getElementById('max-tokens').value = '100000';
        document.getElementById('generate').click();
        await new Promise((r) => setTimeout(r, 1500));
        document.getElementById('stop').click();
        const t0 = performance.now();
        while (!document.getElementById('stop').disabled) await new Promise((r) => setTimeout(r, 50));
        return { ms: performance.now() - t0, bytes: new TextEncoder().encode(document.getElementById('output-text').textContent).length };
      });
      assert.ok(stopped.bytes > 0 && stopped.bytes < 100000, JSON.stringify(stopped));
      assert.ok(stopped.ms < 5000, `Stop took ${stopped.ms} ms`);
    });

    test("Type: the suggestions of a typed text are Node's, the ghost shows the best, Tab takes it", async () => {
      const shown = await browser.evaluate(async () => {
        const field = document.getElementById('type-text');
        field.focus();
        const next = new Promise((resolve) => field.addEventListener('mingru-suggestions', function on(e) {
          if (!e.detail.length || field.value !== 'And the LO') return;
          field.removeEventListener('mingru-suggestions', on);
          resolve(e.detail.map((s) => s.text));
        }));
        field.value = 'And the LO';
        field.setSelectionRange(10, 10);
        field.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertText', data: 'O' }));
        const list = await next;
        const ghost = document.querySelector('.mingru-ghost-layer');
        const shownGhost = ghost.hidden ? '' : ghost.querySelector('.mingru-ghost').textContent;
        field.dispatchEvent(new KeyboardEvent('keydown', { key: 'Tab', bubbles: true, cancelable: true }));
        return { list, ghost: shownGhost, value: field.value };
      });
      const lm = await load(fileURLToPath(new URL('../../models/kjv.q8.safetensors', import.meta.url)));
      const p = lm.predictor({ count: 3, until: 'word' });
      await p.set('And the LO');
      const want = (await p.suggestions()).map((s) => s.text);
      lm.dispose();
      assert.deepEqual(shown.list, want);
      assert.equal(shown.ghost, want[0]);
      assert.equal(shown.value, `And the LO${want[0]}`);
    });

    test('Teach it: the held-out part before and after, the model kept in Q8', async () => {
      const status = await browser.evaluate(async (text) => {
        document.getElementById('teach-text').value = text;
        document.getElementById('teach-seconds').value = '6';
        document.getElementById('teach-start').click();
        const t0 = performance.now();
        while (!/before, .* after/.test(document.getElementById('teach-status').textContent)) {
          if (performance.now() - t0 > 120000) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        return { status: document.getElementById('teach-status').textContent, info: document.getElementById('model-info').textContent,
          note: document.getElementById('teach-note').textContent };
      }, TEACH_TEXT);
      const m = /held-out tenth of your text \(([\d,]+) bytes it did not train on\): (\d+\.\d+) bits\/byte before, (\d+\.\d+) after/.exec(status.status);
      assert.ok(m, JSON.stringify(status));
      assert.ok(Number(m[3]) < Number(m[2]), `held out: ${m[2]} before, ${m[3]} after`);
      assert.match(status.info, /int8, .*taught in the browser/);
    });

    test('no console errors in all of the above', async () => {
      assert.deepEqual(await browser.errors(), []);
    });
  });
}
