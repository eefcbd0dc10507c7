// A small example: a minGRU layer with random weights, run over a sequence at once (parallel scan)
// and token by token (step), showing that both give the same last output.
import { MinGRU } from '../js/index.js';

const dim = 64, seqLen = 256;
const gru = await MinGRU.create({ dim, expansionFactor: 1.5, seed: 7 });
console.log(`MinGRU dim ${dim}, inner ${gru.dimInner}, backend ${JSON.stringify(gru.backend)}`);

const x = new Float32Array(seqLen * dim).map((_, i) => Math.sin(i * 0.37));
let t0 = performance.now();
const { output, hidden } = await gru.forward(x, { seqLen });
console.log(`forward over ${seqLen} steps: ${(performance.now() - t0).toFixed(1)} ms`);

t0 = performance.now();
let h, last;
for (let t = 0; t < seqLen; t++) {
  ({ output: last, hidden: h } = await gru.step(x.subarray(t * dim, (t + 1) * dim), { prevHidden: h }));
}
console.log(`${seqLen} steps: ${(performance.now() - t0).toFixed(1)} ms`);

const tail = output.subarray((seqLen - 1) * dim);
const diff = Math.max(...tail.map((v, i) => Math.abs(v - last[i])));
console.log(`last output, forward vs step: max |difference| = ${diff.toExponential(2)}`);
console.log(`hidden state after the sequence: ${hidden.length} floats (constant in the sequence length)`);
gru.dispose();
