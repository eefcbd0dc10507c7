// tools/train.py at scale: under torchrun (DistributedDataParallel, gloo on CPU) and over a tokenizer's vocabulary.
// Runs Debian's PyTorch at /usr/bin/python3 (as tests/js/reference.test.mjs); in CI torch, torch.distributed,
// python3-sentencepiece and python3-regex are installed by scripts/setup.mjs, so these always run there.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const python = process.env.MINGRU_PYTHON ?? '/usr/bin/python3';
const can = (code) => spawnSync(python, ['-c', code], { stdio: 'ignore' }).status === 0;
const skipFor = (code, what) => !process.env.CI && !can(code) && `no ${what} for ${python}`;
const skipDdp = skipFor('import torch.distributed as d; assert d.is_available() and d.is_gloo_available()', 'torch.distributed (gloo)');
const skipTok = skipFor('import torch, sentencepiece, regex', 'torch, sentencepiece and regex');

const tool = (path) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const TEXT = tool('README.md'); // any text: the runs are compared with each other
const SMALL = ['--text', TEXT, '--dim', '32', '--depth', '2', '--seq-len', '32', '--threads', '1', '--eval-every', '1000'];

function inTemp(prefix, fn) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function py(args) {
  const r = spawnSync(python, args, { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const log = (out) => JSON.parse(readFileSync(out.replace(/\.pt$/, '.log.json'), 'utf8'));

test('tools/train.py under torchrun with 2 processes (gloo, CPU) takes the steps of 1 process with the same global batch (losses to 1e-5)',
  { skip: skipDdp, timeout: 120_000 }, () => inTemp('mingru-ddp-', (dir) => {
  const opts = [...SMALL, '--steps', '12', '--batch', '8', '--lr', '1e-2', '--warmup', '2'];
  py([tool('tools/train.py'), '--out', join(dir, 'one.pt'), ...opts]);
  // Debian's torch 1.13 on Python 3.11 cannot read torchrun's default --redirects/--tee 0 (Std.from_str returns None)
  py(['-m', 'torch.distributed.run', '--redirects', '1', '--tee', '1', '--nproc_per_node', '2',
    tool('tools/train.py'), '--out', join(dir, 'two.pt'), ...opts]);
  const one = log(join(dir, 'one.pt')), two = log(join(dir, 'two.pt'));
  assert.equal(one.world_size, 1);
  assert.equal(two.world_size, 2);
  assert.equal(one.train_losses.length, 12);
  assert.equal(two.train_losses.length, 12);
  one.train_losses.forEach((l, i) => assert.ok(Math.abs(l - two.train_losses[i]) <= 1e-5,
    `step ${i + 1}: 1 process ${l}, 2 processes ${two.train_losses[i]}`));
  assert.ok(one.train_losses[11] < one.train_losses[0] - 0.5, `the runs learn: ${one.train_losses}`);
  assert.ok(Math.abs(one.val_bpb - two.val_bpb) <= 1e-5, `validation: ${one.val_bpb} and ${two.val_bpb}`);
}));

test('tools/train.py --tokenizer trains over a SentencePiece .model and a tokenizer.json (tools/bpe.py, checked against sentencepiece); the log names the file',
  { skip: skipTok, timeout: 120_000 }, () => inTemp('mingru-tok-', (dir) => {
  const made = JSON.parse(py([tool('tests/helpers/tokenizer_files.py'), TEXT, dir]));
  assert.ok(made.words > 1000 && made.merges === 64, JSON.stringify(made));
  for (const [file, numTokens] of [['sp.model', 700], ['gpt2.json', made.num_tokens]]) {
    const out = join(dir, `${file}.pt`);
    py([tool('tools/train.py'), '--out', out, '--tokenizer', join(dir, file), ...SMALL, '--steps', '2', '--batch', '4']);
    const { tokenizer, train_tokens, train_bytes, val_bpb } = log(out);
    assert.equal(tokenizer.kind, file.endsWith('.model') ? 'sentencepiece' : 'tokenizer.json');
    assert.equal(tokenizer.path, join(dir, file));
    assert.match(tokenizer.sha256, /^[0-9a-f]{64}$/);
    assert.equal(tokenizer.num_tokens, numTokens);
    assert.ok(train_tokens < 0.9 * train_bytes, `${file}: ${train_tokens} tokens for ${train_bytes} bytes`);
    // an untrained model's bits per byte: about log2(numTokens) per token, spread over the bytes each token covers
    assert.ok(val_bpb > 1 && val_bpb < Math.log2(numTokens), `${file}: ${val_bpb} bits/byte`);
    const info = py([tool('tools/convert.py'), out, join(dir, `${file}.safetensors`)]);
    assert.match(info, new RegExp(`${numTokens} tokens`));
  }
}));
