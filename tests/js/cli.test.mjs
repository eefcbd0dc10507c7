// The mingru-wasm command (bin/mingru.mjs): each case compares the whole answer, stdout, stderr and exit
// status (0 done, 1 failed, 2 a usage error), with what it must be. Options are checked before the model is
// loaded and before anything is printed; the command accepts exactly the values the API accepts; the text it
// prints is the API's for the same options.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { load } from '../../js/index.js';

const bin = fileURLToPath(new URL('../../bin/mingru.mjs', import.meta.url));
const MODEL = fileURLToPath(new URL('../../models/kjv.q8.safetensors', import.meta.url));
const TINY = fileURLToPath(new URL('../fixtures/lm/tiny-gru-d4-l2-conv2.safetensors', import.meta.url));
const MISSING = join(tmpdir(), 'no-such-dir', 'model.safetensors');
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
const work = mkdtempSync(join(tmpdir(), 'mingru-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));

function run(...args) {
  const { status, stdout, stderr } = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status, stdout, stderr };
}
const ok = (stdout) => ({ status: 0, stdout, stderr: '' });
const usage = (message, more = 'help generate') =>
  ({ status: 2, stdout: '', stderr: `mingru-wasm: ${message}\nTry 'mingru-wasm ${more}' for more information.\n` });
const failed = (message) => ({ status: 1, stdout: '', stderr: `mingru-wasm: ${message}\n` });

/** The text lm.generate() writes for `prompt` and `options` (the API, in this process). */
async function apiText(prompt, options) {
  const lm = await load(MODEL);
  let text = '';
  for await (const piece of lm.generate(prompt, options)) text += piece;
  lm.dispose();
  return text;
}

const TOP_HELP = `usage: mingru-wasm COMMAND ...

Runs and trains minGRU and minLSTM language models (.safetensors files made by tools/convert.py or by train).

commands:
  generate MODEL --prompt TEXT [options]          continue TEXT with the model, streamed to stdout; Ctrl+C stops
  info MODEL                                      print the model's configuration and metadata
  train [MODEL | --new] TEXT --steps N --out OUT  fine-tune MODEL (or a new model) on the text in TEXT and save it
  compress MODEL FILE -o OUT                      compress FILE with the model (arithmetic coding), learning while it reads
  decompress MODEL FILE -o OUT                    restore a file made by compress, with the same model
  evaluate MODEL FILE [--json]                    how well the model predicts FILE, in bits per byte
  help [COMMAND]                                  print this help, or the options of COMMAND

options:
  -h, --help                                      print this help
  --version                                       print the version

'mingru-wasm help COMMAND' lists the options of COMMAND.
`;

const GENERATE_HELP = `usage: mingru-wasm generate MODEL --prompt TEXT [options]

Reads TEXT with the model in MODEL (a .safetensors file made by tools/convert.py), then samples what
follows and prints it after TEXT as it comes. The same model, prompt, options and seed give the same text
(in a browser's relaxed-SIMD build an F32 model's text may differ: docs/api.md, generate options).
Ctrl+C stops.

options:
  --prompt TEXT               the text to continue
                              required, not empty
  --max-tokens N              tokens to generate
                              an integer in [0, 2147483647]; default 256
  --temperature T             divides the logits; 0 is greedy
                              a number in [0, 1000000]; default 1
  --top-k K                   sample among the K most likely tokens; 0 is off
                              an integer in [0, the vocabulary size]; default 0
  --top-p P                   sample among the most likely tokens whose probabilities add up to P
                              a number in (0, 1]; default 1
  --min-p P                   drop tokens less likely than P times the most likely one
                              a number in [0, 1]; default 0
  --repetition-penalty R      penalises recent tokens; 1 is off
                              a number in (0, 1000000]; default 1
  --penalty-window N          how many recent tokens the penalty looks at
                              an integer in [0, 256]; default 64
  --seed S                    the sampler's seed
                              an integer in [0, 9007199254740991]; default 0
  --stop TEXT                 end before TEXT, which is not printed
                              not empty; give --stop again for more than one
  --tokenizer FILE            a tokenizer.json or SentencePiece .model, for a model whose file has none (or instead of its own)
  --threads N                 threads, 1 to 16; default one per core (up to 8)
  -h, --help                  print this help

Integers are decimal digits (not 0x20 or 1e2); the other numbers are decimal, with an optional
exponent (0.5, 1e-3). A value may start with '-' (--temperature -1 is read as the value -1).
`;

const INFO_HELP = `usage: mingru-wasm info MODEL

Prints the configuration of the model in MODEL (cell, size, widths, vocabulary), its identity and
its metadata, one "key: value" a line.

options:
  -h, --help                  print this help
`;

test('--version prints the version of package.json', () => {
  assert.deepEqual(run('--version'), ok(`mingru-wasm ${version}\n`));
});

test('--help, -h and help print the commands', () => {
  for (const args of [['--help'], ['-h'], ['help'], ['help', 'help']]) assert.deepEqual(run(...args), ok(TOP_HELP), args.join(' '));
});

test("help generate, generate --help and generate -h print generate's options, with their ranges and defaults", () => {
  for (const args of [['help', 'generate'], ['generate', '--help'], ['generate', MODEL, '-h'], ['--help', 'generate']]) {
    assert.deepEqual(run(...args), ok(GENERATE_HELP), args.join(' '));
  }
});

test("help info and info --help print info's options", () => {
  for (const args of [['help', 'info'], ['info', '--help']]) assert.deepEqual(run(...args), ok(INFO_HELP), args.join(' '));
});

test('no command, an unknown command and an unknown help topic are usage errors, with the nearest command', () => {
  assert.deepEqual(run(), usage('no command given: mingru-wasm generate MODEL --prompt TEXT, mingru-wasm info MODEL, mingru-wasm train ..., or mingru-wasm evaluate MODEL FILE', '--help'));
  assert.deepEqual(run('generat', MODEL), usage('unknown command generat; did you mean generate?', '--help'));
  assert.deepEqual(run('help', 'inof'), usage('unknown command inof; did you mean info?', '--help'));
  assert.deepEqual(run('frobnicate'), usage('unknown command frobnicate', '--help'));
});

test('an unknown option is named in our words, with the nearest option', () => {
  const generate = (...args) => run('generate', MODEL, '--prompt', 'hi', ...args);
  assert.deepEqual(generate('--max_tokens', '5'), usage('unknown option --max_tokens; did you mean --max-tokens?'));
  assert.deepEqual(generate('--temp=0'), usage('unknown option --temp; did you mean --temperature?'));
  assert.deepEqual(generate('--colour'), usage('unknown option --colour'));
  assert.deepEqual(run('info', MODEL, '--prompt', 'hi'), usage('unknown option --prompt', 'help info'));
  assert.deepEqual(run('--verison'), usage('unknown option --verison; did you mean --version?', '--help'));
  assert.deepEqual(generate('--help=yes'), usage('--help takes no value'));
  assert.deepEqual(generate('--seed'), usage('--seed needs a value: --seed S'));
});

// Every listed mistake, with a model path that does not exist: the answer is the usage error, so the options
// were checked before the model was loaded, and nothing was printed.
const badValues = [
  [['--top-p', '2'], '--top-p must be a number in (0, 1], got 2'],
  [['--temperature=-1'], '--temperature must be a number in [0, 1000000], got -1'],
  [['--temperature', '-1'], '--temperature must be a number in [0, 1000000], got -1'],
  [['--seed=-3'], '--seed must be an integer in [0, 9007199254740991], got -3'],
  [['--repetition-penalty', '0'], '--repetition-penalty must be a number in (0, 1000000], got 0'],
  [['--max-tokens=-3'], '--max-tokens must be an integer in [0, 2147483647], got -3'],
  [['--max-tokens', '0x20'], '--max-tokens must be an integer in [0, 2147483647], got 0x20'],
  [['--max-tokens', '1e2'], '--max-tokens must be an integer in [0, 2147483647], got 1e2'],
  [['--top-k', '0x20'], '--top-k must be an integer in [0, the vocabulary size], got 0x20'],
  [['--top-k', '1e2'], '--top-k must be an integer in [0, the vocabulary size], got 1e2'],
  [['--top-k', '-1'], '--top-k must be an integer in [0, the vocabulary size], got -1'],
  [['--seed', '0x20'], '--seed must be an integer in [0, 9007199254740991], got 0x20'],
  [['--seed', '1e2'], '--seed must be an integer in [0, 9007199254740991], got 1e2'],
  [['--seed', '2.5'], '--seed must be an integer in [0, 9007199254740991], got 2.5'],
  [['--penalty-window', '257'], '--penalty-window must be an integer in [0, 256], got 257'],
  [['--temperature', 'hot'], '--temperature must be a number in [0, 1000000], got hot'],
  [['--temperature', ''], '--temperature must be a number in [0, 1000000], got ""'],
  [['--min-p', '0x1'], '--min-p must be a number in [0, 1], got 0x1'],
  [['--top-p', 'Infinity'], '--top-p must be a number in (0, 1], got Infinity'],
  [['--stop', ''], '--stop is empty: give the text to end before, e.g. --stop "."'],
];
for (const [args, message] of badValues) {
  test(`generate ${args.join(' ')} is refused before loading: ${message}`, () => {
    assert.deepEqual(run('generate', MISSING, '--prompt', 'hi', ...args), usage(message));
  });
}

test("--top-k above the model's vocabulary is refused once the model is loaded, before anything is printed", () => {
  assert.deepEqual(run('generate', MODEL, '--prompt', 'hi', '--top-k', '1000'),
    usage("--top-k must be an integer in [0, 256] (256 is the model's vocabulary size), got 1000"));
});

test('a missing or empty prompt, a missing model and a prompt of several unquoted words are usage errors', () => {
  assert.deepEqual(run('generate', MODEL, '--prompt', ''), usage('--prompt is empty: give the text to continue, e.g. --prompt "In the beginning"'));
  assert.deepEqual(run('generate', MODEL), usage('generate needs --prompt: the text to continue, e.g. --prompt "In the beginning"'));
  assert.deepEqual(run('generate', '--prompt', 'hi'), usage('generate needs a model file: mingru-wasm generate MODEL --prompt TEXT [options]'));
  assert.deepEqual(run('info'), usage('info needs a model file: mingru-wasm info MODEL', 'help info'));
  assert.deepEqual(run('generate', MODEL, '--prompt', 'In', 'the', 'beginning'),
    usage('unexpected argument "the" (quote a prompt of several words: --prompt "In the beginning")'));
});

test('a value may start with "-": --prompt -1', () => {
  assert.deepEqual(run('generate', MODEL, '--prompt', '-1', '--max-tokens', '0'), ok('-1\n'));
});

// Each numeric option at both ends of its range and just beyond: the command accepts and refuses exactly
// what lm.generate() does.
const inside = {
  low: { 'max-tokens': '0', temperature: '0', 'top-k': '0', 'top-p': '5e-324', 'min-p': '0', 'repetition-penalty': '5e-324', 'penalty-window': '0', seed: '0' },
  high: { 'max-tokens': '2147483647', temperature: '1000000', 'top-k': '256', 'top-p': '1', 'min-p': '1', 'repetition-penalty': '1000000', 'penalty-window': '256', seed: '9007199254740991' },
};
const outside = {
  'max-tokens': ['-1', '2147483648'], temperature: ['-5e-324', '1000000.0000000002'], 'top-k': ['-1', '257'],
  'top-p': ['0', '1.0000000000000002'], 'min-p': ['-5e-324', '1.0000000000000002'],
  'repetition-penalty': ['0', '1000000.0000000002'], 'penalty-window': ['-1', '257'], seed: ['-1', '9007199254740992'],
};
const apiName = (flag) => flag.replace(/-(.)/g, (_, c) => c.toUpperCase());
const apiOptions = (values) => Object.fromEntries(Object.entries(values).map(([flag, v]) => [apiName(flag), Number(v)]));
const cliOptions = (values) => Object.entries(values).flatMap(([flag, v]) => [`--${flag}`, v]);

test('the command takes each option at both ends of the range the API takes, and prints the API text', async () => {
  // the high end generates until the first space: min-p 1 keeps only the most likely token
  const stop = { low: [], high: ['--stop', ' '] };
  for (const end of ['low', 'high']) {
    const expected = await apiText('In the beginning', { ...apiOptions(inside[end]), stop: stop[end][1] });
    assert.deepEqual(run('generate', MODEL, '--prompt', 'In the beginning', ...cliOptions(inside[end]), ...stop[end]), ok(`In the beginning${expected}\n`), end);
  }
});

test('the command refuses each option just beyond its range, as the API does', async () => {
  const lm = await load(MODEL);
  for (const [flag, values] of Object.entries(outside)) {
    for (const v of values) {
      const { status, stdout } = run('generate', MODEL, '--prompt', 'hi', `--${flag}`, v);
      assert.deepEqual([status, stdout], [2, ''], `--${flag} ${v}`);
      await assert.rejects(lm.generate('hi', { maxTokens: 0, [apiName(flag)]: Number(v) }).next(), (e) => e.code === 'MG_EINVAL', `${apiName(flag)}: ${v}`);
    }
  }
  lm.dispose();
});

test('generate with --temperature 0 and a seed prints the prompt, then the text the API generates', async () => {
  const expected = await apiText('And God said', { maxTokens: 80, temperature: 0, seed: 7 });
  assert.deepEqual(run('generate', MODEL, '--prompt', 'And God said', '--max-tokens', '80', '--temperature', '0', '--seed', '7'),
    ok(`And God said${expected}\n`));
});

test('generate passes every sampling option to the API (numbers with exponents, several --stop)', async () => {
  const options = { maxTokens: 200, temperature: 0.8, topK: 40, topP: 0.95, minP: 1e-3, repetitionPenalty: 1.1, penaltyWindow: 32, seed: 12, stop: ['LORD', ';'] };
  const expected = await apiText('And God said', options);
  assert.deepEqual(run('generate', MODEL, '--prompt', 'And God said', '--max-tokens', '200', '--temperature', '.8', '--top-k=40',
    '--top-p', '0.95', '--min-p', '1e-3', '--repetition-penalty', '1.1', '--penalty-window', '32', '--seed', '12',
    '--stop', 'LORD', '--stop', ';'), ok(`And God said${expected}\n`));
});

test('Ctrl+C stops generate: the text so far, a newline, exit status 0', async () => {
  const child = spawn(process.execPath, [bin, 'generate', MODEL, '--prompt', 'And', '--temperature', '0', '--max-tokens', '1000000']);
  let stdout = '', stderr = '', sent = false;
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => {
    stdout += d;
    if (stdout.length > 100 && !sent) sent = child.kill('SIGINT'); // once: a second Ctrl+C kills
  });
  const status = await new Promise((resolve) => child.on('close', resolve));
  assert.deepEqual({ status, stderr }, { status: 0, stderr: '' });
  assert.ok(stdout.endsWith('\n') && stdout.length < 100_000, `${stdout.length} characters`);
  const expected = await apiText('And', { temperature: 0, maxTokens: Buffer.byteLength(stdout) });
  assert.ok(`And${expected}`.startsWith(stdout.slice(0, -1)), JSON.stringify(stdout));
});

