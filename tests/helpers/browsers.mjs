// One small interface over three browser engines, for tests that run the same page in each:
//   chromium  Debian's chromium through playwright-core (tests/helpers/chromium.mjs)
//   firefox   Debian's firefox-esr through WebDriver BiDi (puppeteer-core), headless
//   webkit    WebKitGTK's MiniBrowser through WebKitWebDriver (selenium-webdriver), on an Xvfb display of its own
//             (Xvfb -displayfd picks a free display), so `node --test` needs no xvfb-run around it
// const b = await openBrowser('firefox'); await b.goto(url); await b.evaluate(async (x) => ..., x); await b.close();
// evaluate() takes a function (its arguments and result JSON-able; a promise it returns is awaited) or an expression.
// resize(width, height) sets the page's viewport (WebKit: the window, whose inner size is the viewport there);
// screenshot(path) writes a PNG of the page. errors() returns the page's errors so far: uncaught exceptions, unhandled
// rejections and console.error calls (Chromium and Firefox: the browser reports them, from the start of each page;
// WebKit, whose WebDriver has no log: a hook set as each goto() returns, so errors before the load event are missed).
// Each call has a time limit; close() ends every process the browser started, and so does the exit of Node.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { CHROMIUM, launch as launchChromium, skipBrowser } from './chromium.mjs';

const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr';
const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER ?? '/usr/bin/WebKitWebDriver';
const MINIBROWSER = process.env.MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const XVFB = '/usr/bin/Xvfb';
const LAUNCH_MS = 60000; // starting a browser (a loaded 2-core machine takes seconds)

// [engine]: the files it needs, with the Debian package that brings each
const NEEDS = {
  chromium: [[CHROMIUM, 'chromium']],
  firefox: [[FIREFOX, 'firefox-esr']],
  webkit: [[WEBKIT_DRIVER, 'webkit2gtk-driver'], [MINIBROWSER, 'webkit2gtk-driver'], [XVFB, 'xvfb']],
};

/** What each engine has, as tested (README, Browser support): relaxed SIMD, SharedArrayBuffer on a cross-origin
 * isolated page (WebKitGTK 2.50 has neither; there the threads and the lane fall back), and a Cache API whose
 * contents outlast a page load (WebKitGTK's MiniBrowser under WebDriver keeps nothing across loads: after the first
 * page, cache.put() leaves cache.keys() empty; within a page it works, tests/js/load-options.test.mjs). */
export const HAS = {
  chromium: { relaxed: true, sab: true, cacheAcrossLoads: true },
  firefox: { relaxed: true, sab: true, cacheAcrossLoads: true },
  webkit: { relaxed: false, sab: false, cacheAcrossLoads: false },
};

/** The backend.fallbacks `engine` gives on an isolated or plain page: a model's (with the lane), or a layer's
 * (lane: false); relaxed: false when the load asked for the plain build (no fallback then). */
export function expectedFallbacks(engine, isolated, { lane = true, relaxed = true } = {}) {
  const why = !isolated ? 'the page is not cross-origin isolated (serve it with COOP/COEP: README, Hosting)'
    : !HAS[engine].sab ? 'SharedArrayBuffer is not defined' : null;
  return [
    ...(why ? [`threads: ${why}; one thread runs`] : []),
    ...(relaxed && !HAS[engine].relaxed ? ['relaxed SIMD: this engine has none; the plain SIMD build runs'] : []),
    ...(why && lane ? [`lane: ${why}; step() calls go by postMessage`] : []),
  ];
}

/** false, or why `engine` cannot run here (for node:test's `skip`). Under CI npm test's set-up has installed every
 * engine, so a missing one is not skipped: its test fails. */
export function available(engine) {
  if (!NEEDS[engine]) throw new Error(`unknown engine ${engine}: ${Object.keys(NEEDS).join(', ')}`);
  if (engine === 'chromium') return skipBrowser;
  const missing = NEEDS[engine].filter(([file]) => !existsSync(file));
  return missing.length > 0 && !process.env.CI && `no ${engine}: ${missing.map(([f, pkg]) => `${f} (Debian ${pkg})`).join(', ')}`;
}

