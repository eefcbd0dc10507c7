// The package from the outside, as `npm install mingru-wasm` gives it: `npm pack` (of the build `npm test` has just
// made: --ignore-scripts skips prepack's rebuild), then
//   - the tarball holds what should ship and nothing else (no models, tests, sources);
//   - a fresh Node project installs it (offline: it has no dependencies) and runs the README's Node example
//     and `mingru` commands on the demo model, and converts a PyTorch checkpoint with the shipped
//     tools/convert.py as the README says;
//   - a fresh Vite 8.3.8 project (default config) installs it, bundles the README's page example with
//     `vite build`, and the built files alone are served on 127.0.0.1 and run in Chromium, Firefox and WebKit:
//     with COOP/COEP on the threaded build (where the engine has SharedArrayBuffer), without on the single-thread
//     one; the text must be the engine's for that seed, a reload must take the model from the Cache API, nothing
//     may be logged as an error; then Vite's dev server with the README's vite.config.js (COOP/COEP) runs it
//     threaded in Chromium.
// npm's downloads are cached in node_modules/.cache/mingru-npm, so only the first run needs the registry.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readmeExample, shellCommands } from '../helpers/readme-examples.mjs';
import { expectedText } from '../helpers/expected-text.mjs';
import { sendFile, serve } from '../../scripts/serve.mjs';
import { launch, skipBrowser } from '../helpers/chromium.mjs';
import { buildOf } from '../helpers/backend.mjs';
import { available, expectedFallbacks, HAS, openBrowser } from '../helpers/browsers.mjs';

const PYTHON = '/usr/bin/python3'; // the README's, which has Debian's torch
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;
const skipTorch = !hasTorch && !process.env.CI && `no torch and numpy for ${PYTHON}`;
const root = fileURLToPath(new URL('../..', import.meta.url));
const MODEL = join(root, 'models', 'kjv.q8.safetensors');
const TINY = join(root, 'tests', 'fixtures', 'lm', 'tiny-gru-d4-l2-conv2.safetensors');
const VITE = 'vite@8.3.8';

// npm without the settings of the npm that may be running these tests (npm test exports npm_config_* and
// npm_package_*, which would point a child npm at this repository), with its cache in node_modules/.cache
const env = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))),
  npm_config_cache: join(root, 'node_modules', '.cache', 'mingru-npm'),
  npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false',
};

function run(command, args, cwd, { timeout = 180000, extraEnv = {} } = {}) {
  const r = spawnSync(command, args, { cwd, env: { ...env, ...extraEnv }, encoding: 'utf8', timeout });
  assert.equal(r.status, 0, `${command} ${args.join(' ')} (in ${cwd}) failed: ${r.error ?? ''}\n${r.stdout}\n${r.stderr}`);
  return r;
}