test('info prints every line as "key: value", values in one column after the longest key', () => {
  const result = run('info', MODEL);
  assert.deepEqual(result, ok(`name:          KJV minGRU (demo)
cell:          minGRU
parameters:    3,415,296 (int8 weights)
vocabulary:    256 (tokenizer: bytes)
dim:           256
depth:         4
expansion:     1.5 (inner width 384)
feed-forward:  x4 (inner width 1024)
conv kernel:   none
identity:      191925ba2a6a5969
description:   byte-level minLM (minGRU cells), dim 256, depth 4, trained on 2 CPU cores by tools/train.py (45 min, then 110 min more from those weights)
license:       model: MIT; training text: public domain
training_data: King James Bible (Debian bible-kjv), verse references stripped, last tenth held out
`));
  for (const [path, column] of [[MODEL, 15], [TINY, 14]]) {
    const lines = run('info', path).stdout.trimEnd().split('\n');
    for (const line of lines) {
      assert.match(line, /^[a-z_ -]+: +\S/);
      assert.equal(line.search(/(?<=: +)\S/), column, line);
    }
    assert.ok(lines.some((line) => line.indexOf(': ') === column - 2), 'the longest key has one space after its colon');
  }
});

test('a directory as the model is a MG_ELOAD "is a directory", from the command and from load()', async () => {
  assert.deepEqual(run('info', work), failed(`MG_ELOAD: ${work} is a directory, not a model file`));
  assert.deepEqual(run('generate', work, '--prompt', 'hi'), failed(`MG_ELOAD: ${work} is a directory, not a model file`));
  await assert.rejects(load(work), { name: 'MingruError', code: 'MG_ELOAD', message: `${work} is a directory, not a model file` });
});

