#!/usr/bin/env node
// Builds the libFuzzer harnesses (clang, ASan + UBSan) and runs each for a bounded time; fails on any
// crash, leak, sanitizer report or broken contract (fuzz-api's REQUIRE). Seeds: for fuzz-model the broken-file
// corpus (tests/corpus) and the valid fixtures (tests/fixtures/lm, tests/fixtures/minrnns); for fuzz-api tests/fuzz/seeds-api (made by
// tests/fuzz/make-seeds.mjs). The seeds are copied: what the fuzzer adds stays out of the repository.
//   node scripts/fuzz.mjs [SECONDS] [--verbose]   (default: FUZZ_SECONDS or 60 per harness)
// Quiet by default: one line per harness. A failing step prints the last lines of its output (the crash report)
// and, for a fuzzer, the input it wrote (build/fuzz/crash-..., run the harness on it to reproduce). --verbose or
// FUZZ_VERBOSE=1 shows every line of CMake and libFuzzer as it comes.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const verbose = args.includes('--verbose') || process.env.FUZZ_VERBOSE === '1';
const seconds = Number(args.find((a) => !a.startsWith('--')) ?? process.env.FUZZ_SECONDS ?? 60);
const TAIL_LINES = 200;

/** Runs cmd; exits 1 if it fails, after printing its output's last lines (all of it went by already if verbose).
 * Returns what it wrote (stdout then stderr; nothing if verbose). */
function run(cmd, cmdArgs) {
  if (verbose) console.error(`> ${cmd} ${cmdArgs.join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, {
    cwd: root, stdio: verbose ? 'inherit' : ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 30,
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.error || r.status !== 0) {
    if (!verbose) {
      const lines = output.trimEnd().split('\n');
      const shown = lines.slice(-TAIL_LINES);
      console.error(`> ${cmd} ${cmdArgs.join(' ')}` +
        (lines.length > shown.length ? `\n(the last ${shown.length} of ${lines.length} lines)` : ''));
      console.error(shown.join('\n'));
    }
    const why = r.error ? `: ${r.error.message}` : r.signal ? ` on ${r.signal}` : ` with status ${r.status}`;
    console.error(`fuzz: ${cmd} failed${why}`);
    const input = output.match(/Test unit written to (\S+)/)?.[1];
    if (input) console.error(`fuzz: the failing input is ${join(root, input)}; reproduce: ${cmd} ${join(root, input)}`);
    process.exit(1);
  }
  return output;
}

/** Runs a harness for `seconds` and prints one line from its final stats, e.g.
 * `fuzz-model: 60 s, 123456 runs (2057/s), cov 1234, corpus 180, no crash`. */
function fuzz(name, flags, corpus) {
  const out = run(join(root, 'build/fuzz', name), [`-max_total_time=${seconds}`, ...flags, '-rss_limit_mb=4096',
    '-print_final_stats=1', '-artifact_prefix=build/fuzz/', corpus]);
  if (verbose) return;
  const stat = (key) => out.match(new RegExp(`stat::${key}:\\s*(\\d+)`))?.[1] ?? '?';
  const last = (key) => [...out.matchAll(new RegExp(`\\b${key}: (\\d+)`, 'g'))].at(-1)?.[1] ?? '?';
  console.log(`${name}: ${seconds} s, ${stat('number_of_executed_units')} runs (${stat('average_exec_per_sec')}/s), ` +
    `cov ${last('cov')}, corpus ${last('corp').split('/')[0]}, no crash`);
}

run('cmake', ['-S', '.', '-B', 'build/fuzz', '-DCMAKE_C_COMPILER=clang', '-DMINGRU_FUZZ=ON', '-DCMAKE_BUILD_TYPE=RelWithDebInfo']);
run('cmake', ['--build', 'build/fuzz', '--target', 'fuzz-model', 'fuzz-api', '-j', '2']);
const work = mkdtempSync(join(tmpdir(), 'mingru-fuzz-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true })); // also when a failure exits
const model = join(work, 'model');
cpSync(join(root, 'tests/corpus'), model, { recursive: true });
cpSync(join(root, 'tests/fixtures/lm'), model, { recursive: true, filter: (f) => !f.endsWith('.bin') && !f.endsWith('.json') });
cpSync(join(root, 'tests/fixtures/minrnns'), model, { recursive: true, filter: (f) => f.endsWith('.safetensors') || !f.includes('.') });
fuzz('fuzz-model', [], model);
const api = join(work, 'api');
mkdirSync(api);
cpSync(join(root, 'tests/fuzz/seeds-api'), api, { recursive: true });
fuzz('fuzz-api', ['-max_len=4096'], api);
console.log(`fuzz: both harnesses ran ${seconds} s each with no crash, leak or sanitizer report`);
