// sampling.js — the options of generate(): one table of their names, defaults and ranges, which the API and the
// command (bin/mingru.mjs, with its own flag names) both check against.
import { fail } from './errors.js';

/** name -> { flag, default, min, max, integer, openMin }: the number options of generate(). A range bound that is
 * a string is a limit known at run time: 'numTokens' (the model's) or 'penaltyWindow' (the engine's). */
export const SAMPLER_OPTIONS = {
  maxTokens: { flag: '--max-tokens', default: 256, min: 0, max: 2 ** 31 - 1, integer: true, about: 'tokens to generate' },
  temperature: { flag: '--temperature', default: 1, min: 0, max: 1e6, about: 'divides the logits; 0 is greedy' },
  topK: { flag: '--top-k', default: 0, min: 0, max: 'numTokens', integer: true, about: 'sample among the K most likely tokens; 0 is off' },
  topP: { flag: '--top-p', default: 1, min: 0, openMin: true, max: 1, about: 'sample among the most likely tokens whose probabilities add up to P' },
  minP: { flag: '--min-p', default: 0, min: 0, max: 1, about: 'drop tokens less likely than P times the most likely one' },
  repetitionPenalty: { flag: '--repetition-penalty', default: 1, min: 0, openMin: true, max: 1e6, about: 'penalises recent tokens; 1 is off' },
  penaltyWindow: { flag: '--penalty-window', default: 64, min: 0, max: 'penaltyWindow', integer: true, about: 'how many recent tokens the penalty looks at' },
  seed: { flag: '--seed', default: 0, min: 0, max: Number.MAX_SAFE_INTEGER, integer: true, about: "the sampler's seed" },
};

/** The range of option `o` in plain words, e.g. "an integer in [0, 256]" or "a number in (0, 1]". */
export function rangeText(o, limits) {
  const max = typeof o.max === 'string' ? limits[o.max] : o.max;
  return `${o.integer ? 'an integer' : 'a number'} in ${o.openMin ? '(' : '['}${o.min}, ${max}]`;
}

/** Why `value` is not acceptable for option `o` (undefined if it is). */
export function optionProblem(o, value, limits) {
  const max = typeof o.max === 'string' ? limits[o.max] : o.max;
  const ok = typeof value === 'number' && Number.isFinite(value) && (o.openMin ? value > o.min : value >= o.min) && value <= max &&
    (!o.integer || Number.isInteger(value));
  return ok ? undefined : `must be ${rangeText(o, limits)}, got ${value}`;
}

/** generate()'s options with their defaults, checked; `limits` is { numTokens, penaltyWindow }. */
export function samplerOptions(options, limits) {
  const o = options ?? {};
  const out = {};
  for (const [name, spec] of Object.entries(SAMPLER_OPTIONS)) {
    if (o[name] === undefined) {
      out[name] = spec.default;
      continue;
    }
    const problem = optionProblem(spec, o[name], limits);
    if (problem) fail('MG_EINVAL', `generate: ${name} ${problem}`);
    out[name] = o[name];
  }
  out.stop = o.stop === undefined ? [] : [o.stop].flat();
  if (out.stop.some((s) => typeof s !== 'string' || s === '')) fail('MG_EINVAL', 'generate: stop must be a non-empty string or an array of them');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) fail('MG_EINVAL', 'generate: signal must be an AbortSignal');
  out.signal = o.signal;
  return out;
}
