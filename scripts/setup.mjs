#!/usr/bin/env node
// Installs what `npm test` needs and this machine lacks, saying what it installs; the first step of npm test.
//   node scripts/setup.mjs           install what is missing (Debian/Ubuntu: apt-get as root, through sudo otherwise)
//   node scripts/setup.mjs --list    only print what is missing
// The demo (`npm start`) needs none of this: Node alone serves the committed dist/.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const hasFuzzerRuntime = () => existsSync('/usr/lib/llvm-14/lib/clang') &&
  readdirSync('/usr/lib/llvm-14/lib/clang').some((v) => existsSync(`/usr/lib/llvm-14/lib/clang/${v}/lib/linux/libclang_rt.fuzzer-x86_64.a`));

// [Debian package, why, is it there?]
const NEEDS = [
  ['emscripten', 'the WebAssembly builds (emcc)', () => has('emcc')],
  ['cmake', 'the build', () => has('cmake')],
  ['gcc', 'the native C tests (ASan, UBSan)', () => has('cc')],
  ['clang', 'the fuzzers (libFuzzer)', () => has('clang')],
  ['clang-19', 'the relaxed-SIMD builds (the kernels, src/kernels.c and src/matmul_*.c: LLVM 14 emits pre-standard relaxed opcodes)', () => has('clang-19')],
  ['lld-19', "clang-19's wasm linker", () => has('wasm-ld-19')],
  ['libclang-rt-14-dev', "libFuzzer's runtime", hasFuzzerRuntime],
  ['python3-torch', 'the PyTorch reference (tools/reference.py, tools/convert.py), at /usr/bin/python3',
    () => spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0],
  ['python3-numpy', 'tools/convert.py', () => spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0],
  ['python3-yaml', "tools/convert.py --config (BorealisAI/minRNNs's config.yaml)", () => spawnSync('/usr/bin/python3', ['-c', 'import yaml'], { stdio: 'ignore' }).status === 0],
  ['python3-sentencepiece', 'tools/train.py --tokenizer FILE.model and its test', () => spawnSync('/usr/bin/python3', ['-c', 'import sentencepiece'], { stdio: 'ignore' }).status === 0],
  ['python3-regex', "tools/bpe.py (GPT-2's pre-tokenizer needs \\p{L})", () => spawnSync('/usr/bin/python3', ['-c', 'import regex'], { stdio: 'ignore' }).status === 0],
  // Debian's torch otherwise runs on the generic reference BLAS, about 50x slower
  ['libopenblas0-pthread', "a fast BLAS for Debian's torch", () => existsSync('/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3')],
  ['chromium', 'the browser tests (driven by playwright-core)', () => existsSync(process.env.CHROMIUM ?? '/usr/bin/chromium')],
  ['firefox-esr', 'the browser tests in Firefox (WebDriver BiDi, driven by puppeteer-core)', () => existsSync(process.env.FIREFOX ?? '/usr/bin/firefox-esr')],
  ['webkit2gtk-driver', "the browser tests in WebKit (WebKitWebDriver and WebKitGTK's MiniBrowser, driven by selenium-webdriver)",
    () => existsSync(process.env.WEBKIT_DRIVER ?? '/usr/bin/WebKitWebDriver') &&
      existsSync(process.env.MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser')],
  ['xvfb', 'a display for WebKit (MiniBrowser has no headless mode)', () => existsSync('/usr/bin/Xvfb')],
];

function sh(cmd, args) {
  console.error(`> ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return !r.error && r.status === 0;
}

const missing = NEEDS.filter(([, , present]) => !present());
if (process.argv.includes('--list')) {
  for (const [pkg, why] of missing) console.log(`${pkg}\t${why}`);
  process.exit(0);
}
if (missing.length) {
  const packages = missing.map(([pkg]) => pkg);
  console.error(`npm test needs, and this machine lacks:\n${missing.map(([pkg, why]) => `  ${pkg.padEnd(22)}${why}`).join('\n')}`);
  const sudo = process.getuid?.() === 0 ? '' : has('sudo') ? 'sudo ' : null; // '' as root
  const apt = (args) => (sudo ? sh('sudo', ['apt-get', ...args]) : sh('apt-get', args));
  if (!has('apt-get') || sudo === null) {
    console.error(`Cannot install them here (${!has('apt-get') ? 'no apt-get: not Debian or Ubuntu' : 'not root and no sudo'}). ` +
      `Install these packages, or their equivalents, then run npm test again:\n  ${packages.join(' ')}`);
    process.exit(1);
  }
  console.error(`installing with ${sudo}apt-get: ${packages.join(' ')}`);
  if (!apt(['update', '-qq']) || !apt(['install', '-y', '-qq', ...packages])) {
    console.error(`apt-get could not install: ${packages.join(' ')}. Install them by hand, then run npm test again.`);
    process.exit(1);
  }
  const still = NEEDS.filter(([, , present]) => !present()).map(([pkg]) => pkg);
  if (still.length) {
    console.error(`installed, but still missing: ${still.join(' ')}`);
    process.exit(1);
  }
}

// The dev dependencies (playwright-core drives chromium, puppeteer-core firefox, selenium-webdriver WebKit;
// typescript checks the types)
const devDependencies = ['binaryen', 'playwright-core', 'puppeteer-core', 'selenium-webdriver', 'typescript'];
if (!devDependencies.every((d) => existsSync(`${root}/node_modules/${d}/package.json`))) {
  console.error(`installing the dev dependencies (${devDependencies.join(', ')}) with npm ci`);
  const npm = process.env.npm_execpath;
  if (!(npm ? sh(process.execPath, [npm, 'ci', '--no-audit', '--no-fund']) : sh('npm', ['ci', '--no-audit', '--no-fund']))) process.exit(1);
}
console.error(`set-up: everything npm test needs is here (${NEEDS.length} system packages, ${devDependencies.length} dev dependencies)`);
