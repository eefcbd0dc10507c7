#!/usr/bin/env node
// A small static server for the demo and the browser tests, on 127.0.0.1.
//   node scripts/serve.mjs [--port N] [--root DIR] [--no-isolation]     (the port: --port, else PORT, else 8080; one in
//                                                                        use gives the next free one, said so)
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
  const asked = value('--port') ?? process.env.PORT ?? '8080';
  if (!/^\d+$/.test(asked) || Number(asked) > 65535) {
    console.error(`mingru demo: the port must be a number from 0 to 65535, got ${asked}`);
    process.exit(2);
  }
  const home = (req, res, headers) => { // / is the demo
    if (req.url !== '/') return false;
    res.writeHead(302, { ...headers, Location: '/web/' }).end();
    return true;
  };
  // a port in use (another server, or this demo started twice): the next free one, said so; up to 20 tries
  let url;
  for (let port = Number(asked); !url; port++) {
    try {
      ({ url } = await serve({ port, root: value('--root'), isolation: !args.includes('--no-isolation'), route: home }));
    } catch (e) {
      if (e.code !== 'EADDRINUSE' || port === 0 || port >= Number(asked) + 20 || port === 65535) {
        console.error(`mingru demo: cannot serve on 127.0.0.1:${port}: ${e.code === 'EADDRINUSE' ? 'the port is in use' : e.message}. ` +
          'Choose another port: PORT=8090 npm start (or node scripts/serve.mjs --port 8090)');
        process.exit(1);
      }
      console.log(`port ${port} is in use (another server?): trying ${port + 1}`);
    }
  }
  const moved = Number(new URL(url).port || 80) !== Number(asked) && Number(asked) !== 0;
  console.log(`mingru demo: ${url}/web/ ${args.includes('--no-isolation') ? '(no COOP/COEP: single-thread build)' : '(COOP/COEP: threaded build)'}`);
  if (moved) console.log(`(port ${asked} was in use; PORT=N npm start chooses the port)`);
  console.log('press Ctrl+C to stop');
}
