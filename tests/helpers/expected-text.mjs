// What the README's examples generate with this repository's code: the demo model (Q8), their sampling options
// and prompt, computed here in Node for the tests to compare a page's or a project's output with.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { load } from '../../js/index.js';

export const MODEL = fileURLToPath(new URL('../../models/kjv.q8.safetensors', import.meta.url));
export const SAMPLING = { maxTokens: 100, temperature: 0.8, topK: 40, seed: 1 }; // the README examples'

/** The text generate(prompt, SAMPLING) gives on `threads` threads, in this process; with relaxed, in a Node that
 * runs the relaxed-SIMD build (Node 20: behind its flag, without its baseline compiler), as Chromium does. */
export async function expectedText(prompt, { threads, relaxed = false } = {}) {
  if (relaxed) {
    const code = `import { load } from ${JSON.stringify(new URL('../../js/index.js', import.meta.url).href)};
      const lm = await load(${JSON.stringify(MODEL)}, { threads: ${JSON.stringify(threads ?? 'auto')} });
      if (!lm.backend.relaxedSimd) throw new Error('no relaxed SIMD in this Node');
      let text = '';
      for await (const piece of lm.generate(${JSON.stringify(prompt)}, ${JSON.stringify(SAMPLING)})) text += piece;
      process.stdout.write(JSON.stringify(text));`;
    return JSON.parse(execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--no-liftoff', '--input-type=module', '-e', code], { encoding: 'utf8' }));
  }
  const lm = await load(MODEL, { threads });
  let text = '';
  for await (const piece of lm.generate(prompt, SAMPLING)) text += piece;
  lm.dispose();
  return text;
}
