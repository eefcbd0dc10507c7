// The demo page (web/) in Debian's chromium via playwright-core: it loads the demo model, streams at
// least 200 bytes of text from a prompt, Stop stops it, nothing is logged as an error; screenshots at
// desktop and phone sizes go to tests/output/ (not committed).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { serve } from '../scripts/serve.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--no-first-run', '--disable-sync', '--disable-quic'];
const skip = !existsSync(CHROMIUM) && !process.env.CI && `no chromium at ${CHROMIUM}`;
const model = process.env.DEMO_MODEL; // e.g. ../tests/fixtures/lm/gru-d24-l3-conv3.safetensors; default: the demo model
const output = new URL('./output/', import.meta.url);

let browser, server, url;

before(async () => {
  if (skip) return;
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  ({ server, url } = await serve({ isolation: true }));
  mkdirSync(output, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('the demo generates streaming text, Stop stops it, no console errors', { skip }, async () => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const problems = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${url}/web/${model ? `?model=${encodeURIComponent(model)}` : ''}`);
  await page.waitForSelector('#generate:not([disabled])', { timeout: 60000 });
  assert.match(await page.textContent('#backend'), /2 threads|\d+ threads?, SIMD/);
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
  assert.ok(new TextEncoder().encode(stopped).length >= 200);
  assert.equal(await page.isEnabled('#generate'), true, 'Generate is usable again');
  console.log(`generated after Stop: ${JSON.stringify(stopped.slice(0, 300))}`);
  await page.screenshot({ path: new URL('demo-desktop.png', output).pathname, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: new URL('demo-phone.png', output).pathname, fullPage: true });
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
