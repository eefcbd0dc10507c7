#!/usr/bin/env node
// The mingru-wasm command (also installed as mingru):
//   mingru-wasm generate MODEL --prompt TEXT [options]   streams TEXT and what the model writes after it
//   mingru-wasm info MODEL                               prints the model's configuration and metadata
//   mingru-wasm train [MODEL | --new ...] TEXT --steps N | --minutes M --out OUT    trains, shows progress, saves
//   mingru-wasm compress MODEL FILE -o OUT / decompress MODEL FILE -o OUT   the neural compressor (js/compress.js)
//   mingru-wasm evaluate MODEL FILE [--json]                             bits per byte of FILE under the model
//   mingru-wasm help [COMMAND], COMMAND --help, --version
// Every argument is checked before the model is read and before anything is printed (top-k's upper bound,
// the model's vocabulary size, right after loading), and every path written is tried before the work starts.
// A usage error exits with status 2, a failure with 1; messages speak of the command's flags and name the files.
import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { MingruError, create, load } from '../js/index.js';
import { getEngine, resolveThreads } from '../js/runtime.js';
import { optionProblem, rangeText, SAMPLER_OPTIONS } from '../js/sampling.js';

const NAME = 'mingru-wasm';
const VERSION = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

/** A mistake in the command line: printed with where to read more, exit status 2. */
class UsageError extends Error {
  constructor(message, more = '--help') {
    super(message);
    this.more = more;
  }
}

/** A file the command could not read or write: its message names the file; exit status 1. */
class FileError extends Error {}

const HELP = { help: 'print this help', short: 'h' };
const THREADS = { value: 'N', help: 'threads, 1 to 16; default one per core (up to 8)', kind: 'integer', min: 1, max: 16 };
const TOKENIZER = { value: 'FILE', help: "a tokenizer.json or SentencePiece .model, for a model whose file has none (or instead of its own)", kind: 'text' };
const VOCABULARY = 'the vocabulary size'; // numTokens, in words until a model is loaded
const PLACEHOLDERS = { temperature: 'T', topK: 'K', topP: 'P', minP: 'P', repetitionPenalty: 'R', seed: 'S' }; // else N

// generate's options: the sampler's numbers are the API's table (js/sampling.js: flags, defaults, ranges), so the
// command accepts exactly what lm.generate() accepts; `api` is an option's name there.
const GENERATE = {
  prompt: { value: 'TEXT', help: 'the text to continue', range: 'required, not empty' },
  ...Object.fromEntries(Object.entries(SAMPLER_OPTIONS).map(([api, o]) =>
    [o.flag.slice(2), { ...o, api, value: PLACEHOLDERS[api] ?? 'N', help: o.about }])),
  stop: { value: 'TEXT', help: 'end before TEXT, which is not printed', range: 'not empty; give --stop again for more than one', repeat: true },
  tokenizer: TOKENIZER,
  threads: THREADS,
  help: HELP,
};

/** The limits that ranges name (js/sampling.js): the engine's, known before a model is read, and the vocabulary
 * size, the model's: in words until then. */
async function limits(model) {
  const engine = await getEngine(await resolveThreads(undefined, NAME)); // the build load() takes
  return { ...engine.limits, numTokens: model?.config.numTokens ?? VOCABULARY };
}

