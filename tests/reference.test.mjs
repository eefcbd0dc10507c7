// The committed golden fixture is exactly what tools/reference.py computes: regenerate it with
// PyTorch (Debian's python3-torch, /usr/bin/python3) and compare bytes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const python = process.env.MINGRU_PYTHON ?? '/usr/bin/python3';
const hasTorch = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

// In CI torch is installed by .ci/run, so the check always runs there; elsewhere it is skipped without torch.
test('tools/reference.py regenerates tests/fixtures/golden-layers.bin byte for byte',
  { skip: !hasTorch && !process.env.CI && `no PyTorch at ${python}` }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'mingru-ref-'));
    try {
      const out = join(dir, 'golden.bin');
      const r = spawnSync(python, [new URL('../tools/reference.py', import.meta.url).pathname, out], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(readFileSync(out).equals(readFileSync(new URL('./fixtures/golden-layers.bin', import.meta.url))),
        'the fixture differs from what the reference computes now');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
