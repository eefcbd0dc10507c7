// The package's TypeScript declarations (js/index.d.ts) cover the public API: a typed example that uses
// all of it compiles with `tsc --noEmit --strict`, and a wrong use does not.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

function check(source) {
  const dir = mkdtempSync(join(tmpdir(), 'mingru-types-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'mingru-wasm'), 'dir'); // resolved through package.json's exports
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
    copyFileSync(new URL('../types/tsconfig.json', import.meta.url), join(dir, 'tsconfig.json'));
    writeFileSync(join(dir, 'example.ts'), source);
    return spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the typed example compiles against the declarations', async () => {
  const { readFileSync } = await import('node:fs');
  const r = check(readFileSync(new URL('../types/example.ts', import.meta.url), 'utf8'));
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('a wrong use is a type error', () => {
  const r = check("import { load } from 'mingru-wasm';\nconst lm = await load(42);\nawait lm.step('a');\n");
  assert.notEqual(r.status, 0);
  assert.match(r.stdout, /error TS2345/);
});