// train's options: `kind` says how the value is read (an integer, a number, one of some words, text, a flag).
const TRAIN = {
  steps: { value: 'N', help: 'train for N steps', kind: 'integer', min: 1 },
  minutes: { value: 'M', help: 'train for M minutes (instead of --steps)', kind: 'number', min: 0 },
  out: { value: 'FILE', help: 'write the trained model to FILE (.safetensors); required', kind: 'text' },
  new: { help: 'train a new model instead of MODEL (sized by the options below)' },
  cell: { value: 'gru|lstm', help: 'new model: minGRU or minLSTM cells; default gru', kind: ['gru', 'lstm'] },
  dim: { value: 'N', help: 'new model: width; default 256', kind: 'integer', min: 1 },
  depth: { value: 'N', help: 'new model: layers; default 4', kind: 'integer', min: 1 },
  expansion: { value: 'F', help: "new model: the cells' inner width is dim x F; default 1.5", kind: 'number', min: 0 },
  'ff-mult': { value: 'F', help: "new model: the feed-forward's inner width is dim x F; default 4", kind: 'number', min: 0 },
  conv: { value: 'K', help: 'new model: causal conv of kernel K before each cell; default 0 (none)', kind: 'integer', min: 0 },
  batch: { value: 'N', help: 'windows per step, 1 to 4096; default 8', kind: 'integer', min: 1, max: 4096 },
  'seq-len': { value: 'N', help: 'tokens per window, 1 to 65536; default 128', kind: 'integer', min: 1, max: 65536 },
  lr: { value: 'X', help: 'learning rate (AdamW); default 1e-3', kind: 'number', min: 0 },
  warmup: { value: 'N', help: 'steps of linear learning-rate warmup; default 0', kind: 'integer', min: 0 },
  'weight-decay': { value: 'X', help: 'AdamW weight decay; default 0.01', kind: 'number', min: 0, orEqual: true },
  clip: { value: 'X', help: 'clip the gradient norm to X (0 = no clipping); default 1', kind: 'number', min: 0, orEqual: true },
  dropout: { value: 'P', help: "zero each layer's outputs with probability P while training (below 1); default 0", kind: 'number', min: 0, orEqual: true },
  seed: { value: 'S', help: 'the windows drawn, the dropout masks and a new model\'s weights; default 0', kind: 'integer', min: 0, max: 2 ** 32 - 1 },
  validation: { value: 'FILE', help: 'a held-out text, scored in bits per byte as training goes', kind: 'text' },
  dtype: { value: 'f32|f16|q8', help: "the saved model's weights; default MODEL's (q8 for a Q8 model), f32 for --new", kind: ['f32', 'f16', 'q8'] },
  name: { value: 'TEXT', help: "the saved model's name; default MODEL's name + ' (fine-tuned)'", kind: 'text' },
  'training-data': { value: 'TEXT', help: "what TEXT is, for the saved model's metadata; default its file name and size", kind: 'text' },
  tokenizer: TOKENIZER,
  threads: THREADS,
  help: HELP,
};

// compress's and decompress's options
const CODING = {
  out: { value: 'OUT', help: 'write the result to OUT; required', kind: 'text', short: 'o' },
  'no-adapt': { help: 'compress: code with the model as it is, without learning while reading (faster)' },
  lr: { value: 'X', help: 'compress: the learning rate of the adaptation (AdamW)', kind: 'number', min: 0 },
  segment: { value: 'N', help: 'compress: learn after every N tokens (bytes, for a byte-level model)', kind: 'integer', min: 1 },
  part: { value: 'top|all', help: "compress: what learns: 'top' (the last feed-forward, the final norm and the head; the default) or 'all' (every weight: slower)", kind: ['top', 'all'] },
  prime: { value: 'FILE', help: 'read FILE first (a dictionary: decompress needs the same FILE)', kind: 'text' },
  tokenizer: { ...TOKENIZER, help: `${TOKENIZER.help}; decompress needs the same one. FILE to compress must be UTF-8 text that the tokenizer gives back unchanged` },
  threads: { ...THREADS, help: `${THREADS.help}; the result does not depend on it` },
  help: HELP,
};

// evaluate's options
const EVALUATE = {
  json: { help: 'print the result as JSON (the fields of lm.evaluate(): tokens, bits, bitsPerToken, bitsPerByte)' },
  adapt: { help: 'learn while reading (dynamic evaluation, as compress does; the model file is not changed)' },
  tokenizer: TOKENIZER,
  threads: THREADS,
  help: HELP,
};

