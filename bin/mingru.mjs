#!/usr/bin/env node
// The mingru command:
//   mingru generate MODEL.safetensors --prompt "..." [--max-tokens N --temperature T --top-k K --top-p P
//                   --min-p P --repetition-penalty R --seed S --stop TEXT]   streams text to stdout
//   mingru info MODEL.safetensors                                         prints the config and parameter count
import { parseArgs } from 'node:util';
import { load } from '../js/index.js';

const USAGE = `usage:
  mingru generate MODEL.safetensors --prompt TEXT [--max-tokens N] [--temperature T] [--top-k K]
                  [--top-p P] [--min-p P] [--repetition-penalty R] [--seed S] [--stop TEXT]
  mingru info MODEL.safetensors`;

function usage(message) {
  if (message) console.error(`mingru: ${message}`);
  console.error(USAGE);
  process.exit(2);
}

function number(value, flag, integer) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) usage(`${flag} needs ${integer ? 'an integer' : 'a number'}, got "${value}"`);
  return n;
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
  for (const [k, v] of Object.entries(lm.metadata)) {
    if (!['format', 'version', 'cell', 'num_tokens', 'dim', 'depth', 'expansion_factor', 'ff_mult', 'conv_kernel_size', 'tokenizer', 'name'].includes(k)) lines.push([k, v]);
  }
  for (const [k, v] of lines) console.log(`${`${k}:`.padEnd(14)}${v}`);
  lm.dispose();
}

async function generate(path, values) {
  if (values.prompt === undefined) usage('generate needs --prompt');
  const lm = await load(path);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const options = {
    maxTokens: number(values['max-tokens'], '--max-tokens', true),
    temperature: number(values.temperature, '--temperature'),
    topK: number(values['top-k'], '--top-k', true),
    topP: number(values['top-p'], '--top-p'),
    minP: number(values['min-p'], '--min-p'),
    repetitionPenalty: number(values['repetition-penalty'], '--repetition-penalty'),
    seed: number(values.seed, '--seed', true),
    stop: values.stop,
    signal: controller.signal,
  };
  process.stdout.write(values.prompt);
  for await (const piece of lm.generate(values.prompt, options)) process.stdout.write(piece);
  process.stdout.write('\n');
  lm.dispose();
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      prompt: { type: 'string' }, 'max-tokens': { type: 'string' }, temperature: { type: 'string' },
      'top-k': { type: 'string' }, 'top-p': { type: 'string' }, 'min-p': { type: 'string' },
      'repetition-penalty': { type: 'string' }, seed: { type: 'string' }, stop: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (e) {
  usage(e.message);
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const [command, model, ...rest] = positionals;
if (!command) usage();
if (!['generate', 'info'].includes(command)) usage(`unknown command "${command}"`);
if (!model) usage(`${command} needs a model file`);
if (rest.length) usage(`unexpected argument "${rest[0]}"`);
try {
  await (command === 'info' ? info(model) : generate(model, values));
} catch (e) {
  console.error(`mingru: ${e.code ? `${e.code}: ` : ''}${e.message}`);
  process.exit(1);
}
