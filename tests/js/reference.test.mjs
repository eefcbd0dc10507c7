// The committed fixtures are what the scripts in tools/ compute: regenerate them with PyTorch (Debian's
// python3-torch, /usr/bin/python3) and compare. Inputs and weights (seeded random numbers, no arithmetic)
// must be identical bytes; outputs of matrix products may differ in the last bits between BLAS builds
// (Debian's generic BLAS or OpenBLAS), so they are compared to 1e-5.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { closeRatio, readGolden } from '../helpers/golden.mjs';

const python = process.env.MINGRU_PYTHON ?? '/usr/bin/python3';
const hasTorch = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

/** A test run with PyTorch in a fresh temporary folder, removed after it. In CI torch is installed by .ci/run, so
 * these always run there; elsewhere they are skipped without torch. */
function torchTest(name, prefix, fn) {
  test(name, { skip: !hasTorch && !process.env.CI && `no PyTorch at ${python}` }, () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    try {
      fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

torchTest('tools/reference.py regenerates tests/fixtures/golden-layers.bin (inputs exactly, outputs to 1e-5)',
  'mingru-ref-', (dir) => {
  const out = join(dir, 'golden.bin');
  const r = spawnSync(python, [new URL('../../tools/reference.py', import.meta.url).pathname, out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const fresh = readGolden(out), committed = readGolden();
  assert.equal(fresh.length, committed.length);
  fresh.forEach((c, i) => {
    const k = committed[i];
    for (const key of ['name', 'cell', 'dim', 'expansionFactor', 'dimInner', 'batch', 'seqLen']) assert.equal(c[key], k[key]);
    for (const key of ['wIn', 'wOut', 'x', 'prevHidden']) assert.deepEqual(c[key], k[key], `${c.name} ${key}`);
    assert.ok(closeRatio(c.output, k.output, 1e-5, 1e-5) <= 1, `${c.name} output`);
    assert.ok(closeRatio(c.hidden, k.hidden, 1e-5, 1e-5) <= 1, `${c.name} hidden`);
  });
});

torchTest('tools/lm_fixtures.py (reference minLM + tools/convert.py) regenerates tests/fixtures/lm (models exactly, logits to 1e-5)',
  'mingru-lm-', (dir) => {
  const r = spawnSync(python, [new URL('../../tools/lm_fixtures.py', import.meta.url).pathname, dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const committed = new URL('../fixtures/lm/', import.meta.url);
  const names = readdirSync(committed).sort();
  assert.deepEqual(readdirSync(dir).sort(), names);
  for (const name of names) {
    const fresh = readFileSync(join(dir, name)), old = readFileSync(new URL(name, committed));
    if (!name.endsWith('.expected.bin')) {
      assert.ok(fresh.equals(old), `${name} differs`);
      continue;
    }
    const T = old.readUInt32LE(8), header = 16 + 4 * T;
    assert.ok(fresh.subarray(0, header).equals(old.subarray(0, header)), `${name}: tokens differ`);
    const f32 = (b) => new Float32Array(b.buffer.slice(b.byteOffset + header, b.byteOffset + b.length));
    assert.ok(closeRatio(f32(fresh), f32(old), 1e-5, 1e-5) <= 1, `${name}: logits differ`);
  }
});

torchTest('tools/train_fixtures.py (PyTorch autograd + AdamW) regenerates tests/fixtures/train (batches exactly, numbers to 1e-6)',
  'mingru-train-', (dir) => {
  const r = spawnSync(python, [new URL('../../tools/train_fixtures.py', import.meta.url).pathname, dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const committed = new URL('../fixtures/train/', import.meta.url);
  const names = readdirSync(committed).sort();
  assert.deepEqual(readdirSync(dir).sort(), names);
  for (const name of names) {
    const fresh = readFileSync(join(dir, name)), old = readFileSync(new URL(name, committed));
    if (name === 'manifest.json' || name.endsWith('.safetensors')) { // the minRNNs models, as tools/convert.py writes them
      assert.ok(fresh.equals(old), `${name} differs`);
      continue;
    }
    // the header, names and tokens end where the float32 results (losses, norms, gradients, weights) begin
    const steps = old.readUInt32LE(16), batch = old.readUInt32LE(8), seqLen = old.readUInt32LE(12);
    let at = 48;
    for (let i = 0, n = old.readUInt32LE(44); i < n; i++) at += 4 + old.readUInt32LE(at) + 4;
    at += 4 * steps * batch * (seqLen + 1);
    assert.equal(fresh.length, old.length, `${name}: size`);
    assert.ok(fresh.subarray(0, at).equals(old.subarray(0, at)), `${name}: header, names or batches differ`);
    const f32 = (b) => new Float32Array(b.buffer.slice(b.byteOffset + at, b.byteOffset + b.length));
    assert.ok(closeRatio(f32(fresh), f32(old), 1e-6, 1e-6) <= 1, `${name}: results differ`);
  }
});

torchTest('tools/convert.py reads wrapped and prefixed checkpoints and refuses broken ones, naming the tensor',
  'mingru-convert-', (dir) => {
  const script = `
import sys, torch
sys.path.insert(0, ${JSON.stringify(new URL('../../tools', import.meta.url).pathname)})
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
  const convert = (name, ...args) => spawnSync(python, [new URL('../../tools/convert.py', import.meta.url).pathname,
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
});

const CONVERT = fileURLToPath(new URL('../../tools/convert.py', import.meta.url));

torchTest('tools/convert.py refuses a whole pickled module (torch.save(model)), importable class or not, asking for its state_dict',
  'mingru-convert-module-', (dir) => {
  // importable.pt: tools/reference.py's MinLMRef, which convert.py can import (tools/ is its sys.path[0]);
  // script.pt: a class of the saving script's __main__; module.pt: a class of a module convert.py cannot find
  writeFileSync(join(dir, 'my_models.py'), 'from torch import nn\nclass MinLM(nn.Module):\n    pass\n');
  const script = `
import sys, torch
from torch import nn
sys.path[:0] = [${JSON.stringify(fileURLToPath(new URL('../../tools', import.meta.url)))}, '.']
from reference import MinLMRef
import my_models
class MinLM(nn.Module):
    pass
torch.save(MinLMRef(256, 16, 2), 'importable.pt')
torch.save(MinLM(), 'script.pt')
torch.save(my_models.MinLM(), 'module.pt')
`;
  const made = spawnSync(python, ['-c', script], { cwd: dir, encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  rmSync(join(dir, 'my_models.py'));
  const saveSd = (name) => `not a state_dict: save it with torch.save(model.state_dict(), '${name}') and convert that\n`;
  const unimportable = (name, why) => `convert.py: error: ${name} holds a pickled object whose class cannot be imported here (${why}), `
    + `such as a whole module saved with torch.save(model, ...), ${saveSd(name)}`;
  for (const [name, stderr] of [
    ['importable.pt', `convert.py: error: importable.pt holds a whole MinLMRef module, ${saveSd('importable.pt')}`],
    ['script.pt', unimportable('script.pt', `Can't get attribute 'MinLM' on <module '__main__' from '${CONVERT}'>`)],
    ['module.pt', unimportable('module.pt', "No module named 'my_models'")]]) {
    const r = spawnSync(python, [CONVERT, name, 'out.safetensors'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.stderr, stderr, name);
    assert.equal(r.status, 1, name);
    assert.equal(r.stdout, '', name);
    assert.ok(!existsSync(join(dir, 'out.safetensors')), name);
  }
});

// the first python3 on PATH without torch (pyenv's, on the development machine), if any
const bare = (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'python3'))
  .find((p) => existsSync(p) && spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 1);

test('tools/convert.py run by a Python without torch names what is missing, without a traceback (exit status 1)',
  { skip: !bare && 'every python3 on PATH has torch' }, () => {
    const probe = spawnSync(bare, ['-c', `import sys, platform
print(sys.executable, platform.python_version())
try:
    import numpy
    print('numpy')
except ImportError:
    print('no numpy')`], { encoding: 'utf8' });
    assert.equal(probe.status, 0, probe.stderr);
    const [who, numpy] = probe.stdout.trim().split('\n');
    const withNumpy = numpy === 'numpy';
    const r = spawnSync(bare, [CONVERT, 'model.pt', 'model.safetensors'], { encoding: 'utf8' });
    assert.equal(r.stderr, `convert.py needs PyTorch and numpy; this Python (${who}) has ${withNumpy ? 'no PyTorch' : 'neither'}. `
      + `On Debian: apt-get install python3-torch${withNumpy ? '' : ' python3-numpy'}, then run it with /usr/bin/python3; `
      + `elsewhere: pip install torch${withNumpy ? '' : ' numpy'}.\n`);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    const help = spawnSync(bare, [CONVERT, '--help'], { encoding: 'utf8' }); // argparse needs neither
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^usage: convert\.py /);
  });

test('PyTorch reads a model that the engine trained and saved (f32 and q8, its activations rounded as the engine rounds them): the reference gives the engine\'s logits to 1e-4',
  { skip: !hasTorch && !process.env.CI && `no PyTorch at ${python}` }, async () => {
  const { load } = await import('../../js/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'mingru-saved-'));
  try {
    const lm = await load(readFileSync(new URL('../fixtures/lm/gru-d24-l3-conv3.safetensors', import.meta.url)));
    for await (const _ of lm.train('the engine learns and PyTorch reads what it learned. '.repeat(10), { steps: 5, batchSize: 2, seqLen: 16 }));
    const tokens = lm.encode('a sentence the reference reads');
    for (const dtype of ['f32', 'q8']) {
      const file = join(dir, `${dtype}.safetensors`);
      writeFileSync(file, await lm.save({ dtype }));
      const saved = await load(file);
      const engine = await saved.forward(tokens, { allLogits: true });
      saved.dispose();
      const script = `
import json, sys, torch
sys.path.insert(0, ${JSON.stringify(fileURLToPath(new URL('../../tools', import.meta.url)))})
from lm_fixtures import read_model_file, rebuild
model = rebuild(*read_model_file(sys.argv[1]))
# the int8 matrices' products in the engine's Q8 arithmetic (docs/kernels.md): each input row first rounded to
# steps of max|row| / 63, as the engine does (x * (1 / step), rounded half to even)
data = open(sys.argv[1], 'rb').read()
i8 = {k for k, v in json.loads(data[8:8 + int.from_bytes(data[:8], 'little')]).items() if k != '__metadata__' and v['dtype'] == 'I8'}
def q7(dim):
    def hook(module, args):
        step = args[0].abs().amax(dim, keepdim=True) / 63
        step = torch.where(step >= 1e-30, step, torch.ones_like(step))
        return (torch.round(args[0] * (1 / step)) * step,)
    return hook
for name, mod in model.named_modules():
    if name + '.weight' in i8 and isinstance(mod, torch.nn.Linear): mod.register_forward_pre_hook(q7(-1))
    if name + '.weight' in i8 and isinstance(mod, torch.nn.Conv1d) and mod.kernel_size == (1,): mod.register_forward_pre_hook(q7(1))
with torch.no_grad():
    print(json.dumps(model(torch.tensor([${Array.from(tokens).join(',')}])[None])[0].flatten().tolist()))
`;
      const r = spawnSync(python, ['-c', script, file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const reference = Float32Array.from(JSON.parse(r.stdout));
      assert.ok(closeRatio(engine, reference, 1e-4, 1e-4) <= 1, `${dtype}: the engine and PyTorch differ on the saved model`);
    }
    lm.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