// Files of other formats, under the names they would have, from tests/corpus/: what the engine says of each.
const convert = 'convert a checkpoint with tools/convert.py';
const foreign = [
  ['model.pt', 'foreign-pytorch-zip', `a zip archive, such as a PyTorch checkpoint (.pt, .pth): ${convert}`],
  ['old-model.pt', 'foreign-pytorch-pickle', `a Python pickle, such as an older PyTorch checkpoint (.pt, .pth): ${convert}`],
  ['model.gguf', 'foreign-gguf', "a GGUF model (llama.cpp's format), which mingru cannot read"],
  ['model.onnx', 'foreign-onnx', 'an ONNX model, which mingru cannot read'],
  ['404.html', 'foreign-html', "an HTML or XML page (a wrong URL, or a server's error page?)"],
  ['login.html', 'foreign-html-after-blank-lines', "an HTML or XML page (a wrong URL, or a server's error page?)"],
  ['denied.xml', 'foreign-xml', "an HTML or XML page (a wrong URL, or a server's error page?)"],
  ['config.json', 'foreign-json', "a JSON file (a config.json, or a server's error message?)"],
  ['lfs.safetensors', 'foreign-git-lfs-pointer', 'a Git LFS pointer, not the model itself: fetch the file with git lfs pull'],
];
for (const [name, corpusName, looks] of foreign) {
  test(`${name} (${corpusName}) is refused as MG_EBADFILE, saying what it looks like, by info and load()`, async () => {
    const path = join(work, name);
    copyFileSync(new URL(`../corpus/${corpusName}.MG_EBADFILE.safetensors`, import.meta.url), path);
    const message = `the file is not a safetensors model: it looks like ${looks}`;
    assert.deepEqual(run('info', path), failed(`MG_EBADFILE: ${path}: ${message}`));
    await assert.rejects(load(path), { name: 'MingruError', code: 'MG_EBADFILE', message: `load: ${message}` });
  });
}

