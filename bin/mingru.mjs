#!/usr/bin/env node
// The mingru-wasm command (also installed as mingru):
//   mingru-wasm generate MODEL --prompt TEXT [options]   streams TEXT and what the model writes after it
//   mingru-wasm info MODEL                               prints the model's configuration and metadata
//   mingru-wasm help [COMMAND], COMMAND --help, --version
// Every argument is checked before the model is read and before anything is printed (top-k's upper bound,
// the model's vocabulary size, right after loading). A usage error exits with status 2, a failure with 1.
import { readFileSync } from 'node:fs';
import { load } from '../js/index.js';
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

const HELP = { help: 'print this help', short: 'h' };
const VOCABULARY = 'the vocabulary size'; // numTokens, in words until a model is loaded
const PLACEHOLDERS = { temperature: 'T', topK: 'K', topP: 'P', minP: 'P', repetitionPenalty: 'R', seed: 'S' }; // else N

// generate's options: the sampler's numbers are the API's table (js/sampling.js: flags, defaults, ranges), so the
// command accepts exactly what lm.generate() accepts; `api` is an option's name there.
const GENERATE = {
  prompt: { value: 'TEXT', help: 'the text to continue', range: 'required, not empty' },
  ...Object.fromEntries(Object.entries(SAMPLER_OPTIONS).map(([api, o]) =>
    [o.flag.slice(2), { ...o, api, value: PLACEHOLDERS[api] ?? 'N', help: o.about }])),
  stop: { value: 'TEXT', help: 'end before TEXT, which is not printed', range: 'not empty; give --stop again for more than one', repeat: true },
  help: HELP,
};

/** The limits that ranges name (js/sampling.js): the engine's, known before a model is read, and the vocabulary
 * size, the model's: in words until then. */
async function limits(model) {
  const engine = await getEngine(await resolveThreads(undefined, NAME)); // the build load() takes
  return { ...engine.limits, numTokens: model?.config.numTokens ?? VOCABULARY };
}

const COMMANDS = {
  generate: {
    usage: 'generate MODEL --prompt TEXT [options]',
    summary: 'continue TEXT with the model, streamed to stdout; Ctrl+C stops',
    about: `Reads TEXT with the model in MODEL (a .safetensors file made by tools/convert.py), then samples what
follows and prints it after TEXT as it comes. The same model, prompt, options and seed give the same text.
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
  help: { usage: 'help [COMMAND]', summary: 'print this help, or the options of COMMAND' },
};

/** A line of a help's table: a left column `width` wide, then the text. */
const row = (left, text, width) => `  ${left.padEnd(width)}${text}`;

const TOP = `usage: ${NAME} COMMAND ...

Runs minGRU and minLSTM language models (.safetensors files made by tools/convert.py).

commands:
${Object.values(COMMANDS).map((c) => row(c.usage, c.summary, 40)).join('\n')}

options:
${row('-h, --help', 'print this help', 40)}
${row('--version', 'print the version', 40)}

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
  const lm = await load(path);
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

async function info(path) {
  const lm = await load(path);
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
  if (args.length === 0) throw new UsageError(`no command given: ${NAME} generate MODEL --prompt TEXT, or ${NAME} info MODEL`);
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
  const [model, extra] = positionals;
  if (model === undefined) throw new UsageError(`${name} needs a model file: ${NAME} ${command.usage}`, more);
  if (extra !== undefined) {
    const hint = name === 'generate' ? ' (quote a prompt of several words: --prompt "In the beginning")' : '';
    throw new UsageError(`unexpected argument "${extra}"${hint}`, more);
  }
  await command.run(model, values);
}

try {
  await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) console.error(`${NAME}: ${e.message}\nTry '${NAME} ${e.more}' for more information.`);
  else console.error(`${NAME}: ${e.code ? `${e.code}: ` : ''}${e.message}`);
  process.exit(e instanceof UsageError ? 2 : 1);
}
