#!/usr/bin/env node
// Builds the engine with CMake.
//   node scripts/build.mjs            the WebAssembly builds into dist/ (emcmake cmake; needs Emscripten). git keeps
//                                     dist/, so that `npm start` needs Node alone: commit it with the sources it comes from
//   node scripts/build.mjs --check    builds the same into build/dist-check/dist, with the wasm C tests, and fails
//                                     unless every file equals dist/'s byte for byte (a stale dist/ fails npm test)
//   node scripts/build.mjs --native   the native library and C tests into build/native (ASan + UBSan)
//   node scripts/build.mjs --if-missing   only build the WebAssembly if dist/ lacks it (npm start, npm run bench)
//   node scripts/build.mjs --if-stale     only build it if dist/ lacks it or was built from other sources than these
//                                     (npm pack): dist/sources.sha256 records the sources' hash; --check checks it
//   node scripts/build.mjs --safe     the checked builds (-sASSERTIONS=2 -sSAFE_HEAP=1) into dist-safe/, for the tests
// CMake rebuilds only what changed, so running this again is cheap. The build is reproducible: the same sources
// and the same Emscripten (Debian's 3.1.6) give the same bytes in any directory. The relaxed-SIMD builds also need
// Debian's clang-19 (for the kernels: src/kernels.c, src/matmul_*.c) and npm's binaryen (a dev dependency: its wasm-opt knows the new opcodes).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = new Set(process.argv.slice(2));
const env = { ...process.env };
// Debian's Emscripten runs its JS optimizer under Node and needs Debian's acorn from /usr/share/nodejs.
if (!env.NODE_PATH && existsSync('/usr/share/nodejs')) env.NODE_PATH = '/usr/share/nodejs';
// npm scripts put node_modules/.bin first on the PATH, and with it npm's binaryen (a dev dependency): the plain
// builds must get Debian's, which emcc 3.1.6 was made with (the relaxed ones get npm's on purpose, below)
env.PATH = (env.PATH ?? '').split(':').filter((dir) => !dir.endsWith('node_modules/.bin')).join(':');

/** What the WebAssembly build writes into its output directory (dist/): the files git keeps. */
export const DIST_FILES = ['mingru.js', 'mingru.wasm', 'mingru-threads.js', 'mingru-threads.worker.js', 'mingru-threads.wasm',
  'node/mingru-threads.js', 'node/mingru-threads.worker.js', 'node/mingru-threads.wasm', 'node/package.json',
  'mingru-relaxed.js', 'mingru-relaxed.wasm', 'mingru-threads-relaxed.js', 'mingru-threads-relaxed.worker.js',
  'mingru-threads-relaxed.wasm', 'node/mingru-threads-relaxed.js', 'node/mingru-threads-relaxed.worker.js',
  'node/mingru-threads-relaxed.wasm'];
/** The record of the sources dist/ was built from: SOURCES' hash (written by a build, checked by --check). */
const STAMP = 'sources.sha256';
const SOURCES = ['CMakeLists.txt', 'include', 'src', 'scripts/binaryen'];

/** A hash of every file the WebAssembly build reads from this repository, by path and content. */
function sourcesHash() {
  const hash = createHash('sha256');
  const add = (path) => {
    if (statSync(`${root}${path}`).isDirectory()) return readdirSync(`${root}${path}`).sort().forEach((name) => add(`${path}/${name}`));
    hash.update(`${path}\0`).update(readFileSync(`${root}${path}`)).update('\0');
  };
  SOURCES.forEach(add);
  return hash.digest('hex');
}

const DIST_TARGETS = ['mingru', 'mingru-threads', 'mingru-threads-node'];
const RELAXED_TARGETS = ['mingru-relaxed', 'mingru-threads-relaxed', 'mingru-threads-relaxed-node'];