test('a text file given as the model: the message says it is text, names the file and says what a model is', async () => {
  const path = join(work, 'notes.txt');
  writeFileSync(path, 'In the beginning God created the heaven and the earth.\nAnd the earth was without form.\n');
  const message = 'the file is text (it begins "In the beginning God created the heaven ..."), not a model: a model is a ' +
    ".safetensors file, as tools/convert.py and the engine's save write them";
  assert.deepEqual(run('info', path), failed(`MG_EBADFILE: ${path}: ${message}`));
  assert.deepEqual(run('generate', path, '--prompt', 'hi'), failed(`MG_EBADFILE: ${path}: ${message}`));
  await assert.rejects(load(path), { name: 'MingruError', code: 'MG_EBADFILE', message: `load: ${message}` });
  const short = join(work, 'hello.txt'); // under the 8 bytes of a safetensors header's length
  writeFileSync(short, 'hello\n');
  assert.deepEqual(run('info', short), failed(`MG_EBADFILE: ${short}: the file is text (it begins "hello"), not a model: a model is a ` +
    ".safetensors file, as tools/convert.py and the engine's save write them"));
});

test('files that cannot be read: the message names the file and says why, each code once, status 1', () => {
  const missing = join(work, 'nothere.txt'), out = join(work, 'never.safetensors');
  assert.deepEqual(run('info', missing), failed(`MG_ELOAD: cannot open model file ${missing}: there is no such file (ENOENT)`));
  assert.deepEqual(run('train', TINY, missing, '--steps', '1', '--out', out), failed(`cannot read the text file ${missing}: there is no such file`));
  assert.deepEqual(run('train', TINY, work, '--steps', '1', '--out', out), failed(`${work} is a directory, not a text file`));
  assert.deepEqual(run('train', TINY, TEXT, '--steps', '1', '--validation', missing, '--out', out),
    failed(`cannot read the validation file ${missing}: there is no such file`));
  assert.deepEqual(run('compress', TINY, missing, '-o', out), failed(`cannot read the file to compress ${missing}: there is no such file`));
  assert.deepEqual(run('decompress', TINY, work, '-o', out), failed(`${work} is a directory, not a compressed file`));
  assert.deepEqual(run('compress', TINY, TEXT, '--prime', missing, '-o', out), failed(`cannot read the prime file ${missing}: there is no such file`));
  assert.deepEqual(run('evaluate', TINY, missing), failed(`cannot read the file to evaluate ${missing}: there is no such file`));
  assert.ok(!existsSync(out));
});

