#!/usr/bin/env node
// Runs the Node tests of the engine's memory-touching paths against the checked WebAssembly builds: the same C
// linked with Emscripten's -sASSERTIONS=2 -sSAFE_HEAP=1 (dist-safe/, built here by scripts/build.mjs --safe),
// where any load or store outside the heap, or misaligned, aborts. js/runtime.js takes those builds when
// MINGRU_TEST_BUILD=safe; tests/js/safe-build.test.mjs checks that they are the ones loaded.
//   node scripts/test-safe.mjs [test files...]        (npm run test:safe; part of npm test)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const files = process.argv.slice(2);
const tests = files.length ? files : ['safe-build', 'limits', 'soak', 'lm', 'corpus', 'generate', 'layer-errors', 'layer-golden',
  'layer-consistency'].map((name) => `tests/js/${name}.test.mjs`);

function run(cmd, args, env = process.env) {
  console.error(`> ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.error || r.status !== 0) process.exit(r.status || 1);
}

run(process.execPath, ['scripts/build.mjs', '--safe']);
run(process.execPath, ['--test', ...tests], { ...process.env, MINGRU_TEST_BUILD: 'safe' });