/** Rejects after `ms` with a message naming `what`. */
function limit(promise, ms, what) {
  let timer;
  const late = new Promise((_, fail) => { timer = setTimeout(() => fail(new Error(`${what}: no answer in ${ms / 1000} s`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// Children still running when Node exits (a test that threw before close()) are killed then.
const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });
function start(cmd, args, options) {
  const child = spawn(cmd, args, options);
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((ok) => child.once('exit', ok));
  child.kill('SIGTERM');
  await limit(exited, 5000, 'stop').catch(() => child.kill('SIGKILL'));
}

const freePort = () => new Promise((ok, fail) => {
  const s = createServer().once('error', fail);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
});

/** Xvfb on a display it chooses (-displayfd writes the number when it is ready). */
async function startXvfb() {
  const x = start(XVFB, ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let err = '';
  x.stderr.on('data', (d) => (err += d));
  const display = await limit(new Promise((ok, fail) => {
    let s = '';
    x.stdio[3].on('data', (d) => { s += d; if (s.includes('\n')) ok(`:${s.trim()}`); });
    x.once('exit', (code) => fail(new Error(`Xvfb exited (${code}): ${err.trim().split('\n').slice(-3).join(' / ')}`)));
  }), 20000, 'Xvfb').catch(async (e) => { await stop(x); throw e; });
  return { x, display };
}

/** WebKit's error hook (see the head of this file). */
const HOOK = `if (!window.__mingruErrors) {
  const errors = window.__mingruErrors = [];
  addEventListener('error', (e) => errors.push(e.message));
  addEventListener('unhandledrejection', (e) => errors.push(String(e.reason && e.reason.message || e.reason)));
  const error = console.error;
  console.error = (...args) => { errors.push(args.map(String).join(' ')); error.apply(console, args); };
}`;

/** `fn` (a function or an expression) as the source of a function. */
const source = (fn) => (typeof fn === 'function' ? fn.toString() : `() => (${fn})`);
/** An expression that calls `fn` with `args` (JSON-able): for playwright, whose evaluate takes one argument. */
const call = (fn, args) => `(${source(fn)})(...${JSON.stringify(args)})`;

/** The console errors and uncaught exceptions of a playwright or puppeteer page (the same events in both), as they come. */
function pageErrors(page) {
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

async function openChromium(timeout) {
  const browser = await limit(launchChromium(), LAUNCH_MS, 'chromium launch');
  const page = await browser.newPage().catch(async (e) => { await browser.close(); throw e; });
  page.setDefaultTimeout(timeout);
  const errors = pageErrors(page);
  return {
    version: `chromium ${browser.version()}`,
    goto: (url) => page.goto(url),
    errors: () => errors.slice(),
    evaluate: (fn, ...args) => page.evaluate(call(fn, args)),
    resize: (width, height) => page.setViewportSize({ width, height }),
    screenshot: (path) => page.screenshot({ path, fullPage: true }),
    close: () => limit(browser.close(), 10000, 'chromium close'),
  };
}

async function openFirefox(timeout) {
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await limit(puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true, protocolTimeout: timeout }),
    LAUNCH_MS, 'firefox launch');
  const proc = browser.process();
  if (proc) children.add(proc);
  const page = await browser.newPage().catch(async (e) => { await browser.close(); throw e; });
  page.setDefaultTimeout(timeout);
  const errors = pageErrors(page);
  return {
    version: `firefox ${(await browser.version()).replace(/^firefox\//, '')}`,
    goto: (url) => page.goto(url),
    errors: () => errors.slice(),
    // puppeteer sends a function's source; a string it would not evaluate as an expression
    evaluate: (fn, ...args) => page.evaluate(typeof fn === 'function' ? fn : new Function(`return (${fn});`), ...args),
    resize: (width, height) => page.setViewport({ width, height }),
    screenshot: (path) => page.screenshot({ path, fullPage: true }),
    close: async () => {
      await limit(browser.close(), 10000, 'firefox close').catch(() => {});
      await stop(proc);
      children.delete(proc);
    },
  };
}

async function openWebkit(timeout) {
  const { Builder } = await import('selenium-webdriver');
  const { x, display } = await startXvfb();
  let driver, wd;
  try {
    const port = await freePort();
    driver = start(WEBKIT_DRIVER, [`--port=${port}`], { env: { ...process.env, DISPLAY: display }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    driver.stderr.on('data', (d) => (err += d));
    const server = `http://127.0.0.1:${port}`;
    await limit((async () => {
      for (;;) {
        if (driver.exitCode !== null) throw new Error(`WebKitWebDriver exited (${driver.exitCode}): ${err.trim()}`);
        if (await fetch(`${server}/status`).then((r) => r.ok, () => false)) return;
        await new Promise((ok) => setTimeout(ok, 100));
      }
    })(), 20000, 'WebKitWebDriver');
    wd = await limit(new Builder().usingServer(server).withCapabilities({
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
    }).build(), LAUNCH_MS, 'webkit session');
    await wd.manage().setTimeouts({ script: timeout, pageLoad: timeout });
    const caps = await wd.getCapabilities();
    const errors = []; // of the pages before this one
    const taken = async () => (await wd.executeScript('return window.__mingruErrors || []').catch(() => []));
    return {
      version: `webkitgtk ${caps.get('browserVersion')}`,
      goto: async (url) => {
        errors.push(...await taken());
        await wd.get(url);
        await wd.executeScript(HOOK);
      },
      errors: async () => [...errors, ...await taken()],
      // WebDriver's async script: the last argument is the callback; an error comes back as { error }
      evaluate: async (fn, ...args) => {
        const r = await wd.executeAsyncScript(`const done = arguments[arguments.length - 1];
          Promise.resolve().then(() => (${source(fn)})(...Array.prototype.slice.call(arguments, 0, -1)))
            .then((value) => done({ value }), (e) => done({ error: String(e && e.stack ? e.message + '\\n' + e.stack : e) }));`, ...args);
        if ('error' in r) throw new Error(`webkit page: ${r.error}`);
        return r.value;
      },
      resize: async (width, height) => {
        // the window's outer size: grow it by what its frame takes until the page's inner size is the one asked for
        await wd.manage().window().setRect({ width, height });
        const inner = await wd.executeScript('return [innerWidth, innerHeight]');
        await wd.manage().window().setRect({ width: 2 * width - inner[0], height: 2 * height - inner[1] });
      },
      screenshot: async (path) => writeFileSync(path, Buffer.from(await wd.takeScreenshot(), 'base64')),
      close: async () => {
        await limit(wd.quit(), 10000, 'webkit quit').catch(() => {});
        await stop(driver);
        await stop(x);
      },
    };
  } catch (e) {
    if (wd) await limit(wd.quit(), 10000, 'webkit quit').catch(() => {});
    await stop(driver);
    await stop(x);
    throw e;
  }
}

/** A browser of `engine` ('chromium', 'firefox' or 'webkit') with one page; each call is limited to `timeout` ms. */
export async function openBrowser(engine, { timeout = 180000 } = {}) {
  const open = { chromium: openChromium, firefox: openFirefox, webkit: openWebkit }[engine];
  if (!open) throw new Error(`unknown engine ${engine}: chromium, firefox or webkit`);
  const b = await open(timeout);
  return {
    engine,
    version: b.version,
    goto: (url) => limit(b.goto(url), timeout, `${engine} goto ${url}`),
    evaluate: (fn, ...args) => limit(b.evaluate(fn, ...args), timeout, `${engine} evaluate`),
    resize: (width, height) => limit(b.resize(width, height), timeout, `${engine} resize`),
    screenshot: (path) => limit(b.screenshot(path), timeout, `${engine} screenshot`),
    errors: () => limit(Promise.resolve(b.errors()), timeout, `${engine} errors`),
    close: b.close,
  };
}
