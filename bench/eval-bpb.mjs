#!/usr/bin/env node
// Bits per byte of a model on a text, through the engine (lm.evaluate: the state carried over the whole text),
// as it is or learning while it reads (--adapt: dynamic evaluation, docs/compress.md):
//   node bench/eval-bpb.mjs MODEL.safetensors TEXT_FILE [--threads N] [--limit BYTES] [--skip BYTES]
//        [--adapt [--lr X] [--segment N] [--beta1 B]]
// The held-out text of the demo model: /usr/bin/python3 tools/baselines.py --write-val /tmp/kjv-val.txt
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { load } from '../js/index.js';

const options = { threads: { type: 'string' }, limit: { type: 'string' }, skip: { type: 'string' }, adapt: { type: 'boolean' },
  lr: { type: 'string' }, segment: { type: 'string' }, beta1: { type: 'string' } };
const { values, positionals } = parseArgs({ allowPositionals: true, options });
const [modelPath, textPath] = positionals;
if (!modelPath || !textPath) {
  console.error('usage: node bench/eval-bpb.mjs MODEL.safetensors TEXT_FILE [--threads N] [--limit BYTES] [--skip BYTES] [--adapt [--lr X] [--segment N] [--beta1 B]]');
  process.exit(2);
}
let bytes = readFileSync(textPath).subarray(Number(values.skip ?? 0));
if (values.limit) bytes = bytes.subarray(0, Number(values.limit));
const lm = await load(modelPath, { threads: values.threads ? Number(values.threads) : 'auto' });
const adapt = values.adapt && {
  ...(values.lr && { lr: Number(values.lr) }), ...(values.segment && { segment: Number(values.segment) }),
  ...(values.beta1 && { betas: [Number(values.beta1), 0.999] }),
};
const t0 = performance.now();
let shown = 0;
const onProgress = ({ done, total }) => {
  if (performance.now() - shown < 30000) return;
  shown = performance.now();
  console.error(`  ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} bytes`);
};
const r = await lm.evaluate(bytes, adapt ? { adapt, onProgress } : {});
const seconds = (performance.now() - t0) / 1000;
console.log(`${modelPath}: ${r.bitsPerByte.toFixed(4)} bits/byte over ${r.tokens.toLocaleString('en-US')} bytes ` +
  `${adapt ? `learning while reading (${JSON.stringify(adapt)}) ` : ''}(${(r.tokens / seconds).toFixed(0)} bytes/s, ${lm.backend.threads} threads)`);
lm.dispose();