test('every path a command writes is tried before the work starts: a usage error naming it, status 2, at once', () => {
  const text = join(work, 'paths.txt');
  writeFileSync(text, 'A text to train on, long enough for a few windows of sixteen bytes. '.repeat(4));
  const nodir = join(work, 'nonexistent', 'dir', 'x.safetensors');
  const t0 = performance.now();
  assert.deepEqual(run('train', MODEL, text, '--steps', '5', '--out', nodir),
    trainUsage(`--out ${nodir}: the directory ${join(work, 'nonexistent', 'dir')} does not exist`));
  assert.ok(performance.now() - t0 < 5000, 'refused before any training');
  assert.deepEqual(run('train', MODEL, text, '--steps', '5', '--out', work), trainUsage(`--out ${work} is a directory: give a file name`));
  assert.deepEqual(run('train', MODEL, text, '--steps', '5', '--out', join(text, 'x.safetensors')),
    trainUsage(`--out ${join(text, 'x.safetensors')}: ${text} is not a directory`));
  assert.deepEqual(run('compress', MODEL, text, '-o', nodir), usage(`--out ${nodir}: the directory ${join(work, 'nonexistent', 'dir')} does not exist`, 'help compress'));
  assert.deepEqual(run('decompress', MODEL, text, '-o', work), usage(`--out ${work} is a directory: give a file name`, 'help decompress'));
  if (process.getuid?.() !== 0) { // root writes anywhere
    const locked = join(work, 'locked');
    mkdirSync(locked, { mode: 0o500 });
    assert.deepEqual(run('train', MODEL, text, '--steps', '5', '--out', join(locked, 'x.safetensors')),
      trainUsage(`--out ${join(locked, 'x.safetensors')}: cannot write there: permission denied`));
  }
  assert.deepEqual(readdirSync(work).filter((f) => f.endsWith('.partial')), [], 'the trial files are gone');
});