const COMMANDS = {
  generate: {
    usage: 'generate MODEL --prompt TEXT [options]',
    summary: 'continue TEXT with the model, streamed to stdout; Ctrl+C stops',
    about: `Reads TEXT with the model in MODEL (a .safetensors file made by tools/convert.py), then samples what
follows and prints it after TEXT as it comes. The same model, prompt, options and seed give the same text
(in a browser's relaxed-SIMD build an F32 model's text may differ: docs/api.md, generate options).
Ctrl+C stops.`,
    options: GENERATE,
    notes: `Integers are decimal digits (not 0x20 or 1e2); the other numbers are decimal, with an optional
exponent (0.5, 1e-3). A value may start with '-' (--temperature -1 is read as the value -1).`,
    run: generate,
  },
  info: {
    usage: 'info MODEL',
    summary: "print the model's configuration and metadata",
    about: `Prints the configuration of the model in MODEL (cell, size, widths, vocabulary), its identity and
its metadata, one "key: value" a line.`,
    options: { help: HELP },
    run: info,
  },
  train: {
    usage: 'train [MODEL | --new] TEXT --steps N --out OUT',
    summary: 'fine-tune MODEL (or a new model) on the text in TEXT and save it',
    about: `Trains the model in MODEL, or a new one with --new, on the file TEXT (read as bytes: the byte-level
models of this package), on random windows, with PyTorch's AdamW and gradient clipping, then writes it to OUT.
A progress line shows the step, the loss (bits per byte), the speed and the time left. Ctrl+C stops early and
saves what was learned (a second Ctrl+C quits without saving). A Q8 or F16 model is trained in F32 and saved
as MODEL was (Q8 stays Q8) unless --dtype says otherwise; the saved model's metadata names its base model, the
data, the steps and the date. OUT is tried before training starts.`,
    options: TRAIN,
    notes: 'Give --steps or --minutes. Integers are decimal digits; other numbers may have an exponent (3e-4).',
    run: train,
  },
  compress: {
    usage: 'compress MODEL FILE -o OUT',
    summary: 'compress FILE with the model (arithmetic coding), learning while it reads',
    about: `Codes FILE with the probabilities of the model in MODEL, which learns from each segment once it
has been coded (dynamic evaluation), and writes OUT: a small header (the model's identity, the settings, the
length, a CRC-32) and the code. A byte-level model codes any bytes; a model with another tokenizer codes the
tokens of FILE's text, which must be UTF-8 that the tokenizer gives back unchanged (else it is refused, naming
where). Only the same MODEL file (and tokenizer) decompresses it, with any thread count, in Node or a browser.
Where coding would not make FILE smaller, OUT stores it as it is.`,
    options: CODING,
    notes: 'A progress line shows the tokens (bytes) done and the speed.',
    positionals: true,
    run: (positionals, values) => coding('compress', positionals, values),
  },
  decompress: {
    usage: 'decompress MODEL FILE -o OUT',
    summary: 'restore a file made by compress, with the same model',
    about: `Decodes FILE, made by "${NAME} compress" with the model in MODEL, and writes the original bytes to OUT.
A file of another model, or a damaged one, is refused with an error naming the problem.`,
    options: { out: CODING.out, prime: CODING.prime, tokenizer: CODING.tokenizer, threads: CODING.threads, help: HELP },
    positionals: true,
    run: (positionals, values) => coding('decompress', positionals, values),
  },
  evaluate: {
    usage: 'evaluate MODEL FILE [--json]',
    summary: 'how well the model predicts FILE, in bits per byte',
    about: `Reads FILE (as bytes) with the byte-level model in MODEL and prints how many bits per byte an ideal coder
using the model's predictions would need: the model's cross-entropy on FILE (lower is better; 8 is no better than
chance). The figures are those of lm.evaluate(FILE's bytes): the first byte is context only. A progress line shows
the bytes done.`,
    options: EVALUATE,
    positionals: true,
    run: evaluate,
  },
  help: { usage: 'help [COMMAND]', summary: 'print this help, or the options of COMMAND' },
};

/** A line of a help's table: a left column `width` wide, then the text. */
const row = (left, text, width) => `  ${left.padEnd(width)}${text}`;

const WIDTH = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length)) + 2;
const TOP = `usage: ${NAME} COMMAND ...

Runs and trains minGRU and minLSTM language models (.safetensors files made by tools/convert.py or by train).

commands:
${Object.values(COMMANDS).map((c) => row(c.usage, c.summary, WIDTH)).join('\n')}

options:
${row('-h, --help', 'print this help', WIDTH)}
${row('--version', 'print the version', WIDTH)}

'${NAME} help COMMAND' lists the options of COMMAND.`;

async function commandHelp(name) {
  const c = COMMANDS[name];
  const known = name === 'generate' && (await limits());
  const lines = [`usage: ${NAME} ${c.usage}`, '', c.about, '', 'options:'];
  for (const [flag, o] of Object.entries(c.options)) {
    const left = `${o.short ? `-${o.short}, ` : ''}--${flag}${o.value ? ` ${o.value}` : ''}`;
    lines.push(row(left, o.help, 28));
    const range = o.range ?? (o.api && `${rangeText(o, known)}; default ${o.default}`);
    if (range) lines.push(row('', range, 28));
  }
  if (c.notes) lines.push('', c.notes);
  return lines.join('\n');
}

/** Edits (insert, delete, change, swap two neighbours) from `a` to `b`. */
function distance(a, b) {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i ? (j ? 0 : i) : j)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] !== b[j - 1]));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The word of `candidates` that `word` is likely a typo or a beginning of, or undefined. */
function nearest(word, candidates) {
  const w = word.toLowerCase();
  const begun = w.length >= 3 && candidates.find((c) => c.startsWith(w));
  if (begun) return begun;
  const [d, best] = candidates.map((c) => [distance(w, c), c]).sort((x, y) => x[0] - y[0])[0];
  return d <= Math.max(1, Math.floor(w.length / 3)) ? best : undefined;
}

function unknown(what, word, candidates, shown = (c) => c, more = '--help') {
  const near = nearest(word.replace(/^-+/, ''), candidates);
  return new UsageError(`unknown ${what} ${word}${near ? `; did you mean ${shown(near)}?` : ''}`, more);
}

/** Splits `args` into options (by `specs`) and other words. An option that takes a value takes the next word,
 * whatever it is (so --temperature -1 reads -1), or the text after '='. After '--' every word is positional. */
