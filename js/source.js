// source.js — the bytes of a model from wherever they are: a file path (Node), a URL, an ArrayBuffer or
// typed array, a fetch Response, or a Blob; with progress reports, cancellation, and the browser's Cache API.
import { MingruError, fail } from './errors.js';

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

/** The name of the Cache API cache that `load(url, { cache: true })` keeps model files in. */
export const CACHE_NAME = 'mingru';

function checkAbort(signal, what) {
  if (signal?.aborted) throw new MingruError('MG_EABORTED', `${what} was aborted`, { cause: signal.reason });
}

/** Reads a stream of Uint8Array chunks, reporting progress; total may be unknown (null). */
async function readStream(reader, total, { onProgress, signal }, what) {
  const chunks = [];
  let loaded = 0;
  const onAbort = () => reader.cancel().catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    onProgress?.({ loaded, total });
    for (;;) {
      checkAbort(signal, what);
      const { done, value } = await reader.read();
      checkAbort(signal, what);
      if (done) break;
      chunks.push(value);
      loaded += value.length;
      onProgress?.({ loaded, total });
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) bytes.set(c, at), (at += c.length);
  return bytes;
}

async function fromResponse(response, options, what) {
  if (!response.ok) fail('MG_ELOAD', `${what}: HTTP ${response.status} ${response.statusText}`.trim());
  const length = Number(response.headers.get('content-length'));
  const total = Number.isFinite(length) && length > 0 && !response.headers.get('content-encoding') ? length : null;
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    options.onProgress?.({ loaded: bytes.length, total: bytes.length });
    return bytes;
  }
  return readStream(response.body.getReader(), total, options, what);
}

async function fromFile(path, options) {
  const { open } = await import('node:fs/promises');
  const isDirectory = () => fail('MG_ELOAD', `${path} is a directory, not a model file`);
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    if (e.code === 'EISDIR') isDirectory(); // on systems that refuse to open a directory
    const why = { ENOENT: 'there is no such file', EACCES: 'permission denied', EPERM: 'permission denied' }[e.code];
    fail('MG_ELOAD', `cannot open model file ${path}: ${why ? `${why} (${e.code})` : e.code ?? e.message}`);
  }
  try {
    const stats = await handle.stat();
    if (stats.isDirectory()) isDirectory();
    const { size } = stats;
    const bytes = new Uint8Array(size);
    const chunk = 1 << 22;
    options.onProgress?.({ loaded: 0, total: size });
    for (let at = 0; at < size; ) {
      checkAbort(options.signal, `loading ${path}`);
      const { bytesRead } = await handle.read(bytes, at, Math.min(chunk, size - at), at);
      if (bytesRead === 0) fail('MG_ELOAD', `model file ${path} shrank while being read`);
      at += bytesRead;
      options.onProgress?.({ loaded: at, total: size });
    }
    return bytes;
  } finally {
    await handle.close();
  }
}

/** The cache for model files, or null where there is no Cache API (Node; pages that are not a secure
 * context, i.e. plain http from a host other than localhost) or where storage is refused. */
async function openCache() {
  if (typeof caches === 'undefined') return null;
  try {
    return await caches.open(CACHE_NAME);
  } catch {
    return null;
  }
}

/** Fetches `url`, through the cache when there is one: a hit is read whole and reported once as loaded = total;
 * a miss is downloaded with progress as usual, then stored. Caching is best effort: a cache that cannot be read
 * or written (quota, storage refused) is passed over, never an error. */
async function fromUrl(url, options, cache) {
  const { signal } = options;
  const what = `loading ${url}`;
  if (cache) {
    const hit = await cache.match(url.href).catch(() => undefined);
    const bytes = hit && new Uint8Array(await hit.arrayBuffer().catch(() => new ArrayBuffer(0)));
    checkAbort(signal, what);
    if (bytes?.length > 0) {
      options.onProgress?.({ loaded: bytes.length, total: bytes.length });
      return bytes;
    }
  }
  let response;
  try {
    response = await fetch(url, { ...options.fetchOptions, signal });
  } catch (e) {
    checkAbort(signal, what);
    fail('MG_ELOAD', `cannot fetch ${url}: ${e.message}`);
  }
  const bytes = await fromResponse(response, options, what);
  if (cache) {
    const stored = new Response(bytes, { headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) } });
    await cache.put(url.href, stored).catch(() => {});
  }
  return bytes;
}

/**
 * The bytes of `source` as a Uint8Array.
 * @param source a URL or URL string, a file path (Node), an ArrayBuffer or ArrayBufferView, a Response or a Blob
 * @param options { onProgress({loaded, total}), signal, fetchOptions, cache }; `cache: true` keeps http(s)
 *   downloads in the Cache API's cache CACHE_NAME and reads them from there next time; it is ignored for other
 *   sources and where there is no Cache API (Node)
 */
export async function readSource(source, options = {}) {
  const { signal } = options;
  checkAbort(signal, 'loading');
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  if (typeof Response !== 'undefined' && source instanceof Response) return fromResponse(source, options, 'loading the response');
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    return readStream(source.stream().getReader(), source.size, options, 'loading the blob');
  }
  let url = null;
  if (source instanceof URL) url = source;
  else if (typeof source === 'string') {
    // a scheme (http:, https:, file:, blob:, data:) makes it a URL; in Node anything else is a path
    if (/^[a-z][a-z0-9+.-]+:/i.test(source) && !/^[a-z]:[\\/]/i.test(source)) url = new URL(source);
    else if (isNode) return fromFile(source, options);
    else url = new URL(source, globalThis.location?.href);
  } else {
    fail('MG_EINVAL', `load: source must be a URL, a path, an ArrayBuffer, a typed array, a Response or a Blob, got ${source === null ? 'null' : typeof source}`);
  }
  if (isNode && url.protocol === 'file:') {
    const { fileURLToPath } = await import('node:url');
    return fromFile(fileURLToPath(url), options);
  }
  const cache = options.cache === true && (url.protocol === 'http:' || url.protocol === 'https:') ? await openCache() : null;
  return fromUrl(url, options, cache);
}