test('the command speaks in its own flags: --threads, --batch and --seq-len out of range are usage errors, status 2', () => {
  const out = join(work, 'never.safetensors');
  assert.deepEqual(run('generate', MODEL, '--prompt', 'hi', '--threads', '100'), usage('--threads must be an integer from 1 to 16, got 100', 'help generate'));
  assert.deepEqual(run('train', TINY, TEXT, '--steps', '1', '--threads', '17', '--out', out), trainUsage('--threads must be an integer from 1 to 16, got 17'));
  assert.deepEqual(run('compress', TINY, TEXT, '--threads', '0', '-o', out), usage('--threads must be an integer from 1 to 16, got 0', 'help compress'));
  assert.deepEqual(run('evaluate', TINY, TEXT, '--threads', '99'), usage('--threads must be an integer from 1 to 16, got 99', 'help evaluate'));
  assert.deepEqual(run('train', TINY, TEXT, '--steps', '1', '--batch', '100000', '--out', out), trainUsage('--batch must be an integer from 1 to 4096, got 100000'));
  const short = join(work, 'short.txt');
  writeFileSync(short, 'twenty bytes of text');
  assert.deepEqual(run('train', TINY, short, '--steps', '1', '--out', out),
    trainUsage(`the text file ${short} has 20 bytes; windows of --seq-len 128 need at least 129 (give --seq-len 19 or less)`));
  // a batch within the flag's range that the engine's memory cannot hold: known at the first step, said in flags
  const r = run('train', MODEL, TEXT, '--steps', '1', '--batch', '4096', '--seq-len', '2048', '--out', out);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^mingru-wasm: --batch 4096 x --seq-len 2048 needs at least (\d+) MB of working memory to train this model, which does not fit beside its weights in the engine's 2 GB: give a smaller --batch or --seq-len\n/);
  assert.ok(Number(/at least (\d+) MB/.exec(r.stderr)[1]) > 2048, r.stderr);
  assert.ok(!existsSync(out));
});