function parse(args, specs, more) {
  const values = {}, positionals = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const name = Object.keys(specs).find((k) => flag === `--${k}` || (specs[k].short && flag === `-${specs[k].short}`));
    if (!name) throw unknown('option', flag, Object.keys(specs), (c) => `--${c}`, more);
    const spec = specs[name];
    let value = true;
    if (!spec.value) {
      if (eq > 0) throw new UsageError(`${flag} takes no value`, more);
    } else if (eq > 0) value = arg.slice(eq + 1);
    else if (i + 1 < args.length) value = args[++i];
    else throw new UsageError(`${flag} needs a value: ${flag} ${spec.value}`, more);
    values[name] = spec.repeat ? [...(values[name] ?? []), value] : value;
  }
  return { values, positionals };
}

/** The number `text` stands for, if it is written as the option's kind (integers in decimal digits, other
 * numbers in decimal with an optional exponent) and lies in its range; a bound still in words is not checked. */
function numberOption(flag, o, text, known) {
  const n = Number(text);
  const written = o.integer ? /^[+-]?\d+$/.test(text) : /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text);
  const pending = typeof known[o.max] === 'string'; // a bound still in words: the vocabulary size
  if (!written || optionProblem(o, n, pending ? { [o.max]: Infinity } : known)) {
    const note = o.max === 'numTokens' && !pending ? ` (${known.numTokens} is the model's vocabulary size)` : '';
    throw new UsageError(`--${flag} must be ${rangeText(o, known)}${note}, got ${text || '""'}`, 'help generate');
  }
  return n;
}

/** lm.generate()'s options from the command line's, checked against the limits `known` so far. */
function generateOptions(values, known) {
  const options = {};
  for (const [flag, o] of Object.entries(GENERATE)) {
    if (o.api && values[flag] !== undefined) options[o.api] = numberOption(flag, o, values[flag], known);
  }
  const usage = (message) => new UsageError(message, 'help generate');
  if (values.prompt === undefined) throw usage('generate needs --prompt: the text to continue, e.g. --prompt "In the beginning"');
  if (values.prompt === '') throw usage('--prompt is empty: give the text to continue, e.g. --prompt "In the beginning"');
  if (values.stop?.includes('')) throw usage('--stop is empty: give the text to end before, e.g. --stop "."');
  options.stop = values.stop;
  return options;
}

async function generate(path, values) {
  generateOptions(values, await limits()); // all that can be checked before the model is read
  const threads = values.threads === undefined ? undefined : trainOption('threads', values.threads, GENERATE, 'help generate');
  const lm = await loadModel(path, { threads, tokenizer: values.tokenizer, text: 'help generate' });
  try {
    const options = generateOptions(values, await limits(lm));
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    process.stdout.write(values.prompt);
    for await (const piece of lm.generate(values.prompt, { ...options, signal: controller.signal })) process.stdout.write(piece);
    process.stdout.write('\n');
  } finally {
    lm.dispose();
  }
}

/** train's option `flag` read from its text by its kind; a UsageError names the option and what it must be. */
function trainOption(flag, text, specs = TRAIN, more = 'help train') {
  const o = specs[flag];
  const usage = (must) => new UsageError(`--${flag} must be ${must}, got ${text === '' ? '""' : text}`, more);
  if (Array.isArray(o.kind)) {
    if (!o.kind.includes(text)) throw usage(`one of ${o.kind.join(', ')}`);
    return text;
  }
  if (o.kind === 'text') {
    if (text === '') throw usage('not empty');
    return text;
  }
  const n = Number(text);
  const written = o.kind === 'integer' ? /^[+-]?\d+$/.test(text) : /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text);
  const inRange = (o.orEqual || o.kind === 'integer' ? n >= o.min : n > o.min) && !(n > o.max);
  if (!written || !inRange || !Number.isFinite(n)) {
    if (o.kind !== 'integer') throw usage(`a number ${o.orEqual ? '>=' : '>'} ${o.min}`);
    throw usage(o.max === undefined ? `an integer >= ${o.min}` : `an integer from ${o.min} to ${o.max}`);
  }
  return n;
}

const WHY = { ENOENT: 'there is no such file', EACCES: 'permission denied', EPERM: 'permission denied', ENOTDIR: 'a part of the path is not a directory',
  ENOSPC: 'the disk is full', EROFS: 'the file system is read-only', EISDIR: 'it is a directory' };
const why = (e) => WHY[e.code] ?? e.code ?? e.message;

/** The bytes of the file at `path`, which should be a `noun` ('text file'); a FileError names it otherwise. */
function readInput(path, noun) {
  let stat;
  try {
    stat = statSync(path);
  } catch (e) {
    throw new FileError(`cannot read the ${noun} ${path}: ${why(e)}`);
  }
  if (stat.isDirectory()) throw new FileError(`${path} is a directory, not a ${noun}`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new FileError(`cannot read the ${noun} ${path}: ${why(e)}`);
  }
}

