#!/usr/bin/env node
// Builds the libFuzzer harnesses (clang, ASan + UBSan) and runs each for a bounded time; fails on any
// crash, leak, sanitizer report or broken contract (fuzz-api's REQUIRE). Seeds: for fuzz-model the broken-file
// corpus (tests/corpus) and the valid fixtures (tests/fixtures/lm, tests/fixtures/minrnns); for fuzz-api tests/fuzz/seeds-api (made by
// tests/fuzz/make-seeds.mjs). The seeds are copied: what the fuzzer adds stays out of the repository.
//   node scripts/fuzz.mjs [SECONDS]        (default: FUZZ_SECONDS or 60 per harness)
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const seconds = Number(process.argv[2] ?? process.env.FUZZ_SECONDS ?? 60);

function run(cmd, args, opts = {}) {
  console.error(`> ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.error || r.status !== 0) {
    console.error(`fuzz: ${cmd} failed${r.error ? `: ${r.error.message}` : ` with status ${r.status}`}`);
    process.exit(1);
  }
}

run('cmake', ['-S', '.', '-B', 'build/fuzz', '-DCMAKE_C_COMPILER=clang', '-DMINGRU_FUZZ=ON', '-DCMAKE_BUILD_TYPE=RelWithDebInfo']);
run('cmake', ['--build', 'build/fuzz', '--target', 'fuzz-model', 'fuzz-api', '-j', '2']);
const work = mkdtempSync(join(tmpdir(), 'mingru-fuzz-'));
try {
  const model = join(work, 'model');
  cpSync(join(root, 'tests/corpus'), model, { recursive: true });
  cpSync(join(root, 'tests/fixtures/lm'), model, { recursive: true, filter: (f) => !f.endsWith('.bin') && !f.endsWith('.json') });
  cpSync(join(root, 'tests/fixtures/minrnns'), model, { recursive: true, filter: (f) => f.endsWith('.safetensors') || !f.includes('.') });
  run('build/fuzz/fuzz-model', [`-max_total_time=${seconds}`, '-rss_limit_mb=4096', '-print_final_stats=1', model]);
  const api = join(work, 'api');
  mkdirSync(api);
  cpSync(join(root, 'tests/fuzz/seeds-api'), api, { recursive: true });
  run('build/fuzz/fuzz-api', [`-max_total_time=${seconds}`, '-max_len=4096', '-rss_limit_mb=4096', '-print_final_stats=1', api]);
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(`fuzz: both harnesses ran ${seconds} s each with no crash, leak or sanitizer report`);
