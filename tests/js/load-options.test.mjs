// load()'s options for hosting a model: fetchOptions (headers, for a private server that wants an
// Authorization header) in Node and in a page; cache: true, which in a page keeps the file in the Cache API
// (the second load does not reach the server, and reports progress once, loaded = total), and which Node,
// without a Cache API, ignores (it loads as usual). The server sends Cache-Control: no-store, so the browser's
// HTTP cache cannot be what answers.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { load } from '../../js/index.js';
import { sendFile, serve } from '../../scripts/serve.mjs';
import { available, openBrowser } from '../helpers/browsers.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const MODEL = fileURLToPath(new URL('../../models/kjv.q8.safetensors', import.meta.url));
const TOKEN = 'Bearer let-me-in';

let server, url;
const counts = { granted: 0, refused: 0 };

before(async () => {
  ({ server, url } = await serve({
    root,
    route(req, res, headers) {
      if (!req.url.startsWith('/private/')) return false;
      if (req.headers.authorization !== TOKEN) {
        counts.refused++;
        res.writeHead(401, { ...headers, 'Content-Type': 'text/plain', 'WWW-Authenticate': 'Bearer' }).end('no');
      } else {
        counts.granted++;
        sendFile(req, res, MODEL, { ...headers, 'Cache-Control': 'no-store' });
      }
      return true;
    },
  }));
});

after(() => server?.close());

test('Node: fetchOptions headers reach the server; without them a private model is refused with MG_ELOAD', async () => {
  const before = { ...counts };
  await assert.rejects(load(`${url}/private/kjv.q8.safetensors`), (e) => e.code === 'MG_ELOAD' && /HTTP 401/.test(e.message));
  const events = [];
  const lm = await load(`${url}/private/kjv.q8.safetensors`, { fetchOptions: { headers: { Authorization: TOKEN } }, onProgress: (e) => events.push(e) });
  assert.equal(lm.config.dim > 0, true);
  const last = events.at(-1);
  assert.ok(last.total > 1e6 && last.loaded === last.total, JSON.stringify(last));
  assert.ok(events.length > 2, 'progress in steps');
  lm.dispose();
  const lm2 = await load(new URL(`${url}/private/kjv.q8.safetensors`), { fetchOptions: { headers: new Headers({ Authorization: TOKEN }) } });
  lm2.dispose();
  assert.deepEqual(counts, { granted: before.granted + 2, refused: before.refused + 1 });
});

test('Node: cache: true is ignored where there is no Cache API (each load fetches)', async () => {
  assert.equal(typeof globalThis.caches, 'undefined', 'this Node has a Cache API: the test premise is wrong');
  const before = counts.granted;
  const options = { cache: true, fetchOptions: { headers: { Authorization: TOKEN } } };
  const a = await load(`${url}/private/kjv.q8.safetensors`, options);
  const b = await load(`${url}/private/kjv.q8.safetensors`, options);
  assert.equal(a.identity, b.identity);
  a.dispose();
  b.dispose();
  assert.equal(counts.granted, before + 2);
  // and for a path it means nothing either
  (await load(MODEL, { cache: true })).dispose();
});

test('bad cache and fetchOptions options are MG_EINVAL', async () => {
  await assert.rejects(load(MODEL, { cache: 'yes' }), (e) => e.code === 'MG_EINVAL' && /cache/.test(e.message));
  await assert.rejects(load(MODEL, { fetchOptions: 5 }), (e) => e.code === 'MG_EINVAL' && /fetchOptions/.test(e.message));
});

for (const engine of ['chromium', 'firefox', 'webkit']) {
  test(`${engine}: fetchOptions and cache: true through the worker; the second load comes from the Cache API`, { skip: available(engine) }, async () => {
    const browser = await openBrowser(engine);
    try {
      const before = { ...counts };
      await browser.goto(`${url}/tests/browser/load.html`);
      const r = await browser.evaluate(async () => {
        while (!window.result) await new Promise((ok) => setTimeout(ok, 100));
        return window.result;
      });
      assert.deepEqual(r.errors, []);
      assert.equal(r.noAuth, 'MG_ELOAD');
      assert.match(r.noAuthMessage, /HTTP 401/);
      assert.equal(r.cachedAfterRefusal, 0, 'a refused download is not cached');
      // first load: downloaded, progress in steps up to the whole file
      const size = r.first.progress.at(-1).total;
      assert.ok(size > 1e6);
      // as the bytes arrive: in steps (WebKitGTK hands a local download over in one piece: from 0 to the whole)
      assert.ok(r.first.progress.length > (engine === 'webkit' ? 1 : 2), JSON.stringify(r.first.progress));
      assert.deepEqual(r.first.progress[0], { loaded: 0, total: size });
      assert.deepEqual(r.first.progress.at(-1), { loaded: size, total: size });
      assert.deepEqual(r.cached, ['/private/kjv.q8.safetensors']);
      // second: from the cache, one progress report, the same model and text
      assert.deepEqual(r.second.progress, [{ loaded: size, total: size }]);
      assert.equal(r.second.identity, r.first.identity);
      assert.equal(r.second.text, r.first.text);
      assert.ok(r.first.text.length > 0);
      assert.equal(r.third.identity, r.first.identity);
      assert.equal(r.badCache, 'MG_EINVAL');
      // the refused try, the first download and the uncached third load reached the server; the second did not
      assert.deepEqual(counts, { granted: before.granted + 2, refused: before.refused + 1 });
    } finally {
      await browser.close();
    }
  });
}