function run(cmd, cmdArgs) {
  console.error(`> ${cmd} ${cmdArgs.join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, { cwd: root, env, stdio: 'inherit' });
  if (r.error) {
    console.error(`cannot run ${cmd}: ${r.error.message}`);
    if (cmd === 'emcmake') console.error('Emscripten is required: apt-get install emscripten (Debian), or run npm test, which installs it.');
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}

/** Configures (through emcmake for the WebAssembly) and builds one CMake tree; no `targets` builds them all.
 * relaxed: the relaxed-SIMD builds (CMakeLists.txt, MINGRU_RELAXED), linked with npm's binaryen. */
function cmake(dir, { wasm = true, defs = [], targets = [], relaxed = false }) {
  const configure = ['cmake', '-S', '.', '-B', dir, ...defs, ...(relaxed ? ['-DMINGRU_RELAXED=ON'] : [])];
  const saved = env.PATH;
  if (relaxed) {
    // Debian's emcc runs wasm-opt from the PATH: npm's binaryen 132, through scripts/binaryen/wasm-opt (its own 108
    // reads the relaxed opcodes by their pre-standard numbers and writes a broken module)
    const bin = `${root}scripts/binaryen`;
    if (!existsSync(`${root}node_modules/binaryen/bin/wasm-opt`)) {
      console.error('The relaxed-SIMD builds need the binaryen dev dependency: run npm ci (or npm test, which does).');
      process.exit(1);
    }
    env.PATH = `${bin}:${env.PATH}`;
  }
  if (wasm) run('emcmake', configure);
  else run(configure[0], configure.slice(1));
  const jobs = String(Math.max(1, Math.min(4, availableParallelism())));
  run('cmake', ['--build', dir, '-j', jobs, ...(targets.length ? ['--target', ...targets] : [])]);
  env.PATH = saved;
}

/** The files of dist/ that differ from `fresh`'s (or are missing from either), and files dist/ has beyond them. */
function compare(fresh) {
  const problems = [];
  for (const f of DIST_FILES) {
    const [a, b] = [`${root}/dist/${f}`, `${fresh}/${f}`];
    if (!existsSync(b)) problems.push(`${f}: the build did not write it`);
    else if (!existsSync(a)) problems.push(`dist/${f} is missing`);
    else if (!readFileSync(a).equals(readFileSync(b))) problems.push(`dist/${f} differs (${readFileSync(a).length} bytes; the sources build ${readFileSync(b).length})`);
  }
  const listed = (dir, prefix = '') => readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listed(`${dir}/${e.name}`, `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
  for (const f of existsSync(`${root}/dist`) ? listed(`${root}/dist`) : []) {
    if (!DIST_FILES.includes(f) && f !== STAMP) problems.push(`dist/${f} is not a build output`);
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const release = '-DCMAKE_BUILD_TYPE=Release';
  if (args.has('--native')) {
    cmake('build/native', { wasm: false, defs: ['-DCMAKE_BUILD_TYPE=Debug'] });
  } else if (args.has('--safe')) {
    cmake('build/wasm-safe', { defs: [release, '-DMINGRU_SAFE=ON'] });
  } else if (args.has('--check')) {
    const fresh = `${root}/build/dist-check/dist`;
    cmake('build/dist-check', { defs: [release, `-DMINGRU_DIST_DIR=${fresh}`] });
    cmake('build/dist-check-relaxed', { defs: [release, `-DMINGRU_DIST_DIR=${fresh}`], relaxed: true });
    const problems = compare(fresh);
    const stamp = existsSync(`${root}dist/${STAMP}`) ? readFileSync(`${root}dist/${STAMP}`, 'utf8').trim() : 'missing';
    if (stamp !== sourcesHash()) problems.push(`dist/${STAMP} (${stamp}) does not record these sources (${sourcesHash()})`);
    if (problems.length) {
      console.error(`dist/ is not what the sources build:\n  ${problems.join('\n  ')}\n` +
        'Run `npm run build` and commit dist/ with the sources it comes from.');
      process.exit(1);
    }
    console.error(`dist/: all ${DIST_FILES.length} files are exactly what the sources build`);
  } else {
    const built = DIST_FILES.every((f) => existsSync(`${root}/dist/${f}`));
    if (args.has('--if-missing') && built) process.exit(0);
    const current = built && existsSync(`${root}dist/${STAMP}`) && readFileSync(`${root}dist/${STAMP}`, 'utf8').trim() === sourcesHash();
    if (args.has('--if-stale') && current) {
      console.error(`dist/ was built from these sources (dist/${STAMP}): nothing to build`);
      process.exit(0);
    }
    cmake('build/wasm', { defs: [release], targets: DIST_TARGETS });
    cmake('build/wasm-relaxed', { defs: [release], targets: RELAXED_TARGETS, relaxed: true });
    writeFileSync(`${root}dist/${STAMP}`, `${sourcesHash()}\n`);
  }
}
