// tokenizer.js — the byte-level tokenizer: a token is a byte of the text's UTF-8.
import { fail } from './errors.js';

const encoder = new TextEncoder();

/** Throws unless the model config has the byte-level tokenizer (encode, decode and generate need it). */
export function needBytes(config, what) {
  if (config.tokenizer !== 'bytes') fail('MG_EINVAL', `${what}: the model's tokenizer is "${config.tokenizer}", not "bytes"`);
}

/** Gives a model class (Node's and the page's proxy) its encode(text) and decode(tokens): the byte-level tokenizer,
 * where the model's config has it; they use the class's `_live(method)` and `config`. */
export function withTokenizer(Model) {
  Object.assign(Model.prototype, {
    /** The text as token ids (byte-level tokenizer: its UTF-8 bytes). */
    encode(text) {
      this._live('encode');
      needBytes(this.config, 'encode');
      return encodeBytes(text);
    },
    /** Token ids back to text. */
    decode(tokens) {
      this._live('decode');
      needBytes(this.config, 'decode');
      return decodeBytes(tokens);
    },
  });
}

export function encodeBytes(text) {
  if (typeof text !== 'string') fail('MG_EINVAL', `encode: text must be a string, got ${typeof text}`);
  return encoder.encode(text);
}

function checkTokens(tokens, what) {
  for (const t of tokens) {
    if (!Number.isInteger(t) || t < 0 || t > 255) fail('MG_ERANGE', `${what}: token ${t} is not a byte (0..255)`);
  }
}

export function decodeBytes(tokens) {
  checkTokens(tokens, 'decode');
  return new TextDecoder().decode(Uint8Array.from(tokens));
}

/** A streaming decoder: push(token) returns the text completed so far, never half a character. */
export class ByteDecoder {
  #decoder = new TextDecoder('utf-8');

  push(token) {
    return this.#decoder.decode(Uint8Array.of(token), { stream: true });
  }
}

/** Generated text against stop strings: push(text) returns the text that is safe to emit now (what could be the
 * start of a stop string is held back) and sets `stopped` once a stop string is complete (it is not emitted, nor
 * anything after it); flush() returns what was held back at the end. */
export class StopMatcher {
  #stops;
  #pending = '';
  stopped = false;

  constructor(stops) {
    this.#stops = stops;
  }

  push(text) {
    const pending = this.#pending + text;
    const at = Math.min(...this.#stops.map((s) => pending.indexOf(s)).filter((i) => i >= 0));
    if (at !== Infinity) {
      this.stopped = true;
      this.#pending = '';
      return pending.slice(0, at);
    }
    // the longest end of `pending` that begins a stop string stays pending
    let held = 0;
    for (const stop of this.#stops) {
      for (let k = Math.min(stop.length - 1, pending.length); k > held; k--) {
        if (pending.endsWith(stop.slice(0, k))) {
          held = k;
          break;
        }
      }
    }
    this.#pending = pending.slice(pending.length - held);
    return pending.slice(0, pending.length - held);
  }

  flush() {
    const rest = this.#pending;
    this.#pending = '';
    return rest;
  }
}