test('generate --threads N runs on that many threads and writes the same text as the default', () => {
  const one = run('generate', MODEL, '--prompt', 'And God said', '--max-tokens', '40', '--seed', '3', '--threads', '1');
  const two = run('generate', MODEL, '--prompt', 'And God said', '--max-tokens', '40', '--seed', '3', '--threads', '2');
  assert.equal(one.status, 0, one.stderr);
  assert.equal(two.stdout, one.stdout);
  assert.ok(one.stdout.length > 40);
});

// ---- evaluate

test('evaluate prints the bits per byte of lm.evaluate(), as text and as --json', async () => {
  const lm = await load(MODEL);
  const bytes = new Uint8Array(readFileSync(TEXT));
  const expected = await lm.evaluate(bytes);
  lm.dispose();
  const text = run('evaluate', MODEL, TEXT);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^file: +${TEXT.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(${bytes.length.toLocaleString('en-US')} bytes\\)$`, 'm'));
  assert.equal(Number(/^bits per byte: +(\S+)$/m.exec(text.stdout)[1]), expected.bitsPerByte);
  assert.match(text.stdout, new RegExp(`^predictions: +${(bytes.length - 1).toLocaleString('en-US')} `, 'm'));
  const json = run('evaluate', MODEL, TEXT, '--json');
  assert.equal(json.status, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), { file: TEXT, bytes: bytes.length, model: MODEL, adapt: false, ...expected });
  assert.equal(json.stderr, '', 'no progress line with --json');
  assert.deepEqual(run('evaluate', MODEL), usage('evaluate needs a model file and a file: mingru-wasm evaluate MODEL FILE', 'help evaluate'));
});

// ---- train

const TEXT = fileURLToPath(new URL('../../README.md', import.meta.url)); // not the Bible
const trainUsage = (message) => usage(message, 'help train');

test('train: every mistake is a usage error naming it, before anything is read', () => {
  const out = join(work, 'never.safetensors');
  for (const [args, message] of [
    [['train', TEXT, '--steps', '3', '--out', out], 'train needs a model file and a text file: mingru-wasm train MODEL TEXT --steps N --out OUT'],
    [['train', '--new', TINY, TEXT, '--steps', '3', '--out', out], `unexpected argument "${TEXT}"`],
    [['train', TINY, TEXT, '--out', out], 'train needs one of --steps N and --minutes M'],
    [['train', TINY, TEXT, '--steps', '3', '--minutes', '1', '--out', out], 'train needs one of --steps N and --minutes M'],
    [['train', TINY, TEXT, '--steps', '3'], 'train needs --out FILE: where to write the trained model'],
    [['train', TINY, TEXT, '--steps', '0', '--out', out], '--steps must be an integer >= 1, got 0'],
    [['train', TINY, TEXT, '--steps', '1e2', '--out', out], '--steps must be an integer >= 1, got 1e2'],
    [['train', TINY, TEXT, '--minutes', '-1', '--out', out], '--minutes must be a number > 0, got -1'],
    [['train', TINY, TEXT, '--steps', '3', '--lr', '0', '--out', out], '--lr must be a number > 0, got 0'],
    [['train', TINY, TEXT, '--steps', '3', '--dtype', 'f8', '--out', out], '--dtype must be one of f32, f16, q8, got f8'],
    [['train', TINY, TEXT, '--steps', '3', '--dim', '64', '--out', out], '--dim sizes a new model: give --new (or leave it out to fine-tune MODEL)'],
    [['train', '--new', TEXT, '--steps', '3', '--cell', 'rnn', '--out', out], '--cell must be one of gru, lstm, got rnn'],
    [['train', TINY, TEXT, '--step', '3', '--out', out], 'unknown option --step; did you mean --steps?'],
  ]) assert.deepEqual(run(...args), trainUsage(message), args.join(' '));
  assert.throws(() => readFileSync(out));
});

test('train --new writes a model that loads, with the name asked for; fine-tuning a Q8 model saves Q8 when asked', async () => {
  const out = join(work, 'new.safetensors');
  const r = run('train', '--new', TEXT, '--dim', '16', '--depth', '1', '--cell', 'lstm', '--conv', '2', '--steps', '4', '--batch', '2',
    '--seq-len', '16', '--seed', '5', '--name', 'readme model', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^wrote .*new\.safetensors \([\d,]+ bytes, 4 steps, last loss \d+\.\d{3} bits\/byte\)\n$/);
  assert.match(r.stderr, /^step 1\/4 \[=+ *\] loss \d+\.\d{3} bits\/byte, [\d,]+ tokens\/s, \d+s left\n/);
  const lm = await load(out);
  assert.deepEqual([lm.config.cell, lm.config.dim, lm.config.depth, lm.config.convKernelSize, lm.config.name], ['lstm', 16, 1, 2, 'readme model']);
  lm.dispose();
  const q8 = join(work, 'tuned.q8.safetensors');
  const t = run('train', TINY, TEXT, '--steps', '2', '--batch', '2', '--seq-len', '8', '--dtype', 'q8', '--out', q8);
  assert.equal(t.status, 0, t.stderr);
  const tuned = await load(q8);
  assert.equal(tuned.config.quantized, true);
  tuned.dispose();
});

test('train on a Q8 model saves Q8 by default, and the file says it was fine-tuned: base, data, steps, date', async () => {
  const out = join(work, 'mine.safetensors');
  const r = run('train', MODEL, TEXT, '--steps', '2', '--batch', '2', '--seq-len', '16', '--out', out);
  assert.equal(r.status, 0, r.stderr);
  const lm = await load(out);
  const base = await load(MODEL);
  assert.equal(lm.config.quantized, true);
  assert.ok(readFileSync(out).length < 1.1 * readFileSync(MODEL).length, 'about the size of the Q8 file it came from');
  const size = readFileSync(TEXT).length.toLocaleString('en-US');
  assert.deepEqual(
    [lm.metadata.name, lm.metadata.base_model, lm.metadata.training_data, lm.metadata.training_steps, lm.metadata.trained_on],
    ['KJV minGRU (demo) (fine-tuned)', `KJV minGRU (demo) (identity ${base.identity})`,
      `${base.metadata.training_data}; then fine-tuned on README.md (${size} bytes), 2 steps`, '2', new Date().toISOString().slice(0, 10)]);
  assert.match(run('info', out).stdout, /^base_model: +KJV minGRU \(demo\) \(identity [0-9a-f]{16}\)$/m);
  lm.dispose();
  base.dispose();
  const described = join(work, 'described.safetensors');
  assert.equal(run('train', MODEL, TEXT, '--steps', '1', '--batch', '2', '--seq-len', '16', '--training-data', 'my notes', '--dtype', 'f32',
    '--name', 'mine', '--out', described).status, 0);
  const d = await load(described);
  assert.deepEqual([d.config.quantized, d.config.name, d.config.trainingData.endsWith('; then fine-tuned on my notes, 1 step')], [false, 'mine', true]);
  d.dispose();
});

test('train: Ctrl+C stops and saves what was learned', async () => {
  const out = join(work, 'stopped.safetensors');
  const child = spawn(process.execPath, [bin, 'train', TINY, TEXT, '--steps', '1000000', '--batch', '2', '--seq-len', '8', '--out', out]);
  let stderr = '', stdout = '', sent = false;
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.includes('step 1/') && !sent) sent = child.kill('SIGINT');
  });
  child.stdout.on('data', (d) => (stdout += d));
  const status = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(status, 0, stderr);
  assert.match(stderr, /stopped after \d+ steps; saving what was learned\n$/);
  assert.match(stdout, /^wrote .*stopped\.safetensors/);
  const steps = Number(/(\d+) steps, last loss/.exec(stdout)[1]);
  assert.ok(steps >= 1 && steps < 1000000);
  const lm = await load(out);
  const original = await load(TINY);
  assert.notDeepEqual(await lm.forward([1, 2, 3]), await original.forward([1, 2, 3]), 'the saved model learned');
  lm.dispose();
  original.dispose();
});
