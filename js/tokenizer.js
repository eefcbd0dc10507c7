// tokenizer.js — the byte-level tokenizer: a token is a byte of the text's UTF-8.
import { fail } from './errors.js';

const encoder = new TextEncoder();

/** Throws unless the model config has the byte-level tokenizer (encode, decode and generate need it). */
export function needBytes(config, what) {
  if (config.tokenizer !== 'bytes') fail('MG_EINVAL', `${what}: the model's tokenizer is "${config.tokenizer}", not "bytes"`);
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
