// A static file server on 127.0.0.1 for tests that need to see or shape requests (scripts/serve.mjs is the
// plain one): optional COOP/COEP headers, a `route(req, res, headers)` hook that may answer a request itself
// (return true), and a count of the requests for each path.
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm',
  '.safetensors': 'application/octet-stream',
};

/** Sends a file with Content-Length, or 404. */
export function sendFile(res, path, headers = {}) {
  let stat;
  try {
    stat = statSync(path);
    if (stat.isDirectory()) stat = statSync((path = join(path, 'index.html')));
  } catch {
    res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found');
    return;
  }
  res.writeHead(200, { 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream', 'Content-Length': stat.size, ...headers });
  createReadStream(path).pipe(res);
}

/** Starts a server; resolves with { server, url, requests } where requests.get(pathname) counts requests. */
export function staticServer({ root, isolation = true, route } = {}) {
  const base = resolve(root);
  const requests = new Map();
  const server = createServer((req, res) => {
    const headers = isolation ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {};
    const { pathname } = new URL(req.url, 'http://x');
    requests.set(pathname, (requests.get(pathname) ?? 0) + 1);
    if (route?.(req, res, headers)) return;
    const path = normalize(join(base, decodeURIComponent(pathname)));
    if (!path.startsWith(base)) {
      res.writeHead(403, headers).end('forbidden');
      return;
    }
    sendFile(res, path, { ...headers, 'Cache-Control': 'no-cache' });
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok({ server, url: `http://127.0.0.1:${server.address().port}`, requests }));
  });
}