const timed = (what, fn) => {
  const t0 = performance.now();
  const result = fn();
  console.log(`${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return result;
};

/** A fresh project as `npm init -y` makes it, an ES module one. */
function project(name) {
  const dir = join(work, name);
  mkdirSync(dir);
  run('npm', ['init', '-y'], dir);
  run('npm', ['pkg', 'set', 'type=module'], dir);
  return dir;
}

let work, tarball, packed, viteApp;

before(() => {
  for (const f of ['mingru.js', 'mingru.wasm', 'mingru-threads.js', 'mingru-threads.worker.js', 'mingru-threads.wasm', 'node/mingru-threads.js']) {
    assert.ok(existsSync(join(root, 'dist', f)), `dist/${f} is missing: run npm run build first`);
  }
  work = mkdtempSync(join(tmpdir(), 'mingru-package-'));
  const r = timed('npm pack', () => run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], root));
  [packed] = JSON.parse(r.stdout);
  tarball = join(work, packed.filename);
  assert.ok(existsSync(tarball));
});

after(() => rmSync(work, { recursive: true, force: true }));

test('the tarball ships the package and nothing else', () => {
  const files = packed.files.map((f) => f.path).sort();
  for (const f of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'docs/format.md', 'bin/mingru.mjs', 'tools/convert.py',
    'js/index.js', 'js/index.d.ts', 'js/worker.js', 'js/client.js', 'js/runtime.js', 'js/model.js', 'js/source.js',
    'dist/mingru.js', 'dist/mingru.wasm', 'dist/mingru-threads.js', 'dist/mingru-threads.worker.js', 'dist/mingru-threads.wasm',
    'dist/node/mingru-threads.js', 'dist/node/mingru-threads.wasm', 'dist/node/package.json']) {
    assert.ok(files.includes(f), `${f} is not in the tarball`);
  }
  const allowed = /^(package\.json|README\.md|LICENSE|CHANGELOG\.md|docs\/format\.md|bin\/mingru\.mjs|tools\/convert\.py|js\/[a-z]+\.(js|d\.ts)|dist\/(node\/)?[a-z.-]+\.(js|wasm|json))$/;
  assert.deepEqual(files.filter((f) => !allowed.test(f)), [], 'files that should not ship');
  assert.ok(packed.size < 1e6, `the tarball is ${packed.size} bytes`);
  assert.equal(packed.filename, `mingru-wasm-${packed.version}.tgz`);
  // the README's figures are npm pack's, to 5%
  const [, unpacked, download] = /about (\d+) KB unpacked, a (\d+) KB download/.exec(readFileSync(join(root, 'README.md'), 'utf8'));
  assert.ok(Math.abs(unpacked * 1000 / packed.unpackedSize - 1) < 0.05, `README: ${unpacked} KB unpacked; npm pack: ${packed.unpackedSize} bytes`);
  assert.ok(Math.abs(download * 1000 / packed.size - 1) < 0.05, `README: a ${download} KB download; npm pack: ${packed.size} bytes`);
});

test('the README install commands work as written, offline: from a clone, and from the tarball npm pack makes without rebuilding', () => {
  // this repository's HEAD (commit first), cloned where the README puts it: beside the user's project, as ../mingru
  const clone = join(work, 'mingru');
  run('git', ['clone', '-q', root, clone], work);
  const app = project('install-app');
  const offline = { extraEnv: { npm_config_offline: 'true' } };
  const check = 'import { load } from "mingru-wasm"; const lm = await load(process.argv[2]); console.log(lm.config.dim); lm.dispose();';
  writeFileSync(join(app, 'check.mjs'), check);
  const commands = shellCommands(readmeExample('install'));
  assert.deepEqual(commands.map((c) => c.slice(0, 2)), [['npm', 'install'], ['npm', 'pack'], ['npm', 'install']]);
  const [link, pack, install] = commands;
  run(link[0], link.slice(1), app, offline);
  assert.equal(run(process.execPath, ['check.mjs', TINY], app).stdout, '4\n');
  const packing = timed('npm pack ../mingru', () => run(pack[0], pack.slice(1), app, offline));
  assert.doesNotMatch(packing.stdout + packing.stderr, /emcmake|cmake --build/, 'npm pack rebuilt dist/');
  assert.match(packing.stdout + packing.stderr, /nothing to build/);
  run(install[0], install.slice(1), app, offline);
  assert.ok(!lstatSync(join(app, 'node_modules', 'mingru-wasm')).isSymbolicLink(), 'installed from the tarball, not linked');
  assert.equal(run(process.execPath, ['check.mjs', TINY], app).stdout, '4\n');
});

test('a fresh Node project installs the tarball offline and runs the README example and commands', async () => {
  const dir = project('node-app');
  timed('npm install (Node project, offline)', () => run('npm', ['install', '--offline', tarball], dir));
  assert.ok(!existsSync(join(dir, 'node_modules', 'mingru-wasm', 'models')));
  symlinkSync(MODEL, join(dir, 'kjv.q8.safetensors'));

  writeFileSync(join(dir, 'example.mjs'), readmeExample('node'));
  const out = timed('README Node example', () => run(process.execPath, ['example.mjs'], dir)).stdout;
  const text = await expectedText('And God said');
  assert.ok(out.includes(`\n${text}\n`), `not the engine's text ${JSON.stringify(text)}:\n${out}`);
  assert.match(out, /^KJV minGRU \(demo\) 3415296 parameters on \{"threads":\d+,"simd":true,"relaxedSimd":false,"fallbacks":\["relaxed SIMD: this engine has none; the plain SIMD build runs"\],"stepThreads":\d+,"warm":\{"ms":[\d.]+,"settled":(true|false),"stepUs":(null|\{"oneThread":\d+,"pool":\d+\})\}\}\n/);
  assert.match(out, /\n112 tokens read and written/);

  // `npx mingru-wasm ...` from the README, offline: the command comes from the installed package
  const [info, generate] = shellCommands(readmeExample('cli'));
  assert.deepEqual([info.slice(0, 3), generate.slice(0, 3)], [['npx', 'mingru-wasm', 'info'], ['npx', 'mingru-wasm', 'generate']]);
  const infoOut = run(info[0], info.slice(1), dir, { extraEnv: { npm_config_offline: 'true' } }).stdout;
  assert.match(infoOut, /^name: +KJV minGRU \(demo\)$/m);
  assert.match(infoOut, /^parameters: +3,415,296 \(int8 weights\)$/m);
  const genOut = run(generate[0], generate.slice(1), dir, { extraEnv: { npm_config_offline: 'true' } }).stdout;
  assert.ok(genOut.startsWith('In the beginning') && genOut.length > 100, genOut);
});

