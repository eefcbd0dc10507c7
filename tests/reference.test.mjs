// The committed golden fixture is exactly what tools/reference.py computes: regenerate it with
// PyTorch (Debian's python3-torch, /usr/bin/python3) and compare bytes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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

test('tools/lm_fixtures.py (reference minLM + tools/convert.py) regenerates tests/fixtures/lm byte for byte',
  { skip: !hasTorch && !process.env.CI && `no PyTorch at ${python}` }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'mingru-lm-'));
    try {
      const r = spawnSync(python, [new URL('../tools/lm_fixtures.py', import.meta.url).pathname, dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const committed = new URL('./fixtures/lm/', import.meta.url);
      const names = readdirSync(committed).sort();
      assert.deepEqual(readdirSync(dir).sort(), names);
      for (const name of names) {
        assert.ok(readFileSync(join(dir, name)).equals(readFileSync(new URL(name, committed))), `${name} differs`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

test('tools/convert.py reads wrapped and prefixed checkpoints and refuses broken ones, naming the tensor',
  { skip: !hasTorch && !process.env.CI && `no PyTorch at ${python}` }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'mingru-convert-'));
    try {
      const script = `
import sys, torch
sys.path.insert(0, ${JSON.stringify(new URL('../tools', import.meta.url).pathname)})
from reference import MinLMRef
torch.manual_seed(0)
sd = MinLMRef(256, 16, 2, ff_mult=2, expansion=1.5).state_dict()
d = sys.argv[1]
torch.save({'model': {'module.' + k: v for k, v in sd.items()}, 'step': 3}, d + '/wrapped.pt')
torch.save({k: v for k, v in sd.items() if k != 'layers.1.4.0.bias'}, d + '/missing.pt')
bad = dict(sd); bad['layers.1.3.weight'] = torch.ones(15); torch.save(bad, d + '/shape.pt')
extra = dict(sd); extra['layers.0.2.extra'] = torch.ones(3); torch.save(extra, d + '/extra.pt')
torch.save([1, 2], d + '/list.pt')
`;
      const made = spawnSync(python, ['-c', script, dir], { encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
      const convert = (name, ...args) => spawnSync(python, [new URL('../tools/convert.py', import.meta.url).pathname,
        join(dir, name), join(dir, `${name}.safetensors`), ...args], { encoding: 'utf8' });
      const ok = convert('wrapped.pt', '--dtype', 'q8', '--name', 'tiny');
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, /minGRU LM, 2 layers, dim 16, inner 24/);
      for (const [name, pattern] of [['missing.pt', /layers\.1\.4\.0\.bias is missing/], ['shape.pt', /layers\.1\.3\.weight has shape \[15\]/],
        ['extra.pt', /layers\.0\.2\.extra is not part/], ['list.pt', /not a state_dict/], ['nonexistent.pt', /No such file/]]) {
        const r = convert(name);
        assert.equal(r.status, 1, `${name}: ${r.stdout}`);
        assert.match(r.stderr, pattern);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
