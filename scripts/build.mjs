#!/usr/bin/env node
// Builds the engine with CMake.
//   node scripts/build.mjs            the WebAssembly builds into dist/ (emcmake cmake; needs Emscripten)
//   node scripts/build.mjs --native   the native library and C tests into build/native (ASan + UBSan)
//   node scripts/build.mjs --if-missing   only build the WebAssembly if dist/ lacks it
//   node scripts/build.mjs --safe     the checked builds (-sASSERTIONS=2 -sSAFE_HEAP=1) into dist-safe/, for the tests
// CMake rebuilds only what changed, so running this again is cheap.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = new Set(process.argv.slice(2));
const env = { ...process.env };
// Debian's Emscripten runs its JS optimizer under Node and needs Debian's acorn from /usr/share/nodejs.
if (!env.NODE_PATH && existsSync('/usr/share/nodejs')) env.NODE_PATH = '/usr/share/nodejs';

function run(cmd, cmdArgs) {
  console.error(`> ${cmd} ${cmdArgs.join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, { cwd: root, env, stdio: 'inherit' });
  if (r.error) {
    console.error(`cannot run ${cmd}: ${r.error.message}`);
    if (cmd === 'emcmake') console.error('Emscripten is required: apt-get install emscripten (Debian) or the emsdk.');
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const jobs = String(Math.max(1, Math.min(4, (await import('node:os')).availableParallelism())));
if (args.has('--native')) {
  run('cmake', ['-S', '.', '-B', 'build/native', '-DCMAKE_BUILD_TYPE=Debug']);
  run('cmake', ['--build', 'build/native', '-j', jobs]);
} else if (args.has('--safe')) {
  run('emcmake', ['cmake', '-S', '.', '-B', 'build/wasm-safe', '-DCMAKE_BUILD_TYPE=Release', '-DMINGRU_SAFE=ON']);
  run('cmake', ['--build', 'build/wasm-safe', '-j', jobs]);
} else {
  const outputs = ['mingru.js', 'mingru.wasm', 'mingru-threads.js', 'mingru-threads.worker.js', 'mingru-threads.wasm',
    'node/mingru-threads.js', 'node/mingru-threads.worker.js', 'node/mingru-threads.wasm', 'node/package.json'];
  const built = outputs.every((f) => existsSync(`${root}/dist/${f}`));
  if (args.has('--if-missing') && built) process.exit(0);
  run('emcmake', ['cmake', '-S', '.', '-B', 'build/wasm', '-DCMAKE_BUILD_TYPE=Release']);
  run('cmake', ['--build', 'build/wasm', '-j', jobs]);
}
