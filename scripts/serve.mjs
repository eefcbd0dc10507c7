#!/usr/bin/env node
// A small static server for the demo and the browser tests, on 127.0.0.1.
//   node scripts/serve.mjs [--port N] [--root DIR] [--no-isolation]
// By default it sends Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy:
// require-corp, which make the page cross-origin isolated so that the threaded build can run;
// --no-isolation leaves them out (the page then gets the single-thread build).
// Tests also use serve() with a `route(req, res, headers)` hook that may answer a request itself (return
// true) and read `requests`, the number of requests per path.
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png',
  '.svg': 'image/svg+xml', '.md': 'text/markdown; charset=utf-8', '.safetensors': 'application/octet-stream',
};

/** Sends a file (a directory's index.html) with its type and length, or 404. */
export function sendFile(req, res, path, headers = {}) {
  let stat;
  try {
    stat = statSync(path);
    if (stat.isDirectory()) stat = statSync((path = join(path, 'index.html')));
  } catch {
    res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found');
    return;
  }
  res.writeHead(200, { 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream', 'Content-Length': stat.size, ...headers });
  if (req.method === 'HEAD') res.end();
  else createReadStream(path).pipe(res);
}

/** Starts a server; resolves with { server, url, requests }. */
export function serve({ port = 0, root = fileURLToPath(new URL('..', import.meta.url)), isolation = true, route } = {}) {
  const base = resolve(root);
  const requests = new Map();
  const server = createServer((req, res) => {
    const headers = isolation
      ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }
      : {};
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      res.writeHead(400, headers).end('bad request');
      return;
    }
    requests.set(pathname, (requests.get(pathname) ?? 0) + 1);
    if (route?.(req, res, headers)) return;
    const path = normalize(join(base, pathname));
    if (!path.startsWith(base)) {
      res.writeHead(403, headers).end('forbidden');
      return;
    }
    sendFile(req, res, path, { ...headers, 'Cache-Control': 'no-cache' });
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok({ server, url: `http://127.0.0.1:${server.address().port}`, requests }));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const value = (flag) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  const port = Number(value('--port') ?? process.env.PORT ?? 8080);
  const home = (req, res, headers) => { // / is the demo
    if (req.url !== '/') return false;
    res.writeHead(302, { ...headers, Location: '/web/' }).end();
    return true;
  };
  const { url } = await serve({ port, root: value('--root'), isolation: !args.includes('--no-isolation'), route: home });
  console.log(`mingru demo: ${url}/web/ ${args.includes('--no-isolation') ? '(no COOP/COEP: single-thread build)' : '(COOP/COEP: threaded build)'}`);
  console.log('press Ctrl+C to stop');
}