test('the README conversion: a PyTorch minLM checkpoint through the shipped tools/convert.py, then mingru info', { skip: skipTorch }, () => {
  const dir = join(work, 'node-app');
  // a small random minLM with minGRU-pytorch's tensor names (tools/reference.py of this repository)
  run(PYTHON, ['-c', `import sys, torch; sys.path.insert(0, ${JSON.stringify(join(root, 'tools'))})
from reference import MinLMRef
torch.manual_seed(0)
torch.save(MinLMRef(num_tokens=256, dim=32, depth=2).state_dict(), 'model.pt')`], dir);
  const [convert, info] = shellCommands(readmeExample('convert'));
  assert.deepEqual(convert.slice(0, 2), [PYTHON, 'node_modules/mingru-wasm/tools/convert.py']);
  timed('README conversion', () => run(convert[0], convert.slice(1), dir));
  const out = run(info[0], info.slice(1), dir, { extraEnv: { npm_config_offline: 'true' } }).stdout;
  assert.match(out, /^name: +my-model$/m);
  assert.match(out, /^cell: +minGRU$/m);
  assert.match(out, /^dim: +32$/m);
  assert.match(out, /\(int8 weights\)/);
});

test('a fresh Vite 8.3.8 project bundles the README page example; it runs in chromium from the built files alone', { skip: skipBrowser }, async () => {
  const dir = project('vite-app');
  timed(`npm install ${VITE} + the tarball`, () => run('npm', ['install', '--prefer-offline', '--save-exact', VITE, tarball], dir));
  assert.equal(JSON.parse(readFileSync(join(dir, 'node_modules', 'vite', 'package.json'), 'utf8')).version, '8.3.8');
  writeFileSync(join(dir, 'index.html'), `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>mingru in Vite</title></head>
<body><pre id="output"></pre><script type="module" src="/main.js"></script></body></html>
`);
  // the README's example, then a line that hands the test what it needs
  writeFileSync(join(dir, 'main.js'), `${readmeExample('browser')}\nwindow.mingruResult = { text: out.textContent, backend: lm.backend };\n`);
  mkdirSync(join(dir, 'public'));
  copyFileSync(MODEL, join(dir, 'public', 'kjv.q8.safetensors'));
  const build = timed('vite build', () => run(process.execPath, [join(dir, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'], dir));
  const log = build.stdout + build.stderr;
  assert.doesNotMatch(log, /externalized for browser compatibility|warning|error/i, log);
  const dist = join(dir, 'dist');
  const assets = readdirSync(join(dist, 'assets'));
  assert.equal(assets.filter((f) => f.endsWith('.wasm')).length, 4, `the two browser builds' wasm, plain and relaxed: ${assets}`);
  for (const f of assets) assert.ok(!readFileSync(join(dist, 'assets', f), 'latin1').includes(root), `${f} names ${root}`);
  viteApp = dir;

  const browser = await launch();
  try {
    for (const isolation of [true, false]) {
      const { server, url, requests } = await serveBuilt(isolation);
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        const problems = [];
        page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
        page.on('pageerror', (e) => problems.push(e.message));
        // (not net::ERR_ABORTED: chromium sometimes reports it for the model's request from the worker when the
        // body has been read to the end before the request's completion reached it; the text checks the model)
        page.on('requestfailed', (r) => r.failure()?.errorText !== 'net::ERR_ABORTED' && problems.push(`${r.url()}: ${r.failure()?.errorText}`));
        page.on('response', (r) => r.status() >= 400 && problems.push(`${r.url()}: HTTP ${r.status()}`));
        const runs = [];
        for (const visit of ['first visit', 'reload']) {
          const t0 = performance.now();
          if (visit === 'reload') await page.reload();
          else await page.goto(`${url}/`);
          await page.waitForFunction(() => window.mingruResult, null, { timeout: 60000 });
          const r = await page.evaluate(() => window.mingruResult);
          runs.push(r);
          console.log(`vite page ${isolation ? 'with' : 'without'} COOP/COEP, ${visit}: ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
            `backend ${JSON.stringify(r.backend)}, model requests ${requests.get('/kjv.q8.safetensors')}, ${JSON.stringify(r.text.slice(0, 60))}...`);
          assert.equal(await page.textContent('#output'), r.text);
        }
        // 'auto': one thread per core (up to 8) when cross-origin isolated (2 on a 2-core machine), else 1
        const cores = await page.evaluate(() => navigator.hardwareConcurrency);
        await checkBuiltRuns('chromium', isolation, runs, cores, requests);
        assert.deepEqual(problems, []);
      } finally {
        await context.close();
        server.close();
      }
    }
  } finally {
    await browser.close();
  }
});

/** The Vite app's built files alone, served on 127.0.0.1 with or without COOP/COEP; the model never from the HTTP
 * cache, so that a second load not reaching the server can only be the Cache API. */
function serveBuilt(isolation) {
  const dist = join(viteApp, 'dist');
  return serve({
    root: dist,
    isolation,
    route(req, res, headers) {
      if (req.url !== '/kjv.q8.safetensors') return false;
      sendFile(req, res, join(dist, 'kjv.q8.safetensors'), { ...headers, 'Cache-Control': 'no-store' });
      return true;
    },
  });
}

/** The built app's first visit and reload in `engine`: the build and fallbacks the engine has, the engine's text for
 * that seed, the model read once (the reload took it from the Cache API, where the engine keeps it across loads). 'auto': one thread per core (up to 8) when
 * the page is isolated and has SharedArrayBuffer, else 1. */
async function checkBuiltRuns(engine, isolation, runs, cores, requests) {
  const threaded = isolation && HAS[engine].sab;
  assert.deepEqual(buildOf(runs[0].backend), { threads: threaded ? Math.min(8, cores) : 1, simd: true, relaxedSimd: HAS[engine].relaxed,
    fallbacks: expectedFallbacks(engine, isolation) });
  if (threaded) assert.ok(runs[0].backend.threads > 1, 'the threaded build');
  assert.ok(new TextEncoder().encode(runs[0].text).length >= 90, JSON.stringify(runs[0].text));
  assert.equal(runs[0].text, await expectedText('And God said', { threads: runs[0].backend.threads, relaxed: runs[0].backend.relaxedSimd }), 'the engine\'s text for that seed');
  assert.equal(runs[1].text, runs[0].text);
  // (WebKitGTK under WebDriver keeps no Cache API contents across page loads: HAS; the reload downloads again)
  assert.equal(requests.get('/kjv.q8.safetensors'), HAS[engine].cacheAcrossLoads ? 1 : 2, 'the reload took the model from the Cache API');
}

for (const engine of ['firefox', 'webkit']) {
  test(`the Vite app's built files in ${engine}, with COOP/COEP and without`, { skip: available(engine) }, async (t) => {
    if (!viteApp) return t.skip('the Vite project was not made');
    const browser = await openBrowser(engine);
    try {
      for (const isolation of [true, false]) {
        const { server, url, requests } = await serveBuilt(isolation);
        try {
          const runs = [];
          for (const visit of ['first visit', 'reload']) {
            const t0 = performance.now();
            await browser.goto(`${url}/`);
            runs.push(await browser.evaluate(async () => {
              while (!window.mingruResult) await new Promise((ok) => setTimeout(ok, 100));
              return { ...window.mingruResult, shown: document.getElementById('output').textContent };
            }));
            const r = runs.at(-1);
            console.log(`${browser.version}, vite page ${isolation ? 'with' : 'without'} COOP/COEP, ${visit}: ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
              `backend ${JSON.stringify(r.backend)}, model requests ${requests.get('/kjv.q8.safetensors')}`);
            assert.equal(r.shown, r.text);
          }
          await checkBuiltRuns(engine, isolation, runs, await browser.evaluate(() => navigator.hardwareConcurrency), requests);
        } finally {
          server.close();
        }
      }
      assert.deepEqual(await browser.errors(), []);
    } finally {
      await browser.close();
    }
  });
}

/** A free port on 127.0.0.1. */
function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer().once('error', fail).listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

test("Vite's dev server serves the same project, threaded with the README's vite.config.js", { skip: skipBrowser }, async (t) => {
  if (!viteApp) return t.skip('the Vite project was not made');
  writeFileSync(join(viteApp, 'vite.config.js'), readmeExample('vite-config'));
  const port = await freePort();
  const dev = spawn(process.execPath, [join(viteApp, 'node_modules', 'vite', 'bin', 'vite.js'), '--host', '127.0.0.1', '--port', String(port), '--strictPort'],
    { cwd: viteApp, env: { ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  dev.stdout.on('data', (d) => (log += d));
  dev.stderr.on('data', (d) => (log += d));
  const browser = await launch();
  try {
    const t0 = performance.now();
    // eslint-disable-next-line no-control-regex -- Vite may colour its banner (under CI=true it does)
    while (!log.replace(/\x1b\[[0-9;]*m/g, '').includes(`127.0.0.1:${port}`)) {
      assert.ok(dev.exitCode === null && performance.now() - t0 < 30000, `vite did not start:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const page = await browser.newPage();
    const problems = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => window.mingruResult, null, { timeout: 60000 });
    const r = await page.evaluate(() => window.mingruResult);
    console.log(`vite dev: ${((performance.now() - t0) / 1000).toFixed(1)} s, backend ${JSON.stringify(r.backend)}`);
    assert.ok(r.backend.threads > 1, JSON.stringify(r.backend));
    assert.equal(r.text, await expectedText('And God said', { threads: r.backend.threads, relaxed: r.backend.relaxedSimd }));
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    dev.kill();
  }
  assert.doesNotMatch(log, /error/i, log);
});