/** Tries, before any work, that `path` (given as `flag`) can be written: an existing directory that takes a new file
 * (PATH.partial, written first, then renamed). A UsageError names the path otherwise. */
function checkOutput(path, flag, more) {
  const problem = (text) => new UsageError(`${flag} ${path}${text.startsWith('is ') ? ' ' : ': '}${text}`, more);
  try {
    if (statSync(path).isDirectory()) throw problem('is a directory: give a file name');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    if (e.code !== 'ENOENT' && e.code !== 'ENOTDIR') throw problem(why(e)); // ENOTDIR: said of the directory below
  }
  const dir = dirname(path);
  try {
    if (!statSync(resolve(dir)).isDirectory()) throw problem(`${dir} is not a directory`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw problem(e.code === 'ENOENT' ? `the directory ${dir} does not exist` : `${dir}: ${why(e)}`);
  }
  try {
    writeFileSync(`${path}.partial`, '');
    unlinkSync(`${path}.partial`);
  } catch (e) {
    throw problem(`cannot write there: ${why(e)}`);
  }
}

/** Writes `bytes` to `path` by way of PATH.partial (never a half-written file under the name asked for). If that
 * fails all the same (a full disk), the bytes go to the temporary directory instead and the FileError says where. */
function writeOutput(path, bytes) {
  try {
    writeFileSync(`${path}.partial`, bytes);
    renameSync(`${path}.partial`, path);
  } catch (e) {
    try {
      unlinkSync(`${path}.partial`);
    } catch {}
    const rescue = join(tmpdir(), `${process.pid}-${basename(path)}`);
    try {
      writeFileSync(rescue, bytes);
    } catch {
      throw new FileError(`cannot write ${path}: ${why(e)}; nor could the result be kept in ${rescue}`);
    }
    throw new FileError(`cannot write ${path}: ${why(e)}; the result was written to ${rescue} instead`);
  }
}

/** load(path) with the file's name in its errors: 'load: the file is text ...' becomes 'PATH: the file is text ...'. */
/** A file's bytes as text, for a model whose tokenizer reads text (not bytes): FileError unless they are UTF-8. */
function textOf(bytes, path, lm) {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new FileError(`${path} is not UTF-8 text, which the model's tokenizer (${lm.config.tokenizer}) reads`);
  }
}

/** load(path, options) with the file named in errors about it; with `text` (the help topic), a model that has no
 * tokenizer to read text by is a usage error. */
async function loadModel(path, { text, ...options } = {}) {
  let lm;
  try {
    lm = await load(path, options);
  } catch (e) {
    const aboutTheFile = e instanceof MingruError && ['MG_EBADFILE', 'MG_ELOAD', 'MG_ESHAPE', 'MG_ENOMEM'].includes(e.code);
    if (aboutTheFile && e.message.startsWith('load: ')) e.message = `${path}: ${e.message.slice('load: '.length)}`;
    throw e;
  }
  if (!lm.tokenizer && text) {
    lm.dispose();
    throw new UsageError(`${path} has no tokenizer (its file says "none"): give --tokenizer FILE (a tokenizer.json or SentencePiece .model)`, text);
  }
  return lm;
}

const duration = (s) => (s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
  : s >= 60 ? `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s` : `${Math.ceil(s)}s`);

/** lm.train()'s progress, with a batch too large for the engine's memory (known at the first step) said in flags. */
async function* steps(progress, v) {
  try {
    yield* progress;
  } catch (e) {
    const mb = e.code === 'MG_ENOMEM' && /needs (?:at least )?(\d+) MB/.exec(e.message);
    if (!mb) throw e;
    throw new UsageError(`--batch ${v.batch ?? 8} x --seq-len ${v['seq-len'] ?? 128} needs at least ${mb[1]} MB of working memory to train ` +
      "this model, which does not fit beside its weights in the engine's 2 GB: give a smaller --batch or --seq-len", 'help train');
  }
}

