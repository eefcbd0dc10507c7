// store.js — what the model learned on the user's text, kept in this browser (IndexedDB) so that the next visit
// starts from it: one taught model file per base model (keyed by the base model's URL), with when it was taught.
const DB = 'mingru-demo', STORE = 'taught';

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Runs `fn(store)` in a transaction and resolves to its request's result. */
async function run(mode, fn) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const request = fn(db.transaction(STORE, mode).objectStore(STORE));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}

/** The taught model kept for `base`: { file: Uint8Array, date } or undefined (also where storage is unavailable). */
export async function kept(base) {
  try {
    return await run('readonly', (s) => s.get(base));
  } catch {
    return undefined; // a private window or a browser without IndexedDB: nothing kept
  }
}

/** Keeps `file` as the taught model of `base`; false where the browser does not let the page store it. */
export async function keep(base, file) {
  try {
    await run('readwrite', (s) => s.put({ file, date: new Date().toISOString() }, base));
    return true;
  } catch {
    return false;
  }
}

/** Forgets the taught model of `base`. */
export async function forget(base) {
  try {
    await run('readwrite', (s) => s.delete(base));
  } catch {
    // nothing was kept
  }
}