/** train [MODEL | --new] TEXT ...: every option checked, and OUT tried, before anything is read. */
async function train(positionals, values) {
  const more = 'help train';
  const v = Object.fromEntries(Object.entries(values).filter(([k]) => k !== 'new').map(([k, text]) => [k, trainOption(k, text)]));
  const newModel = values.new === true;
  const sizing = ['cell', 'dim', 'depth', 'expansion', 'ff-mult', 'conv'].filter((k) => v[k] !== undefined);
  if (!newModel && sizing.length) throw new UsageError(`--${sizing[0]} sizes a new model: give --new (or leave it out to fine-tune MODEL)`, more);
  if (newModel && v.tokenizer !== undefined) {
    throw new UsageError('--new makes a byte-level model; --tokenizer is for MODEL (a new model of another vocabulary: tools/train.py --tokenizer)', more);
  }
  const wanted = newModel ? 1 : 2;
  if (positionals.length !== wanted) {
    throw new UsageError(positionals.length < wanted
      ? `train needs ${newModel ? 'a text file' : 'a model file and a text file'}: ${NAME} train ${newModel ? '--new TEXT' : 'MODEL TEXT'} --steps N --out OUT`
      : `unexpected argument "${positionals[wanted]}"`, more);
  }
  if ((v.steps === undefined) === (v.minutes === undefined)) throw new UsageError('train needs one of --steps N and --minutes M', more);
  if (v.out === undefined) throw new UsageError('train needs --out FILE: where to write the trained model', more);
  const [modelPath, textPath] = newModel ? [null, positionals[0]] : positionals;
  checkOutput(v.out, '--out', more);
  const text = readInput(textPath, 'text file');
  const seqLen = v['seq-len'] ?? 128;
  if (text.length < seqLen + 1) {
    throw new UsageError(`the text file ${textPath} has ${text.length} bytes; windows of --seq-len ${seqLen} need at least ${seqLen + 1}` +
      (text.length > 1 ? ` (give --seq-len ${text.length - 1} or less)` : ''), more);
  }
  const validation = v.validation === undefined ? undefined : readInput(v.validation, 'validation file');
  if (validation?.length < 2) throw new UsageError(`the validation file ${v.validation} has ${validation.length} bytes: it needs at least 2`, more);
  const threads = v.threads;
  const lm = newModel
    ? await create({ cell: v.cell, dim: v.dim, depth: v.depth, expansionFactor: v.expansion, ffMult: v['ff-mult'], convKernelSize: v.conv, seed: v.seed, threads })
    : await loadModel(modelPath, { threads, tokenizer: v.tokenizer, text: more });
  try {
    const input = lm.config.tokenizer === 'bytes' ? text : textOf(text, textPath, lm);
    const controller = new AbortController();
    let stops = 0;
    const onSigint = () => {
      if (stops++) process.exit(130); // a second Ctrl+C: quit now
      controller.abort();
    };
    process.on('SIGINT', onSigint);
    const started = Date.now(), total = v.steps ?? Infinity, seconds = v.minutes === undefined ? undefined : v.minutes * 60;
    const tty = process.stderr.isTTY;
    let last = null, shown = 0;
    const options = { steps: v.steps, seconds, batchSize: v.batch, seqLen: v['seq-len'], lr: v.lr, warmup: v.warmup, weightDecay: v['weight-decay'],
      clip: v.clip, dropout: v.dropout, seed: v.seed, signal: controller.signal,
      validation: validation && (lm.config.tokenizer === 'bytes' ? new Uint8Array(validation) : textOf(validation, v.validation, lm)) };
    const unit = lm.config.tokenizer === 'bytes' ? 'byte' : 'token';
    for await (const p of steps(lm.train(input, options), v)) {
      last = { ...last, ...p };
      const elapsed = (Date.now() - started) / 1000;
      const left = seconds !== undefined ? Math.max(0, seconds - elapsed) : (elapsed / p.step) * (total - p.step);
      const done = seconds !== undefined ? elapsed / seconds : p.step / total;
      const bar = `[${'='.repeat(Math.round(Math.min(1, done) * 20)).padEnd(20)}]`;
      const line = `step ${p.step}${total < Infinity ? `/${total}` : ''} ${bar} loss ${(p.loss / Math.LN2).toFixed(3)} bits/${unit}` +
        `${last.validationBits !== undefined ? ` (held out ${last.validationBits.toFixed(3)})` : ''}, ` +
        `${Math.round(p.tokensPerSecond).toLocaleString('en-US')} tokens/s, ${duration(left)} left`;
      if (tty) process.stderr.write(`\r${line}\x1b[K`);
      else if (Date.now() - shown > 10000 || p.step === total) process.stderr.write(`${line}\n`), (shown = Date.now());
    }
    process.off('SIGINT', onSigint);
    if (tty && last) process.stderr.write('\n');
    if (controller.signal.aborted) process.stderr.write(`stopped after ${last?.step ?? 0} steps; saving what was learned\n`);
    const n = last?.step ?? 0;
    const data = `${v['training-data'] ?? `${basename(textPath)} (${text.length.toLocaleString('en-US')} bytes)`}, ${n} step${n === 1 ? '' : 's'}`;
    const base = lm.config.trainingData;
    const file = await lm.save({ dtype: v.dtype ?? (lm.config.quantized ? 'q8' : 'f32'), name: v.name,
      trainingData: newModel ? data : `${base ? `${base}; then ` : ''}fine-tuned on ${data}` });
    writeOutput(v.out, file);
    console.log(`wrote ${v.out} (${file.length.toLocaleString('en-US')} bytes, ${last?.step ?? 0} steps, last loss ` +
      `${last ? (last.loss / Math.LN2).toFixed(3) : '-'} bits/${unit})`);
  } finally {
    lm.dispose();
  }
}

/** An onProgress({ done, total }) that shows `name`'s bytes done, speed and time left on stderr: one line kept up
 * to date on a terminal, a line every 10 s otherwise. */
function progressLine(name, started, unit) {
  const tty = process.stderr.isTTY;
  let shown = 0;
  return ({ done, total }) => {
    if (!tty && Date.now() - shown < 10000 && done < total) return;
    const s = (Date.now() - started) / 1000, rate = done / Math.max(s, 1e-3);
    const line = `${name} ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} ${unit}s, ` +
      `${Math.round(rate).toLocaleString('en-US')} ${unit}s/s, ${duration((total - done) / Math.max(rate, 1e-3))} left`;
    process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
    shown = Date.now();
  };
}

/** evaluate MODEL FILE [--json]: lm.evaluate() of FILE's bytes, as text or JSON. */
async function evaluate(positionals, values) {
  const more = 'help evaluate';
  const threads = values.threads === undefined ? undefined : trainOption('threads', values.threads, EVALUATE, more);
  if (positionals.length !== 2) {
    throw new UsageError(positionals.length < 2 ? `evaluate needs a model file and a file: ${NAME} evaluate MODEL FILE` : `unexpected argument "${positionals[2]}"`, more);
  }
  const [modelPath, path] = positionals;
  const bytes = readInput(path, 'file to evaluate');
  if (bytes.length < 2) throw new UsageError(`${path} has ${bytes.length} bytes: evaluate needs at least 2 (the first is context only)`, more);
  const lm = await loadModel(modelPath, { threads, tokenizer: values.tokenizer, text: more });
  try {
    const data = lm.config.tokenizer === 'bytes' ? bytes : textOf(bytes, path, lm);
    const started = Date.now();
    const onProgress = values.json ? undefined : progressLine('evaluate', started, lm.config.tokenizer === 'bytes' ? 'byte' : 'token');
    const r = await lm.evaluate(data, { adapt: values.adapt === true || undefined, onProgress });
    if (onProgress && process.stderr.isTTY) process.stderr.write('\n');
    if (values.json) {
      console.log(JSON.stringify({ file: path, bytes: bytes.length, model: modelPath, adapt: values.adapt === true, ...r }));
      return;
    }
    const rows = [['file', `${path} (${bytes.length.toLocaleString('en-US')} bytes)`], ['model', `${lm.config.name ?? modelPath} (${modelPath})`],
      ['bits per byte', r.bitsPerByte], ['predictions', `${r.tokens.toLocaleString('en-US')} (the first ${lm.config.tokenizer === 'bytes' ? 'byte' : 'token'} is context only)`],
      ['total', `${r.bits.toFixed(1)} bits: an ideal coder would need ${Math.ceil(r.bits / 8).toLocaleString('en-US')} bytes`],
      ['learning', values.adapt ? 'while reading (--adapt)' : 'none (the model as it is)'], ['time', `${((Date.now() - started) / 1000).toFixed(1)} s`]];
    for (const [k, value] of rows) console.log(`${`${k}:`.padEnd(15)}${value}`);
  } finally {
    lm.dispose();
  }
}

/** compress / decompress MODEL FILE -o OUT: every option checked, and OUT tried, before anything is read. */
async function coding(name, positionals, values) {
  const more = `help ${name}`;
  const v = Object.fromEntries(Object.entries(values).filter(([k]) => k !== 'no-adapt').map(([k, text]) => [k, trainOption(k, text, CODING, more)]));
  if (positionals.length !== 2) {
    throw new UsageError(positionals.length < 2 ? `${name} needs a model file and a file: ${NAME} ${name} MODEL FILE -o OUT` : `unexpected argument "${positionals[2]}"`, more);
  }
  if (v.out === undefined) throw new UsageError(`${name} needs -o OUT: where to write the result`, more);
  if (values['no-adapt'] && (v.lr !== undefined || v.segment !== undefined || v.part !== undefined)) throw new UsageError('--lr, --segment and --part set the adaptation that --no-adapt turns off', more);
  const [modelPath, path] = positionals;
  checkOutput(v.out, '--out', more);
  const input = readInput(path, name === 'compress' ? 'file to compress' : 'compressed file');
  const prime = v.prime === undefined ? undefined : readInput(v.prime, 'prime file');
  const lm = await loadModel(modelPath, { threads: v.threads, tokenizer: v.tokenizer, text: more });
  try {
    const started = Date.now();
    const onProgress = progressLine(name, started, lm.config.tokenizer === 'bytes' ? 'byte' : 'token');
    const adapt = values['no-adapt'] ? false : { lr: v.lr, segment: v.segment, part: v.part };
    const out = name === 'compress' ? await lm.compress(input, { adapt, prime, onProgress }) : await lm.decompress(input, { prime, onProgress });
    if (process.stderr.isTTY && input.length) process.stderr.write('\n');
    writeOutput(v.out, out);
    const s = (Date.now() - started) / 1000;
    const bits = name === 'compress' ? out.length * 8 / Math.max(input.length, 1) : input.length * 8 / Math.max(out.length, 1);
    console.log(`wrote ${v.out}: ${input.length.toLocaleString('en-US')} -> ${out.length.toLocaleString('en-US')} bytes ` +
      `(${bits.toFixed(3)} bits per byte of the original) in ${s.toFixed(1)} s`);
  } finally {
    lm.dispose();
  }
}

async function info(path) {
  const lm = await loadModel(path, { warm: false }); // it runs nothing
  const c = lm.config;
  const lines = [
    ['name', c.name ?? '(none)'],
    ['cell', c.cell === 'gru' ? 'minGRU' : 'minLSTM'],
    ['parameters', `${c.parameters.toLocaleString('en-US')}${c.quantized ? ' (int8 weights)' : ''}`],
    ['vocabulary', `${c.numTokens} (tokenizer: ${c.tokenizer})`],
    ['dim', c.dim], ['depth', c.depth],
    ['expansion', `${c.expansionFactor} (inner width ${c.dimInner})`],
    ['feed-forward', `x${c.ffMult} (inner width ${c.ffInner})`],
    ['conv kernel', c.convKernelSize || 'none'],
    ['identity', lm.identity],
  ];
  const shown = ['format', 'version', 'cell', 'num_tokens', 'dim', 'depth', 'expansion_factor', 'ff_mult', 'conv_kernel_size', 'tokenizer', 'name'];
  for (const [k, v] of Object.entries(lm.metadata)) if (!shown.includes(k)) lines.push([k, v]);
  lm.dispose();
  const width = Math.max(...lines.map(([k]) => k.length)) + 2; // "key:" and at least one space
  for (const [k, v] of lines) console.log(`${k}:`.padEnd(width) + String(v).replaceAll('\n', `\n${' '.repeat(width)}`));
}

/** help [COMMAND]: the overview, or COMMAND's usage and options. */
async function help([topic, extra]) {
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  if (topic !== undefined && !Object.hasOwn(COMMANDS, topic)) throw unknown('command', topic, Object.keys(COMMANDS));
  console.log(topic && COMMANDS[topic].options ? await commandHelp(topic) : TOP);
}

async function main(args) {
  if (args.length === 0) throw new UsageError(`no command given: ${NAME} generate MODEL --prompt TEXT, ${NAME} info MODEL, ${NAME} train ..., or ${NAME} evaluate MODEL FILE`);
  const [name, ...rest] = args;
  if (name === 'help') return help(rest);
  if (name.startsWith('-')) {
    const { values, positionals } = parse(args, { help: HELP, version: {} });
    return values.version ? console.log(`${NAME} ${VERSION}`) : help(positionals);
  }
  const command = Object.hasOwn(COMMANDS, name) && COMMANDS[name].run ? COMMANDS[name] : null;
  if (!command) throw unknown('command', name, Object.keys(COMMANDS));
  const more = `help ${name}`;
  const { values, positionals } = parse(rest, command.options, more);
  if (values.help) return console.log(await commandHelp(name));
  if (name === 'train') return train(positionals, values);
  if (command.positionals) return command.run(positionals, values);
  const [model, extra] = positionals;
  if (model === undefined) throw new UsageError(`${name} needs a model file: ${NAME} ${command.usage}`, more);
  if (extra !== undefined) {
    const hint = name === 'generate' ? ' (quote a prompt of several words: --prompt "In the beginning")' : '';
    throw new UsageError(`unexpected argument "${extra}"${hint}`, more);
  }
  await command.run(model, values);
}

// output piped into a command that stops reading (| head): end quietly, as other commands do
process.stdout.on('error', (e) => process.exit(e.code === 'EPIPE' ? 0 : 1));
try {
  await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) console.error(`${NAME}: ${e.message}\nTry '${NAME} ${e.more}' for more information.`);
  else console.error(`${NAME}: ${e instanceof MingruError ? `${e.code}: ` : ''}${e.message}`);
  process.exit(e instanceof UsageError ? 2 : 1);
}
